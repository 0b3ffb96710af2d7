"""The ``simulated`` runtime, first form: a kwok-style agent for many fake nodes in one process.

``SimulatedNodes`` registers Nodes (capacity, allocatable, addresses, nodeInfo, the standard labels and the
Ready / MemoryPressure / DiskPressure / PIDPressure conditions), renews one Lease per node in
``kube-node-lease`` every ``heartbeat`` seconds (in batches with bounded concurrency), and moves the pods
bound to its nodes through their lifecycle with no processes at all.

Pod behaviour is data, as in kwok's Stages: a ``Stage`` is a selector over a pod's state (``matches``), a
delay (fixed, with jitter, or read from an annotation) and a next state (``status``: a status patch
built from the pod, or ``delete``). The engine picks the first stage that matches, waits its delay (the
clock starts when the stage first matched; a pod that stops matching is dropped) and applies it. The
default table, ``DEFAULT_STAGES``:

- ``pod-ready``: bound, not deleting, phase Pending -> Running with running/ready containerStatuses,
  completed initContainerStatuses, the PodScheduled/Initialized/ContainersReady/Ready conditions, a
  ``podIP`` from the node's pod CIDR, ``hostIP`` and ``startTime``;
- ``pod-complete``: Running with the annotation ``kybernetes.io/simulate-exit-code: "N"`` -> Succeeded
  (N = 0) or Failed (N != 0) with terminated containers (reason Completed / Error, exitCode N), after
  ``kybernetes.io/simulate-duration`` (seconds: ``"5"``, ``"1.5s"``, ``"500ms"``, ``"2m"``; default 0).
  Restarts are not simulated: restartPolicy is ignored;
- ``pod-delete``: ``metadata.deletionTimestamp`` set -> DELETE with ``gracePeriodSeconds=0`` (and a uid
  precondition) after ``delete_delay`` seconds.

A dead node is simulated with ``stop_heartbeats(name)``: its Lease is no longer renewed, its status is
no longer repaired and its pods are frozen (no stage runs), exactly as if the machine vanished;
``resume_heartbeats(name)`` brings it back (it re-posts Ready=True). ``set_condition`` changes a node's
condition as a real kubelet would (e.g. Ready=False, MemoryPressure=True).

Everything goes through ``kybernetes.client`` over HTTP: one pod informer and one node informer for all
simulated nodes (pods are filtered by node set), so one process handles thousands of nodes. The real
kubelet and its CRI-shaped runtimes are separate modules of this package.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kybernetes.api.errors import StatusError
from kybernetes.api.meta import Obj
from kybernetes.api.meta import format_micro_time as rfc3339_micro
from kybernetes.api.meta import format_time as rfc3339
from kybernetes.client import ApiClient, SharedInformerFactory, WorkQueue, object_key, split_key
from kybernetes.client.informer import DeletedFinalStateUnknown, Informer

__all__ = [
    "ANNOTATION_DURATION",
    "ANNOTATION_EXIT_CODE",
    "ANNOTATION_SIMULATED",
    "DEFAULT_STAGES",
    "NodeInfo",
    "SimulatedNodes",
    "Stage",
    "parse_duration",
]

log = logging.getLogger(__name__)

ANNOTATION_EXIT_CODE = "kybernetes.io/simulate-exit-code"
ANNOTATION_DURATION = "kybernetes.io/simulate-duration"
ANNOTATION_SIMULATED = "kybernetes.io/simulated"
LEASE_NAMESPACE = "kube-node-lease"
NODE_CONDITIONS: tuple[tuple[str, str, str, str], ...] = (
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
)


_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(ms|s|m|h)?\s*$")


def parse_duration(text: str | None) -> float:
    """Seconds of ``"5"``, ``"1.5s"``, ``"500ms"``, ``"2m"``, ``"1h"``; 0 for empty or malformed text."""
    if not text:
        return 0.0
    m = _DURATION.match(str(text))
    if not m:
        return 0.0
    value = float(m.group(1))
    return value * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}[m.group(2)]


# --- the stage table ------------------------------------------------------------------------------------
@dataclass
class NodeInfo:
    """What the engine knows about one simulated node (handed to stage functions)."""

    name: str
    index: int
    internal_ip: str
    pod_cidr: ipaddress.IPv4Network
    alive: bool = True
    uid: str = ""
    _next_ip: int = 2
    _ips: dict[str, str] = field(default_factory=dict)  # pod key -> ip

    def pod_ip(self, key: str) -> str:
        """A stable IP for the pod from the node's CIDR (.2 upwards, wrapping)."""
        ip = self._ips.get(key)
        if ip is None:
            size = self.pod_cidr.num_addresses - 2
            ip = str(self.pod_cidr.network_address + (self._next_ip - 2) % max(1, size) + 2)
            self._next_ip += 1
            self._ips[key] = ip
        return ip

    def release(self, key: str) -> None:
        self._ips.pop(key, None)


StatusFn = Callable[[Obj, NodeInfo, float], Obj]


@dataclass(frozen=True)
class Stage:
    """One step of simulated behaviour: when ``matches(pod)``, after the delay, apply ``status`` (a
    ``/status`` merge patch computed from the pod, its node and the time) or delete the pod."""

    name: str
    matches: Callable[[Obj], bool]
    status: StatusFn | None = None
    delete: bool = False
    delay: float = 0.0
    jitter: float = 0.0
    delay_annotation: str | None = None  # a duration annotation on the pod overrides ``delay``

    def delay_for(self, pod: Obj, rng: random.Random) -> float:
        delay = self.delay
        if self.delay_annotation:
            ann = ((pod.get("metadata") or {}).get("annotations") or {}).get(self.delay_annotation)
            if ann is not None:
                delay = parse_duration(ann)
        return delay + (rng.random() * self.jitter if self.jitter else 0.0)


def _phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def _deleting(pod: Obj) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def _annotation(pod: Obj, key: str) -> str | None:
    value = ((pod.get("metadata") or {}).get("annotations") or {}).get(key)
    return None if value is None else str(value)


def _container_id(pod: Obj, name: str) -> str:
    uid = (pod.get("metadata") or {}).get("uid") or ""
    return "simulated://" + hashlib.sha1(f"{uid}/{name}".encode()).hexdigest()[:32]


def _condition(ctype: str, status: str, now: str, reason: str | None = None) -> Obj:
    cond: Obj = {"type": ctype, "status": status, "lastProbeTime": None, "lastTransitionTime": now}
    if reason:
        cond["reason"] = reason
    return cond


def running_status(pod: Obj, node: NodeInfo, now: float) -> Obj:
    """Status of a pod whose containers all started and are ready."""
    ts = rfc3339(now)
    spec = pod.get("spec") or {}
    ip = node.pod_ip(object_key(pod))
    containers = [
        {
            "name": c.get("name"),
            "image": c.get("image"),
            "imageID": f"simulated://{c.get('image')}",
            "containerID": _container_id(pod, str(c.get("name"))),
            "ready": True,
            "started": True,
            "restartCount": 0,
            "state": {"running": {"startedAt": ts}},
        }
        for c in spec.get("containers") or []
    ]
    inits = [
        {
            "name": c.get("name"),
            "image": c.get("image"),
            "imageID": f"simulated://{c.get('image')}",
            "containerID": _container_id(pod, str(c.get("name"))),
            "ready": True,
            "restartCount": 0,
            "state": {
                "terminated": {"exitCode": 0, "reason": "Completed", "startedAt": ts, "finishedAt": ts}
            },
        }
        for c in spec.get("initContainers") or []
    ]
    status: Obj = {
        "phase": "Running",
        "conditions": [
            _condition("PodReadyToStartContainers", "True", ts),
            _condition("Initialized", "True", ts),
            _condition("Ready", "True", ts),
            _condition("ContainersReady", "True", ts),
            _condition("PodScheduled", "True", ts),
        ],
        "hostIP": node.internal_ip,
        "hostIPs": [{"ip": node.internal_ip}],
        "podIP": node.internal_ip if spec.get("hostNetwork") else ip,
        "podIPs": [{"ip": node.internal_ip if spec.get("hostNetwork") else ip}],
        "startTime": (pod.get("status") or {}).get("startTime") or ts,
        "containerStatuses": containers,
    }
    if inits:
        status["initContainerStatuses"] = inits
    return status


def completed_status(pod: Obj, node: NodeInfo, now: float) -> Obj:
    """Status of a pod whose containers exited with the code of its exit-code annotation."""
    ts = rfc3339(now)
    try:
        code = int(_annotation(pod, ANNOTATION_EXIT_CODE) or 0)
    except ValueError:
        code = 1
    reason = "Completed" if code == 0 else "Error"
    started = (pod.get("status") or {}).get("startTime") or ts
    containers = [
        {
            "name": c.get("name"),
            "image": c.get("image"),
            "imageID": f"simulated://{c.get('image')}",
            "containerID": _container_id(pod, str(c.get("name"))),
            "ready": False,
            "started": False,
            "restartCount": 0,
            "state": {
                "terminated": {"exitCode": code, "reason": reason, "startedAt": started, "finishedAt": ts}
            },
        }
        for c in (pod.get("spec") or {}).get("containers") or []
    ]
    return {
        "phase": "Succeeded" if code == 0 else "Failed",
        "conditions": [
            _condition("PodReadyToStartContainers", "False", ts),
            _condition("Initialized", "True", ts),
            _condition("Ready", "False", ts, "PodCompleted"),
            _condition("ContainersReady", "False", ts, "PodCompleted"),
            _condition("PodScheduled", "True", ts),
        ],
        "containerStatuses": containers,
    }


DEFAULT_STAGES: tuple[Stage, ...] = (
    Stage("pod-delete", matches=_deleting, delete=True),
    Stage(
        "pod-ready",
        matches=lambda p: not _deleting(p) and _phase(p) == "Pending",
        status=running_status,
    ),
    Stage(
        "pod-complete",
        matches=lambda p: (
            not _deleting(p) and _phase(p) == "Running" and _annotation(p, ANNOTATION_EXIT_CODE) is not None
        ),
        status=completed_status,
        delay_annotation=ANNOTATION_DURATION,
    ),
)


# --- the agent ------------------------------------------------------------------------------------------
def _node_name_of(pod: Obj) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


class SimulatedNodes:
    """Many simulated nodes in one process (see the module docstring).

    ``await run(stop)`` registers the nodes, then heartbeats and runs pod stages until ``stop`` is set
    (or the task is cancelled). ``await register()`` alone only creates the Nodes and Leases.
    """

    def __init__(
        self,
        api: ApiClient,
        names: Iterable[str],
        *,
        cpu: str = "4",
        memory: str = "32Gi",
        pods: str = "110",
        ephemeral_storage: str = "100Gi",
        labels: Mapping[str, str] | None = None,
        taints: list[Obj] | None = None,
        heartbeat: float = 10.0,
        lease_duration_seconds: int = 40,
        stages: Iterable[Stage] | None = None,
        delete_delay: float = 0.0,
        pod_cidr: str = "10.128.0.0/9",
        node_cidr_prefix: int = 24,
        node_ip_range: str = "172.16.0.0/12",
        concurrency: int = 64,
        informers: SharedInformerFactory | None = None,
        seed: int | None = None,
    ) -> None:
        self.api = api
        self.names = list(dict.fromkeys(names))
        self.cpu, self.memory, self.pods, self.ephemeral_storage = cpu, memory, pods, ephemeral_storage
        self.labels = dict(labels or {})
        self.taints = [dict(t) for t in taints or []]
        self.heartbeat = heartbeat
        self.lease_duration_seconds = lease_duration_seconds
        self.stages: tuple[Stage, ...] = tuple(DEFAULT_STAGES if stages is None else stages)
        if delete_delay:
            self.stages = tuple(
                Stage(s.name, s.matches, s.status, s.delete, delete_delay, s.jitter, s.delay_annotation)
                if s.delete
                else s
                for s in self.stages
            )
        self.concurrency = concurrency
        self._sem = asyncio.Semaphore(concurrency)
        self._rng = random.Random(seed)
        subnets = ipaddress.ip_network(pod_cidr).subnets(new_prefix=node_cidr_prefix)
        ip_base = ipaddress.ip_network(node_ip_range)
        self.nodes: dict[str, NodeInfo] = {}
        for i, (name, subnet) in enumerate(zip(self.names, subnets, strict=False)):
            assert isinstance(subnet, ipaddress.IPv4Network)
            self.nodes[name] = NodeInfo(name, i, str(ip_base.network_address + i + 2), subnet)
        if len(self.nodes) < len(self.names):
            raise ValueError(f"pod CIDR {pod_cidr} too small for {len(self.names)} nodes")
        self._own_informers = informers is None
        self.informers = informers or SharedInformerFactory(api)
        self.pod_informer: Informer = self.informers.informer(api.pods)
        self.node_informer: Informer = self.informers.informer(api.nodes)
        self.pod_informer.add_event_handler(
            self._on_pod, lambda old, new: self._on_pod(new), self._on_pod_gone
        )
        self.node_informer.add_event_handler(self._on_node, lambda old, new: self._on_node(new))
        self.queue: WorkQueue[str] = WorkQueue(name="simulated-pods")
        self.node_queue: WorkQueue[str] = WorkQueue(name="simulated-nodes")
        self._matched: dict[str, tuple[str, float, float]] = {}  # pod key -> (stage, since, delay)
        self._overrides: dict[str, dict[str, str]] = {}  # node -> condition type -> status set by a test
        self.registered = asyncio.Event()
        self.stats: dict[str, int] = {"lease_renewals": 0, "lease_failures": 0, "stages_applied": 0}

    # --- node objects -----------------------------------------------------------------------------------
    def node_object(self, info: NodeInfo) -> Obj:
        now = rfc3339()
        resources = {
            "cpu": self.cpu,
            "memory": self.memory,
            "pods": self.pods,
            "ephemeral-storage": self.ephemeral_storage,
        }
        labels = {
            "kubernetes.io/hostname": info.name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": "amd64",
            "type": "simulated",
            **self.labels,
        }
        spec: Obj = {"podCIDR": str(info.pod_cidr), "podCIDRs": [str(info.pod_cidr)]}
        if self.taints:
            spec["taints"] = [dict(t) for t in self.taints]
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": info.name, "labels": labels, "annotations": {ANNOTATION_SIMULATED: "true"}},
            "spec": spec,
            "status": {
                "capacity": dict(resources),
                "allocatable": dict(resources),
                "addresses": [
                    {"type": "InternalIP", "address": info.internal_ip},
                    {"type": "Hostname", "address": info.name},
                ],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {
                    "machineID": hashlib.md5(info.name.encode()).hexdigest(),
                    "systemUUID": hashlib.md5(info.name.encode()).hexdigest(),
                    "bootID": "",
                    "kernelVersion": "simulated",
                    "osImage": "kybernetes simulated node",
                    "containerRuntimeVersion": "simulated://0.1.0",
                    "kubeletVersion": "v1.31.0-kyb",
                    "kubeProxyVersion": "",
                    "operatingSystem": "linux",
                    "architecture": "amd64",
                },
                "conditions": self._conditions(now),
            },
        }

    @staticmethod
    def _conditions(now: str) -> list[Obj]:
        return [
            {
                "type": t,
                "status": s,
                "reason": r,
                "message": m,
                "lastHeartbeatTime": now,
                "lastTransitionTime": now,
            }
            for t, s, r, m in NODE_CONDITIONS
        ]

    def _lease_object(self, info: NodeInfo) -> Obj:
        md: Obj = {"name": info.name, "namespace": LEASE_NAMESPACE}
        if info.uid:
            md["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": info.name, "uid": info.uid}]
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": md,
            "spec": {
                "holderIdentity": info.name,
                "leaseDurationSeconds": self.lease_duration_seconds,
                "renewTime": rfc3339_micro(),
            },
        }

    async def _bounded(self, coro: Any) -> Any:
        async with self._sem:
            return await coro

    async def _register_one(self, info: NodeInfo) -> None:
        obj = self.node_object(info)
        try:
            created = await self.api.nodes.create(obj)
        except StatusError as exc:
            if exc.code != 409:
                raise
            current = await self.api.nodes.get(info.name)
            current["status"] = obj["status"]
            created = await self.api.nodes.update_status(current)
        info.uid = str((created.get("metadata") or {}).get("uid") or "")
        lease = self._lease_object(info)
        try:
            await self.api.leases.create(lease)
        except StatusError as exc:
            if exc.code != 409:
                raise
            await self._renew(info)

    async def register(self) -> None:
        """Create (or take over) every Node and its Lease, ``concurrency`` requests at a time."""
        results = await asyncio.gather(
            *(self._bounded(self._register_one(info)) for info in self.nodes.values()),
            return_exceptions=True,
        )
        failed = [(n, r) for n, r in zip(self.nodes, results, strict=True) if isinstance(r, BaseException)]
        if failed:
            name, err = failed[0]
            raise RuntimeError(f"{len(failed)} simulated nodes failed to register (first: {name}: {err})")
        self.registered.set()

    # --- heartbeats -------------------------------------------------------------------------------------
    async def _renew(self, info: NodeInfo) -> None:
        patch = {"spec": {"renewTime": rfc3339_micro(), "holderIdentity": info.name}}
        try:
            await self.api.leases.patch(info.name, patch, namespace=LEASE_NAMESPACE)
        except StatusError as exc:
            if exc.code != 404:
                raise
            await self.api.leases.create(self._lease_object(info))
        self.stats["lease_renewals"] += 1

    async def renew_all(self) -> None:
        """One round of lease renewals for every live node, with bounded concurrency."""
        alive = [info for info in self.nodes.values() if info.alive]
        results = await asyncio.gather(
            *(self._bounded(self._renew(info)) for info in alive), return_exceptions=True
        )
        for info, result in zip(alive, results, strict=True):
            if isinstance(result, BaseException):
                self.stats["lease_failures"] += 1
                log.debug("lease renewal of %s failed: %s", info.name, result)

    async def _heartbeat_loop(self) -> None:
        while True:
            started = time.monotonic()
            await self.renew_all()
            await asyncio.sleep(max(0.0, self.heartbeat - (time.monotonic() - started)))

    def stop_heartbeats(self, name: str) -> None:
        """Simulate a dead node: no lease renewals, no status repair, no pod stages for ``name``."""
        self.nodes[name].alive = False

    def resume_heartbeats(self, name: str) -> None:
        """Bring a node back: renew its lease now and re-post healthy conditions."""
        info = self.nodes[name]
        info.alive = True
        self.node_queue.add(name)
        asyncio.get_running_loop().create_task(self._bounded(self._renew(info)))
        for pod in self.pod_informer.indexer.list():
            if _node_name_of(pod) == name:
                self.queue.add(object_key(pod))

    async def set_condition(
        self, name: str, ctype: str, status: str, reason: str = "", message: str = ""
    ) -> None:
        """Post one node condition now (e.g. ``Ready`` ``False``), as a kubelet reporting a problem."""
        node = await self.api.nodes.get(name)
        now = rfc3339()
        conditions = list((node.get("status") or {}).get("conditions") or [])
        for i, cond in enumerate(conditions):
            if cond.get("type") == ctype:
                changed = cond.get("status") != status
                conditions[i] = {
                    **cond,
                    "status": status,
                    "reason": reason or cond.get("reason"),
                    "message": message or cond.get("message"),
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now if changed else cond.get("lastTransitionTime"),
                }
                break
        else:
            conditions.append(
                {
                    "type": ctype,
                    "status": status,
                    "reason": reason,
                    "message": message,
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now,
                }
            )
        await self.api.nodes.patch(name, {"status": {"conditions": conditions}}, subresource="status")
        self._overrides[name] = {**self._overrides.get(name, {}), ctype: status}

    def _on_node(self, node: Obj) -> None:
        name = (node.get("metadata") or {}).get("name")
        info = self.nodes.get(str(name))
        if info is None or not info.alive:
            return
        wanted = {t: s for t, s, _, _ in NODE_CONDITIONS} | self._overrides.get(info.name, {})
        current = {c.get("type"): c.get("status") for c in (node.get("status") or {}).get("conditions") or []}
        if any(current.get(t) != s for t, s in wanted.items()):
            self.node_queue.add(info.name)

    async def _repair_node(self, name: str) -> None:
        """Re-post the node's conditions (someone, e.g. the node lifecycle controller, changed them)."""
        info = self.nodes.get(name)
        if info is None or not info.alive:
            return
        node = self.node_informer.get(name)
        if node is None:
            return
        now = rfc3339()
        wanted = {t: s for t, s, _, _ in NODE_CONDITIONS} | self._overrides.get(name, {})
        defaults = {t: (r, m) for t, _, r, m in NODE_CONDITIONS}
        by_type = {c.get("type"): c for c in (node.get("status") or {}).get("conditions") or []}
        conditions = []
        for ctype, status in wanted.items():
            cur = by_type.pop(ctype, {})
            reason, message = defaults.get(ctype, ("", ""))
            if cur.get("status") == status and cur.get("reason") not in ("NodeStatusUnknown",):
                reason, message = cur.get("reason") or reason, cur.get("message") or message
            conditions.append(
                {
                    "type": ctype,
                    "status": status,
                    "reason": reason,
                    "message": message,
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": cur.get("lastTransitionTime")
                    if cur.get("status") == status
                    else now,
                }
            )
        conditions.extend(by_type.values())
        await self.api.nodes.patch(name, {"status": {"conditions": conditions}}, subresource="status")

    # --- pod stages -------------------------------------------------------------------------------------
    def _on_pod(self, pod: Obj) -> None:
        if _node_name_of(pod) in self.nodes:
            self.queue.add(object_key(pod))

    def _on_pod_gone(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        pod = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        info = self.nodes.get(_node_name_of(pod))
        key = object_key(pod)
        self._matched.pop(key, None)
        if info is not None:
            info.release(key)

    def stage_for(self, pod: Obj) -> Stage | None:
        for stage in self.stages:
            if stage.matches(pod):
                return stage
        return None

    async def _process_pod(self, key: str) -> None:
        pod = self.pod_informer.indexer.get_by_key(key)
        if pod is None:
            self._matched.pop(key, None)
            return
        info = self.nodes.get(_node_name_of(pod))
        if info is None or not info.alive:
            return
        stage = self.stage_for(pod)
        if stage is None:
            self._matched.pop(key, None)
            return
        loop_now = time.monotonic()
        seen = self._matched.get(key)
        if seen is None or seen[0] != stage.name:
            seen = (stage.name, loop_now, stage.delay_for(pod, self._rng))
            self._matched[key] = seen
        remaining = seen[1] + seen[2] - loop_now
        if remaining > 0:
            self.queue.add_after(key, remaining)
            return
        async with self._sem:
            await self._apply(stage, pod, info)
        self._matched.pop(key, None)
        self.stats["stages_applied"] += 1

    async def _apply(self, stage: Stage, pod: Obj, info: NodeInfo) -> None:
        ns, name = split_key(object_key(pod))
        if stage.delete:
            uid = (pod.get("metadata") or {}).get("uid")
            try:
                await self.api.pods.delete(
                    name, namespace=ns, grace_period_seconds=0, preconditions={"uid": uid} if uid else None
                )
            except StatusError as exc:
                if exc.code not in (404, 409):
                    raise
            info.release(object_key(pod))
            return
        if stage.status is not None:
            patch = {"status": stage.status(pod, info, time.time())}
            try:
                await self.api.pods.patch(name, patch, namespace=ns, subresource="status")
            except StatusError as exc:
                if exc.code != 404:
                    raise

    async def _workers(self, queue: WorkQueue[str], fn: Callable[[str], Any], n: int) -> None:
        from kybernetes.client import run_worker

        await asyncio.gather(*(run_worker(queue, fn) for _ in range(n)))

    # --- running ----------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Register, then heartbeat and simulate pods until ``stop`` is set or the task is cancelled."""
        self.informers.start()
        tasks: list[asyncio.Task[Any]] = []
        try:
            await self.register()
            await self.pod_informer.wait_synced()
            await self.node_informer.wait_synced()
            tasks = [
                asyncio.create_task(self._heartbeat_loop(), name="simulated-heartbeats"),
                asyncio.create_task(self._workers(self.queue, self._process_pod, 8), name="simulated-pods"),
                asyncio.create_task(
                    self._workers(self.node_queue, self._repair_node, 2), name="simulated-nodes"
                ),
            ]
            if stop is None:
                await asyncio.gather(*tasks)
            else:
                waiter = asyncio.create_task(stop.wait())
                await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                for task in tasks:
                    if task.done() and not task.cancelled() and task.exception() is not None:
                        raise task.exception()  # type: ignore[misc]
        finally:
            self.queue.shut_down()
            self.node_queue.shut_down()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if self._own_informers:
                await self.informers.stop()
