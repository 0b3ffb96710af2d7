"""ResourceQuota: usage tracking (the controller) and enforcement (a pure admission function).

Two halves, as upstream (``pkg/controller/resourcequota`` + ``plugin/pkg/admission/resourcequota`` +
``pkg/quota/v1/evaluator/core``), written afresh:

- **Evaluation** (pure; imports only ``kybernetes.api``): ``usage(plural, group, obj)`` is what one object
  counts against a quota: ``count/<resource>[.<group>]`` for every object; for pods ``pods``, ``cpu`` /
  ``requests.cpu``, ``memory`` / ``requests.memory``, ``limits.*``, ``ephemeral-storage``, hugepages and
  extended resources (``requests.<name>``) from the pod's effective requests and limits (containers summed,
  init containers as a maximum, plus overhead); terminal pods and pods past their deletion grace count only
  ``count/pods``. Services count ``services``, ``services.nodeports`` (one per port of NodePort and
  LoadBalancer services) and ``services.loadbalancers``; PVCs ``persistentvolumeclaims``,
  ``requests.storage`` and the per-StorageClass forms; configmaps, secrets, replicationcontrollers and
  resourcequotas their legacy names. Quota scopes: Terminating, NotTerminating, BestEffort,
  NotBestEffort and ``scopeSelector`` (those plus PriorityClass with In/NotIn/Exists/DoesNotExist); a scoped
  quota only ever matches pods.
- **Admission** (pure): ``check_quota(quotas, obj, plural=..., group=..., operation=..., old=...)`` refuses
  with upstream's 403 messages ("exceeded quota: compute-quota, requested: requests.cpu=2, used:
  requests.cpu=1, limited: requests.cpu=2"; "failed quota: q: must specify limits.cpu for: c; ...";
  "status unknown for quota: q, resources: ...") or returns the quotas whose ``status.used`` it raised,
  for the API server to write back with compare-and-swap before it stores the object.
- **ResourceQuotaController**: keeps ``status.hard`` = ``spec.hard`` and ``status.used`` for every hard
  resource, recomputed from informer caches when a quota changes, when an object it tracks changes in the
  namespace, and every ``resource_quota_sync_period``.

Quantities are exact ``Fraction`` values from ``kybernetes.api.validation.quantity``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from kybernetes.api.quota import (
    Obj,
    Usage,
    _q,
    _render,
    matches_quota,
    tracks,
    usage,
)
from kybernetes.client import Informer, object_key, split_key
from kybernetes.controllers.base import Controller, ControllerContext, unwrap

# --- the controller ---------------------------------------------------------------------------------------
CORE_TRACKED = (
    "pods",
    "services",
    "configmaps",
    "secrets",
    "persistentvolumeclaims",
    "replicationcontrollers",
)


class ResourceQuotaController(Controller):
    """Keeps every ResourceQuota's ``status`` (hard and used) current. Queue keys: ``namespace/name``."""

    name = "resourcequota-controller"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.sync_period = float(ctx.options.resource_quota_sync_period)
        self.quotas = ctx.informers.informer(self.api.resourcequotas)
        self.quotas.add_event_handler(self.enqueue_obj, self._quota_updated, None)
        self.tracked: dict[tuple[str, str], Informer] = {}
        for plural in CORE_TRACKED:
            self._track("", plural)

    def _track(self, group: str, plural: str) -> Informer | None:
        key = (group, plural)
        inf = self.tracked.get(key)
        if inf is not None:
            return inf
        info = next((i for i in self.api.registry if i.group == group and i.plural == plural), None)
        if info is None:
            return None
        client = self.api.client_for(info)
        inf = self.ctx.informers.informer(client)
        handler = self._on_object_for(group, plural)
        inf.add_event_handler(handler, lambda old, new: handler(new), handler)
        self.tracked[key] = inf
        return inf

    def _on_object_for(self, group: str, plural: str) -> Any:
        def on_object(obj: Any, *_: Any) -> None:
            target = unwrap(obj)
            if target is None:
                return
            ns = (target.get("metadata") or {}).get("namespace")
            if not ns:
                return
            for quota in self.quotas.list(ns):
                hard = (quota.get("spec") or {}).get("hard") or {}
                if any(tracks(plural, group, r) for r in hard):
                    self.queue.add(object_key(quota))

        return on_object

    def _quota_updated(self, old: Obj, new: Obj) -> None:
        if old.get("spec") != new.get("spec") or (new.get("status") or {}).get("hard") != (
            new.get("spec") or {}
        ).get("hard"):
            self.queue.add(object_key(new))

    def background(self) -> Any:
        return self._resync()

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.sync_period)
            for quota in self.quotas.list():
                self.queue.add(object_key(quota))

    def _informer_for_count(self, resource_name: str) -> tuple[str, str, Informer | None]:
        target = resource_name[len("count/") :]
        plural, _, group = target.partition(".")
        return group, plural, self._track(group, plural)

    async def reconcile(self, key: str) -> None:
        quota = self.quotas.indexer.get_by_key(key)
        if quota is None:
            return
        ns, _ = split_key(key)
        hard: dict[str, Any] = dict((quota.get("spec") or {}).get("hard") or {})
        now = time.time()
        used: Usage = dict.fromkeys(hard, Fraction(0))
        sources: dict[tuple[str, str], Informer] = {}
        for resource_name in hard:
            if resource_name.startswith("count/"):
                group, plural, inf = self._informer_for_count(resource_name)
                if inf is not None:
                    if not inf.running:
                        inf.start()
                    if not await inf.wait_synced(10.0):
                        raise RuntimeError(f"informer for {plural}.{group} did not sync")
                    sources[(group, plural)] = inf
            for (group, plural), inf in self.tracked.items():
                if (group, plural) in CORE_TRACKED_KEYS and tracks(plural, group, resource_name):
                    sources[(group, plural)] = inf
        for (group, plural), inf in sources.items():
            for obj in inf.list(ns):
                if not matches_quota(
                    {"spec": quota.get("spec"), "status": {"hard": hard}}, plural, group, obj
                ):
                    continue
                for k, v in usage(plural, group, obj, now).items():
                    if k in used:
                        used[k] += v
        status = {"hard": dict(hard), "used": _render(used)}
        current = quota.get("status") or {}
        if _same(current.get("hard"), status["hard"]) and _same(current.get("used"), status["used"]):
            return
        body = {**quota, "status": status}
        await self.api.resourcequotas.update_status(body)


CORE_TRACKED_KEYS = frozenset(("", p) for p in CORE_TRACKED)


def _same(a: Mapping[str, Any] | None, b: Mapping[str, Any]) -> bool:
    a = a or {}
    if set(a) != set(b):
        return False
    return all(_q(a[k]) == _q(b[k]) for k in b)
