"""NodeResourcesBalancedAllocation: prefer nodes whose cpu and memory utilisation (with the pod) are
balanced: ``(1 - std(fractions)) * 100``. Skipped for pods that request neither. Default weight 1."""

from __future__ import annotations

import math
from collections.abc import Sequence

from kybernetes.scheduler.framework import (
    MAX_NODE_SCORE,
    SKIP,
    ActionType,
    ClusterEvent,
    CycleState,
    NodeInfo,
    PodInfo,
    Status,
)

NAME = "NodeResourcesBalancedAllocation"


def balanced_score(fractions: Sequence[float]) -> int:
    """``(1 - standard deviation) * 100`` of the utilisation fractions (each capped at 1)."""
    fs = [min(f, 1.0) for f in fractions]
    if len(fs) < 2:
        return MAX_NODE_SCORE
    if len(fs) == 2:
        std = abs(fs[0] - fs[1]) / 2
    else:
        mean = sum(fs) / len(fs)
        std = math.sqrt(sum((f - mean) ** 2 for f in fs) / len(fs))
    return int((1 - std) * MAX_NODE_SCORE)


class BalancedAllocation:
    name = NAME

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        return None if (pod.request.milli_cpu or pod.request.memory) else SKIP

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        alloc, used, req = node.allocatable, node.requested, pod.request
        if alloc.milli_cpu <= 0 or alloc.memory <= 0:
            return 0
        cpu = min((used.milli_cpu + req.milli_cpu) / alloc.milli_cpu, 1.0)
        mem = min((used.memory + req.memory) / alloc.memory, 1.0)
        return int((1 - abs(cpu - mem) / 2) * MAX_NODE_SCORE)  # balanced_score of two, inlined

    def events_to_register(self) -> list[ClusterEvent]:
        return [
            ClusterEvent("Pod", ActionType.DELETE),
            ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE_NODE_ALLOCATABLE),
        ]


def new() -> BalancedAllocation:
    return BalancedAllocation()
