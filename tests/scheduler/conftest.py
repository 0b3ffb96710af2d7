"""Fixtures for scheduler tests: object builders (nodes, pods) for unit tests against ``NodeInfo``, and
for integration tests a real API server (the in-process aiohttp app on a fresh SQLite store, served on
a loopback port so the scheduler talks real HTTP) with ``run_scheduler`` running as a task.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kybernetes.client import ApiClient
from kybernetes.scheduler import Scheduler, run_scheduler
from kybernetes.scheduler.framework import NodeInfo, PodInfo
from tests.inprocess import eventually, serve


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


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[ApiClient]:
    async with serve(tmp_path) as server, server.client() as client:
        yield client


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
