"""A real API server in process for tests, and bounded polling.

- ``api_context(tmp_path, **kwargs)``: a started ``ApiContext`` on a fresh SQLite store in ``tmp_path``
  (closed, with its store, on exit);
- ``serve(tmp_path, ...)``: that context behind the real aiohttp app (``make_app``), served over plain
  HTTP on a free 127.0.0.1 port with ``web.AppRunner``/``TCPSite``, so clients under test speak real
  HTTP; yields an ``InProcessServer`` (``url``, ``ctx``, ``port``, ``client()``: an ``ApiClient`` factory);
- ``write_kubeconfig(path, url)``: a kubeconfig for kubectl pointing at ``url`` (namespace ``default``);
- ``eventually(check, timeout=..., interval=..., what=...)``: poll a sync or async check until truthy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from kybernetes.apiserver.app import make_app
from kybernetes.apiserver.context import ApiContext
from kybernetes.apiserver.operations import Operations
from kybernetes.apiserver.options import DeleteOptions, WriteOptions
from kybernetes.client import ApiClient, RetryPolicy
from kybernetes.storage.sqlite import SQLiteStore

T = TypeVar("T")

FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.02, max_delay=0.2, max_elapsed=5.0)


# Options for calling ``Operations`` directly: a plain write, a dry run, a plain delete.
WRITE = WriteOptions(dry_run=False, field_manager=None, field_validation="Strict", force=False)
DRY = WriteOptions(dry_run=True, field_manager=None, field_validation="Strict", force=False)
DELETE = DeleteOptions(
    grace_period_seconds=None,
    propagation_policy=None,
    precondition_uid=None,
    precondition_rv=None,
    dry_run=False,
)
MERGE = "application/merge-patch+json"


def ops(ctx: ApiContext, group: str, version: str, plural: str) -> Operations:
    """``Operations`` for one registered resource of ``ctx``."""
    info = ctx.registry.get(group, version, plural)
    assert info is not None, plural
    return Operations(ctx, info)


@contextlib.asynccontextmanager
async def api_context(tmp_path: Path, **kwargs: Any) -> AsyncIterator[ApiContext]:
    """A started ``ApiContext(SQLiteStore(tmp_path / "state.db"), **kwargs)``."""
    store = SQLiteStore(tmp_path / "state.db")
    await store.start()
    ctx = ApiContext(store, **kwargs)
    await ctx.start()
    try:
        yield ctx
    finally:
        await ctx.close()
        await store.close()


@dataclass
class InProcessServer:
    url: str
    ctx: ApiContext
    port: int

    def client(self, retry: RetryPolicy = FAST_RETRY) -> ApiClient:
        """A new ``ApiClient`` to this server (fast retries by default); the caller closes it."""
        return ApiClient(self.url, retry=retry)


@contextlib.asynccontextmanager
async def serve(
    tmp_path: Path,
    *,
    middlewares: Iterable[Any] = (),
    **context_kwargs: Any,
) -> AsyncIterator[InProcessServer]:
    """The API server on a fresh store (no compaction), on a free loopback port.

    ``middlewares`` are appended after the app's own; ``context_kwargs`` go to ``ApiContext`` (e.g.
    ``node_streams``)."""
    async with api_context(tmp_path, compaction_interval=0, **context_kwargs) as ctx:
        app = make_app(ctx)
        app.middlewares.extend(middlewares)
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            yield InProcessServer(f"http://127.0.0.1:{port}", ctx, port)
        finally:
            await runner.cleanup()


def write_kubeconfig(path: Path, url: str) -> Path:
    """Write a kubeconfig at ``path`` whose current context is ``url`` with namespace ``default``."""
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "kyb", "cluster": {"server": url}}],
                "users": [{"name": "admin", "user": {}}],
                "contexts": [
                    {"name": "kyb", "context": {"cluster": "kyb", "user": "admin", "namespace": "default"}}
                ],
                "current-context": "kyb",
            }
        )
    )
    return path


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
