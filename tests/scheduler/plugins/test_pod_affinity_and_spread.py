"""PodTopologySpread and InterPodAffinity through a Framework over a Cache (their PreFilter counts pods)."""

from __future__ import annotations

import random
from typing import Any

from kybernetes.scheduler.cache import Cache
from kybernetes.scheduler.framework import CycleState, FitError, Framework, PodInfo
from kybernetes.scheduler.plugins import DEFAULT_WEIGHTS, default_plugins
from tests.scheduler.conftest import node, pod

ZONE = "topology.kubernetes.io/zone"


def cluster(nodes: list[dict[str, Any]], pods: list[tuple[dict[str, Any], str]]) -> tuple[Cache, Framework]:
    cache = Cache()
    for n in nodes:
        cache.add_or_update_node(n)
    for p, node_name in pods:
        p["spec"]["nodeName"] = node_name
        cache.add_or_update_pod(PodInfo(p))
    return cache, Framework(default_plugins(), DEFAULT_WEIGHTS, cache, rng=random.Random(1))


def feasible(fw: Framework, p: dict[str, Any]) -> set[str]:
    state, pi = CycleState(), PodInfo(p)
    st, _ = fw.run_pre_filter(state, pi)
    assert st is None
    return {n.name for n in fw.snapshot.node_infos() if fw.run_filters(state, pi, n) is None}


SPREAD = [
    {
        "maxSkew": 1,
        "topologyKey": ZONE,
        "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {"app": "s"}},
    }
]


def test_spread_filter_keeps_skew() -> None:
    nodes = [node("a1", labels={ZONE: "a"}), node("a2", labels={ZONE: "a"}), node("b1", labels={ZONE: "b"})]
    _, fw = cluster(nodes, [(pod("x", labels={"app": "s"}), "a1")])
    assert feasible(fw, pod("p", labels={"app": "s"}, topologySpreadConstraints=SPREAD)) == {"b1"}
    other = pod("o", labels={"app": "other"}, topologySpreadConstraints=SPREAD)
    assert feasible(fw, other) == {"a1", "a2", "b1"}  # does not match its own selector: skew 1 allowed


def test_spread_missing_label_and_min_domains() -> None:
    nodes = [node("a1", labels={ZONE: "a"}), node("nolabel")]
    _, fw = cluster(nodes, [(pod("x", labels={"app": "s"}), "a1")])
    with_min = [dict(SPREAD[0], minDomains=2)]
    try:
        fw.schedule_pod(
            CycleState(), PodInfo(pod("p", labels={"app": "s"}, topologySpreadConstraints=with_min))
        )
    except FitError as err:
        assert str(err) == (
            "0/2 nodes are available: 1 node(s) didn't match pod topology spread constraints, "
            "1 node(s) didn't match pod topology spread constraints (missing required label)."
        )
    else:
        raise AssertionError("expected a FitError")


def test_spread_score_prefers_emptier_domain() -> None:
    soft = [dict(SPREAD[0], whenUnsatisfiable="ScheduleAnyway")]
    nodes = [node("a1", labels={ZONE: "a"}), node("b1", labels={ZONE: "b"})]
    _, fw = cluster(nodes, [(pod("x", labels={"app": "s"}), "a1"), (pod("y", labels={"app": "s"}), "a1")])
    result = fw.schedule_pod(
        CycleState(), PodInfo(pod("p", labels={"app": "s"}, topologySpreadConstraints=soft))
    )
    assert result.node == "b1"


ANTI = {
    "podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}
        ]
    }
}
AFFINITY = {
    "podAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": ZONE}
        ]
    }
}


def test_anti_affinity_and_existing_anti_affinity() -> None:
    nodes = [node("n1", labels={ZONE: "a"}), node("n2", labels={ZONE: "b"})]
    _, fw = cluster(nodes, [(pod("w", labels={"app": "web"}, affinity=ANTI), "n1")])
    assert feasible(fw, pod("p", labels={"app": "web"}, affinity=ANTI)) == {"n2"}
    # no anti-affinity of its own, but the existing pod's anti-affinity rejects it on n1
    assert feasible(fw, pod("q", labels={"app": "web"})) == {"n2"}
    assert feasible(fw, pod("r", labels={"app": "api"})) == {"n1", "n2"}


def test_affinity_requires_matching_pod_in_topology() -> None:
    nodes = [node("n1", labels={ZONE: "a"}), node("n2", labels={ZONE: "b"}), node("n3", labels={ZONE: "a"})]
    _, fw = cluster(nodes, [(pod("db", labels={"app": "db"}), "n1")])
    assert feasible(fw, pod("p", affinity=AFFINITY)) == {"n1", "n3"}
    _, empty = cluster(nodes, [])
    assert feasible(empty, pod("p", affinity=AFFINITY)) == set()
    # the first pod of a self-affine group may go anywhere
    assert feasible(empty, pod("p", labels={"app": "db"}, affinity=AFFINITY)) == {"n1", "n2", "n3"}


def test_preferred_anti_affinity_score() -> None:
    pref = {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "labelSelector": {"matchLabels": {"app": "web"}},
                        "topologyKey": "kubernetes.io/hostname",
                    },
                }
            ]
        }
    }
    _, fw = cluster([node("n1"), node("n2")], [(pod("w", labels={"app": "web"}), "n1")])
    assert fw.schedule_pod(CycleState(), PodInfo(pod("p", labels={"app": "web"}, affinity=pref))).node == "n2"
