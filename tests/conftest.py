"""Shared fixtures: a real etcd for the session, and a started ``Store`` parametrised over every backend.

``etcd_endpoint``: ``"127.0.0.1:PORT"`` of one etcd started for the whole session (``tests/etcdserver.py``).
Without an ``etcd`` binary the test is skipped, or fails when ``CI=true`` (CI must run every backend).
Tests marked ``kubectl`` are treated the same way when kubectl is missing (``tests/needs.py``).
``store``: a started store, once per backend ("sqlite": a fresh file in ``tmp_path``; "etcd": the session
server with a unique key prefix per test, so tests never see each other's keys; revisions are shared,
so tests only reason about revisions relative to the ones they observed).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from kybernetes.storage.interface import Store
from tests.etcdserver import EtcdServer, etcd_available
from tests.needs import require_kubectl, unavailable


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("kubectl") is not None:
        require_kubectl()


@pytest.fixture(scope="session")
def etcd_endpoint() -> Iterator[str]:
    if not etcd_available():
        unavailable("etcd binary not found (apt-get install etcd-server)")
    with EtcdServer() as server:
        yield server.endpoint


@pytest.fixture(params=[pytest.param("sqlite"), pytest.param("etcd", marks=pytest.mark.etcd)])
def store_backend(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(backend name, etcd endpoint or ""); resolves the session etcd only for the etcd parameter."""
    if request.param == "etcd":
        return "etcd", request.getfixturevalue("etcd_endpoint")
    return "sqlite", ""


@pytest.fixture
async def store(store_backend: tuple[str, str], tmp_path: Path) -> AsyncIterator[Store]:
    backend, endpoint = store_backend
    instance: Store
    if backend == "etcd":
        from kybernetes.storage.etcd import EtcdStore

        instance = EtcdStore([endpoint], key_prefix=f"/kyb-test-{uuid.uuid4().hex[:12]}")
    else:
        from kybernetes.storage.sqlite import SQLiteStore

        instance = SQLiteStore(tmp_path / "state.db")
    await instance.start()
    try:
        yield instance
    finally:
        await instance.close()
