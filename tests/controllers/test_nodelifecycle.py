"""NodeLifecycleController against a real API server with simulated nodes: heartbeat loss -> Unknown,
taints, taint-based eviction, recovery; and the pure helpers."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from kybernetes.client import ApiClient
from kybernetes.controllers.base import ControllerOptions
from kybernetes.controllers.nodelifecycle import (
    TAINT_NOT_READY,
    TAINT_UNREACHABLE,
    NodeLifecycleController,
    compute_zone_state,
    desired_condition_taints,
    min_toleration_seconds,
    tolerates,
)
from kybernetes.kubelet import SimulatedNodes
from tests.controllers._node_fixtures import api, eventually, pod, running, server

__all__ = ["api", "server"]

FAST = ControllerOptions(node_monitor_period=0.2, node_monitor_grace_period=1.5)


@contextlib.asynccontextmanager
async def cluster(api: ApiClient, names: list[str]) -> AsyncIterator[SimulatedNodes]:
    sim = SimulatedNodes(api, names, heartbeat=0.3)
    stop = asyncio.Event()
    task = asyncio.create_task(sim.run(stop))
    await asyncio.wait_for(sim.registered.wait(), 20)
    try:
        async with running(api, [NodeLifecycleController], FAST):
            yield sim
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


def _taints(node: dict[str, Any]) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in node["spec"].get("taints") or []}


def _cond(obj: dict[str, Any], ctype: str) -> dict[str, Any]:
    return next((c for c in obj["status"].get("conditions") or [] if c["type"] == ctype), {})


async def test_dead_node_goes_unknown_tainted_and_pods_evicted(api: ApiClient) -> None:
    async with cluster(api, ["n1", "n2"]) as sim:
        short = [
            {"key": TAINT_UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 1}
        ]
        forever = [{"key": TAINT_UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}]
        await api.pods.create(pod("short", node="n1", tolerations=short))
        await api.pods.create(pod("forever", node="n1", tolerations=forever))
        await api.pods.create(pod("default", node="n1"))  # gets the server's 300 s tolerations

        async def all_running() -> bool:
            items = (await api.pods.list(namespace="default"))["items"]
            return len(items) == 3 and all(p["status"].get("phase") == "Running" for p in items)

        await eventually(all_running, what="pods running")
        node = await api.nodes.get("n1")
        assert not _taints(node)

        sim.stop_heartbeats("n1")
        stopped = time.monotonic()

        async def unknown() -> dict[str, Any] | None:
            n = await api.nodes.get("n1")
            return n if _cond(n, "Ready").get("status") == "Unknown" else None

        node = await eventually(unknown, timeout=10, what="Ready=Unknown")
        took = time.monotonic() - stopped
        assert took < 1.5 + 2.0, took
        ready = _cond(node, "Ready")
        assert ready["reason"] == "NodeStatusUnknown"
        assert ready["message"] == "Kubelet stopped posting node status."
        assert _cond(node, "MemoryPressure")["status"] == "Unknown"

        async def tainted() -> dict[str, Any] | None:
            n = await api.nodes.get("n1")
            return (
                n
                if {(TAINT_UNREACHABLE, "NoSchedule"), (TAINT_UNREACHABLE, "NoExecute")} <= _taints(n)
                else None
            )

        node = await eventually(tainted, timeout=5, what="unreachable taints")
        noexec = next(t for t in node["spec"]["taints"] if t["effect"] == "NoExecute")
        assert noexec.get("timeAdded")
        # the healthy node is untouched
        assert not _taints(await api.nodes.get("n2"))

        async def short_evicted() -> bool:
            p = await api.pods.get("short", namespace="default")
            return bool(p["metadata"].get("deletionTimestamp"))

        await eventually(short_evicted, timeout=6, what="pod with tolerationSeconds=1 evicted")
        short_pod = await api.pods.get("short", namespace="default")
        assert _cond(short_pod, "DisruptionTarget").get("reason") == "DeletionByTaintManager"
        for name in ("forever", "default"):
            p = await api.pods.get(name, namespace="default")
            assert not p["metadata"].get("deletionTimestamp"), name
            assert _cond(p, "Ready")["status"] == "False", name  # marked not ready

        async def eviction_event() -> bool:
            events = (await api.events.list(namespace="default"))["items"]
            return any(e["reason"] == "TaintManagerEviction" for e in events)

        await eventually(eviction_event, timeout=5, what="TaintManagerEviction event")

        # the node comes back: conditions True again, taints removed
        sim.resume_heartbeats("n1")

        async def healed() -> bool:
            n = await api.nodes.get("n1")
            return _cond(n, "Ready").get("status") == "True" and not _taints(n)

        await eventually(healed, timeout=10, what="node healthy and untainted")


async def test_not_ready_node_gets_not_ready_taints_and_untolerated_pod_goes_at_once(api: ApiClient) -> None:
    async with cluster(api, ["n1", "n2"]) as sim:
        await sim.set_condition("n1", "Ready", "False", "KubeletNotReady", "container runtime is down")

        async def not_ready_tainted() -> bool:
            n = await api.nodes.get("n1")
            return {(TAINT_NOT_READY, "NoSchedule"), (TAINT_NOT_READY, "NoExecute")} <= _taints(n)

        await eventually(not_ready_tainted, timeout=5, what="not-ready taints")

        # a custom NoExecute taint nobody tolerates: pods go at once
        node = await api.nodes.get("n2")
        taints = [*(node["spec"].get("taints") or []), {"key": "example.com/drain", "effect": "NoExecute"}]
        await api.pods.create(pod("victim", node="n2"))
        await api.nodes.patch("n2", {"spec": {"taints": taints}})

        async def victim_gone() -> bool:
            items = (await api.pods.list(namespace="default"))["items"]
            return all(
                p["metadata"]["name"] != "victim" or p["metadata"].get("deletionTimestamp") for p in items
            )

        await eventually(victim_gone, timeout=5, what="untolerated pod evicted")


async def test_master_disruption_adds_no_noexecute(api: ApiClient) -> None:
    async with cluster(api, ["solo"]) as sim:
        sim.stop_heartbeats("solo")

        async def unknown() -> dict[str, Any] | None:
            n = await api.nodes.get("solo")
            return n if _cond(n, "Ready").get("status") == "Unknown" else None

        await eventually(unknown, timeout=10, what="Ready=Unknown")
        await asyncio.sleep(0.6)
        taints = _taints(await api.nodes.get("solo"))
        assert (TAINT_UNREACHABLE, "NoSchedule") in taints
        assert (TAINT_UNREACHABLE, "NoExecute") not in taints


# --- pure helpers -------------------------------------------------------------------------------------
def test_tolerates() -> None:
    taint = {"key": "k", "value": "v", "effect": "NoExecute"}
    assert tolerates({"key": "k", "operator": "Equal", "value": "v"}, taint)
    assert tolerates({"key": "k", "value": "v", "effect": "NoExecute"}, taint)
    assert not tolerates({"key": "k", "value": "w"}, taint)
    assert not tolerates({"key": "k", "operator": "Exists", "effect": "NoSchedule"}, taint)
    assert tolerates({"operator": "Exists"}, taint)


def test_min_toleration_seconds() -> None:
    t1 = {"key": "a", "effect": "NoExecute"}
    t2 = {"key": "b", "effect": "NoExecute"}
    tols = [
        {"key": "a", "operator": "Exists", "tolerationSeconds": 30},
        {"key": "b", "operator": "Exists", "tolerationSeconds": 10},
    ]
    assert min_toleration_seconds(tols, [t1, t2]) == (True, 10.0)
    assert min_toleration_seconds(tols[:1], [t1, t2]) == (False, 0.0)
    assert min_toleration_seconds([{"key": "a", "operator": "Exists"}], [t1]) == (True, None)
    assert min_toleration_seconds([{"operator": "Exists", "tolerationSeconds": 0}], [t1]) == (True, 0.0)


def test_condition_taints_and_zone_state() -> None:
    node = {
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [{"type": "Ready", "status": "Unknown"}, {"type": "DiskPressure", "status": "True"}]
        },
    }
    noschedule, noexecute = desired_condition_taints(node)
    assert noschedule == {
        TAINT_UNREACHABLE,
        "node.kubernetes.io/disk-pressure",
        "node.kubernetes.io/unschedulable",
    }
    assert noexecute == {TAINT_UNREACHABLE}
    assert compute_zone_state(["True", "Unknown"]) == "Normal"
    assert compute_zone_state(["Unknown", "False"]) == "FullDisruption"
    assert compute_zone_state(["True", "False", "False", "Unknown"]) == "PartialDisruption"
    assert compute_zone_state(["True", "True", "False", "False", "Unknown", "True", "True"]) == "Normal"
