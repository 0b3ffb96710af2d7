"""Reflector, Informer, Indexer and SharedInformerFactory against the in-process API server."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from kybernetes.client import (
    LABEL_INDEX,
    NAMESPACE_INDEX,
    ApiClient,
    Backoff,
    DeletedFinalStateUnknown,
    Indexer,
    Informer,
    SharedInformerFactory,
    object_key,
    split_key,
)
from tests.client.conftest import FAST_RETRY, Server, TcpProxy, configmap, eventually, pod

FAST_BACKOFF = dict(initial=0.02, maximum=0.2, jitter=0.5)


class Recorder:
    """Event handlers that log what they saw and mirror the informer's view."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str]] = []
        self.tombstones: list[DeletedFinalStateUnknown] = []
        self.mirror: dict[str, str] = {}

    def on_add(self, obj: dict[str, Any]) -> None:
        self.log.append(("add", object_key(obj)))
        self.mirror[object_key(obj)] = obj["metadata"]["resourceVersion"]

    def on_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.log.append(("update", object_key(new)))
        self.mirror[object_key(new)] = new["metadata"]["resourceVersion"]

    def on_delete(self, obj: Any) -> None:
        if isinstance(obj, DeletedFinalStateUnknown):
            self.tombstones.append(obj)
        self.log.append(("delete", object_key(obj)))
        self.mirror.pop(object_key(obj), None)


def informer_for(api: ApiClient, plural: str = "configmaps", **kw: Any) -> Informer:
    return Informer(api.resource("", "v1", plural), backoff=Backoff(**FAST_BACKOFF), page_size=3, **kw)


async def server_view(api: ApiClient, plural: str = "configmaps") -> dict[str, str]:
    items, _ = await api.resource("", "v1", plural).list_all()
    return {object_key(i): i["metadata"]["resourceVersion"] for i in items}


def cache_view(inf: Informer) -> dict[str, str]:
    return {object_key(o): o["metadata"]["resourceVersion"] for o in inf.indexer}


async def test_cache_matches_server_after_burst(api: ApiClient) -> None:
    for i in range(5):
        await api.configmaps.create(configmap(f"pre{i}"))
    inf = informer_for(api)
    rec = Recorder()
    inf.add_event_handler(rec.on_add, rec.on_update, rec.on_delete)
    inf.start()
    try:
        assert await inf.wait_synced(5)
        assert inf.has_synced() and len(inf.indexer) == 5  # paginated list (page_size=3)

        rng = random.Random(7)
        names = [f"pre{i}" for i in range(5)]
        for step in range(60):
            op = rng.random()
            if op < 0.4 or not names:
                name = f"c{step}"
                await api.configmaps.create(configmap(name, step=str(step)))
                names.append(name)
            elif op < 0.75:
                await api.configmaps.patch(
                    rng.choice(names), {"data": {"step": str(step)}}, namespace="default"
                )
            else:
                name = names.pop(rng.randrange(len(names)))
                await api.configmaps.delete(name, namespace="default")
        expected = await server_view(api)
        await eventually(lambda: cache_view(inf) == expected, what="cache == server")
        assert rec.mirror == expected
        assert inf.reflector.lists == 1
        assert not rec.tombstones
    finally:
        await inf.stop()


async def test_watch_resumes_after_disconnect_without_relist(
    server: Server, api: ApiClient, proxy: TcpProxy
) -> None:
    async with ApiClient(proxy.url, retry=FAST_RETRY) as via_proxy:
        inf = informer_for(via_proxy)
        rec = Recorder()
        inf.add_event_handler(rec.on_add, rec.on_update, rec.on_delete)
        inf.start()
        try:
            await api.configmaps.create(configmap("a"))
            assert await inf.wait_synced(5)
            await eventually(lambda: "default/a" in rec.mirror)
            await proxy.cut()
            await api.configmaps.create(configmap("b"))
            await api.configmaps.delete("a", namespace="default")
            await asyncio.sleep(0.1)
            await proxy.restore()
            expected = await server_view(api)
            await eventually(lambda: cache_view(inf) == expected, what="cache caught up")
            assert inf.reflector.lists == 1  # resumed the watch from its resourceVersion
            assert ("delete", "default/a") in rec.log and not rec.tombstones
        finally:
            await inf.stop()


async def test_relist_on_410_delivers_missed_deletes(server: Server, api: ApiClient, proxy: TcpProxy) -> None:
    for name in ("keep", "change", "gone"):
        await api.configmaps.create(configmap(name))
    async with ApiClient(proxy.url, retry=FAST_RETRY) as via_proxy:
        inf = informer_for(via_proxy)
        rec = Recorder()
        inf.add_event_handler(rec.on_add, rec.on_update, rec.on_delete)
        inf.start()
        try:
            assert await inf.wait_synced(5)
            await proxy.cut()
            await api.configmaps.delete("gone", namespace="default")
            await api.configmaps.patch("change", {"data": {"v": "2"}}, namespace="default")
            await api.configmaps.create(configmap("new"))
            store = server.ctx.store
            await store.compact(await store.current_revision())
            await server.ctx.hubs.close()  # drop in-memory history too: the old resourceVersion is gone
            await proxy.restore()
            expected = await server_view(api)
            await eventually(lambda: cache_view(inf) == expected, what="cache == server after relist")
            assert inf.reflector.lists == 2
            assert [t.key for t in rec.tombstones] == ["default/gone"]
            assert rec.tombstones[0].obj["metadata"]["name"] == "gone"
            assert ("update", "default/change") in rec.log and ("add", "default/new") in rec.log
            assert ("update", "default/keep") not in rec.log  # unchanged objects are not re-delivered
        finally:
            await inf.stop()


async def test_bookmarks_advance_resource_version(api: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from kybernetes.apiserver import handlers

    monkeypatch.setattr(handlers, "BOOKMARK_INTERVAL", 0.1)
    inf = Informer(api.pods, label_selector="app=web", backoff=Backoff(**FAST_BACKOFF))
    rec = Recorder()
    inf.add_event_handler(rec.on_add, rec.on_update, rec.on_delete)
    inf.start()
    try:
        assert await inf.wait_synced(5)
        other = await api.pods.create(pod("db", labels={"app": "db"}))
        other_rv = int(other["metadata"]["resourceVersion"])
        await eventually(lambda: int(inf.last_sync_resource_version) >= other_rv, what="bookmark")
        assert rec.log == []  # the filtered pod was never delivered
        await api.pods.create(pod("web", labels={"app": "web"}))
        await eventually(lambda: rec.log == [("add", "default/web")])
    finally:
        await inf.stop()


async def test_indexes_resync_and_late_handlers(api: ApiClient) -> None:
    await api.namespaces.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}})
    await api.pods.create(pod("a", labels={"app": "web", "tier": "fe"}))
    await api.pods.create(pod("b", labels={"app": "db"}))
    await api.pods.create(pod("c", "other", labels={"app": "web"}))
    inf = Informer(api.pods, label_index=True, resync_period=0.1, backoff=Backoff(**FAST_BACKOFF))
    inf.add_indexer("by-image", lambda o: [c["image"] for c in o["spec"]["containers"]])
    resyncs: list[str] = []
    inf.add_event_handler(on_update=lambda old, new: resyncs.append(object_key(new)) if old is new else None)
    inf.start()
    try:
        assert await inf.wait_synced(5)
        names = lambda objs: sorted(object_key(o) for o in objs)  # noqa: E731
        assert names(inf.by_index(NAMESPACE_INDEX, "other")) == ["other/c"]
        assert names(inf.by_index(LABEL_INDEX, "app=web")) == ["default/a", "other/c"]
        assert names(inf.by_index("by-image", "busybox")) == ["default/a", "default/b", "other/c"]
        assert names(inf.list("default", label_selector="app in (web,db),!tier")) == ["default/b"]
        assert inf.get("c", "other") is not None and inf.get("c") is None

        inf.add_indexer("first-letter", lambda o: [o["metadata"]["name"][0]])  # indexes existing objects
        assert names(inf.by_index("first-letter", "b")) == ["default/b"]

        await api.pods.patch("b", {"metadata": {"labels": {"app": "web"}}}, namespace="default")
        await eventually(lambda: len(inf.by_index(LABEL_INDEX, "app=web")) == 3)
        assert inf.by_index(LABEL_INDEX, "app=db") == []

        await eventually(lambda: {"default/a", "default/b", "other/c"} <= set(resyncs), what="resync")

        late = Recorder()
        inf.add_event_handler(late.on_add)
        assert sorted(late.mirror) == ["default/a", "default/b", "other/c"]
    finally:
        await inf.stop()


async def test_namespaced_informer_and_factory(api: ApiClient) -> None:
    await api.namespaces.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}})
    await api.configmaps.create(configmap("in-x", "x"))
    await api.configmaps.create(configmap("in-default"))
    factory = SharedInformerFactory(api, backoff=Backoff(**FAST_BACKOFF))
    a = factory.informer(api.configmaps, namespace="x")
    assert factory.informer(("", "v1", "configmaps"), namespace="x") is a
    assert factory.informer(api.configmaps.info, namespace="x") is a
    everything = factory.informer(api.configmaps)
    assert everything is not a
    factory.start()
    try:
        assert await factory.wait_for_cache_sync(5)
        assert [object_key(o) for o in a.list()] == ["x/in-x"]
        assert sorted(object_key(o) for o in everything.list()) == ["default/in-default", "x/in-x"]
        nodes = factory.informer(api.nodes)  # added after start: start() again starts it
        factory.start()
        assert await nodes.wait_synced(5)
    finally:
        await factory.stop()
    assert not any(inf.running for inf in factory.informers)


def test_indexer_unit() -> None:
    idx = Indexer({"color": lambda o: [o.get("color", "")]})
    idx.add({"metadata": {"name": "a", "namespace": "n"}, "color": "red"})
    idx.add({"metadata": {"name": "b"}, "color": "red"})
    assert idx.index_values("color") == ["red"]
    old = idx.update({"metadata": {"name": "a", "namespace": "n"}, "color": "blue"})
    assert old is not None and old["color"] == "red"
    assert [o["metadata"]["name"] for o in idx.by_index("color", "red")] == ["b"]
    assert idx.by_index(NAMESPACE_INDEX, "") == [idx.get("b")]
    idx.delete("n/a")
    assert "n/a" not in idx and idx.index_values("color") == ["red"]
    idx.replace([{"metadata": {"name": "z"}, "color": "green"}])
    assert idx.list_keys() == ["z"] and idx.index_values("color") == ["green"]
    with pytest.raises(KeyError):
        idx.by_index("nope", "x")
    assert split_key("ns/name") == ("ns", "name") and split_key("node") == (None, "node")
