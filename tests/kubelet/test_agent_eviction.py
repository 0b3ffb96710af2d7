"""Node-pressure eviction: a met ``memory.available`` threshold sets MemoryPressure and evicts the
BestEffort pod before the one within its requests (Failed, reason Evicted, upstream's message)."""

from __future__ import annotations

from pathlib import Path

from kybernetes.client import ApiClient
from kybernetes.kubelet.eviction import Observation, parse_thresholds
from tests.controllers._node_fixtures import api, eventually, server
from tests.kubelet.test_agent_fixtures import NODE, pod_spec, running_kubelet, sh, wait_pod

__all__ = ["api", "server"]
MI = 1024 * 1024


def test_parse_thresholds() -> None:
    ths = {t.signal: t for t in parse_thresholds({"memory.available": "100Mi", "nodefs.available": "10%"})}
    assert ths["memory.available"].value(0) == 100 * MI
    assert ths["nodefs.available"].value(1000) == 100


async def test_memory_pressure_evicts_best_effort_first(api: ApiClient, tmp_path: Path) -> None:
    low = {"value": False}

    async def observe() -> dict[str, Observation]:
        if kubelet.eviction.evictions:  # the eviction freed the memory
            low["value"] = False
        available = 50 * MI if low["value"] else 900 * MI
        return {"memory.available": Observation(available, 1024 * MI)}

    async with running_kubelet(
        api,
        tmp_path,
        eviction_hard={"memory.available": "100Mi"},
        eviction_monitoring_interval=0.1,
        eviction_pressure_transition_period=2.0,
    ) as kubelet:
        kubelet.eviction.observe = observe
        guaranteed = sh("c", "exec sleep 300", resources={"limits": {"cpu": "10m", "memory": "64Mi"}})
        await api.pods.create(pod_spec("guaranteed", [guaranteed]))
        await api.pods.create(pod_spec("besteffort", [sh("c", "exec sleep 300")]))
        for name in ("guaranteed", "besteffort"):
            await wait_pod(api, name, lambda p: p["status"].get("phase") == "Running")
        low["value"] = True
        evicted = await wait_pod(
            api, "besteffort", lambda p: p["status"].get("phase") == "Failed", what="evicted"
        )
        low["value"] = False
        assert evicted["status"]["reason"] == "Evicted"
        assert evicted["status"]["message"].startswith(
            "The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi. "
        )

        async def pressure(value: str) -> bool:
            node = await api.nodes.get(NODE)
            conds = {c["type"]: c for c in node["status"]["conditions"]}
            return bool(conds["MemoryPressure"]["status"] == value)

        # the condition is reported, and cleared after the transition period
        await eventually(lambda: pressure("True"), timeout=2, what="MemoryPressure")
        await eventually(lambda: pressure("False"), timeout=10, what="MemoryPressure cleared")
        assert kubelet.eviction.evictions == 1
        guaranteed_pod = await api.pods.get("guaranteed", namespace="default")
        assert guaranteed_pod["status"]["phase"] == "Running"
