"""Running controllers under test: ``running(api, factories, options)`` builds one ``ControllerContext``,
constructs the controllers, starts and syncs its informers and runs the controllers as tasks (cancelled,
informers and event recorders stopped, on exit)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from kybernetes.client import ApiClient, SharedInformerFactory
from kybernetes.controllers.base import Controller, ControllerContext, ControllerOptions


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
