"""``open_store`` URL parsing."""

from __future__ import annotations

import os

import pytest

from kybernetes.storage.etcd import EtcdStore, parse_endpoints
from kybernetes.storage.factory import open_store
from kybernetes.storage.sqlite import SQLiteStore


def test_sqlite_absolute_and_relative() -> None:
    store = open_store("sqlite:///var/lib/kyb/state.db")
    assert isinstance(store, SQLiteStore) and store.path == "/var/lib/kyb/state.db"
    store = open_store("sqlite://data/state.db")
    assert isinstance(store, SQLiteStore) and not os.path.isabs(store.path) and store.path == "data/state.db"


@pytest.mark.parametrize(
    ("url", "target", "prefix"),
    [
        ("etcd://127.0.0.1:2379", "127.0.0.1:2379", ""),
        ("etcd+http://127.0.0.1:2379", "127.0.0.1:2379", ""),
        ("etcd://127.0.0.1:2379,127.0.0.2:2379", "ipv4:127.0.0.1:2379,127.0.0.2:2379", ""),
        ("etcd://localhost:2379/kyb/", "localhost:2379", "/kyb"),
    ],
)
def test_etcd(url: str, target: str, prefix: str) -> None:
    store = open_store(url)
    assert isinstance(store, EtcdStore)
    assert store._target == target and store._prefix == prefix


@pytest.mark.parametrize(
    "url",
    ["", "memory://", "sqlite://", "sqlite:///", "etcd://", "etcd://host", "etcd://h:port", "postgres://x"],
)
def test_bad_urls_raise_value_error(url: str) -> None:
    with pytest.raises(ValueError):
        open_store(url)


def test_parse_endpoints() -> None:
    assert parse_endpoints(["http://a:1", "b:2", "[::1]:3"]) == [("a", 1), ("b", 2), ("::1", 3)]
    with pytest.raises(ValueError):
        parse_endpoints([])
