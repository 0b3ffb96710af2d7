"""One probe or lifecycle-hook attempt: ``exec``, ``httpGet``, ``tcpSocket`` and ``grpc`` handlers.

``run_handler(handler, target, timeout)`` returns ``(ok, message)``; it never raises. ``exec`` runs through
the runtime (``exec_sync``; success is exit code 0), ``httpGet`` uses aiohttp against ``host`` or the pod
IP (any status in [200, 400) succeeds; ``scheme``, ``path``, ``port`` by number or by the container's
named port, ``httpHeaders``), ``tcpSocket`` opens a connection, ``grpc`` calls
``grpc.health.v1.Health/Check`` with grpcio (the two tiny messages are encoded by hand: ``service`` is
field 1 of the request, ``status`` field 1 of the response, SERVING = 1). Messages follow upstream's
prober (``HTTP probe failed with statuscode: 500``). Used by ``probes.py`` and for postStart/preStop
hooks by ``pod_workers.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from kybernetes.kubelet.runtime import Runtime

__all__ = ["HandlerTarget", "resolve_port", "run_handler"]


@dataclass(frozen=True)
class HandlerTarget:
    """Where a probe or hook runs: the container (for exec) and the pod's address (for network probes)."""

    runtime: Runtime
    container_id: str
    container: Mapping[str, Any]
    pod_ip: str
    host_ip: str = ""


def resolve_port(port: Any, container: Mapping[str, Any]) -> int:
    """A probe's port: a number, a numeric string, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    text = str(port or "")
    if text.isdigit():
        return int(text)
    for p in container.get("ports") or []:
        if p.get("name") == text and p.get("containerPort"):
            return int(p["containerPort"])
    raise ValueError(f"unable to find port {text!r} in container {container.get('name')}")


async def _exec(handler: Mapping[str, Any], target: HandlerTarget, timeout: float) -> tuple[bool, str]:  # noqa: ASYNC109
    command = [str(c) for c in handler.get("command") or []]
    try:
        result = await asyncio.wait_for(
            target.runtime.exec_sync(target.container_id, command, timeout), timeout + 1.0
        )
    except TimeoutError:
        return False, f"command {command!r} timed out"
    output = (result.stdout + result.stderr).decode("utf-8", "replace")
    if result.exit_code == 0:
        return True, output
    return False, output or f"command {command!r} exited with {result.exit_code}"


def _host(handler: Mapping[str, Any], target: HandlerTarget) -> str:
    return str(handler.get("host") or target.pod_ip or target.host_ip or "127.0.0.1")


async def _http(handler: Mapping[str, Any], target: HandlerTarget, timeout: float) -> tuple[bool, str]:  # noqa: ASYNC109
    scheme = str(handler.get("scheme") or "HTTP").lower()
    host = _host(handler, target)
    port = resolve_port(handler.get("port"), target.container)
    path = str(handler.get("path") or "/")
    if not path.startswith("/"):
        path = "/" + path
    url = f"{scheme}://{host}:{port}{path}"
    headers = {"User-Agent": "kube-probe/1.32", "Accept": "*/*"}
    for h in handler.get("httpHeaders") or []:
        headers[str(h.get("name"))] = str(h.get("value") or "")
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.get(url, headers=headers, ssl=False, allow_redirects=True) as resp,
        ):
            body = (await resp.content.read(10240)).decode("utf-8", "replace")
            if 200 <= resp.status < 400:
                return True, body
            return False, f"HTTP probe failed with statuscode: {resp.status}"
    except TimeoutError:
        return (
            False,
            f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)',
        )
    except aiohttp.ClientError as exc:
        return False, f'Get "{url}": {exc}'


async def _tcp(handler: Mapping[str, Any], target: HandlerTarget, timeout: float) -> tuple[bool, str]:  # noqa: ASYNC109
    host = _host(handler, target)
    port = resolve_port(handler.get("port"), target.container)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except TimeoutError:
        return False, f"dial tcp {host}:{port}: i/o timeout"
    except OSError as exc:
        return False, f"dial tcp {host}:{port}: connect: {exc.strerror or exc}"
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
    return True, ""


def _encode_request(service: str) -> bytes:
    data = service.encode()
    return (b"\x0a" + bytes([len(data)]) + data) if data else b""


def _decode_status(raw: bytes) -> int:
    if len(raw) >= 2 and raw[0] == 0x08:
        return raw[1]
    return 0  # UNKNOWN


async def _grpc(handler: Mapping[str, Any], target: HandlerTarget, timeout: float) -> tuple[bool, str]:  # noqa: ASYNC109
    import grpc  # lazy on purpose: grpcio loads only on a node that runs a gRPC probe

    host = _host(handler, target)
    port = int(handler.get("port") or 0)
    address = f"{host}:{port}"
    async with grpc.aio.insecure_channel(address) as channel:
        check = channel.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=lambda b: b,
            response_deserializer=lambda b: b,
        )
        try:
            raw = await check(_encode_request(str(handler.get("service") or "")), timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                return False, f"timeout: health rpc did not complete within {timeout:g}s"
            return False, f"failed to connect service {address!r} within {timeout:g}s: {exc.details()}"
    status = _decode_status(raw)
    if status == 1:
        return True, ""
    names = {0: "UNKNOWN", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}
    return False, f"service unhealthy (responded with {names.get(status, str(status))!r})"


async def run_handler(handler: Mapping[str, Any], target: HandlerTarget, timeout: float) -> tuple[bool, str]:  # noqa: ASYNC109
    """Run one probe/hook handler; ``(succeeded, output or failure message)``."""
    try:
        if isinstance(handler.get("exec"), Mapping):
            return await _exec(handler["exec"], target, timeout)
        if isinstance(handler.get("httpGet"), Mapping):
            return await _http(handler["httpGet"], target, timeout)
        if isinstance(handler.get("tcpSocket"), Mapping):
            return await _tcp(handler["tcpSocket"], target, timeout)
        if isinstance(handler.get("grpc"), Mapping):
            return await _grpc(handler["grpc"], target, timeout)
        if isinstance(handler.get("sleep"), Mapping):
            await asyncio.sleep(float(handler["sleep"].get("seconds") or 0))
            return True, ""
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a probe never takes the kubelet down
        return False, f"{type(exc).__name__}: {exc}"
    return False, "missing probe handler"
