"""The revisioned key-value store every backend implements (etcd's data model).

Contract (all backends, checked by ``tests/storage/test_conformance.py``):

* One global, strictly increasing ``revision``. Every successful create, update or delete bumps it by
  exactly one and stamps the key with it (``mod_revision``); ``create_revision`` is the revision at which
  the key was (last) created.
* Keys are ``str`` paths such as ``/registry/pods/default/web``; values are opaque ``bytes``.
* ``range(prefix, ...)`` returns keys in byte order, at most ``limit`` (0 = no limit), strictly after
  ``start_after`` when given, as of ``revision`` (0 = now). ``more`` tells if keys were left out.
  Reading at a compacted revision raises ``CompactedError``; at a future revision ``FutureRevisionError``.
* Writes are compare-and-swap: ``create`` only if absent, ``update``/``delete`` only if the key's current
  ``mod_revision`` equals ``expected_mod_revision`` (``delete`` with ``None`` deletes unconditionally).
* ``watch(prefix, after_revision)`` yields every event on keys under ``prefix`` with revision
  ``> after_revision``, in revision order, none lost, none doubled, until the iterator is closed.
  ``after_revision`` older than the compacted revision raises ``CompactedError`` (at the first
  ``__anext__`` at the latest). DELETE events carry the key's last value in ``kv.value`` and the deletion
  revision in ``kv.mod_revision``; ``delete`` returns that same KeyValue.
* A write that returned has been made durable (survives ``kill -9``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol


class StorageError(Exception):
    """Base class of storage errors."""


class KeyExistsError(StorageError):
    """``create`` found the key already present."""

    def __init__(self, key: str) -> None:
        super().__init__(f"key exists: {key}")
        self.key = key


class KeyNotFoundError(StorageError):
    """``update``/``delete`` found no such key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"key not found: {key}")
        self.key = key


class RevisionMismatchError(StorageError):
    """Compare-and-swap failed: the key moved on. ``current`` is its present state (None if deleted)."""

    def __init__(self, key: str, current: KeyValue | None) -> None:
        super().__init__(f"revision mismatch on {key}")
        self.key = key
        self.current = current


class CompactedError(StorageError):
    """The requested revision has been compacted away."""

    def __init__(self, requested: int, compacted: int) -> None:
        super().__init__(f"required revision {requested} has been compacted (compacted revision {compacted})")
        self.requested = requested
        self.compacted = compacted


class FutureRevisionError(StorageError):
    """The requested revision is newer than the store's current revision."""

    def __init__(self, requested: int, current: int) -> None:
        super().__init__(f"required revision {requested} is a future revision (current {current})")
        self.requested = requested
        self.current = current


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int


@dataclass(frozen=True, slots=True)
class RangeResult:
    kvs: list[KeyValue]
    revision: int  # the revision the read was served at
    more: bool  # keys past the limit exist
    count: int  # total keys matching prefix (and start_after) at that revision


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: Literal["PUT", "DELETE"]
    kv: KeyValue
    prev_kv: KeyValue | None  # the previous value for updates and deletes, when known

    @property
    def revision(self) -> int:
        return self.kv.mod_revision


class Store(Protocol):
    """A revisioned KV store. All methods are coroutine-safe; none block the event loop."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def current_revision(self) -> int: ...

    async def compacted_revision(self) -> int: ...

    async def get(self, key: str, *, revision: int = 0) -> KeyValue | None: ...

    async def range(
        self, prefix: str, *, start_after: str | None = None, limit: int = 0, revision: int = 0
    ) -> RangeResult: ...

    async def create(self, key: str, value: bytes) -> KeyValue: ...

    async def update(self, key: str, value: bytes, *, expected_mod_revision: int) -> KeyValue: ...

    async def delete(self, key: str, *, expected_mod_revision: int | None = None) -> KeyValue: ...

    def watch(self, prefix: str, *, after_revision: int) -> AsyncIterator[WatchEvent]: ...

    async def compact(self, revision: int) -> None: ...
