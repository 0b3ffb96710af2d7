"""NodeName, NodeUnschedulable, TaintToleration, NodeAffinity and NodePorts against NodeInfo fixtures."""

from __future__ import annotations

from kybernetes.scheduler.framework import Code, CycleState, PodInfo
from kybernetes.scheduler.plugins import nodeaffinity, nodename, nodeports, nodeunschedulable, tainttoleration
from tests.scheduler.conftest import node, node_info, pod

S = CycleState()


def test_node_name() -> None:
    p = pod("p")
    p["spec"]["nodeName"] = "a"
    st = nodename.new().filter(S, PodInfo(p), node_info(node("b")))
    assert st is not None and st.reasons == ("node(s) didn't match the requested node name",)
    assert nodename.new().filter(S, PodInfo(p), node_info(node("a"))) is None


def test_node_unschedulable() -> None:
    cordoned = node_info(node("c", unschedulable=True))
    st = nodeunschedulable.new().filter(S, PodInfo(pod("p")), cordoned)
    assert st is not None and st.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert st.reasons == ("node(s) were unschedulable",)
    tolerant = pod("t", tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists"}])
    assert nodeunschedulable.new().filter(S, PodInfo(tolerant), cordoned) is None


def test_taint_filter_message_and_tolerations() -> None:
    plugin = tainttoleration.new()
    ni = node_info(
        node("n", taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}])
    )
    st = plugin.filter(S, PodInfo(pod("p")), ni)
    assert st is not None and st.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert st.reasons == ("node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }",)
    exists = pod("p", tolerations=[{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}])
    assert plugin.filter(S, PodInfo(exists), ni) is None
    wrong_effect = pod("p", tolerations=[{"operator": "Exists", "effect": "NoExecute"}])
    assert plugin.filter(S, PodInfo(wrong_effect), ni) is not None
    soft = node_info(node("s", taints=[{"key": "k", "value": "v", "effect": "PreferNoSchedule"}]))
    assert plugin.filter(S, PodInfo(pod("p")), soft) is None


def test_taint_score_prefers_fewer_soft_taints() -> None:
    plugin = tainttoleration.new()
    nodes = [
        node_info(node("clean")),
        node_info(node("one", taints=[{"key": "a", "effect": "PreferNoSchedule"}])),
        node_info(
            node(
                "two",
                taints=[
                    {"key": "a", "effect": "PreferNoSchedule"},
                    {"key": "b", "effect": "PreferNoSchedule"},
                ],
            )
        ),
    ]
    state, p = CycleState(), PodInfo(pod("p", tolerations=[{"key": "b", "operator": "Exists"}]))
    plugin.pre_score(state, p, nodes)
    scores = [plugin.score(state, p, n) for n in nodes]
    plugin.normalize_score(state, p, scores)
    assert scores == [100, 0, 0]


def test_node_affinity_filter_and_score() -> None:
    plugin = nodeaffinity.new()
    a = node_info(node("a", labels={"zone": "a", "gen": "5"}))
    b = node_info(node("b", labels={"zone": "b", "gen": "3"}))
    assert plugin.pre_filter(S, PodInfo(pod("p")), None) is not None  # SKIP: nothing to check
    sel = PodInfo(pod("p", nodeSelector={"zone": "a"}))
    assert plugin.filter(S, sel, a) is None
    st = plugin.filter(S, sel, b)
    assert st is not None and st.reasons == ("node(s) didn't match Pod's node affinity/selector",)
    terms = [
        {"matchExpressions": [{"key": "gen", "operator": "Gt", "values": ["4"]}]},
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["b"]}]},
    ]
    req = PodInfo(
        pod(
            "p",
            affinity={
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}
                }
            },
        )
    )
    assert plugin.filter(S, req, a) is None and plugin.filter(S, req, b) is None
    assert plugin.filter(S, req, node_info(node("c", labels={"gen": "1"}))) is not None
    pref = PodInfo(
        pod(
            "p",
            affinity={
                "nodeAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": 10,
                            "preference": {
                                "matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]
                            },
                        },
                        {
                            "weight": 30,
                            "preference": {"matchExpressions": [{"key": "gen", "operator": "Exists"}]},
                        },
                    ]
                }
            },
        )
    )
    scores = [plugin.score(S, pref, a), plugin.score(S, pref, b)]
    assert scores == [40, 30]
    plugin.normalize_score(S, pref, scores)
    assert scores == [100, 75]


def test_node_ports() -> None:
    plugin = nodeports.new()

    def with_port(name: str, port: int, ip: str = "") -> dict[str, object]:
        p = pod(name)
        p["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": port, "hostIP": ip}]
        return p

    ni = node_info(node("n"), with_port("a", 8080, "10.0.0.1"))
    assert plugin.pre_filter(S, PodInfo(pod("p")), None) is not None  # no host ports: SKIP
    st = plugin.filter(S, PodInfo(with_port("b", 8080)), ni)
    assert st is not None and st.reasons == ("node(s) didn't have free ports for the requested pod ports",)
    assert plugin.filter(S, PodInfo(with_port("c", 8080, "10.0.0.2")), ni) is None
    assert plugin.filter(S, PodInfo(with_port("d", 8081)), ni) is None
