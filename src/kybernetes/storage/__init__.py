"""Revisioned key-value storage: the interface, SQLite (embedded default) and etcd v3 backends.

``open_store(url)`` picks a backend from a URL. ``EtcdStore`` is imported lazily (it pulls in gRPC).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kybernetes.storage.factory import open_store
from kybernetes.storage.interface import (
    CompactedError,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    RangeResult,
    RevisionMismatchError,
    StorageError,
    Store,
    WatchEvent,
)
from kybernetes.storage.sqlite import SQLiteStore

if TYPE_CHECKING:
    from kybernetes.storage.etcd import EtcdStore

__all__ = [
    "CompactedError",
    "EtcdStore",
    "FutureRevisionError",
    "KeyExistsError",
    "KeyNotFoundError",
    "KeyValue",
    "RangeResult",
    "RevisionMismatchError",
    "SQLiteStore",
    "StorageError",
    "Store",
    "WatchEvent",
    "open_store",
]


def __getattr__(name: str) -> Any:
    if name == "EtcdStore":
        # lazy on purpose: the etcd backend pulls in grpc/aetcd, which a SQLite-only process never needs
        from kybernetes.storage.etcd import EtcdStore

        return EtcdStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
