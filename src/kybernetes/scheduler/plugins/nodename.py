"""NodeName: a pod that names its node (``spec.nodeName``) fits only that node."""

from __future__ import annotations

from kybernetes.scheduler.framework import (
    SKIP,
    ActionType,
    ClusterEvent,
    CycleState,
    NodeInfo,
    PodInfo,
    Snapshot,
    Status,
)
from kybernetes.scheduler.framework import unresolvable as _unresolvable

NAME = "NodeName"
ERR_REASON = "node(s) didn't match the requested node name"
_REJECT = _unresolvable(ERR_REASON)


def fits(pod: PodInfo, node: NodeInfo) -> bool:
    return not pod.node_name or pod.node_name == node.name


class NodeName:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> Status | None:
        return None if pod.node_name else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        return None if fits(pod, node) else _REJECT

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE)]


def new() -> NodeName:
    return NodeName()
