"""The kubelet's HTTP API: container logs, exec, attach and port-forward, as upstream's paths.

- ``GET /containerLogs/{namespace}/{pod}/{container}?follow&previous&tailLines&sinceSeconds&sinceTime&
  timestamps&limitBytes``: ``text/plain``, streamed from the container's CRI log file.
- ``GET /exec/{namespace}/{pod}[/{uid}]/{container}?command=..&stdin&stdout&stderr&tty`` and
  ``/attach/...``: websocket, ``v5.channel.k8s.io`` (also ``v4``, ``channel.k8s.io``, no subprotocol,
  and the base64 variants; see ``streaming/channels.py``).
- ``GET /portForward/{namespace}/{pod}[/{uid}]``: websocket ``SPDY/3.1+portforward.k8s.io`` (kubectl), or
  the channel protocol ``v4.channel.k8s.io`` / ``v4.base64.channel.k8s.io`` / none with ``?ports=``
  (the Python client).
- The same exec/attach/portForward paths also take a classic ``Upgrade: SPDY/3.1`` (``X-Stream-Protocol-
  Version``: remotecommand ``v5``..``v2``, ``channel.k8s.io``; ``portforward.k8s.io``), kubectl's fallback.
- ``GET /healthz``: ``ok`` (no authentication).

When ``auth_token`` is set every other path requires ``Authorization: Bearer <token>``. Errors are
``metav1.Status`` bodies; errors found before a websocket upgrade are also copied (compact JSON) into
the ``X-Kybernetes-Status`` header, so a proxy whose websocket handshake failed can relay them.

The server knows nothing about pods itself: a ``StreamProvider`` (the Kubelet) finds containers and
sandboxes, and the container runtime does the actual work.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import inspect
import json
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol, TypeVar

from aiohttp import WSMsgType, web

from kybernetes._lib.upgrade import accept_upgrade, is_upgrade_to
from kybernetes.api import errors
from kybernetes.kubelet.runtime import Runtime
from kybernetes.kubelet.streaming import channels, remotecommand
from kybernetes.kubelet.streaming.logs import LogOptions, LogOptionsError, stream_log
from kybernetes.kubelet.streaming.portforward import (
    ChannelPortForward,
    PortForwardSession,
    PortsError,
    parse_ports,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

STATUS_HEADER = "X-Kybernetes-Status"
SPDY_UPGRADE = "SPDY/3.1"
PORT_FORWARD_SPDY = "portforward.k8s.io"
DEFAULT_PORT = 10250


class StreamProvider(Protocol):
    """What the server needs from the Kubelet. Methods may be plain or coroutines."""

    @property
    def runtime(self) -> Runtime: ...

    def find_container(
        self, namespace: str, pod: str, container: str, *, previous: bool = False
    ) -> tuple[Runtime, str, str] | Awaitable[tuple[Runtime, str, str]]:
        """(runtime, container id, CRI log path) of a container; LookupError if there is none."""
        ...

    def sandbox_of(self, namespace: str, pod: str) -> str | Awaitable[str]:
        """The pod's sandbox id; LookupError if the pod has no sandbox on this node."""
        ...


async def _maybe_await(value: T | Awaitable[T]) -> T:
    if inspect.isawaitable(value):
        return await value
    return value


def _flag(query: Any, name: str) -> bool:
    return str(query.get(name, "")).lower() in ("1", "true")


def _status_response(err: errors.StatusError, *, header: bool = False) -> web.Response:
    body = json.dumps(err.to_status())
    headers = {STATUS_HEADER: json.dumps(err.to_status(), separators=(",", ":"))} if header else None
    return web.Response(status=err.code, body=body, content_type="application/json", headers=headers)


def _lookup_error(exc: LookupError) -> errors.StatusError:
    message = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
    return errors.bad_request(message)


def _is_websocket(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


class KubeletServer:
    """The kubelet's streaming API on ``host:port`` (``port=0``: any free port; see ``port``)."""

    def __init__(
        self,
        provider: StreamProvider,
        *,
        host: str = "0.0.0.0",
        port: int = DEFAULT_PORT,
        ssl_context: ssl.SSLContext | None = None,
        auth_token: str | None = None,
        log_poll_seconds: float = 0.1,
        stream_creation_timeout: float = remotecommand.STREAM_CREATION_TIMEOUT,
    ) -> None:
        self.provider = provider
        self.host = host
        self._port = port
        self.ssl_context = ssl_context
        self.auth_token = auth_token
        self.log_poll_seconds = log_poll_seconds
        self.stream_creation_timeout = stream_creation_timeout
        self._runner: web.AppRunner | None = None
        self._sessions: set[asyncio.Task[Any]] = set()

    # --- lifecycle -----------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The bound port (after ``start``)."""
        if self._runner is not None and self._runner.addresses:
            return int(self._runner.addresses[0][1])
        return self._port

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        if ":" in host:
            host = f"[{host}]" if host != "::" else "[::1]"
        return f"{scheme}://{host}:{self.port}"

    async def start(self) -> None:
        self._runner = web.AppRunner(self.make_app(), handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self._port, ssl_context=self.ssl_context)
        await site.start()
        log.info("kubelet API listening on %s", self.url)

    async def stop(self) -> None:
        for task in list(self._sessions):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- app -----------------------------------------------------------------------------------------
    def make_app(self) -> web.Application:
        @web.middleware
        async def guard(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            try:
                if self.auth_token is not None and request.path != "/healthz":
                    self._authenticate(request)
                return await handler(request)
            except errors.StatusError as exc:
                upgrade = _is_websocket(request) or is_upgrade_to(request, SPDY_UPGRADE)
                return _status_response(exc, header=upgrade)
            except web.HTTPException as exc:
                if exc.status == 404:
                    err = errors.not_found_raw("the server could not find the requested resource")
                else:
                    err = errors.StatusError(exc.status, "BadRequest", exc.reason)
                return _status_response(err)

        app = web.Application(middlewares=[guard])
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", self._logs)
        for verb, handler in (("exec", self._exec), ("attach", self._attach)):
            for path in (
                f"/{verb}/{{namespace}}/{{pod}}/{{container}}",
                f"/{verb}/{{namespace}}/{{pod}}/{{uid}}/{{container}}",
            ):
                app.router.add_route("GET", path, handler)
                app.router.add_route("POST", path, handler)
        for path in ("/portForward/{namespace}/{pod}", "/portForward/{namespace}/{pod}/{uid}"):
            app.router.add_route("GET", path, self._port_forward)
            app.router.add_route("POST", path, self._port_forward)
        return app

    def _authenticate(self, request: web.Request) -> None:
        assert self.auth_token is not None
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip(), self.auth_token):
            return
        raise errors.StatusError(401, "Unauthorized", "Unauthorized")

    async def _healthz(self, _: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _find(
        self, namespace: str, pod: str, container: str, *, previous: bool = False
    ) -> tuple[Runtime, str, str]:
        try:
            return await _maybe_await(
                self.provider.find_container(namespace, pod, container, previous=previous)
            )
        except LookupError as exc:
            raise _lookup_error(exc) from exc

    def _track(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._sessions.add(task)
            task.add_done_callback(self._sessions.discard)

    # --- logs ----------------------------------------------------------------------------------------
    async def _logs(self, request: web.Request) -> web.StreamResponse:
        ns, pod, container = (request.match_info[k] for k in ("namespace", "pod", "container"))
        try:
            options = LogOptions.from_query(dict(request.query))
        except LogOptionsError as exc:
            raise errors.bad_request(str(exc)) from exc
        runtime, container_id, log_path = await self._find(ns, pod, container, previous=options.previous)
        self._track()
        response = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
        response.enable_chunked_encoding()
        await response.prepare(request)

        async def still_running() -> bool:
            transport = request.transport
            if transport is None or transport.is_closing():
                raise ConnectionResetError("client went away")
            if options.previous:
                return False
            try:
                status = await runtime.container_status(container_id)
            except Exception:
                return False
            return status.state == "running"

        try:
            await stream_log(
                log_path,
                response.write,
                options,
                still_running=still_running if options.follow else None,
                poll=self.log_poll_seconds,
            )
            await response.write_eof()
        except ConnectionError:
            log.debug("log client for %s/%s/%s went away", ns, pod, container)
        return response

    # --- exec / attach -------------------------------------------------------------------------------
    def _negotiate(self, request: web.Request, supported: tuple[str, ...]) -> str:
        if not _is_websocket(request):
            raise errors.bad_request("Upgrade request required")
        offered = channels.offered_protocols(request.headers.get("Sec-WebSocket-Protocol"))
        chosen = channels.choose_protocol(offered, supported)
        if chosen is None:
            raise errors.bad_request(
                f"requested protocol(s) are not supported: {offered}; supported protocols: {list(supported)}"
            )
        return chosen

    def _stream_flags(self, request: web.Request) -> tuple[bool, bool, bool, bool]:
        q = request.query
        stdin, stdout, stderr, tty = (_flag(q, n) for n in ("stdin", "stdout", "stderr", "tty"))
        if not (stdin or stdout or stderr):
            raise errors.bad_request("you must specify at least 1 of stdin, stdout, stderr")
        return stdin, stdout, stderr and not tty, tty

    async def _exec(self, request: web.Request) -> web.StreamResponse:
        command = request.query.getall("command", [])
        if not command:
            raise errors.bad_request("you must specify at least 1 command")
        return await self._channel_session(request, command)

    async def _attach(self, request: web.Request) -> web.StreamResponse:
        return await self._channel_session(request, None)

    async def _channel_session(self, request: web.Request, command: list[str] | None) -> web.StreamResponse:
        ns, pod, container = (request.match_info[k] for k in ("namespace", "pod", "container"))
        stdin, stdout, stderr, tty = self._stream_flags(request)
        if is_upgrade_to(request, SPDY_UPGRADE):
            return await self._spdy_session(request, command, stdin, stdout, stderr, tty)
        protocol = self._negotiate(request, channels.PROTOCOLS)
        runtime, container_id, _ = await self._find(ns, pod, container)
        self._track()
        ws = web.WebSocketResponse(protocols=(protocol,) if protocol else (), max_msg_size=0, timeout=5.0)
        await ws.prepare(request)
        session = channels.ChannelSession(ws, protocol, stdin=stdin, stdout=stdout, stderr=stderr, tty=tty)
        await session.hello()
        try:
            await self._run_command(
                session, session.read_loop(), runtime, container_id, command, tty, f"{ns}/{pod}/{container}"
            )
        finally:
            if not ws.closed:
                with contextlib.suppress(Exception):
                    await ws.close()
        return ws

    async def _spdy_session(
        self,
        request: web.Request,
        command: list[str] | None,
        stdin: bool,
        stdout: bool,
        stderr: bool,
        tty: bool,
    ) -> web.StreamResponse:
        """Exec/attach over classic SPDY (see ``streaming/remotecommand.py``)."""
        ns, pod, container = (request.match_info[k] for k in ("namespace", "pod", "container"))
        offered = remotecommand.offered_protocols(request.headers.getall(remotecommand.PROTOCOL_HEADER, []))
        protocol = remotecommand.negotiate(offered)
        if protocol is None:
            raise errors.StatusError(
                403,
                "Forbidden",
                f"unable to upgrade: unable to negotiate protocol: client supports {offered}, "
                f"server accepts {list(remotecommand.PROTOCOLS)}",
            )
        runtime, container_id, _ = await self._find(ns, pod, container)
        self._track()
        response, conn = await accept_upgrade(
            request, SPDY_UPGRADE, {remotecommand.PROTOCOL_HEADER: protocol}
        )
        session = remotecommand.SpdyRemoteCommand(
            conn.write,
            protocol,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            tty=tty,
            stream_creation_timeout=self.stream_creation_timeout,
        )
        reader = asyncio.create_task(session.run(aiter(conn)))
        try:
            ready = asyncio.create_task(session.ready())
            await asyncio.wait({ready, reader}, return_when=asyncio.FIRST_COMPLETED)
            if not ready.done():  # the client went away before opening its streams
                ready.cancel()
                return response
            try:
                ready.result()
            except remotecommand.StreamSetupError as exc:
                log.info("remote command for %s/%s/%s: %s", ns, pod, container, exc)
                return response
            await self._run_command(
                session, reader, runtime, container_id, command, tty, f"{ns}/{pod}/{container}"
            )
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            conn.close()
        return response

    async def _run_command(
        self,
        session: channels.ChannelSession | remotecommand.SpdyRemoteCommand,
        client: Awaitable[None],
        runtime: Runtime,
        container_id: str,
        command: list[str] | None,
        tty: bool,
        what_container: str,
    ) -> None:
        """Run the exec (``command``) or attach against ``session`` while ``client`` consumes the client's
        input; send the final status unless the client went away first."""
        reader = client if isinstance(client, asyncio.Task) else asyncio.ensure_future(client)
        if command is not None:
            work: asyncio.Task[Any] = asyncio.create_task(
                runtime.exec(container_id, command, session, tty=tty)
            )
        else:
            work = asyncio.create_task(runtime.attach(container_id, session, tty=tty))
        try:
            await asyncio.wait({work, reader}, return_when=asyncio.FIRST_COMPLETED)
            if not work.done():  # the client went away
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await work
                return
            try:
                result = work.result()
            except Exception as exc:
                what = "executing command in" if command is not None else "attaching to"
                log.info("%s %s failed: %s", what, what_container, exc)
                status = channels.error_status(f"Internal error occurred: error {what} container: {exc}")
            else:
                code = int(result) if command is not None and result is not None else 0
                status = (
                    channels.success_status() if code == 0 else channels.exit_code_status(code, command or ())
                )
            await session.finish(status)
        finally:
            for task in (work, reader):
                task.cancel()
            await asyncio.gather(work, reader, return_exceptions=True)

    # --- port-forward --------------------------------------------------------------------------------
    async def _port_forward(self, request: web.Request) -> web.StreamResponse:
        ns, pod = request.match_info["namespace"], request.match_info["pod"]
        if is_upgrade_to(request, SPDY_UPGRADE):
            return await self._spdy_port_forward(request)
        offered = channels.offered_protocols(request.headers.get("Sec-WebSocket-Protocol"))
        # like upstream, the SPDY tunnel wins whenever the client offers it
        tunnel = channels.PORT_FORWARD_SPDY_WEBSOCKET in offered
        supported = (channels.PORT_FORWARD_SPDY_WEBSOCKET, *channels.PORT_FORWARD_PROTOCOLS)
        protocol = channels.PORT_FORWARD_SPDY_WEBSOCKET if tunnel else self._negotiate(request, supported)
        ports: list[int] = []
        if not tunnel:
            try:
                ports = parse_ports(request.query.getall("ports", []))
            except PortsError as exc:
                raise errors.bad_request(str(exc)) from exc
        try:
            sandbox_id = await _maybe_await(self.provider.sandbox_of(ns, pod))
        except LookupError as exc:
            raise _lookup_error(exc) from exc
        runtime = self.provider.runtime
        self._track()
        ws = web.WebSocketResponse(protocols=(protocol,) if protocol else (), max_msg_size=0, timeout=5.0)
        await ws.prepare(request)

        async def open_port(port: int) -> Any:
            return await runtime.port_forward(sandbox_id, port)

        async def send(message: bytes | str) -> None:
            if isinstance(message, str):
                await ws.send_str(message)
            else:
                await ws.send_bytes(message)

        async def messages() -> AsyncIterator[Any]:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY or (msg.type == WSMsgType.TEXT and not tunnel):
                    yield msg.data

        try:
            if tunnel:
                await PortForwardSession(ws.send_bytes, open_port, pod=f"{ns}/{pod}").run(messages())
            else:
                await ChannelPortForward(send, open_port, protocol, ports, pod=f"{ns}/{pod}").run(messages())
        finally:
            with contextlib.suppress(Exception):
                await ws.close()
        return ws

    async def _spdy_port_forward(self, request: web.Request) -> web.StreamResponse:
        """Port-forward over classic SPDY (``X-Stream-Protocol-Version: portforward.k8s.io``)."""
        ns, pod = request.match_info["namespace"], request.match_info["pod"]
        offered = remotecommand.offered_protocols(request.headers.getall(remotecommand.PROTOCOL_HEADER, []))
        if offered and PORT_FORWARD_SPDY not in offered:
            raise errors.StatusError(
                403,
                "Forbidden",
                f"unable to upgrade: unable to negotiate protocol: client supports {offered}, "
                f"server accepts {[PORT_FORWARD_SPDY]}",
            )
        try:
            sandbox_id = await _maybe_await(self.provider.sandbox_of(ns, pod))
        except LookupError as exc:
            raise _lookup_error(exc) from exc
        runtime = self.provider.runtime
        self._track()
        response, conn = await accept_upgrade(
            request, SPDY_UPGRADE, {remotecommand.PROTOCOL_HEADER: PORT_FORWARD_SPDY}
        )

        async def open_port(port: int) -> Any:
            return await runtime.port_forward(sandbox_id, port)

        try:
            session = PortForwardSession(
                conn.write, open_port, pod=f"{ns}/{pod}", stream_creation_timeout=self.stream_creation_timeout
            )
            await session.run(aiter(conn))
        finally:
            conn.close()
        return response
