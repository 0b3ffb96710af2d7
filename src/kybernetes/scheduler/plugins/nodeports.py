"""NodePorts: a pod's host ports (hostIP, protocol, hostPort) must be free on the node; ``0.0.0.0``
conflicts with every address on the same protocol and port."""

from __future__ import annotations

from collections.abc import Iterable

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
from kybernetes.scheduler.framework import unschedulable as _unschedulable

NAME = "NodePorts"
ERR_REASON = "node(s) didn't have free ports for the requested pod ports"
_REJECT = _unschedulable(ERR_REASON)
ANY_IP = "0.0.0.0"


def conflicts(wanted: Iterable[tuple[str, str, int]], used: Iterable[tuple[str, str, int]]) -> bool:
    used = list(used)
    for ip, proto, port in wanted:
        for uip, uproto, uport in used:
            if uport == port and uproto == proto and (ip == uip or ANY_IP in (ip, uip)):
                return True
    return False


class NodePorts:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> Status | None:
        return None if pod.host_ports else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if node.used_ports and conflicts(pod.host_ports, node.used_ports):
            return _REJECT
        return None

    def events_to_register(self) -> list[ClusterEvent]:
        return [
            ClusterEvent("Pod", ActionType.DELETE),
            ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE),
        ]


def new() -> NodePorts:
    return NodePorts()
