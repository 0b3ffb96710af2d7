"""Node lifecycle: node health from heartbeats, condition taints, and taint-based eviction.

Upstream's ``pkg/controller/nodelifecycle`` plus its taint eviction controller, written afresh:

- **Health** (every ``node_monitor_period``): a node's heartbeat is its Lease in ``kube-node-lease``
  (``spec.renewTime``) or its Ready condition's ``lastHeartbeatTime``. As upstream, the controller does not
  trust remote clocks: it records *when it saw* a heartbeat change (its own monotonic clock), starting the
  clock at first sight. After ``node_monitor_grace_period`` without one, the Ready, MemoryPressure,
  DiskPressure and PIDPressure conditions become ``Unknown`` (reason ``NodeStatusUnknown``, message
  "Kubelet stopped posting node status."; ``NodeStatusNeverUpdated`` when the kubelet never posted it),
  a ``NodeNotReady`` event is recorded, and the pods on the node are marked Ready=False.
- **Taints** (one worker per node key): NoSchedule taints follow the conditions (Ready False ->
  ``node.kubernetes.io/not-ready``, Unknown -> ``node.kubernetes.io/unreachable``, memory/disk/pid
  pressure, network-unavailable, ``spec.unschedulable``). NoExecute ``not-ready`` / ``unreachable`` taints
  (with ``timeAdded``) follow Ready and are removed when the node is healthy again. Adding a NoExecute
  taint is rate limited per zone (``topology.kubernetes.io/region``/``zone`` labels) as upstream:
  ``node_eviction_rate`` (0.1/s) in a normal zone, ``secondary_node_eviction_rate`` (0.01/s) in a
  partially disrupted zone (>= ``unhealthy_zone_threshold`` 55 % and more than 2 nodes not ready) of a
  cluster larger than ``large_cluster_size_threshold`` (50), none in such a zone of a smaller cluster. When
  every zone is fully disrupted (no node Ready at all) the controller assumes the problem is its own
  connectivity ("master disruption"): it adds no NoExecute taints and removes those it manages.
- **Eviction**: a pod on a node with NoExecute taints it does not tolerate is deleted at once; one
  that tolerates them all is deleted ``min(tolerationSeconds)`` after the taint's ``timeAdded`` (never if a
  matching toleration has no ``tolerationSeconds``). Before deletion the pod gets a ``DisruptionTarget``
  condition (reason ``DeletionByTaintManager``) and a ``TaintManagerEviction`` event. Pods already
  terminating, or finished (Succeeded/Failed), are left alone.

The rate-limit knobs are read from ``ControllerOptions`` attributes when present, else from
``options.extra`` under the same names. The simulated node agent that heartbeats is
``kybernetes.kubelet.simulated``; the API server adds the default 300 s not-ready/unreachable
tolerations to pods (DefaultTolerationSeconds admission).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kybernetes.api.conditions import by_type
from kybernetes.api.errors import StatusError
from kybernetes.api.meta import Obj, now_rfc3339, parse_time
from kybernetes.api.tolerations import tolerates
from kybernetes.client import WorkQueue, object_key, run_worker, split_key
from kybernetes.controllers.base import Controller, ControllerContext, unwrap

__all__ = [
    "TAINT_DISK_PRESSURE",
    "TAINT_MEMORY_PRESSURE",
    "TAINT_NETWORK_UNAVAILABLE",
    "TAINT_NOT_READY",
    "TAINT_PID_PRESSURE",
    "TAINT_UNREACHABLE",
    "TAINT_UNSCHEDULABLE",
    "NodeLifecycleController",
    "compute_zone_state",
    "desired_condition_taints",
    "min_toleration_seconds",
    "tolerates",
]

log = logging.getLogger(__name__)

TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"
TAINT_DISK_PRESSURE = "node.kubernetes.io/disk-pressure"
TAINT_PID_PRESSURE = "node.kubernetes.io/pid-pressure"
TAINT_NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable"
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
MANAGED_NOSCHEDULE = frozenset(
    {
        TAINT_NOT_READY,
        TAINT_UNREACHABLE,
        TAINT_MEMORY_PRESSURE,
        TAINT_DISK_PRESSURE,
        TAINT_PID_PRESSURE,
        TAINT_NETWORK_UNAVAILABLE,
        TAINT_UNSCHEDULABLE,
    }
)
MANAGED_NOEXECUTE = frozenset({TAINT_NOT_READY, TAINT_UNREACHABLE})
# (condition type, status) -> NoSchedule taint key (upstream's nodeConditionToTaintKeyStatusMap)
CONDITION_TAINTS: dict[tuple[str, str], str] = {
    ("Ready", "False"): TAINT_NOT_READY,
    ("Ready", "Unknown"): TAINT_UNREACHABLE,
    ("MemoryPressure", "True"): TAINT_MEMORY_PRESSURE,
    ("DiskPressure", "True"): TAINT_DISK_PRESSURE,
    ("PIDPressure", "True"): TAINT_PID_PRESSURE,
    ("NetworkUnavailable", "True"): TAINT_NETWORK_UNAVAILABLE,
}
UNKNOWN_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
NODE_INDEX = "spec.nodeName"
LEASE_NAMESPACE = "kube-node-lease"

ZONE_NORMAL = "Normal"
ZONE_PARTIAL = "PartialDisruption"
ZONE_FULL = "FullDisruption"


# --- pure helpers -----------------------------------------------------------------------------------------


def ready_status(node: Mapping[str, Any]) -> str | None:
    cond = by_type(node.get("status")).get("Ready")
    return None if cond is None else str(cond.get("status"))


def desired_condition_taints(node: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """(NoSchedule keys, NoExecute keys) the node's conditions call for."""
    noschedule: set[str] = set()
    for ctype, cond in by_type(node.get("status")).items():
        key = CONDITION_TAINTS.get((ctype, str(cond.get("status"))))
        if key:
            noschedule.add(key)
    if (node.get("spec") or {}).get("unschedulable"):
        noschedule.add(TAINT_UNSCHEDULABLE)
    ready = ready_status(node)
    noexecute = (
        {TAINT_NOT_READY} if ready == "False" else {TAINT_UNREACHABLE} if ready == "Unknown" else set()
    )
    return noschedule, noexecute


def min_toleration_seconds(
    tolerations: Iterable[Mapping[str, Any]], taints: Iterable[Mapping[str, Any]]
) -> tuple[bool, float | None]:
    """(all taints tolerated, seconds until eviction or None for never); 0 when not all tolerated.

    As upstream: each taint uses the first toleration that tolerates it; the eviction delay is the
    smallest ``tolerationSeconds`` among those (<= 0 means at once)."""
    tolerations = list(tolerations)
    used: list[Mapping[str, Any]] = []
    for taint in taints:
        match = next((t for t in tolerations if tolerates(t, taint)), None)
        if match is None:
            return False, 0.0
        used.append(match)
    if not used:
        return True, None
    best: float | None = None
    for t in used:
        seconds = t.get("tolerationSeconds")
        if seconds is None:
            continue
        if int(seconds) <= 0:
            return True, 0.0
        best = float(seconds) if best is None else min(best, float(seconds))
    return True, best


def zone_of(node: Mapping[str, Any]) -> str:
    labels = (node.get("metadata") or {}).get("labels") or {}
    region = labels.get("topology.kubernetes.io/region") or labels.get(
        "failure-domain.beta.kubernetes.io/region"
    )
    zone = labels.get("topology.kubernetes.io/zone") or labels.get("failure-domain.beta.kubernetes.io/zone")
    return f"{region or ''}:\x00:{zone or ''}"


def compute_zone_state(ready_statuses: Iterable[str | None], unhealthy_threshold: float = 0.55) -> str:
    """Upstream's ``ComputeZoneState``: Full when no node is Ready, Partial when more than 2 and at least
    ``unhealthy_threshold`` of the nodes are not Ready, else Normal."""
    ready = not_ready = 0
    for status in ready_statuses:
        if status == "True":
            ready += 1
        else:
            not_ready += 1
    if ready == 0 and not_ready > 0:
        return ZONE_FULL
    if not_ready > 2 and not_ready / max(1, ready + not_ready) >= unhealthy_threshold:
        return ZONE_PARTIAL
    return ZONE_NORMAL


class _TokenBucket:
    def __init__(self, qps: float, burst: int = 1) -> None:
        self.qps = qps
        self.burst = burst
        self.tokens = float(burst)
        self.last = time.monotonic()

    def set_rate(self, qps: float) -> None:
        self._refill()
        self.qps = qps

    def _refill(self) -> None:
        now = time.monotonic()
        if self.qps > 0:
            self.tokens = min(float(self.burst), self.tokens + (now - self.last) * self.qps)
        self.last = now

    def take(self) -> float:
        """0 if a token was taken, else seconds until one may be (inf when the rate is 0)."""
        self._refill()
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        if self.qps <= 0:
            return float("inf")
        return (1.0 - self.tokens) / self.qps


@dataclass
class _Health:
    probe: float  # monotonic time of the last observed heartbeat change
    renew_time: str = ""
    ready_heartbeat: str = ""


# --- the controller ---------------------------------------------------------------------------------------
class NodeLifecycleController(Controller):
    """See the module docstring. Queue keys are node names; pods have their own queue."""

    name = "node-lifecycle-controller"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        opts = ctx.options
        self.monitor_period = float(opts.node_monitor_period)
        self.grace_period = float(opts.node_monitor_grace_period)
        self.eviction_rate = float(self._opt("node_eviction_rate", 0.1))
        self.secondary_eviction_rate = float(self._opt("secondary_node_eviction_rate", 0.01))
        self.large_cluster_threshold = int(self._opt("large_cluster_size_threshold", 50))
        self.unhealthy_zone_threshold = float(self._opt("unhealthy_zone_threshold", 0.55))
        self.nodes = ctx.informers.informer(self.api.nodes)
        self.pods = ctx.informers.informer(self.api.pods)
        self.leases = ctx.informers.informer(self.api.leases, namespace=LEASE_NAMESPACE)
        if NODE_INDEX not in self.pods.indexer.indexers:
            self.pods.add_indexer(NODE_INDEX, _pod_node_index)
        self.pod_queue: WorkQueue[str] = WorkQueue(name=f"{self.name}-pods")
        self.health: dict[str, _Health] = {}
        self.zone_states: dict[str, str] = {}
        self.zone_buckets: dict[str, _TokenBucket] = {}
        self.master_disruption = False
        self._evicted: dict[str, float] = {}  # pod uid -> monotonic time of its eviction
        self.nodes.add_event_handler(self._node_added, self._node_updated, self._node_deleted)
        self.pods.add_event_handler(self._pod_changed, lambda old, new: self._pod_changed(new))
        self.leases.add_event_handler(self._lease_changed, lambda old, new: self._lease_changed(new))

    def _opt(self, name: str, default: Any) -> Any:
        opts = self.ctx.options
        value = getattr(opts, name, None)
        return value if value is not None else opts.extra.get(name, default)

    # --- informer handlers ------------------------------------------------------------------------------
    def _node_added(self, node: Obj) -> None:
        self._observe_node(node)
        self.queue.add(object_key(node))

    def _node_updated(self, old: Obj, new: Obj) -> None:
        self._observe_node(new)
        self.queue.add(object_key(new))
        if (old.get("spec") or {}).get("taints") != (new.get("spec") or {}).get("taints"):
            for pod in self.pods.by_index(NODE_INDEX, object_key(new)):
                self.pod_queue.add(object_key(pod))

    def _node_deleted(self, obj: Any) -> None:
        node = unwrap(obj)
        if node is not None:
            self.health.pop(object_key(node), None)

    def _pod_changed(self, pod: Obj) -> None:
        if (pod.get("spec") or {}).get("nodeName"):
            self.pod_queue.add(object_key(pod))

    def _lease_changed(self, lease: Obj) -> None:
        name = (lease.get("metadata") or {}).get("name")
        renew = str((lease.get("spec") or {}).get("renewTime") or "")
        health = self.health.get(str(name))
        if health is None:
            self.health[str(name)] = _Health(time.monotonic(), renew_time=renew)
        elif renew and renew != health.renew_time:
            health.renew_time = renew
            health.probe = time.monotonic()

    def _observe_node(self, node: Obj) -> _Health:
        name = object_key(node)
        beat = str((by_type(node.get("status")).get("Ready") or {}).get("lastHeartbeatTime") or "")
        health = self.health.get(name)
        if health is None:
            health = self.health[name] = _Health(time.monotonic(), ready_heartbeat=beat)
        elif beat and beat != health.ready_heartbeat:
            health.ready_heartbeat = beat
            health.probe = time.monotonic()
        return health

    # --- health monitor ---------------------------------------------------------------------------------
    def background(self) -> Any:
        return self._background()

    async def _background(self) -> None:
        workers = [asyncio.create_task(run_worker(self.pod_queue, self.process_pod)) for _ in range(4)]
        try:
            while True:
                try:
                    await self.monitor_once()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("node health monitor pass failed")
                await asyncio.sleep(self.monitor_period)
        finally:
            self.pod_queue.shut_down()
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def monitor_once(self) -> None:
        """One pass of ``monitorNodeHealth``: time out silent nodes, update zone states, queue taint work."""
        now = time.monotonic()
        nodes = list(self.nodes.indexer)
        for node in nodes:
            health = self._observe_node(node)
            if now - health.probe > self.grace_period and self._needs_unknown(node):
                try:
                    node = await self._mark_unknown(node)
                except StatusError as exc:
                    log.info("marking node %s unknown failed: %s (retrying next pass)", object_key(node), exc)
            if ready_status(node) not in ("True", None):
                await self._mark_pods_not_ready(node)
        self._update_zones(self.nodes.indexer)
        for node in nodes:
            if self._taints_differ(node):
                self.queue.add(object_key(node))

    def _needs_unknown(self, node: Obj) -> bool:
        conds = by_type(node.get("status"))
        return any((conds.get(t) or {}).get("status") != "Unknown" for t in UNKNOWN_CONDITIONS)

    async def _mark_unknown(self, node: Obj) -> Obj:
        name = object_key(node)
        now = now_rfc3339()
        conds = by_type(node.get("status"))
        was_ready = ready_status(node) == "True"
        new_conditions: list[Obj] = []
        for ctype in UNKNOWN_CONDITIONS:
            cur = conds.get(ctype)
            if cur is None:
                new_conditions.append(
                    {
                        "type": ctype,
                        "status": "Unknown",
                        "reason": "NodeStatusNeverUpdated",
                        "message": "Kubelet never posted node status.",
                        "lastHeartbeatTime": (node.get("metadata") or {}).get("creationTimestamp"),
                        "lastTransitionTime": now,
                    }
                )
            elif cur.get("status") != "Unknown":
                new_conditions.append(
                    {
                        **cur,
                        "status": "Unknown",
                        "reason": "NodeStatusUnknown",
                        "message": "Kubelet stopped posting node status.",
                        "lastTransitionTime": now,
                    }
                )
            else:
                new_conditions.append(cur)
        others = [c for t, c in conds.items() if t not in UNKNOWN_CONDITIONS]
        patch = {
            "metadata": {"resourceVersion": (node.get("metadata") or {}).get("resourceVersion")},
            "status": {"conditions": new_conditions + others},
        }
        updated = await self.api.nodes.patch(name, patch, subresource="status")
        self.nodes.indexer.update(updated)  # so this pass sees it (the watch event follows)
        log.info("node %s: no heartbeat for %.1fs, conditions set to Unknown", name, self.grace_period)
        if was_ready:
            self.recorder.normal(node, "NodeNotReady", f"Node {name} status is now: NodeNotReady")
        self.queue.add(name)
        return updated

    async def _mark_pods_not_ready(self, node: Obj) -> None:
        """Upstream's ``MarkPodsNotReady``: Ready=False on every pod of a node that is not Ready."""
        now = now_rfc3339()
        for pod in self.pods.by_index(NODE_INDEX, object_key(node)):
            status = pod.get("status") or {}
            if status.get("phase") in ("Succeeded", "Failed"):
                continue
            conditions = list(status.get("conditions") or [])
            idx = next((i for i, c in enumerate(conditions) if c.get("type") == "Ready"), None)
            if idx is None or conditions[idx].get("status") == "False":
                continue
            conditions[idx] = {**conditions[idx], "status": "False", "lastTransitionTime": now}
            ns, name = split_key(object_key(pod))
            patch = {
                "metadata": {"resourceVersion": (pod.get("metadata") or {}).get("resourceVersion")},
                "status": {"conditions": conditions},
            }
            try:
                await self.api.pods.patch(name, patch, namespace=ns, subresource="status")
            except StatusError as exc:
                log.debug("marking pod %s not ready failed: %s", object_key(pod), exc)
                continue
            self.recorder.warning(pod, "NodeNotReady", "Node is not ready")

    def _update_zones(self, nodes: Iterable[Obj]) -> None:
        by_zone: dict[str, list[str | None]] = {}
        total = 0
        for node in nodes:
            by_zone.setdefault(zone_of(node), []).append(ready_status(node))
            total += 1
        states = {z: compute_zone_state(s, self.unhealthy_zone_threshold) for z, s in by_zone.items()}
        self.zone_states = states
        was = self.master_disruption
        self.master_disruption = bool(states) and all(s == ZONE_FULL for s in states.values())
        if self.master_disruption and not was:
            log.warning("all nodes are not ready: entering master disruption mode (no NoExecute taints)")
        elif was and not self.master_disruption:
            log.info("some nodes are ready again: leaving master disruption mode")
        for zone, state in states.items():
            if state == ZONE_PARTIAL:
                rate = self.secondary_eviction_rate if total > self.large_cluster_threshold else 0.0
            else:
                rate = self.eviction_rate
            bucket = self.zone_buckets.get(zone)
            if bucket is None:
                self.zone_buckets[zone] = _TokenBucket(rate)
            elif bucket.qps != rate:
                bucket.set_rate(rate)

    # --- taints -----------------------------------------------------------------------------------------
    def _wanted_taints(self, node: Obj) -> tuple[list[Obj], bool]:
        """The node's taint list as it should be, and whether it adds a NoExecute taint."""
        noschedule, noexecute = desired_condition_taints(node)
        if self.master_disruption:
            noexecute = set()
        current = list((node.get("spec") or {}).get("taints") or [])
        out: list[Obj] = []
        have: set[tuple[str, str]] = set()
        for taint in current:
            key, effect = str(taint.get("key")), str(taint.get("effect"))
            if effect == "NoSchedule" and key in MANAGED_NOSCHEDULE and key not in noschedule:
                continue
            if effect == "NoExecute" and key in MANAGED_NOEXECUTE and key not in noexecute:
                continue
            out.append(taint)
            have.add((key, effect))
        adds_noexecute = False
        for key in sorted(noschedule):
            if (key, "NoSchedule") not in have:
                out.append({"key": key, "effect": "NoSchedule"})
        for key in sorted(noexecute):
            if (key, "NoExecute") not in have:
                out.append({"key": key, "effect": "NoExecute", "timeAdded": now_rfc3339()})
                adds_noexecute = True
        return out, adds_noexecute

    def _taints_differ(self, node: Obj) -> bool:
        wanted, _ = self._wanted_taints(node)
        current = (node.get("spec") or {}).get("taints") or []
        return _taint_keys(wanted) != _taint_keys(current)

    async def reconcile(self, key: str) -> None:
        node = self.nodes.get(key)
        if node is None:
            return
        wanted, adds_noexecute = self._wanted_taints(node)
        current = (node.get("spec") or {}).get("taints") or []
        if _taint_keys(wanted) == _taint_keys(current):
            return
        if adds_noexecute:
            bucket = self.zone_buckets.setdefault(zone_of(node), _TokenBucket(self.eviction_rate))
            wait = bucket.take()
            if wait > 0:
                # not allowed to taint for eviction yet: apply the other changes now, retry later
                had = {(str(t.get("key")), str(t.get("effect"))) for t in current}
                wanted = [
                    t
                    for t in wanted
                    if t.get("effect") != "NoExecute" or (str(t.get("key")), "NoExecute") in had
                ]
                self.queue.add_after(key, min(wait, self.monitor_period))
                if _taint_keys(wanted) == _taint_keys(current):
                    return
        patch = {
            "metadata": {"resourceVersion": (node.get("metadata") or {}).get("resourceVersion")},
            "spec": {"taints": wanted or None},
        }
        try:
            await self.api.nodes.patch(key, patch)
        except StatusError as exc:
            if exc.code == 404:
                return
            if exc.code == 409:
                self.queue.add_after(key, 0.05)
                return
            raise
        log.info("node %s taints: %s", key, sorted(_taint_keys(wanted)))

    # --- taint-based eviction ---------------------------------------------------------------------------
    async def process_pod(self, key: str) -> None:
        pod = self.pods.indexer.get_by_key(key)
        if pod is None:
            return
        md = pod.get("metadata") or {}
        if md.get("deletionTimestamp") or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return
        node = self.nodes.get(str((pod.get("spec") or {}).get("nodeName") or ""))
        if node is None:
            return
        taints = [t for t in (node.get("spec") or {}).get("taints") or [] if t.get("effect") == "NoExecute"]
        if not taints:
            return
        tolerated, seconds = min_toleration_seconds((pod.get("spec") or {}).get("tolerations") or [], taints)
        if tolerated and seconds is None:
            return
        if tolerated and seconds:
            added = [parse_time(t.get("timeAdded")) for t in taints]
            known = [a for a in added if a is not None]
            start = min(known) if known else time.time()
            remaining = start + seconds - time.time()
            if remaining > 0:
                self.pod_queue.add_after(key, remaining)
                return
        await self._evict(pod)

    async def _evict(self, pod: Obj) -> None:
        ns, name = split_key(object_key(pod))
        md = pod.get("metadata") or {}
        uid = str(md.get("uid") or "")
        now_mono = time.monotonic()
        if now_mono - self._evicted.get(uid, -1e9) < 30.0:
            return  # evicted moments ago; the cache has not caught up with the deletion yet
        if len(self._evicted) > 10000:
            self._evicted = {u: t for u, t in self._evicted.items() if now_mono - t < 30.0}
        self._evicted[uid] = now_mono
        now = now_rfc3339()
        conditions = [
            c
            for c in (pod.get("status") or {}).get("conditions") or []
            if c.get("type") != "DisruptionTarget"
        ]
        conditions.append(
            {
                "type": "DisruptionTarget",
                "status": "True",
                "reason": "DeletionByTaintManager",
                "message": "Taint manager: deleting due to NoExecute taint",
                "lastTransitionTime": now,
            }
        )
        with contextlib.suppress(StatusError):
            await self.api.pods.patch(
                name, {"status": {"conditions": conditions}}, namespace=ns, subresource="status"
            )
        self.recorder.normal(pod, "TaintManagerEviction", f"Marking for deletion Pod {ns}/{name}")
        try:
            await self.api.pods.delete(
                name, namespace=ns, preconditions={"uid": md["uid"]} if md.get("uid") else None
            )
        except StatusError as exc:
            if exc.code not in (404, 409):
                self._evicted.pop(uid, None)
                raise
        log.info(
            "evicted pod %s/%s from node %s (NoExecute taint)",
            ns,
            name,
            (pod.get("spec") or {}).get("nodeName"),
        )


def _pod_node_index(pod: Obj) -> list[str]:
    node = (pod.get("spec") or {}).get("nodeName")
    return [str(node)] if node else []


def _taint_keys(taints: Iterable[Mapping[str, Any]]) -> set[tuple[str, str, str]]:
    return {(str(t.get("key")), str(t.get("value") or ""), str(t.get("effect"))) for t in taints}
