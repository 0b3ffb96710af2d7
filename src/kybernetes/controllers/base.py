"""What every controller shares: its context, the reconcile-loop skeleton, and small helpers.

A controller watches resources through the shared informers of ``ControllerContext.informers``, turns
events into keys (``namespace/name``) on its own ``WorkQueue``, and reconciles one key at a time per
worker by reading informer caches and writing through the API. Controllers never import each other and
never touch the store: everything goes through ``kybernetes.client`` over HTTP.

To write one: subclass ``Controller``, set ``name``, register informer handlers in ``__init__`` (use
``self.enqueue_obj`` / ``self.enqueue_owner``), implement ``async reconcile(key)``. The manager calls
``await controller.run(workers)`` once the informers are synced.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kybernetes.api.conditions import get_condition
from kybernetes.api.meta import parse_time
from kybernetes.client import (
    ApiClient,
    EventRecorder,
    SharedInformerFactory,
    WorkQueue,
    object_key,
    run_worker,
)
from kybernetes.client.informer import DeletedFinalStateUnknown

log = logging.getLogger(__name__)


@dataclass
class ControllerOptions:
    """Tunables, named after upstream's kube-controller-manager flags (seconds)."""

    node_monitor_period: float = 5.0
    node_monitor_grace_period: float = 40.0
    # default tolerationSeconds for not-ready/unreachable NoExecute taints (DefaultTolerationSeconds)
    default_not_ready_toleration_seconds: int = 300
    default_unreachable_toleration_seconds: int = 300
    horizontal_pod_autoscaler_sync_period: float = 15.0
    resource_quota_sync_period: float = 30.0
    cronjob_sync_period: float = 10.0
    terminated_pod_gc_threshold: int = 12500
    job_backoff_base_seconds: float = 10.0
    job_backoff_max_seconds: float = 360.0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ControllerContext:
    api: ApiClient
    informers: SharedInformerFactory
    options: ControllerOptions = field(default_factory=ControllerOptions)
    recorders: dict[str, EventRecorder] = field(default_factory=dict)

    def recorder(self, component: str) -> EventRecorder:
        rec = self.recorders.get(component)
        if rec is None:
            rec = self.recorders[component] = EventRecorder(self.api, component)
        return rec


def unwrap(obj: Any) -> Mapping[str, Any] | None:
    """The object of a handler callback, also when the informer reports a missed delete."""
    if isinstance(obj, DeletedFinalStateUnknown):
        return obj.obj
    return obj if isinstance(obj, Mapping) else None


def controller_owner(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ownerReference with ``controller: true``, if any."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


CONTROLLER_UID_INDEX = "workloads:controller-uid"


def controller_uid_index(obj: Mapping[str, Any]) -> list[str]:
    """Index function (``CONTROLLER_UID_INDEX``): the uid of an object's controlling owner."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller") and ref.get("uid"):
            return [str(ref["uid"])]
    return []


def ready_since(pod: Mapping[str, Any]) -> float | None:
    """When the pod's Ready condition turned True (epoch seconds; 0.0 when the time does not parse),
    or None when it is not Ready."""
    cond = get_condition(pod.get("status"), "Ready")
    if cond is None or cond.get("status") != "True":
        return None
    return parse_time(cond.get("lastTransitionTime")) or 0.0


class Controller:
    """Reconcile-loop skeleton: a work queue of keys and ``workers`` concurrent reconcilers."""

    name = "controller"

    def __init__(self, ctx: ControllerContext) -> None:
        self.ctx = ctx
        self.api = ctx.api
        self.queue: WorkQueue[str] = WorkQueue(name=self.name)
        self.recorder = ctx.recorder(self.name)

    # --- enqueueing ------------------------------------------------------------------------------------
    def enqueue(self, key: str) -> None:
        self.queue.add(key)

    def enqueue_obj(self, obj: Any, *_: Any) -> None:
        """Informer handler: queue the object's own key (works for add, update(old, new) and delete)."""
        target = unwrap(obj)
        if target is not None:
            self.queue.add(object_key(target))

    def enqueue_new(self, old: Any, new: Any) -> None:
        self.enqueue_obj(new)

    def enqueue_owner(self, kind: str, obj: Any, *_: Any) -> None:
        """Informer handler for dependents: queue the controlling owner of ``kind``."""
        target = unwrap(obj)
        if target is None:
            return
        ref = controller_owner(target)
        if ref is not None and ref.get("kind") == kind:
            ns = (target.get("metadata") or {}).get("namespace")
            self.queue.add(f"{ns}/{ref['name']}" if ns else str(ref["name"]))

    # --- running ---------------------------------------------------------------------------------------
    async def reconcile(self, key: str) -> None:
        raise NotImplementedError

    async def run(self, workers: int = 2) -> None:
        """Run until cancelled; the caller has started and synced the informers."""
        tasks = [asyncio.create_task(run_worker(self.queue, self.reconcile)) for _ in range(max(1, workers))]
        extra = self.background()
        if extra is not None:
            tasks.append(asyncio.create_task(extra))
        try:
            await asyncio.gather(*tasks)
        finally:
            self.queue.shut_down()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def background(self) -> Any:
        """An optional coroutine run beside the workers (periodic syncs)."""
        return None
