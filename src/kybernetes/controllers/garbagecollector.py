"""The garbage collector: delete objects whose owners are gone, and run foreground / orphan deletion.

What it owns (upstream ``pkg/controller/garbagecollector``, reimplemented):

- **the graph**: one informer per deletable, watchable resource found through API discovery (preferred
  version of every group, custom resources included; Events are skipped), re-discovered every
  ``gc_discovery_period`` seconds (``ControllerOptions.extra``, default 30) and when a CRD changes. Each
  object is a node keyed by uid with its ownerReferences; ``dependents[owner uid]`` is the reverse edge
  set, kept even for owners never observed.
- **attempt to delete** (the main queue, keyed by uid): for an object with owners, classify each owner
  as *solid* (exists with that uid), *dangling* (absent, or a different uid under that name) or *waiting*
  (being deleted in the foreground). Owners are looked up in the graph first and with a live GET when the
  graph has not seen them (a fresh owner may not have reached our informers yet); verified-absent uids
  are remembered. No solid owner left: the object is deleted (foreground when an owner is waiting and the
  object has dependents of its own, else by the policy its own finalizers ask for, background by
  default), with a uid precondition. Solid and dangling/waiting owners mixed: the references to the
  dangling/waiting ones are removed instead.
- **foreground deletion**: an owner with ``deletionTimestamp`` and the ``foregroundDeletion`` finalizer
  has its dependents queued for deletion; once no dependent with ``blockOwnerDeletion: true`` is left the
  finalizer is removed (and the API server completes the deletion).
- **orphan**: an owner with ``deletionTimestamp`` and the ``orphan`` finalizer has its reference removed
  from every dependent, then the finalizer.

The API server adds those finalizers on every DELETE with ``propagationPolicy`` Foreground / Orphan, as
upstream's does, wherever this collector runs (in ``kyb server`` or a separate ``kyb controller-manager``);
without a running collector such an object stays, marked, with its finalizer. Everything goes through the
API.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from kybernetes.api.errors import StatusError
from kybernetes.api.meta import Obj
from kybernetes.client import Informer, ResourceClient, WorkQueue, run_worker
from kybernetes.controllers.base import Controller, ControllerContext, unwrap

log = logging.getLogger(__name__)


FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
IGNORED_RESOURCES = frozenset({("", "events"), ("events.k8s.io", "events")})
ABSENT_CACHE_SIZE = 10000


# --- discovery ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DiscoveredResource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    verbs: frozenset[str]

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


def _parse_resource_list(
    group: str, version: str, body: Mapping[str, Any] | None
) -> list[DiscoveredResource]:
    out = []
    for res in (body or {}).get("resources") or []:
        name = str(res.get("name") or "")
        if not name or "/" in name:
            continue
        out.append(
            DiscoveredResource(
                group,
                version,
                name,
                str(res.get("kind") or ""),
                bool(res.get("namespaced")),
                frozenset(res.get("verbs") or ()),
            )
        )
    return out


async def discover_resources(api: Any) -> list[DiscoveredResource]:
    """Every top-level resource of the preferred version of every group (legacy discovery)."""
    out = _parse_resource_list("", "v1", await api.request("GET", "/api/v1"))
    groups = (await api.request("GET", "/apis")) or {}

    async def one(group: Mapping[str, Any]) -> list[DiscoveredResource]:
        versions = group.get("versions") or []
        preferred = (group.get("preferredVersion") or {}).get("version") or (
            versions[0]["version"] if versions else ""
        )
        if not preferred:
            return []
        try:
            body = await api.request("GET", f"/apis/{group['name']}/{preferred}")
        except StatusError as exc:
            log.info("discovery of %s/%s failed: %s", group.get("name"), preferred, exc)
            return []
        return _parse_resource_list(str(group["name"]), preferred, body)

    for part in await asyncio.gather(*(one(g) for g in groups.get("groups") or [])):
        out.extend(part)
    return out


# --- the graph ----------------------------------------------------------------------------------------
@dataclass
class Node:
    uid: str
    api_version: str
    kind: str
    namespace: str | None
    name: str
    owners: list[Obj] = field(default_factory=list)
    deletion_timestamp: str | None = None
    finalizers: tuple[str, ...] = ()
    client: ResourceClient | None = None

    @property
    def being_deleted(self) -> bool:
        return bool(self.deletion_timestamp)

    @property
    def deleting_dependents(self) -> bool:
        return self.being_deleted and FOREGROUND in self.finalizers

    @property
    def orphaning(self) -> bool:
        return self.being_deleted and ORPHAN in self.finalizers


def _group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""


class GarbageCollector(Controller):
    """See the module docstring. ``queue`` is attempt-to-delete (uids); ``orphan_queue`` attempt-to-orphan."""

    name = "garbage-collector-controller"
    workers = 20

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.orphan_queue: WorkQueue[str] = WorkQueue(name="garbagecollector-orphan")
        self.nodes: dict[str, Node] = {}
        self.dependents: dict[str, set[str]] = {}
        self.absent: dict[str, None] = {}  # ordered set of uids verified absent (bounded)
        self.monitors: dict[tuple[str, str], Informer] = {}
        self.kinds: dict[tuple[str, str], ResourceClient] = {}  # (group, kind) -> client
        self.discovery_period = float(ctx.options.extra.get("gc_discovery_period", 30.0))
        self._rediscover = asyncio.Event()

    # --- monitors -------------------------------------------------------------------------------------
    async def prepare(self) -> None:
        """Discover resources and create their informers (called by the manager before starting them)."""
        await self.sync_monitors()

    async def sync_monitors(self) -> bool:
        """Create informers for newly discovered resources; True if any was added."""
        try:
            resources = await discover_resources(self.api)
        except Exception as exc:  # discovery is retried on the next period
            log.warning("garbage collector discovery failed: %s", exc)
            return False
        added = False
        for res in resources:
            client = self.api.resource(
                res.group, res.version, res.plural, namespaced=res.namespaced, kind=res.kind
            )
            if res.kind:
                self.kinds[(res.group, res.kind)] = client
            if (res.group, res.plural) in IGNORED_RESOURCES or not {"list", "watch", "delete"} <= res.verbs:
                continue
            if (res.group, res.plural) in self.monitors:
                continue
            informer = self.ctx.informers.informer(client)
            self.monitors[(res.group, res.plural)] = informer
            informer.add_event_handler(*self._monitor_handlers(client))
            if res.group == "apiextensions.k8s.io" and res.plural == "customresourcedefinitions":
                informer.add_event_handler(
                    lambda *_: self._rediscover.set(),
                    lambda *_: self._rediscover.set(),
                    lambda *_: self._rediscover.set(),
                )
            added = True
        return added

    async def _discovery_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._rediscover.wait(), self.discovery_period)
            if self._rediscover.is_set():
                await asyncio.sleep(1.0)  # let the API server pick the CRD up
                self._rediscover.clear()
            if await self.sync_monitors():
                self.ctx.informers.start()

    async def _orphan_workers(self) -> None:
        await asyncio.gather(*(run_worker(self.orphan_queue, self.attempt_to_orphan) for _ in range(2)))

    async def run(self, workers: int = 20) -> None:
        try:
            await super().run(workers)
        finally:
            self.orphan_queue.shut_down()

    def background(self) -> Any:
        async def both() -> None:
            await asyncio.gather(self._discovery_loop(), self._orphan_workers())

        return both()

    # --- graph changes --------------------------------------------------------------------------------
    def _monitor_handlers(
        self, client: ResourceClient
    ) -> tuple[Callable[[Obj], None], Callable[[Obj, Obj], None], Callable[[Any], None]]:
        """The add/update/delete handlers of one monitor, bound to the client of its resource."""

        def on_add(obj: Obj) -> None:
            self._observe(obj, client)

        def on_update(old: Obj, new: Obj) -> None:
            self._observe(new, client, old)

        return on_add, on_update, self._forget

    def _observe(self, obj: Obj, client: ResourceClient, old: Obj | None = None) -> None:
        omd = obj.get("metadata") or {}
        uid = omd.get("uid")
        if not uid:
            return
        owners = [dict(r) for r in omd.get("ownerReferences") or [] if r.get("uid")]
        node = self.nodes.get(uid)
        previous_owners = node.owners if node is not None else []
        was_deleting_dependents = node.deleting_dependents if node is not None else False
        node = Node(
            uid=uid,
            api_version=str(obj.get("apiVersion") or client.info.group_version),
            kind=str(obj.get("kind") or client.info.kind),
            namespace=omd.get("namespace"),
            name=str(omd.get("name") or ""),
            owners=owners,
            deletion_timestamp=omd.get("deletionTimestamp"),
            finalizers=tuple(omd.get("finalizers") or ()),
            client=client,
        )
        self.nodes[uid] = node
        self.absent.pop(uid, None)
        old_uids = {r["uid"] for r in previous_owners}
        new_uids = {r["uid"] for r in owners}
        for gone in old_uids - new_uids:
            deps = self.dependents.get(gone)
            if deps is not None:
                deps.discard(uid)
                if not deps:
                    del self.dependents[gone]
            owner = self.nodes.get(gone)
            if owner is not None and owner.deleting_dependents:
                self.enqueue(gone)  # one blocker fewer
        for ref in owners:
            self.dependents.setdefault(ref["uid"], set()).add(uid)
        if owners and (
            any(r["uid"] not in self.nodes or self.nodes[r["uid"]].being_deleted for r in owners)
            or previous_owners != owners
        ):
            self.enqueue(uid)
        if node.deleting_dependents:
            self.enqueue(uid)
            if not was_deleting_dependents:
                for dep in self.dependents.get(uid, ()):
                    self.enqueue(dep)
        if node.orphaning:
            self.orphan_queue.add(uid)

    def _forget(self, obj: Any) -> None:
        target = unwrap(obj)
        if target is None:
            return
        uid = (target.get("metadata") or {}).get("uid")
        if not uid:
            return
        node = self.nodes.pop(uid, None)
        if node is None:
            return
        self.absent[uid] = None
        while len(self.absent) > ABSENT_CACHE_SIZE:
            self.absent.pop(next(iter(self.absent)))
        for ref in node.owners:
            deps = self.dependents.get(ref["uid"])
            if deps is not None:
                deps.discard(uid)
                if not deps and ref["uid"] not in self.nodes:
                    del self.dependents[ref["uid"]]
            owner = self.nodes.get(ref["uid"])
            if owner is not None and owner.deleting_dependents:
                self.enqueue(ref["uid"])
        for dep in self.dependents.get(uid, ()):
            self.enqueue(dep)

    # --- lookups --------------------------------------------------------------------------------------
    def _client_for(self, api_version: str, kind: str) -> ResourceClient | None:
        return self.kinds.get((_group_of(api_version), kind))

    async def _get(self, node: Node) -> Obj | None:
        """The live object of ``node`` (None if gone or replaced by another uid)."""
        client = node.client or self._client_for(node.api_version, node.kind)
        if client is None:
            return None
        try:
            obj: Obj = await client.get(
                node.name, namespace=node.namespace if client.info.namespaced else None
            )
        except StatusError as exc:
            if exc.code == 404:
                return None
            raise
        return obj if (obj.get("metadata") or {}).get("uid") == node.uid else None

    async def _owner_state(self, ref: Mapping[str, Any], namespace: str | None) -> str:
        """'solid', 'dangling' or 'waiting' for one ownerReference of an object in ``namespace``."""
        uid = str(ref.get("uid"))
        node = self.nodes.get(uid)
        if node is not None:
            return "waiting" if node.deleting_dependents else "solid"
        if uid in self.absent:
            return "dangling"
        client = self._client_for(str(ref.get("apiVersion") or ""), str(ref.get("kind") or ""))
        if client is None:
            log.info(
                "garbage collector: unknown owner kind %s %s; keeping the dependent",
                ref.get("apiVersion"),
                ref.get("kind"),
            )
            return "solid"
        try:
            owner = await client.get(
                str(ref.get("name")), namespace=namespace if client.info.namespaced else None
            )
        except StatusError as exc:
            if exc.code != 404:
                raise
            self.absent[uid] = None
            return "dangling"
        omd = owner.get("metadata") or {}
        if omd.get("uid") != uid:
            self.absent[uid] = None
            return "dangling"
        if omd.get("deletionTimestamp") and FOREGROUND in (omd.get("finalizers") or []):
            return "waiting"
        return "solid"

    # --- attempt to delete ----------------------------------------------------------------------------
    async def reconcile(self, key: str) -> None:
        node = self.nodes.get(key)
        if node is None:
            return
        if node.being_deleted and not node.deleting_dependents:
            return
        latest = await self._get(node)
        if latest is None:
            return
        lmd = latest.get("metadata") or {}
        if lmd.get("deletionTimestamp") and FOREGROUND in (lmd.get("finalizers") or []):
            await self._process_deleting_dependents(node, latest)
            return
        if lmd.get("deletionTimestamp"):
            return
        refs = [r for r in lmd.get("ownerReferences") or [] if r.get("uid")]
        if not refs:
            return
        solid: list[Obj] = []
        gone: list[Obj] = []
        waiting: list[Obj] = []
        for ref in refs:
            state = await self._owner_state(ref, lmd.get("namespace"))
            {"solid": solid, "dangling": gone, "waiting": waiting}[state].append(ref)
        if solid:
            if not gone and not waiting:
                return
            drop = {r["uid"] for r in gone + waiting}
            keep = [r for r in refs if r["uid"] not in drop]
            await self._patch_owner_refs(node, latest, keep)
            return
        finalizers = lmd.get("finalizers") or []
        policy: Literal["Orphan", "Background", "Foreground"]
        if waiting and self.dependents.get(node.uid):
            policy = "Foreground"
        elif ORPHAN in finalizers:
            policy = "Orphan"
        elif FOREGROUND in finalizers:
            policy = "Foreground"
        else:
            policy = "Background"
        await self._delete(node, policy)

    async def _process_deleting_dependents(self, node: Node, latest: Obj) -> None:
        blocking = []
        for dep_uid in self.dependents.get(node.uid, ()):
            dep = self.nodes.get(dep_uid)
            if dep is None:
                continue
            for ref in dep.owners:
                if ref.get("uid") == node.uid and ref.get("blockOwnerDeletion"):
                    blocking.append(dep)
                    break
        if not blocking:
            await self._remove_finalizer(node, FOREGROUND)
            return
        for dep in blocking:
            if not dep.deleting_dependents:
                self.enqueue(dep.uid)

    async def _delete(self, node: Node, policy: Literal["Orphan", "Background", "Foreground"]) -> None:
        client = node.client
        if client is None:
            return
        log.info(
            "garbage collector deleting %s %s/%s (%s)", node.kind, node.namespace or "", node.name, policy
        )
        try:
            await client.delete(
                node.name,
                namespace=node.namespace if client.info.namespaced else None,
                propagation_policy=policy,
                preconditions={"uid": node.uid},
            )
        except StatusError as exc:
            if exc.code not in (404, 409):
                raise

    async def _patch_owner_refs(self, node: Node, latest: Obj, refs: list[Obj]) -> None:
        client = node.client
        if client is None:
            return
        lmd = latest.get("metadata") or {}
        patch = {"metadata": {"ownerReferences": refs or None, "resourceVersion": lmd.get("resourceVersion")}}
        try:
            await client.patch(node.name, patch, namespace=node.namespace if client.info.namespaced else None)
        except StatusError as exc:
            if exc.code != 404:
                raise

    async def _remove_finalizer(self, node: Node, finalizer: str) -> None:
        client = node.client
        if client is None:
            return
        for _ in range(5):
            latest = await self._get(node)
            if latest is None:
                return
            finalizers = list((latest.get("metadata") or {}).get("finalizers") or [])
            if finalizer not in finalizers:
                return
            body = copy.deepcopy(latest)
            body["metadata"]["finalizers"] = [f for f in finalizers if f != finalizer]
            try:
                await client.update(body)
                return
            except StatusError as exc:
                if exc.code == 404:
                    return
                if exc.code != 409:
                    raise
        raise RuntimeError(f"could not remove finalizer {finalizer} from {node.kind} {node.name}")

    # --- attempt to orphan ----------------------------------------------------------------------------
    async def attempt_to_orphan(self, uid: str) -> None:
        node = self.nodes.get(uid)
        if node is None or not node.orphaning:
            return
        for dep_uid in list(self.dependents.get(uid, ())):
            dep = self.nodes.get(dep_uid)
            if dep is None:
                continue
            for _ in range(5):
                latest = await self._get(dep)
                if latest is None:
                    break
                refs = [
                    r
                    for r in (latest.get("metadata") or {}).get("ownerReferences") or []
                    if r.get("uid") != uid
                ]
                try:
                    await self._patch_owner_refs(dep, latest, refs)
                    break
                except StatusError as exc:
                    if exc.code != 409:
                        raise
            else:
                raise RuntimeError(f"could not orphan {dep.kind} {dep.name}")
        await self._remove_finalizer(node, ORPHAN)
