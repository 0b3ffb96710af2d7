"""Fixtures for the node lifecycle, quota, disruption and autoscaler tests: a real API server in
process (the aiohttp app on a fresh SQLite store, served on a loopback port), an ``ApiClient`` over
HTTP, and helpers to run controllers and simulated nodes as tasks with bounded waits.

Import the fixtures into a test module (``from tests.controllers._node_fixtures import api, server``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kybernetes.client import ApiClient
from tests.controllers._harness import running as running  # re-exported for the tests
from tests.inprocess import InProcessServer, serve
from tests.inprocess import eventually as eventually  # re-exported for the tests

Server = InProcessServer


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    async with serve(tmp_path) as srv:
        yield srv


@pytest.fixture
async def api(server: Server) -> AsyncIterator[ApiClient]:
    async with server.client() as client:
        yield client


def pod(
    name: str,
    *,
    namespace: str = "default",
    node: str | None = None,
    labels: dict[str, str] | None = None,
    requests: dict[str, str] | None = None,
    limits: dict[str, str] | None = None,
    tolerations: list[dict[str, Any]] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": "busybox"}
    resources: dict[str, Any] = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    if resources:
        container["resources"] = resources
    spec: dict[str, Any] = {"containers": [container]}
    if node:
        spec["nodeName"] = node
    if tolerations is not None:
        spec["tolerations"] = tolerations
    md: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels or {}}
    if annotations:
        md["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec}
