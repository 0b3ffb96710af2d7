"""apps/v1 validation (Deployment, ReplicaSet, StatefulSet, DaemonSet, ControllerRevision), after
upstream ``pkg/apis/apps/validation/validation.go``."""

from __future__ import annotations

from typing import Any

from kybernetes.api.errors import Cause
from kybernetes.api.validation import field as f
from kybernetes.api.validation import meta, names, podspec
from kybernetes.api.validation.podspec import _dict, _int, _s

SELECTOR_MISMATCH = "`selector` does not match template `labels`"


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return _dict(obj.get("spec"))


def _template_labels(spec: dict[str, Any]) -> Any:
    return _dict(_dict(spec.get("template")).get("metadata")).get("labels") or {}


def validate_positive_int_or_percent(value: Any, path: str) -> list[Cause]:
    if isinstance(value, str):
        return f.invalid_each(path, value, names.is_valid_percent(value))
    return f.nonnegative(value, path)


def int_or_percent_value(value: Any) -> int:
    if isinstance(value, str):
        try:
            return int(value.rstrip("%"))
        except ValueError:
            return 0
    return value if isinstance(value, int) else 0


def not_more_than_100_percent(value: Any, path: str) -> list[Cause]:
    if isinstance(value, str) and not names.is_valid_percent(value) and int_or_percent_value(value) > 100:
        return [f.invalid(path, value, "must not be greater than 100%")]
    return []


def _template_for_replicas(spec: dict[str, Any], path: str, kind: str) -> list[Cause]:
    """``ValidatePodTemplateSpecForReplicaSet`` (selector match, restartPolicy Always, no deadline)."""
    template = spec.get("template")
    tpath = f.child(path, "template")
    if not isinstance(template, dict):
        return [f.required(tpath)]
    out: list[Cause] = []
    selector = spec.get("selector")
    if meta.selector_parses(selector) and not meta.selector_is_empty(selector):
        labels = _template_labels(spec)
        if not meta.selector_matches(selector, labels):
            out.append(f.invalid(f.child(tpath, "metadata", "labels"), labels, SELECTOR_MISMATCH))
    out += podspec.validate_long_running_template(template, tpath, kind)
    return out


def _selector(spec: dict[str, Any], path: str, kind: str) -> tuple[list[Cause], bool]:
    selector = spec.get("selector")
    sp = f.child(path, "selector")
    if not isinstance(selector, dict):
        return [f.required(sp)], False
    out = meta.validate_label_selector(selector, sp)
    if meta.selector_is_empty(selector):
        out.append(f.invalid(sp, selector, f"empty selector is invalid for {kind}"))
    return out, True


# -- Deployment ---------------------------------------------------------------------------------------


def _deployment_strategy(strategy: Any, path: str) -> list[Cause]:
    strategy = _dict(strategy)
    stype = strategy.get("type")
    rolling = strategy.get("rollingUpdate")
    out: list[Cause] = []
    if stype == "Recreate":
        if rolling is not None:
            out.append(
                f.forbidden(
                    f.child(path, "rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"
                )
            )
    elif stype == "RollingUpdate" or stype is None:
        if isinstance(rolling, dict):
            rp = f.child(path, "rollingUpdate")
            mu, ms = rolling.get("maxUnavailable"), rolling.get("maxSurge")
            out += validate_positive_int_or_percent(mu, f.child(rp, "maxUnavailable"))
            out += validate_positive_int_or_percent(ms, f.child(rp, "maxSurge"))
            if (
                mu is not None
                and ms is not None
                and int_or_percent_value(mu) == 0
                and int_or_percent_value(ms) == 0
            ):
                out.append(f.invalid(f.child(rp, "maxUnavailable"), mu, "may not be 0 when `maxSurge` is 0"))
            out += not_more_than_100_percent(mu, f.child(rp, "maxUnavailable"))
    else:
        out.append(f.not_supported(f.child(path, "type"), stype, ("Recreate", "RollingUpdate")))
    return out


def create_deployment(obj: dict[str, Any]) -> list[Cause]:
    spec = _spec(obj)
    out = f.nonnegative(spec.get("replicas"), "spec.replicas")
    sel_errs, has_selector = _selector(spec, "spec", "deployment")
    out += sel_errs
    if not has_selector:
        return out
    out += _template_for_replicas(spec, "spec", "ReplicaSet")
    out += _deployment_strategy(spec.get("strategy"), "spec.strategy")
    out += f.nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    out += f.nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit")
    pds = _int(spec.get("progressDeadlineSeconds"))
    if pds is not None:
        out += f.nonnegative(pds, "spec.progressDeadlineSeconds")
        if pds <= (_int(spec.get("minReadySeconds")) or 0):
            out.append(f.invalid("spec.progressDeadlineSeconds", pds, "must be greater than minReadySeconds"))
    return out


def update_deployment(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    return create_deployment(new) + f.immutable(
        _spec(new).get("selector"), _spec(old).get("selector"), "spec.selector"
    )


def status_replicas(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    """Shared status checks of the replica-managing workloads."""
    status = _dict(new.get("status"))
    out: list[Cause] = []
    for k in (
        "replicas",
        "updatedReplicas",
        "readyReplicas",
        "availableReplicas",
        "unavailableReplicas",
        "fullyLabeledReplicas",
        "currentReplicas",
        "observedGeneration",
        "currentNumberScheduled",
        "numberMisscheduled",
        "desiredNumberScheduled",
        "numberReady",
        "updatedNumberScheduled",
        "numberAvailable",
        "numberUnavailable",
        "collisionCount",
    ):
        out += f.nonnegative(status.get(k), f.child("status", k))
    replicas, ready, available = (
        _int(status.get(k)) for k in ("replicas", "readyReplicas", "availableReplicas")
    )
    if ready is not None and replicas is not None and ready > replicas:
        out.append(f.invalid("status.readyReplicas", ready, "cannot be greater than status.replicas"))
    if available is not None and replicas is not None and available > replicas:
        out.append(f.invalid("status.availableReplicas", available, "cannot be greater than status.replicas"))
    if available is not None and ready is not None and available > ready:
        out.append(f.invalid("status.availableReplicas", available, "cannot be greater than readyReplicas"))
    return out


# -- ReplicaSet ---------------------------------------------------------------------------------------


def create_replica_set(obj: dict[str, Any]) -> list[Cause]:
    spec = _spec(obj)
    out = f.nonnegative(spec.get("replicas"), "spec.replicas")
    out += f.nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    sel_errs, has_selector = _selector(spec, "spec", "deployment")
    out += sel_errs
    if has_selector:
        out += _template_for_replicas(spec, "spec", "ReplicaSet")
    return out


def update_replica_set(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    return create_replica_set(new) + f.immutable(
        _spec(new).get("selector"), _spec(old).get("selector"), "spec.selector"
    )


# -- StatefulSet --------------------------------------------------------------------------------------


def create_stateful_set(obj: dict[str, Any]) -> list[Cause]:
    spec = _spec(obj)
    out: list[Cause] = []
    pmp = spec.get("podManagementPolicy")
    if isinstance(pmp, str) and pmp not in ("OrderedReady", "Parallel"):
        out.append(f.invalid("spec.podManagementPolicy", pmp, "must be 'OrderedReady' or 'Parallel'"))
    strategy = _dict(spec.get("updateStrategy"))
    stype = strategy.get("type")
    if stype == "OnDelete":
        if strategy.get("rollingUpdate") is not None:
            out.append(
                f.invalid(
                    "spec.updateStrategy.rollingUpdate",
                    strategy["rollingUpdate"],
                    "only allowed for updateStrategy 'RollingUpdate'",
                )
            )
    elif stype == "RollingUpdate":
        rolling = _dict(strategy.get("rollingUpdate"))
        out += f.nonnegative(rolling.get("partition"), "spec.updateStrategy.rollingUpdate.partition")
        mu = rolling.get("maxUnavailable")
        if mu is not None:
            out += validate_positive_int_or_percent(mu, "spec.updateStrategy.rollingUpdate.maxUnavailable")
            if int_or_percent_value(mu) == 0:
                out.append(
                    f.invalid(
                        "spec.updateStrategy.rollingUpdate.maxUnavailable", mu, "must be greater than 0"
                    )
                )
            out += not_more_than_100_percent(mu, "spec.updateStrategy.rollingUpdate.maxUnavailable")
    elif stype is not None:
        out.append(f.invalid("spec.updateStrategy", strategy, "must be 'RollingUpdate' or 'OnDelete'"))
    retention = _dict(spec.get("persistentVolumeClaimRetentionPolicy"))
    for k in ("whenDeleted", "whenScaled"):
        v = retention.get(k)
        if isinstance(v, str) and v not in ("Retain", "Delete"):
            out.append(
                f.not_supported(
                    f.child("spec.persistentVolumeClaimRetentionPolicy", k), v, ("Retain", "Delete")
                )
            )
    out += f.nonnegative(spec.get("replicas"), "spec.replicas")
    out += f.nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    out += f.nonnegative(_dict(spec.get("ordinals")).get("start"), "spec.ordinals.start")
    sel_errs, has_selector = _selector(spec, "spec", "statefulset")
    out += sel_errs
    template = spec.get("template")
    if has_selector and isinstance(template, dict):
        selector = spec.get("selector")
        labels = _template_labels(spec)
        if meta.selector_parses(selector) and not meta.selector_matches(selector, labels):
            out.append(f.invalid("spec.template.metadata.labels", labels, SELECTOR_MISMATCH))
    out += podspec.validate_long_running_template(template, "spec.template", "StatefulSet")
    for i, claim in enumerate(spec.get("volumeClaimTemplates") or []):
        name = _s(_dict(_dict(claim).get("metadata")).get("name"))
        p = f.child(f.index("spec.volumeClaimTemplates", i), "metadata", "name")
        if not name:
            out.append(f.required(p, "name or generateName is required"))
        else:
            out += f.invalid_each(p, name, names.name_is_dns_subdomain(name, False))
    return out


_STS_MUTABLE = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
)


def update_stateful_set(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    out = create_stateful_set(new)
    ns = {k: v for k, v in _spec(new).items() if k not in _STS_MUTABLE}
    os_ = {k: v for k, v in _spec(old).items() if k not in _STS_MUTABLE}
    if not f.semantic_equal(ns, os_):
        out.append(
            f.forbidden(
                "spec",
                "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
                "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            )
        )
    return out


# -- DaemonSet ----------------------------------------------------------------------------------------


def create_daemon_set(obj: dict[str, Any]) -> list[Cause]:
    spec = _spec(obj)
    out: list[Cause] = []
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        out.append(f.required("spec.selector"))
    else:
        out += meta.validate_label_selector(selector, "spec.selector")
        labels = _template_labels(spec)
        if meta.selector_parses(selector) and not meta.selector_matches(selector, labels):
            out.append(f.invalid("spec.template.metadata.labels", labels, SELECTOR_MISMATCH))
        if meta.selector_is_empty(selector):
            out.append(f.invalid("spec.selector", selector, "empty selector is invalid for daemonset"))
    template = spec.get("template")
    out += podspec.validate_long_running_template(
        template, "spec.template", "DaemonSet", deadline_invalid=True
    )
    out += f.nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    out += f.nonnegative(spec.get("templateGeneration"), "spec.templateGeneration")
    strategy = _dict(spec.get("updateStrategy"))
    stype = strategy.get("type")
    if stype == "RollingUpdate":
        rolling = strategy.get("rollingUpdate")
        rp = "spec.updateStrategy.rollingUpdate"
        if not isinstance(rolling, dict):
            out.append(f.required(rp))
        else:
            mu, ms = rolling.get("maxUnavailable"), rolling.get("maxSurge")
            out += validate_positive_int_or_percent(mu, f.child(rp, "maxUnavailable"))
            out += validate_positive_int_or_percent(ms, f.child(rp, "maxSurge"))
            if int_or_percent_value(mu) == 0 and int_or_percent_value(ms) == 0:
                out.append(f.invalid(f.child(rp, "maxUnavailable"), mu, "may not be 0 when `maxSurge` is 0"))
            out += not_more_than_100_percent(mu, f.child(rp, "maxUnavailable"))
            out += not_more_than_100_percent(ms, f.child(rp, "maxSurge"))
    elif stype not in ("OnDelete", None):
        out.append(f.not_supported("spec.updateStrategy.type", stype, ("OnDelete", "RollingUpdate")))
    out += f.nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit")
    return out


def update_daemon_set(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    return create_daemon_set(new) + f.immutable(
        _spec(new).get("selector"), _spec(old).get("selector"), "spec.selector"
    )


# -- ControllerRevision -------------------------------------------------------------------------------


def create_controller_revision(obj: dict[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    if obj.get("data") is None:
        out.append(f.required("data", "data is mandatory"))
    out += f.nonnegative(obj.get("revision"), "revision")
    return out


def update_controller_revision(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    return create_controller_revision(new) + f.immutable(new.get("data"), old.get("data"), "data")
