"""NodeAffinity: ``spec.nodeSelector`` and required node affinity as a filter; preferred node affinity
terms as a score (sum of the weights of matching terms, normalised to 0..100). Default weight 2."""

from __future__ import annotations

from collections.abc import Sequence

from kybernetes.scheduler.framework import (
    SKIP,
    ActionType,
    ClusterEvent,
    CycleState,
    NodeInfo,
    PodInfo,
    Snapshot,
    Status,
    required_matches,
)
from kybernetes.scheduler.framework import unresolvable as _unresolvable
from kybernetes.scheduler.framework.helpers import default_normalize, term_matches

NAME = "NodeAffinity"
ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
_REJECT = _unresolvable(ERR_REASON_POD)


def preferred_score(pod: PodInfo, node: NodeInfo) -> int:
    total = 0
    for term in pod.preferred_node_terms:
        weight = int(term.get("weight") or 0)
        if weight and term_matches(term.get("preference") or {}, node.labels, node.name):
            total += weight
    return total


class NodeAffinity:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> Status | None:
        if not pod.node_selector and pod.required_node_affinity is None:
            return SKIP
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        return None if required_matches(pod, node) else _REJECT

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        return None if pod.preferred_node_terms else SKIP

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return preferred_score(pod, node)

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        default_normalize(scores)

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE_NODE_LABEL)]


def new() -> NodeAffinity:
    return NodeAffinity()
