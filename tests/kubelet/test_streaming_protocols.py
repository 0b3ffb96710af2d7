"""Unit tests of the streaming protocols: SPDY/3.1 framing and header compression, the websocket channel
protocol, the port-forward session over an in-memory transport, and the CRI log reader.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kybernetes.kubelet.runtimes.crilog import parse_timestamp
from kybernetes.kubelet.streaming import channels, spdy
from kybernetes.kubelet.streaming.logs import LogOptions, LogOptionsError, stream_log
from kybernetes.kubelet.streaming.portforward import PortForwardSession, PortsError, parse_ports
from tests.kubelet.test_streaming_support import TIMEOUT, cri_line, echo_server, until


# --- SPDY ----------------------------------------------------------------------------------------------
def test_dictionary_is_the_spdy3_one() -> None:
    assert len(spdy.DICTIONARY) == 1423
    assert zlib.adler32(spdy.DICTIONARY) == 3821447106
    assert spdy.DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert spdy.DICTIONARY.endswith(b"charset=utf-8charset=iso-8859-1,utf-,*,enq=0.")


def test_fixed_frame_layouts() -> None:
    w = spdy.FrameWriter()
    assert w.encode(spdy.Ping(1)) == bytes.fromhex("80030006 00000004 00000001")
    assert w.encode(spdy.DataFrame(5, b"hi", spdy.FLAG_FIN)) == bytes.fromhex("00000005 01000002") + b"hi"
    assert w.encode(spdy.RstStream(3, spdy.CANCEL)) == bytes.fromhex("80030003 00000008 00000003 00000005")
    assert w.encode(spdy.GoAway(7, 0)) == bytes.fromhex("80030007 00000008 00000007 00000000")
    assert w.encode(spdy.WindowUpdate(1, 65536)) == bytes.fromhex("80030009 00000008 00000001 00010000")


def test_header_block_round_trip() -> None:
    block = spdy.encode_header_block({"StreamType": "data", "multi": ["a", "b"]})
    assert block[:4] == struct.pack(">I", 2)
    assert spdy.decode_header_block(block) == {"streamtype": ["data"], "multi": ["a", "b"]}
    with pytest.raises(spdy.ProtocolError):
        spdy.decode_header_block(block[:-1])


def test_header_compression_uses_the_dictionary_and_one_context_per_direction() -> None:
    w = spdy.FrameWriter()
    headers = {"streamtype": "error", "port": "8080", "requestid": "0"}
    first = w.encode(spdy.SynStream(1, headers))
    second = w.encode(spdy.SynStream(3, headers))
    compressed = first[18:]
    cmf, flg = compressed[0], compressed[1]
    assert cmf & 0x0F == 8 and (cmf << 8 | flg) % 31 == 0
    assert flg & 0x20  # FDICT: a preset dictionary, identified by its Adler-32
    assert struct.unpack(">I", compressed[2:6])[0] == zlib.adler32(spdy.DICTIONARY)
    assert compressed.endswith(b"\x00\x00\xff\xff")  # sync flush
    assert len(second) < len(first)  # the second block refers back into the shared context
    r = spdy.FrameReader()
    assert r.feed(first + second) == [
        spdy.SynStream(1, {k: [v] for k, v in headers.items()}),
        spdy.SynStream(3, {k: [v] for k, v in headers.items()}),
    ]
    # a fresh reader cannot decode the second block alone: the context is per connection
    with pytest.raises(spdy.ProtocolError):
        spdy.FrameReader().feed(second)


def test_reader_handles_arbitrary_chunking() -> None:
    w = spdy.FrameWriter()
    frames: list[spdy.Frame] = [
        spdy.SynStream(1, {"a": ["b"]}, spdy.FLAG_FIN, priority=3),
        spdy.SynReply(1, {}),
        spdy.HeadersFrame(1, {"x": ["y"]}),
        spdy.DataFrame(1, b"payload" * 100),
        spdy.Settings(((0, 7, 65536),)),
        spdy.WindowUpdate(1, 10),
        spdy.RstStream(1, spdy.PROTOCOL_ERROR),
        spdy.Ping(2),
        spdy.GoAway(1, 0),
    ]
    wire = b"".join(w.encode(f) for f in frames)
    r = spdy.FrameReader()
    got: list[spdy.Frame] = []
    for i in range(len(wire)):
        got += r.feed(wire[i : i + 1])
    assert got == frames


def test_reader_rejects_bad_input_and_skips_unknown_types() -> None:
    bad_version = struct.pack(">HHI", 0x8002, spdy.PING, 4) + b"\x00\x00\x00\x01"
    with pytest.raises(spdy.ProtocolError):
        spdy.FrameReader().feed(bad_version)
    with pytest.raises(spdy.ProtocolError):
        spdy.FrameReader().feed(struct.pack(">II", 0, 0))  # data on stream 0
    unknown = struct.pack(">HHI", 0x8003, 0x0A, 2) + b"zz"
    assert spdy.FrameReader().feed(unknown) == [spdy.UnknownControl(0x0A, 0, b"zz")]


# --- channels ------------------------------------------------------------------------------------------
def test_channel_encoding() -> None:
    assert channels.encode(channels.V5, channels.STDOUT, b"hi") == b"\x01hi"
    assert channels.decode(channels.V5, b"\x00in") == (0, b"in")
    assert channels.encode(channels.V4_BASE64, channels.STDERR, b"hi") == "2aGk="
    assert channels.decode(channels.V4_BASE64, "0aGk=") == (0, b"hi")
    with pytest.raises(ValueError):
        channels.decode(channels.V5, b"")


def test_protocol_choice_follows_the_client() -> None:
    offered = channels.offered_protocols("v5.channel.k8s.io, v4.channel.k8s.io")
    assert channels.choose_protocol(offered) == channels.V5
    assert channels.choose_protocol(["v4.channel.k8s.io", "v5.channel.k8s.io"]) == channels.V4
    assert channels.choose_protocol(["channel.k8s.io"]) == channels.V1
    assert channels.choose_protocol(["base64.channel.k8s.io"]) == channels.V1_BASE64
    assert channels.choose_protocol([]) == channels.NONE  # no offer: binary channels, v1 statuses
    # v2/v3 are SPDY-only upstream: offered alone over websocket they are refused
    assert channels.choose_protocol(["v3.channel.k8s.io", "v2.channel.k8s.io"]) is None
    assert channels.choose_protocol(["SPDY/3.1+portforward.k8s.io"], channels.PORT_FORWARD_PROTOCOLS) is None
    assert channels.choose_protocol(
        ["v5.channel.k8s.io", "v4.channel.k8s.io"], channels.PORT_FORWARD_PROTOCOLS
    ) == (channels.V4)


def test_decoding_follows_the_protocol_not_the_message_type() -> None:
    # the Python client sends a str's stdin as a text message on the binary protocols
    assert channels.decode(channels.V5, "\x00echo hi\n") == (channels.STDIN, b"echo hi\n")
    assert channels.decode(channels.V4, "\x04{}") == (channels.RESIZE, b"{}")
    assert channels.decode(channels.V1_BASE64, b"0aGk=") == (channels.STDIN, b"hi")
    with pytest.raises(ValueError):
        channels.decode(channels.V4_BASE64, "0not base64!")
    # the close signal exists only in v5
    assert channels.decode(channels.V5, b"\xff\x00") == (channels.CLOSE, b"\x00")
    assert channels.decode(channels.V5_BASE64, b"\xff0") == (channels.CLOSE, b"\x00")
    assert channels.decode(channels.V4, b"\xff\x00") == (255, b"\x00")
    assert channels.has_json_status(channels.V4) and channels.has_json_status(channels.V5_BASE64)
    assert not channels.has_json_status(channels.V1) and not channels.has_json_status(channels.NONE)


def test_port_list_parsing() -> None:
    assert parse_ports(["8080", "9090,7070"]) == [8080, 9090, 7070]
    for values, message in (
        ([], 'query parameter "ports" is required'),
        ([""], 'query parameter "ports" cannot be empty'),
        (["http"], 'unable to parse "http" as a port: strconv.ParseUint: parsing "http": invalid syntax'),
        (
            ["70000"],
            'unable to parse "70000" as a port: strconv.ParseUint: parsing "70000": value out of range',
        ),
        (["0"], 'port "0" must be > 0'),
    ):
        with pytest.raises(PortsError) as info:
            parse_ports(values)
        assert str(info.value) == message


def test_final_statuses() -> None:
    assert channels.success_status() == {"metadata": {}, "status": "Success"}
    status = channels.exit_code_status(3, ["sh", "-c", "exit 3"])
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"] == {"causes": [{"reason": "ExitCode", "message": "3"}]}
    assert channels.parse_exit_code(status) == 3
    assert channels.parse_exit_code(channels.success_status()) == 0
    assert channels.parse_exit_code(channels.error_status("boom")) is None


# --- port-forward session over an in-memory transport ----------------------------------------------------
class Wire:
    """Client side of a PortForwardSession: frames in, frames out, no websocket."""

    def __init__(self, opener: object = None, **kwargs: object) -> None:
        self.to_server: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.from_server: asyncio.Queue[spdy.Frame] = asyncio.Queue()
        self.reader = spdy.FrameReader()
        self.writer = spdy.FrameWriter()

        async def send(data: bytes) -> None:
            for frame in self.reader.feed(data):
                self.from_server.put_nowait(frame)

        async def default_opener(port: int) -> object:
            raise ConnectionRefusedError(f"connect to {port}: refused")

        self.session = PortForwardSession(send, opener or default_opener, pod="ns/p", **kwargs)  # type: ignore[arg-type]
        self.task = asyncio.create_task(self.session.run(self._messages()))

    async def _messages(self) -> AsyncIterator[bytes]:
        while (item := await self.to_server.get()) is not None:
            yield item

    def send(self, frame: spdy.Frame) -> None:
        self.to_server.put_nowait(self.writer.encode(frame))

    async def frame(self) -> spdy.Frame:
        return await asyncio.wait_for(self.from_server.get(), TIMEOUT)

    async def until_fin(self, stream_id: int) -> bytes:
        data = b""
        while True:
            f = await self.frame()
            if isinstance(f, spdy.DataFrame) and f.stream_id == stream_id:
                data += f.data
                if f.fin:
                    return data

    async def close(self) -> None:
        self.to_server.put_nowait(None)
        await asyncio.wait_for(self.task, TIMEOUT)


async def test_pairs_without_request_id_and_refused_connection() -> None:
    wire = Wire()
    wire.send(spdy.SynStream(1, {"streamtype": ["error"], "port": ["81"]}))
    wire.send(spdy.SynStream(3, {"streamtype": ["data"], "port": ["81"]}))
    assert await wire.frame() == spdy.SynReply(1, {})
    assert await wire.frame() == spdy.SynReply(3, {})
    frames = [await wire.frame() for _ in range(3)]
    assert spdy.DataFrame(3, b"", spdy.FLAG_FIN) in frames
    assert spdy.DataFrame(1, b"", spdy.FLAG_FIN) in frames
    message = next(f for f in frames if isinstance(f, spdy.DataFrame) and f.data)
    assert message.data == b"error forwarding port 81 to pod ns/p: connect to 81: refused"
    await wire.close()


async def test_bad_streams_are_reset() -> None:
    wire = Wire()
    wire.send(spdy.SynStream(2, {"streamtype": ["data"]}))  # even ids belong to the server
    assert await wire.frame() == spdy.RstStream(2, spdy.PROTOCOL_ERROR)
    wire.send(spdy.SynStream(5, {"streamtype": ["bogus"]}))
    assert await wire.frame() == spdy.RstStream(5, spdy.PROTOCOL_ERROR)
    wire.send(spdy.SynStream(7, {"streamtype": ["error"], "port": ["x"], "requestid": ["1"]}))
    wire.send(spdy.SynStream(9, {"streamtype": ["data"], "port": ["x"], "requestid": ["1"]}))
    await wire.frame(), await wire.frame()
    assert await wire.until_fin(7) == b'invalid port "x"'
    await wire.close()


async def test_incomplete_pair_times_out() -> None:
    wire = Wire(stream_creation_timeout=0.05)
    wire.send(spdy.SynStream(1, {"streamtype": ["error"], "port": ["80"], "requestid": ["9"]}))
    assert await wire.frame() == spdy.SynReply(1, {})
    assert b"timed out waiting for the streams" in await wire.until_fin(1)
    await wire.close()


async def test_forwarding_and_goaway_end_everything() -> None:
    async with echo_server() as port:
        closed: list[int] = []

        async def opener(p: int) -> object:
            reader, writer = await asyncio.open_connection("127.0.0.1", p)

            async def send(data: bytes) -> None:
                writer.write(data)

            async def chunks() -> AsyncIterator[bytes]:
                while data := await reader.read(1024):
                    yield data

            async def close() -> None:
                closed.append(p)
                writer.close()

            return send, chunks(), close

        wire = Wire(opener)
        wire.send(spdy.SynStream(1, {"streamtype": ["error"], "port": [str(port)], "requestid": ["0"]}))
        wire.send(spdy.SynStream(3, {"streamtype": ["data"], "port": [str(port)], "requestid": ["0"]}))
        wire.send(spdy.DataFrame(3, b"abc"))
        got = b""
        while got != b"abc":
            f = await wire.frame()
            if isinstance(f, spdy.DataFrame) and f.stream_id == 3:
                got += f.data
        wire.send(spdy.GoAway(3, 0))
        await asyncio.wait_for(wire.task, TIMEOUT)
        assert closed == [port]


# --- CRI logs ------------------------------------------------------------------------------------------
def test_log_options() -> None:
    o = LogOptions.from_query({"follow": "true", "tailLines": "-1", "sinceSeconds": "10"}, now=100.0)
    assert (o.follow, o.tail_lines, o.since_ns) == (True, None, 90_000_000_000)
    assert LogOptions.from_query({"sinceTime": "1970-01-01T00:00:02Z"}).since_ns == 2_000_000_000
    for bad in (
        {"tailLines": "x"},
        {"limitBytes": "0"},
        {"sinceSeconds": "1", "sinceTime": "1970-01-01T00:00:02Z"},
    ):
        with pytest.raises(LogOptionsError):
            LogOptions.from_query(bad)


async def read_log(path: Path, options: LogOptions, **kwargs: object) -> bytes:
    out: list[bytes] = []

    async def write(data: bytes) -> None:
        out.append(data)

    await asyncio.wait_for(stream_log(path, write, options, **kwargs), TIMEOUT)  # type: ignore[arg-type]
    return b"".join(out)


async def test_stream_log_options(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    base = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    path.write_text(
        cri_line("a", when=base)
        + cri_line("par", partial=True, when=base + dt.timedelta(seconds=1))
        + cri_line("tial", when=base + dt.timedelta(seconds=1))
        + cri_line("err", stream="stderr", when=base + dt.timedelta(seconds=2))
    )
    assert await read_log(path, LogOptions()) == b"a\npartial\nerr\n"
    assert await read_log(path, LogOptions(tail_lines=1)) == b"err\n"
    assert await read_log(path, LogOptions(tail_lines=0)) == b""
    assert await read_log(path, LogOptions(tail_lines=10)) == b"a\npartial\nerr\n"
    since = parse_timestamp("2024-01-01T00:00:01.5Z")
    assert await read_log(path, LogOptions(since_ns=since)) == b"err\n"
    assert await read_log(path, LogOptions(limit_bytes=4)) == b"a\npa"
    stamped = await read_log(path, LogOptions(timestamps=True, tail_lines=1))
    assert stamped == b"2024-01-01T00:00:02.000000123Z err\n"


async def test_stream_log_follow_survives_rotation(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    path.write_text(cri_line("one"))
    running = True

    async def still_running() -> bool:
        return running

    out: list[bytes] = []

    async def write(data: bytes) -> None:
        out.append(data)

    task = asyncio.create_task(
        stream_log(path, write, LogOptions(follow=True), still_running=still_running, poll=0.01)
    )

    async def wait_for(text: bytes) -> None:
        await until(lambda: text in b"".join(out))

    await wait_for(b"one\n")
    with path.open("a") as f:
        f.write(cri_line("two"))
    await wait_for(b"two\n")
    path.rename(tmp_path / "c.log.1")
    path.write_text(cri_line("three"))
    await wait_for(b"three\n")
    running = False
    await asyncio.wait_for(task, TIMEOUT)
    assert b"".join(out) == b"one\ntwo\nthree\n"
