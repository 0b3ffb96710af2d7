"""The HTTP verb handlers in process (aiohttp's ``TestClient`` on the real app over loopback): each verb
routed to its operation with the right status code, list and watch bodies in JSON, YAML and Table form,
Warning headers, dry runs, 405 for verbs a resource does not serve and 415 for unknown patch types."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
import yaml
from aiohttp.test_utils import TestClient

pytestmark = pytest.mark.timeout(30)

CMS = "/api/v1/namespaces/default/configmaps"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
JSON = {"Content-Type": "application/json"}


def cm(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": dict(data)}


async def post(
    api: TestClient, path: str, body: dict[str, Any], query: str = ""
) -> tuple[int, dict[str, Any]]:
    resp = await api.post(path + query, data=orjson.dumps(body), headers=JSON)
    return resp.status, await resp.json()


async def test_crud_verbs_and_status_codes(api: TestClient) -> None:
    code, created = await post(api, CMS, cm("a", k="v"))
    assert code == 201 and created["metadata"]["name"] == "a" and created["kind"] == "ConfigMap"
    resp = await api.get(f"{CMS}/a")
    got = await resp.json()
    assert resp.status == 200 and got["data"] == {"k": "v"}
    assert got["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    resp = await api.put(f"{CMS}/a", data=orjson.dumps(cm("a", k="w")), headers=JSON)
    assert resp.status == 200 and (await resp.json())["data"] == {"k": "w"}
    resp = await api.patch(
        f"{CMS}/a", data=b'{"data":{"x":"y"}}', headers={"Content-Type": "application/merge-patch+json"}
    )
    assert resp.status == 200 and (await resp.json())["data"] == {"k": "w", "x": "y"}
    # server-side apply: 201 when it creates, 200 when it updates
    applied = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\ndata:\n  k: v\n"
    apply_headers = {"Content-Type": "application/apply-patch+yaml"}
    resp = await api.patch(f"{CMS}/b?fieldManager=me", data=applied, headers=apply_headers)
    assert resp.status == 201
    resp = await api.patch(f"{CMS}/b?fieldManager=me", data=applied, headers=apply_headers)
    assert resp.status == 200
    # a removed config map answers a Success Status; a pod answers the deleted object
    resp = await api.delete(f"{CMS}/a")
    assert resp.status == 200
    assert await resp.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": "a", "kind": "configmaps", "uid": created["metadata"]["uid"]},
    }
    resp = await api.get(f"{CMS}/a")
    assert resp.status == 404
    assert await resp.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'configmaps "a" not found',
        "reason": "NotFound",
        "details": {"name": "a", "kind": "configmaps"},
        "code": 404,
    }
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    code, _ = await post(api, "/api/v1/namespaces/default/pods", pod)
    assert code == 201
    resp = await api.delete("/api/v1/namespaces/default/pods/p")
    body = await resp.json()
    assert resp.status == 200 and (body["kind"], body["metadata"]["name"]) == ("Pod", "p")


async def test_conflict_and_invalid_status_bodies(api: TestClient) -> None:
    await post(api, CMS, cm("a"))
    code, dup = await post(api, CMS, cm("a"))
    assert code == 409 and (dup["reason"], dup["code"]) == ("AlreadyExists", 409)
    assert dup["details"] == {"name": "a", "kind": "configmaps"}
    code, invalid = await post(api, CMS, cm("Not_Valid"))
    assert code == 422 and invalid["reason"] == "Invalid"
    assert [c["field"] for c in invalid["details"]["causes"]] == ["metadata.name"]
    stale = cm("a")
    stale["metadata"]["resourceVersion"] = "1"
    resp = await api.put(f"{CMS}/a", data=orjson.dumps(stale), headers=JSON)
    assert resp.status == 409 and (await resp.json())["reason"] == "Conflict"
    resp = await api.post(CMS, data=b"{not json", headers=JSON)
    assert resp.status == 400 and (await resp.json())["reason"] == "BadRequest"


async def test_list_json_pagination_and_label_selector(api: TestClient) -> None:
    for i in range(3):
        body = cm(f"cm{i}")
        body["metadata"]["labels"] = {"idx": str(i), "even": str(i % 2 == 0).lower()}
        await post(api, CMS, body)
    resp = await api.get(f"{CMS}?limit=2")
    page = await resp.json()
    assert (page["kind"], page["apiVersion"]) == ("ConfigMapList", "v1")
    assert [(i["kind"], i["apiVersion"], i["metadata"]["name"]) for i in page["items"]] == [
        ("ConfigMap", "v1", "cm0"),
        ("ConfigMap", "v1", "cm1"),
    ]
    assert page["metadata"]["remainingItemCount"] == 1 and page["metadata"]["continue"]
    resp = await api.get(CMS, params={"limit": "2", "continue": page["metadata"]["continue"]})
    rest = await resp.json()
    assert [i["metadata"]["name"] for i in rest["items"]] == ["cm2"] and "continue" not in rest["metadata"]
    assert rest["metadata"]["resourceVersion"] == page["metadata"]["resourceVersion"]
    resp = await api.get(CMS, params={"labelSelector": "even=true"})
    assert [i["metadata"]["name"] for i in (await resp.json())["items"]] == ["cm0", "cm2"]
    resp = await api.get(CMS, params={"fieldSelector": "metadata.name=cm1"})
    assert [i["metadata"]["name"] for i in (await resp.json())["items"]] == ["cm1"]
    # all namespaces
    resp = await api.get("/api/v1/configmaps", params={"labelSelector": "idx"})
    assert len((await resp.json())["items"]) == 3


async def test_yaml_and_table_encodings(api: TestClient) -> None:
    await post(api, CMS, cm("a", k="v", l="w"))
    resp = await api.get(f"{CMS}/a", headers={"Accept": "application/yaml"})
    assert resp.status == 200 and resp.content_type == "application/yaml"
    obj = yaml.safe_load(await resp.text())
    assert (obj["kind"], obj["metadata"]["name"], obj["data"]) == ("ConfigMap", "a", {"k": "v", "l": "w"})
    resp = await api.get(CMS, headers={"Accept": "application/yaml"})
    listed = yaml.safe_load(await resp.text())
    assert listed["kind"] == "ConfigMapList" and [i["metadata"]["name"] for i in listed["items"]] == ["a"]
    resp = await api.get(CMS, headers={"Accept": TABLE})
    table = await resp.json()
    assert (table["kind"], table["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert [row["cells"][:2] for row in table["rows"]] == [["a", 2]]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    assert table["metadata"]["resourceVersion"]
    resp = await api.get(f"{CMS}/a", headers={"Accept": TABLE}, params={"includeObject": "Object"})
    single = await resp.json()
    assert single["rows"][0]["object"]["data"] == {"k": "v", "l": "w"}


async def _watch_frames(api: TestClient, path: str, count: int, **params: str) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    resp = await api.get(
        path, params={"watch": "1", "timeoutSeconds": "10", **params}, headers=params.pop("_h", {})
    )
    assert resp.status == 200
    async with asyncio.timeout(10):
        while len(frames) < count:
            line = await resp.content.readline()
            if not line:
                break
            frames.append(orjson.loads(line))
    resp.close()
    return frames


async def test_watch_json_from_a_resource_version(api: TestClient) -> None:
    _, first = await post(api, CMS, cm("a"))
    rv = first["metadata"]["resourceVersion"]
    watching = asyncio.ensure_future(_watch_frames(api, CMS, 3, resourceVersion=rv))
    await asyncio.sleep(0.2)
    await post(api, CMS, cm("b"))
    await api.patch(
        f"{CMS}/b", data=b'{"data":{"k":"v"}}', headers={"Content-Type": "application/merge-patch+json"}
    )
    await api.delete(f"{CMS}/a")
    frames = await watching
    assert [(f["type"], f["object"]["metadata"]["name"]) for f in frames] == [
        ("ADDED", "b"),
        ("MODIFIED", "b"),
        ("DELETED", "a"),
    ]
    assert all((f["object"]["kind"], f["object"]["apiVersion"]) == ("ConfigMap", "v1") for f in frames)
    revisions = [int(f["object"]["metadata"]["resourceVersion"]) for f in frames]
    assert revisions == sorted(revisions) and revisions[0] > int(rv)


async def test_watch_without_resource_version_starts_with_the_current_objects(api: TestClient) -> None:
    await post(api, CMS, cm("a"))
    await post(api, CMS, cm("b"))
    frames = await _watch_frames(api, CMS, 2)
    assert [(f["type"], f["object"]["metadata"]["name"]) for f in frames] == [("ADDED", "a"), ("ADDED", "b")]


async def test_watch_as_table(api: TestClient) -> None:
    await post(api, CMS, cm("a", k="v"))
    resp = await api.get(CMS, params={"watch": "1", "timeoutSeconds": "5"}, headers={"Accept": TABLE})
    async with asyncio.timeout(10):
        frame = orjson.loads(await resp.content.readline())
    resp.close()
    assert frame["type"] == "ADDED" and frame["object"]["kind"] == "Table"
    assert [r["cells"][:2] for r in frame["object"]["rows"]] == [["a", 1]]


async def test_watch_from_a_future_revision_is_a_timeout(api: TestClient) -> None:
    resp = await api.get(CMS, params={"watch": "1", "resourceVersion": "999999"})
    body = await resp.json()
    assert resp.status == 504 and body["reason"] == "Timeout"
    assert body["message"].startswith("Too large resource version: 999999, current: ")


async def test_disallowed_verbs_are_405(api: TestClient) -> None:
    expected = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "the server does not allow this method on the requested resource",
        "reason": "MethodNotAllowed",
        "details": {},
        "code": 405,
    }
    # namespaces serve no deletecollection; bindings are create-only
    resp = await api.delete("/api/v1/namespaces")
    assert resp.status == 405 and await resp.json() == expected
    resp = await api.get("/api/v1/namespaces/default/bindings")
    assert resp.status == 405 and (await resp.json())["reason"] == "MethodNotAllowed"
    resp = await api.put(CMS, data=b"{}", headers=JSON)
    assert resp.status == 405 and (await resp.json())["reason"] == "MethodNotAllowed"
    # and nothing was removed
    resp = await api.get("/api/v1/namespaces/default")
    assert resp.status == 200


async def test_unknown_patch_type_is_415(api: TestClient) -> None:
    await post(api, CMS, cm("a"))
    resp = await api.patch(f"{CMS}/a", data=b"{}", headers={"Content-Type": "text/plain"})
    body = await resp.json()
    assert resp.status == 415 and body["reason"] == "UnsupportedMediaType"


async def test_dry_run_and_warning_headers(api: TestClient, tmp_path: Any) -> None:
    code, echoed = await post(api, CMS, cm("dry", k="v"), "?dryRun=All")
    assert code == 201 and echoed["data"] == {"k": "v"}
    assert (await api.get(f"{CMS}/dry")).status == 404
    resp = await api.post(CMS + "?dryRun=Some", data=orjson.dumps(cm("x")), headers=JSON)
    assert resp.status == 400
    assert (await resp.json())["message"] == 'unsupported dryRun value "Some": only "All" is supported'
    body = cm("w") | {"extra": True}
    resp = await api.post(CMS + "?fieldValidation=Warn", data=orjson.dumps(body), headers=JSON)
    assert resp.status == 201 and resp.headers.getall("Warning") == ['299 - "unknown field \\"extra\\""']
    resp = await api.post(
        CMS + "?fieldValidation=Strict", data=orjson.dumps(cm("s") | {"extra": 1}), headers=JSON
    )
    assert resp.status == 400
    assert (await resp.json())["message"] == 'strict decoding error: unknown field "extra"'


async def test_delete_collection_with_a_selector(api: TestClient) -> None:
    for name, team in (("a", "x"), ("b", "y"), ("c", "x")):
        body = cm(name)
        body["metadata"]["labels"] = {"team": team}
        await post(api, CMS, body)
    resp = await api.delete(CMS, params={"labelSelector": "team=x"})
    body = await resp.json()
    assert resp.status == 200 and body["kind"] == "ConfigMapList"
    assert sorted(i["metadata"]["name"] for i in body["items"]) == ["a", "c"]
    resp = await api.get(CMS)
    assert [i["metadata"]["name"] for i in (await resp.json())["items"]] == ["b"]


async def test_status_subresource_routes_to_the_status_write(api: TestClient) -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
        },
    }
    path = "/apis/apps/v1/namespaces/default/deployments"
    code, _ = await post(api, path, deployment)
    assert code == 201
    patch = b'{"spec":{"replicas":5},"status":{"replicas":1}}'
    resp = await api.patch(
        f"{path}/web/status", data=patch, headers={"Content-Type": "application/merge-patch+json"}
    )
    body = await resp.json()
    assert resp.status == 200 and body["status"]["replicas"] == 1 and body["spec"]["replicas"] == 1
    resp = await api.get(f"{path}/web/status")
    assert (await resp.json())["status"]["replicas"] == 1


async def test_watch_with_a_label_selector_follows_objects_in_and_out_of_it(api: TestClient) -> None:
    _, start = await post(api, CMS, cm("other"))
    rv = start["metadata"]["resourceVersion"]
    watching = asyncio.ensure_future(_watch_frames(api, CMS, 3, resourceVersion=rv, labelSelector="team=x"))
    await asyncio.sleep(0.2)
    merge = {"Content-Type": "application/merge-patch+json"}
    await post(api, CMS, cm("a"))  # not selected: no event
    await api.patch(f"{CMS}/a", data=b'{"metadata":{"labels":{"team":"x"}}}', headers=merge)  # enters
    await api.patch(f"{CMS}/a", data=b'{"data":{"k":"v"}}', headers=merge)  # changes inside
    await api.patch(f"{CMS}/a", data=b'{"metadata":{"labels":{"team":"y"}}}', headers=merge)  # leaves
    frames = await watching
    assert [(f["type"], f["object"]["metadata"]["name"]) for f in frames] == [
        ("ADDED", "a"),
        ("MODIFIED", "a"),
        ("DELETED", "a"),
    ]
    assert frames[2]["object"]["metadata"]["labels"] == {"team": "y"}  # the object as it left


async def test_watch_bookmarks_and_initial_events_end(api: TestClient) -> None:
    api.app_ctx.watch_bookmark_interval = 0.2  # type: ignore[attr-defined]
    await post(api, CMS, cm("a"))
    frames = await _watch_frames(
        api,
        CMS,
        3,
        sendInitialEvents="true",
        resourceVersionMatch="NotOlderThan",
        resourceVersion="",
        allowWatchBookmarks="true",
    )
    assert [f["type"] for f in frames] == ["ADDED", "BOOKMARK", "BOOKMARK"]
    end = frames[1]["object"]
    assert (end["kind"], end["apiVersion"]) == ("ConfigMap", "v1")
    assert end["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert int(end["metadata"]["resourceVersion"]) >= int(frames[0]["object"]["metadata"]["resourceVersion"])
    assert "annotations" not in frames[2]["object"]["metadata"]  # a periodic bookmark
    # sendInitialEvents needs resourceVersionMatch=NotOlderThan
    resp = await api.get(CMS, params={"watch": "1", "sendInitialEvents": "true"})
    body = await resp.json()
    assert resp.status == 422 and body["details"]["causes"][0]["field"] == "resourceVersionMatch"


async def test_legacy_watch_path_watches_one_object(api: TestClient) -> None:
    await post(api, CMS, cm("a"))
    await post(api, CMS, cm("b"))
    frames = await _watch_frames(api, "/api/v1/watch/namespaces/default/configmaps/b", 1)
    assert [(f["type"], f["object"]["metadata"]["name"]) for f in frames] == [("ADDED", "b")]
    resp = await api.post("/api/v1/watch/namespaces/default/configmaps", data=b"{}", headers=JSON)
    assert resp.status == 405


async def test_delete_left_in_place_answers_the_object_and_202_only_for_orphan_false(api: TestClient) -> None:
    for name in ("a", "b"):
        body = cm(name)
        body["metadata"]["finalizers"] = ["example.com/hold"]
        await post(api, CMS, body)
    resp = await api.delete(f"{CMS}/a")
    obj = await resp.json()
    assert resp.status == 200 and obj["kind"] == "ConfigMap" and obj["metadata"]["deletionTimestamp"]
    options = orjson.dumps({"kind": "DeleteOptions", "apiVersion": "v1", "orphanDependents": False})
    resp = await api.delete(f"{CMS}/b", data=options, headers=JSON)
    assert resp.status == 202 and (await resp.json())["metadata"]["finalizers"] == ["example.com/hold"]


async def test_tables_use_each_kinds_columns(api: TestClient) -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    await post(api, "/api/v1/namespaces/default/pods", pod)
    resp = await api.get("/api/v1/namespaces/default/pods", headers={"Accept": TABLE})
    table = await resp.json()
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name",
        "Ready",
        "Status",
        "Restarts",
        "Age",
        "IP",
        "Node",
        "Nominated Node",
        "Readiness Gates",
    ]
    cells = table["rows"][0]["cells"]
    assert cells[:4] == ["p", "0/1", "Pending", "0"] and cells[5:] == ["<none>", "<none>", "<none>", "<none>"]
    svc = {"metadata": {"name": "s"}, "spec": {"clusterIP": "10.96.0.77", "ports": [{"port": 80}]}}
    await post(api, "/api/v1/namespaces/default/services", svc)
    resp = await api.get("/api/v1/namespaces/default/services/s", headers={"Accept": TABLE})
    table = await resp.json()
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name",
        "Type",
        "Cluster-IP",
        "External-IP",
        "Port(s)",
        "Age",
        "Selector",
    ]
    assert table["rows"][0]["cells"][:5] == ["s", "ClusterIP", "10.96.0.77", "<none>", "80/TCP"]
