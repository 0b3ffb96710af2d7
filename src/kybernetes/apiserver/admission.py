"""Admission: server-side mutations and checks that need other objects (upstream's admission plugins).

* Priority: resolves ``spec.priorityClassName`` (or the global default PriorityClass) into
  ``spec.priority`` and ``spec.preemptionPolicy`` on pod creation; an unknown class is refused.
* The built-in ``system-node-critical`` and ``system-cluster-critical`` PriorityClasses exist from start.
* DefaultIngressClass: an Ingress created without a class gets the default IngressClass.
* RuntimeClass: a pod's ``runtimeClassName`` must name an existing RuntimeClass, whose overhead and
  scheduling constraints are merged into the pod.
* ResourceQuota: an object that would exceed a quota of its namespace is refused (403); admitted usage
  is charged to the quotas' ``status.used`` with compare-and-swap before the object is stored, as upstream
  does, so concurrent creates cannot overshoot. The ResourceQuota controller recomputes usage from scratch.
"""

from __future__ import annotations

import contextlib
from typing import Any

from kybernetes.api import errors, meta
from kybernetes.api.quota import check_quota
from kybernetes.apiserver.resource_store import StoreLocator
from kybernetes.storage import KeyExistsError

SYSTEM_PRIORITY_CLASSES = {
    "system-node-critical": 2000001000,
    "system-cluster-critical": 2000000000,
}


async def ensure_system_priority_classes(ctx: StoreLocator) -> None:
    store = ctx.store_for("scheduling.k8s.io", "v1", "priorityclasses")
    for name, value in SYSTEM_PRIORITY_CLASSES.items():
        if await store.try_get(None, name) is not None:
            continue
        obj = {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": name, "uid": meta.new_uid(), "creationTimestamp": meta.now_rfc3339()},
            "value": value,
            "globalDefault": False,
            "preemptionPolicy": "PreemptLowerPriority",
            "description": "Used for system critical pods that must run in the cluster.",
        }
        with contextlib.suppress(KeyExistsError, errors.StatusError):
            await store.create(obj)


async def admit_pod_priority(ctx: StoreLocator, pod: dict[str, Any]) -> None:
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return
    store = ctx.store_for("scheduling.k8s.io", "v1", "priorityclasses")
    class_name = spec.get("priorityClassName")
    chosen: dict[str, Any] | None = None
    if class_name:
        chosen = await store.try_get(None, class_name)
        if chosen is None:
            raise errors.forbidden(
                "pods",
                pod["metadata"].get("name", ""),
                f"no PriorityClass with name {class_name} was found",
            )
    else:
        listed = await store.list(None)
        defaults = [pc for pc in listed.items if pc.get("globalDefault")]
        if defaults:
            chosen = min(defaults, key=lambda pc: int(pc.get("value") or 0))
            spec["priorityClassName"] = chosen["metadata"]["name"]
    value = int(chosen.get("value") or 0) if chosen else 0
    # defaulting already wrote 0 when the client gave no priority
    if spec.get("priority") not in (None, 0, value):
        raise errors.forbidden(
            "pods",
            pod["metadata"].get("name", ""),
            "the integer value of priority must not be provided in pod spec; priority admission controller "
            "computed " + str(value) + " from the given PriorityClass name",
        )
    spec["priority"] = value
    if chosen is not None:
        spec["preemptionPolicy"] = chosen.get("preemptionPolicy") or "PreemptLowerPriority"
    else:
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")


DEFAULT_INGRESS_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
LEGACY_INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"


async def admit_default_ingress_class(ctx: StoreLocator, ingress: dict[str, Any]) -> None:
    """DefaultIngressClass: an Ingress without a class gets the default IngressClass (the newest one
    when several are marked default)."""
    spec = ingress.setdefault("spec", {})
    annotations = (ingress.get("metadata") or {}).get("annotations") or {}
    if (
        not isinstance(spec, dict)
        or spec.get("ingressClassName")
        or LEGACY_INGRESS_CLASS_ANNOTATION in annotations
    ):
        return
    classes = (await ctx.store_for("networking.k8s.io", "v1", "ingressclasses").list(None)).items
    defaults = [
        c
        for c in classes
        if ((c.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_INGRESS_CLASS_ANNOTATION)
        == "true"
    ]
    if defaults:
        newest = max(
            defaults, key=lambda c: (c["metadata"].get("creationTimestamp") or "", c["metadata"]["name"])
        )
        spec["ingressClassName"] = newest["metadata"]["name"]


async def admit_pod_runtime_class(ctx: StoreLocator, pod: dict[str, Any]) -> None:
    """RuntimeClass admission: the pod's RuntimeClass must exist; its overhead and scheduling (node
    selector, tolerations) are merged into the pod, conflicts refused."""
    spec = pod.get("spec")
    if not isinstance(spec, dict) or not spec.get("runtimeClassName"):
        return
    name = str(spec["runtimeClassName"])
    pod_name = (pod.get("metadata") or {}).get("name", "")
    runtime_class = await ctx.store_for("node.k8s.io", "v1", "runtimeclasses").try_get(None, name)
    if runtime_class is None:
        raise errors.forbidden("pods", pod_name, f'pod rejected: RuntimeClass "{name}" not found')
    overhead = (runtime_class.get("overhead") or {}).get("podFixed")
    if overhead:
        if spec.get("overhead") and spec["overhead"] != overhead:
            raise errors.forbidden(
                "pods", pod_name, "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead"
            )
        spec["overhead"] = dict(overhead)
    scheduling = runtime_class.get("scheduling") or {}
    selector = dict(spec.get("nodeSelector") or {})
    for key, value in (scheduling.get("nodeSelector") or {}).items():
        if key in selector and selector[key] != value:
            raise errors.forbidden(
                "pods",
                pod_name,
                f"conflict: runtimeClass.scheduling.nodeSelector[{key}] = {value}; "
                f"pod.spec.nodeSelector[{key}] = {selector[key]}",
            )
        selector[key] = value
    if selector:
        spec["nodeSelector"] = selector
    tolerations = list(spec.get("tolerations") or [])
    for toleration in scheduling.get("tolerations") or []:
        if toleration not in tolerations:
            tolerations.append(toleration)
    if tolerations:
        spec["tolerations"] = tolerations


async def admit_create(ctx: StoreLocator, kind: str, group: str, obj: dict[str, Any]) -> None:
    if group == "" and kind == "Pod":
        await admit_pod_priority(ctx, obj)
        await admit_pod_runtime_class(ctx, obj)
    elif group == "networking.k8s.io" and kind == "Ingress":
        await admit_default_ingress_class(ctx, obj)


QUOTA_CHARGE_ATTEMPTS = 8


async def charge_quota(
    ctx: StoreLocator,
    info_plural: str,
    info_group: str,
    obj: dict[str, Any],
    *,
    old: dict[str, Any] | None = None,
    dry_run: bool = False,
) -> None:
    """Check ``obj`` against its namespace's quotas and charge them (403 when over)."""

    namespace = (obj.get("metadata") or {}).get("namespace")
    if not namespace:
        return
    quotas_store = ctx.store_for("", "v1", "resourcequotas")
    for _ in range(QUOTA_CHARGE_ATTEMPTS):
        quotas = (await quotas_store.list(namespace)).items
        if not quotas:
            return
        updated = check_quota(
            quotas,
            obj,
            plural=info_plural,
            group=info_group,
            operation="UPDATE" if old is not None else "CREATE",
            old=old,
        )
        if not updated or dry_run:
            return
        try:
            for quota in updated:
                await quotas_store.replace(quota, int(quota["metadata"]["resourceVersion"]))
            return
        except errors.StatusError as exc:
            if exc.reason != "Conflict":
                raise
    raise errors.StatusError(500, "InternalError", "resource quota evaluation timed out")
