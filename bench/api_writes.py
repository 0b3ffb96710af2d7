"""Pod creates per second through the API (HTTPS, bearer token), closed loop with N concurrent workers.

Each create is ``POST /api/v1/namespaces/{ns}/pods`` with the minimal valid Pod body from
``_server.pod_body``; a create counts when the server answers 201 (or 200). The CPU seconds the server
(and etcd, when given) consumed during the run are sampled from /proc so the report can show where the
time went. The same driver fills the namespace for the LIST benchmark (``populate``).
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from _load import LoadResult, drive
from _server import Api, cpu_seconds, pod_body


async def create_pods(
    api: Api,
    namespace: str,
    *,
    prefix: str,
    n: int,
    concurrency: int,
    deadline_s: float,
    cpu_pids: dict[str, int | None] | None = None,
) -> tuple[LoadResult, dict[str, Any]]:
    """Create ``n`` pods named ``{prefix}{i}``; returns the load result and extra facts (CPU, sample)."""
    path = f"/api/v1/namespaces/{namespace}/pods"
    bodies = [orjson.dumps(pod_body(f"{prefix}{i}")) for i in range(n)]
    sample: list[bytes] = []

    async def op(i: int) -> None:
        _, data = await api.request("POST", path, body=bodies[i], ok=(200, 201))
        if not sample:
            sample.append(data)

    pids = cpu_pids or {}
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    wall = time.perf_counter()
    result = await drive(n, concurrency, op, deadline_s=deadline_s)
    wall = time.perf_counter() - wall
    extra: dict[str, Any] = {
        "cpu_s": {name: round(cpu_seconds(pid) - cpu_before[name], 3) for name, pid in pids.items()},
        "wall_s": round(wall, 3),
        "stored_object_bytes": len(sample[0]) if sample else 0,
    }
    if sample:
        extra["sample"] = sample[0]
    return result, extra


async def populate(
    api: Api, namespace: str, *, count: int, concurrency: int, deadline_s: float
) -> LoadResult:
    """Make sure ``namespace`` holds pods ``l-0 .. l-{count-1}`` (409 AlreadyExists counts as done)."""
    path = f"/api/v1/namespaces/{namespace}/pods"

    async def op(i: int) -> None:
        await api.request("POST", path, body=orjson.dumps(pod_body(f"l-{i}")), ok=(200, 201, 409))

    return await drive(count, concurrency, op, deadline_s=deadline_s)
