"""APIServices the server keeps in sync itself, as kube-aggregator's controllers do in-process.

* **Local APIServices** (``spec.service`` null): one per served group version, named
  ``<version>.<group>`` (``v1.`` for the core group). Built-in group versions carry upstream's
  priorities (``registry.API_SERVICE_PRIORITIES``) and the label
  ``kube-aggregator.kubernetes.io/automanaged: onstart``; they are reconciled at start (created,
  corrected, or deleted when no longer served), like upstream's autoregister controller. Custom resource
  group versions get ``groupPriorityMinimum: 1000`` / ``versionPriority: 100`` and the label ``true``,
  following their CRDs as the crdregistration controller does.
* **Availability**: every APIService gets an ``Available`` condition. Local ones are always
  ``True`` (reason ``Local``). For a service-backed APIService the Service, its port and its Endpoints
  are checked with upstream's reasons (``ServiceNotFound``, ``ServicePortError``, ``EndpointsNotFound``,
  ``MissingEndpoints``); when all exist the condition is still ``False`` with ``FailedDiscoveryCheck``,
  because this server does not proxy to aggregated API servers yet, and such group versions are not
  added to discovery.

``run(ctx)`` is the background task ``ApiContext.start`` owns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from kybernetes.api import errors, meta
from kybernetes.api.conditions import get_condition, transition_time
from kybernetes.api.registry import API_SERVICE_PRIORITIES, Registry
from kybernetes.apiserver.resource_store import ResourceStore, ServingContext
from kybernetes.apiserver.strategies.cluster import local_available_condition
from kybernetes.storage import KeyExistsError

log = logging.getLogger(__name__)

AUTOMANAGED_LABEL = "kube-aggregator.kubernetes.io/automanaged"
ON_START = "onstart"
FOLLOWS_CRD = "true"
CRD_PRIORITY = (1000, 100)
# Upstream's available-condition controller resyncs every 30 s; service-backed APIServices are
# re-checked this often, and on every change to an APIService.
RESYNC_SECONDS = 10.0
REGISTRY_POLL_SECONDS = 1.0


def api_service_name(group: str, version: str) -> str:
    return f"{version}.{group}"


def desired_local(registry: Registry) -> dict[str, tuple[dict[str, Any], str]]:
    """Name -> (spec, automanaged label) of every local APIService the registry implies."""
    out: dict[str, tuple[dict[str, Any], str]] = {}
    for info in registry:
        name = api_service_name(info.group, info.version)
        if name in out:
            continue
        if info.custom:
            priority, label = CRD_PRIORITY, FOLLOWS_CRD
        else:
            found = API_SERVICE_PRIORITIES.get((info.group, info.version))
            if found is None:
                continue  # upstream skips group versions it has no priority for
            priority, label = found, ON_START
        spec = {
            "group": info.group,
            "version": info.version,
            "groupPriorityMinimum": priority[0],
            "versionPriority": priority[1],
        }
        out[name] = (spec, label)
    return out


def _local_object(name: str, spec: dict[str, Any], label: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {
            "name": name,
            "uid": meta.new_uid(),
            "creationTimestamp": meta.now_rfc3339(),
            "labels": {AUTOMANAGED_LABEL: label},
        },
        "spec": dict(spec),
        "status": {"conditions": [local_available_condition()]},
    }


def _spec_matches(current: dict[str, Any], spec: dict[str, Any]) -> bool:
    have = current.get("spec") or {}
    return have.get("service") is None and all(have.get(k) == v for k, v in spec.items())


async def sync_local(ctx: ServingContext, *, labels: tuple[str, ...] = (ON_START, FOLLOWS_CRD)) -> None:
    """Create, correct or delete the automanaged local APIServices carrying one of ``labels``."""
    rs = ctx.store_for("apiregistration.k8s.io", "v1", "apiservices")
    desired = {n: v for n, v in desired_local(ctx.registry).items() if v[1] in labels}
    existing = {obj["metadata"]["name"]: obj for obj in (await rs.list(None)).items}
    for name, (spec, label) in desired.items():
        current = existing.get(name)
        if current is None:
            with contextlib.suppress(KeyExistsError, errors.StatusError):
                await rs.create(_local_object(name, spec, label))
            continue
        if _spec_matches(current, spec) and (
            (current["metadata"].get("labels") or {}).get(AUTOMANAGED_LABEL)
        ):
            continue

        def correct(obj: dict[str, Any], spec: dict[str, Any] = spec, label: str = label) -> dict[str, Any]:
            obj["spec"] = dict(spec)
            obj["metadata"].setdefault("labels", {})[AUTOMANAGED_LABEL] = label
            return obj

        with contextlib.suppress(errors.StatusError):
            await rs.guaranteed_update(None, name, correct)
    for name, obj in existing.items():
        owner = (obj["metadata"].get("labels") or {}).get(AUTOMANAGED_LABEL)
        if owner in labels and name not in desired:
            with contextlib.suppress(errors.StatusError):
                await rs.delete_now(None, name, int(obj["metadata"]["resourceVersion"]))


# ---------------------------------------------------------------------------------------------------
# Availability


def _condition(status: str, reason: str, message: str) -> dict[str, Any]:
    return {"type": "Available", "status": status, "reason": reason, "message": message}


async def availability(ctx: ServingContext, api_service: dict[str, Any]) -> dict[str, Any]:
    """The ``Available`` condition of one APIService (without ``lastTransitionTime``)."""
    spec = api_service.get("spec") or {}
    ref = spec.get("service")
    if not isinstance(ref, dict):
        return _condition("True", "Local", "Local APIServices are always available")
    name, namespace = str(ref.get("name") or ""), str(ref.get("namespace") or "")
    port = int(ref.get("port") or 443)
    service = await ctx.store_for("", "v1", "services").try_get(namespace, name)
    if service is None:
        return _condition("False", "ServiceNotFound", f'service/{name} in "{namespace}" is not present')
    svc_spec = service.get("spec") or {}
    if svc_spec.get("type") != "ExternalName":
        ports = [p for p in svc_spec.get("ports") or [] if isinstance(p, dict) and p.get("port") == port]
        if not ports:
            return _condition(
                "False",
                "ServicePortError",
                f'service/{name} in "{namespace}" is not listening on port {port}',
            )
        port_name = str(ports[0].get("name") or "")
        endpoints = await ctx.store_for("", "v1", "endpoints").try_get(namespace, name)
        if endpoints is None:
            return _condition(
                "False", "EndpointsNotFound", f'cannot find endpoints for service/{name} in "{namespace}"'
            )
        ready = any(
            subset.get("addresses") and any(p.get("name", "") == port_name for p in subset.get("ports") or [])
            for subset in endpoints.get("subsets") or []
            if isinstance(subset, dict)
        )
        if not ready:
            return _condition(
                "False",
                "MissingEndpoints",
                f'endpoints for service/{name} in "{namespace}" have no addresses with port name "{port_name}"',
            )
    url = f"https://{name}.{namespace}.svc:{port}/apis/{spec.get('group')}/{spec.get('version')}"
    return _condition(
        "False",
        "FailedDiscoveryCheck",
        f"failing or missing response from {url}: proxying to aggregated API servers is not implemented",
    )


def _merged_status(obj: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any] | None:
    """The status with ``wanted`` as its Available condition, or None when nothing would change."""
    status = dict(obj.get("status") or {})
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    current = get_condition(status, "Available")
    if current is not None and all(current.get(k) == wanted[k] for k in ("status", "reason", "message")):
        return None
    condition = dict(wanted)
    condition["lastTransitionTime"] = transition_time(current, wanted["status"], meta.now_rfc3339())
    status["conditions"] = [c for c in conditions if c.get("type") != "Available"] + [condition]
    return status


async def check_all(ctx: ServingContext, rs: ResourceStore) -> None:
    for obj in (await rs.list(None)).items:
        wanted = await availability(ctx, obj)
        if _merged_status(obj, wanted) is None:
            continue

        async def update(current: dict[str, Any], wanted: dict[str, Any] = wanted) -> dict[str, Any]:
            status = _merged_status(current, wanted)
            if status is not None:
                current["status"] = status
            return current

        with contextlib.suppress(errors.StatusError):
            await rs.guaranteed_update(None, obj["metadata"]["name"], update)


async def _watch_changes(rs: ResourceStore, after: int, changed: asyncio.Event) -> None:
    while True:
        try:
            async for event in rs.watch(None, after):
                after = event.revision
                changed.set()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.debug("APIService watch ended; resuming", exc_info=True)
            await asyncio.sleep(1.0)
            after = await rs.store.current_revision()


async def run(ctx: ServingContext) -> None:
    """Follow CRD registry changes and keep every APIService's Available condition current."""
    rs = ctx.store_for("apiregistration.k8s.io", "v1", "apiservices")
    changed = asyncio.Event()
    watcher: asyncio.Task[None] | None = None
    seen_generation = ctx.registry_generation  # ``ApiContext.start`` ran the first full sync
    loop = asyncio.get_running_loop()
    next_check = 0.0
    try:
        while True:
            try:
                if watcher is None:
                    watcher = asyncio.create_task(
                        _watch_changes(rs, await ctx.store.current_revision(), changed)
                    )
                if ctx.registry_generation != seen_generation:
                    seen_generation = ctx.registry_generation
                    await sync_local(ctx, labels=(FOLLOWS_CRD,))
                    changed.set()
                if changed.is_set() or loop.time() >= next_check:
                    changed.clear()
                    await check_all(ctx, rs)
                    next_check = loop.time() + RESYNC_SECONDS
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("APIService sync failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), REGISTRY_POLL_SECONDS)
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher
