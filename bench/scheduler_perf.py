"""Scheduler throughput end to end through the API, modelled on upstream's scheduler_perf SchedulingBasic.

For each size a fresh ``kyb server`` subprocess (HTTPS, SQLite) is started; ``N`` simulated nodes are
created through the API (``Node`` objects only: allocatable cpu 4, memory 32Gi, pods 110, Ready), then
the scheduler is started — in this process via ``run_scheduler`` with an ``ApiClient`` from the server's
kubeconfig (``--in-process-scheduler``, the default), or not at all when ``kyb server`` runs its own
(``--no-in-process-scheduler``) — and once its caches hold every node, ``M`` pods shaped like upstream's
``pod-default.yaml`` (requests cpu 100m, memory 500Mi) are created by 32 concurrent writers. A watch on
pods records when each pod is first seen bound. Throughput = M / (time of the last bind seen by the
watch - time the first create was sent). Upstream's CI floor for SchedulingBasic 5000Nodes_10000Pods is
680 pods/s (Go, in-process apiserver). Server and bench-process CPU seconds are reported too.

Run: ``.venv/bin/python bench/scheduler_perf.py [--quick] [--sizes 500x1000,1000x1000,5000x10000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import time
from typing import Any

import orjson

from _server import Kyb, cpu_seconds
from kybernetes.client import ApiClient
from kybernetes.scheduler import Scheduler, run_scheduler

UPSTREAM_FLOOR = {(5000, 10000): 680}
NAMESPACE = "sched-perf"
DEFAULT_SIZES = [(500, 1000), (1000, 1000), (5000, 10000)]
QUICK_SIZES = [(100, 200), (500, 1000)]


class SchedKyb(Kyb):
    """``kyb server`` without its controller manager, and without its embedded scheduler when this
    process schedules (two schedulers would race for every pod)."""

    def __init__(self, name: str, *, embedded_scheduler: bool) -> None:
        extra = ["--disable-controller-manager"] + ([] if embedded_scheduler else ["--disable-scheduler"])
        super().__init__(name, extra_args=extra)


def node_body(i: int) -> dict[str, Any]:
    alloc = {"cpu": "4", "memory": "32Gi", "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": f"node-{i}", "labels": {"kubernetes.io/hostname": f"node-{i}"}},
        "status": {
            "capacity": alloc,
            "allocatable": alloc,
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
        },
    }


def pod_body(i: int) -> dict[str, Any]:
    resources = {"cpu": "100m", "memory": "500Mi"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"pod-{i}", "namespace": NAMESPACE},
        "spec": {
            "containers": [
                {
                    "name": "pause",
                    "image": "registry.k8s.io/pause:3.10",
                    "ports": [{"containerPort": 80}],
                    "resources": {"requests": resources, "limits": resources},
                }
            ]
        },
    }


async def run_pool(n: int, concurrency: int, op: Any) -> None:
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            await op(i)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def watch_binds(
    api: ApiClient, want: int, rv: str, done: asyncio.Event, seen: dict[str, float]
) -> None:
    """Record the first time each pod of the namespace is seen with a node (until ``want`` are)."""
    while len(seen) < want:
        async with api.pods.watch(namespace=NAMESPACE, resource_version=rv) as stream:
            async for ev in stream:
                obj = ev.object
                md = obj.get("metadata") or {}
                rv = str(md.get("resourceVersion") or rv)
                if ev.type in ("ADDED", "MODIFIED") and (obj.get("spec") or {}).get("nodeName"):
                    seen.setdefault(md.get("name", ""), time.perf_counter())
                    if len(seen) >= want:
                        break
    done.set()


async def one_size(
    nodes: int, pods: int, *, in_process: bool, timeout_s: float, events: bool = True
) -> dict[str, Any]:
    kyb = SchedKyb(f"sched-{nodes}x{pods}", embedded_scheduler=not in_process).start()
    try:
        async with ApiClient.from_kubeconfig(str(kyb.data_dir / "kubeconfig")) as api:
            stop = asyncio.Event()
            tasks: list[asyncio.Task[None]] = []
            try:
                return await measure(api, kyb, nodes, pods, in_process, timeout_s, events, stop, tasks)
            finally:  # stop the scheduler before its client closes
                stop.set()
                for task in tasks:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(task, 30)
    finally:
        kyb.cleanup()


async def measure(
    api: ApiClient,
    kyb: Kyb,
    nodes: int,
    pods: int,
    in_process: bool,
    timeout_s: float,
    events: bool,
    stop: asyncio.Event,
    tasks: list[asyncio.Task[None]],
) -> dict[str, Any]:
    sched_holder: list[Scheduler] = []
    with contextlib.suppress(Exception):
        await api.namespaces.create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
        )
    t = time.perf_counter()
    await run_pool(nodes, 32, lambda i: api.nodes.create(node_body(i)))
    node_create_s = time.perf_counter() - t
    if in_process:
        tasks.append(
            asyncio.create_task(
                run_scheduler(
                    api,
                    leader_elect=False,
                    stop=stop,
                    on_scheduler=sched_holder.append,
                    record_scheduled_events=events,
                )
            )
        )
        deadline = time.monotonic() + 120
        while not (sched_holder and sched_holder[0].cache.node_count >= nodes):
            if time.monotonic() > deadline:
                raise RuntimeError("scheduler did not sync its node cache")
            await asyncio.sleep(0.05)
    listing = await api.pods.list(namespace=NAMESPACE, limit=1)
    rv = str(listing["metadata"].get("resourceVersion") or "0")
    seen: dict[str, float] = {}
    done = asyncio.Event()
    watcher = asyncio.create_task(watch_binds(api, pods, rv, done, seen))
    cpu_server0, cpu_self0 = cpu_seconds(kyb.pid), cpu_seconds(os.getpid())
    t0 = time.perf_counter()
    await run_pool(pods, 32, lambda i: api.pods.create(pod_body(i)))
    create_s = time.perf_counter() - t0
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), timeout_s)
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await watcher
    last = max(seen.values(), default=t0)
    elapsed = last - t0
    result: dict[str, Any] = {
        "nodes": nodes,
        "pods": pods,
        "bound": len(seen),
        "seconds": round(elapsed, 3),
        "pods_per_s": round(len(seen) / elapsed, 1) if elapsed > 0 else 0.0,
        "create_s": round(create_s, 3),
        "node_create_s": round(node_create_s, 3),
        "server_cpu_s": round(cpu_seconds(kyb.pid) - cpu_server0, 2),
        "bench_process_cpu_s": round(cpu_seconds(os.getpid()) - cpu_self0, 2),
        "upstream_floor_pods_per_s": UPSTREAM_FLOOR.get((nodes, pods)),
    }
    if sched_holder:
        result["scheduled_by_scheduler"] = sched_holder[0].scheduled
    return result


def parse_sizes(text: str) -> list[tuple[int, int]]:
    out = []
    for part in text.split(","):
        n, _, m = part.partition("x")
        out.append((int(n), int(m)))
    return out


async def amain(args: argparse.Namespace) -> list[dict[str, Any]]:
    sizes = parse_sizes(args.sizes) if args.sizes else (QUICK_SIZES if args.quick else DEFAULT_SIZES)
    results = []
    for nodes, pods in sizes:
        res = await one_size(
            nodes, pods, in_process=args.in_process_scheduler, timeout_s=args.timeout, events=args.events
        )
        res["scheduled_events"] = args.events
        print(json.dumps(res), flush=True)
        results.append(res)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes only (100x200, 500x1000)")
    parser.add_argument("--sizes", help="comma-separated NODESxPODS, e.g. 500x1000,5000x10000")
    parser.add_argument(
        "--in-process-scheduler",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the scheduler in this process (default); off when kyb server runs its own",
    )
    parser.add_argument(
        "--events",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="record a Scheduled event per pod, as kube-scheduler does (default on)",
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="max seconds to wait for binds per size")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    results = asyncio.run(amain(args))
    print("\nnodes  pods    pods/s  (upstream CI floor)")
    for r in results:
        floor = r["upstream_floor_pods_per_s"]
        print(
            f"{r['nodes']:>5} {r['pods']:>5} {r['pods_per_s']:>9}  {floor or '-'}  bound {r['bound']}/{r['pods']}"
        )
    if args.json:
        with open(args.json, "wb") as f:
            f.write(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
