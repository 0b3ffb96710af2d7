"""DaemonSet controller against a real API server: Nodes created through the API, a fake kubelet that
also binds daemon pods to the node their affinity names (standing in for the scheduler)."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.client import ApiClient
from kybernetes.controllers.daemonset import DaemonSetController, node_should_run
from tests.controllers._batch_fixtures import (
    FakeKubelet,
    Server,
    api,
    eventually,
    kubectl,
    make_namespace,
    pod_template,
    running,
    server,
)

__all__ = ["api", "server"]

pytestmark = pytest.mark.timeout(60)


def node(
    name: str, labels: dict[str, str] | None = None, taints: list[dict] | None = None, **spec: Any
) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": {"taints": taints or [], **spec},
    }


def daemonset(name: str, ns: str, **spec: Any) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": pod_template({"app": name}, image="agent:1"),
            **spec,
        },
    }


async def _pods_by_node(api: ApiClient, ns: str) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for pod in (await api.pods.list(namespace=ns))["items"]:
        if pod["metadata"].get("deletionTimestamp"):
            continue
        node_name = pod["spec"].get("nodeName") or "?"
        out.setdefault(node_name, []).append(pod)
    return out


def test_eligibility_rules() -> None:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "x"}]}
    gpu = {"key": "gpu", "value": "yes", "effect": "NoSchedule"}
    evict = {"key": "evict", "effect": "NoExecute"}
    assert node_should_run(spec, node("a")) == (True, True)
    assert node_should_run(spec, node("a", taints=[gpu])) == (False, True)
    assert node_should_run(spec, node("a", taints=[evict])) == (False, False)
    # standard daemon tolerations
    unsched = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
    not_ready = {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}
    assert node_should_run(spec, node("a", taints=[unsched, not_ready])) == (True, True)
    net = {"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}
    assert node_should_run(spec, node("a", taints=[net]))[0] is False
    assert node_should_run({**spec, "hostNetwork": True}, node("a", taints=[net]))[0] is True
    tolerant = {**spec, "tolerations": [{"key": "gpu", "operator": "Equal", "value": "yes"}]}
    assert node_should_run(tolerant, node("a", taints=[gpu])) == (True, True)
    selective = {**spec, "nodeSelector": {"disk": "ssd"}}
    assert node_should_run(selective, node("a"))[0] is False
    assert node_should_run(selective, node("a", {"disk": "ssd"}))[0] is True
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1", "z2"]}]},
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["special"]}]},
                ]
            }
        }
    }
    with_affinity = {**spec, "affinity": affinity}
    assert node_should_run(with_affinity, node("a", {"zone": "z2"}))[0] is True
    assert node_should_run(with_affinity, node("a", {"zone": "z3"}))[0] is False
    assert node_should_run(with_affinity, node("special"))[0] is True


async def test_one_pod_per_eligible_node_and_rolling_update(server: Server, api: ApiClient) -> None:
    ns = await make_namespace(api, "ds")
    await api.nodes.create(node("n1"))
    await api.nodes.create(node("n2", unschedulable=True))
    await api.nodes.create(node("n3", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]))
    async with running(api, [DaemonSetController]), FakeKubelet(api, ns, bind=True):
        await api.daemonsets.create(daemonset("agent", ns))

        async def status_where(pred: Any) -> dict | None:
            ds = await api.daemonsets.get("agent", namespace=ns)
            st = ds.get("status") or {}
            return ds if st.get("observedGeneration") == ds["metadata"]["generation"] and pred(st) else None

        ds = await eventually(
            lambda: status_where(
                lambda s: s.get("numberReady") == 2 and s.get("desiredNumberScheduled") == 2
            ),
            what="2 ready",
        )
        placed = await _pods_by_node(api, ns)
        assert sorted(placed) == ["n1", "n2"] and all(len(p) == 1 for p in placed.values())
        pod = placed["n1"][0]
        terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert terms["nodeSelectorTerms"] == [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}
        ]
        tolerated = {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]}
        assert ("node.kubernetes.io/unschedulable", "NoSchedule") in tolerated
        assert ("node.kubernetes.io/not-ready", "NoExecute") in tolerated
        assert pod["metadata"]["labels"]["pod-template-generation"] == "1"
        revs = (await api.controllerrevisions.list(namespace=ns))["items"]
        assert len(revs) == 1
        assert (
            pod["metadata"]["labels"]["controller-revision-hash"]
            == revs[0]["metadata"]["labels"]["controller-revision-hash"]
        )
        st = ds["status"]
        assert st["currentNumberScheduled"] == 2 and st["updatedNumberScheduled"] == 2
        assert st["numberMisscheduled"] == 0 and st["numberAvailable"] == 2

        # tolerate the taint and change the image: a rolling update that also covers n3
        patch = {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [{"name": "main", "image": "agent:2"}],
                        "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
                    }
                }
            }
        }
        await api.daemonsets.patch("agent", patch, namespace=ns)
        code, out, err = await kubectl(
            server, "-n", ns, "rollout", "status", "ds/agent", "--timeout=20s", timeout=30
        )
        assert code == 0, (out, err)
        await eventually(
            lambda: status_where(
                lambda s: s.get("updatedNumberScheduled") == 3 and s.get("numberAvailable") == 3
            ),
            what="rolled out",
        )
        placed = await _pods_by_node(api, ns)
        assert sorted(placed) == ["n1", "n2", "n3"]
        assert all(p[0]["spec"]["containers"][0]["image"] == "agent:2" for p in placed.values())
        assert len((await api.controllerrevisions.list(namespace=ns))["items"]) == 2

        # a node that stops matching loses its pod; a new node gets one
        await api.nodes.patch("n1", {"spec": {"taints": [{"key": "evict", "effect": "NoExecute"}]}})
        await api.nodes.create(node("n4"))

        async def moved() -> bool:
            placed = await _pods_by_node(api, ns)
            return sorted(placed) == ["n2", "n3", "n4"]

        await eventually(moved, what="pods follow nodes")
