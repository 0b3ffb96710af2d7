"""Shared fixtures: a real etcd for the session, and a started ``Store`` parametrised over every backend.

``etcd_endpoint``: ``"127.0.0.1:PORT"`` of one etcd started for the whole session (``tests/etcdserver.py``).
Without an ``etcd`` binary the test is skipped, or fails when ``CI=true`` (CI must run every backend).
Tests marked ``kubectl`` are treated the same way when kubectl is missing (``tests/needs.py``).
``store``: a started store, once per backend ("sqlite": a fresh file in ``tmp_path``; "etcd": the session
server with a unique key prefix per test, so tests never see each other's keys; revisions are shared,
so tests only reason about revisions relative to the ones they observed).

Hypothesis runs derandomised (profile ``repro``, the default): every property test draws the same examples
on every run and machine, so the suite passes or fails on the code, not on its seed. Exploration is a
separate, longer run: ``HYPOTHESIS_PROFILE=explore`` (``make fuzz``) draws fresh random examples, several
times as many (``fuzz_examples``), and keeps what fails in ``.hypothesis/`` to replay it first next time.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase

from kybernetes.storage.interface import Store
from tests.etcdserver import EtcdServer, etcd_available
from tests.needs import require_kubectl, unavailable


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("kubectl") is not None:
        require_kubectl()


settings.register_profile("repro", derandomize=True, database=None, print_blob=True)
settings.register_profile(
    "explore",
    derandomize=False,
    database=DirectoryBasedExampleDatabase(".hypothesis/examples"),
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repro"))


def fuzz_examples(base: int) -> int:
    """``base`` examples in the reproducible suite; ``FUZZ_SCALE`` times as many when exploring."""
    if os.environ.get("HYPOTHESIS_PROFILE") == "explore":
        return base * int(os.environ.get("FUZZ_SCALE", "20"))
    return base


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
