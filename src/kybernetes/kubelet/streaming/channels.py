"""The websocket channel protocol of exec, attach and port-forward (``v5.channel.k8s.io`` and its elders).

Every websocket message carries one channel's bytes: the first byte names the channel (exec/attach: 0
stdin, 1 stdout, 2 stderr, 3 error, 4 resize), the rest is data. Which codec applies is decided by the
negotiated subprotocol, never by the message type (the Python client sends stdin of a ``str`` as a *text*
message on the binary protocols): the ``*base64.channel.k8s.io`` protocols carry the channel as an ASCII
digit and the data base64-encoded (sent as text), every other protocol raw bytes (sent as binary).

The protocols upstream's kubelet and API server serve over websocket, and how each ends a session:

- ``v5.channel.k8s.io``: as v4, plus channel 255 "close": ``[255, n]`` from the client closes its
  channel ``n`` (``n = 0``: end of stdin, so ``cat`` sees end of input). ``v5.base64.channel.k8s.io`` is
  accepted too (upstream has no base64 v5; here it is v5 with base64 data and a raw 255 marker);
- ``v4.channel.k8s.io`` (and ``v4.base64``): the session ends with a ``metav1.Status`` as JSON on the error
  channel (``Success``, or ``Failure`` with reason ``NonZeroExitCode`` and an ``ExitCode`` cause);
- ``channel.k8s.io``, ``base64.channel.k8s.io`` and no subprotocol at all (binary): the v1 error channel,
  plain text of the error message, and nothing on success.

(``v2``/``v3.channel.k8s.io`` exist only as SPDY stream protocols upstream, not as websocket subprotocols;
an offer of them alone is refused as upstream refuses it.) Right after the upgrade the server sends an
empty message on the lowest writable channel (stdout, else stderr, else error), as upstream does, so a
client knows the session is established. A resize is ``{"Width": w, "Height": h}`` on channel 4.

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
V1 = "channel.k8s.io"
V1_BASE64 = "base64.channel.k8s.io"
NONE = ""  # the client offered no subprotocol: binary channels, v1 error channel (as upstream's "" entry)
# what exec/attach accept; the client's order of preference decides among them
PROTOCOLS = (V5, V4, V5_BASE64, V4_BASE64, V1, V1_BASE64)
# what port-forward over plain websocket accepts (upstream's portforward/websocket.go)
PORT_FORWARD_PROTOCOLS = (V4, V4_BASE64)
PORT_FORWARD_SPDY_WEBSOCKET = "SPDY/3.1+portforward.k8s.io"

MAX_CHUNK = 32 * 1024


def offered_protocols(header: str | None) -> list[str]:
    """The subprotocols a client offers in ``Sec-WebSocket-Protocol`` (in its order)."""
    return [p.strip() for p in (header or "").split(",") if p.strip()]


def choose_protocol(offered: Sequence[str], supported: Sequence[str] = PROTOCOLS) -> str | None:
    """The first protocol the client offers that we support (the client's preference wins); ``NONE``
    when the client offers none at all (upstream then speaks binary channels with v1 statuses)."""
    if not offered:
        return NONE
    for proto in offered:
        if proto in supported:
            return proto
    return None


def is_base64(protocol: str) -> bool:
    return protocol.endswith(V1_BASE64)


def has_json_status(protocol: str) -> bool:
    """v4 and v5 end a session with a JSON ``Status``; older protocols with the bare error text."""
    return protocol.startswith(("v4.", "v5."))


def supports_close(protocol: str) -> bool:
    """Only v5 has the close channel (255)."""
    return protocol.startswith("v5.")


def encode(protocol: str, channel: int, data: bytes) -> bytes | str:
    """One message for ``channel``: bytes for binary protocols, text for the base64 ones."""
    if is_base64(protocol):
        return chr(ord("0") + channel) + base64.b64encode(data).decode()
    return bytes((channel,)) + data


def decode(protocol: str, message: bytes | str) -> tuple[int, bytes]:
    """(channel, data) of one received message, text or binary alike (as upstream reads either).

    A v5 close signal comes back as ``(CLOSE, bytes((n,)))`` with ``n`` the channel to close (in the
    base64 protocols the 255 marker is raw and the channel a digit, as upstream's reader expects).
    Raises ``ValueError`` for an empty message or bad base64."""
    raw = message.encode() if isinstance(message, str) else bytes(message)
    if isinstance(message, str) and message[:1] == chr(CLOSE):
        raw = bytes((CLOSE,)) + message[1:].encode()  # "\xff" as a text character: the close marker
    if not raw:
        raise ValueError("empty message")
    if raw[0] == CLOSE and supports_close(protocol):
        target = raw[1:2]
        if is_base64(protocol) and target:
            target = bytes((target[0] - ord("0"),))
        return CLOSE, target
    if is_base64(protocol):
        return raw[0] - ord("0"), base64.b64decode(raw[1:], validate=True)
    return raw[0], raw[1:]


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
    async def _send(self, channel: int, data: bytes, *, allow_empty: bool = False) -> None:
        if self.ws.closed or self.client_gone.is_set():
            return
        for start in range(0, max(len(data), 1), MAX_CHUNK):
            chunk = data[start : start + MAX_CHUNK]
            if not chunk and not allow_empty:
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
                elif channel == CLOSE:  # only decoded as such on v5
                    if data[:1] == bytes((STDIN,)):
                        self._close_stdin()
                    # closing resize or an output channel changes nothing on the server side
        finally:
            self.client_gone.set()
            self._close_stdin()
            if self._resize.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    self._resize.get_nowait()
            self._resize.put_nowait(None)

    async def hello(self) -> None:
        """Tell the client the session is established: an empty message on the lowest writable channel."""
        channel = STDOUT if self.stdout_enabled else STDERR if self.stderr_enabled else ERROR
        await self._send(channel, b"", allow_empty=True)

    async def finish(self, status: dict[str, Any]) -> None:
        """Send the final Status on the error channel, then close the websocket normally.

        v4/v5: the Status as JSON; older protocols: the bare message of a failure, nothing on success."""
        if not self.ws.closed and not self.client_gone.is_set():
            if has_json_status(self.protocol):
                await self._send(ERROR, json.dumps(status).encode())
            elif status.get("status") != "Success":
                await self._send(ERROR, str(status.get("message") or "").encode())
        with contextlib.suppress(Exception):
            await self.ws.close()
