"""Framework runtime: percentageOfNodesToScore, rotation, FitError messages, scoring and selection."""

from __future__ import annotations

import random

import pytest

from kybernetes.scheduler.cache import Cache
from kybernetes.scheduler.framework import (
    CycleState,
    Diagnosis,
    FitError,
    Framework,
    PodInfo,
    num_feasible_nodes_to_find,
)
from kybernetes.scheduler.framework.runtime import fit_error_message
from kybernetes.scheduler.framework.types import unresolvable, unschedulable
from kybernetes.scheduler.plugins import DEFAULT_WEIGHTS, default_plugins
from tests.scheduler.conftest import node, pod


@pytest.mark.parametrize(
    ("nodes", "want"), [(10, 10), (99, 99), (100, 100), (500, 230), (1000, 420), (5000, 500), (20000, 1000)]
)
def test_num_feasible_nodes_to_find(nodes: int, want: int) -> None:
    assert num_feasible_nodes_to_find(nodes) == want


def test_fit_error_message_sorted_histogram() -> None:
    taint = unresolvable("node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }")
    cpu = unschedulable("Insufficient cpu")
    d = Diagnosis(node_statuses={"a": cpu, "b": cpu, "c": taint})
    d.post_filter_msg = "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    assert fit_error_message(3, d) == (
        "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
        "2 Insufficient cpu. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    )
    assert fit_error_message(0, Diagnosis()) == "no nodes available to schedule pods"


def big_cluster(n: int) -> tuple[Cache, Framework]:
    cache = Cache()
    for i in range(n):
        cache.add_or_update_node(node(f"n{i}"))
    return cache, Framework(default_plugins(), DEFAULT_WEIGHTS, cache, rng=random.Random(0))


def test_filtering_stops_early_and_rotates() -> None:
    _, fw = big_cluster(1000)
    r1 = fw.schedule_pod(CycleState(), PodInfo(pod("p", cpu="100m")))
    assert (r1.evaluated, r1.feasible) == (420, 420)
    assert fw.next_start_index == 420
    fw.schedule_pod(CycleState(), PodInfo(pod("q", cpu="100m")))
    assert fw.next_start_index == 840


def test_scores_pick_least_allocated() -> None:
    cache, fw = big_cluster(3)
    busy = pod("busy", cpu="3")
    busy["spec"]["nodeName"] = "n0"
    cache.add_or_update_pod(PodInfo(busy))
    picks = {fw.schedule_pod(CycleState(), PodInfo(pod(f"p{i}", cpu="1"))).node for i in range(10)}
    assert picks <= {"n1", "n2"} and picks


def test_no_nodes_and_all_rejected() -> None:
    _, fw = big_cluster(0)
    with pytest.raises(FitError) as err:
        fw.schedule_pod(CycleState(), PodInfo(pod("p")))
    assert str(err.value) == "no nodes available to schedule pods"
    _, fw = big_cluster(2)
    with pytest.raises(FitError) as err:
        fw.schedule_pod(CycleState(), PodInfo(pod("p", cpu="5")))
    assert str(err.value) == "0/2 nodes are available: 2 Insufficient cpu."
    assert err.value.diagnosis.unschedulable_plugins == {"NodeResourcesFit"}
