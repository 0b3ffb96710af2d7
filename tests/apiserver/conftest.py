"""An in-process API server on a fresh SQLite store, reached over loopback HTTP with aiohttp."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from kybernetes.apiserver.app import make_app
from kybernetes.apiserver.context import ApiContext
from kybernetes.storage.sqlite import SQLiteStore


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[TestClient]:
    store = SQLiteStore(tmp_path / "state.db")
    await store.start()
    ctx = ApiContext(store)
    await ctx.start()
    app = make_app(ctx)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    client.app_ctx = ctx  # type: ignore[attr-defined]
    try:
        yield client
    finally:
        await client.close()
        await ctx.close()
        await store.close()
