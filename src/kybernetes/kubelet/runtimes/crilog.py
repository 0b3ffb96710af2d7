"""The CRI container log format: a writer for runtimes and a reader for the kubelet's log server.

Every runtime writes a container's output to its ``log_path`` as lines of

    <RFC3339Nano timestamp> <stdout|stderr> <F|P> <content>\\n

(the format containerd and CRI-O write and the kubelet reads). ``F`` marks the end of a line of the
program's output; ``P`` a partial record: a line longer than ``MAX_LINE_BYTES`` is cut into ``P``
records followed by an ``F`` one, and output that ends without a newline (the stream reached EOF) is
written as a final ``P`` record. Timestamps are UTC with nanoseconds (``2024-05-01T12:00:00.123456789Z``).

``CriLogWriter``: buffers each stream's incomplete line and appends whole records with one
``os.write`` on an ``O_APPEND`` descriptor per chunk of output. These are small appends to a local
file, measured on ext4: ~3 µs for a short line, ~0.2 ms for a 64 KiB chunk (the most one pipe read
returns; ~50 µs of it the write itself), so runtimes call it from the event loop; nothing is fsync'ed.

``read_log``: an async iterator over ``LogRecord`` with ``since`` (epoch seconds, inclusive), ``tail``
(the last N records of the file, counted before ``since`` is applied, as the kubelet does), ``streams``
and ``follow``. Following polls the file (no inotify) every ``poll_interval`` seconds until ``stop`` is
set, and restarts from the beginning when the file is truncated or replaced (rotation). File access
runs in a worker thread. ``format_record`` renders a record the way ``kubectl logs [--timestamps]``
expects. ``parse_timestamp`` / ``format_timestamp`` convert between RFC 3339 and epoch nanoseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

__all__ = [
    "MAX_LINE_BYTES",
    "CriLogWriter",
    "LogRecord",
    "format_record",
    "format_timestamp",
    "parse_line",
    "parse_timestamp",
    "read_log",
]

Stream = Literal["stdout", "stderr"]

MAX_LINE_BYTES = 16 * 1024  # containerd's default max_container_log_line_size
_READ_CHUNK = 64 * 1024
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TS_RE = re.compile(
    rb"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:?\d{2})$"
)


def format_timestamp(time_ns: int) -> str:
    """Epoch nanoseconds -> RFC3339Nano in UTC with all nine fraction digits."""
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"


def parse_timestamp(text: str | bytes) -> int:
    """RFC 3339 (any fraction length, ``Z`` or an offset) -> epoch nanoseconds. Raises ``ValueError``."""
    raw = text.encode() if isinstance(text, str) else text
    match = _TS_RE.match(raw)
    if match is None:
        raise ValueError(f"not an RFC 3339 timestamp: {raw[:40]!r}")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction = match.group(7) or b""
    nanos = int(fraction.ljust(9, b"0")) if fraction else 0
    zone = match.group(8)
    offset = 0
    if zone not in (b"Z", b"z"):
        sign = -1 if zone[:1] == b"-" else 1
        digits = zone[1:].replace(b":", b"")
        offset = sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC) - timedelta(seconds=offset)
    delta = moment - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + nanos


@dataclass(frozen=True)
class LogRecord:
    """One record of a CRI log file. ``content`` excludes the record's trailing newline."""

    timestamp: str  # as written (RFC3339Nano)
    time_ns: int
    stream: Stream
    partial: bool  # "P": the program's line continues in the next record (or never ended)
    content: bytes

    @property
    def time(self) -> float:
        return self.time_ns / 1e9


def parse_line(line: bytes) -> LogRecord | None:
    """Parse one record (with or without its newline); ``None`` for a malformed line."""
    if line.endswith(b"\n"):
        line = line[:-1]
    parts = line.split(b" ", 3)
    if len(parts) < 3:
        return None
    stamp, stream, tag = parts[0], parts[1], parts[2]
    if stream not in (b"stdout", b"stderr") or tag not in (b"F", b"P"):
        return None
    try:
        time_ns = parse_timestamp(stamp)
    except ValueError:
        return None
    return LogRecord(
        timestamp=stamp.decode(),
        time_ns=time_ns,
        stream="stdout" if stream == b"stdout" else "stderr",
        partial=tag == b"P",
        content=parts[3] if len(parts) > 3 else b"",
    )


def format_record(record: LogRecord, *, timestamps: bool = False) -> bytes:
    """What ``kubectl logs`` prints for a record: its content, a newline unless partial, and with
    ``timestamps`` the RFC3339Nano timestamp and a space first."""
    out = record.content if record.partial else record.content + b"\n"
    return (record.timestamp.encode() + b" " + out) if timestamps else out


class CriLogWriter:
    """Appends a container's stdout/stderr to a CRI log file. Not thread-safe; one per container.

    ``write(stream, data)`` accepts arbitrary chunks; complete lines become ``F`` records at once,
    the rest waits for its newline (cut into ``P`` records at ``max_line`` bytes). ``flush(stream)``
    (call it at the stream's EOF) writes a pending incomplete line as a ``P`` record. ``clock`` returns
    epoch nanoseconds (injectable for tests).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_line: int = MAX_LINE_BYTES,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.path = os.fspath(path)
        self._max_line = max_line
        self._clock = clock
        self._pending: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}
        directory = os.path.dirname(self.path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        self._fd: int | None = os.open(
            self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640
        )

    def write(self, stream: Stream, data: bytes) -> None:
        """Append a chunk of output; all records cut from one chunk share one timestamp (the chunk was
        read at one moment)."""
        if not data:
            return
        pending = self._pending[stream]
        pending += data
        limit = self._max_line
        if b"\n" not in data and len(pending) < limit:
            return
        prefix = self._prefix(stream)
        full, part = prefix + b"F ", prefix + b"P "
        lines = bytes(pending).split(b"\n")
        rest = lines.pop()
        out: list[bytes] = []
        for line in lines:
            start = 0
            while len(line) - start > limit:  # a long line: partial records, then the full one
                out.append(part + line[start : start + limit] + b"\n")
                start += limit
            out.append(full + line[start:] + b"\n")
        start = 0
        while len(rest) - start >= limit:
            out.append(part + rest[start : start + limit] + b"\n")
            start += limit
        pending[:] = rest[start:]
        self._emit(out)

    def flush(self, stream: Stream) -> None:
        """Write the stream's incomplete last line, if any, as a ``P`` record."""
        pending = self._pending[stream]
        if pending:
            self._emit([self._prefix(stream) + b"P " + bytes(pending) + b"\n"])
            pending.clear()

    def write_message(self, stream: Stream, text: str) -> None:
        """Write one whole line (e.g. a runtime notice), after flushing the stream's pending text."""
        self.flush(stream)
        self._emit([self._prefix(stream) + b"F " + text.encode().replace(b"\n", b" ") + b"\n"])

    def close(self) -> None:
        """Flush both streams and close the file (idempotent)."""
        if self._fd is None:
            return
        self.flush("stdout")
        self.flush("stderr")
        os.close(self._fd)
        self._fd = None

    @property
    def closed(self) -> bool:
        return self._fd is None

    def _prefix(self, stream: Stream) -> bytes:
        return f"{format_timestamp(self._clock())} {stream} ".encode()

    def _emit(self, records: list[bytes]) -> None:
        if not records or self._fd is None:
            return
        data = b"".join(records)
        while data:
            written = os.write(self._fd, data)
            data = data[written:]


# --- reading ---------------------------------------------------------------------------------------


def _tail_offset(fd: int, size: int, lines: int) -> int:
    """Offset of the start of the last ``lines`` records of a file of ``size`` bytes."""
    if lines <= 0:
        return size
    position = size
    # A file's last byte is normally its last record's newline; it does not start a new record.
    seen = -1
    block = 8192
    while position > 0:
        step = min(block, position)
        position -= step
        chunk = os.pread(fd, step, position)
        index = len(chunk)
        while True:
            index = chunk.rfind(b"\n", 0, index)
            if index == -1:
                break
            seen += 1
            if seen == lines:
                return position + index + 1
    return 0


def _read_initial(path: str, tail: int | None) -> tuple[bytes, int, tuple[int, int] | None]:
    """(data from the tail start to EOF, end offset, (device, inode)) or empty data if no file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return b"", 0, None
    try:
        stat = os.fstat(fd)
        size = stat.st_size
        start = 0 if tail is None else _tail_offset(fd, size, tail)
        chunks = []
        offset = start
        while offset < size:
            chunk = os.pread(fd, min(_READ_CHUNK * 16, size - offset), offset)
            if not chunk:
                break
            chunks.append(chunk)
            offset += len(chunk)
        return b"".join(chunks), offset, (stat.st_dev, stat.st_ino)
    finally:
        os.close(fd)


def _read_more(
    path: str, offset: int, identity: tuple[int, int] | None
) -> tuple[bytes, int, tuple[int, int] | None, bool]:
    """(new bytes from ``offset``, new offset, identity, restarted): starts over at 0 when the file was
    replaced (another inode) or truncated."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return b"", offset, identity, False
    try:
        stat = os.fstat(fd)
        current = (stat.st_dev, stat.st_ino)
        restarted = current != identity or stat.st_size < offset
        if restarted:
            offset = 0
        data = os.pread(fd, min(_READ_CHUNK * 16, max(stat.st_size - offset, 0)), offset)
        return data, offset + len(data), current, restarted
    finally:
        os.close(fd)


async def read_log(
    path: str | os.PathLike[str],
    *,
    since: float | None = None,
    since_ns: int | None = None,
    tail: int | None = None,
    streams: Collection[str] = ("stdout", "stderr"),
    follow: bool = False,
    stop: asyncio.Event | None = None,
    poll_interval: float = 0.2,
) -> AsyncIterator[LogRecord]:
    """Yield the records of a CRI log file, oldest first (see the module docstring).

    ``since`` is epoch seconds; ``since_ns`` the same in nanoseconds, exact (it wins when both are given).
    ``tail=None``: the whole file; ``tail=0``: nothing from the past (only followed records).
    With ``follow``, new records are yielded as they are appended until ``stop`` is set (a missing
    file is waited for); without ``stop``, following ends only when the consumer stops iterating.
    Malformed lines are skipped. A record is only yielded once its newline has been written.
    """
    name = os.fspath(path)
    if since_ns is None and since is not None:
        since_ns = int(since * 1e9)
    data, offset, identity = await asyncio.to_thread(_read_initial, name, tail)
    buffer = b""

    def drain(chunk: bytes) -> list[LogRecord]:
        nonlocal buffer
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        records = []
        for line in lines:
            record = parse_line(line)
            if record is None or record.stream not in streams:
                continue
            if since_ns is not None and record.time_ns < since_ns:
                continue
            records.append(record)
        return records

    for record in drain(data):
        yield record
    if not follow:
        return
    stop = stop or asyncio.Event()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), poll_interval)
        # One last read after stop, so records written before it are not lost.
        while True:
            data, offset, identity, restarted = await asyncio.to_thread(_read_more, name, offset, identity)
            if restarted:
                buffer = b""  # rotated or truncated: drop the old file's incomplete tail
            for record in drain(data):
                yield record
            if len(data) < _READ_CHUNK * 16:
                break
