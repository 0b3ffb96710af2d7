"""Writes the server does on the caller's behalf survive a concurrent write, deterministically.

A store wrapper lands one foreign write on the target key right before the server's own
compare-and-swap (``update``/``delete`` with an expected revision), exactly the window in which a
controller's status write used to turn an unconditional DELETE into a 409. Without preconditions the
server must start over on fresh state and succeed (a server-side apply that loses its create to
someone else's applies onto theirs); with the caller's own preconditions (a uid or
resourceVersion in DeleteOptions, a resourceVersion in a Scale) a moved object is still a 409.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from kybernetes.apiserver.app import make_app
from kybernetes.apiserver.context import ApiContext
from kybernetes.storage import KeyValue
from kybernetes.storage.sqlite import SQLiteStore


class RacingStore(SQLiteStore):
    """SQLite, plus: when armed for a key, one foreign write lands just before the next guarded write."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.armed: dict[str, int] = {}  # key -> foreign writes still to inject
        self.injected = 0
        self.armed_create: dict[str, bytes] = {}  # key -> object someone else creates first

    def arm(self, key: str, times: int = 1) -> None:
        self.armed[key] = times

    async def _interfere(self, key: str) -> None:
        left = self.armed.get(key, 0)
        if left <= 0:
            return
        self.armed[key] = left - 1
        kv = await self.get(key)
        assert kv is not None, f"nothing stored at {key}"
        obj = orjson.loads(kv.value)
        annotations = obj.setdefault("metadata", {}).setdefault("annotations", {})
        annotations["race/writes"] = str(int(annotations.get("race/writes", "0")) + 1)
        # a controller's write: labels/annotations/status change, the revision moves
        await super().update(key, orjson.dumps(obj), expected_mod_revision=kv.mod_revision)
        self.injected += 1

    async def create(self, key: str, value: bytes) -> KeyValue:
        foreign = self.armed_create.pop(key, None)
        if foreign is not None:
            # someone else creates the object between the server's lookup and its own create
            await super().create(key, foreign)
            self.injected += 1
        return await super().create(key, value)

    async def update(self, key: str, value: bytes, *, expected_mod_revision: int) -> KeyValue:
        await self._interfere(key)
        return await super().update(key, value, expected_mod_revision=expected_mod_revision)

    async def delete(self, key: str, *, expected_mod_revision: int | None = None) -> KeyValue:
        if expected_mod_revision is not None:
            await self._interfere(key)
        return await super().delete(key, expected_mod_revision=expected_mod_revision)


@pytest.fixture
async def racing(tmp_path: Path) -> AsyncIterator[tuple[TestClient, RacingStore]]:
    store = RacingStore(tmp_path / "state.db")
    await store.start()
    ctx = ApiContext(store, compaction_interval=0)
    await ctx.start()
    client = TestClient(TestServer(make_app(ctx), host="127.0.0.1"))
    await client.start_server()
    try:
        yield client, store
    finally:
        await client.close()
        await ctx.close()
        await store.close()


NS = "default"


def _cm(name: str, **md: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **md}, "data": {"a": "b"}}


def _pod(name: str, node: str | None = "node-1", **md: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **md}, "spec": spec}


async def _create(client: TestClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    resp = await client.post(path, json=body)
    assert resp.status == 201, await resp.text()
    created: dict[str, Any] = await resp.json()
    return created


async def _delete(client: TestClient, path: str, options: dict[str, Any] | None = None) -> Any:
    return await client.delete(path, json=options) if options is not None else await client.delete(path)


async def test_unconditional_delete_survives_a_concurrent_write(
    racing: tuple[TestClient, RacingStore],
) -> None:
    client, store = racing
    await _create(client, f"/api/v1/namespaces/{NS}/configmaps", _cm("plain"))
    store.arm(f"/registry/configmaps/{NS}/plain")
    resp = await _delete(client, f"/api/v1/namespaces/{NS}/configmaps/plain")
    assert resp.status == 200, await resp.text()
    assert store.injected == 1
    assert (await client.get(f"/api/v1/namespaces/{NS}/configmaps/plain")).status == 404


async def test_graceless_pod_delete_survives_a_concurrent_write(
    racing: tuple[TestClient, RacingStore],
) -> None:
    client, store = racing
    await _create(client, f"/api/v1/namespaces/{NS}/pods", _pod("now"))
    store.arm(f"/registry/pods/{NS}/now")
    resp = await _delete(
        client, f"/api/v1/namespaces/{NS}/pods/now", {"kind": "DeleteOptions", "gracePeriodSeconds": 0}
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["kind"] == "Pod" and body["metadata"]["name"] == "now"
    assert store.injected == 1
    assert (await client.get(f"/api/v1/namespaces/{NS}/pods/now")).status == 404


async def test_force_delete_of_a_terminating_pod_survives_a_concurrent_write(
    racing: tuple[TestClient, RacingStore],
) -> None:
    client, store = racing
    await _create(client, f"/api/v1/namespaces/{NS}/pods", _pod("slow"))
    resp = await _delete(client, f"/api/v1/namespaces/{NS}/pods/slow")
    assert resp.status == 200
    assert (await resp.json())["metadata"]["deletionTimestamp"]
    # the kubelet writes status while the pod terminates; a force delete lands in between
    store.arm(f"/registry/pods/{NS}/slow")
    resp = await _delete(
        client, f"/api/v1/namespaces/{NS}/pods/slow", {"kind": "DeleteOptions", "gracePeriodSeconds": 0}
    )
    assert resp.status == 200, await resp.text()
    assert store.injected == 1
    assert (await client.get(f"/api/v1/namespaces/{NS}/pods/slow")).status == 404


async def test_marking_an_object_with_finalizers_survives_concurrent_writes(
    racing: tuple[TestClient, RacingStore],
) -> None:
    client, store = racing
    await _create(client, f"/api/v1/namespaces/{NS}/configmaps", _cm("held", finalizers=["example.com/x"]))
    store.arm(f"/registry/configmaps/{NS}/held", times=3)
    resp = await _delete(client, f"/api/v1/namespaces/{NS}/configmaps/held")
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["kind"] == "ConfigMap" and body["metadata"]["deletionTimestamp"]
    assert body["metadata"]["annotations"]["race/writes"] == "3"  # decided on the fresh state
    assert store.injected == 3
    # releasing the finalizer while someone else writes still removes the object
    store.arm(f"/registry/configmaps/{NS}/held")
    resp = await client.patch(
        f"/api/v1/namespaces/{NS}/configmaps/held",
        data=orjson.dumps({"metadata": {"finalizers": None}}),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert resp.status == 200, await resp.text()
    assert (await client.get(f"/api/v1/namespaces/{NS}/configmaps/held")).status == 404


async def test_pod_with_finalizer_and_zero_grace_survives_concurrent_writes(
    racing: tuple[TestClient, RacingStore],
) -> None:
    client, store = racing
    await _create(client, f"/api/v1/namespaces/{NS}/pods", _pod("fin", finalizers=["example.com/x"]))
    store.arm(f"/registry/pods/{NS}/fin", times=2)
    resp = await _delete(
        client, f"/api/v1/namespaces/{NS}/pods/fin", {"kind": "DeleteOptions", "gracePeriodSeconds": 0}
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["metadata"]["deletionTimestamp"] and body["metadata"]["finalizers"] == ["example.com/x"]
    assert store.injected == 2


async def test_uid_precondition_still_holds_after_a_concurrent_write(
    racing: tuple[TestClient, RacingStore],
) -> None:
    client, store = racing
    cm = await _create(client, f"/api/v1/namespaces/{NS}/configmaps", _cm("uid"))
    store.arm(f"/registry/configmaps/{NS}/uid")
    resp = await _delete(
        client,
        f"/api/v1/namespaces/{NS}/configmaps/uid",
        {"kind": "DeleteOptions", "preconditions": {"uid": cm["metadata"]["uid"]}},
    )
    assert resp.status == 200, await resp.text()
    assert store.injected == 1


async def test_resource_version_precondition_is_a_conflict_when_the_object_moved(
    racing: tuple[TestClient, RacingStore],
) -> None:
    client, store = racing
    cm = await _create(client, f"/api/v1/namespaces/{NS}/configmaps", _cm("pinned"))
    store.arm(f"/registry/configmaps/{NS}/pinned")
    resp = await _delete(
        client,
        f"/api/v1/namespaces/{NS}/configmaps/pinned",
        {"kind": "DeleteOptions", "preconditions": {"resourceVersion": cm["metadata"]["resourceVersion"]}},
    )
    assert resp.status == 409, await resp.text()
    assert (await resp.json())["reason"] == "Conflict"
    assert (await client.get(f"/api/v1/namespaces/{NS}/configmaps/pinned")).status == 200
    # the same precondition through the finalizer path (marking) is a conflict too
    held = await _create(client, f"/api/v1/namespaces/{NS}/configmaps", _cm("pinned2", finalizers=["a/b"]))
    store.arm(f"/registry/configmaps/{NS}/pinned2")
    resp = await _delete(
        client,
        f"/api/v1/namespaces/{NS}/configmaps/pinned2",
        {"kind": "DeleteOptions", "preconditions": {"resourceVersion": held["metadata"]["resourceVersion"]}},
    )
    assert resp.status == 409, await resp.text()


async def test_scale_and_status_writes_survive_a_concurrent_write(
    racing: tuple[TestClient, RacingStore],
) -> None:
    client, store = racing
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }
    await _create(client, f"/apis/apps/v1/namespaces/{NS}/deployments", deploy)
    key = f"/registry/apps/deployments/{NS}/web"
    base = f"/apis/apps/v1/namespaces/{NS}/deployments/web"
    store.arm(key)
    resp = await client.patch(
        f"{base}/scale",
        data=orjson.dumps({"spec": {"replicas": 3}}),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["spec"]["replicas"] == 3
    store.arm(key)
    resp = await client.put(
        f"{base}/scale",
        json={
            "apiVersion": "autoscaling/v1",
            "kind": "Scale",
            "metadata": {"name": "web"},
            "spec": {"replicas": 4},
        },
    )
    assert resp.status == 200, await resp.text()
    # a Scale pinned to a resourceVersion that moved is a conflict
    scale = await (await client.get(f"{base}/scale")).json()
    store.arm(key)
    scale["spec"]["replicas"] = 5
    resp = await client.put(f"{base}/scale", json=scale)
    assert resp.status == 409, await resp.text()
    # a status write without a resourceVersion is retried on fresh state
    current = await (await client.get(base)).json()
    current["metadata"].pop("resourceVersion")
    current["status"] = {"observedGeneration": 1, "replicas": 4}
    store.arm(key)
    resp = await client.put(f"{base}/status", json=current)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["status"]["replicas"] == 4
    assert store.injected == 4


async def test_apply_that_loses_its_create_applies_onto_the_winner(
    racing: tuple[TestClient, RacingStore],
) -> None:
    client, store = racing
    key = f"/registry/configmaps/{NS}/applied"
    theirs = _cm(
        "applied", uid="0b7c3f8e-0000-4000-8000-000000000001", creationTimestamp="2026-01-01T00:00:00Z"
    )
    theirs["metadata"]["namespace"] = NS
    theirs["data"] = {"theirs": "1"}
    store.armed_create[key] = orjson.dumps(theirs)
    resp = await client.patch(
        f"/api/v1/namespaces/{NS}/configmaps/applied",
        params={"fieldManager": "me"},
        data=b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  mine: '2'\n",
        headers={"Content-Type": "application/apply-patch+yaml"},
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["data"] == {"theirs": "1", "mine": "2"}
    assert body["metadata"]["uid"] == theirs["metadata"]["uid"]
    assert store.injected == 1
