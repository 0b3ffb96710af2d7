"""Port-forward, both ways clients speak it: SPDY inside websocket (kubectl) and the websocket channel
protocol (the Python client, ``v4.channel.k8s.io``).

SPDY (``PortForwardSession``): since kubectl 1.31 the client opens a websocket with subprotocol
``SPDY/3.1+portforward.k8s.io`` and

then speaks plain SPDY over it as if it were a TCP connection (message boundaries mean nothing). For
each local connection it opens two streams with the same ``requestid`` header: ``streamtype: error``
(which it half-closes at once and reads to the end) and ``streamtype: data``, both naming the pod
``port``. The server replies to every SYN_STREAM, connects to the port once it has the pair, copies bytes
both ways, and ends with FIN on both streams; a message on the error stream makes kubectl report it.
Pings are echoed (kubectl pings every 10 s).

``PortForwardSession`` is transport-agnostic: feed it the received bytes, give it a coroutine that sends.

Channels (``ChannelPortForward``, upstream's ``portforward/websocket.go``): the ports are named up front in
the query (``?ports=8080,9090``); port ``i`` gets data channel ``2i`` (both ways) and error channel
``2i+1`` (server to client). The server first sends on each of the two channels the port as an unsigned
16-bit little-endian number, connects to every port at once, and copies bytes between the data channel
and the connection; a failure is written as text on the error channel. When one direction of a port ends
the other gets a second to finish (as containerd's forwarder does), and once every port is done the
server closes the websocket. ``parse_ports`` reads the query as upstream's ``NewV4Options`` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kybernetes._lib.tasks import TaskOwner
from kybernetes.kubelet.streaming import channels, spdy

log = logging.getLogger(__name__)

Connection = tuple[Callable[[bytes], Awaitable[None]], AsyncIterator[bytes], Callable[[], Awaitable[None]]]
Opener = Callable[[int], Awaitable[Connection]]

STREAM_TYPE = "streamtype"
PORT = "port"
REQUEST_ID = "requestid"
STREAM_TYPE_DATA = "data"
STREAM_TYPE_ERROR = "error"

DATA_CHUNK = 32 * 1024
STREAM_CREATION_TIMEOUT = 30.0
LINGER_SECONDS = 1.0  # how long the other direction may finish once one direction of a port ended


@dataclass
class _Pair:
    request_id: str
    port_header: str = ""
    error_stream: int | None = None
    data_stream: int | None = None
    inbound: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None
    timer: asyncio.TimerHandle | None = None
    data_reset: bool = False
    data_fin_sent: bool = False
    error_fin_sent: bool = False


class PortForwardSession:
    """The server side of one SPDY port-forward connection."""

    def __init__(
        self,
        send: Callable[[bytes], Awaitable[None]],
        opener: Opener,
        *,
        pod: str = "",
        stream_creation_timeout: float = STREAM_CREATION_TIMEOUT,
    ) -> None:
        self._send = send
        self._opener = opener
        self._pod = pod
        self._timeout = stream_creation_timeout
        self._reader = spdy.FrameReader()
        self._writer = spdy.FrameWriter()
        self._lock = asyncio.Lock()
        self._pairs: dict[str, _Pair] = {}
        self._streams: dict[int, tuple[_Pair, str]] = {}
        self._last_stream = 0
        self._expiries = TaskOwner("port-forward-expiry", logger=log)  # timed-out stream pairs
        self.closed = False

    # --- sending ---------------------------------------------------------------------------------------
    async def send_frame(self, frame: spdy.Frame) -> None:
        if self.closed:
            return
        async with self._lock:  # compression state and wire order must agree
            data = self._writer.encode(frame)
            try:
                await self._send(data)
            except (ConnectionError, RuntimeError) as exc:
                log.debug("port-forward transport closed: %s", exc)
                self.closed = True

    async def _fin(self, stream_id: int | None) -> None:
        if stream_id is not None:
            await self.send_frame(spdy.DataFrame(stream_id, b"", spdy.FLAG_FIN))

    # --- receiving -------------------------------------------------------------------------------------
    async def run(self, messages: AsyncIterator[bytes]) -> None:
        """Process the peer's bytes until the transport ends or the peer sends GOAWAY."""
        try:
            await spdy.read_frames(
                messages,
                self._reader,
                self._handle,
                self.send_frame,
                lambda: self._last_stream,
                "port-forward",
            )
        finally:
            await self.close()

    async def _handle(self, frame: spdy.Frame) -> None:
        if isinstance(frame, spdy.SynStream):
            await self._syn_stream(frame)
        elif isinstance(frame, spdy.DataFrame):
            entry = self._streams.get(frame.stream_id)
            if entry is None:
                return
            pair, kind = entry
            if kind == STREAM_TYPE_DATA:
                if frame.data:
                    pair.inbound.put_nowait(frame.data)
                if frame.fin:
                    pair.inbound.put_nowait(None)
        elif isinstance(frame, spdy.RstStream):
            entry = self._streams.pop(frame.stream_id, None)
            if entry is None:
                return
            pair, kind = entry
            if kind == STREAM_TYPE_DATA:
                pair.data_reset = True
                pair.inbound.put_nowait(None)
                if pair.task is None:
                    await self._finish_unstarted(pair)
        elif isinstance(frame, spdy.Ping):
            await self.send_frame(frame)  # echo: we never ping first
        # SETTINGS, WINDOW_UPDATE, HEADERS, SYN_REPLY and unknown control frames need no answer

    async def _syn_stream(self, frame: spdy.SynStream) -> None:
        sid = frame.stream_id
        if sid in self._streams or sid % 2 == 0 or sid <= self._last_stream:
            await self.send_frame(spdy.RstStream(sid, spdy.PROTOCOL_ERROR))
            return
        self._last_stream = sid
        headers = {k: v[0] if v else "" for k, v in frame.headers.items()}
        kind = headers.get(STREAM_TYPE, "")
        if kind not in (STREAM_TYPE_DATA, STREAM_TYPE_ERROR):
            await self.send_frame(spdy.RstStream(sid, spdy.PROTOCOL_ERROR))
            return
        request_id = headers.get(REQUEST_ID)
        if not request_id:  # old clients pair an error stream with the data stream two ids later
            request_id = str(sid - 2 if kind == STREAM_TYPE_DATA else sid)
        await self.send_frame(spdy.SynReply(sid, {}))
        pair = self._pairs.get(request_id)
        if pair is None:
            pair = self._pairs[request_id] = _Pair(request_id)
            pair.timer = asyncio.get_running_loop().call_later(self._timeout, self._expire_later, pair)
        if kind == STREAM_TYPE_DATA:
            if pair.data_stream is not None:
                await self.send_frame(spdy.RstStream(sid, spdy.PROTOCOL_ERROR))
                return
            pair.data_stream = sid
        else:
            if pair.error_stream is not None:
                await self.send_frame(spdy.RstStream(sid, spdy.PROTOCOL_ERROR))
                return
            pair.error_stream = sid
        pair.port_header = pair.port_header or headers.get(PORT, "")
        self._streams[sid] = (pair, kind)
        if frame.fin and kind == STREAM_TYPE_DATA:
            pair.inbound.put_nowait(None)
        if pair.data_stream is not None and pair.error_stream is not None and pair.task is None:
            if pair.timer is not None:
                pair.timer.cancel()
            pair.task = asyncio.create_task(self._forward(pair))

    def _expire_later(self, pair: _Pair) -> None:
        if not self._expiries.closed:
            self._expiries.spawn(self._expire(pair), name=f"expire:{pair.request_id}")

    async def _expire(self, pair: _Pair) -> None:
        if pair.task is None and self._pairs.get(pair.request_id) is pair:
            await self._fail(pair, f"timed out waiting for the streams of request {pair.request_id}")
            self._forget(pair)

    async def _finish_unstarted(self, pair: _Pair) -> None:
        if pair.timer is not None:
            pair.timer.cancel()
        await self._fin_both(pair)
        self._forget(pair)

    # --- forwarding ------------------------------------------------------------------------------------
    async def _fail(self, pair: _Pair, message: str) -> None:
        if pair.error_stream is not None and not pair.error_fin_sent:
            await self.send_frame(spdy.DataFrame(pair.error_stream, message.encode()))
        await self._fin_both(pair)

    async def _fin_both(self, pair: _Pair) -> None:
        if not pair.data_fin_sent and not pair.data_reset:
            pair.data_fin_sent = True
            await self._fin(pair.data_stream)
        if not pair.error_fin_sent:
            pair.error_fin_sent = True
            await self._fin(pair.error_stream)

    def _forget(self, pair: _Pair) -> None:
        self._pairs.pop(pair.request_id, None)
        for sid in (pair.data_stream, pair.error_stream):
            if sid is not None and self._streams.get(sid, (None,))[0] is pair:
                del self._streams[sid]

    async def _forward(self, pair: _Pair) -> None:
        try:
            try:
                port = int(pair.port_header)
                if not 0 < port < 65536:
                    raise ValueError
            except ValueError:
                await self._fail(pair, f'invalid port "{pair.port_header}"')
                return
            try:
                send, chunks, close = await self._opener(port)
            except Exception as exc:
                await self._fail(pair, f"error forwarding port {port} to pod {self._pod}: {exc}")
                return
            error: str | None = None
            try:
                outbound = asyncio.create_task(self._pump_out(pair, chunks))
                inbound = asyncio.create_task(self._pump_in(pair, send))
                done, _ = await asyncio.wait({outbound, inbound}, return_when=asyncio.FIRST_COMPLETED)
                for task in (outbound, inbound):
                    if task not in done:
                        task.cancel()
                for result in await asyncio.gather(outbound, inbound, return_exceptions=True):
                    if isinstance(result, Exception) and not pair.data_reset:
                        error = f"error forwarding port {port} to pod {self._pod}: {result}"
            finally:
                with contextlib.suppress(Exception):
                    await close()
            if error:
                await self._fail(pair, error)
            else:
                await self._fin_both(pair)
        finally:
            self._forget(pair)

    async def _pump_out(self, pair: _Pair, chunks: AsyncIterator[bytes]) -> None:
        assert pair.data_stream is not None
        async for chunk in chunks:
            if pair.data_reset or self.closed:
                return
            for start in range(0, len(chunk), DATA_CHUNK):
                await self.send_frame(spdy.DataFrame(pair.data_stream, chunk[start : start + DATA_CHUNK]))

    async def _pump_in(self, pair: _Pair, send: Callable[[bytes], Awaitable[None]]) -> None:
        while True:
            item = await pair.inbound.get()
            if item is None:
                return
            await send(item)

    async def close(self) -> None:
        """The transport is gone: stop every forward."""
        self.closed = True
        tasks = [p.task for p in self._pairs.values() if p.task is not None]
        for pair in self._pairs.values():
            if pair.timer is not None:
                pair.timer.cancel()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if asyncio.current_task() not in self._expiries.tasks:  # never wait for ourselves
            await self._expiries.close()
        self._pairs.clear()
        self._streams.clear()


# --- port-forward over the websocket channel protocol ------------------------------------------------------
class PortsError(ValueError):
    """The ``ports`` query of a channel port-forward is missing or malformed (a 400 upstream)."""


def parse_ports(values: Sequence[str]) -> list[int]:
    """The ports of ``?ports=a,b&ports=c``, in order, with upstream's checks and messages."""
    if not values:
        raise PortsError('query parameter "ports" is required')
    ports: list[int] = []
    for value in values:
        if not value:
            raise PortsError('query parameter "ports" cannot be empty')
        for part in value.split(","):
            problem = "" if part.isascii() and part.isdigit() else "invalid syntax"
            port = int(part) if not problem else 0
            if port > 65535:
                problem = "value out of range"
            if problem:
                raise PortsError(
                    f'unable to parse "{value}" as a port: strconv.ParseUint: parsing "{part}": {problem}'
                )
            if port < 1:
                raise PortsError(f'port "{value}" must be > 0')
            ports.append(port)
    return ports


class ChannelPortForward:
    """The server side of one port-forward over the websocket channel protocol (see the module docstring).

    ``send(message)`` sends one websocket message (``bytes`` or, for base64 protocols, ``str``);
    ``run(messages)`` consumes the client's messages and returns when every port is done or the client
    has gone; the caller then closes the websocket.
    """

    def __init__(
        self,
        send: Callable[[bytes | str], Awaitable[None]],
        opener: Opener,
        protocol: str,
        ports: Sequence[int],
        *,
        pod: str = "",
        linger: float = LINGER_SECONDS,
    ) -> None:
        self._send_message = send
        self._opener = opener
        self._protocol = protocol
        self._ports = list(ports)
        self._pod = pod
        self._linger = linger
        self._inbound: list[asyncio.Queue[bytes | None]] = [asyncio.Queue() for _ in self._ports]
        self._done: set[int] = set()  # ports whose forward ended: their client data is dropped
        self._lock = asyncio.Lock()
        self.closed = False

    async def _send(self, channel: int, data: bytes) -> None:
        if self.closed:
            return
        message = channels.encode(self._protocol, channel, data)
        try:
            async with self._lock:
                await self._send_message(message)
        except (ConnectionError, RuntimeError) as exc:
            log.debug("channel port-forward transport closed: %s", exc)
            self.closed = True

    async def run(self, messages: AsyncIterator[bytes | str]) -> None:
        for index, port in enumerate(self._ports):
            prefix = struct.pack("<H", port)
            await self._send(2 * index, prefix)
            await self._send(2 * index + 1, prefix)
        workers = [asyncio.create_task(self._forward(i, port)) for i, port in enumerate(self._ports)]
        reader = asyncio.create_task(self._read(messages))
        try:
            everything = asyncio.gather(*workers, return_exceptions=True)
            first: list[asyncio.Future[Any]] = [everything, reader]
            await asyncio.wait(first, return_when=asyncio.FIRST_COMPLETED)
            if not everything.done():  # the client went away: stop forwarding
                for task in workers:
                    task.cancel()
                await asyncio.gather(everything, return_exceptions=True)
        finally:
            reader.cancel()
            for task in workers:
                task.cancel()
            await asyncio.gather(reader, *workers, return_exceptions=True)
            self.closed = True

    async def _read(self, messages: AsyncIterator[bytes | str]) -> None:
        try:
            async for message in messages:
                try:
                    channel, data = channels.decode(self._protocol, message)
                except ValueError:
                    log.debug("port-forward: ignoring a malformed message")
                    continue
                # even channels carry data to a port; odd (error) channels are write-only, as upstream
                index = channel // 2
                if channel % 2 == 0 and index < len(self._inbound) and data and index not in self._done:
                    self._inbound[index].put_nowait(data)
        finally:
            for queue in self._inbound:
                queue.put_nowait(None)

    async def _forward(self, index: int, port: int) -> None:
        try:
            await self._forward_port(index, port)
        finally:
            self._done.add(index)
            while not self._inbound[index].empty():
                self._inbound[index].get_nowait()

    async def _forward_port(self, index: int, port: int) -> None:
        data_channel, error_channel = 2 * index, 2 * index + 1
        try:
            send, chunks, close = await self._opener(port)
        except Exception as exc:
            await self._send(
                error_channel, f"error forwarding port {port} to pod {self._pod}: {exc}".encode()
            )
            return
        error: str | None = None
        try:
            outbound = asyncio.create_task(self._pump_out(data_channel, chunks))
            inbound = asyncio.create_task(self._pump_in(self._inbound[index], send))
            _, pending = await asyncio.wait({outbound, inbound}, return_when=asyncio.FIRST_COMPLETED)
            if pending:
                await asyncio.wait(pending, timeout=self._linger)
            for task in (outbound, inbound):
                task.cancel()
            for result in await asyncio.gather(outbound, inbound, return_exceptions=True):
                if isinstance(result, Exception) and error is None:
                    error = f"error forwarding port {port} to pod {self._pod}: {result}"
        finally:
            with contextlib.suppress(Exception):
                await close()
        if error:
            await self._send(error_channel, error.encode())

    async def _pump_out(self, channel: int, chunks: AsyncIterator[bytes]) -> None:
        async for chunk in chunks:
            if self.closed:
                return
            for start in range(0, len(chunk), DATA_CHUNK):
                await self._send(channel, chunk[start : start + DATA_CHUNK])

    async def _pump_in(
        self, queue: asyncio.Queue[bytes | None], send: Callable[[bytes], Awaitable[None]]
    ) -> None:
        while (item := await queue.get()) is not None:
            await send(item)
