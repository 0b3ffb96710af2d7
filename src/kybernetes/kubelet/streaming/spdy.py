"""SPDY/3.1 framing: the frames ``kubectl port-forward`` speaks, with zlib-compressed header blocks.

A connection is a byte stream of frames. Control frames start with the control bit, the version (3) and
a type; data frames start with a 31-bit stream id. Both carry 8 bits of flags and a 24-bit length::

    control: |1| version(15) | type(16) | flags(8) | length(24) | payload
    data:    |0| stream-id(31)          | flags(8) | length(24) | payload

Header blocks (in SYN_STREAM, SYN_REPLY and HEADERS) are ``count, (len name, len value)*`` with 32-bit
big-endian lengths (several values of one name are joined by NUL), compressed with zlib primed with the
SPDY/3 dictionary. Each direction of a connection has one compression context that lives as long as the
connection, and every header block ends with a sync flush.

``FrameReader`` parses frames incrementally from arbitrary chunks (over websocket, message boundaries
need not match frames); ``FrameWriter`` encodes them. Both keep the connection's zlib state, so one of
each per connection and direction. ``read_frames`` is the receive loop the SPDY sessions (remote command
and port-forward) share.
"""

from __future__ import annotations

import logging
import struct
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

VERSION = 3

# control frame types
SYN_STREAM = 1
SYN_REPLY = 2
RST_STREAM = 3
SETTINGS = 4
PING = 6
GOAWAY = 7
HEADERS = 8
WINDOW_UPDATE = 9

# flags
FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02

# RST_STREAM status codes
PROTOCOL_ERROR = 1
INVALID_STREAM = 2
REFUSED_STREAM = 3
UNSUPPORTED_VERSION = 4
CANCEL = 5
INTERNAL_ERROR = 6
FLOW_CONTROL_ERROR = 7
STREAM_IN_USE = 8
STREAM_ALREADY_CLOSED = 9

MAX_LENGTH = (1 << 24) - 1
_STREAM_MASK = 0x7FFFFFFF


def _dictionary() -> bytes:
    """The zlib dictionary of SPDY/3 (draft 3, section 2.6.10.1): length-prefixed words, then text."""
    words = (
        "options head post put delete trace accept accept-charset accept-encoding accept-language "
        "accept-ranges age allow authorization cache-control connection content-base content-encoding "
        "content-language content-length content-location content-md5 content-range content-type date "
        "etag expect expires from host if-match if-modified-since if-none-match if-range "
        "if-unmodified-since last-modified location max-forwards pragma proxy-authenticate "
        "proxy-authorization range referer retry-after server te trailer transfer-encoding upgrade "
        "user-agent vary via warning www-authenticate method get status"
    ).split()
    words += ["200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"]
    prefix = b"".join(struct.pack(">I", len(w)) + w.encode() for w in words)
    codes = "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    reasons = (
        "203 Non-Authoritative Information",
        "204 No Content",
        "301 Moved Permanently",
        "400 Bad Request",
        "401 Unauthorized",
        "403 Forbidden",
        "404 Not Found",
        "500 Internal Server Error",
        "501 Not Implemented",
        "503 Service Unavailable",
    )
    tail = (
        codes
        + "".join(reasons)
        + "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
        + "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
        + "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,"
        + "text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdch"
        + "charset=utf-8charset=iso-8859-1,utf-,*,enq=0."
    )
    return prefix + tail.encode()


DICTIONARY = _dictionary()


class ProtocolError(Exception):
    """The peer sent bytes that are not valid SPDY/3.1."""


Headers = dict[str, list[str]]


# --- frames --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DataFrame:
    stream_id: int
    data: bytes = b""
    flags: int = 0

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


@dataclass(frozen=True)
class SynStream:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    flags: int = 0
    associated_to: int = 0
    priority: int = 0
    slot: int = 0

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


@dataclass(frozen=True)
class SynReply:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    flags: int = 0

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


@dataclass(frozen=True)
class RstStream:
    stream_id: int
    status: int = CANCEL


@dataclass(frozen=True)
class Settings:
    entries: tuple[tuple[int, int, int], ...] = ()  # (flags, id, value)
    flags: int = 0


@dataclass(frozen=True)
class Ping:
    id: int


@dataclass(frozen=True)
class GoAway:
    last_good_stream_id: int = 0
    status: int = 0


@dataclass(frozen=True)
class HeadersFrame:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    flags: int = 0


@dataclass(frozen=True)
class WindowUpdate:
    stream_id: int
    delta: int


@dataclass(frozen=True)
class UnknownControl:
    """A control frame of a type this implementation does not know (the spec says: ignore it)."""

    type: int
    flags: int
    payload: bytes


Frame = (
    DataFrame
    | SynStream
    | SynReply
    | RstStream
    | Settings
    | Ping
    | GoAway
    | HeadersFrame
    | WindowUpdate
    | UnknownControl
)


# --- header blocks -------------------------------------------------------------------------------------
def _pairs(headers: Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    if isinstance(headers, Mapping):
        out: list[tuple[str, str]] = []
        for name, value in headers.items():
            out.append((name, value if isinstance(value, str) else "\x00".join(value)))
        return out
    return list(headers)


def encode_header_block(headers: Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]]) -> bytes:
    """The uncompressed name/value block; names are lower-cased as SPDY requires."""
    pairs = _pairs(headers)
    parts = [struct.pack(">I", len(pairs))]
    for name, value in pairs:
        n, v = name.lower().encode(), value.encode()
        parts += [struct.pack(">I", len(n)), n, struct.pack(">I", len(v)), v]
    return b"".join(parts)


def decode_header_block(block: bytes) -> Headers:
    """Parse an uncompressed name/value block into name -> values."""
    try:
        (count,) = struct.unpack_from(">I", block, 0)
        pos = 4
        headers: Headers = {}
        for _ in range(count):
            (n,) = struct.unpack_from(">I", block, pos)
            name = block[pos + 4 : pos + 4 + n]
            pos += 4 + n
            (v,) = struct.unpack_from(">I", block, pos)
            value = block[pos + 4 : pos + 4 + v]
            pos += 4 + v
            if len(name) != n or len(value) != v:
                raise ProtocolError("truncated header block")
            headers.setdefault(name.decode().lower(), []).extend(value.decode().split("\x00"))
    except struct.error as exc:
        raise ProtocolError(f"truncated header block: {exc}") from exc
    if pos != len(block):
        raise ProtocolError("trailing bytes after header block")
    return headers


class HeaderCompressor:
    """One direction's compression context: every block is sync-flushed so the peer can decode it."""

    def __init__(self) -> None:
        self._z = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 15, 9, zdict=DICTIONARY)

    def compress(self, block: bytes) -> bytes:
        return self._z.compress(block) + self._z.flush(zlib.Z_SYNC_FLUSH)


class HeaderDecompressor:
    def __init__(self) -> None:
        self._z = zlib.decompressobj(15, zdict=DICTIONARY)

    def decompress(self, data: bytes) -> bytes:
        try:
            return self._z.decompress(data)
        except zlib.error as exc:
            raise ProtocolError(f"bad compressed header block: {exc}") from exc


# --- encoding ------------------------------------------------------------------------------------------
def _control(type_: int, flags: int, payload: bytes) -> bytes:
    if len(payload) > MAX_LENGTH:
        raise ValueError("control frame too large")
    return struct.pack(">HHI", 0x8000 | VERSION, type_, (flags << 24) | len(payload)) + payload


def encode_data(stream_id: int, data: bytes = b"", flags: int = 0) -> bytes:
    """One data frame (callers split data above ``MAX_LENGTH``)."""
    if len(data) > MAX_LENGTH:
        raise ValueError("data frame too large")
    return struct.pack(">II", stream_id & _STREAM_MASK, (flags << 24) | len(data)) + data


class FrameWriter:
    """Encodes frames for one direction of one connection (it owns that direction's zlib context)."""

    def __init__(self) -> None:
        self._compressor = HeaderCompressor()

    def _headers(self, headers: Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]]) -> bytes:
        return self._compressor.compress(encode_header_block(headers))

    def encode(self, frame: Frame) -> bytes:
        if isinstance(frame, DataFrame):
            return encode_data(frame.stream_id, frame.data, frame.flags)
        if isinstance(frame, SynStream):
            fixed = struct.pack(
                ">IIBB",
                frame.stream_id & _STREAM_MASK,
                frame.associated_to & _STREAM_MASK,
                (frame.priority & 0x7) << 5,
                frame.slot,
            )
            return _control(SYN_STREAM, frame.flags, fixed + self._headers(frame.headers))
        if isinstance(frame, SynReply):
            fixed = struct.pack(">I", frame.stream_id & _STREAM_MASK)
            return _control(SYN_REPLY, frame.flags, fixed + self._headers(frame.headers))
        if isinstance(frame, HeadersFrame):
            fixed = struct.pack(">I", frame.stream_id & _STREAM_MASK)
            return _control(HEADERS, frame.flags, fixed + self._headers(frame.headers))
        if isinstance(frame, RstStream):
            return _control(RST_STREAM, 0, struct.pack(">II", frame.stream_id & _STREAM_MASK, frame.status))
        if isinstance(frame, Settings):
            body = struct.pack(">I", len(frame.entries)) + b"".join(
                struct.pack(">II", (f << 24) | (i & 0xFFFFFF), v) for f, i, v in frame.entries
            )
            return _control(SETTINGS, frame.flags, body)
        if isinstance(frame, Ping):
            return _control(PING, 0, struct.pack(">I", frame.id))
        if isinstance(frame, GoAway):
            return _control(
                GOAWAY, 0, struct.pack(">II", frame.last_good_stream_id & _STREAM_MASK, frame.status)
            )
        if isinstance(frame, WindowUpdate):
            return _control(
                WINDOW_UPDATE,
                0,
                struct.pack(">II", frame.stream_id & _STREAM_MASK, frame.delta & _STREAM_MASK),
            )
        if isinstance(frame, UnknownControl):
            return _control(frame.type, frame.flags, frame.payload)
        raise TypeError(f"not a SPDY frame: {frame!r}")


# --- decoding ------------------------------------------------------------------------------------------
class FrameReader:
    """Parses frames from a byte stream fed in arbitrary chunks (it owns the peer's zlib context)."""

    def __init__(self, *, max_frame: int = MAX_LENGTH) -> None:
        self._buf = bytearray()
        self._decompressor = HeaderDecompressor()
        self._max = max_frame

    def feed(self, data: bytes) -> list[Frame]:
        """Add bytes; return every frame now complete (in order)."""
        self._buf += data
        frames: list[Frame] = []
        while len(self._buf) >= 8:
            first, second = struct.unpack_from(">II", self._buf, 0)
            length = second & 0xFFFFFF
            if length > self._max:
                raise ProtocolError(f"frame of {length} bytes exceeds the limit")
            if len(self._buf) < 8 + length:
                break
            payload = bytes(self._buf[8 : 8 + length])
            del self._buf[: 8 + length]
            flags = second >> 24
            if first & 0x80000000:
                version = (first >> 16) & 0x7FFF
                if version != VERSION:
                    raise ProtocolError(f"unsupported SPDY version {version}")
                frames.append(self._control(first & 0xFFFF, flags, payload))
            else:
                stream_id = first & _STREAM_MASK
                if stream_id == 0:
                    raise ProtocolError("data frame on stream 0")
                frames.append(DataFrame(stream_id, payload, flags))
        return frames

    def _headers(self, compressed: bytes) -> Headers:
        return decode_header_block(self._decompressor.decompress(compressed))

    def _control(self, type_: int, flags: int, payload: bytes) -> Frame:
        try:
            if type_ == SYN_STREAM:
                stream_id, assoc, pri, slot = struct.unpack_from(">IIBB", payload, 0)
                stream_id &= _STREAM_MASK
                if stream_id == 0:
                    raise ProtocolError("SYN_STREAM on stream 0")
                return SynStream(
                    stream_id, self._headers(payload[10:]), flags, assoc & _STREAM_MASK, pri >> 5, slot
                )
            if type_ == SYN_REPLY:
                (stream_id,) = struct.unpack_from(">I", payload, 0)
                return SynReply(stream_id & _STREAM_MASK, self._headers(payload[4:]), flags)
            if type_ == HEADERS:
                (stream_id,) = struct.unpack_from(">I", payload, 0)
                return HeadersFrame(stream_id & _STREAM_MASK, self._headers(payload[4:]), flags)
            if type_ == RST_STREAM:
                stream_id, status = struct.unpack_from(">II", payload, 0)
                return RstStream(stream_id & _STREAM_MASK, status)
            if type_ == SETTINGS:
                (count,) = struct.unpack_from(">I", payload, 0)
                entries = []
                for i in range(count):
                    fid, value = struct.unpack_from(">II", payload, 4 + 8 * i)
                    entries.append((fid >> 24, fid & 0xFFFFFF, value))
                return Settings(tuple(entries), flags)
            if type_ == PING:
                (ping_id,) = struct.unpack_from(">I", payload, 0)
                return Ping(ping_id)
            if type_ == GOAWAY:
                last, status = struct.unpack_from(">II", payload, 0) if len(payload) >= 8 else (0, 0)
                return GoAway(last & _STREAM_MASK, status)
            if type_ == WINDOW_UPDATE:
                stream_id, delta = struct.unpack_from(">II", payload, 0)
                return WindowUpdate(stream_id & _STREAM_MASK, delta & _STREAM_MASK)
        except struct.error as exc:
            raise ProtocolError(f"truncated control frame of type {type_}: {exc}") from exc
        return UnknownControl(type_, flags, payload)


# --- receiving on a connection -------------------------------------------------------------------------
async def read_frames(
    messages: AsyncIterator[bytes],
    reader: FrameReader,
    handle: Callable[[Frame], Awaitable[None]],
    send: Callable[[Frame], Awaitable[None]],
    last_stream: Callable[[], int],
    what: str,
) -> None:
    """Parse the peer's bytes and pass each frame to ``handle`` until the transport ends or the peer sends
    GOAWAY; bytes that are not SPDY end it too, with our GOAWAY (PROTOCOL_ERROR, after the last stream we
    accepted) as upstream's connection does."""
    async for data in messages:
        try:
            frames = reader.feed(data)
        except ProtocolError as exc:
            log.info("%s: protocol error from the client: %s", what, exc)
            await send(GoAway(last_stream(), PROTOCOL_ERROR))
            return
        for frame in frames:
            if isinstance(frame, GoAway):
                return
            await handle(frame)
