"""Scheduler cache: incremental node list, assumed pods, placeholders, indexes."""

from __future__ import annotations

from kybernetes.scheduler.cache import Cache
from kybernetes.scheduler.framework import PodInfo
from tests.scheduler.conftest import node, pod


def assigned(name: str, node_name: str, **kw: object) -> PodInfo:
    p = pod(name, **kw)  # type: ignore[arg-type]
    p["spec"]["nodeName"] = node_name
    return PodInfo(p)


def test_nodes_add_update_remove_keep_list_dense() -> None:
    c = Cache()
    for n in ("a", "b", "c"):
        c.add_or_update_node(node(n, labels={"zone": n}))
    c.remove_node("a")
    assert sorted(n.name for n in c.node_infos()) == ["b", "c"]
    assert c.topology_values("zone") == {"b": 1, "c": 1}
    c.add_or_update_node(node("b", labels={"zone": "c"}))
    assert c.topology_values("zone") == {"c": 2}
    assert c.node_count == 2


def test_assume_then_confirm_or_forget() -> None:
    c = Cache()
    c.add_or_update_node(node("n", cpu="2"))
    pi = PodInfo(pod("p", cpu="1"))
    c.assume(pi, "n")
    ni = c.get("n")
    assert ni is not None and ni.requested.milli_cpu == 1000 and c.is_assumed(pi.key)
    c.forget(pi.key)
    assert ni.requested.milli_cpu == 0 and not c.has_pod(pi.key)
    c.assume(pi, "n")
    c.add_or_update_pod(assigned("p", "n", cpu="1"))  # the informer confirms
    assert not c.is_assumed(pi.key) and ni.requested.milli_cpu == 1000
    c.forget(pi.key)  # no effect once confirmed
    assert ni.requested.milli_cpu == 1000


def test_pod_before_node_and_node_removed_with_pods() -> None:
    c = Cache()
    c.add_or_update_pod(assigned("early", "late-node"))
    assert c.node_count == 0 and c.get("late-node") is not None
    c.add_or_update_node(node("late-node"))
    ni = c.get("late-node")
    assert c.node_count == 1 and ni is not None and len(ni.pods) == 1
    c.remove_node("late-node")
    assert c.node_count == 0 and c.get("late-node") is not None  # placeholder while pods remain
    c.remove_pod("default/early")
    assert c.get("late-node") is None


def test_affinity_indexes() -> None:
    c = Cache()
    c.add_or_update_node(node("n"))
    anti = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"a": "b"}}, "topologyKey": "kubernetes.io/hostname"}
            ]
        }
    }
    c.add_or_update_pod(assigned("x", "n", affinity=anti))
    assert [n.name for n in c.nodes_with_required_anti_affinity()] == ["n"]
    assert list(c.pods_in_namespace("default")) == ["default/x"]
    c.remove_pod("default/x")
    assert not c.nodes_with_required_anti_affinity() and not c.pods_in_namespace("default")
