"""Informers: a local, indexed, eventually consistent copy of one resource, kept fresh by list + watch.

The pieces, lowest first (client-go's ``tools/cache`` shape without the DeltaFIFO, because one asyncio
thread applies events in order anyway):

- ``Indexer``: the cache. Objects by key (``namespace/name``, or ``name`` when cluster-scoped) plus named
  indexes (``namespace`` always; ``labels`` on request; any ``add_indexer(name, fn)``), queried with
  ``by_index(name, value)``. Not thread-safe; it lives on the event loop.
- ``Reflector``: lists (paginated) then watches from the list's resourceVersion with bookmarks, advancing
  its resourceVersion on every event and bookmark. A watch that ends (server timeout) or breaks
  (disconnect, 5xx) is reopened from the last resourceVersion with backoff; a 410 Expired (history
  compacted) makes it re-list. It feeds a ``ReflectorSink`` (``replace`` for a list, ``apply`` per event).
- ``Informer``: a reflector, an indexer and event handlers. A re-list is reconciled against the cache:
  new objects are ``on_add``, changed ones ``on_update(old, new)`` and objects that vanished while the
  watch was down are ``on_delete(DeletedFinalStateUnknown(key, last_known))``, as client-go does.
  Optional periodic resync re-delivers ``on_update(obj, obj)`` for every cached object. Handlers are
  plain synchronous callables called in event order; they must be quick (typically: enqueue a key on a
  ``WorkQueue``) and their exceptions are logged, never propagated.
- ``SharedInformerFactory``: one informer per (resource, namespace, selectors) per factory, so every
  controller in a process shares one watch and one cache per resource.

The REST client is ``rest.py``; work queues that handlers feed are in ``workqueue.py``.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import random
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from kybernetes._lib.backoff import Backoff
from kybernetes.api.errors import StatusError
from kybernetes.api.meta import Obj
from kybernetes.api.registry import ResourceInfo
from kybernetes.api.selectors import LabelSelector, parse_label_selector
from kybernetes.client.rest import (
    ApiClient,
    ApiConnectionError,
    ResourceClient,
    ResourceExpiredError,
    WatchStream,
)

__all__ = [
    "LABEL_INDEX",
    "NAMESPACE_INDEX",
    "Backoff",
    "DeletedFinalStateUnknown",
    "HandlerRegistration",
    "IndexFunc",
    "Indexer",
    "Informer",
    "Reflector",
    "ReflectorSink",
    "SharedInformerFactory",
    "label_index_func",
    "namespace_index_func",
    "object_key",
    "split_key",
]

log = logging.getLogger(__name__)

IndexFunc = Callable[[Obj], Iterable[str]]
NAMESPACE_INDEX = "namespace"
LABEL_INDEX = "labels"


# --- keys and index functions -------------------------------------------------------------------------
def object_key(obj: Mapping[str, Any]) -> str:
    """``namespace/name`` for namespaced objects, ``name`` otherwise (client-go's MetaNamespaceKeyFunc)."""
    if isinstance(obj, DeletedFinalStateUnknown):
        return obj.key
    md = obj.get("metadata") or {}
    ns = md.get("namespace")
    name = md.get("name") or ""
    return f"{ns}/{name}" if ns else str(name)


def split_key(key: str) -> tuple[str | None, str]:
    """Inverse of ``object_key``: ``(namespace or None, name)``."""
    ns, sep, name = key.partition("/")
    return (ns, name) if sep else (None, ns)


def namespace_index_func(obj: Obj) -> list[str]:
    return [str((obj.get("metadata") or {}).get("namespace") or "")]


def label_index_func(obj: Obj) -> list[str]:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return [f"{k}={v}" for k, v in labels.items()]


def _rv(obj: Mapping[str, Any] | None) -> str:
    if not obj:
        return ""
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


@dataclass(frozen=True)
class DeletedFinalStateUnknown:
    """Handed to ``on_delete`` for an object that disappeared while the watch was down: ``obj`` is the
    last state the cache knew, which may be stale."""

    key: str
    obj: Obj


# --- the cache ----------------------------------------------------------------------------------------
class Indexer:
    """Objects by key plus named secondary indexes (value -> keys). Objects are stored as given: treat
    what you read as read-only (copy before mutating)."""

    def __init__(self, indexers: Mapping[str, IndexFunc] | None = None) -> None:
        self._items: dict[str, Obj] = {}
        self._indexers: dict[str, IndexFunc] = {NAMESPACE_INDEX: namespace_index_func}
        self._indices: dict[str, dict[str, set[str]]] = {NAMESPACE_INDEX: {}}
        for name, fn in (indexers or {}).items():
            self.add_indexer(name, fn)

    # --- indexes --------------------------------------------------------------------------------------
    def add_indexer(self, name: str, fn: IndexFunc) -> None:
        """Add (or replace) an index; existing objects are indexed at once."""
        self._indexers[name] = fn
        index: dict[str, set[str]] = {}
        self._indices[name] = index
        for key, obj in self._items.items():
            for value in self._values(fn, obj):
                index.setdefault(value, set()).add(key)

    @property
    def indexers(self) -> Mapping[str, IndexFunc]:
        return self._indexers

    @staticmethod
    def _values(fn: IndexFunc, obj: Obj) -> set[str]:
        try:
            return set(fn(obj))
        except Exception:
            log.exception("index function failed for %s", object_key(obj))
            return set()

    def _unindex(self, key: str, obj: Obj) -> None:
        for name, fn in self._indexers.items():
            index = self._indices[name]
            for value in self._values(fn, obj):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]

    def _index(self, key: str, obj: Obj) -> None:
        for name, fn in self._indexers.items():
            index = self._indices[name]
            for value in self._values(fn, obj):
                index.setdefault(value, set()).add(key)

    def by_index(self, name: str, value: str) -> list[Obj]:
        """Objects whose index function ``name`` produced ``value``."""
        return [self._items[k] for k in sorted(self.index_keys(name, value))]

    def index_keys(self, name: str, value: str) -> set[str]:
        if name not in self._indices:
            raise KeyError(f"no index named {name!r}")
        return set(self._indices[name].get(value, ()))

    def index_values(self, name: str) -> list[str]:
        if name not in self._indices:
            raise KeyError(f"no index named {name!r}")
        return sorted(self._indices[name])

    # --- writes ---------------------------------------------------------------------------------------
    def update(self, obj: Obj) -> Obj | None:
        """Add or replace ``obj``; returns the previous object under its key."""
        key = object_key(obj)
        old = self._items.get(key)
        if old is not None:
            self._unindex(key, old)
        self._items[key] = obj
        self._index(key, obj)
        return old

    add = update

    def delete(self, obj_or_key: Mapping[str, Any] | str) -> Obj | None:
        key = obj_or_key if isinstance(obj_or_key, str) else object_key(obj_or_key)
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old

    def replace(self, objs: Iterable[Obj]) -> None:
        self._items = {}
        self._indices = {name: {} for name in self._indexers}
        for obj in objs:
            self.update(obj)

    # --- reads ----------------------------------------------------------------------------------------
    def get_by_key(self, key: str) -> Obj | None:
        return self._items.get(key)

    def get(self, name: str, namespace: str | None = None) -> Obj | None:
        return self._items.get(f"{namespace}/{name}" if namespace else name)

    def list(self, namespace: str | None = None) -> list[Obj]:
        if namespace is None:
            return list(self._items.values())
        return self.by_index(NAMESPACE_INDEX, namespace)

    def list_keys(self) -> builtins.list[str]:
        return list(self._items)

    def select(self, selector: str | LabelSelector, namespace: str | None = None) -> builtins.list[Obj]:
        """Objects (in ``namespace`` when given) whose labels match a label selector."""
        sel = parse_label_selector(selector) if isinstance(selector, str) else selector
        return [o for o in self.list(namespace) if sel.matches((o.get("metadata") or {}).get("labels") or {})]

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[Obj]:
        return iter(list(self._items.values()))


# --- reflector ----------------------------------------------------------------------------------------
class ReflectorSink(Protocol):
    def replace(self, items: builtins.list[Obj], resource_version: str) -> None: ...
    def apply(self, event_type: str, obj: Obj) -> None: ...


class Reflector:
    """List then watch one resource into a sink, forever (until cancelled). See the module docstring."""

    def __init__(
        self,
        client: ResourceClient,
        sink: ReflectorSink,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 500,
        watch_timeout: float = 300.0,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.sink = sink
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.page_size = page_size
        self.watch_timeout = watch_timeout
        self.backoff = backoff or Backoff()
        self._rng = rng or random.Random()
        self.resource_version = ""
        self.lists = 0  # how many full lists were done (observability, tests)
        self._watch: WatchStream | None = None

    async def run(self) -> None:
        need_list = True
        while True:
            try:
                if need_list:
                    await self._list()
                    need_list = False
                    self.backoff.reset()
                if await self._watch_once():
                    self.backoff.reset()
                    continue
                # the watch ended without delivering anything: do not spin on a server that hangs up
                await self.backoff.sleep()
            except asyncio.CancelledError:
                raise
            except ResourceExpiredError as exc:
                log.info(
                    "%r: resourceVersion %s expired (%s); re-listing", self.client, self.resource_version, exc
                )
                if not need_list:
                    need_list = True
                    continue  # the first re-list after an expiry is immediate
                await self.backoff.sleep()
            except StatusError as exc:
                if exc.code == 504 and "resource version" in exc.message.lower():
                    need_list = True
                log.warning("%r: %s failed: %s", self.client, "list" if need_list else "watch", exc)
                await self.backoff.sleep()
            except ApiConnectionError as exc:
                log.info("%r: connection problem (%s); retrying", self.client, exc)
                await self.backoff.sleep()
            except Exception:
                log.exception("%r: reflector error", self.client)
                await self.backoff.sleep()

    async def _list(self) -> None:
        items: list[Obj] = []
        token: str | None = None
        rv = ""
        while True:
            page = await self.client.list(
                namespace=self.namespace,
                label_selector=self.label_selector,
                field_selector=self.field_selector,
                limit=self.page_size or None,
                continue_=token,
            )
            kind = self.client.info.kind
            version = self.client.info.group_version
            for item in page.get("items") or []:
                if kind:
                    item.setdefault("kind", kind)
                item.setdefault("apiVersion", version)
                items.append(item)
            md = page.get("metadata") or {}
            rv = rv or str(md.get("resourceVersion") or "")
            token = md.get("continue") or None
            if not token:
                break
        self.lists += 1
        self.resource_version = rv
        self.sink.replace(items, rv)

    async def _watch_once(self) -> bool:
        """One watch request; True if it delivered at least one event (or bookmark)."""
        timeout = int(self.watch_timeout * (1.0 + self._rng.random()))
        stream = self.client.watch(
            namespace=self.namespace,
            resource_version=self.resource_version,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            timeout_seconds=max(1, timeout),
            allow_bookmarks=True,
        )
        self._watch = stream
        delivered = False
        try:
            async for event in stream:
                delivered = True
                if event.type != "BOOKMARK":
                    self.sink.apply(event.type, event.object)
                if stream.resource_version:
                    self.resource_version = stream.resource_version
        finally:
            self._watch = None
            await stream.close()
        return delivered


# --- informer -----------------------------------------------------------------------------------------
AddHandler = Callable[[Obj], Any]
UpdateHandler = Callable[[Obj, Obj], Any]
DeleteHandler = Callable[[Any], Any]  # Obj or DeletedFinalStateUnknown


@dataclass(eq=False)
class HandlerRegistration:
    """One set of event callbacks on an informer (returned by ``add_event_handler``)."""

    on_add: AddHandler | None = None
    on_update: UpdateHandler | None = None
    on_delete: DeleteHandler | None = None
    resync_period: float | None = None
    _resync_task: asyncio.Task[None] | None = None


class Informer:
    """A shared informer: cache + reflector + handlers for one resource (optionally one namespace and
    selectors). Call ``start()`` on a running loop, ``await stop()`` to end it."""

    def __init__(
        self,
        client: ResourceClient,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resync_period: float | None = None,
        indexers: Mapping[str, IndexFunc] | None = None,
        label_index: bool = False,
        page_size: int = 500,
        watch_timeout: float = 300.0,
        backoff: Backoff | None = None,
    ) -> None:
        self.client = client
        self.resync_period = resync_period
        self.indexer = Indexer(indexers)
        if label_index:
            self.indexer.add_indexer(LABEL_INDEX, label_index_func)
        self.reflector = Reflector(
            client,
            self,
            namespace=namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            page_size=page_size,
            watch_timeout=watch_timeout,
            backoff=backoff,
        )
        self._handlers: list[HandlerRegistration] = []
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._started = False

    def __repr__(self) -> str:
        return f"Informer({self.client.info.group_resource})"

    # --- handlers and indexes -------------------------------------------------------------------------
    def add_event_handler(
        self,
        on_add: AddHandler | None = None,
        on_update: UpdateHandler | None = None,
        on_delete: DeleteHandler | None = None,
        *,
        resync_period: float | None = None,
    ) -> HandlerRegistration:
        """Register callbacks. Added to a synced informer, ``on_add`` is called at once for every cached
        object so late handlers see the same world. ``resync_period`` (default: the informer's) > 0
        re-delivers ``on_update(obj, obj)`` for every cached object at that interval."""
        reg = HandlerRegistration(on_add, on_update, on_delete, resync_period or self.resync_period)
        self._handlers.append(reg)
        if self._synced.is_set() and on_add is not None:
            for obj in self.indexer:
                self._call(on_add, obj)
        if self._started:
            self._start_resync(reg)
        return reg

    def remove_event_handler(self, reg: HandlerRegistration) -> None:
        with contextlib.suppress(ValueError):
            self._handlers.remove(reg)
        if reg._resync_task is not None:
            reg._resync_task.cancel()
            reg._resync_task = None

    def add_indexer(self, name: str, fn: IndexFunc) -> None:
        self.indexer.add_indexer(name, fn)

    def by_index(self, name: str, value: str) -> list[Obj]:
        return self.indexer.by_index(name, value)

    # --- lister helpers -------------------------------------------------------------------------------
    def get(self, name: str, namespace: str | None = None) -> Obj | None:
        return self.indexer.get(name, namespace)

    def list(
        self, namespace: str | None = None, label_selector: str | LabelSelector | None = None
    ) -> list[Obj]:
        if label_selector:
            return self.indexer.select(label_selector, namespace)
        return self.indexer.list(namespace)

    # --- sync state -----------------------------------------------------------------------------------
    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109
        """True once the first list is in the cache; False if ``timeout`` passes first."""
        try:
            async with asyncio.timeout(timeout):
                await self._synced.wait()
        except TimeoutError:
            return False
        return True

    @property
    def last_sync_resource_version(self) -> str:
        return self.reflector.resource_version

    # --- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._started:
            return
        self._started = True
        self._task = asyncio.get_running_loop().create_task(self.reflector.run(), name=f"reflector:{self!r}")
        for reg in self._handlers:
            self._start_resync(reg)

    async def stop(self) -> None:
        tasks = [t for t in [self._task, *(r._resync_task for r in self._handlers)] if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._task = None
        for reg in self._handlers:
            reg._resync_task = None
        self._started = False

    @property
    def running(self) -> bool:
        return self._started

    def _start_resync(self, reg: HandlerRegistration) -> None:
        if (
            reg.resync_period
            and reg.resync_period > 0
            and reg.on_update is not None
            and reg._resync_task is None
        ):
            reg._resync_task = asyncio.get_running_loop().create_task(self._resync_loop(reg))

    async def _resync_loop(self, reg: HandlerRegistration) -> None:
        assert reg.resync_period is not None and reg.on_update is not None
        while True:
            await asyncio.sleep(reg.resync_period)
            if not self._synced.is_set():
                continue
            for obj in self.indexer:
                self._call(reg.on_update, obj, obj)

    # --- ReflectorSink --------------------------------------------------------------------------------
    def replace(self, items: builtins.list[Obj], resource_version: str) -> None:
        fresh = {object_key(o): o for o in items}
        for key in self.indexer.list_keys():
            if key not in fresh:
                old = self.indexer.delete(key)
                if old is not None:
                    self._dispatch_delete(DeletedFinalStateUnknown(key, old))
        for obj in fresh.values():
            old = self.indexer.update(obj)
            if old is None:
                self._dispatch_add(obj)
            elif _rv(old) != _rv(obj):
                self._dispatch_update(old, obj)
        self._synced.set()

    def apply(self, event_type: str, obj: Obj) -> None:
        if event_type == "DELETED":
            self.indexer.delete(obj)
            self._dispatch_delete(obj)
            return
        old = self.indexer.update(obj)
        if old is None:
            self._dispatch_add(obj)
        else:
            self._dispatch_update(old, obj)

    # --- dispatch -------------------------------------------------------------------------------------
    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("%r: event handler %s failed", self, getattr(fn, "__qualname__", fn))

    def _dispatch_add(self, obj: Obj) -> None:
        for reg in tuple(self._handlers):
            if reg.on_add is not None:
                self._call(reg.on_add, obj)

    def _dispatch_update(self, old: Obj, new: Obj) -> None:
        for reg in tuple(self._handlers):
            if reg.on_update is not None:
                self._call(reg.on_update, old, new)

    def _dispatch_delete(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        for reg in tuple(self._handlers):
            if reg.on_delete is not None:
                self._call(reg.on_delete, obj)


# --- factory ------------------------------------------------------------------------------------------
InformerKey = tuple[str, str, str, str | None, str | None, str | None]


class SharedInformerFactory:
    """One ``Informer`` per (resource, namespace, label selector, field selector).

    ``informer()`` may be called before or after ``start()``; ``start()`` starts every informer not yet
    running (call it again after adding informers), ``stop()`` stops them all.
    """

    def __init__(
        self,
        api: ApiClient,
        *,
        resync_period: float | None = None,
        namespace: str | None = None,
        **informer_options: Any,
    ) -> None:
        self.api = api
        self.resync_period = resync_period
        self.namespace = namespace
        self._options = informer_options
        self._informers: dict[InformerKey, Informer] = {}

    def informer(
        self,
        resource: ResourceClient | ResourceInfo | tuple[str, str, str],
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> Informer:
        """The shared informer of ``resource`` (a ResourceClient, a registry row or (group, version,
        plural)), created on first request."""
        if isinstance(resource, ResourceClient):
            client = resource
        elif isinstance(resource, ResourceInfo):
            client = self.api.client_for(resource)
        else:
            client = self.api.resource(*resource)
        info = client.info
        ns = namespace if namespace is not None else self.namespace
        key: InformerKey = (
            info.group,
            info.version,
            info.plural,
            ns,
            label_selector or None,
            field_selector or None,
        )
        inf = self._informers.get(key)
        if inf is None:
            inf = self._informers[key] = Informer(
                client,
                namespace=ns,
                label_selector=label_selector,
                field_selector=field_selector,
                resync_period=self.resync_period,
                **self._options,
            )
        return inf

    @property
    def informers(self) -> list[Informer]:
        return list(self._informers.values())

    def start(self) -> None:
        for inf in self._informers.values():
            inf.start()

    async def wait_for_cache_sync(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109
        """True when every informer has synced; False if ``timeout`` passes first."""
        waits = [inf.wait_synced() for inf in self._informers.values()]
        if not waits:
            return True
        try:
            async with asyncio.timeout(timeout):
                results = await asyncio.gather(*waits)
        except TimeoutError:
            return False
        return all(results)

    async def stop(self) -> None:
        for inf in self._informers.values():
            await inf.stop()
