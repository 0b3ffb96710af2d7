"""Exec and attach over classic SPDY/3.1 (``Upgrade: SPDY/3.1``), the transport of remotecommand v1-v5.

kubectl falls back to it when a websocket attempt fails (or ``KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false``),
and older clients only speak it. The client names the protocols it speaks in ``X-Stream-Protocol-Version``
headers (``v5.channel.k8s.io`` ... ``v2.channel.k8s.io``, ``channel.k8s.io``); the server picks the
client's first one it knows (none offered: ``channel.k8s.io``, as before negotiation existed) and answers
101 with it. Then the client opens one SPDY stream per stream type, the type in a ``streamtype`` header:
``error`` always, ``stdin``/``stdout``/``stderr`` as requested, and ``resize`` with a tty from v3 on. The
server waits for all of them (``STREAM_CREATION_TIMEOUT``), runs the command, writes stdout and stderr
as data frames, ends them with FIN, writes the final status on the error stream and closes the
connection. Stdin ends when the client half-closes its stream (FIN) or resets it. Resize events are a
sequence of JSON ``{"Width": w, "Height": h}`` objects on the resize stream. v4 and v5 write the status
as a JSON ``metav1.Status``; v1-v3 write the message of a failure as text and nothing on success.

``SpdyRemoteCommand`` is the runtime's ``StreamIO`` for one such session; like ``PortForwardSession`` it is
transport-agnostic (received bytes in, a coroutine that sends).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from kybernetes.kubelet.streaming import spdy

log = logging.getLogger(__name__)

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
V3 = "v3.channel.k8s.io"
V2 = "v2.channel.k8s.io"
V1 = "channel.k8s.io"
PROTOCOLS = (V5, V4, V3, V2, V1)
PROTOCOL_HEADER = "X-Stream-Protocol-Version"
STREAM_CREATION_TIMEOUT = 30.0
DATA_CHUNK = 32 * 1024

STDIN, STDOUT, STDERR, ERROR, RESIZE = "stdin", "stdout", "stderr", "error", "resize"


def negotiate(offered: Sequence[str], supported: Sequence[str] = PROTOCOLS) -> str | None:
    """The client's first protocol the server supports; ``V1`` when the client offers none."""
    if not offered:
        return V1
    for proto in offered:
        if proto in supported:
            return proto
    return None


def offered_protocols(values: Sequence[str]) -> list[str]:
    """``X-Stream-Protocol-Version`` values (repeated headers, or comma-joined) in the client's order."""
    return [p.strip() for value in values for p in value.split(",") if p.strip()]


class StreamSetupError(Exception):
    """The client did not open the streams the request asked for in time."""


class SpdyRemoteCommand:
    """One exec/attach session over SPDY; implements ``StreamIO``.

    Run ``run(messages)`` as a task (it parses frames until the transport ends), ``await ready()`` before
    starting the command, and ``finish(status)`` at the end; the caller then closes the transport.
    """

    def __init__(
        self,
        send: Callable[[bytes], Awaitable[None]],
        protocol: str,
        *,
        stdin: bool,
        stdout: bool,
        stderr: bool,
        tty: bool,
        stream_creation_timeout: float = STREAM_CREATION_TIMEOUT,
    ) -> None:
        self._send = send
        self.protocol = protocol
        self.tty = tty
        self._expected = {ERROR}
        for kind, wanted in ((STDIN, stdin), (STDOUT, stdout), (STDERR, stderr and not tty)):
            if wanted:
                self._expected.add(kind)
        if tty and protocol in (V5, V4, V3):
            self._expected.add(RESIZE)
        self._timeout = stream_creation_timeout
        self._reader = spdy.FrameReader()
        self._writer = spdy.FrameWriter()
        self._lock = asyncio.Lock()
        self._streams: dict[str, int] = {}
        self._kinds: dict[int, str] = {}
        self._last_stream = 0
        self._ready = asyncio.Event()
        self._stdin: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._stdin_closed = STDIN not in self._expected
        self._resize: asyncio.Queue[tuple[int, int] | None] = asyncio.Queue(maxsize=16)
        self._resize_buffer = ""
        self._fin_sent: set[int] = set()
        self.closed = False
        self.client_gone = asyncio.Event()

    # --- sending ---------------------------------------------------------------------------------------
    async def _frame(self, frame: spdy.Frame) -> None:
        if self.closed:
            return
        async with self._lock:  # compression state and wire order must agree
            data = self._writer.encode(frame)
            try:
                await self._send(data)
            except (ConnectionError, RuntimeError) as exc:
                log.debug("remote command transport closed: %s", exc)
                self.closed = True
                self.client_gone.set()

    async def _write(self, kind: str, data: bytes) -> None:
        sid = self._streams.get(kind)
        if sid is None or sid in self._fin_sent:
            return
        for start in range(0, len(data), DATA_CHUNK):
            await self._frame(spdy.DataFrame(sid, data[start : start + DATA_CHUNK]))

    async def _fin(self, kind: str) -> None:
        sid = self._streams.get(kind)
        if sid is not None and sid not in self._fin_sent:
            self._fin_sent.add(sid)
            await self._frame(spdy.DataFrame(sid, b"", spdy.FLAG_FIN))

    # --- StreamIO --------------------------------------------------------------------------------------
    async def read_stdin(self) -> bytes | None:
        if STDIN not in self._expected:
            return None
        item = await self._stdin.get()
        if item is None:
            self._stdin.put_nowait(None)  # stay closed for later readers
        return item

    async def write_stdout(self, data: bytes) -> None:
        await self._write(STDOUT, data)

    async def write_stderr(self, data: bytes) -> None:
        # with a tty there is no stderr stream: the terminal merged it already
        await self._write(STDOUT if self.tty else STDERR, data)

    async def resize_events(self) -> AsyncIterator[tuple[int, int]]:
        while True:
            item = await self._resize.get()
            if item is None:
                self._resize.put_nowait(None)
                return
            yield item

    # --- lifecycle -------------------------------------------------------------------------------------
    async def ready(self) -> None:
        """Wait until the client opened every expected stream; ``StreamSetupError`` after the timeout."""
        try:
            await asyncio.wait_for(self._ready.wait(), self._timeout)
        except TimeoutError:
            missing = sorted(self._expected - set(self._streams))
            raise StreamSetupError(f"timed out waiting for client to create streams: {missing}") from None

    async def finish(self, status: dict[str, Any]) -> None:
        """End stdout and stderr, then write the final status on the error stream and end it."""
        await self._fin(STDOUT)
        await self._fin(STDERR)
        if self.protocol in (V5, V4):
            await self._write(ERROR, json.dumps(status).encode())
        elif status.get("status") != "Success":
            await self._write(ERROR, str(status.get("message") or "").encode())
        await self._fin(ERROR)

    async def run(self, messages: AsyncIterator[bytes]) -> None:
        """Process the client's bytes until the transport ends or the client sends GOAWAY."""
        try:
            await spdy.read_frames(
                messages, self._reader, self._handle, self._frame, lambda: self._last_stream, "remote command"
            )
        finally:
            self.client_gone.set()
            self._close_stdin()
            with contextlib.suppress(asyncio.QueueFull):
                self._resize.put_nowait(None)

    # --- receiving -------------------------------------------------------------------------------------
    def _close_stdin(self) -> None:
        if not self._stdin_closed:
            self._stdin_closed = True
            self._stdin.put_nowait(None)

    async def _handle(self, frame: spdy.Frame) -> None:
        if isinstance(frame, spdy.SynStream):
            await self._syn_stream(frame)
        elif isinstance(frame, spdy.DataFrame):
            kind = self._kinds.get(frame.stream_id)
            if kind == STDIN:
                if frame.data and not self._stdin_closed:
                    self._stdin.put_nowait(frame.data)
                if frame.fin:
                    self._close_stdin()
            elif kind == RESIZE and frame.data:
                self._feed_resize(frame.data)
        elif isinstance(frame, spdy.RstStream):
            if self._kinds.get(frame.stream_id) == STDIN:
                self._close_stdin()
        elif isinstance(frame, spdy.Ping):
            await self._frame(frame)  # echo: we never ping first

    async def _syn_stream(self, frame: spdy.SynStream) -> None:
        sid = frame.stream_id
        if sid in self._kinds or sid % 2 == 0 or sid <= self._last_stream:
            await self._frame(spdy.RstStream(sid, spdy.PROTOCOL_ERROR))
            return
        self._last_stream = sid
        kind = (frame.headers.get("streamtype") or [""])[0]
        await self._frame(spdy.SynReply(sid, {}))
        if kind not in self._expected or kind in self._streams:
            log.debug("remote command: ignoring an unexpected %r stream", kind)
            self._kinds[sid] = ""
            return
        self._streams[kind] = sid
        self._kinds[sid] = kind
        if kind == STDIN and frame.fin:
            self._close_stdin()
        if set(self._streams) >= self._expected:
            self._ready.set()

    def _feed_resize(self, data: bytes) -> None:
        self._resize_buffer += data.decode(errors="replace")
        decoder = json.JSONDecoder()
        while self._resize_buffer.strip():
            text = self._resize_buffer.lstrip()
            try:
                size, end = decoder.raw_decode(text)
            except ValueError:
                if len(text) > 4096:  # not JSON and never going to be
                    self._resize_buffer = ""
                return
            self._resize_buffer = text[end:]
            try:
                event = (int(size.get("Width") or 0), int(size.get("Height") or 0))
            except (TypeError, ValueError, AttributeError):
                continue
            if self._resize.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    self._resize.get_nowait()  # keep the newest sizes
            self._resize.put_nowait(event)
