"""Fixtures for scheduler tests: object builders (nodes, pods) for unit tests against ``NodeInfo``, and
for integration tests a real API server (the in-process aiohttp app on a fresh SQLite store, served on
a loopback port so the scheduler talks real HTTP) with ``run_scheduler`` running as a task.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web

from kybernetes.apiserver.app import make_app
from kybernetes.apiserver.context import ApiContext
from kybernetes.client import ApiClient, RetryPolicy
from kybernetes.scheduler import Scheduler, run_scheduler
from kybernetes.scheduler.framework import NodeInfo, PodInfo
from kybernetes.storage.sqlite import SQLiteStore

T = TypeVar("T")
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.02, max_delay=0.2, max_elapsed=5.0)


def node(
    name: str,
    *,
    cpu: str = "4",
    memory: str = "32Gi",
    pods: str = "110",
    labels: dict[str, str] | None = None,
    taints: list[dict[str, str]] | None = None,
    unschedulable: bool = False,
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    alloc = {"cpu": cpu, "memory": memory, "pods": pods, **(extra or {})}
    spec: dict[str, Any] = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": spec,
        "status": {
            "capacity": alloc,
            "allocatable": alloc,
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
        },
    }


def pod(
    name: str,
    *,
    namespace: str = "default",
    cpu: str | None = None,
    memory: str | None = None,
    labels: dict[str, str] | None = None,
    node_name: str | None = None,
    priority: int | None = None,
    **spec: Any,
) -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    container: dict[str, Any] = {"name": "c", "image": "busybox"}
    if requests:
        container["resources"] = {"requests": requests}
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {"containers": [container], **spec},
    }
    if node_name:
        body["spec"]["nodeName"] = node_name
    if priority is not None:
        body["spec"]["priority"] = priority
    return body


def node_info(n: dict[str, Any], *pods: dict[str, Any]) -> NodeInfo:
    ni = NodeInfo(n)
    for p in pods:
        p = {**p, "spec": {**p["spec"], "nodeName": ni.name}}
        ni.add_pod(PodInfo(p))
    return ni


async def eventually(
    check: Callable[[], T | Awaitable[T]],
    *,
    timeout: float = 10.0,  # noqa: ASYNC109
    interval: float = 0.05,
    what: str = "",
) -> T:
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


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[ApiClient]:
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
        async with ApiClient(f"http://127.0.0.1:{port}", retry=FAST_RETRY) as client:
            yield client
    finally:
        await runner.cleanup()
        await ctx.close()
        await store.close()


class Running:
    """A scheduler task under test; ``sched`` is the live ``Scheduler`` once it runs."""

    def __init__(self) -> None:
        self.stop = asyncio.Event()
        self.sched: Scheduler | None = None
        self.task: asyncio.Task[None] | None = None


@pytest.fixture
async def scheduler(api: ApiClient) -> AsyncIterator[Running]:
    """``run_scheduler`` as a task (no leader election, fast backoff)."""
    running = Running()

    def seen(s: Scheduler) -> None:
        running.sched = s

    running.task = asyncio.create_task(
        run_scheduler(
            api,
            leader_elect=False,
            stop=running.stop,
            pod_initial_backoff=0.1,
            pod_max_backoff=0.5,
            on_scheduler=seen,
        )
    )
    await eventually(lambda: running.sched is not None and running.sched.pods.has_synced(), what="sync")
    try:
        yield running
    finally:
        running.stop.set()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(running.task, 10)


async def node_of(api: ApiClient, name: str, namespace: str = "default") -> str:
    return str(((await api.pods.get(name, namespace=namespace)).get("spec") or {}).get("nodeName") or "")


async def scheduled_condition(api: ApiClient, name: str, namespace: str = "default") -> dict[str, Any]:
    status = (await api.pods.get(name, namespace=namespace)).get("status") or {}
    return next((c for c in status.get("conditions") or () if c.get("type") == "PodScheduled"), {})


async def events_for(
    api: ApiClient, name: str, reason: str, namespace: str = "default"
) -> list[dict[str, Any]]:
    items = (await api.events.list(namespace=namespace)).get("items") or []
    return [
        e for e in items if (e.get("involvedObject") or {}).get("name") == name and e.get("reason") == reason
    ]
