"""Pod vocabulary shared by every component: the QoS class of a pod.

One definition, used by the API server (``status.qosClass`` on create), the kubelet (the status it reports,
eviction ranking) and quota scopes, so that they can never disagree. It follows upstream's
``pkg/apis/core/v1/helper/qos`` (``ComputePodQOS`` / ``GetPodQOS``) exactly:

- only ``cpu`` and ``memory`` count (``supportedQoSComputeResources``); ``ephemeral-storage``, hugepages and
  extended resources do not, so a pod whose only request is ``ephemeral-storage`` is ``BestEffort``;
- zero quantities are ignored; init containers count like app containers;
- requests and limits are summed per resource over all containers, and a pod is ``Guaranteed`` when every
  container has non-zero cpu *and* memory limits and the summed requests equal the summed limits for every
  resource (after defaulting, a limit without a request has its request defaulted to the limit);
- pod-level ``spec.resources`` (the ``PodLevelResources`` alpha gate) is off, as in upstream v1.32 defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from kybernetes.api.validation.quantity import parse

__all__ = [
    "BEST_EFFORT",
    "BURSTABLE",
    "GUARANTEED",
    "QOS_COMPUTE_RESOURCES",
    "compute_qos_class",
    "qos_class",
]

GUARANTEED = "Guaranteed"
BURSTABLE = "Burstable"
BEST_EFFORT = "BestEffort"
QOS_COMPUTE_RESOURCES = frozenset({"cpu", "memory"})


def _positive(value: object) -> Fraction | None:
    """The quantity if it parses and is > 0 (malformed values are rejected by validation; ignore them here)."""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return None
    try:
        q = parse(value)
    except ValueError:
        return None
    return q if q > 0 else None


def compute_qos_class(pod: Mapping[str, Any]) -> str:
    """The QoS class from the containers' requests and limits (upstream's ``ComputePodQOS``)."""
    spec = pod.get("spec") or {}
    requests: dict[str, Fraction] = {}
    limits: dict[str, Fraction] = {}
    guaranteed = True
    for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        res = (c or {}).get("resources") or {}
        for name, value in (res.get("requests") or {}).items():
            q = _positive(value) if name in QOS_COMPUTE_RESOURCES else None
            if q is not None:
                requests[name] = requests.get(name, Fraction(0)) + q
        found: set[str] = set()
        for name, value in (res.get("limits") or {}).items():
            q = _positive(value) if name in QOS_COMPUTE_RESOURCES else None
            if q is not None:
                found.add(name)
                limits[name] = limits.get(name, Fraction(0)) + q
        if not QOS_COMPUTE_RESOURCES <= found:
            guaranteed = False
    if not requests and not limits:
        return BEST_EFFORT
    if guaranteed and any(limits.get(name) != q for name, q in requests.items()):
        guaranteed = False
    if guaranteed and len(requests) == len(limits):
        return GUARANTEED
    return BURSTABLE


def qos_class(pod: Mapping[str, Any]) -> str:
    """``status.qosClass`` when the API server has set it, else computed (upstream's ``GetPodQOS``).

    The class is immutable once set (resources of a running pod cannot change it), so every reader that has
    the stored pod agrees with the API server by construction.
    """
    stored = (pod.get("status") or {}).get("qosClass")
    if stored in (GUARANTEED, BURSTABLE, BEST_EFFORT):
        return str(stored)
    return compute_qos_class(pod)
