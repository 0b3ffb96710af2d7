"""Fixtures for the node lifecycle, quota, disruption and autoscaler tests: a real API server in
process (the aiohttp app on a fresh SQLite store, served on a loopback port), an ``ApiClient`` over
HTTP, and helpers to run controllers and simulated nodes as tasks with bounded waits.

Import the fixtures into a test module (``from tests.controllers._node_fixtures import api, server``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web

from kybernetes.apiserver.app import make_app
from kybernetes.apiserver.context import ApiContext
from kybernetes.client import ApiClient, RetryPolicy, SharedInformerFactory
from kybernetes.controllers.base import Controller, ControllerContext, ControllerOptions
from kybernetes.storage.sqlite import SQLiteStore

T = TypeVar("T")
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.02, max_delay=0.2, max_elapsed=5.0)


@dataclass
class Server:
    url: str
    ctx: ApiContext


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    store = SQLiteStore(tmp_path / "state.db")
    await store.start()
    ctx = ApiContext(store, compaction_interval=0)
    await ctx.start()
    runner = web.AppRunner(make_app(ctx), handle_signals=False, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield Server(f"http://127.0.0.1:{port}", ctx)
    finally:
        await runner.cleanup()
        await ctx.close()
        await store.close()


@pytest.fixture
async def api(server: Server) -> AsyncIterator[ApiClient]:
    async with ApiClient(server.url, retry=FAST_RETRY) as client:
        yield client


@contextlib.asynccontextmanager
async def running(
    api: ApiClient,
    factories: list[Callable[[ControllerContext], Controller]],
    options: ControllerOptions | None = None,
    workers: int = 2,
) -> AsyncIterator[list[Controller]]:
    """Construct controllers on one context, start and sync the informers, run them as tasks."""
    ctx = ControllerContext(api, SharedInformerFactory(api), options or ControllerOptions())
    controllers = [make(ctx) for make in factories]
    ctx.informers.start()
    assert await ctx.informers.wait_for_cache_sync(10.0)
    tasks = [asyncio.create_task(c.run(workers)) for c in controllers]
    try:
        yield controllers
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await ctx.informers.stop()
        for rec in ctx.recorders.values():
            with contextlib.suppress(Exception):
                await rec.stop(1.0)


async def eventually(
    check: Callable[[], T | Awaitable[T]],
    *,
    timeout: float = 10.0,  # noqa: ASYNC109
    interval: float = 0.05,
    what: str = "",
) -> T:
    """Poll ``check`` (sync or async) until truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        result = check()
        if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
            result = await result
        last = result
        if last:
            return last  # type: ignore[no-any-return]
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check}: last={last!r}")
        await asyncio.sleep(interval)


def pod(
    name: str,
    *,
    namespace: str = "default",
    node: str | None = None,
    labels: dict[str, str] | None = None,
    requests: dict[str, str] | None = None,
    limits: dict[str, str] | None = None,
    tolerations: list[dict[str, Any]] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": "busybox"}
    resources: dict[str, Any] = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    if resources:
        container["resources"] = resources
    spec: dict[str, Any] = {"containers": [container]}
    if node:
        spec["nodeName"] = node
    if tolerations is not None:
        spec["tolerations"] = tolerations
    md: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels or {}}
    if annotations:
        md["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec}
