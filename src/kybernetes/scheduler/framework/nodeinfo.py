"""What plugins read: ``PodInfo`` (a pod parsed once: requests, ports, affinity, tolerations) and
``NodeInfo`` (a node with its precomputed aggregates: allocatable, requested and non-zero requested
resources, pods, used host ports, taints split by effect, pods with affinity, images).

Aggregates are maintained incrementally by ``add_pod``/``remove_pod``, so a filter or score is O(1) per
node in the common case. ``NodeInfo.clone`` copies one node's aggregates (preemption simulates on a
clone); nothing copies the whole cluster. Both are built by the scheduler cache (``scheduler/cache.py``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from kybernetes.api.meta import parse_time
from kybernetes.scheduler.framework.helpers import AffinityTerm, NodeSelector, parse_quantity

__all__ = ["DEFAULT_MEMORY_REQUEST", "DEFAULT_MILLI_CPU_REQUEST", "NodeInfo", "PodInfo", "Resource"]

DEFAULT_MILLI_CPU_REQUEST = 100  # upstream's non-zero defaults, used for scoring only
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024
CPU, MEMORY, EPHEMERAL, PODS = "cpu", "memory", "ephemeral-storage", "pods"
DEFAULT_BIND_IP = "0.0.0.0"


class Resource:
    """cpu in millicores, memory and ephemeral storage in bytes, pod count, and any other (scalar)."""

    __slots__ = ("allowed_pods", "ephemeral_storage", "memory", "milli_cpu", "scalar")

    def __init__(self, milli_cpu: int = 0, memory: int = 0, ephemeral_storage: int = 0) -> None:
        self.milli_cpu = milli_cpu
        self.memory = memory
        self.ephemeral_storage = ephemeral_storage
        self.allowed_pods = 0
        self.scalar: dict[str, int] = {}

    @classmethod
    def from_list(cls, values: Mapping[str, Any] | None) -> Resource:
        r = cls()
        for name, q in (values or {}).items():
            r.set(name, q)
        return r

    def set(self, name: str, q: Any) -> None:
        if name == CPU:
            self.milli_cpu = parse_quantity(q, milli=True)
        elif name == MEMORY:
            self.memory = parse_quantity(q)
        elif name == EPHEMERAL:
            self.ephemeral_storage = parse_quantity(q)
        elif name == PODS:
            self.allowed_pods = parse_quantity(q)
        else:
            self.scalar[name] = parse_quantity(q)

    def add(self, other: Resource, sign: int = 1) -> None:
        self.milli_cpu += sign * other.milli_cpu
        self.memory += sign * other.memory
        self.ephemeral_storage += sign * other.ephemeral_storage
        for name, v in other.scalar.items():
            self.scalar[name] = self.scalar.get(name, 0) + sign * v

    def set_max(self, other: Resource) -> None:
        self.milli_cpu = max(self.milli_cpu, other.milli_cpu)
        self.memory = max(self.memory, other.memory)
        self.ephemeral_storage = max(self.ephemeral_storage, other.ephemeral_storage)
        for name, v in other.scalar.items():
            self.scalar[name] = max(self.scalar.get(name, 0), v)

    def is_zero(self) -> bool:
        return not (self.milli_cpu or self.memory or self.ephemeral_storage or any(self.scalar.values()))

    def copy(self) -> Resource:
        r = Resource(self.milli_cpu, self.memory, self.ephemeral_storage)
        r.allowed_pods = self.allowed_pods
        r.scalar = dict(self.scalar)
        return r


def pod_requests(spec: Mapping[str, Any]) -> tuple[Resource, int, int]:
    """(requests, non-zero cpu, non-zero memory): containers summed, init containers as a max, plus
    overhead, as upstream's ``PodRequests``/``computePodResourceRequest``."""
    total, nz_cpu, nz_mem = Resource(), 0, 0
    for c in spec.get("containers") or ():
        req = Resource.from_list((c.get("resources") or {}).get("requests"))
        total.add(req)
        nz_cpu += req.milli_cpu or DEFAULT_MILLI_CPU_REQUEST
        nz_mem += req.memory or DEFAULT_MEMORY_REQUEST
    for c in spec.get("initContainers") or ():
        req = Resource.from_list((c.get("resources") or {}).get("requests"))
        total.set_max(req)
        nz_cpu = max(nz_cpu, req.milli_cpu or DEFAULT_MILLI_CPU_REQUEST)
        nz_mem = max(nz_mem, req.memory or DEFAULT_MEMORY_REQUEST)
    if spec.get("overhead"):
        overhead = Resource.from_list(spec["overhead"])
        total.add(overhead)
        nz_cpu += overhead.milli_cpu
        nz_mem += overhead.memory
    return total, nz_cpu, nz_mem


class PodInfo:
    """A pod parsed once for scheduling. ``priority`` is resolved by the scheduler (PriorityClass)."""

    __slots__ = (
        "affinity_terms",
        "anti_affinity_terms",
        "host_ports",
        "key",
        "labels",
        "name",
        "namespace",
        "node_name",
        "node_selector",
        "nz_cpu",
        "nz_mem",
        "pod",
        "preferred_affinity_terms",
        "preferred_anti_affinity_terms",
        "preferred_node_terms",
        "priority",
        "request",
        "required_node_affinity",
        "spread_constraints",
        "start_time",
        "tolerations",
        "uid",
    )

    def __init__(self, pod: dict[str, Any], priority: int | None = None) -> None:
        md = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        self.pod = pod
        self.name = str(md.get("name") or "")
        self.namespace = str(md.get("namespace") or "")
        self.key = f"{self.namespace}/{self.name}"
        self.uid = str(md.get("uid") or "")
        self.labels: dict[str, str] = md.get("labels") or {}
        self.node_name = str(spec.get("nodeName") or "")
        self.priority = int(spec.get("priority") or 0) if priority is None else priority
        self.request, self.nz_cpu, self.nz_mem = pod_requests(spec)
        status = pod.get("status") or {}
        self.start_time = parse_time(status.get("startTime") or md.get("creationTimestamp")) or 0.0
        self.tolerations: list[dict[str, Any]] = spec.get("tolerations") or []
        self.node_selector: dict[str, str] = spec.get("nodeSelector") or {}
        ports = []
        for c in spec.get("containers") or ():
            for p in c.get("ports") or ():
                if p.get("hostPort"):
                    ports.append(
                        (p.get("hostIP") or DEFAULT_BIND_IP, p.get("protocol") or "TCP", p["hostPort"])
                    )
        self.host_ports: tuple[tuple[str, str, int], ...] = tuple(ports)
        affinity = spec.get("affinity") or {}
        node_aff = affinity.get("nodeAffinity") or {}
        self.required_node_affinity = NodeSelector.from_dict(
            node_aff.get("requiredDuringSchedulingIgnoredDuringExecution")
        )
        self.preferred_node_terms: list[dict[str, Any]] = (
            node_aff.get("preferredDuringSchedulingIgnoredDuringExecution") or []
        )
        pa, paa = affinity.get("podAffinity") or {}, affinity.get("podAntiAffinity") or {}
        req = "requiredDuringSchedulingIgnoredDuringExecution"
        pref = "preferredDuringSchedulingIgnoredDuringExecution"
        ns = self.namespace
        self.affinity_terms = [AffinityTerm.parse(t, ns) for t in pa.get(req) or ()]
        self.anti_affinity_terms = [AffinityTerm.parse(t, ns) for t in paa.get(req) or ()]
        self.preferred_affinity_terms = [
            AffinityTerm.parse(t.get("podAffinityTerm") or {}, ns, int(t.get("weight") or 0))
            for t in pa.get(pref) or ()
        ]
        self.preferred_anti_affinity_terms = [
            AffinityTerm.parse(t.get("podAffinityTerm") or {}, ns, int(t.get("weight") or 0))
            for t in paa.get(pref) or ()
        ]
        self.spread_constraints: list[dict[str, Any]] = spec.get("topologySpreadConstraints") or []

    @property
    def has_affinity(self) -> bool:
        return bool(
            self.affinity_terms
            or self.anti_affinity_terms
            or self.preferred_affinity_terms
            or self.preferred_anti_affinity_terms
        )

    @property
    def deleting(self) -> bool:
        return bool((self.pod.get("metadata") or {}).get("deletionTimestamp"))

    def __repr__(self) -> str:
        return f"PodInfo({self.key}, prio={self.priority}, node={self.node_name!r})"


class NodeInfo:
    """One node and the pods on it, with aggregates kept up to date on every add/remove."""

    __slots__ = (
        "allocatable",
        "generation",
        "hard_taints",
        "images",
        "labels",
        "name",
        "node",
        "nz_cpu",
        "nz_mem",
        "pods",
        "pods_with_affinity",
        "pods_with_required_anti_affinity",
        "prefer_taints",
        "requested",
        "unschedulable",
        "used_ports",
    )

    def __init__(self, node: dict[str, Any] | None = None, name: str = "") -> None:
        self.pods: dict[str, PodInfo] = {}
        self.requested = Resource()
        self.nz_cpu = 0
        self.nz_mem = 0
        self.used_ports: Counter[tuple[str, str, int]] = Counter()
        self.pods_with_affinity = 0
        self.pods_with_required_anti_affinity: list[PodInfo] = []
        self.generation = 0
        self.node: dict[str, Any] | None = None
        self.name = name
        self.labels: dict[str, str] = {}
        self.allocatable = Resource()
        self.hard_taints: tuple[dict[str, Any], ...] = ()
        self.prefer_taints: tuple[dict[str, Any], ...] = ()
        self.unschedulable = False
        self.images: dict[str, int] = {}
        if node is not None:
            self.set_node(node)

    def set_node(self, node: dict[str, Any]) -> None:
        md, spec, status = node.get("metadata") or {}, node.get("spec") or {}, node.get("status") or {}
        self.node = node
        self.name = str(md.get("name") or "")
        self.labels = md.get("labels") or {}
        self.allocatable = Resource.from_list(status.get("allocatable") or status.get("capacity"))
        taints = [t for t in spec.get("taints") or () if isinstance(t, dict)]
        self.hard_taints = tuple(t for t in taints if t.get("effect") in ("NoSchedule", "NoExecute"))
        self.prefer_taints = tuple(t for t in taints if t.get("effect") == "PreferNoSchedule")
        self.unschedulable = bool(spec.get("unschedulable"))
        self.images = {
            n: int(img.get("sizeBytes") or 0)
            for img in status.get("images") or ()
            for n in img.get("names") or ()
        }
        self.generation += 1

    def add_pod(self, pi: PodInfo) -> None:
        self.remove_pod(pi.key)
        self.pods[pi.key] = pi
        self._account(pi, 1)

    def remove_pod(self, key: str) -> PodInfo | None:
        pi = self.pods.pop(key, None)
        if pi is not None:
            self._account(pi, -1)
        return pi

    def _account(self, pi: PodInfo, sign: int) -> None:
        self.requested.add(pi.request, sign)
        self.nz_cpu += sign * pi.nz_cpu
        self.nz_mem += sign * pi.nz_mem
        for port in pi.host_ports:
            self.used_ports[port] += sign
            if self.used_ports[port] <= 0:
                del self.used_ports[port]
        if pi.has_affinity:
            self.pods_with_affinity += sign
        if pi.anti_affinity_terms:
            if sign > 0:
                self.pods_with_required_anti_affinity.append(pi)
            else:
                self.pods_with_required_anti_affinity = [
                    p for p in self.pods_with_required_anti_affinity if p.key != pi.key
                ]
        self.generation += 1

    def clone(self) -> NodeInfo:
        other = NodeInfo.__new__(NodeInfo)
        for slot in NodeInfo.__slots__:
            setattr(other, slot, getattr(self, slot))
        other.pods = dict(self.pods)
        other.requested = self.requested.copy()
        other.used_ports = Counter(self.used_ports)
        other.pods_with_required_anti_affinity = list(self.pods_with_required_anti_affinity)
        return other

    def __repr__(self) -> str:
        return f"NodeInfo({self.name}, pods={len(self.pods)})"


PodFilter = Callable[[PodInfo], bool]


# Shared by NodeAffinity and PodTopologySpread (nodeAffinityPolicy: Honor), as upstream's
# component-helpers ``RequiredNodeAffinity.Match``: here so the plugins stay independent of each other.
def required_matches(pod: PodInfo, node: NodeInfo) -> bool:
    """nodeSelector (every pair) and requiredDuringScheduling (any term)."""
    labels = node.labels
    for key, value in pod.node_selector.items():
        if labels.get(key) != value:
            return False
    return pod.required_node_affinity is None or pod.required_node_affinity.matches(labels, node.name)
