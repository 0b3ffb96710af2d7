"""ResourceQuota accounting, pure: what an object charges against a quota, and admission checks.

Used by the API server's admission (``check_quota`` on create/update) and by the ResourceQuota controller
(``usage`` to recompute ``status.used``). No I/O.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any

from kybernetes.api import errors
from kybernetes.api.meta import Obj, parse_time
from kybernetes.api.pods import BEST_EFFORT, qos_class
from kybernetes.api.validation.quantity import canonical, parse

__all__ = [
    "check_quota",
    "format_quantity",
    "matches_quota",
    "pod_constraints_error",
    "usage",
]

log = logging.getLogger(__name__)

Usage = dict[str, Fraction]
TERMINAL = ("Succeeded", "Failed")
COMPUTE_VALIDATION = frozenset(
    {"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"}
)
LEGACY_COUNTS = {
    "configmaps": "configmaps",
    "secrets": "secrets",
    "replicationcontrollers": "replicationcontrollers",
    "resourcequotas": "resourcequotas",
    "services": "services",
    "persistentvolumeclaims": "persistentvolumeclaims",
}
POD_SCOPES = frozenset({"Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass"})


# --- quantities ---------------------------------------------------------------------------------------------
def _q(value: Any) -> Fraction:
    try:
        return parse(value)
    except (ValueError, TypeError):
        return Fraction(0)


def format_quantity(value: Fraction, resource: str = "") -> str:
    """A quantity string for ``value``; binary suffixes for memory/storage amounts that allow them."""
    if value.denominator == 1:
        n = int(value)
        if n and n % 1024 == 0 and ("memory" in resource or "storage" in resource or "hugepages" in resource):
            return canonical(f"{n // 1024}Ki")
        return canonical(str(n))
    return canonical(f"{int(value * 10**9)}n")


def _render(values: Mapping[str, Fraction]) -> dict[str, str]:
    return {k: format_quantity(v, k) for k, v in sorted(values.items())}


def _pretty(values: Mapping[str, str | Fraction]) -> str:
    parts = []
    for key in sorted(values):
        v = values[key]
        parts.append(f"{key}={format_quantity(v, key) if isinstance(v, Fraction) else canonical(v)}")
    return ",".join(parts)


# --- usage ------------------------------------------------------------------------------------------------
def _is_extended(name: str) -> bool:
    return "/" in name and not name.startswith("kubernetes.io/") and not name.startswith("requests.")


def _add(into: Usage, name: str, value: Fraction) -> None:
    into[name] = into.get(name, Fraction(0)) + value


def _pod_resources(pod: Mapping[str, Any], field: str) -> Usage:
    """Effective requests or limits: containers summed, each init container as a floor, plus overhead."""
    spec = pod.get("spec") or {}
    total: Usage = {}
    for c in spec.get("containers") or []:
        for name, q in ((c.get("resources") or {}).get(field) or {}).items():
            _add(total, name, _q(q))
    for c in spec.get("initContainers") or []:
        for name, q in ((c.get("resources") or {}).get(field) or {}).items():
            value = _q(q)
            if c.get("restartPolicy") == "Always":  # sidecars run beside the app containers
                _add(total, name, value)
            elif value > total.get(name, Fraction(0)):
                total[name] = value
    for name, q in (spec.get("overhead") or {}).items():
        if name in total:
            _add(total, name, _q(q))
    return total


def _compute_usage(requests: Mapping[str, Fraction], limits: Mapping[str, Fraction]) -> Usage:
    """Upstream's ``podComputeUsageHelper``."""
    out: Usage = {"pods": Fraction(1)}
    for name, value in requests.items():
        if name in ("cpu", "memory", "ephemeral-storage"):
            out[name] = value
            out[f"requests.{name}"] = value
        elif name.startswith("hugepages-") or _is_extended(name):
            out[f"requests.{name}"] = value
    for name, value in limits.items():
        if name in ("cpu", "memory", "ephemeral-storage"):
            out[f"limits.{name}"] = value
    return out


def pod_counts(pod: Mapping[str, Any], now: float | None = None) -> bool:
    """Upstream's ``QuotaV1Pod``: does the pod still use compute quota?"""
    if (pod.get("status") or {}).get("phase") in TERMINAL:
        return False
    md = pod.get("metadata") or {}
    deleted, grace = md.get("deletionTimestamp"), md.get("deletionGracePeriodSeconds")
    if deleted and grace is not None:
        at = parse_time(deleted)
        if at is None:
            return True
        if (time.time() if now is None else now) > at + int(grace):
            return False
    return True


def count_name(plural: str, group: str) -> str:
    return f"count/{plural}.{group}" if group else f"count/{plural}"


def usage(plural: str, group: str, obj: Mapping[str, Any], now: float | None = None) -> Usage:
    """What ``obj`` (of resource ``plural`` in ``group``) counts against a quota."""
    out: Usage = {count_name(plural, group): Fraction(1)}
    if group:
        return out
    if plural == "pods":
        if pod_counts(obj, now):
            for k, v in _compute_usage(
                _pod_resources(obj, "requests"), _pod_resources(obj, "limits")
            ).items():
                out[k] = v
        return out
    if plural in LEGACY_COUNTS:
        out[LEGACY_COUNTS[plural]] = Fraction(1)
    spec = obj.get("spec") or {}
    if plural == "services":
        stype = spec.get("type") or "ClusterIP"
        ports = len(spec.get("ports") or [])
        if stype == "NodePort":
            out["services.nodeports"] = Fraction(ports)
        elif stype == "LoadBalancer":
            out["services.loadbalancers"] = Fraction(1)
            if spec.get("allocateLoadBalancerNodePorts", True) is not False:
                out["services.nodeports"] = Fraction(ports)
    elif plural == "persistentvolumeclaims":
        storage = _q(((spec.get("resources") or {}).get("requests") or {}).get("storage") or 0)
        out["requests.storage"] = storage
        sc = spec.get("storageClassName")
        if sc:
            out[f"{sc}.storageclass.storage.k8s.io/requests.storage"] = storage
            out[f"{sc}.storageclass.storage.k8s.io/persistentvolumeclaims"] = Fraction(1)
    return out


def tracks(plural: str, group: str, resource_name: str) -> bool:
    """Could an object of ``plural.group`` contribute to the quota resource ``resource_name``?"""
    if resource_name == count_name(plural, group):
        return True
    if group:
        return False
    if plural == "pods":
        return resource_name in ("pods", "cpu", "memory", "ephemeral-storage") or (
            resource_name.startswith(("requests.", "limits.")) and resource_name != "requests.storage"
        )
    if plural == "services":
        return resource_name in ("services", "services.nodeports", "services.loadbalancers")
    if plural == "persistentvolumeclaims":
        return resource_name in ("persistentvolumeclaims", "requests.storage") or (
            ".storageclass.storage.k8s.io/" in resource_name
        )
    return LEGACY_COUNTS.get(plural) == resource_name


# --- scopes -----------------------------------------------------------------------------------------------
def _qos_best_effort(pod: Mapping[str, Any]) -> bool:
    return qos_class(pod) == BEST_EFFORT


def _scope_matches(scope: str, operator: str, values: list[str], pod: Mapping[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    if scope == "Terminating":
        return spec.get("activeDeadlineSeconds") is not None
    if scope == "NotTerminating":
        return spec.get("activeDeadlineSeconds") is None
    if scope == "BestEffort":
        return _qos_best_effort(pod)
    if scope == "NotBestEffort":
        return not _qos_best_effort(pod)
    if scope == "PriorityClass":
        name = spec.get("priorityClassName")
        if operator == "Exists":
            return bool(name)
        if operator == "DoesNotExist":
            return not name
        if operator == "In":
            return name in values
        if operator == "NotIn":
            return name not in values
    return False


def _scopes(quota: Mapping[str, Any]) -> list[tuple[str, str, list[str]]]:
    spec = quota.get("spec") or {}
    out: list[tuple[str, str, list[str]]] = [(str(s), "Exists", []) for s in spec.get("scopes") or []]
    for req in (spec.get("scopeSelector") or {}).get("matchExpressions") or []:
        out.append(
            (str(req.get("scopeName")), str(req.get("operator") or "Exists"), list(req.get("values") or []))
        )
    return out


def matches_quota(quota: Mapping[str, Any], plural: str, group: str, obj: Mapping[str, Any]) -> bool:
    """Does the quota's scope select ``obj``, and does the quota limit anything ``obj`` counts for?"""
    hard = ((quota.get("status") or {}).get("hard") or (quota.get("spec") or {}).get("hard")) or {}
    if not any(tracks(plural, group, name) for name in hard):
        return False
    scopes = _scopes(quota)
    if not scopes:
        return True
    if group or plural != "pods":
        return False
    return all(_scope_matches(scope, op, values, obj) for scope, op, values in scopes)


# --- admission --------------------------------------------------------------------------------------------
def pod_constraints_error(required: Iterable[str], pod: Mapping[str, Any]) -> str | None:
    """Upstream's pod evaluator ``Constraints``: every container must state each tracked cpu/memory."""
    required_set = set(required) & COMPUTE_VALIDATION
    if not required_set:
        return None
    missing: dict[str, set[str]] = {}
    spec = pod.get("spec") or {}
    for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        res = c.get("resources") or {}
        requests = {k: _q(v) for k, v in (res.get("requests") or {}).items()}
        limits = {k: _q(v) for k, v in (res.get("limits") or {}).items()}
        have = set(_compute_usage(requests, limits))
        for name in sorted(required_set - have):
            missing.setdefault(name, set()).add(str(c.get("name")))
    if not missing:
        return None
    parts = [f"{name} for: {','.join(sorted(missing[name]))}" for name in sorted(missing)]
    return "must specify " + "; ".join(parts)


def check_quota(
    quotas: Iterable[Mapping[str, Any]],
    obj: Mapping[str, Any],
    *,
    plural: str,
    group: str = "",
    operation: str = "CREATE",
    old: Mapping[str, Any] | None = None,
    now: float | None = None,
) -> list[Obj]:
    """Admit ``obj`` against the namespace's quotas, or raise a 403 ``StatusError`` as upstream does.

    Returns deep copies of the quotas whose ``status.used`` grew (the caller persists them with
    compare-and-swap on their resourceVersion, retrying the whole check on conflict); an empty list when
    nothing changes. ``operation`` is ``CREATE`` or ``UPDATE`` (``old`` given): an update is charged only
    for what grows; pod updates are not charged (their resources are immutable here).
    """
    name = str((obj.get("metadata") or {}).get("name") or "")
    resource = f"{plural}.{group}" if group else plural
    if operation not in ("CREATE", "UPDATE") or (operation == "UPDATE" and (old is None or plural == "pods")):
        return []
    delta = usage(plural, group, obj, now)
    if operation == "UPDATE" and old is not None:
        before = usage(plural, group, old, now)
        delta = {k: v - before.get(k, Fraction(0)) for k, v in delta.items()}
        delta = {k: v for k, v in delta.items() if v > 0}
    if not delta:
        return []
    selected = [q for q in quotas if matches_quota(q, plural, group, obj)]
    for quota in selected:
        qname = (quota.get("metadata") or {}).get("name")
        hard = (quota.get("status") or {}).get("hard") or {}
        restricted = [r for r in hard if tracks(plural, group, r)]
        if plural == "pods" and not group and operation == "CREATE":
            problem = pod_constraints_error(restricted, obj)
            if problem:
                raise errors.forbidden(resource, name, f"failed quota: {qname}: {problem}", group)
        used = (quota.get("status") or {}).get("used") or {}
        unknown = sorted(r for r in restricted if r not in used)
        if unknown:
            raise errors.forbidden(
                resource, name, f"status unknown for quota: {qname}, resources: {','.join(unknown)}", group
            )
    updated: list[Obj] = []
    for quota in selected:
        qname = (quota.get("metadata") or {}).get("name")
        status = quota.get("status") or {}
        hard = status.get("hard") or {}
        used = status.get("used") or {}
        requested = {k: v for k, v in delta.items() if k in hard}
        if not requested:
            continue
        new_used = {k: _q(used.get(k, 0)) + v for k, v in requested.items()}
        exceeded = sorted(k for k, v in new_used.items() if v > _q(hard[k]))
        if exceeded:
            message = (
                f"exceeded quota: {qname}, "
                f"requested: {_pretty({k: requested[k] for k in exceeded})}, "
                f"used: {_pretty({k: _q(used.get(k, 0)) for k in exceeded})}, "
                f"limited: {_pretty({k: hard[k] for k in exceeded})}"
            )
            raise errors.forbidden(resource, name, message, group)
        copy_ = copy.deepcopy(dict(quota))
        copy_.setdefault("status", {}).setdefault("used", {}).update(
            {k: format_quantity(v, k) for k, v in new_used.items()}
        )
        updated.append(copy_)
    return updated
