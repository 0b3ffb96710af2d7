"""NodeResourcesFit: the pod's requests (containers summed, init containers as a max, plus overhead)
must fit the node's allocatable minus what its pods request: pods, cpu, memory, ephemeral-storage and
extended resources, with upstream's reasons (``Too many pods``, ``Insufficient cpu``...). Its score is
LeastAllocated over cpu and memory (weight 1 each) on the non-zero requests. Default weight 1."""

from __future__ import annotations

from kybernetes.scheduler.framework import (
    MAX_NODE_SCORE,
    ActionType,
    ClusterEvent,
    CycleState,
    NodeInfo,
    PodInfo,
    Status,
)
from kybernetes.scheduler.framework import unschedulable as _unschedulable

NAME = "NodeResourcesFit"
TOO_MANY_PODS = "Too many pods"


def insufficient_resources(pod: PodInfo, node: NodeInfo) -> list[str]:
    """The reasons the pod does not fit (empty: it fits). Pure over the aggregates: O(resources)."""
    reasons = []
    if len(node.pods) + 1 > node.allocatable.allowed_pods:
        reasons.append(TOO_MANY_PODS)
    req = pod.request
    if not (req.milli_cpu or req.memory or req.ephemeral_storage or req.scalar):
        return reasons
    alloc, used = node.allocatable, node.requested
    if req.milli_cpu and alloc.milli_cpu < req.milli_cpu + used.milli_cpu:
        reasons.append("Insufficient cpu")
    if req.memory and alloc.memory < req.memory + used.memory:
        reasons.append("Insufficient memory")
    if req.ephemeral_storage and alloc.ephemeral_storage < req.ephemeral_storage + used.ephemeral_storage:
        reasons.append("Insufficient ephemeral-storage")
    for name, want in req.scalar.items():
        if want and alloc.scalar.get(name, 0) < want + used.scalar.get(name, 0):
            reasons.append(f"Insufficient {name}")
    return reasons


def least_allocated(requested: int, capacity: int) -> int:
    if capacity <= 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


class Fit:
    name = NAME

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        req, alloc, used = pod.request, node.allocatable, node.requested
        if (  # fast path: the common cpu/memory-only pod that fits
            not req.scalar
            and len(node.pods) < alloc.allowed_pods
            and req.milli_cpu + used.milli_cpu <= alloc.milli_cpu
            and req.memory + used.memory <= alloc.memory
            and req.ephemeral_storage + used.ephemeral_storage <= alloc.ephemeral_storage
        ):
            return None
        reasons = insufficient_resources(pod, node)
        return _unschedulable(*reasons) if reasons else None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        alloc = node.allocatable
        cpu = least_allocated(node.nz_cpu + pod.nz_cpu, alloc.milli_cpu)
        mem = least_allocated(node.nz_mem + pod.nz_mem, alloc.memory)
        return (cpu + mem) // 2

    def events_to_register(self) -> list[ClusterEvent]:
        return [
            ClusterEvent("Pod", ActionType.DELETE | ActionType.UPDATE_POD_SCALE_DOWN),
            ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE_NODE_ALLOCATABLE),
        ]


def new() -> Fit:
    return Fit()
