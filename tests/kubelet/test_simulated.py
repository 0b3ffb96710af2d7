"""SimulatedNodes: registration, leases, pod stages (running, exit codes, deletion), dead nodes, scale."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from kybernetes.client import ApiClient
from kybernetes.kubelet import SimulatedNodes
from kybernetes.kubelet.simulated import ANNOTATION_DURATION, ANNOTATION_EXIT_CODE, parse_duration
from tests.controllers._node_fixtures import eventually, pod


@contextlib.asynccontextmanager
async def simulated(api: ApiClient, names: list[str], **kwargs: object) -> AsyncIterator[SimulatedNodes]:
    sim = SimulatedNodes(api, names, **kwargs)  # type: ignore[arg-type]
    stop = asyncio.Event()
    task = asyncio.create_task(sim.run(stop))
    try:
        await asyncio.wait_for(sim.registered.wait(), 30)
        yield sim
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


def test_parse_duration() -> None:
    assert parse_duration("5") == 5.0
    assert parse_duration("1.5s") == 1.5
    assert parse_duration("500ms") == 0.5
    assert parse_duration("2m") == 120.0
    assert parse_duration("") == 0.0
    assert parse_duration("nonsense") == 0.0


async def test_registers_nodes_and_leases(api: ApiClient) -> None:
    async with simulated(api, ["n1", "n2"], labels={"zone": "a"}, heartbeat=0.2):
        node = await api.nodes.get("n1")
        assert node["status"]["capacity"]["cpu"] == "4"
        assert node["status"]["allocatable"]["pods"] == "110"
        assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "n1"
        assert node["metadata"]["labels"]["zone"] == "a"
        conds = {c["type"]: c["status"] for c in node["status"]["conditions"]}
        assert conds == {
            "Ready": "True",
            "MemoryPressure": "False",
            "DiskPressure": "False",
            "PIDPressure": "False",
        }
        assert node["spec"]["podCIDR"] != (await api.nodes.get("n2"))["spec"]["podCIDR"]
        lease = await api.leases.get("n1", namespace="kube-node-lease")
        first = lease["spec"]["renewTime"]
        assert lease["metadata"]["ownerReferences"][0]["uid"] == node["metadata"]["uid"]

        async def renewed() -> bool:
            current = await api.leases.get("n1", namespace="kube-node-lease")
            return bool(current["spec"]["renewTime"] != first)

        await eventually(renewed, timeout=5, what="lease renewal")


async def test_pod_lifecycle_stages(api: ApiClient) -> None:
    async with simulated(api, ["n1"]):
        await api.pods.create(pod("web", node="n1"))

        async def running() -> dict | None:
            p = await api.pods.get("web", namespace="default")
            return p if p["status"].get("phase") == "Running" else None

        p = await eventually(running, what="pod running")
        st = p["status"]
        assert st["podIP"].startswith("10.128.")
        assert st["hostIP"].startswith("172.16.")
        assert st["containerStatuses"][0]["ready"] is True
        assert "running" in st["containerStatuses"][0]["state"]
        conds = {c["type"]: c["status"] for c in st["conditions"]}
        assert (
            conds["Ready"]
            == conds["ContainersReady"]
            == conds["Initialized"]
            == conds["PodScheduled"]
            == "True"
        )

        # exit codes through annotations
        ann_ok = {ANNOTATION_EXIT_CODE: "0", ANNOTATION_DURATION: "200ms"}
        await api.pods.create(pod("ok", node="n1", annotations=ann_ok))
        await api.pods.create(pod("bad", node="n1", annotations={ANNOTATION_EXIT_CODE: "3"}))

        async def phase(name: str) -> str:
            return str((await api.pods.get(name, namespace="default"))["status"].get("phase"))

        await eventually(lambda: _eq(phase("ok"), "Succeeded"), what="ok succeeded")
        await eventually(lambda: _eq(phase("bad"), "Failed"), what="bad failed")
        bad = await api.pods.get("bad", namespace="default")
        term = bad["status"]["containerStatuses"][0]["state"]["terminated"]
        assert term["exitCode"] == 3 and term["reason"] == "Error"

        # graceful deletion completes through the simulated node
        await api.pods.delete("web", namespace="default")

        async def gone() -> bool:
            items = (await api.pods.list(namespace="default"))["items"]
            return "web" not in {i["metadata"]["name"] for i in items}

        await eventually(gone, what="pod deleted")


async def _eq(value: object, expected: str) -> bool:
    return await value == expected  # type: ignore[misc]


async def test_dead_node_freezes_and_resumes(api: ApiClient) -> None:
    async with simulated(api, ["n1"], heartbeat=0.1) as sim:
        sim.stop_heartbeats("n1")
        await asyncio.sleep(0.3)
        before = (await api.leases.get("n1", namespace="kube-node-lease"))["spec"]["renewTime"]
        await api.pods.create(pod("frozen", node="n1"))
        await asyncio.sleep(0.5)
        assert (await api.pods.get("frozen", namespace="default"))["status"]["phase"] == "Pending"
        assert (await api.leases.get("n1", namespace="kube-node-lease"))["spec"]["renewTime"] == before
        # someone marks the node Unknown; after resume the node re-posts Ready=True and runs the pod
        await api.nodes.patch(
            "n1",
            {
                "status": {
                    "conditions": [{"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown"}]
                }
            },
            subresource="status",
        )
        sim.resume_heartbeats("n1")

        async def healthy() -> bool:
            node = await api.nodes.get("n1")
            conds = {c["type"]: c["status"] for c in node["status"]["conditions"]}
            running = (await api.pods.get("frozen", namespace="default"))["status"]["phase"] == "Running"
            return conds.get("Ready") == "True" and running

        await eventually(healthy, what="node healthy again and pod running")


async def test_set_condition_sticks(api: ApiClient) -> None:
    async with simulated(api, ["n1"]) as sim:
        await sim.set_condition("n1", "Ready", "False", "KubeletNotReady", "runtime down")
        await asyncio.sleep(0.3)
        node = await api.nodes.get("n1")
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "False" and ready["reason"] == "KubeletNotReady"


async def test_thousand_nodes_register_quickly(api: ApiClient) -> None:
    names = [f"sim-{i:04d}" for i in range(1000)]
    sim = SimulatedNodes(api, names, heartbeat=3600)
    started = time.monotonic()
    await sim.register()
    elapsed = time.monotonic() - started
    nodes, _ = await api.nodes.list_all()
    assert len(nodes) == 1000
    started = time.monotonic()
    await sim.renew_all()
    renew = time.monotonic() - started
    print(
        f"\nregistered 1000 simulated nodes (+1000 leases) in {elapsed:.2f}s; one renewal round {renew:.2f}s"
    )
    assert sim.stats["lease_failures"] == 0
    assert elapsed < 60
