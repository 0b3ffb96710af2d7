"""Open a ``Store`` from a URL: the one place that maps a ``--storage`` flag to a backend.

``sqlite:///abs/path/state.db`` (absolute) or ``sqlite://relative/state.db`` (relative to the working
directory) -> ``SQLiteStore``; ``etcd://host:port[,host:port...]`` (also ``etcd+http://``) -> ``EtcdStore``,
an optional path becomes its key prefix (``etcd://127.0.0.1:2379/kyb`` -> keys under ``/kyb``).
The store is returned unstarted: the caller calls ``await store.start()``. The etcd backend is imported
lazily so that SQLite users never load gRPC.
"""

from __future__ import annotations

from kybernetes.storage.interface import Store
from kybernetes.storage.sqlite import SQLiteStore

__all__ = ["open_store"]

_ETCD_SCHEMES = ("etcd://", "etcd+http://")


def open_store(url: str) -> Store:
    """Build the store named by ``url``; ValueError on anything not understood."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError("storage URL is empty; expected sqlite:///path/state.db or etcd://host:port")
    text = url.strip()
    if text.startswith("sqlite://"):
        path = text[len("sqlite://") :]
        if not path or path == "/":
            raise ValueError(f"storage URL {url!r} names no database file (sqlite:///abs/path/state.db)")
        return SQLiteStore(path)
    for scheme in _ETCD_SCHEMES:
        if text.startswith(scheme):
            rest = text[len(scheme) :]
            hosts, _, path = rest.partition("/")
            endpoints = [h for h in hosts.split(",") if h]
            if not endpoints:
                raise ValueError(f"storage URL {url!r} names no etcd endpoint (etcd://host:port[,host:port])")
            # lazy on purpose: the etcd backend pulls in grpc/aetcd, loaded only when etcd is asked for
            from kybernetes.storage.etcd import EtcdStore, parse_endpoints

            parse_endpoints(endpoints)  # raises ValueError on a malformed host:port
            prefix = "/" + path.strip("/") if path.strip("/") else ""
            return EtcdStore(endpoints, key_prefix=prefix)
    raise ValueError(
        f"unsupported storage URL {url!r}: expected sqlite:///abs/path/state.db, sqlite://relative/path.db, "
        "etcd://host:port[,host:port] or etcd+http://host:port"
    )
