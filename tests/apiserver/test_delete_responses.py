"""What DELETE answers, per resource, and what the OpenAPI documents say it answers.

Upstream: a removed object comes back as itself for the resources whose store sets
``ReturnDeletedObject`` (pods, services, PVs, ...) and as a ``Status`` otherwise; an object left in
place (finalizers, graceful deletion) always comes back as itself, with 202 only when
``orphanDependents`` was explicitly false. The documents must say the same, and the oracle here is
upstream's own documents as compiled into the official Python client: each generated ``delete_*``
method carries the response type upstream's OpenAPI gave it.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from kybernetes.api.registry import BUILTIN_RESOURCES, Registry
from kybernetes.apiserver.app import make_app
from kybernetes.apiserver.openapi import openapi_v3_document
from kybernetes.apiserver.openapi_v2 import openapi_v2_document
from tests.inprocess import api_context

STATUS = "io.k8s.apimachinery.pkg.apis.meta.v1.Status"


def _doc_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _client_response_types(tag: str, method: str) -> dict[str, str | None] | None:
    """The response types the official client's ``<Tag>Api.<method>`` was generated with, or None."""
    module_name = f"kubernetes.client.api.{re.sub(r'(?<!^)(?=[A-Z])', '_', tag).lower()}_api"
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    cls = getattr(module, "".join(p[:1].upper() + p[1:] for p in tag.split("_")) + "Api", None)
    func = getattr(cls, f"{method}_with_http_info", None) if cls is not None else None
    if func is None:
        return None
    source = inspect.getsource(func)
    found = re.search(r"_response_types_map[^=]*=\s*\{(.*?)\}", source, re.S)
    assert found, f"no response map in {module_name}.{method}"
    return {
        code: (None if value == "None" else value.strip("\"'"))
        for code, value in re.findall(r"'(\d+)':\s*(\"[^\"]*\"|'[^']*'|None)", found.group(1))
    }


def _snake(text: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", text).lower()


def test_documents_match_upstreams_for_every_builtin_delete() -> None:
    """Each DELETE's 200/202 schema is the kind exactly where upstream's document says so."""
    registry = Registry.builtin()
    compared: list[str] = []
    for info in BUILTIN_RESOURCES:
        if "delete" not in info.verbs:
            continue
        doc = openapi_v3_document(registry, _doc_path(info.group, info.version))
        assert doc is not None
        ns = "/namespaces/{namespace}" if info.namespaced else ""
        prefix = f"/apis/{info.group}/{info.version}" if info.group else f"/api/{info.version}"
        op = doc["paths"][f"{prefix}{ns}/{info.plural}/{{name}}"]["delete"]
        refs = {
            code: op["responses"][code]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
            for code in ("200", "202")
        }
        expected_ref = info.schema_name if info.delete_response_is_object else STATUS
        assert refs == {"200": expected_ref, "202": expected_ref}, info.plural
        tag = op["tags"][0]
        gv_words = "".join(p[:1].upper() + p[1:] for p in tag.split("_"))
        method = "delete_" + _snake(op["operationId"].removeprefix("delete").removeprefix(gv_words))
        upstream = _client_response_types(tag, method)
        if upstream is None:
            continue  # not in this client's API (a version it no longer serves)
        for code in ("200", "202"):
            typed = upstream.get(code)
            if info.delete_response_is_object:
                assert typed and typed.endswith(info.kind), (info.plural, code, typed)
            else:
                # the client types a Status response as a plain object (or V1Status in older ones)
                assert typed in ("object", "V1Status"), (info.plural, code, typed)
        compared.append(info.plural)
    assert {"pods", "services", "configmaps", "namespaces", "deployments", "persistentvolumes"} <= set(
        compared
    )
    assert len(compared) >= 25


def test_v2_document_says_the_same() -> None:
    doc = openapi_v2_document(Registry.builtin())
    svc = doc["paths"]["/api/v1/namespaces/{namespace}/services/{name}"]["delete"]["responses"]
    assert svc["200"]["schema"] == {"$ref": "#/definitions/io.k8s.api.core.v1.Service"}
    assert svc["202"]["schema"] == {"$ref": "#/definitions/io.k8s.api.core.v1.Service"}
    cm = doc["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]["delete"]["responses"]
    assert cm["200"]["schema"] == {"$ref": f"#/definitions/{STATUS}"}
    ns = doc["paths"]["/api/v1/namespaces/{name}"]["delete"]["responses"]
    assert ns["200"]["schema"] == {"$ref": f"#/definitions/{STATUS}"}


# --- behaviour ---------------------------------------------------------------------------------------
@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[TestClient]:
    async with api_context(tmp_path, compaction_interval=0) as ctx:
        client = TestClient(TestServer(make_app(ctx), host="127.0.0.1"))
        await client.start_server()
        try:
            yield client
        finally:
            await client.close()


async def _post(api: TestClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    resp = await api.post(path, json=body)
    assert resp.status == 201, await resp.text()
    out: dict[str, Any] = await resp.json()
    return out


SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "svc"},
    "spec": {"ports": [{"port": 80}], "selector": {"app": "x"}},
}


async def test_removed_service_comes_back_as_a_service(api: TestClient) -> None:
    created = await _post(api, "/api/v1/namespaces/default/services", SERVICE)
    resp = await api.delete("/api/v1/namespaces/default/services/svc")
    assert resp.status == 200
    body = await resp.json()
    assert body["kind"] == "Service" and body["apiVersion"] == "v1"
    assert body["metadata"]["name"] == "svc" and body["metadata"]["uid"] == created["metadata"]["uid"]
    assert body["spec"]["clusterIP"] == created["spec"]["clusterIP"]
    assert (await api.get("/api/v1/namespaces/default/services/svc")).status == 404


async def test_removed_config_map_comes_back_as_a_status(api: TestClient) -> None:
    cm = await _post(
        api,
        "/api/v1/namespaces/default/configmaps",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}},
    )
    resp = await api.delete("/api/v1/namespaces/default/configmaps/c")
    assert resp.status == 200
    assert await resp.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": "c", "kind": "configmaps", "uid": cm["metadata"]["uid"]},
    }


async def test_dry_run_delete_answers_the_same_shape(api: TestClient) -> None:
    await _post(api, "/api/v1/namespaces/default/services", SERVICE)
    resp = await api.delete("/api/v1/namespaces/default/services/svc", params={"dryRun": "All"})
    assert resp.status == 200
    assert (await resp.json())["kind"] == "Service"
    assert (await api.get("/api/v1/namespaces/default/services/svc")).status == 200


async def test_object_left_in_place_comes_back_with_202_only_for_orphan_dependents_false(
    api: TestClient,
) -> None:
    for name in ("a", "b"):
        await _post(
            api,
            "/api/v1/namespaces/default/configmaps",
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "finalizers": ["x/y"]}},
        )
    resp = await api.delete("/api/v1/namespaces/default/configmaps/a")
    assert resp.status == 200
    body = await resp.json()
    assert body["kind"] == "ConfigMap" and body["metadata"]["deletionTimestamp"]
    resp = await api.delete(
        "/api/v1/namespaces/default/configmaps/b", json={"kind": "DeleteOptions", "orphanDependents": False}
    )
    assert resp.status == 202
    assert (await resp.json())["kind"] == "ConfigMap"
    # a removed object is 200 whatever orphanDependents says
    await _post(api, "/api/v1/namespaces/default/services", SERVICE)
    resp = await api.delete("/api/v1/namespaces/default/services/svc", params={"orphanDependents": "false"})
    assert resp.status == 200


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
            }
        ],
    },
}


async def test_custom_resources_answer_a_status_and_crds_themselves(api: TestClient) -> None:
    await _post(api, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD)
    widget = await _post(
        api,
        "/apis/example.com/v1/namespaces/default/widgets",
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}},
    )
    resp = await api.delete("/apis/example.com/v1/namespaces/default/widgets/w")
    assert resp.status == 200
    body = await resp.json()
    assert body["kind"] == "Status"
    assert body["details"] == {
        "name": "w",
        "kind": "widgets",
        "uid": widget["metadata"]["uid"],
        "group": "example.com",
    }
    resp = await api.delete("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com")
    assert resp.status == 200
    crd = await resp.json()
    assert crd["kind"] == "CustomResourceDefinition" and crd["metadata"]["name"] == "widgets.example.com"


async def test_namespace_delete_answers_the_terminating_namespace(api: TestClient) -> None:
    await _post(
        api, "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gone"}}
    )
    resp = await api.delete("/api/v1/namespaces/gone")
    assert resp.status == 200
    body = await resp.json()
    assert body["kind"] == "Namespace" and body["status"]["phase"] == "Terminating"
