"""The websocket channel protocol of ``kubectl exec`` and ``kubectl attach`` (``v5.channel.k8s.io``).

Every websocket message carries one channel's bytes: the first byte names the channel (0 stdin, 1 stdout,
2 stderr, 3 error, 4 resize), the rest is data. ``v4`` ends a session with a ``metav1.Status`` on the
error channel (``Success``, or ``Failure`` with reason ``NonZeroExitCode`` and an ``ExitCode`` cause,
which kubectl turns into its own exit code). ``v5`` adds channel 255, "close": ``[255, 0]`` from the
client closes stdin. The ``*.base64.channel.k8s.io`` variants send text messages whose first character
is the channel digit and whose rest is base64.

``ChannelSession`` adapts one accepted aiohttp websocket into the runtime's ``StreamIO``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from aiohttp import WSMsgType, web

log = logging.getLogger(__name__)

STDIN = 0
STDOUT = 1
STDERR = 2
ERROR = 3
RESIZE = 4
CLOSE = 255

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
V5_BASE64 = "v5.base64.channel.k8s.io"
V4_BASE64 = "v4.base64.channel.k8s.io"
# in preference order when a client offers several
PROTOCOLS = (V5, V4, V5_BASE64, V4_BASE64)
PORT_FORWARD_SPDY_WEBSOCKET = "SPDY/3.1+portforward.k8s.io"

MAX_CHUNK = 32 * 1024


def offered_protocols(header: str | None) -> list[str]:
    """The subprotocols a client offers in ``Sec-WebSocket-Protocol`` (in its order)."""
    return [p.strip() for p in (header or "").split(",") if p.strip()]


def choose_protocol(offered: Sequence[str], supported: Sequence[str] = PROTOCOLS) -> str | None:
    """The first protocol the client offers that we support (the client's preference wins)."""
    for proto in offered:
        if proto in supported:
            return proto
    return None


def is_base64(protocol: str) -> bool:
    return ".base64." in protocol


def encode(protocol: str, channel: int, data: bytes) -> bytes | str:
    """One message for ``channel``: bytes for binary protocols, text for the base64 ones."""
    if is_base64(protocol):
        return chr(ord("0") + channel) + base64.b64encode(data).decode()
    return bytes((channel,)) + data


def decode(protocol: str, message: bytes | str) -> tuple[int, bytes]:
    """(channel, data) of one received message."""
    if isinstance(message, str):
        if not message:
            raise ValueError("empty message")
        return ord(message[0]) - ord("0"), base64.b64decode(message[1:])
    if not message:
        raise ValueError("empty message")
    return message[0], bytes(message[1:])


# --- final statuses on the error channel ---------------------------------------------------------------
def success_status() -> dict[str, Any]:
    return {"metadata": {}, "status": "Success"}


def exit_code_status(code: int, command: Sequence[str] = ()) -> dict[str, Any]:
    """What the kubelet sends when the command exited non-zero; kubectl exits with ``code``."""
    what = f"error executing command {list(command)}, " if command else ""
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: {what}exit code {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def error_status(message: str, *, reason: str = "InternalError", code: int = 500) -> dict[str, Any]:
    return {"metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code}


def parse_exit_code(status: dict[str, Any]) -> int | None:
    """The exit code a final Status carries: 0 for Success, the ExitCode cause, else None."""
    if status.get("status") == "Success":
        return 0
    if status.get("reason") == "NonZeroExitCode":
        for cause in (status.get("details") or {}).get("causes") or []:
            if cause.get("reason") == "ExitCode":
                with contextlib.suppress(TypeError, ValueError):
                    return int(cause.get("message"))
    return None


# --- a session over an accepted websocket ----------------------------------------------------------------
class ChannelSession:
    """One exec/attach session: implements ``StreamIO`` on top of an accepted websocket.

    Run ``read_loop()`` as a task: it feeds stdin and resize events and returns when the client goes
    away. ``finish(status)`` sends the final Status on the error channel and closes the websocket.
    """

    def __init__(
        self,
        ws: web.WebSocketResponse,
        protocol: str,
        *,
        stdin: bool,
        stdout: bool,
        stderr: bool,
        tty: bool,
    ) -> None:
        self.ws = ws
        self.protocol = protocol
        self.stdin_enabled = stdin
        self.stdout_enabled = stdout
        self.stderr_enabled = stderr and not tty  # with a tty, stderr is merged into stdout
        self.tty = tty
        self._stdin: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=64)
        self._resize: asyncio.Queue[tuple[int, int] | None] = asyncio.Queue(maxsize=16)
        self._stdin_closed = not stdin
        self._write_lock = asyncio.Lock()
        self.client_gone = asyncio.Event()

    # --- StreamIO ------------------------------------------------------------------------------------
    async def read_stdin(self) -> bytes | None:
        if not self.stdin_enabled:
            return None
        item = await self._stdin.get()
        if item is None:
            self._stdin.put_nowait(None)  # stay closed for later readers
        return item

    async def write_stdout(self, data: bytes) -> None:
        if self.stdout_enabled:
            await self._send(STDOUT, data)

    async def write_stderr(self, data: bytes) -> None:
        if self.stderr_enabled:
            await self._send(STDERR, data)
        elif self.tty and self.stdout_enabled:
            await self._send(STDOUT, data)

    async def resize_events(self) -> AsyncIterator[tuple[int, int]]:
        while True:
            item = await self._resize.get()
            if item is None:
                self._resize.put_nowait(None)
                return
            yield item

    # --- plumbing --------------------------------------------------------------------------------------
    async def _send(self, channel: int, data: bytes) -> None:
        if self.ws.closed or self.client_gone.is_set():
            return
        for start in range(0, max(len(data), 1), MAX_CHUNK):
            chunk = data[start : start + MAX_CHUNK]
            if not chunk:
                return
            message = encode(self.protocol, channel, chunk)
            try:
                async with self._write_lock:
                    if isinstance(message, str):
                        await self.ws.send_str(message)
                    else:
                        await self.ws.send_bytes(message)
            except (ConnectionError, RuntimeError) as exc:
                log.debug("client of a stream session went away: %s", exc)
                self.client_gone.set()
                return

    def _close_stdin(self) -> None:
        if not self._stdin_closed:
            self._stdin_closed = True
            with contextlib.suppress(asyncio.QueueFull):
                self._stdin.put_nowait(None)

    async def _put_stdin(self, data: bytes) -> None:
        if not self._stdin_closed and data:
            await self._stdin.put(data)

    def _put_resize(self, data: bytes) -> None:
        try:
            size = json.loads(data)
            event = (int(size.get("Width") or 0), int(size.get("Height") or 0))
        except (ValueError, TypeError, AttributeError):
            log.debug("ignoring a malformed resize message %r", data[:100])
            return
        if self._resize.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self._resize.get_nowait()  # keep the newest sizes
        self._resize.put_nowait(event)

    async def read_loop(self) -> None:
        """Consume client messages until the websocket closes."""
        try:
            async for msg in self.ws:
                if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                    continue
                try:
                    channel, data = decode(self.protocol, msg.data)
                except ValueError:
                    continue
                if channel == STDIN:
                    await self._put_stdin(data)
                elif channel == RESIZE:
                    self._put_resize(data)
                elif channel == CLOSE:
                    if data[:1] == bytes((STDIN,)):
                        self._close_stdin()
        finally:
            self.client_gone.set()
            self._close_stdin()
            if self._resize.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    self._resize.get_nowait()
            self._resize.put_nowait(None)

    async def finish(self, status: dict[str, Any]) -> None:
        """Send the final Status on the error channel, then close the websocket normally."""
        if not self.ws.closed and not self.client_gone.is_set():
            await self._send(ERROR, json.dumps(status).encode())
        with contextlib.suppress(Exception):
            await self.ws.close()
