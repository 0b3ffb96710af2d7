"""Bodies of the wrong JSON shape, over raw HTTP to a real server: a 4xx Status, and nothing changes.

Regressions of issue 7: a merge patch whose result is not an object (``true``), a strategic merge patch
``{"metadata": "x"}``, and JSON lists (or wrong-typed fields) POSTed to ``bindings`` and
``pods/NAME/binding`` all answered 500; a Binding whose ``target.name`` was a list was even stored as
the pod's ``spec.nodeName``. Beyond those cases, every write verb and subresource is sent every JSON
shape at the top level and in its typed fields.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests

from tests.apiserver.openapi_fuzz import FUZZ_NAME, SEEDS, seed_objects, threaded_server

NS = "/api/v1/namespaces/default"
CM = f"{NS}/configmaps/cm"
POD = f"{NS}/pods/p"
DEPLOY = "/apis/apps/v1/namespaces/default/deployments/web"
WIDGETS = "/apis/ex.com/v1/namespaces/default/widgets"
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.ex.com"},
    "spec": {
        "group": "ex.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {
                    "status": {},
                    "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"},
                },
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {"type": "object", "properties": {"replicas": {"type": "integer"}}},
                            "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}},
                        },
                    }
                },
            }
        ],
    },
}
SHAPES = [b"true", b"false", b"null", b"0", b"1.5", b'"x"', b"[]", b"[1]", b'[{"a":1}]', b"{}"]
WRONG_VALUES = [True, 5, "x", [1], [{"a": 1}]]


class Api:
    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()

    def send(
        self, method: str, path: str, body: bytes, ctype: str = "application/json", **params: str
    ) -> Any:
        resp = self.session.request(
            method, self.url + path, data=body, headers={"Content-Type": ctype}, params=params, timeout=10
        )
        return resp

    def get(self, path: str) -> dict[str, Any]:
        resp = self.session.get(self.url + path, timeout=10)
        assert resp.status_code == 200, resp.text
        return resp.json()


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with threaded_server(Path(tmp_path_factory.mktemp("shapes"))) as url:
        client = Api(url)
        for path, obj in [
            (f"{NS}/configmaps", {"metadata": {"name": "cm", "labels": {"a": "b"}}, "data": {"a": "1"}}),
            (
                f"{NS}/pods",
                {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
            ),
            (
                "/apis/apps/v1/namespaces/default/deployments",
                {
                    "metadata": {"name": "web"},
                    "spec": {
                        "replicas": 1,
                        "selector": {"matchLabels": {"app": "w"}},
                        "template": {
                            "metadata": {"labels": {"app": "w"}},
                            "spec": {"containers": [{"name": "c", "image": "i"}]},
                        },
                    },
                },
            ),
        ]:
            resp = client.session.post(url + path, json=obj, timeout=10)
            assert resp.status_code == 201, resp.text
        resp = client.session.post(
            url + "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=CRD, timeout=10
        )
        assert resp.status_code == 201, resp.text
        widget = {
            "apiVersion": "ex.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {"replicas": 1},
        }
        deadline = time.monotonic() + 10
        while True:  # the CRD is served once registered: bounded wait for the first create to succeed
            resp = client.session.post(url + WIDGETS, json=widget, timeout=10)
            if resp.status_code != 404 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert resp.status_code == 201, resp.text
        yield client


def assert_refused(resp: requests.Response, code: int | None = None) -> dict[str, Any]:
    """A 4xx answered with a Status whose code matches the HTTP status."""
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.text[:500])
    if code is not None:
        assert resp.status_code == code, resp.text
    status = resp.json()
    assert status["kind"] == "Status" and status["status"] == "Failure", status
    assert status["code"] == resp.status_code and status["message"], status
    return status


# --- the three reported cases --------------------------------------------------------------------------
def test_merge_patch_true_is_400_and_changes_nothing(api: Api) -> None:
    before = api.get(CM)
    status = assert_refused(api.send("PATCH", CM, b"true", "application/merge-patch+json"), 400)
    assert status["reason"] == "BadRequest"
    # a merge patch whose *result* is not an object, through a nested field
    assert_refused(api.send("PATCH", CM, b'{"metadata": true}', "application/merge-patch+json"), 400)
    assert api.get(CM) == before


def test_strategic_patch_metadata_string_on_configmap_is_400(api: Api) -> None:
    before = api.get(CM)
    resp = api.send("PATCH", CM, b'{"metadata":"x"}', "application/strategic-merge-patch+json")
    status = assert_refused(resp, 400)
    assert "ConfigMap.metadata" in status["message"] and "cannot unmarshal string" in status["message"]
    assert api.get(CM) == before


@pytest.mark.parametrize("body", [b"[]", b'[{"target":{"name":"n"}}]', b'"x"', b"true"])
@pytest.mark.parametrize("path", [f"{NS}/bindings", f"{POD}/binding"])
def test_json_list_to_bindings_is_400(api: Api, path: str, body: bytes) -> None:
    before = api.get(POD)
    assert_refused(api.send("POST", path, body), 400)
    assert api.get(POD) == before


@pytest.mark.parametrize(
    "binding",
    [
        {"metadata": "x", "target": {"name": "n"}},
        {"metadata": {"name": "p"}, "target": "n"},
        {"metadata": {"name": "p"}, "target": {"name": ["n"]}},
        {"metadata": {"name": "p", "annotations": ["a"]}, "target": {"name": "n"}},
    ],
)
@pytest.mark.parametrize("path", [f"{NS}/bindings", f"{POD}/binding"])
def test_wrong_typed_binding_fields_are_400(api: Api, path: str, binding: dict[str, Any]) -> None:
    before = api.get(POD)
    assert_refused(api.send("POST", path, orjson.dumps(binding)), 400)
    after = api.get(POD)
    assert after == before and "nodeName" not in after["spec"]


# --- the class: every verb, subresource and patch type, every shape ------------------------------------
PATCH_TYPES = [
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/json-patch+json",
    "application/apply-patch+yaml",
]
TARGETS = [
    CM,
    POD,
    f"{POD}/status",
    f"{POD}/ephemeralcontainers",
    DEPLOY,
    f"{DEPLOY}/status",
    f"{DEPLOY}/scale",
]


def _snapshot(api: Api) -> list[dict[str, Any]]:
    return [api.get(CM), api.get(POD), api.get(DEPLOY)]


@pytest.mark.parametrize("ctype", PATCH_TYPES)
@pytest.mark.parametrize("target", TARGETS)
def test_patch_of_any_top_level_shape_is_refused(api: Api, target: str, ctype: str) -> None:
    before = _snapshot(api)
    for body in SHAPES:
        if body == b"{}" or (ctype == "application/json-patch+json" and body in (b"[]", b"null")):
            continue  # an empty patch is a valid no-op (upstream decodes a null JSON patch as empty)
        assert_refused(api.send("PATCH", target, body, ctype, fieldManager="shapes"))
    assert _snapshot(api) == before


@pytest.mark.parametrize("field", ["metadata", "spec", "status", "data", "labels", "annotations"])
@pytest.mark.parametrize("ctype", PATCH_TYPES)
@pytest.mark.parametrize("target", TARGETS)
def test_patch_with_wrong_typed_field_is_refused(api: Api, target: str, ctype: str, field: str) -> None:
    before = _snapshot(api)
    for value in WRONG_VALUES:
        if field in ("labels", "annotations"):
            patch: dict[str, Any] = {"metadata": {field: value}}
        else:
            patch = {field: value}
        if (field == "data" and not target.startswith(CM)) or (field in ("spec", "status") and target == CM):
            continue  # a field the kind does not have: dropped with a warning, as upstream
        if ctype == "application/json-patch+json":
            path = f"/metadata/{field}" if field in ("labels", "annotations") else f"/{field}"
            body = orjson.dumps([{"op": "add", "path": path, "value": value}])
        else:
            body = orjson.dumps(patch)
        resp = api.send("PATCH", target, body, ctype, fieldManager="shapes")
        assert_refused(resp)
    assert _snapshot(api) == before


@pytest.mark.parametrize(
    "path",
    [
        f"{NS}/configmaps",
        f"{NS}/pods",
        f"{NS}/bindings",
        f"{POD}/binding",
        f"{POD}/eviction",
        "/apis/apps/v1/namespaces/default/deployments",
        "/api/v1/namespaces",
    ],
)
def test_post_of_any_shape_is_refused(api: Api, path: str) -> None:
    before = _snapshot(api)
    bodies = [*SHAPES[:-1], b'{"metadata": "x"}', b'{"metadata": {"name": ["n"]}}']
    if not path.endswith("/eviction"):
        bodies.append(b'{"spec": 5}')  # an Eviction has no spec: the field is dropped and the pod evicted
    for body in bodies:
        assert_refused(api.send("POST", path, body))
    assert _snapshot(api) == before


@pytest.mark.parametrize(
    "path",
    [
        CM,
        POD,
        f"{POD}/status",
        f"{POD}/ephemeralcontainers",
        DEPLOY,
        f"{DEPLOY}/scale",
        "/api/v1/namespaces/default/finalize",
    ],
)
def test_put_of_any_shape_is_refused(api: Api, path: str) -> None:
    before = _snapshot(api)
    ns_before = api.get("/api/v1/namespaces/default")
    bodies = [*SHAPES[:-1], b'{"metadata": "x"}', b'{"metadata": {"labels": [1]}}']
    # typed fields of the kind (a ConfigMap has neither spec nor status: those would be dropped)
    bodies += [b'{"data": 5}'] if path == CM else [b'{"spec": 5}', b'{"status": "x"}']
    if path.endswith("/finalize"):
        bodies += [b'{"spec": {"finalizers": "x"}}', b'{"spec": {"finalizers": [1]}}']
    for body in bodies:
        assert_refused(api.send("PUT", path, body))
    assert _snapshot(api) == before
    assert api.get("/api/v1/namespaces/default") == ns_before


def test_delete_with_any_body_shape_is_refused(api: Api) -> None:
    before = _snapshot(api)
    for body in [
        *SHAPES[:-1],
        b'{"preconditions": "x"}',
        b'{"gracePeriodSeconds": "x"}',
        b'{"propagationPolicy": 5}',
    ]:
        assert_refused(api.send("DELETE", CM, body))
        assert_refused(api.send("DELETE", f"{NS}/configmaps", body))
    assert _snapshot(api) == before


@pytest.mark.parametrize("target", [f"{WIDGETS}/w", f"{WIDGETS}/w/status", f"{WIDGETS}/w/scale"])
def test_custom_resource_writes_of_wrong_shape_are_refused(api: Api, target: str) -> None:
    """Custom resources have no Go struct, but their ObjectMeta is typed like everyone's."""
    before = api.get(f"{WIDGETS}/w")
    for ctype in (
        "application/merge-patch+json",
        "application/json-patch+json",
        "application/apply-patch+yaml",
    ):
        for body in SHAPES:
            if body == b"{}" or (ctype == "application/json-patch+json" and body in (b"[]", b"null")):
                continue
            assert_refused(api.send("PATCH", target, body, ctype, fieldManager="shapes"))
    for patch in ({"metadata": "x"}, {"metadata": {"labels": [1]}}, {"metadata": {"annotations": {"a": 1}}}):
        assert_refused(api.send("PATCH", target, orjson.dumps(patch), "application/merge-patch+json"))
    for body in [*SHAPES[:-1], b'{"metadata": "x"}', b'{"metadata": {"name": "w", "labels": [1]}}']:
        assert_refused(api.send("PUT", target, body))
    for body in [
        *SHAPES[:-1],
        b'{"metadata": {"name": ["n"]}}',
        b'{"metadata": {"name": "n", "finalizers": "x"}}',
    ]:
        assert_refused(api.send("POST", WIDGETS, body))
    assert api.get(f"{WIDGETS}/w") == before
    assert api.get(WIDGETS)["items"] == [before]


@pytest.mark.parametrize(
    ("path", "obj"),
    [
        (
            f"{NS}/pods",
            {
                "metadata": {"name": "nullq"},
                "spec": {
                    "containers": [{"name": "c", "image": "i", "resources": {"requests": {"cpu": None}}}]
                },
            },
        ),
        (f"{NS}/resourcequotas", {"metadata": {"name": "nullq"}, "spec": {"hard": {"pods": None}}}),
    ],
)
def test_null_quantity_is_the_zero_quantity(api: Api, path: str, obj: dict[str, Any]) -> None:
    """JSON null decodes as the zero Quantity upstream: accepted, never a 500."""
    resp = api.send("POST", path, orjson.dumps(obj))
    assert resp.status_code == 201, resp.text
    assert api.session.delete(f"{api.url}{path}/nullq", timeout=10).status_code in (200, 202)


# --- every field of every kind: null, a list of null, a string ------------------------------------------
MUTATIONS = [None, [None], "x"]


def _paths(value: Any, prefix: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list) and value:
        yield from _paths(value[0], (*prefix, 0))


def _with(obj: Any, path: tuple[str | int, ...], value: Any) -> Any:
    copy = orjson.loads(orjson.dumps(obj))
    if not path:
        return value
    cur = copy
    for part in path[:-1]:
        cur = cur[part]
    cur[path[-1]] = value
    return copy


@pytest.mark.parametrize("collection", [path for path, _ in SEEDS])
def test_any_field_replaced_by_null_or_wrong_type_is_never_a_500(api: Api, collection: str) -> None:
    """PUT the stored object back with one field (at any depth) set to null, [null] or a string.

    Upstream decodes null as the zero value and a wrong type as a 400: either way the answer is a
    success or a 4xx Status, and a refused write leaves the object as it was."""
    seed_objects(api.url, api.session, under=collection)
    item = f"{collection}/{FUZZ_NAME}"
    stored = api.get(item)
    stored["metadata"].pop("managedFields", None)
    for path in _paths(stored):
        if path in (("metadata", "resourceVersion"), ("metadata", "name"), ("apiVersion",), ("kind",)):
            continue
        for value in MUTATIONS:
            current = api.get(item)
            body = _with(stored, path, value)
            if isinstance(body, dict) and isinstance(body.get("metadata"), dict):
                body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            resp = api.send("PUT", item, orjson.dumps(body))
            assert resp.status_code < 500, (path, value, resp.text[:500])
            if resp.status_code >= 400:
                assert_refused(resp)
                assert api.get(item) == current, (path, value)
