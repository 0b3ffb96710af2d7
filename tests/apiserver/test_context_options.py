"""``ApiContext`` is configured by its declared constructor arguments, and DELETE's garbage-collection
finalizers do not depend on where (or whether) a garbage collector runs.

The API server here runs alone (no controller manager, so no garbage collector anywhere), in process on
a loopback port, and is driven over real HTTP. Upstream's store (``deletionFinalizersForGarbageCollection``,
garbage collection enabled as by default) adds ``foregroundDeletion`` for ``propagationPolicy:
Foreground`` and ``orphan`` for ``Orphan``, and an explicit policy drops the other one; the object then
waits, marked, for the collector to remove the finalizer.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from kybernetes.apiserver.context import ApiContext
from kybernetes.apiserver.request import Target
from tests.inprocess import InProcessServer, serve

CM = "/api/v1/namespaces/default/configmaps"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[InProcessServer]:
    async with serve(tmp_path) as srv:
        yield srv


@pytest.fixture
async def http(server: InProcessServer) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(server.url, timeout=aiohttp.ClientTimeout(total=20)) as session:
        yield session


async def _create(http: aiohttp.ClientSession, name: str, finalizers: list[str] | None = None) -> None:
    md: dict[str, Any] = {"name": name}
    if finalizers:
        md["finalizers"] = finalizers
    async with http.post(CM, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": md}) as resp:
        assert resp.status == 201, await resp.text()


async def _delete(http: aiohttp.ClientSession, name: str, policy: str) -> tuple[int, dict[str, Any]]:
    body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": policy}
    async with http.delete(f"{CM}/{name}", json=body) as resp:
        return resp.status, await resp.json()


async def _get(http: aiohttp.ClientSession, name: str) -> tuple[int, dict[str, Any]]:
    async with http.get(f"{CM}/{name}") as resp:
        return resp.status, await resp.json()


@pytest.mark.parametrize(
    ("policy", "finalizer"), [("Foreground", "foregroundDeletion"), ("Orphan", "orphan")]
)
async def test_deletion_finalizer_added_without_any_garbage_collector(
    http: aiohttp.ClientSession, policy: str, finalizer: str
) -> None:
    await _create(http, "owner")
    code, body = await _delete(http, "owner", policy)
    assert code == 200, body
    assert body["kind"] == "ConfigMap" and body["metadata"]["finalizers"] == [finalizer]
    assert body["metadata"].get("deletionTimestamp")
    # it stays, marked, until a garbage collector removes the finalizer (none runs here)
    code, stored = await _get(http, "owner")
    assert code == 200 and stored["metadata"]["finalizers"] == [finalizer]
    assert stored["metadata"]["deletionTimestamp"] == body["metadata"]["deletionTimestamp"]
    # removing the finalizer (what the collector does) completes the deletion
    patch = {"metadata": {"finalizers": None}}
    async with http.patch(
        f"{CM}/owner", json=patch, headers={"Content-Type": "application/merge-patch+json"}
    ) as resp:
        assert resp.status == 200, await resp.text()
    code, _ = await _get(http, "owner")
    assert code == 404


async def test_explicit_policy_replaces_the_other_gc_finalizer(http: aiohttp.ClientSession) -> None:
    await _create(http, "swap", ["example.com/keep", "orphan"])
    code, body = await _delete(http, "swap", "Foreground")
    assert code == 200, body
    assert sorted(body["metadata"]["finalizers"]) == ["example.com/keep", "foregroundDeletion"]
    # Background drops both GC finalizers; the user's finalizer still holds the object
    code, body = await _delete(http, "swap", "Background")
    assert code == 200 and body["metadata"]["finalizers"] == ["example.com/keep"], body


async def test_background_drops_a_lone_orphan_finalizer_and_deletes(http: aiohttp.ClientSession) -> None:
    await _create(http, "lone", ["orphan"])
    code, body = await _delete(http, "lone", "Background")
    assert code == 200, body
    code, _ = await _get(http, "lone")
    assert code == 404


async def test_no_policy_keeps_the_objects_own_gc_finalizer(http: aiohttp.ClientSession) -> None:
    await _create(http, "own", ["orphan"])
    async with http.delete(f"{CM}/own") as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["metadata"]["finalizers"] == ["orphan"] and body["metadata"].get("deletionTimestamp")


# --- configuration ------------------------------------------------------------------------------------
def test_configuration_is_declared_constructor_arguments() -> None:
    params = inspect.signature(ApiContext.__init__).parameters
    assert {"compaction_interval", "watch_bookmark_interval", "node_streams"} <= set(params)
    assert all(
        params[n].kind is inspect.Parameter.KEYWORD_ONLY for n in ("watch_bookmark_interval", "node_streams")
    )
    assert "garbage_collector_running" not in params


class _RecordingStreams:
    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self.calls: list[tuple[str, str | None]] = []
        self.closed = False

    async def __call__(self, request: web.Request, target: Target, pod: dict[str, Any]) -> web.StreamResponse:
        self.calls.append((pod["metadata"]["name"], target.subresource))
        return web.Response(text="from the node\n")

    async def close(self) -> None:
        self.closed = True


POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p"},
    "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}]},
}


async def test_node_streams_factory_gets_the_context_and_is_closed_with_it(tmp_path: Path) -> None:
    built: list[_RecordingStreams] = []

    def factory(ctx: ApiContext) -> _RecordingStreams:
        built.append(_RecordingStreams(ctx))
        return built[0]

    async with serve(tmp_path, node_streams=factory) as srv:
        assert len(built) == 1 and built[0].ctx is srv.ctx and srv.ctx.node_streams is built[0]
        async with aiohttp.ClientSession(srv.url) as http:
            async with http.post("/api/v1/namespaces/default/pods", json=POD) as resp:
                assert resp.status == 201, await resp.text()
            async with http.get("/api/v1/namespaces/default/pods/p/log") as resp:
                assert resp.status == 200 and await resp.text() == "from the node\n"
        assert built[0].calls == [("p", "log")] and not built[0].closed
    assert built[0].closed


async def test_without_node_streams_the_streaming_routes_answer_503(
    server: InProcessServer, http: aiohttp.ClientSession
) -> None:
    assert server.ctx.node_streams is None
    async with http.post("/api/v1/namespaces/default/pods", json=POD) as resp:
        assert resp.status == 201, await resp.text()
    async with http.get("/api/v1/namespaces/default/pods/p/log") as resp:
        body = await resp.json()
        assert resp.status == 503 and body["kind"] == "Status" and body["reason"] == "ServiceUnavailable"


async def test_watch_bookmark_interval_is_a_constructor_argument(tmp_path: Path) -> None:
    async with serve(tmp_path, watch_bookmark_interval=0.2) as srv:
        assert srv.ctx.watch_bookmark_interval == 0.2
        async with aiohttp.ClientSession(srv.url, timeout=aiohttp.ClientTimeout(total=10)) as http:
            params = {"watch": "1", "allowWatchBookmarks": "true", "timeoutSeconds": "5"}
            async with http.get(CM, params=params) as resp:
                assert resp.status == 200
                line = await resp.content.readline()  # the first event: a BOOKMARK within ~0.2 s
        assert b'"BOOKMARK"' in line, line
