"""NodeUnschedulable: cordoned nodes (``spec.unschedulable``) take only pods that tolerate the
``node.kubernetes.io/unschedulable:NoSchedule`` taint."""

from __future__ import annotations

from kybernetes.scheduler.framework import ActionType, ClusterEvent, CycleState, NodeInfo, PodInfo, Status
from kybernetes.scheduler.framework import unresolvable as _unresolvable
from kybernetes.scheduler.framework.helpers import tolerates

NAME = "NodeUnschedulable"
ERR_REASON_UNSCHEDULABLE = "node(s) were unschedulable"
UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
_REJECT = _unresolvable(ERR_REASON_UNSCHEDULABLE)


def tolerates_unschedulable(pod: PodInfo) -> bool:
    return any(tolerates(t, UNSCHEDULABLE_TAINT) for t in pod.tolerations)


class NodeUnschedulable:
    name = NAME

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.unschedulable or tolerates_unschedulable(pod):
            return None
        return _REJECT

    def events_to_register(self) -> list[ClusterEvent]:
        return [
            ClusterEvent(
                "Node", ActionType.ADD | ActionType.UPDATE_NODE_UNSCHEDULABLE | ActionType.UPDATE_NODE_TAINT
            )
        ]


def new() -> NodeUnschedulable:
    return NodeUnschedulable()
