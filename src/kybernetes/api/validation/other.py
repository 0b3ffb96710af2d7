"""Validation of the smaller groups: coordination (Lease), scheduling (PriorityClass), storage
(StorageClass), autoscaling/v2 (HPA), policy (PodDisruptionBudget), discovery (EndpointSlice) and
events.k8s.io (Event), each after its upstream ``pkg/apis/<group>/validation``."""

from __future__ import annotations

from typing import Any

from kybernetes.api.errors import Cause
from kybernetes.api.validation import apps, meta, names
from kybernetes.api.validation import field as f
from kybernetes.api.validation.podspec import PROTOCOLS, _dict, _int, _list, _s

HIGHEST_USER_DEFINABLE_PRIORITY = 1000000000
SYSTEM_PRIORITY_CLASSES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
PREEMPTION_POLICIES = ("Never", "PreemptLowerPriority")


# -- Lease --------------------------------------------------------------------------------------------


def create_lease(obj: dict[str, Any]) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    out: list[Cause] = []
    duration = _int(spec.get("leaseDurationSeconds"))
    if duration is not None and duration <= 0:
        out.append(f.invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    out += f.nonnegative(spec.get("leaseTransitions"), "spec.leaseTransitions")
    strategy = spec.get("strategy")
    if strategy is not None and strategy != "OldestEmulationVersion":
        out.append(f.not_supported("spec.strategy", strategy, ("OldestEmulationVersion",)))
    return out


# -- PriorityClass -----------------------------------------------------------------------------------


def create_priority_class(obj: dict[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    name = _s(_dict(obj.get("metadata")).get("name"))
    value = _int(obj.get("value")) or 0
    if name.startswith("system-"):
        if name not in SYSTEM_PRIORITY_CLASSES:
            err = f"{name} is not a known system priority class"
        elif SYSTEM_PRIORITY_CLASSES[name] != value:
            err = f"value of {name} PriorityClass must be {SYSTEM_PRIORITY_CLASSES[name]}"
        else:
            err = ""
        if err:
            out.append(
                f.forbidden(
                    "metadata.name",
                    f"priority class names with 'system-' prefix are reserved for system use only. error: {err}",
                )
            )
    elif value > HIGHEST_USER_DEFINABLE_PRIORITY:
        out.append(
            f.forbidden(
                "value",
                f"maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}",
            )
        )
    policy = obj.get("preemptionPolicy")
    if isinstance(policy, str) and policy not in PREEMPTION_POLICIES:
        out.append(f.not_supported("preemptionPolicy", policy, PREEMPTION_POLICIES))
    return out


def update_priority_class(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    out = create_priority_class(new)
    if new.get("value") != old.get("value"):
        out.append(f.forbidden("value", "may not be changed in an update."))
    out += f.immutable(new.get("preemptionPolicy"), old.get("preemptionPolicy"), "preemptionPolicy")
    return out


# -- StorageClass ------------------------------------------------------------------------------------


def create_storage_class(obj: dict[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    provisioner = _s(obj.get("provisioner"))
    if not provisioner:
        out.append(f.required("provisioner"))
    else:
        if len(provisioner) > 63:
            out.append(f.too_long("provisioner", 63))
        out += f.invalid_each("provisioner", provisioner, names.is_qualified_name(provisioner.lower()))
    policy = obj.get("reclaimPolicy")
    if isinstance(policy, str) and policy not in ("Delete", "Retain"):
        out.append(f.not_supported("reclaimPolicy", policy, ("Delete", "Retain")))
    mode = obj.get("volumeBindingMode")
    if isinstance(mode, str) and mode not in ("Immediate", "WaitForFirstConsumer"):
        out.append(f.not_supported("volumeBindingMode", mode, ("Immediate", "WaitForFirstConsumer")))
    return out


def update_storage_class(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    out = create_storage_class(new)
    if not f.semantic_equal(new.get("parameters"), old.get("parameters")):
        out.append(f.forbidden("parameters", "updates to parameters are forbidden."))
    if new.get("provisioner") != old.get("provisioner"):
        out.append(f.forbidden("provisioner", "updates to provisioner are forbidden."))
    if new.get("reclaimPolicy") != old.get("reclaimPolicy"):
        out.append(f.forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."))
    out += f.immutable(new.get("volumeBindingMode"), old.get("volumeBindingMode"), "volumeBindingMode")
    return out


# -- HorizontalPodAutoscaler -------------------------------------------------------------------------


def create_hpa(obj: dict[str, Any]) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    out: list[Cause] = []
    ref = _dict(spec.get("scaleTargetRef"))
    for k in ("kind", "name"):
        v = _s(ref.get(k))
        if not v:
            out.append(f.required(f.child("spec.scaleTargetRef", k)))
        else:
            out += f.invalid_each(f.child("spec.scaleTargetRef", k), v, names.path_segment_name(v, False))
    min_r = _int(spec.get("minReplicas"))
    max_r = _int(spec.get("maxReplicas")) or 0
    if min_r is not None and min_r < 1:
        out.append(f.invalid("spec.minReplicas", min_r, "must be greater than or equal to 1"))
    if max_r < 1:
        out.append(f.invalid("spec.maxReplicas", max_r, "must be greater than 0"))
    if min_r is not None and min_r > max_r:
        out.append(f.invalid("spec.maxReplicas", max_r, "must be greater than or equal to `minReplicas`"))
    metric_types = ("ContainerResource", "External", "Object", "Pods", "Resource")
    for i, metric in enumerate(_list(spec.get("metrics"))):
        metric = _dict(metric)
        p = f.index("spec.metrics", i)
        mtype = _s(metric.get("type"))
        if not mtype:
            out.append(f.required(f.child(p, "type"), "must specify a metric source type"))
        elif mtype not in metric_types:
            out.append(f.not_supported(f.child(p, "type"), mtype, metric_types))
    behavior = _dict(spec.get("behavior"))
    for direction in ("scaleUp", "scaleDown"):
        rules = _dict(behavior.get(direction))
        bp = f.child("spec.behavior", direction)
        window = _int(rules.get("stabilizationWindowSeconds"))
        if window is not None and not 0 <= window <= 3600:
            out.append(
                f.invalid(
                    f.child(bp, "stabilizationWindowSeconds"), window, "must be less than or equal to 3600"
                )
            )
        select = rules.get("selectPolicy")
        if select is not None and select not in ("Disabled", "Max", "Min"):
            out.append(f.not_supported(f.child(bp, "selectPolicy"), select, ("Disabled", "Max", "Min")))
        for j, pol in enumerate(_list(rules.get("policies"))):
            pol = _dict(pol)
            pp = f.index(f.child(bp, "policies"), j)
            if pol.get("type") not in ("Pods", "Percent"):
                out.append(f.not_supported(f.child(pp, "type"), pol.get("type") or "", ("Percent", "Pods")))
            if (_int(pol.get("value")) or 0) <= 0:
                out.append(
                    f.invalid(f.child(pp, "value"), pol.get("value") or 0, "must be greater than zero")
                )
            period = _int(pol.get("periodSeconds")) or 0
            if period <= 0:
                out.append(f.invalid(f.child(pp, "periodSeconds"), period, "must be greater than zero"))
            elif period > 1800:
                out.append(
                    f.invalid(f.child(pp, "periodSeconds"), period, "must be less than or equal to 1800")
                )
    return out


# -- PodDisruptionBudget -----------------------------------------------------------------------------


def create_pdb(obj: dict[str, Any]) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    out: list[Cause] = []
    min_a, max_u = spec.get("minAvailable"), spec.get("maxUnavailable")
    if min_a is not None and max_u is not None:
        out.append(f.invalid("spec", spec, "minAvailable and maxUnavailable cannot be both set"))
    if min_a is not None:
        out += apps.validate_positive_int_or_percent(min_a, "spec.minAvailable")
        out += apps.not_more_than_100_percent(min_a, "spec.minAvailable")
    if max_u is not None:
        out += apps.validate_positive_int_or_percent(max_u, "spec.maxUnavailable")
        out += apps.not_more_than_100_percent(max_u, "spec.maxUnavailable")
    out += meta.validate_label_selector(spec.get("selector"), "spec.selector")
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in ("AlwaysAllow", "IfHealthyBudget"):
        out.append(
            f.not_supported("spec.unhealthyPodEvictionPolicy", policy, ("AlwaysAllow", "IfHealthyBudget"))
        )
    return out


# -- EndpointSlice -----------------------------------------------------------------------------------


def create_endpoint_slice(obj: dict[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    address_type = obj.get("addressType")
    if not address_type:
        out.append(f.required("addressType"))
    elif address_type not in ("FQDN", "IPv4", "IPv6"):
        out.append(f.not_supported("addressType", address_type, ("FQDN", "IPv4", "IPv6")))
    endpoints = _list(obj.get("endpoints"))
    if len(endpoints) > 1000:
        out.append(f.too_many("endpoints", len(endpoints), 1000))
    for i, ep in enumerate(endpoints):
        ep = _dict(ep)
        p = f.index("endpoints", i)
        addresses = _list(ep.get("addresses"))
        if not addresses:
            out.append(f.required(f.child(p, "addresses"), "must contain at least 1 address"))
        elif len(addresses) > 100:
            out.append(f.too_many(f.child(p, "addresses"), len(addresses), 100))
        for j, addr in enumerate(addresses):
            ap = f.index(f.child(p, "addresses"), j)
            if address_type in ("IPv4", "IPv6"):
                msgs = names.is_valid_ip(_s(addr))
                if not msgs and (":" in _s(addr)) != (address_type == "IPv6"):
                    msgs = [f"must be an {address_type} address"]
                out += f.invalid_each(ap, addr, msgs)
            elif address_type == "FQDN":
                out += f.invalid_each(ap, addr, names.is_dns1123_subdomain(_s(addr)))
    seen: set[str] = set()
    for i, port in enumerate(_list(obj.get("ports"))):
        port = _dict(port)
        p = f.index("ports", i)
        name = _s(port.get("name"))
        if name:
            out += f.invalid_each(f.child(p, "name"), name, names.is_dns1123_label(name))
        if name in seen:
            out.append(f.duplicate(f.child(p, "name"), name))
        seen.add(name)
        proto = port.get("protocol")
        if isinstance(proto, str) and proto not in PROTOCOLS:
            out.append(f.not_supported(f.child(p, "protocol"), proto, PROTOCOLS))
        num = _int(port.get("port"))
        if num is not None:
            out += f.invalid_each(f.child(p, "port"), num, names.is_in_range(num, 0, 65535))
    return out


def update_endpoint_slice(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    return create_endpoint_slice(new) + f.immutable(
        new.get("addressType"), old.get("addressType"), "addressType"
    )


# -- events.k8s.io/v1 Event --------------------------------------------------------------------------


def create_events_event(obj: dict[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    if not obj.get("eventTime"):
        out.append(f.required("eventTime"))
    for k in ("reportingController", "reportingInstance", "action", "reason"):
        if not _s(obj.get(k)):
            out.append(f.required(k))
    ctrl = _s(obj.get("reportingController"))
    if ctrl:
        out += f.invalid_each("reportingController", ctrl, names.is_qualified_name(ctrl))
    for k, limit in (("reportingInstance", 128), ("action", 128), ("reason", 128)):
        if len(_s(obj.get(k))) > limit:
            out.append(f.invalid(k, "", f"can have at most {limit} characters"))
    if len(_s(obj.get("note")).encode()) > 1024:
        out.append(f.invalid("note", "", "can have at most 1024 characters"))
    etype = obj.get("type")
    if etype not in ("Normal", "Warning"):
        out.append(f.invalid("type", etype or "", "has invalid value: " + _s(etype)))
    ns = _s(_dict(obj.get("metadata")).get("namespace"))
    regarding_ns = _s(_dict(obj.get("regarding")).get("namespace"))
    if regarding_ns and regarding_ns != ns:
        out.append(f.invalid("regarding.namespace", regarding_ns, "does not match event.namespace"))
    return out
