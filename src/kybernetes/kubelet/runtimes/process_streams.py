"""Stream plumbing for the process runtime: pseudo-terminals and pumps between pipes and ``StreamIO``.

``Pty``: a pty pair whose master end is wrapped in asyncio streams (the slave end is handed to the
child as stdin/stdout/stderr and closed here right after the spawn). Reading the master raises EIO
once every slave holder is gone; ``Pty.reader`` users treat that as EOF (``read_chunk``).
``set_window_size`` applies a resize with ``TIOCSWINSZ``. ``wait_popen`` awaits a ``subprocess.Popen``
child through a pidfd; ``open_read_pipe`` / ``open_write_pipe`` wrap its pipes in asyncio streams. ``pump_stdin`` copies a ``StreamIO``'s stdin
to a writer and ``pump_resize`` its resize events to a pty; both end quietly when either side closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import struct
import subprocess
import termios
from typing import Any

from kybernetes.kubelet.runtime import StreamIO

__all__ = [
    "CHUNK",
    "Pty",
    "open_read_pipe",
    "open_write_pipe",
    "pump_resize",
    "pump_stdin",
    "read_chunk",
    "set_window_size",
    "wait_popen",
]

CHUNK = 64 * 1024


def set_window_size(fd: int, width: int, height: int) -> None:
    with contextlib.suppress(OSError):
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", max(height, 0), max(width, 0), 0, 0))


async def read_chunk(reader: asyncio.StreamReader) -> bytes:
    """One chunk (b"" at EOF); a pty master's EIO (no slave left) counts as EOF."""
    try:
        return await reader.read(CHUNK)
    except OSError:
        return b""


class Pty:
    """A pty pair; ``open()`` wraps the master in asyncio streams (``reader``, ``writer``)."""

    def __init__(self) -> None:
        self.master, self.slave = pty.openpty()
        os.set_inheritable(self.slave, False)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self._transports: list[Any] = []

    async def open(self) -> None:
        self.reader, transport = await open_read_pipe(os.fdopen(os.dup(self.master), "rb", buffering=0))
        self.writer = await open_write_pipe(os.fdopen(os.dup(self.master), "wb", buffering=0))
        self._transports = [transport, self.writer.transport]

    def close_slave(self) -> None:
        if self.slave >= 0:
            os.close(self.slave)
            self.slave = -1

    def resize(self, width: int, height: int) -> None:
        set_window_size(self.master, width, height)

    def close(self) -> None:
        self.close_slave()
        for transport in self._transports:
            transport.close()
        self._transports = []
        if self.master >= 0:
            os.close(self.master)
            self.master = -1


async def pump_stdin(
    io: StreamIO, writer: asyncio.StreamWriter | None, *, close_at_eof: bool, tty: bool = False
) -> None:
    """Copy ``io``'s stdin into ``writer`` until the client closes it, then, if asked, close ``writer``
    (a pipe) or send the terminal's end-of-file character (``tty``: ^D to a pty master)."""
    while True:
        data = await io.read_stdin()
        if data is None:
            break
        if writer is None or writer.is_closing():
            continue
        try:
            writer.write(data)
            await writer.drain()
        except (ConnectionError, OSError):
            writer = None
    if close_at_eof and writer is not None and not writer.is_closing():
        with contextlib.suppress(ConnectionError, OSError):
            if tty:
                writer.write(b"\x04")
            elif writer.can_write_eof():
                writer.write_eof()
            else:
                writer.close()


async def pump_resize(io: StreamIO, pty_: Pty) -> None:
    async for width, height in io.resize_events():
        pty_.resize(width, height)


async def wait_popen(popen: subprocess.Popen[bytes], *, poll_interval: float = 0.05) -> int:
    """Wait for a ``subprocess.Popen`` child without blocking the loop (a pidfd when the kernel has
    them, else polling) and return its raw returncode (negative: killed by that signal).

    The runtime spawns containers with ``Popen`` rather than ``asyncio.create_subprocess_exec``
    because an asyncio subprocess transport kills its child when it is closed or garbage-collected,
    and containers must outlive the runtime object (and the kubelet process)."""
    if popen.poll() is not None:
        return popen.returncode
    try:
        pidfd = os.pidfd_open(popen.pid)
    except (AttributeError, OSError):
        while popen.poll() is None:  # noqa: ASYNC110 - no pidfd: polling is the fallback
            await asyncio.sleep(poll_interval)
        return popen.returncode
    loop = asyncio.get_running_loop()
    done: asyncio.Future[int] = loop.create_future()

    def ready() -> None:
        if popen.poll() is not None and not done.done():
            done.set_result(popen.returncode)

    loop.add_reader(pidfd, ready)
    try:
        ready()
        return await done
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)


async def open_read_pipe(file: Any) -> tuple[asyncio.StreamReader, asyncio.BaseTransport]:
    """Wrap a readable pipe file object in an ``asyncio.StreamReader``; the transport owns the file."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=CHUNK)
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), file)
    return reader, transport


async def open_write_pipe(file: Any) -> asyncio.StreamWriter:
    """Wrap a writable pipe file object in an ``asyncio.StreamWriter``; the transport owns the file."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.connect_write_pipe(lambda: asyncio.streams.FlowControlMixin(), file)
    return asyncio.StreamWriter(transport, protocol, None, loop)
