"""A real API server for client tests: the in-process aiohttp app on a fresh SQLite store, served on a
free loopback port with ``web.AppRunner``/``TCPSite`` so the client under test speaks real HTTP.

``server.faults`` injects answers (429, 5xx) in front of the real handlers; ``proxy`` is a TCP proxy in
front of the server whose ``cut()`` drops every connection and refuses new ones until ``restore()``:
a network partition for reflectors and leader electors.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from kybernetes.apiserver.context import ApiContext
from kybernetes.client import ApiClient
from tests.inprocess import FAST_RETRY, serve
from tests.inprocess import eventually as _eventually


@dataclass
class Faults:
    """Queued fault answers: each matching request consumes one ``(status, headers)``."""

    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    match: Callable[[web.Request], bool] = lambda request: True
    served: int = 0

    def inject(self, status: int, count: int = 1, *, headers: dict[str, str] | None = None) -> None:
        self.answers.extend([(status, headers or {})] * count)


@dataclass
class Server:
    url: str
    ctx: ApiContext
    faults: Faults
    port: int


def _fault_middleware(faults: Faults) -> Any:
    @web.middleware
    async def inject(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> Any:
        if faults.answers and faults.match(request):
            status, headers = faults.answers.pop(0)
            faults.served += 1
            body = {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": f"injected {status}",
                "reason": "TooManyRequests" if status == 429 else "InternalError",
                "code": status,
            }
            return web.Response(
                status=status, body=orjson.dumps(body), headers=headers, content_type="application/json"
            )
        return await handler(request)

    return inject


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    faults = Faults()
    async with serve(tmp_path, middlewares=[_fault_middleware(faults)]) as srv:
        yield Server(srv.url, srv.ctx, faults, srv.port)


@pytest.fixture
async def api(server: Server) -> AsyncIterator[ApiClient]:
    async with ApiClient(server.url, retry=FAST_RETRY) as client:
        yield client


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; ``cut()`` partitions, ``restore()`` heals."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(Exception):
                dst.close()

        tasks = [asyncio.create_task(pump(reader, up_writer)), asyncio.create_task(pump(up_reader, writer))]
        self._tasks.update(tasks)
        try:
            await asyncio.gather(*tasks)
        finally:
            self._tasks.difference_update(tasks)
            self._writers.difference_update((writer, up_writer))

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()
        await asyncio.sleep(0.05)  # let clients see their pooled connections close

    async def restore(self) -> None:
        if self._server is None:
            await self.start()

    async def close(self) -> None:
        await self.cut()
        for task in list(self._tasks):
            task.cancel()


@pytest.fixture
async def proxy(server: Server) -> AsyncIterator[TcpProxy]:
    p = await TcpProxy(server.port).start()
    try:
        yield p
    finally:
        await p.close()


# the client tests poll with a shorter bound and a finer interval
eventually = functools.partial(_eventually, timeout=5.0, interval=0.02)


def configmap(name: str, namespace: str = "default", **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": dict(data),
    }


def pod(name: str, namespace: str = "default", labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
