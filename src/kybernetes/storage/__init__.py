"""Revisioned key-value storage: the interface, SQLite (embedded default) and etcd v3 backends."""

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

__all__ = [
    "CompactedError",
    "FutureRevisionError",
    "KeyExistsError",
    "KeyNotFoundError",
    "KeyValue",
    "RangeResult",
    "RevisionMismatchError",
    "StorageError",
    "Store",
    "WatchEvent",
]
