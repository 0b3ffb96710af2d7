"""Helpers shared by the node-agent benchmarks (``pod_startup``, ``simulated_scale``).

``PodWatch`` follows one pod watch (all namespaces or one) on a ``_server.Api`` and stamps, with
``time.perf_counter()`` on arrival, the first event where each pod is Running and Ready and the event
where it is deleted; it reconnects from the last resourceVersion if the stream ends (bounded).
``proc_stats`` reads CPU seconds and RSS of a process from ``/proc`` (psutil is not installed).
``wait_nodes_ready`` polls nodes until enough report Ready=True, under a deadline. ``Rate`` paces an
open-loop sender. Everything talks to the 127.0.0.1 server of the ``Api`` it is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from _load import percentile
from _server import Api, cpu_seconds


@dataclass
class ProcStats:
    """One sample of a process: CPU seconds so far, resident and peak resident memory."""

    cpu_s: float
    rss_mb: float
    hwm_mb: float


def proc_stats(pid: int | None) -> ProcStats:
    """CPU seconds (user + system), VmRSS and VmHWM in MiB of ``pid`` (zeros when gone)."""
    rss = hwm = 0.0
    if pid is not None:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) / 1024
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) / 1024
    return ProcStats(cpu_seconds(pid), rss, hwm)


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def pctl_ms(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of seconds, in ms rounded to 1 decimal (nan when empty)."""
    value = percentile(sorted(values), pct)
    return value if math.isnan(value) else round(value * 1000, 1)


def _running_ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") != "Running":
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


@dataclass
class PodWatch:
    """Arrival times (perf_counter) of Running+Ready and DELETED events per pod name (``ns/name``)."""

    api: Api
    namespace: str | None = None
    running: dict[str, float] = field(default_factory=dict)
    deleted: dict[str, float] = field(default_factory=dict)
    events: int = 0
    errors: list[str] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None
    _started: asyncio.Event = field(default_factory=asyncio.Event)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def path(self) -> str:
        return f"/api/v1/namespaces/{self.namespace}/pods" if self.namespace else "/api/v1/pods"

    async def start(self) -> None:
        _, body = await self.api.request("GET", self.path + "?limit=1")
        rv = str(orjson.loads(body)["metadata"].get("resourceVersion") or "0")
        self._task = asyncio.create_task(self._run(rv))
        await asyncio.wait_for(self._started.wait(), 30)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def wait(self, predicate: Any, deadline_s: float) -> bool:
        """Wait until ``predicate()`` holds (checked on every event), at most ``deadline_s`` seconds."""
        end = time.monotonic() + deadline_s
        while not predicate():
            left = end - time.monotonic()
            if left <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 1.0))
        return True

    async def _run(self, rv: str) -> None:
        session = self.api.new_session(pool=2, timeout=aiohttp.ClientTimeout(total=None, sock_read=120))
        try:
            for _ in range(50):  # bounded reconnects
                url = f"{self.api.base}{self.path}?watch=1&allowWatchBookmarks=true&resourceVersion={rv}"
                try:
                    async with session.get(url) as resp:
                        if resp.status != 200:
                            self.errors.append(f"watch -> {resp.status}: {(await resp.text())[:300]}")
                            await asyncio.sleep(1)
                            continue
                        self._started.set()
                        async for line in resp.content:
                            if not line.strip():
                                continue
                            rv = self._on_event(orjson.loads(line), rv)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    self.errors.append(f"watch stream: {type(exc).__name__}: {exc}"[:300])
                    await asyncio.sleep(0.2)
        finally:
            await session.close()

    def _on_event(self, event: dict[str, Any], rv: str) -> str:
        now = time.perf_counter()
        kind, obj = event.get("type"), event.get("object") or {}
        meta = obj.get("metadata") or {}
        if kind == "ERROR":
            self.errors.append(f"watch ERROR event: {str(obj)[:300]}")
            return "0" if obj.get("code") == 410 else rv
        new_rv = str(meta.get("resourceVersion") or rv)
        if kind == "BOOKMARK":
            return new_rv
        self.events += 1
        key = f"{meta.get('namespace')}/{meta.get('name')}"
        if kind == "DELETED":
            self.deleted.setdefault(key, now)
        elif key not in self.running and _running_ready(obj):
            self.running[key] = now
        self._changed.set()
        return new_rv


async def wait_nodes_ready(api: Api, want: int, deadline_s: float, prefix: str = "") -> int:
    """Poll nodes until ``want`` of them (name starting with ``prefix``) are Ready; returns how many are."""
    end = time.monotonic() + deadline_s
    ready = 0
    while True:
        ready = await count_ready_nodes(api, prefix)
        if ready >= want or time.monotonic() > end:
            return ready
        await asyncio.sleep(0.5)


async def count_ready_nodes(api: Api, prefix: str = "") -> int:
    _, body = await api.request("GET", "/api/v1/nodes")
    ready = 0
    for node in orjson.loads(body).get("items") or []:
        if not str(node["metadata"]["name"]).startswith(prefix):
            continue
        for cond in (node.get("status") or {}).get("conditions") or []:
            if cond.get("type") == "Ready" and cond.get("status") == "True":
                ready += 1
    return ready


class Rate:
    """Open-loop pacing: ``await rate.next(i)`` sleeps until operation ``i`` is due at ``per_s``."""

    def __init__(self, per_s: float) -> None:
        self.per_s = per_s
        self.t0 = time.perf_counter()

    async def next(self, i: int) -> None:
        due = self.t0 + i / self.per_s
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
