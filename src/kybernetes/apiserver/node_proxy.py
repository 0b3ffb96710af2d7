"""The API server's side of the pod streaming subresources: ``log``, ``exec``, ``attach``, ``portforward``.

``NodeProxy`` is what ``ApiContext(node_streams=...)`` builds. For a pod bound to a node it finds the node's
kubelet (``status.addresses``: InternalIP, else Hostname, else ExternalIP; port
``status.daemonEndpoints.kubeletEndpoint.Port``, default 10250) and

- ``log``: validates and translates ``PodLogOptions`` and streams the kubelet's ``/containerLogs``
  answer back as ``text/plain``;
- ``exec``/``attach``/``portforward``: opens a websocket to the kubelet offering the subprotocols the
  client offered, then accepts the client's websocket with the one the kubelet chose and pipes messages
  both ways until either side closes (the close code travels too). The channel protocols
  (``v5.channel.k8s.io`` and older, text or binary messages alike) and both port-forward flavours (the
  SPDY-in-websocket tunnel, and channels with ``?ports=``, passed on) go through unchanged.

Errors become Status responses as upstream words them: a container that must be named (400), a node
without an address (500), a kubelet that cannot be dialed (502 ``error dialing backend``), and whatever
Status the kubelet answered (e.g. a container that is not running).

Classic ``Upgrade: SPDY/3.1`` requests (kubectl's fallback, older clients) are relayed to the kubelet with
their ``X-Stream-Protocol-Version`` offers; after its 101 the raw bytes are copied both ways. When a client
falls back to SPDY right after a failed websocket attempt (kubectl does), it gets the websocket attempt's
error again. Any other request without an upgrade gets "Upgrade request required".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import aiohttp
from aiohttp import WSMsgType, web

from kybernetes._lib.upgrade import UpgradedConnection, accept_upgrade, is_upgrade_to
from kybernetes.api import errors
from kybernetes.apiserver.request import Target

log = logging.getLogger(__name__)

STATUS_HEADER = "X-Kybernetes-Status"  # the kubelet copies pre-upgrade errors here (see kubelet/server.py)
SPDY_UPGRADE = "SPDY/3.1"
PROTOCOL_HEADER = "X-Stream-Protocol-Version"
DEFAULT_KUBELET_PORT = 10250
CONNECT_TIMEOUT = 10.0
FAILURE_MEMORY_SECONDS = 30.0
CLIENT_POLL_SECONDS = 0.5
ADDRESS_PREFERENCE = ("InternalIP", "Hostname", "ExternalIP")


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


def _container_names(containers: list[dict[str, Any]] | None) -> str:
    return " ".join(str(c.get("name")) for c in containers or [])


def resolve_container(pod: dict[str, Any], container: str | None) -> str:
    """The container a request addresses, as upstream's ``validateContainer`` decides."""
    spec = pod.get("spec") or {}
    name = pod["metadata"]["name"]
    if not container:
        containers = spec.get("containers") or []
        if len(containers) == 1:
            return str(containers[0]["name"])
        message = f"a container name must be specified for pod {name}, choose one of: [{_container_names(containers)}]"
        if spec.get("initContainers"):
            message += f" or one of the init containers: [{_container_names(spec['initContainers'])}]"
        if spec.get("ephemeralContainers"):
            message += (
                f" or one of the ephemeral containers: [{_container_names(spec['ephemeralContainers'])}]"
            )
        raise errors.bad_request(message)
    for key in ("containers", "initContainers", "ephemeralContainers"):
        if any(c.get("name") == container for c in spec.get(key) or []):
            return container
    raise errors.bad_request(f"container {container} is not valid for pod {name}")


def _int_param(query: Any, name: str, minimum: int) -> str | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise errors.bad_request(f"{name}: Invalid value: {raw!r}: must be an integer") from None
    if value < minimum:
        raise errors.invalid(
            "PodLogOptions",
            "",
            [errors.Cause(name, f"Invalid value: {value}: must be greater than or equal to {minimum}")],
        )
    return str(value)


def log_params(query: Any) -> dict[str, str]:
    """The kubelet's ``/containerLogs`` query for a ``pods/log`` request (PodLogOptions)."""
    params: dict[str, str] = {}
    for name in ("follow", "previous", "timestamps"):
        if _flag(query.get(name)):
            params[name] = "true"
    for name, minimum in (("tailLines", 0), ("sinceSeconds", 1), ("limitBytes", 1)):
        value = _int_param(query, name, minimum)
        if value is not None:
            params[name] = value
    if query.get("sinceTime"):
        if "sinceSeconds" in params:
            raise errors.invalid(
                "PodLogOptions",
                "",
                [
                    errors.Cause(
                        "sinceSeconds", "at most one of `sinceTime` or `sinceSeconds` may be specified"
                    )
                ],
            )
        params["sinceTime"] = query["sinceTime"]
    return params


def _status_from(code: int, body: bytes | str, fallback: str) -> errors.StatusError:
    try:
        status = json.loads(body)
    except (ValueError, TypeError):
        status = None
    if isinstance(status, dict) and status.get("kind", "Status") == "Status" and status.get("message"):
        causes = [
            errors.Cause(str(c.get("field", "")), str(c.get("message", "")), str(c.get("reason", "")))
            for c in (status.get("details") or {}).get("causes") or []
        ]
        return errors.StatusError(
            int(status.get("code") or code),
            str(status.get("reason") or ""),
            str(status["message"]),
            causes=causes,
        )
    text = body.decode(errors="replace") if isinstance(body, bytes) else str(body or "")
    return errors.StatusError(code, "BadRequest" if code == 400 else "", text.strip() or fallback)


class NodeProxy:
    """Serve ``pods/{log,exec,attach,portforward}`` by proxying to the pod's kubelet.

    ``token_for_node(node_name)`` gives the bearer token for that node's kubelet (None: none);
    ``scheme`` is how kubelets listen (``https`` like upstream; ``http`` for tests).
    """

    def __init__(
        self,
        ctx: Any,
        *,
        token_for_node: Callable[[str], str | None] | None = None,
        verify_tls: bool = False,
        scheme: str = "https",
        ssl_context: ssl.SSLContext | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
    ) -> None:
        self.ctx = ctx
        self.token_for_node = token_for_node
        self.verify_tls = verify_tls
        self.scheme = scheme
        self.ssl_context = ssl_context
        self.connect_timeout = connect_timeout
        self._session: aiohttp.ClientSession | None = None
        self._failures: dict[tuple[str, str], tuple[float, errors.StatusError]] = {}

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            ssl_arg: ssl.SSLContext | bool = self.ssl_context or (True if self.verify_tls else False)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=ssl_arg),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.connect_timeout),
                auto_decompress=False,
            )
        return self._session

    # --- entry point ---------------------------------------------------------------------------------
    async def __call__(self, request: web.Request, target: Target, pod: dict[str, Any]) -> web.StreamResponse:
        sub = target.subresource
        node_name = str((pod.get("spec") or {}).get("nodeName") or "")
        namespace = pod["metadata"].get("namespace") or "default"
        name = pod["metadata"]["name"]
        q = request.query
        if sub == "log":
            if request.method != "GET":
                raise errors.method_not_allowed(f"{request.method} is not supported on pods/log")
            container = resolve_container(pod, q.get("container"))
            params = log_params(q)
            base = await self._kubelet_base(node_name)
            url = f"{base}/containerLogs/{quote(namespace)}/{quote(name)}/{quote(container)}"
            return await self._logs(request, node_name, url, params)
        if sub in ("exec", "attach"):
            container = resolve_container(pod, q.get("container"))
            params_list: list[tuple[str, str]] = []
            if sub == "exec":
                commands = q.getall("command", [])
                if not commands:
                    raise errors.bad_request("you must specify at least 1 command")
                params_list += [("command", c) for c in commands]
            for flag in ("stdin", "stdout", "stderr", "tty"):
                if _flag(q.get(flag)):
                    params_list.append((flag, "1"))
            if not any(k in ("stdin", "stdout", "stderr") for k, _ in params_list):
                raise errors.bad_request("you must specify at least 1 of stdin, stdout, stderr")
            base = await self._kubelet_base(node_name)
            path = f"/{sub}/{quote(namespace)}/{quote(name)}/{quote(container)}"
            return await self._websocket(request, node_name, f"{base}{path}?{urlencode(params_list)}")
        if sub == "portforward":
            base = await self._kubelet_base(node_name)
            url = f"{base}/portForward/{quote(namespace)}/{quote(name)}"
            # the channel protocol names its ports in the query (the kubelet checks them)
            ports = [("ports", p) for p in q.getall("ports", [])]
            return await self._websocket(request, node_name, f"{url}?{urlencode(ports)}" if ports else url)
        raise errors.not_found_raw("the server could not find the requested resource")

    async def _kubelet_base(self, node_name: str) -> str:
        nodes = self.ctx.store_for("", "v1", "nodes")
        node = await nodes.get(None, node_name)
        status = node.get("status") or {}
        addresses = {
            a.get("type"): a.get("address") for a in status.get("addresses") or [] if a.get("address")
        }
        host = next((addresses[t] for t in ADDRESS_PREFERENCE if t in addresses), None)
        if not host:
            raise errors.internal(f'no preferred addresses found for node "{node_name}"; known addresses: []')
        endpoint = (status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}
        port = int(endpoint.get("Port") or DEFAULT_KUBELET_PORT)
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{self.scheme}://{host}:{port}"

    def _headers(self, node_name: str) -> dict[str, str]:
        token = self.token_for_node(node_name) if self.token_for_node is not None else None
        return {"Authorization": f"Bearer {token}"} if token else {}

    # --- logs ----------------------------------------------------------------------------------------
    async def _logs(
        self, request: web.Request, node: str, url: str, params: dict[str, str]
    ) -> web.StreamResponse:
        try:
            upstream = await self._client().get(url, params=params, headers=self._headers(node))
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise self._dial_error(url, exc) from exc
        async with upstream:
            if upstream.status != 200:
                raise _status_from(
                    upstream.status, await upstream.read(), f"the kubelet answered {upstream.status}"
                )
            response = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
            response.enable_chunked_encoding()
            await response.prepare(request)
            watchdog = asyncio.create_task(_close_when_client_leaves(request, upstream))
            try:
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
            except (ConnectionError, aiohttp.ClientError) as exc:
                log.debug("log stream from %s ended: %s", url, exc)
            finally:
                watchdog.cancel()
        return response

    def _dial_error(self, url: str, exc: BaseException) -> errors.StatusError:
        return errors.StatusError(
            502, "", f"error dialing backend: {url.split('?')[0]}: {exc or type(exc).__name__}"
        )

    # --- websockets ----------------------------------------------------------------------------------
    def _failure_key(self, request: web.Request) -> tuple[str, str] | None:
        session = request.headers.get("Kubectl-Session")
        return (session, request.path) if session else None

    def _remember(self, request: web.Request, err: errors.StatusError) -> None:
        key = self._failure_key(request)
        if key is None:
            return
        now = time.monotonic()
        self._failures = {k: v for k, v in self._failures.items() if now - v[0] < FAILURE_MEMORY_SECONDS}
        self._failures[key] = (now, err)

    async def _websocket(self, request: web.Request, node: str, url: str) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            key = self._failure_key(request)
            remembered = self._failures.pop(key, None) if key else None
            if remembered is not None and time.monotonic() - remembered[0] < FAILURE_MEMORY_SECONDS:
                raise remembered[1]
            if is_upgrade_to(request, SPDY_UPGRADE):
                return await self._spdy(request, node, url)
            raise errors.bad_request("Upgrade request required")
        offered = [
            p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()
        ]
        try:
            backend = await self._client().ws_connect(
                url,
                protocols=offered,
                headers=self._headers(node),
                max_msg_size=0,
                autoping=True,
                autoclose=False,
            )
        except aiohttp.WSServerHandshakeError as exc:
            raw = exc.headers.get(STATUS_HEADER) if exc.headers is not None else None
            err = _status_from(
                exc.status, raw or "", f"unable to upgrade connection: {exc.message} ({exc.status})"
            )
            self._remember(request, err)
            raise err from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            err = self._dial_error(url, exc)
            self._remember(request, err)
            raise err from exc
        try:
            ws = web.WebSocketResponse(
                protocols=(backend.protocol,) if backend.protocol else (), max_msg_size=0, autoclose=False
            )
            await ws.prepare(request)
            await _pipe(ws, backend)
            return ws
        finally:
            if not backend.closed:
                with contextlib.suppress(Exception):
                    await backend.close()

    # --- classic SPDY upgrades ------------------------------------------------------------------------
    def _raw_ssl(self) -> ssl.SSLContext | None:
        if self.scheme != "https":
            return None
        if self.ssl_context is not None:
            return self.ssl_context
        ctx = ssl.create_default_context()
        if not self.verify_tls:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    async def _spdy(self, request: web.Request, node: str, url: str) -> web.StreamResponse:
        """Relay an ``Upgrade: SPDY/3.1`` request to the kubelet and, once it switched protocols, the raw
        bytes both ways (SPDY framing passes through untouched)."""
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port or DEFAULT_KUBELET_PORT
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=self._raw_ssl()), self.connect_timeout
            )
        except (TimeoutError, OSError, ssl.SSLError) as exc:
            raise self._dial_error(url, exc) from exc
        try:
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            lines = [
                f"{request.method} {target} HTTP/1.1",
                f"Host: {parts.netloc}",
                "Connection: Upgrade",
                f"Upgrade: {SPDY_UPGRADE}",
                "Content-Length: 0",
            ]
            lines += [f"{PROTOCOL_HEADER}: {v}" for v in request.headers.getall(PROTOCOL_HEADER, [])]
            lines += [f"{k}: {v}" for k, v in self._headers(node).items()]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
            try:
                status, headers = await asyncio.wait_for(_read_head(reader), self.connect_timeout)
            except (TimeoutError, OSError, ValueError, asyncio.IncompleteReadError) as exc:
                raise self._dial_error(url, exc) from exc
            if status != 101:
                body = b""
                with contextlib.suppress(TimeoutError, OSError, ValueError, asyncio.IncompleteReadError):
                    length = int(headers.get("content-length", "0") or 0)
                    body = await asyncio.wait_for(reader.readexactly(min(length, 1 << 20)), 5.0)
                raise _status_from(status, body, f"unable to upgrade connection: {status}")
            chosen = headers.get(PROTOCOL_HEADER.lower(), "")
            response, conn = await accept_upgrade(
                request, SPDY_UPGRADE, {PROTOCOL_HEADER: chosen} if chosen else None
            )
            try:
                await _splice(conn, reader, writer)
            finally:
                conn.close()
            return response
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    """Status code and (lower-cased, last one wins) headers of an HTTP/1.1 response head."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    if not version.startswith("HTTP/"):
        raise ValueError(f"not an HTTP response: {lines[0][:80]!r}")
    status = int(rest.split(" ", 1)[0])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return status, headers


async def _splice(
    conn: UpgradedConnection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Copy bytes between the client's upgraded connection and the kubelet's until either side ends."""

    async def up() -> None:
        async for chunk in conn:
            writer.write(chunk)
            await writer.drain()

    async def down() -> None:
        while chunk := await reader.read(64 * 1024):
            await conn.write(chunk)

    tasks = [asyncio.create_task(up()), asyncio.create_task(down())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _close_when_client_leaves(request: web.Request, upstream: aiohttp.ClientResponse) -> None:
    """A follow stream with nothing to write never notices its client left: poll, then drop upstream."""
    while True:
        await asyncio.sleep(CLIENT_POLL_SECONDS)
        transport = request.transport
        if transport is None or transport.is_closing():
            upstream.close()
            return


async def _pipe(client: web.WebSocketResponse, backend: aiohttp.ClientWebSocketResponse) -> None:
    """Copy messages both ways; when one side closes, close the other with the same code."""

    async def forward(src: Any, dst: Any) -> tuple[int, bytes]:
        while True:
            msg = await src.receive()
            if msg.type == WSMsgType.BINARY:
                await dst.send_bytes(msg.data)
            elif msg.type == WSMsgType.TEXT:
                await dst.send_str(msg.data)
            elif msg.type == WSMsgType.CLOSE:
                return int(msg.data or 1000), (msg.extra or "").encode()
            elif msg.type in (WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                return 1000, b""

    up = asyncio.create_task(forward(client, backend))
    down = asyncio.create_task(forward(backend, client))
    try:
        done, _ = await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        first = up if up in done else down
        other = down if first is up else up
        closed_first, still_open = (client, backend) if first is up else (backend, client)
        try:
            code, message = first.result()
        except (ConnectionError, RuntimeError, aiohttp.ClientError):
            code, message = 1000, b""
        # closing the other side also ends the task reading from it
        with contextlib.suppress(Exception):
            await still_open.close(code=code, message=message)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(other), 5.0)
        with contextlib.suppress(Exception):
            await closed_first.close(code=code, message=message)
    finally:
        for task in (up, down):
            task.cancel()
        await asyncio.gather(up, down, return_exceptions=True)
