"""NodeResourcesFit (filter + LeastAllocated) and BalancedAllocation against NodeInfo fixtures."""

from __future__ import annotations

from kybernetes.scheduler.framework import Code, CycleState, PodInfo
from kybernetes.scheduler.framework.nodeinfo import pod_requests
from kybernetes.scheduler.plugins import balancedallocation, noderesources
from tests.scheduler.conftest import node, node_info, pod

FIT = noderesources.new()


def test_fits_and_insufficient_reasons() -> None:
    ni = node_info(node("n", cpu="2", memory="4Gi"), pod("a", cpu="1500m", memory="1Gi"))
    assert FIT.filter(CycleState(), PodInfo(pod("p", cpu="500m")), ni) is None
    st = FIT.filter(CycleState(), PodInfo(pod("p", cpu="600m", memory="4Gi")), ni)
    assert st is not None and st.code is Code.UNSCHEDULABLE
    assert st.reasons == ("Insufficient cpu", "Insufficient memory")


def test_too_many_pods_and_extended_resources() -> None:
    ni = node_info(node("n", pods="1", extra={"example.com/gpu": "1"}), pod("a"))
    st = FIT.filter(CycleState(), PodInfo(pod("p")), ni)
    assert st is not None and st.reasons == ("Too many pods",)
    gpu = pod("g")
    gpu["spec"]["containers"][0]["resources"] = {"requests": {"example.com/gpu": "2"}}
    ni2 = node_info(node("n2", extra={"example.com/gpu": "1"}))
    st = FIT.filter(CycleState(), PodInfo(gpu), ni2)
    assert st is not None and st.reasons == ("Insufficient example.com/gpu",)


def test_requests_init_containers_max_and_overhead() -> None:
    spec = {
        "containers": [
            {"name": "a", "resources": {"requests": {"cpu": "100m", "memory": "100Mi"}}},
            {"name": "b", "resources": {"requests": {"cpu": "200m"}}},
        ],
        "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "1", "memory": "50Mi"}}}],
        "overhead": {"cpu": "10m"},
    }
    req, nz_cpu, nz_mem = pod_requests(spec)
    assert (req.milli_cpu, req.memory) == (1010, 100 * 2**20)
    assert nz_cpu == 1010  # max(300, 1000) + overhead
    assert nz_mem == 100 * 2**20 + 200 * 2**20  # b has no memory request: the non-zero default


def test_least_allocated_score() -> None:
    ni = node_info(node("n", cpu="4", memory="8Gi"), pod("a", cpu="1", memory="2Gi"))
    score = FIT.score(CycleState(), PodInfo(pod("p", cpu="1", memory="2Gi")), ni)
    assert score == 50
    empty = node_info(node("e", cpu="4", memory="8Gi"))
    assert FIT.score(CycleState(), PodInfo(pod("p", cpu="1", memory="2Gi")), empty) == 75


def test_balanced_allocation() -> None:
    plugin = balancedallocation.new()
    ni = node_info(node("n", cpu="4", memory="8Gi"))
    assert plugin.score(CycleState(), PodInfo(pod("p", cpu="2", memory="4Gi")), ni) == 100
    assert plugin.score(CycleState(), PodInfo(pod("p", cpu="2", memory="0")), ni) == 75
    st = plugin.pre_score(CycleState(), PodInfo(pod("p")), [ni])
    assert st is not None and st.is_skip
