"""The scheduler proper: informer handlers feeding the cache and the queue, the scheduling cycle, the
binding cycle, failure handling, and preemption's side effects — all through the API, never the store.

One pod at a time is taken from the queue and scheduled synchronously (``schedule_one``: the framework
over the live cache), then assumed on its node and bound in a background task (``POST pods/binding``,
bounded concurrency), so the next pod is scheduled while earlier bindings are in flight. On failure the
pod goes back to the queue, and — only when something changed — its ``PodScheduled=False`` condition
(reason ``Unschedulable``, upstream's message) and ``status.nominatedNodeName`` are patched, and a
``FailedScheduling`` Warning event is recorded; on success a ``Scheduled`` Normal event. Pod priority
comes from ``spec.priority`` unless the pod names a PriorityClass this scheduler knows (the API server
does not resolve ``priorityClassName`` yet). ``app.run_scheduler`` wires it with leader election.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Mapping
from typing import Any

from kybernetes.api.conditions import get_condition
from kybernetes.api.errors import StatusError
from kybernetes.api.meta import now_rfc3339
from kybernetes.client import (
    ApiClient,
    ApiConnectionError,
    DeletedFinalStateUnknown,
    EventRecorder,
    Informer,
    SharedInformerFactory,
)
from kybernetes.scheduler.cache import Cache
from kybernetes.scheduler.framework import (
    ActionType,
    ClusterEvent,
    Code,
    CycleState,
    FitError,
    Framework,
    PodInfo,
)
from kybernetes.scheduler.plugins import DEFAULT_WEIGHTS, default_plugins
from kybernetes.scheduler.queue import QueueClosed, QueuedPodInfo, SchedulingQueue

__all__ = ["Scheduler"]

log = logging.getLogger(__name__)

SYSTEM_PRIORITIES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
TERMINAL_PHASES = ("Succeeded", "Failed")
NODE_ADD = ClusterEvent("Node", ActionType.ADD)
NODE_DELETE = ClusterEvent("Node", ActionType.DELETE)
POD_ADD = ClusterEvent("Pod", ActionType.ADD)
POD_DELETE = ClusterEvent("Pod", ActionType.DELETE)


def _obj(o: Any) -> dict[str, Any]:
    return o.obj if isinstance(o, DeletedFinalStateUnknown) else o


def node_update_action(old: Mapping[str, Any], new: Mapping[str, Any]) -> ActionType:
    """Which of the node's scheduling-relevant fields changed (0: none, e.g. a heartbeat)."""
    action = ActionType(0)
    os_, ns_ = old.get("status") or {}, new.get("status") or {}
    if os_.get("allocatable") != ns_.get("allocatable"):
        action |= ActionType.UPDATE_NODE_ALLOCATABLE
    if (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels"):
        action |= ActionType.UPDATE_NODE_LABEL
    ospec, nspec = old.get("spec") or {}, new.get("spec") or {}
    if ospec.get("taints") != nspec.get("taints"):
        action |= ActionType.UPDATE_NODE_TAINT
    if bool(ospec.get("unschedulable")) != bool(nspec.get("unschedulable")):
        action |= ActionType.UPDATE_NODE_UNSCHEDULABLE
    conds = [{k: c.get(k) for k in ("type", "status")} for c in os_.get("conditions") or ()]
    if conds != [{k: c.get(k) for k in ("type", "status")} for c in ns_.get("conditions") or ()]:
        action |= ActionType.UPDATE_NODE_CONDITION
    if old.get("status", {}).get("images") != ns_.get("images"):
        action |= ActionType.UPDATE_OTHER
    return action


def spec_changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Upstream's ``isPodUpdated``: anything but status and bookkeeping metadata."""
    om, nm = old.get("metadata") or {}, new.get("metadata") or {}
    return (
        old.get("spec") != new.get("spec")
        or om.get("labels") != nm.get("labels")
        or om.get("annotations") != nm.get("annotations")
    )


class Scheduler:
    """One scheduler instance (one profile) over its own informers; ``await run()`` until stopped."""

    def __init__(
        self,
        api: ApiClient,
        *,
        scheduler_name: str = "default-scheduler",
        informer_factory: SharedInformerFactory | None = None,
        recorder: EventRecorder | None = None,
        percentage_of_nodes_to_score: int = 0,
        pod_initial_backoff: float = 1.0,
        pod_max_backoff: float = 10.0,
        pod_max_in_unschedulable: float = 300.0,
        bind_concurrency: int = 64,
        record_scheduled_events: bool = True,
        plugins: list[Any] | None = None,
        weights: Mapping[str, int] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.api = api
        self.name = scheduler_name
        self.factory = informer_factory or SharedInformerFactory(api)
        self._own_recorder = recorder is None
        self.recorder = recorder or EventRecorder(api, scheduler_name, queue_size=20000)
        self.record_scheduled_events = record_scheduled_events
        self.cache = Cache()
        self.pods: Informer = self.factory.informer(api.pods)
        self.nodes: Informer = self.factory.informer(api.nodes)
        self.priority_classes: Informer = self.factory.informer(api.priorityclasses)
        self.pdbs: Informer = self.factory.informer(api.poddisruptionbudgets)
        self.namespaces: Informer = self.factory.informer(api.namespaces)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._bind_slots = asyncio.Semaphore(bind_concurrency)
        self.framework = Framework(
            plugins if plugins is not None else default_plugins(api, pdbs=self.pdbs.list),
            weights if weights is not None else DEFAULT_WEIGHTS,
            self.cache,
            percentage_of_nodes_to_score=percentage_of_nodes_to_score,
            spawn=self._spawn,
            rng=rng,
        )
        self.queue = SchedulingQueue(
            self.framework.events_to_register(),
            initial_backoff=pod_initial_backoff,
            max_backoff=pod_max_backoff,
            max_unschedulable=pod_max_in_unschedulable,
        )
        self.framework._nominated = self.queue.nominated
        self.scheduled = 0
        self._register_handlers()

    # --- priorities -------------------------------------------------------------------------------
    def priority_of(self, pod: Mapping[str, Any]) -> int:
        spec = pod.get("spec") or {}
        name = spec.get("priorityClassName")
        if name:
            pc = self.priority_classes.get(str(name))
            if pc is not None:
                return int(pc.get("value") or 0)
            if name in SYSTEM_PRIORITIES:
                return SYSTEM_PRIORITIES[name]
        elif not spec.get("priority"):
            for pc in self.priority_classes.list():
                if pc.get("globalDefault"):
                    return int(pc.get("value") or 0)
        return int(spec.get("priority") or 0)

    def pod_info(self, pod: dict[str, Any]) -> PodInfo:
        return PodInfo(pod, self.priority_of(pod))

    # --- informer handlers ------------------------------------------------------------------------
    def _register_handlers(self) -> None:
        self.nodes.add_event_handler(self._on_node_add, self._on_node_update, self._on_node_delete)
        self.pods.add_event_handler(self._on_pod_add, self._on_pod_update, self._on_pod_delete)
        self.priority_classes.add_event_handler(
            self._on_priority_class, lambda _o, n: self._on_priority_class(n)
        )
        self.namespaces.add_event_handler(
            lambda ns: self._on_namespace(ns, False),
            lambda _o, ns: self._on_namespace(ns, False),
            lambda ns: self._on_namespace(_obj(ns), True),
        )
        pdb_event = ClusterEvent("PodDisruptionBudget", ActionType.ALL)
        self.pdbs.add_event_handler(
            lambda _p: self.queue.move_all(pdb_event),
            lambda _o, _n: None,
            lambda _p: self.queue.move_all(pdb_event),
        )

    def _on_node_add(self, node: dict[str, Any]) -> None:
        self.cache.add_or_update_node(node)
        self.queue.move_all(NODE_ADD)

    def _on_node_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        action = node_update_action(old, new)
        self.cache.add_or_update_node(new)
        if action:
            self.queue.move_all(ClusterEvent("Node", action))

    def _on_node_delete(self, node: Any) -> None:
        self.cache.remove_node(str((_obj(node).get("metadata") or {}).get("name") or ""))
        self.queue.move_all(NODE_DELETE)

    @staticmethod
    def _assigned(pod: Mapping[str, Any]) -> bool:
        return bool((pod.get("spec") or {}).get("nodeName"))

    def _responsible(self, pod: Mapping[str, Any]) -> bool:
        return (pod.get("spec") or {}).get("schedulerName", "default-scheduler") == self.name and not (
            pod.get("metadata") or {}
        ).get("deletionTimestamp")

    def _on_pod_add(self, pod: dict[str, Any]) -> None:
        if self._assigned(pod):
            if (pod.get("status") or {}).get("phase") not in TERMINAL_PHASES:
                pi = self.pod_info(pod)
                self.cache.add_or_update_pod(pi)
                self.queue.delete(pi.key)
                self.queue.move_all(POD_ADD)
        elif self._responsible(pod):
            self.queue.add(self.pod_info(pod))

    def _on_pod_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        if self._assigned(new):
            pi = self.pod_info(new)
            if (new.get("status") or {}).get("phase") in TERMINAL_PHASES:
                if self.cache.remove_pod(pi.key) is not None:
                    self.queue.move_all(POD_DELETE)
                return
            was_assigned = self._assigned(old)
            self.cache.add_or_update_pod(pi)
            if not was_assigned:
                self.queue.delete(pi.key)
                self.queue.move_all(POD_ADD)
            elif (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels"):
                self.queue.move_all(ClusterEvent("Pod", ActionType.UPDATE_POD_LABEL))
        elif self._responsible(new):
            self.queue.update(self.pod_info(new), spec_changed=spec_changed(old, new))
        else:
            self.queue.delete(f"{new['metadata'].get('namespace')}/{new['metadata'].get('name')}")

    def _on_pod_delete(self, obj: Any) -> None:
        pod = _obj(obj)
        md = pod.get("metadata") or {}
        key = f"{md.get('namespace')}/{md.get('name')}"
        if self.cache.remove_pod(key) is not None:
            self.queue.move_all(POD_DELETE)
        self.queue.delete(key)

    def _on_priority_class(self, pc: dict[str, Any]) -> None:
        name = (pc.get("metadata") or {}).get("name")
        for pod in self.pods.list():
            spec = pod.get("spec") or {}
            if spec.get("priorityClassName") == name or (
                pc.get("globalDefault") and not spec.get("priorityClassName")
            ):
                if self._assigned(pod):
                    self.cache.add_or_update_pod(self.pod_info(pod))
                elif self._responsible(pod):
                    self.queue.update(self.pod_info(pod), spec_changed=False)

    def _on_namespace(self, ns: dict[str, Any], deleted: bool) -> None:
        md = ns.get("metadata") or {}
        self.cache.set_namespace(str(md.get("name") or ""), None if deleted else (md.get("labels") or {}))
        if not deleted:
            self.queue.move_all(ClusterEvent("Namespace", ActionType.ADD | ActionType.UPDATE_OTHER))

    # --- background work --------------------------------------------------------------------------
    def _spawn(self, coro: Awaitable[Any], name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("scheduler task %s failed", task.get_name(), exc_info=task.exception())

    # --- the loop ---------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event | None = None, *, sync_timeout: float = 60.0) -> None:
        """Start informers, wait for their caches, schedule until ``stop`` is set (or cancelled)."""
        stop = stop or asyncio.Event()
        self.factory.start()
        if not await self.factory.wait_for_cache_sync(timeout=sync_timeout):
            log.warning("scheduler caches not synced after %.0f s; scheduling anyway", sync_timeout)
        flusher = asyncio.create_task(self.queue.run(), name="scheduler-queue-flush")
        loop = asyncio.create_task(self._loop(), name="scheduler-loop")
        waiter = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({loop, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.queue.close()
            for task in (loop, flusher, waiter, *self._tasks):
                task.cancel()
            for task in (loop, flusher, waiter, *list(self._tasks)):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if self._own_recorder:
                with contextlib.suppress(Exception):
                    await self.recorder.stop(timeout=2.0)
            await self.factory.stop()
        if loop.done() and not loop.cancelled() and (exc := loop.exception()) is not None:
            raise exc

    async def _loop(self) -> None:
        while True:
            try:
                q = await self.queue.pop()
            except QueueClosed:
                return
            try:
                self.schedule_one(q)
            except Exception:
                log.exception("scheduling %s failed unexpectedly", q.key)
                self.queue.add_unschedulable(q, backoff=True)
            await asyncio.sleep(0)  # let watch events and binding replies in between pods

    def _current(self, key: str) -> dict[str, Any] | None:
        ns, _, name = key.partition("/")
        return self.pods.get(name, ns)

    def schedule_one(self, q: QueuedPodInfo) -> None:
        """One scheduling cycle for ``q`` (synchronous); binding continues in the background."""
        pi = q.pod
        current = self._current(pi.key)
        if (
            current is None
            or self._assigned(current)
            or not self._responsible(current)
            or self.cache.has_pod(pi.key)
        ):
            self.queue.done(pi.key)
            return
        state = CycleState()
        fw = self.framework
        try:
            result = fw.schedule_pod(state, pi)
        except FitError as err:
            nominated: str | None = None
            if fw.post_filter:
                pf, msg = fw.run_post_filter(state, pi, err.diagnosis.node_statuses)
                err.diagnosis.post_filter_msg = msg
                if pf is not None:
                    nominated = pf.nominated_node
                    if pf.victims:
                        self._spawn(self._preempt(pi, pf.nominated_node, pf.victims), f"preempt:{pi.key}")
            q.unschedulable_plugins = set(err.diagnosis.unschedulable_plugins)
            self._fail(q, "Unschedulable", str(err), nominated)
            return
        except Exception as exc:
            log.exception("scheduling cycle for %s", pi.key)
            q.unschedulable_plugins = set()
            self._fail(q, "SchedulerError", str(exc), None, backoff=True)
            return
        assumed = self.cache.assume(pi, result.node)
        st = fw.run_reserve(state, assumed, result.node) or fw.run_permit(state, assumed, result.node)
        if st is not None:
            fw.run_unreserve(state, assumed, result.node)
            self.cache.forget(pi.key)
            q.unschedulable_plugins = set()
            self._fail(
                q,
                "SchedulerError" if st.code is Code.ERROR else "Unschedulable",
                st.message,
                None,
                backoff=True,
            )
            return
        self._spawn(self._bind(q, state, assumed, result.node), f"bind:{pi.key}")

    async def _bind(self, q: QueuedPodInfo, state: CycleState, assumed: PodInfo, node: str) -> None:
        async with self._bind_slots:
            st = await self.framework.run_bind(state, assumed, node)
        if st is None:
            self.scheduled += 1
            self.queue.done(q.key)
            self.queue.delete_nominated(q.key)
            if self.record_scheduled_events:
                self.recorder.normal(q.pod.pod, "Scheduled", f"Successfully assigned {q.key} to {node}")
            return
        self.cache.forget(q.key)
        self.framework.run_unreserve(state, assumed, node)
        self.queue.move_all(POD_DELETE)
        current = self._current(q.key)
        if current is None or self._assigned(current):
            self.queue.done(q.key)
            return
        q.unschedulable_plugins = set()
        self._fail(q, "SchedulerError", st.message, None, backoff=True)

    def _fail(
        self, q: QueuedPodInfo, reason: str, message: str, nominated: str | None, *, backoff: bool = False
    ) -> None:
        pod = self._current(q.key)
        if pod is None or self._assigned(pod):
            self.queue.done(q.key)
            return
        self.queue.add_unschedulable(q, backoff=backoff)
        if nominated:
            self.queue.add_nominated(q.pod, nominated)
        elif nominated == "":
            self.queue.delete_nominated(q.key)
        self.recorder.warning(pod, "FailedScheduling", message)
        self._spawn(self._patch_status(pod, reason, message, nominated), f"status:{q.key}")

    async def _patch_status(
        self, pod: dict[str, Any], reason: str, message: str, nominated: str | None
    ) -> None:
        status = pod.get("status") or {}
        cond = get_condition(status, "PodScheduled") or {}
        same = (
            cond.get("status") == "False" and cond.get("reason") == reason and cond.get("message") == message
        )
        patch: dict[str, Any] = {}
        if not same:
            patch["conditions"] = [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": reason,
                    "message": message,
                    "lastProbeTime": None,
                    "lastTransitionTime": now_rfc3339(),
                }
            ]
        if nominated is not None and (status.get("nominatedNodeName") or "") != nominated:
            patch["nominatedNodeName"] = nominated or None
        if not patch:
            return
        md = pod["metadata"]
        try:
            await self.api.pods.patch(
                md["name"],
                {"status": patch},
                namespace=md["namespace"],
                patch_type="strategic",
                subresource="status",
            )
        except (StatusError, ApiConnectionError) as exc:
            log.info("updating status of %s/%s: %s", md["namespace"], md["name"], exc)

    async def _preempt(self, preemptor: PodInfo, node: str, victims: list[PodInfo]) -> None:
        """Delete the victims (after marking them DisruptionTarget) and say so on each of them."""
        for lower in list(self.queue.nominated.get(node, ())):
            if lower.priority < preemptor.priority and lower.key != preemptor.key:
                self.queue.delete_nominated(lower.key)
                self._spawn(self._clear_nominated(lower), f"unnominate:{lower.key}")

        async def evict(v: PodInfo) -> None:
            cond = {
                "type": "DisruptionTarget",
                "status": "True",
                "reason": "PreemptionByScheduler",
                "message": f"{self.name}: preempting to accommodate a higher priority pod",
                "lastTransitionTime": now_rfc3339(),
            }
            with contextlib.suppress(StatusError, ApiConnectionError):
                await self.api.pods.patch(
                    v.name,
                    {"status": {"conditions": [cond]}},
                    namespace=v.namespace,
                    patch_type="strategic",
                    subresource="status",
                )
            try:
                await self.api.pods.delete(
                    v.name, namespace=v.namespace, preconditions={"uid": v.uid} if v.uid else None
                )
            except StatusError as exc:
                if exc.code != 404:
                    log.warning("preempting %s for %s: %s", v.key, preemptor.key, exc)
                    return
            self.recorder.normal(v.pod, "Preempted", f"Preempted by pod {preemptor.uid} on node {node}")

        await asyncio.gather(*(evict(v) for v in victims))

    async def _clear_nominated(self, pod: PodInfo) -> None:
        with contextlib.suppress(StatusError, ApiConnectionError):
            await self.api.pods.patch(
                pod.name,
                {"status": {"nominatedNodeName": None}},
                namespace=pod.namespace,
                patch_type="strategic",
                subresource="status",
            )
