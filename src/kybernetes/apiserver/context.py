"""Everything one API server instance shares across requests: registry, store, hubs, CRD state.

An ``ApiContext`` is configured only through its constructor (every setting a declared, typed keyword
argument, nothing set on it afterwards): the store, the registry, the compaction interval, the watch
bookmark interval, and ``node_streams``, the factory of the proxy that serves the pod streaming
subresources (``log``, ``exec``, ``attach``, ``portforward``; none when no node agent can be reached).
What it starts in ``start()`` (CRD follower, local APIServices, compaction) is owned by one ``TaskOwner``
and stopped by ``close()``, which also closes the node streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Protocol

from aiohttp import web

from kybernetes._lib.tasks import TaskOwner
from kybernetes.api import errors, meta
from kybernetes.api.registry import Registry, ResourceInfo
from kybernetes.apiserver import api_services
from kybernetes.apiserver.admission import ensure_system_priority_classes
from kybernetes.apiserver.flowcontrol_bootstrap import ensure_mandatory_configuration
from kybernetes.apiserver.request import Target
from kybernetes.apiserver.resource_store import ResourceStore
from kybernetes.apiserver.strategies import strategy_for
from kybernetes.apiserver.strategies.apiextensions import resource_infos, version_of
from kybernetes.apiserver.watch import WatchHubs
from kybernetes.storage import KeyExistsError, Store

log = logging.getLogger(__name__)

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
# Like upstream's --etcd-compaction-interval: history older than one interval is compacted away.
COMPACTION_INTERVAL_SECONDS = 300.0


class NodeStreams(Protocol):
    """Serves a pod's streaming subresource by reaching the kubelet of the pod's node."""

    async def __call__(
        self, request: web.Request, target: Target, pod: dict[str, Any]
    ) -> web.StreamResponse: ...

    async def close(self) -> None: ...


class ApiContext:
    """See the module docstring."""

    def __init__(
        self,
        store: Store,
        registry: Registry | None = None,
        *,
        compaction_interval: float = COMPACTION_INTERVAL_SECONDS,
        watch_bookmark_interval: float | None = None,
        node_streams: Callable[[ApiContext], NodeStreams] | None = None,
    ) -> None:
        """``watch_bookmark_interval``: seconds between BOOKMARK events on watches that allow them (None:
        the handlers' default, 60 s). ``node_streams(ctx)`` builds the node stream proxy for this
        context (None: streaming subresources answer 503)."""
        self.compaction_interval = compaction_interval
        self.watch_bookmark_interval = watch_bookmark_interval
        self.store = store
        self.registry = registry or Registry.builtin()
        self.hubs = WatchHubs(store)
        self._stores: dict[tuple[str, str, str], ResourceStore] = {}
        # (group, version, plural) -> the CRD version's openAPIV3Schema, and printer columns
        self.crd_schemas: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.crd_columns: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        self.crd_scale: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._crd_owned: dict[str, list[tuple[str, str, str]]] = {}
        self.registry_generation = 0
        self._tasks = TaskOwner("api-context", logger=log)
        # last: the factory may look at the context (the proxy resolves nodes through its stores)
        self.node_streams: NodeStreams | None = node_streams(self) if node_streams is not None else None

    # --- resources -----------------------------------------------------------------------------------
    def resource_store(self, info: ResourceInfo) -> ResourceStore:
        key = (info.group, info.version, info.plural)
        rs = self._stores.get(key)
        if rs is None or rs.info is not info:
            # A resource served in several versions runs its storage version's strategy in every one.
            storage = self.registry.storage_info(info)
            rs = self._stores[key] = ResourceStore(
                info, strategy_for(storage), self.store, self.hubs, storage_info=storage
            )
        return rs

    def store_for(self, group: str, version: str, plural: str) -> ResourceStore:
        info = self.registry.get(group, version, plural)
        if info is None:
            raise errors.not_found_raw(f"resource {plural} not served")
        return self.resource_store(info)

    def namespaces(self) -> ResourceStore:
        return self.store_for("", "v1", "namespaces")

    def crd_schema(self, info: ResourceInfo) -> dict[str, Any] | None:
        return self.crd_schemas.get((info.group, info.version, info.plural))

    # --- lifecycle -----------------------------------------------------------------------------------
    async def start(self) -> None:
        await self._bootstrap_namespaces()
        await ensure_system_priority_classes(self)
        await ensure_mandatory_configuration(self)
        crds = self.store_for("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        listed = await crds.list(None)
        for crd in listed.items:
            self.register_crd(crd)
        self._tasks.spawn(self._follow_crds(crds, listed.resource_version), name="follow-crds")
        await api_services.sync_local(self)
        self._tasks.spawn(api_services.run(self), name="api-services")
        if self.compaction_interval > 0:
            self._tasks.spawn(self._compact_periodically(), name="compaction")

    async def close(self) -> None:
        await self._tasks.close()
        if self.node_streams is not None:
            await self.node_streams.close()
        await self.hubs.close()

    async def _compact_periodically(self) -> None:
        """Each interval, compact up to the revision that was current one interval ago."""
        previous = await self.store.current_revision()
        while True:
            await asyncio.sleep(self.compaction_interval)
            try:
                if previous > await self.store.compacted_revision():
                    await self.store.compact(previous)
                previous = await self.store.current_revision()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("compaction failed")

    async def _bootstrap_namespaces(self) -> None:
        ns_store = self.namespaces()
        for name in SYSTEM_NAMESPACES:
            if await ns_store.try_get(None, name) is not None:
                continue
            obj = {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": name,
                    "uid": meta.new_uid(),
                    "creationTimestamp": meta.now_rfc3339(),
                    "labels": {"kubernetes.io/metadata.name": name},
                },
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            }
            with contextlib.suppress(KeyExistsError, errors.StatusError):
                await ns_store.create(obj)

    async def _follow_crds(self, crds: ResourceStore, after: int) -> None:
        while True:
            try:
                async for event in crds.watch(None, after):
                    after = event.revision
                    if event.type == "DELETED":
                        self.unregister_crd(event.obj)
                    else:
                        self.register_crd(event.obj)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("CRD watch failed; relisting")
                await asyncio.sleep(0.5)
                listed = await crds.list(None)
                for crd in listed.items:
                    self.register_crd(crd)
                after = listed.resource_version

    # --- CRDs ----------------------------------------------------------------------------------------
    def register_crd(self, crd: dict[str, Any]) -> None:
        name = crd["metadata"]["name"]
        self.unregister_crd(crd, bump=False)
        owned: list[tuple[str, str, str]] = []
        for info in resource_infos(crd):
            existing = self.registry.get(info.group, info.version, info.plural)
            if existing is not None and not existing.custom:
                continue  # never shadow a built-in type
            key = (info.group, info.version, info.plural)
            self.registry.add(info)
            owned.append(key)
            version = version_of(crd, info.version) or {}
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            if isinstance(schema, dict):
                self.crd_schemas[key] = schema
            self.crd_columns[key] = list(version.get("additionalPrinterColumns") or [])
            scale = (version.get("subresources") or {}).get("scale")
            if isinstance(scale, dict):
                self.crd_scale[key] = scale
        self._crd_owned[name] = owned
        self.registry_generation += 1

    def unregister_crd(self, crd: dict[str, Any], *, bump: bool = True) -> None:
        for key in self._crd_owned.pop(crd["metadata"]["name"], []):
            self.registry.remove(*key)
            self.crd_schemas.pop(key, None)
            self.crd_columns.pop(key, None)
            self.crd_scale.pop(key, None)
            self._stores.pop(key, None)
        if bump:
            self.registry_generation += 1
