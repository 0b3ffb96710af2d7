"""DefaultPreemption: victim selection with reprieve, PDBs, node choice and upstream's messages."""

from __future__ import annotations

import random
from typing import Any

from kybernetes.scheduler.cache import Cache
from kybernetes.scheduler.framework import CycleState, FitError, Framework, PodInfo
from kybernetes.scheduler.framework.preemption import Candidate, pick_one_node, split_by_pdb_violation
from kybernetes.scheduler.plugins import DEFAULT_WEIGHTS, default_plugins
from tests.scheduler.conftest import node, pod


def setup(
    nodes: list[dict[str, Any]],
    pods: list[tuple[dict[str, Any], str]],
    pdbs: list[dict[str, Any]] | None = None,
) -> Framework:
    cache = Cache()
    for n in nodes:
        cache.add_or_update_node(n)
    for p, name in pods:
        p["spec"]["nodeName"] = name
        cache.add_or_update_pod(PodInfo(p))
    return Framework(default_plugins(pdbs=lambda: pdbs or []), DEFAULT_WEIGHTS, cache, rng=random.Random(0))


def preempt(fw: Framework, p: dict[str, Any]) -> tuple[Any, str]:
    state, pi = CycleState(), PodInfo(p)
    try:
        fw.schedule_pod(state, pi)
    except FitError as err:
        return fw.run_post_filter(state, pi, err.diagnosis.node_statuses)
    raise AssertionError("expected the pod not to fit")


def test_preempts_lowest_priority_minimal_set() -> None:
    fw = setup(
        [node("n1", cpu="2"), node("n2", cpu="2")],
        [
            (pod("a", cpu="1", priority=10), "n1"),
            (pod("b", cpu="1", priority=5), "n1"),
            (pod("c", cpu="1", priority=50), "n2"),
            (pod("d", cpu="1", priority=50), "n2"),
        ],
    )
    result, msg = preempt(fw, pod("hi", cpu="1", priority=100))
    assert msg == ""
    assert result.nominated_node == "n1"
    assert [v.name for v in result.victims] == ["b"]  # a is reprieved: evicting b is enough


def test_not_helpful_and_no_victims_messages() -> None:
    taint = {"key": "k", "effect": "NoSchedule"}
    fw = setup(
        [node("n1", cpu="1"), node("n2", cpu="1"), node("t", cpu="8", taints=[taint])],
        [(pod("a", cpu="1", priority=100), "n1")],
    )
    result, msg = preempt(fw, pod("p", cpu="2", priority=10))
    assert result.nominated_node == ""
    assert msg == (
        "preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
        "2 No preemption victims found for incoming pod."
    )


def test_preemption_policy_never() -> None:
    fw = setup([node("n1", cpu="1")], [(pod("a", cpu="1", priority=0), "n1")])
    result, msg = preempt(fw, pod("p", cpu="1", priority=10, preemptionPolicy="Never"))
    assert result is None
    assert msg == "preemption: not eligible due to preemptionPolicy=Never."


def pdb(name: str, labels: dict[str, str], allowed: int) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"selector": {"matchLabels": labels}},
        "status": {"disruptionsAllowed": allowed},
    }


def test_prefers_node_without_pdb_violation() -> None:
    fw = setup(
        [node("n1", cpu="1"), node("n2", cpu="1")],
        [
            (pod("guarded", cpu="1", priority=0, labels={"app": "g"}), "n1"),
            (pod("free", cpu="1", priority=5), "n2"),
        ],
        pdbs=[pdb("g", {"app": "g"}, 0)],
    )
    result, _ = preempt(fw, pod("hi", cpu="1", priority=100))
    assert result.nominated_node == "n2"


def test_split_by_pdb_violation_uses_budget_in_order() -> None:
    pods = [PodInfo(pod(f"p{i}", labels={"app": "x"})) for i in range(3)]
    violating, ok = split_by_pdb_violation(pods, [pdb("x", {"app": "x"}, 1)])
    assert [p.name for p in ok] == ["p0"]
    assert [p.name for p in violating] == ["p1", "p2"]


def test_pick_one_node_order() -> None:
    def v(name: str, prio: int, start: float = 0.0) -> PodInfo:
        pi = PodInfo(pod(name), prio)
        pi.start_time = start
        return pi

    cands = [
        Candidate("violates", [v("a", 1)], 1),
        Candidate("high", [v("b", 50)], 0),
        Candidate("two", [v("c", 1), v("d", 1)], 0),
        Candidate("one", [v("e", 1)], 0),
    ]
    assert pick_one_node(cands).node == "one"  # type: ignore[union-attr]
    newer = [Candidate("old", [v("a", 1, 100.0)], 0), Candidate("new", [v("b", 1, 200.0)], 0)]
    assert pick_one_node(newer).node == "new"  # type: ignore[union-attr]
    assert pick_one_node([]) is None
