"""The one generic REST store: every resource's CRUD, list and watch over the revisioned KV store.

Specialised per resource only by its ``Strategy``. Objects are plain dicts, stored as JSON without
``metadata.resourceVersion`` (it is the key's ``mod_revision``, filled in on every read, as upstream's
etcd3 store does). Writes are compare-and-swap; ``guaranteed_update`` re-runs a mutation on fresh state
until the swap succeeds, which is how PATCH, status writes and finalizer removal stay race-free.

A store may be a *view* of a resource in a version other than its storage version (``autoscaling/v1``
HorizontalPodAutoscalers are stored as ``autoscaling/v2``): it shares the storage keys and watch hub of
the storage version, and converts every object it reads, writes or streams (``kybernetes.api.conversion``).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from kybernetes.api import conversion, errors, meta
from kybernetes.api.registry import Registry, ResourceInfo, storage_key, storage_prefix
from kybernetes.apiserver import codec
from kybernetes.apiserver.strategies.base import Strategy
from kybernetes.apiserver.watch import ObjectEvent, WatchHubs
from kybernetes.storage import (
    CompactedError,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    RevisionMismatchError,
    Store,
)

log = logging.getLogger(__name__)

MAX_UPDATE_RETRIES = 16

Mutation = Callable[[dict[str, Any]], Awaitable[dict[str, Any]] | dict[str, Any]]
Filter = Callable[[dict[str, Any]], bool]


def encode(obj: dict[str, Any]) -> bytes:
    """The stored form: upstream's field order, so reads need no reordering, and an empty
    ``resourceVersion`` that only holds its place (reads fill it from the key's revision)."""
    md = obj.get("metadata")
    if isinstance(md, dict):
        obj = {**obj, "metadata": {**md, "resourceVersion": ""}}
    return orjson.dumps(codec.upstream_order(obj))


def decode(kv: KeyValue) -> dict[str, Any]:
    obj = orjson.loads(kv.value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(kv.mod_revision)
    return obj


INCONSISTENT_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new "
    "list without the continue parameter, or use the continue token in this response to retrieve the "
    "remainder of the results. Continuing with the provided token results in an inconsistent list - objects "
    "that were created, modified, or deleted between the time the first chunk was returned and now may show "
    "up in the list."
)


def encode_continue(revision: int, last_key: str) -> str:
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": last_key})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
        revision = int(data["rv"])
        start = str(data["start"])
        if data.get("v") != "meta.k8s.io/v1":
            raise ValueError
    except (ValueError, KeyError, TypeError, binascii.Error, orjson.JSONDecodeError) as exc:
        raise errors.bad_request(
            "invalid continue token: continue key is not valid: the continue token is malformed"
        ) from exc
    if revision == 0:
        raise errors.bad_request("0 continue resource version is not allowed when using continue")
    # a negative revision (upstream's -1) continues at the latest revision: the inconsistent continuation
    # offered with a 410 once the token's own revision is compacted
    return max(revision, 0), start


def parse_resource_version(value: str | None, what: str = "resourceVersion") -> int | None:
    if value is None or value == "":
        return None
    try:
        rv = int(value)
    except ValueError:
        raise errors.bad_request(f"invalid {what}: {value!r} is not a valid resource version") from None
    if rv < 0:
        raise errors.bad_request(f"invalid {what}: {value!r} is not a valid resource version")
    return rv


def expired(revision: int) -> errors.StatusError:
    return errors.gone(f"The resourceVersion for the provided watch is too old (requested {revision}).")


def _list_options_invalid(message: str) -> errors.StatusError:
    cause = errors.Cause("resourceVersionMatch", f"Forbidden: {message}", "FieldValueForbidden")
    return errors.invalid("ListOptions", "", [cause], "meta.k8s.io")


@dataclass
class ListResult:
    items: list[dict[str, Any]]
    resource_version: int
    continue_token: str | None
    remaining: int | None


class ResourceStore:
    """CRUD, list and watch of one resource."""

    def __init__(
        self,
        info: ResourceInfo,
        strategy: Strategy,
        store: Store,
        hubs: WatchHubs,
        *,
        storage_info: ResourceInfo | None = None,
    ) -> None:
        self.info = info
        self.strategy = strategy
        self.store = store
        self.hubs = hubs
        self.prefix = storage_prefix(info)
        # The version objects are stored in; when it differs from ``info``'s, this store is a view.
        self.storage_info = storage_info or info
        self._converts = self.storage_info.version != info.version

    # --- versions ------------------------------------------------------------------------------------
    def to_view(self, obj: dict[str, Any]) -> dict[str, Any]:
        """A stored object in this store's version."""
        if not self._converts:
            return obj
        return conversion.convert(obj, self.info.group, self.info.kind, self.info.version)

    def to_storage(self, obj: dict[str, Any]) -> dict[str, Any]:
        """An object of this store's version in the storage version."""
        if not self._converts:
            return obj
        return conversion.convert(obj, self.info.group, self.info.kind, self.storage_info.version)

    def _decode(self, kv: KeyValue) -> dict[str, Any]:
        return self.to_view(decode(kv))

    def _encode(self, obj: dict[str, Any]) -> bytes:
        return encode(self.to_storage(obj))

    # --- keys ----------------------------------------------------------------------------------------
    def key(self, namespace: str | None, name: str) -> str:
        return storage_key(self.info, namespace, name)

    def list_prefix(self, namespace: str | None) -> str:
        if self.info.namespaced and namespace:
            return f"{self.prefix}{namespace}/"
        return self.prefix

    def not_found(self, name: str) -> errors.StatusError:
        return errors.not_found(self.info.plural, name, self.info.group)

    # --- reads ---------------------------------------------------------------------------------------
    async def get(self, namespace: str | None, name: str) -> dict[str, Any]:
        kv = await self.store.get(self.key(namespace, name))
        if kv is None:
            raise self.not_found(name)
        return self._decode(kv)

    async def try_get(self, namespace: str | None, name: str) -> dict[str, Any] | None:
        kv = await self.store.get(self.key(namespace, name))
        return self._decode(kv) if kv is not None else None

    async def list(
        self,
        namespace: str | None,
        *,
        matches: Filter | None = None,
        limit: int = 0,
        continue_token: str | None = None,
        resource_version: str | None = None,
        resource_version_match: str | None = None,
    ) -> ListResult:
        prefix = self.list_prefix(namespace)
        revision = 0
        start_after: str | None = None
        continue_start: str | None = None
        rv = parse_resource_version(resource_version)
        if continue_token:
            if rv:
                raise errors.bad_request("specifying resource version is not allowed when using continue")
            revision, start_after = decode_continue(continue_token)
            continue_start = start_after
            if not start_after.startswith(prefix):
                raise errors.bad_request(
                    "invalid continue token: continue key is not valid: the continue token does not match the request"
                )
        elif resource_version_match and rv is None:
            raise _list_options_invalid(
                "resourceVersionMatch is forbidden unless resourceVersion is provided"
            )
        elif resource_version_match == "Exact":
            if rv == 0:
                raise _list_options_invalid(
                    'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'
                )
            revision = rv or 0
        elif resource_version_match not in (None, "", "NotOlderThan"):
            raise errors.invalid(
                "ListOptions",
                "",
                [
                    errors.Cause(
                        "resourceVersionMatch",
                        f'Unsupported value: "{resource_version_match}": supported values: "Exact", "NotOlderThan", ""',
                        "FieldValueNotSupported",
                    )
                ],
                "meta.k8s.io",
            )
        elif rv:
            current = await self.store.current_revision()
            if rv > current:
                raise errors.StatusError(
                    504,
                    "Timeout",
                    f"Too large resource version: {rv}, current: {current}",
                )
        items: list[dict[str, Any]] = []
        more = False
        last_key: str | None = None
        page = limit if limit > 0 else 0
        served_rev = revision
        remaining: int | None = None
        try:
            while True:
                result = await self.store.range(
                    prefix, start_after=start_after, limit=page, revision=served_rev
                )
                served_rev = result.revision
                for kv in result.kvs:
                    last_key = kv.key
                    obj = self._decode(kv)
                    if matches is None or matches(obj):
                        items.append(obj)
                        if limit and len(items) >= limit:
                            break
                if limit and len(items) >= limit:
                    more = result.more or (last_key is not None and last_key != result.kvs[-1].key)
                    if more and matches is None:
                        # as upstream's etcd3 list: only without selectors is the count of keys past
                        # this page exact (the range's count minus what this page returned)
                        remaining = result.count - len(result.kvs)
                    break
                if not result.more or not result.kvs:
                    break
                start_after = result.kvs[-1].key
                # keep fetching pages until ``limit`` matches are found, as upstream does
                page = max(page, limit * 2) if limit else 0
        except CompactedError as exc:
            if continue_token:
                raise errors.StatusError(
                    410,
                    "Expired",
                    INCONSISTENT_CONTINUE,
                    list_continue=encode_continue(-1, continue_start or ""),
                ) from exc
            raise expired(revision) from exc
        except FutureRevisionError as exc:
            raise errors.StatusError(504, "Timeout", f"Too large resource version: {revision}") from exc
        token = encode_continue(served_rev, last_key) if more and last_key else None
        return ListResult(items=items, resource_version=served_rev, continue_token=token, remaining=remaining)

    # --- writes --------------------------------------------------------------------------------------
    async def create(self, obj: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        """Store a fully prepared object (metadata, defaults and validation already done)."""
        md = obj["metadata"]
        key = self.key(md.get("namespace"), md["name"])
        if dry_run:
            existing = await self.store.get(key)
            if existing is not None:
                raise errors.already_exists(self.info.plural, md["name"], self.info.group)
            return obj
        try:
            kv = await self.store.create(key, self._encode(obj))
        except KeyExistsError:
            raise errors.already_exists(self.info.plural, md["name"], self.info.group) from None
        md["resourceVersion"] = str(kv.mod_revision)
        return obj

    async def replace(
        self, new: dict[str, Any], expected_rv: int, *, dry_run: bool = False
    ) -> dict[str, Any]:
        """Compare-and-swap ``new`` over the stored object whose revision is ``expected_rv``.

        Deletes the object instead when it is being deleted and has no finalizers left.
        """
        md = new["metadata"]
        name = md["name"]
        key = self.key(md.get("namespace"), name)
        if (
            md.get("deletionTimestamp")
            and not md.get("finalizers")
            and not self.strategy.deletion_pending(new)
        ):
            if dry_run:
                return new
            with self._write_errors(name):
                kv = await self.store.delete(key, expected_mod_revision=expected_rv)
            md["resourceVersion"] = str(kv.mod_revision)
            return new
        if dry_run:
            return new
        with self._write_errors(name):
            kv = await self.store.update(key, self._encode(new), expected_mod_revision=expected_rv)
        md["resourceVersion"] = str(kv.mod_revision)
        return new

    def _waits_for_grace(self, obj: dict[str, Any]) -> bool:
        md = obj["metadata"]
        return (
            bool(md.get("deletionGracePeriodSeconds")) and self.strategy.grace_period(obj, None) is not None
        )

    @contextlib.contextmanager
    def _write_errors(self, name: str) -> Iterator[None]:
        """A guarded store write's failures as API errors: key gone 404, revision moved 409."""
        try:
            yield
        except KeyNotFoundError:
            raise self.not_found(name) from None
        except RevisionMismatchError:
            raise self._conflict(name) from None

    def _conflict(self, name: str) -> errors.StatusError:
        return errors.conflict(
            self.info.plural,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
            self.info.group,
        )

    async def guaranteed_update(
        self, namespace: str | None, name: str, mutate: Mutation, *, dry_run: bool = False
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Apply ``mutate`` to the current object until the swap succeeds; returns (old, new).

        ``mutate`` receives a private copy and returns the desired object; raising StatusError aborts.
        A mutation that returns an object pinned to an explicit, stale ``resourceVersion`` gets 409.
        """
        for _ in range(MAX_UPDATE_RETRIES):
            current = await self.get(namespace, name)
            current_rv = int(current["metadata"]["resourceVersion"])
            result = mutate(meta.deep_copy(current))
            new = await result if isinstance(result, Awaitable) else result
            if new == current:
                return current, current
            try:
                stored = await self.replace(new, current_rv, dry_run=dry_run)
            except errors.StatusError as exc:
                if exc.reason == "Conflict":
                    continue
                raise
            return current, stored
        raise self._conflict(name)

    async def delete_now(
        self, namespace: str | None, name: str, expected_rv: int | None, *, dry_run: bool = False
    ) -> dict[str, Any]:
        key = self.key(namespace, name)
        if dry_run:
            return await self.get(namespace, name)
        with self._write_errors(name):
            kv = await self.store.delete(key, expected_mod_revision=expected_rv)
        obj = orjson.loads(kv.value)
        obj.setdefault("metadata", {})["resourceVersion"] = str(kv.mod_revision)
        return self.to_view(obj)

    # --- watch ---------------------------------------------------------------------------------------
    async def watch(self, namespace: str | None, after_revision: int) -> AsyncIterator[ObjectEvent]:
        """Events of this resource (in ``namespace`` when given) after ``after_revision``."""
        ns_prefix = self.list_prefix(namespace) if namespace else None
        hub = self.hubs.hub(self.prefix)
        try:
            async for event in hub.events(after_revision):
                if ns_prefix is not None and event.obj.get("metadata", {}).get("namespace") != namespace:
                    continue
                if self._converts:
                    # the hub's events are shared by every watcher: convert copies, per watcher's version
                    prev = self.to_view(event.prev) if event.prev is not None else None
                    event = ObjectEvent(event.type, self.to_view(event.obj), prev, event.revision)
                yield event
        except CompactedError as exc:
            raise expired(after_revision) from exc


class StoreLocator(Protocol):
    """Finds a resource's store by (group, version, plural). The server's ``ApiContext`` satisfies it;
    the bootstrap and admission code it runs take this instead, so the context sits above them."""

    def store_for(self, group: str, version: str, plural: str) -> ResourceStore: ...


class ServingContext(StoreLocator, Protocol):
    """A ``StoreLocator`` that also exposes the registry being served, its generation (bumped on each
    CRD change) and the raw store: what the APIService sync reads."""

    registry: Registry
    registry_generation: int
    store: Store
