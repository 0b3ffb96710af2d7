"""The scheduler against a real API server over HTTP: binding, failure reporting, requeue on node add,
taints, affinity, spreading and preemption."""

from __future__ import annotations

from kybernetes.client import ApiClient
from tests.scheduler.conftest import Running, events_for, eventually, node, node_of, pod, scheduled_condition


async def test_pods_get_bound_with_event(api: ApiClient, scheduler: Running) -> None:
    await api.nodes.create(node("n1"))
    await api.nodes.create(node("n2"))
    for i in range(5):
        await api.pods.create(pod(f"p{i}", cpu="100m"))
    for i in range(5):
        await eventually(lambda i=i: node_of(api, f"p{i}"), what=f"p{i} bound")
    cond = await scheduled_condition(api, "p0")
    assert cond.get("status") == "True"
    events = await eventually(lambda: events_for(api, "p0", "Scheduled"), what="Scheduled event")
    assert events[0]["message"] == f"Successfully assigned default/p0 to {await node_of(api, 'p0')}"
    assert events[0]["type"] == "Normal"


CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


async def test_unschedulable_pod_reports_then_schedules_on_new_node(
    api: ApiClient, scheduler: Running
) -> None:
    await api.nodes.create(node("small-1", cpu="1"))
    await api.nodes.create(node("small-2", cpu="1"))
    await api.nodes.create(node("cp", cpu="8", taints=[CONTROL_PLANE_TAINT]))
    await api.pods.create(pod("big", cpu="2"))
    expected = (
        "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
        "2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
        "2 No preemption victims found for incoming pod."
    )

    async def reported() -> dict[str, object]:
        cond = await scheduled_condition(api, "big")
        return cond if cond.get("status") == "False" else {}

    cond = await eventually(reported, what="PodScheduled=False")
    assert cond["reason"] == "Unschedulable"
    assert cond["message"] == expected
    events = await eventually(lambda: events_for(api, "big", "FailedScheduling"), what="FailedScheduling")
    assert events[0]["type"] == "Warning"
    assert events[0]["message"] == expected
    assert await node_of(api, "big") == ""

    await api.nodes.create(node("large", cpu="4"))
    assert await eventually(lambda: node_of(api, "big"), timeout=5) == "large"
    assert (await scheduled_condition(api, "big"))["status"] == "True"


async def test_taints_and_tolerations(api: ApiClient, scheduler: Running) -> None:
    await api.nodes.create(
        node("tainted", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])
    )
    await api.pods.create(pod("plain"))
    tolerating = pod("tolerant", tolerations=[{"key": "dedicated", "operator": "Equal", "value": "gpu"}])
    await api.pods.create(tolerating)
    assert await eventually(lambda: node_of(api, "tolerant")) == "tainted"
    cond = await eventually(lambda: scheduled_condition(api, "plain"), what="plain reported")
    assert "1 node(s) had untolerated taint {dedicated: gpu}" in cond["message"]
    assert await node_of(api, "plain") == ""


async def test_node_selector_and_affinity(api: ApiClient, scheduler: Running) -> None:
    await api.nodes.create(node("a", labels={"zone": "a", "disk": "ssd"}))
    await api.nodes.create(node("b", labels={"zone": "b"}))
    await api.pods.create(pod("sel", nodeSelector={"disk": "ssd"}))
    required = {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]}]
        }
    }
    await api.pods.create(pod("req", affinity={"nodeAffinity": required}))
    preferred = {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {
                "weight": 50,
                "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]},
            }
        ]
    }
    await api.pods.create(pod("pref", affinity={"nodeAffinity": preferred}))
    assert await eventually(lambda: node_of(api, "sel")) == "a"
    assert await eventually(lambda: node_of(api, "req")) == "b"
    assert await eventually(lambda: node_of(api, "pref")) == "a"
    await api.pods.create(pod("none", nodeSelector={"disk": "nvme"}))
    cond = await eventually(lambda: scheduled_condition(api, "none"), what="none reported")
    assert cond["message"].startswith(
        "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."
    )


async def test_required_anti_affinity_spreads(api: ApiClient, scheduler: Running) -> None:
    for name in ("n1", "n2", "n3"):
        await api.nodes.create(node(name))
    anti = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}
            ]
        }
    }
    for i in range(4):
        await api.pods.create(pod(f"web-{i}", labels={"app": "web"}, affinity=anti))
    placed = [await eventually(lambda i=i: node_of(api, f"web-{i}"), what=f"web-{i}") for i in range(3)]
    assert sorted(placed) == ["n1", "n2", "n3"]
    cond = await eventually(lambda: scheduled_condition(api, "web-3"), what="web-3 reported")
    assert "3 node(s) didn't match pod anti-affinity rules" in cond["message"]


async def test_pod_affinity_follows(api: ApiClient, scheduler: Running) -> None:
    for name in ("n1", "n2", "n3"):
        await api.nodes.create(node(name))
    await api.pods.create(pod("db", labels={"app": "db"}))
    db_node = await eventually(lambda: node_of(api, "db"))
    aff = {
        "podAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname"}
            ]
        }
    }
    for i in range(3):
        await api.pods.create(pod(f"app-{i}", affinity=aff))
    for i in range(3):
        assert await eventually(lambda i=i: node_of(api, f"app-{i}")) == db_node


async def test_topology_spread(api: ApiClient, scheduler: Running) -> None:
    for name, zone in (("a1", "a"), ("a2", "a"), ("b1", "b")):
        await api.nodes.create(node(name, labels={"topology.kubernetes.io/zone": zone}))
    spread = [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "s"}},
        }
    ]
    zones = {"a1": "a", "a2": "a", "b1": "b"}
    for i in range(6):
        await api.pods.create(pod(f"s-{i}", labels={"app": "s"}, topologySpreadConstraints=spread))
        await eventually(lambda i=i: node_of(api, f"s-{i}"), what=f"s-{i}")
    counts = {"a": 0, "b": 0}
    for i in range(6):
        counts[zones[await node_of(api, f"s-{i}")]] += 1
    assert counts == {"a": 3, "b": 3}


async def test_high_priority_pod_preempts(api: ApiClient, scheduler: Running) -> None:
    await api.nodes.create(node("only", cpu="2"))
    await api.priorityclasses.create(
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": "high"},
            "value": 1000,
        }
    )
    await api.pods.create(pod("low", cpu="1500m", terminationGracePeriodSeconds=0))
    assert await eventually(lambda: node_of(api, "low")) == "only"
    await api.pods.create(pod("high", cpu="1500m", priorityClassName="high"))

    async def nominated() -> str:
        return str(
            ((await api.pods.get("high", namespace="default")).get("status") or {}).get("nominatedNodeName")
            or ""
        )

    assert await eventually(lambda: node_of(api, "high"), timeout=10) == "only"
    assert (await api.pods.list(namespace="default", field_selector="metadata.name=low"))["items"] == []
    events = await eventually(lambda: events_for(api, "low", "Preempted"), what="Preempted event")
    assert events[0]["message"].startswith("Preempted by pod ")
    assert events[0]["message"].endswith(" on node only")
    assert await nominated() in ("only", "")
