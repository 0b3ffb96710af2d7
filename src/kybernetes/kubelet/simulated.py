"""The simulated node agent: many kwok-style nodes in one process, their behaviour loaded as data.

``SimulatedNodes`` runs N nodes. Each node is registered, reports its conditions (Ready / MemoryPressure /
DiskPressure / PIDPressure) and renews its Lease in ``kube-node-lease`` with the real kubelet's code,
``node_status.NodeStatusManager``, given the node's machine facts (capacity, nodeInfo) instead of the
host's; this module only batches the managers' Lease renewals and status updates every ``heartbeat``
seconds with bounded concurrency, so one process sustains thousands of nodes.

What happens to the objects of a node (its pods, its Node) is data: stages (``kubelet/stages``, kwok's
Stage shape) loaded from the shipped profiles (``stages/pod.yaml``, ``stages/node.yaml``: pods go
Pending -> Running and Ready, exit on ``kybernetes.io/simulate-exit-code`` after
``kybernetes.io/simulate-duration``, deletions complete; a node marked Unknown re-posts its conditions)
or from files (``kyb agent --simulate N --stages DIR_OR_FILE``). The engine picks the stage that matches
an object (by weight), waits its delay (the clock starts when the stage first matched; an object that
stops matching is dropped) and applies its ``next``. Which API resource a stage kind means, and which node
an object belongs to, is the one table ``RESOURCES``; template functions the agent adds are ``podIP``
(stable, from the node's pod CIDR), ``nodeIP`` and ``nodeConditions``.

A dead node is simulated with ``stop_heartbeats(name)``: its Lease is no longer renewed, its status no
longer updated and its objects frozen (no stage runs), as if the machine vanished; ``resume_heartbeats``
brings it back. ``set_condition`` pins a node condition as a real kubelet would report it.

Everything goes through ``kybernetes.client`` over HTTP: one informer per staged kind for all simulated
nodes (objects are filtered by node), one work queue. Simulated nodes run no container runtime: the
CRI-shaped runtimes (``runtimes/process.py``, ``runtimes/containerd.py``) belong to the real kubelet.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from dataclasses import replace as dataclasses_replace
from pathlib import Path
from typing import Any

from kybernetes._lib.tasks import TaskOwner
from kybernetes.api.errors import StatusError
from kybernetes.api.meta import Obj
from kybernetes.client import ApiClient, SharedInformerFactory, WorkQueue, object_key, run_worker, split_key
from kybernetes.client.informer import DeletedFinalStateUnknown, Informer
from kybernetes.kubelet.node_status import NodeStatusManager
from kybernetes.kubelet.options import KubeletOptions
from kybernetes.kubelet.runtime import RuntimeStatus
from kybernetes.kubelet.stages import (
    Outcome,
    Stage,
    default_stages,
    load_stages,
    parse_duration,
    pick_stage,
    rfc3339,
)

__all__ = [
    "ANNOTATION_DURATION",
    "ANNOTATION_EXIT_CODE",
    "ANNOTATION_SIMULATED",
    "DEFAULT_STAGES",
    "RESOURCES",
    "TEMPLATE_FUNCTIONS",
    "NodeInfo",
    "SimulatedNodes",
    "Stage",
    "load_simulated_stages",
    "parse_duration",
]

log = logging.getLogger(__name__)

ANNOTATION_EXIT_CODE = "kybernetes.io/simulate-exit-code"
ANNOTATION_DURATION = "kybernetes.io/simulate-duration"
ANNOTATION_SIMULATED = "kybernetes.io/simulated"
KUBELET_VERSION = "v1.31.0-kyb"  # what simulated nodes have always reported
#: the functions this agent adds to stage templates
TEMPLATE_FUNCTIONS = frozenset({"podIP", "nodeIP", "nodeConditions"})


def _spec_node(obj: Obj) -> str:
    return str((obj.get("spec") or {}).get("nodeName") or "")


def _own_name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


@dataclass(frozen=True)
class Resource:
    """How the agent reaches objects of one staged kind: the ``ApiClient`` attribute, and the node an
    object belongs to."""

    client: str
    node_of: Callable[[Obj], str]


#: (resourceRef.apiGroup, resourceRef.kind) -> resource; stages of other kinds are refused at start
RESOURCES: dict[tuple[str, str], Resource] = {
    ("v1", "Pod"): Resource("pods", _spec_node),
    ("v1", "Node"): Resource("nodes", _own_name),
}


def load_simulated_stages(path: str | Path | None = None) -> tuple[Stage, ...]:
    """The shipped pod and node profiles, or the stages of ``path`` (a file or a directory)."""
    if path is None:
        return tuple(default_stages("pod", TEMPLATE_FUNCTIONS) + default_stages("node", TEMPLATE_FUNCTIONS))
    return tuple(load_stages(path, TEMPLATE_FUNCTIONS))


DEFAULT_STAGES: tuple[Stage, ...] = load_simulated_stages()


@dataclass
class NodeInfo:
    """What the agent knows about one simulated node."""

    name: str
    index: int
    internal_ip: str
    pod_cidr: ipaddress.IPv4Network
    alive: bool = True
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


class _SimulatedRuntimeStatus:
    """The runtime status a simulated node reports (it runs no containers)."""

    STATUS = RuntimeStatus("simulated", "0.1.0")

    async def status(self) -> RuntimeStatus:
        return self.STATUS


# --- the agent ------------------------------------------------------------------------------------------
Item = tuple[tuple[str, str], str]  # (resource of the stage kind, object key)


class SimulatedNodes:
    """Many simulated nodes in one process (see the module docstring).

    ``await run(stop)`` registers the nodes, then heartbeats and runs stages until ``stop`` is set (or the
    task is cancelled). ``await register()`` alone only creates the Nodes and Leases.
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
        node_status_update_frequency: float = 10.0,
        stages: Iterable[Stage] | None = None,
        delete_delay: float = 0.0,
        pod_cidr: str = "10.128.0.0/9",
        node_cidr_prefix: int = 24,
        node_ip_range: str = "172.16.0.0/12",
        concurrency: int = 64,
        informers: SharedInformerFactory | None = None,
        seed: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api = api
        self.names = list(dict.fromkeys(names))
        self.heartbeat = heartbeat
        self.node_status_update_frequency = node_status_update_frequency
        self.stages: tuple[Stage, ...] = tuple(DEFAULT_STAGES if stages is None else stages)
        if delete_delay:
            self.stages = tuple(
                dataclasses_replace(s, delay=delete_delay) if s.delete else s for s in self.stages
            )
        unknown = sorted({s.resource for s in self.stages} - set(RESOURCES))
        if unknown:
            kinds = ", ".join(f"{g}/{k}" for g, k in unknown)
            raise ValueError(f"simulated nodes cannot run stages of {kinds} (known: Pod, Node of v1)")
        self.concurrency = concurrency
        self._sem = asyncio.Semaphore(concurrency)
        self._rng = random.Random(seed)
        self._clock = clock
        subnets = ipaddress.ip_network(pod_cidr).subnets(new_prefix=node_cidr_prefix)
        ip_base = ipaddress.ip_network(node_ip_range)
        self.nodes: dict[str, NodeInfo] = {}
        self.managers: dict[str, NodeStatusManager] = {}
        runtime = _SimulatedRuntimeStatus()
        for i, (name, subnet) in enumerate(zip(self.names, subnets, strict=False)):
            assert isinstance(subnet, ipaddress.IPv4Network)
            info = NodeInfo(name, i, str(ip_base.network_address + i + 2), subnet)
            self.nodes[name] = info
            options = KubeletOptions(
                node_labels={"type": "simulated", **(labels or {})},
                register_with_taints=[dict(t) for t in taints or []],
                node_ip=info.internal_ip,
                pod_cidr=str(subnet),
                max_pods=int(pods),
                node_lease_duration_seconds=lease_duration_seconds,
                heartbeat_interval=heartbeat,
                node_status_update_frequency=node_status_update_frequency,
            )
            machine_id = hashlib.md5(name.encode()).hexdigest()
            machine = {
                "capacity": {"cpu": cpu, "memory": memory, "ephemeral-storage": ephemeral_storage},
                "kernelVersion": "simulated",
                "osImage": "kybernetes simulated node",
                "operatingSystem": "linux",
                "architecture": "amd64",
                "machineID": machine_id,
                "systemUUID": machine_id,
                "bootID": "",
                "kubeletVersion": KUBELET_VERSION,
            }
            self.managers[name] = NodeStatusManager(
                api,
                runtime,
                name,
                options=options,
                node_ip=info.internal_ip,
                machine=machine,
                annotations={ANNOTATION_SIMULATED: "true"},
            )
        if len(self.nodes) < len(self.names):
            raise ValueError(f"pod CIDR {pod_cidr} too small for {len(self.names)} nodes")
        self._own_informers = informers is None
        self.informers = informers or SharedInformerFactory(api)
        self._by_resource: dict[tuple[str, str], tuple[Stage, ...]] = {}
        for stage in self.stages:
            self._by_resource[stage.resource] = (*self._by_resource.get(stage.resource, ()), stage)
        self.informers_by_resource: dict[tuple[str, str], Informer] = {}
        for resource in self._by_resource:
            informer = self.informers.informer(getattr(api, RESOURCES[resource].client))
            informer.add_event_handler(*self._handlers(resource))
            self.informers_by_resource[resource] = informer
        self.queue: WorkQueue[Item] = WorkQueue(name="simulated-objects")
        self._matched: dict[Item, tuple[str, float, float]] = {}  # item -> (stage, since, delay)
        self.registered = asyncio.Event()
        self.stats: dict[str, int] = {"lease_renewals": 0, "lease_failures": 0, "stages_applied": 0}
        self._background = TaskOwner("simulated-nodes", logger=log)  # one-off renewals; closed by run()

    @property
    def pod_informer(self) -> Informer | None:
        return self.informers_by_resource.get(("v1", "Pod"))

    # --- nodes: the real kubelet's registration, status and Lease code, batched ------------------------
    async def _bounded(self, coro: Any) -> Any:
        async with self._sem:
            return await coro

    async def register(self) -> None:
        """Create (or take over) every Node and its Lease, ``concurrency`` requests at a time."""
        results = await asyncio.gather(
            *(self._bounded(m.register()) for m in self.managers.values()), return_exceptions=True
        )
        failed = [(n, r) for n, r in zip(self.managers, results, strict=True) if isinstance(r, BaseException)]
        if failed:
            name, err = failed[0]
            raise RuntimeError(f"{len(failed)} simulated nodes failed to register (first: {name}: {err})")
        self.registered.set()

    async def _renew(self, name: str) -> None:
        await self.managers[name].renew_lease()
        self.stats["lease_renewals"] += 1

    async def renew_all(self) -> None:
        """One round of lease renewals for every live node, with bounded concurrency."""
        alive = [name for name, info in self.nodes.items() if info.alive]
        results = await asyncio.gather(
            *(self._bounded(self._renew(n)) for n in alive), return_exceptions=True
        )
        for name, result in zip(alive, results, strict=True):
            if isinstance(result, BaseException):
                self.stats["lease_failures"] += 1
                log.debug("lease renewal of %s failed: %s", name, result)

    async def update_all(self) -> None:
        """One round of node status updates for every live node (a PATCH only where the status changed
        or ``node_status_report_frequency`` passed, as the kubelet's)."""
        alive = [self.managers[name] for name, info in self.nodes.items() if info.alive]
        results = await asyncio.gather(
            *(self._bounded(m.update_once()) for m in alive), return_exceptions=True
        )
        for manager, result in zip(alive, results, strict=True):
            if isinstance(result, BaseException):
                log.debug("status update of %s failed: %s", manager.node_name, result)

    async def _heartbeat_loop(self) -> None:
        last_status = time.monotonic()
        while True:
            started = time.monotonic()
            await self.renew_all()
            if started - last_status >= self.node_status_update_frequency:
                last_status = started
                await self.update_all()
            await asyncio.sleep(max(0.0, self.heartbeat - (time.monotonic() - started)))

    def stop_heartbeats(self, name: str) -> None:
        """Simulate a dead node: no lease renewals, no status updates, no stages for ``name``."""
        self.nodes[name].alive = False

    def resume_heartbeats(self, name: str) -> None:
        """Bring a node back: renew its lease now and run the stages of its objects again."""
        info = self.nodes[name]
        info.alive = True
        self._background.spawn(self._bounded(self._renew(name)), name=f"renew:{name}")
        for resource, informer in self.informers_by_resource.items():
            node_of = RESOURCES[resource].node_of
            for obj in informer.indexer.list():
                if node_of(obj) == name:
                    self.queue.add((resource, object_key(obj)))

    async def set_condition(
        self, name: str, ctype: str, status: str, reason: str = "", message: str = ""
    ) -> None:
        """Post one node condition now (e.g. ``Ready`` ``False``), as a kubelet reporting a problem; it
        sticks (later updates and stages report it)."""
        await self.managers[name].set_condition(ctype, status, reason, message)

    # --- stages ---------------------------------------------------------------------------------------
    def _handlers(
        self, resource: tuple[str, str]
    ) -> tuple[
        Callable[[Obj], None], Callable[[Obj, Obj], None], Callable[[Obj | DeletedFinalStateUnknown], None]
    ]:
        """The add/update/delete handlers of one resource's informer."""

        def on_add(obj: Obj) -> None:
            self._on_object(resource, obj)

        def on_update(old: Obj, new: Obj) -> None:
            self._on_object(resource, new)

        def on_delete(obj: Obj | DeletedFinalStateUnknown) -> None:
            self._on_gone(resource, obj)

        return on_add, on_update, on_delete

    def _on_object(self, resource: tuple[str, str], obj: Obj) -> None:
        if RESOURCES[resource].node_of(obj) in self.nodes:
            self.queue.add((resource, object_key(obj)))

    def _on_gone(self, resource: tuple[str, str], obj: Obj | DeletedFinalStateUnknown) -> None:
        gone = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        key = object_key(gone)
        self._matched.pop((resource, key), None)
        info = self.nodes.get(RESOURCES[resource].node_of(gone))
        if info is not None:
            info.release(key)

    def stage_for(self, obj: Obj, resource: tuple[str, str] = ("v1", "Pod")) -> Stage | None:
        return pick_stage(self._by_resource.get(resource, ()), obj, self._rng)

    def functions(self, obj: Obj, info: NodeInfo) -> dict[str, Callable[..., Any]]:
        """The agent's template functions for ``obj`` on node ``info``."""
        manager = self.managers[info.name]
        return {
            "podIP": lambda: info.pod_ip(object_key(obj)),
            "nodeIP": lambda: info.internal_ip,
            "nodeConditions": lambda: manager.conditions_for(obj, rfc3339(self._clock())),
        }

    async def _process(self, item: Item) -> None:
        resource, key = item
        obj = self.informers_by_resource[resource].indexer.get_by_key(key)
        if obj is None:
            self._matched.pop(item, None)
            return
        info = self.nodes.get(RESOURCES[resource].node_of(obj))
        if info is None or not info.alive:
            return
        stage = self.stage_for(obj, resource)
        if stage is None:
            self._matched.pop(item, None)
            return
        loop_now = time.monotonic()
        seen = self._matched.get(item)
        if seen is None or seen[0] != stage.name:
            seen = (stage.name, loop_now, stage.delay_for(obj, self._rng, self._clock()))
            self._matched[item] = seen
        remaining = seen[1] + seen[2] - loop_now
        if remaining > 0:
            self.queue.add_after(item, remaining)
            return
        outcome = stage.outcome(obj, self.functions(obj, info), self._clock())
        async with self._sem:
            await self._apply(resource, outcome, obj, info)
        self._matched.pop(item, None)
        self.stats["stages_applied"] += 1

    async def _apply(self, resource: tuple[str, str], outcome: Outcome, obj: Obj, info: NodeInfo) -> None:
        client = getattr(self.api, RESOURCES[resource].client)
        key = object_key(obj)
        ns, name = split_key(key)
        where: dict[str, Any] = {"namespace": ns} if ns else {}
        if outcome.event is not None:
            await self._event(obj, outcome.event, info)
        try:
            if outcome.finalizers is not None:
                await client.patch(name, {"metadata": {"finalizers": outcome.finalizers}}, **where)
            if outcome.delete:
                uid = (obj.get("metadata") or {}).get("uid")
                await client.delete(
                    name, grace_period_seconds=0, preconditions={"uid": uid} if uid else None, **where
                )
                info.release(key)
            elif outcome.status is not None:
                await client.patch(name, {"status": outcome.status}, subresource="status", **where)
        except StatusError as exc:
            # gone (404) or replaced by a new object of the same name (409 on the uid precondition)
            if exc.code not in (404, 409):
                raise

    async def _event(self, obj: Obj, event: Obj, info: NodeInfo) -> None:
        md = obj.get("metadata") or {}
        now = rfc3339(self._clock())
        body: Obj = {
            "apiVersion": "v1",
            "kind": "Event",
            # named as the kubelet names its events (<object>.<hex time>); a generateName may not end in "."
            "metadata": {
                "name": f"{md.get('name')}.{time.time_ns():x}",
                "namespace": md.get("namespace") or "default",
            },
            "involvedObject": {
                k: v
                for k, v in {
                    "apiVersion": obj.get("apiVersion"),
                    "kind": obj.get("kind"),
                    "namespace": md.get("namespace"),
                    "name": md.get("name"),
                    "uid": md.get("uid"),
                }.items()
                if v
            },
            "type": event.get("type") or "Normal",
            "reason": event.get("reason") or "",
            "message": event.get("message") or "",
            "source": {"component": "kyb-simulated", "host": info.name},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            await self.api.events.create(body, namespace=body["metadata"]["namespace"])
        except StatusError as exc:
            log.warning("event %s for %s not recorded: %s", event.get("reason"), md.get("name"), exc)

    # --- running --------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Register, then heartbeat and run stages until ``stop`` is set or the task is cancelled."""
        self.informers.start()
        tasks: list[asyncio.Task[Any]] = []
        try:
            await self.register()
            for informer in self.informers_by_resource.values():
                await informer.wait_synced()
            tasks = [
                asyncio.create_task(self._heartbeat_loop(), name="simulated-heartbeats"),
                *(
                    asyncio.create_task(run_worker(self.queue, self._process), name=f"simulated-stages-{i}")
                    for i in range(8)
                ),
            ]
            if stop is None:
                await asyncio.gather(*tasks)
            else:
                waiter = asyncio.create_task(stop.wait())
                await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                for task in tasks:
                    if task.done() and not task.cancelled() and (exc := task.exception()) is not None:
                        raise exc
        finally:
            self.queue.shut_down()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await self._background.close()
            if self._own_informers:
                await self.informers.stop()
