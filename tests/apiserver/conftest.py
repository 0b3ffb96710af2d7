"""An in-process API server on a fresh SQLite store, reached over loopback HTTP with aiohttp."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from kybernetes.apiserver.app import make_app
from kybernetes.apiserver.context import ApiContext
from tests.inprocess import api_context


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[TestClient]:
    async with api_context(tmp_path) as ctx:
        client = TestClient(TestServer(make_app(ctx), host="127.0.0.1"))
        await client.start_server()
        client.app_ctx = ctx  # type: ignore[attr-defined]
        try:
            yield client
        finally:
            await client.close()


@pytest.fixture
async def ctx(tmp_path: Path) -> AsyncIterator[ApiContext]:
    """A started ``ApiContext`` on a fresh store, without compaction (tests that call the store directly)."""
    async with api_context(tmp_path, compaction_interval=0) as context:
        yield context
