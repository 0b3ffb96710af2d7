"""OpenAPI v3 documents: the root, per group-version documents, schema conversion and custom resources."""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kybernetes.api import schemas
from kybernetes.api.registry import BUILTIN_RESOURCES, Registry, ResourceInfo, SubresourceInfo
from kybernetes.apiserver.openapi import (
    PATCH_CONTENT_TYPES,
    clear_cache,
    converted_definition,
    custom_schema_name,
    openapi_v3_document,
    openapi_v3_document_hash,
    openapi_v3_root,
    parse_document_path,
)

PREFIX = "#/components/schemas/"

CRONTAB = ResourceInfo(
    group="stable.example.com",
    version="v1",
    kind="CronTab",
    plural="crontabs",
    singular="crontab",
    namespaced=True,
    short_names=("ct",),
    subresources=(
        SubresourceInfo("status", ""),
        SubresourceInfo("scale", "Scale", group="autoscaling", version="v1"),
    ),
    custom=True,
)
CRONTAB_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 20}}},
        "spec": {
            "type": "object",
            "description": "The desired state.",
            "properties": {
                "cronSpec": {"type": "string", "description": "Cron schedule."},
                "replicas": {"type": "integer", "minimum": 0},
                "port": {
                    "x-kubernetes-int-or-string": True,
                    "anyOf": [{"type": "integer"}, {"type": "string"}],
                },
            },
            "required": ["cronSpec"],
        },
    },
}
CRD_SCHEMAS = {("stable.example.com", "v1", "crontabs"): CRONTAB_SCHEMA}


@pytest.fixture
def registry() -> Registry:
    return Registry.builtin()


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _all_documents(registry: Registry, crd_schemas: dict | None = None) -> dict[str, dict[str, Any]]:
    root = openapi_v3_root(registry, crd_schemas)
    docs = {}
    for path in root["paths"]:
        doc = openapi_v3_document(registry, path, crd_schemas)
        assert doc is not None, path
        docs[path] = doc
    return docs


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Follow $ref and single-element allOf, as kubectl explain does."""
    while True:
        if "$ref" in schema:
            schema = doc["components"]["schemas"][schema["$ref"].removeprefix(PREFIX)]
        elif len(schema.get("allOf", [])) == 1:
            schema = schema["allOf"][0]
        else:
            return schema


def _explain(doc: dict[str, Any], root: str, dotted: str) -> dict[str, Any]:
    schema = doc["components"]["schemas"][root]
    for field in dotted.split("."):
        schema = _resolve(doc, schema)
        if schema.get("type") == "array":
            schema = _resolve(doc, schema["items"])
        schema = schema["properties"][field]
    return schema


# --- root ------------------------------------------------------------------------------------------------


class TestRoot:
    def test_lists_every_group_version(self, registry: Registry) -> None:
        root = openapi_v3_root(registry)
        expected = {
            f"apis/{i.group}/{i.version}" if i.group else f"api/{i.version}" for i in BUILTIN_RESOURCES
        }
        assert set(root["paths"]) == expected
        url = root["paths"]["apis/apps/v1"]["serverRelativeURL"]
        assert url.startswith("/openapi/v3/apis/apps/v1?hash=")
        digest = url.split("hash=", 1)[1]
        assert len(digest) == 128 and digest == digest.upper()
        assert root["paths"]["api/v1"]["serverRelativeURL"].startswith("/openapi/v3/api/v1?hash=")

    def test_hash_is_stable(self, registry: Registry) -> None:
        first = openapi_v3_root(registry)
        clear_cache()
        assert openapi_v3_root(Registry.builtin()) == first
        assert first["paths"]["apis/apps/v1"]["serverRelativeURL"].endswith(
            f"hash={openapi_v3_document_hash(registry, 'apis/apps/v1')}"
        )

    def test_hash_follows_content(self, registry: Registry) -> None:
        before = openapi_v3_root(registry)["paths"]
        registry.add(CRONTAB)
        with_crd = openapi_v3_root(registry, CRD_SCHEMAS)["paths"]
        assert "apis/stable.example.com/v1" in with_crd
        assert with_crd["apis/apps/v1"] == before["apis/apps/v1"]
        changed = copy.deepcopy(CRD_SCHEMAS)
        changed[("stable.example.com", "v1", "crontabs")]["properties"]["spec"]["description"] = "Other."
        after = openapi_v3_root(registry, changed)["paths"]
        assert after["apis/stable.example.com/v1"] != with_crd["apis/stable.example.com/v1"]
        assert after["api/v1"] == with_crd["api/v1"]

    def test_builds_fast(self, registry: Registry) -> None:
        registry.add(CRONTAB)
        clear_cache()
        start = time.perf_counter()
        _all_documents(registry, CRD_SCHEMAS)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        _all_documents(registry, CRD_SCHEMAS)
        warm = time.perf_counter() - start
        assert cold < 1.0
        assert warm < 0.05


# --- documents -------------------------------------------------------------------------------------------


class TestDocument:
    def test_envelope(self, registry: Registry) -> None:
        doc = openapi_v3_document(registry, "apis/apps/v1")
        assert doc is not None
        assert doc["openapi"] == "3.0.0"
        assert doc["info"] == {"title": "Kubernetes", "version": "v1.32.4"}
        assert set(doc) == {"openapi", "info", "paths", "components"}

    @pytest.mark.parametrize("path", ["apis/apps/v9", "apis/nope/v1", "api/v2", "apis/apps", "foo", ""])
    def test_unknown_paths(self, registry: Registry, path: str) -> None:
        assert openapi_v3_document(registry, path) is None

    def test_path_parsing(self) -> None:
        assert parse_document_path("api/v1") == ("", "v1")
        assert parse_document_path("/apis/apps/v1") == ("apps", "v1")
        assert parse_document_path("/openapi/v3/apis/apps/v1?hash=AB") == ("apps", "v1")
        assert parse_document_path("apis/v1") is None

    def test_deployment_patch_operation(self, registry: Registry) -> None:
        doc = openapi_v3_document(registry, "apis/apps/v1")
        assert doc is not None
        item = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
        patch = item["patch"]
        assert patch["x-kubernetes-group-version-kind"] == {
            "group": "apps",
            "version": "v1",
            "kind": "Deployment",
        }
        assert patch["x-kubernetes-action"] == "patch"
        assert patch["operationId"] == "patchAppsV1NamespacedDeployment"
        names = {(p["name"], p["in"]) for p in patch["parameters"]}
        assert {
            ("fieldValidation", "query"),
            ("dryRun", "query"),
            ("fieldManager", "query"),
            ("force", "query"),
        } <= names
        assert set(patch["requestBody"]["content"]) == set(PATCH_CONTENT_TYPES)
        for method in ("put",):
            assert "fieldValidation" in {p["name"] for p in item[method]["parameters"]}
        assert {p["name"] for p in item["parameters"]} == {"name", "namespace", "pretty"}
        collection = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"]
        assert "fieldValidation" in {p["name"] for p in collection["post"]["parameters"]}
        assert collection["post"]["operationId"] == "createAppsV1NamespacedDeployment"
        assert collection["get"]["x-kubernetes-action"] == "list"
        assert collection["delete"]["x-kubernetes-action"] == "deletecollection"
        all_ns = doc["paths"]["/apis/apps/v1/deployments"]["get"]
        assert all_ns["operationId"] == "listAppsV1DeploymentForAllNamespaces"

    def test_every_patch_operation_declares_field_validation(self, registry: Registry) -> None:
        # kubectl checks only the first patch operation it meets for a GVK: all must declare it.
        registry.add(CRONTAB)
        for path, doc in _all_documents(registry, CRD_SCHEMAS).items():
            for url, item in doc["paths"].items():
                for method in ("patch", "post", "put"):
                    op = item.get(method)
                    if op is None or op["x-kubernetes-action"] == "connect":
                        continue
                    assert "x-kubernetes-group-version-kind" in op, (path, url, method)
                    assert "fieldValidation" in {p["name"] for p in op["parameters"]}, (path, url, method)

    def test_every_resource_has_its_operations(self, registry: Registry) -> None:
        docs = _all_documents(registry)
        for info in BUILTIN_RESOURCES:
            if "get" not in info.verbs:
                continue  # create-only collections such as bindings have no item path
            doc = docs[f"apis/{info.group}/{info.version}" if info.group else f"api/{info.version}"]
            prefix = f"/apis/{info.group}/{info.version}" if info.group else f"/api/{info.version}"
            if info.namespaced:
                prefix += "/namespaces/{namespace}"
            item = doc["paths"][f"{prefix}/{info.plural}/{{name}}"]
            expected = {"get": "get", "update": "put", "patch": "patch", "delete": "delete"}
            assert {m for v, m in expected.items() if v in info.verbs} <= set(item)
            for method in ("get", "patch"):
                if method not in info.verbs:
                    continue  # read-only resources (componentstatuses) have no patch
                gvk = item[method]["x-kubernetes-group-version-kind"]
                assert gvk == {"group": info.group, "version": info.version, "kind": info.kind}
            for sub in info.subresources:
                assert f"{prefix}/{info.plural}/{{name}}/{sub.name}" in doc["paths"]

    def test_subresource_operations(self, registry: Registry) -> None:
        apps = openapi_v3_document(registry, "apis/apps/v1")
        assert apps is not None
        scale = apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]
        assert scale["patch"]["x-kubernetes-group-version-kind"] == {
            "group": "autoscaling",
            "version": "v1",
            "kind": "Scale",
        }
        assert scale["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
            "$ref": PREFIX + "io.k8s.api.autoscaling.v1.Scale"
        }
        assert "io.k8s.api.autoscaling.v1.Scale" in apps["components"]["schemas"]
        core = openapi_v3_document(registry, "api/v1")
        assert core is not None
        pod = "/api/v1/namespaces/{namespace}/pods/{name}"
        eviction = core["paths"][f"{pod}/eviction"]["post"]
        assert eviction["x-kubernetes-group-version-kind"] == {
            "group": "policy",
            "version": "v1",
            "kind": "Eviction",
        }
        assert eviction["operationId"] == "createCoreV1NamespacedPodEviction"
        exec_item = core["paths"][f"{pod}/exec"]
        assert exec_item["get"]["operationId"] == "connectCoreV1GetNamespacedPodExec"
        assert exec_item["post"]["x-kubernetes-action"] == "connect"
        assert "command" in {p["name"] for p in exec_item["get"]["parameters"]}
        log = core["paths"][f"{pod}/log"]["get"]
        assert log["operationId"] == "readCoreV1NamespacedPodLog"
        assert {"follow", "container", "tailLines"} <= {p["name"] for p in log["parameters"]}
        finalize = core["paths"]["/api/v1/namespaces/{name}/finalize"]
        assert set(finalize) == {"parameters", "put"}
        assert finalize["put"]["operationId"] == "replaceCoreV1NamespaceFinalize"

    def test_components(self, registry: Registry) -> None:
        doc = openapi_v3_document(registry, "apis/apps/v1")
        assert doc is not None
        comps = doc["components"]["schemas"]
        deployment = comps["io.k8s.api.apps.v1.Deployment"]
        assert deployment["x-kubernetes-group-version-kind"] == [
            {"group": "apps", "kind": "Deployment", "version": "v1"}
        ]
        assert deployment["type"] == "object"
        assert deployment["properties"]["apiVersion"] == {
            "description": deployment["properties"]["apiVersion"]["description"],
            "type": "string",
        }
        assert deployment["properties"]["spec"]["allOf"] == [
            {"$ref": PREFIX + "io.k8s.api.apps.v1.DeploymentSpec"}
        ]
        for name in (
            "io.k8s.api.apps.v1.DeploymentList",
            "io.k8s.api.core.v1.PodTemplateSpec",
            "io.k8s.api.core.v1.Container",
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
            "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta",
            "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
            "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
            "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
            "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
            "io.k8s.apimachinery.pkg.api.resource.Quantity",
        ):
            assert name in comps, name
        # Only what the group-version needs: no unrelated definitions.
        assert "io.k8s.api.batch.v1.Job" not in comps
        assert "io.k8s.api.core.v1.Pod" not in comps

    def test_explain_walk(self, registry: Registry) -> None:
        apps = openapi_v3_document(registry, "apis/apps/v1")
        assert apps is not None
        replicas = _explain(apps, "io.k8s.api.apps.v1.Deployment", "spec.replicas")
        assert replicas["type"] == "integer"
        assert replicas["format"] == "int32"
        assert "desired pods" in replicas["description"]
        image = _explain(apps, "io.k8s.api.apps.v1.Deployment", "spec.template.spec.containers.image")
        assert image["type"] == "string"
        core = openapi_v3_document(registry, "api/v1")
        assert core is not None
        containers = _explain(core, "io.k8s.api.core.v1.Pod", "spec.containers")
        assert containers["x-kubernetes-patch-merge-key"] == "name"
        assert containers["x-kubernetes-list-type"] == "map"

    def test_no_dangling_refs_and_openapi30_types(self, registry: Registry) -> None:
        registry.add(CRONTAB)
        for path, doc in _all_documents(registry, CRD_SCHEMAS).items():
            comps = doc["components"]["schemas"]
            for node in _walk(doc):
                ref = node.get("$ref")
                if isinstance(ref, str):
                    assert ref.startswith(PREFIX), (path, ref)
                    assert ref.removeprefix(PREFIX) in comps, (path, ref)
                if "type" in node and not isinstance(node.get("type"), dict):
                    # a "type" key is either a schema type or a property named "type" (a dict)
                    assert isinstance(node["type"], str), (path, node)
                    assert node["type"] != "null", (path, node)

    def test_conversion_keeps_every_property(self) -> None:
        for name, source in schemas.definitions().items():
            converted = converted_definition(name)
            assert converted is not None
            src_props = source.get("properties") or {}
            assert set(converted.get("properties") or {}) == set(src_props), name
            assert converted.get("required") == source.get("required"), name
            if "x-kubernetes-group-version-kind" in source:
                assert (
                    converted["x-kubernetes-group-version-kind"] == source["x-kubernetes-group-version-kind"]
                )
            for prop in ("apiVersion", "kind"):
                if prop in src_props:
                    assert "enum" not in converted["properties"][prop], name

    def test_int_or_string_and_quantity(self) -> None:
        ios = converted_definition("io.k8s.apimachinery.pkg.util.intstr.IntOrString")
        assert ios is not None
        assert ios["format"] == "int-or-string"
        assert ios["oneOf"] == [{"type": "integer"}, {"type": "string"}]
        quantity = converted_definition("io.k8s.apimachinery.pkg.api.resource.Quantity")
        assert quantity is not None
        assert quantity["oneOf"] == [{"type": "string"}, {"type": "number"}]

    def test_each_kind_schema_in_its_document(self, registry: Registry) -> None:
        docs = _all_documents(registry)
        for info in BUILTIN_RESOURCES:
            doc = docs[f"apis/{info.group}/{info.version}" if info.group else f"api/{info.version}"]
            comp = doc["components"]["schemas"][info.schema_name]
            gvk = {"group": info.group, "kind": info.kind, "version": info.version}
            assert gvk in comp["x-kubernetes-group-version-kind"]
            assert info.schema_name + "List" in doc["components"]["schemas"]


# --- custom resources ------------------------------------------------------------------------------------


class TestCustomResources:
    def test_schema_name(self) -> None:
        assert custom_schema_name("stable.example.com", "v1", "CronTab") == "com.example.stable.v1.CronTab"

    def test_crd_document(self, registry: Registry) -> None:
        registry.add(CRONTAB)
        pristine = copy.deepcopy(CRD_SCHEMAS)
        doc = openapi_v3_document(registry, "apis/stable.example.com/v1", CRD_SCHEMAS)
        assert CRD_SCHEMAS == pristine  # input untouched
        assert doc is not None
        comps = doc["components"]["schemas"]
        crontab = comps["com.example.stable.v1.CronTab"]
        assert crontab["x-kubernetes-group-version-kind"] == [
            {"group": "stable.example.com", "kind": "CronTab", "version": "v1"}
        ]
        assert crontab["type"] == "object"
        assert set(crontab["properties"]) == {"apiVersion", "kind", "metadata", "spec"}
        assert crontab["properties"]["metadata"]["allOf"] == [
            {"$ref": PREFIX + "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
        ]
        assert crontab["properties"]["spec"]["required"] == ["cronSpec"]
        assert crontab["properties"]["spec"]["properties"]["port"]["x-kubernetes-int-or-string"] is True
        listed = comps["com.example.stable.v1.CronTabList"]
        assert listed["properties"]["items"]["items"] == {"$ref": PREFIX + "com.example.stable.v1.CronTab"}
        assert listed["x-kubernetes-group-version-kind"][0]["kind"] == "CronTabList"
        assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in comps
        assert "io.k8s.api.autoscaling.v1.Scale" in comps

        item = doc["paths"]["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}"]
        assert item["patch"]["x-kubernetes-group-version-kind"] == {
            "group": "stable.example.com",
            "version": "v1",
            "kind": "CronTab",
        }
        assert item["patch"]["operationId"] == "patchStableExampleComV1NamespacedCronTab"
        assert "fieldValidation" in {p["name"] for p in item["patch"]["parameters"]}
        status = doc["paths"]["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}/status"]
        assert status["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
            "$ref": PREFIX + "com.example.stable.v1.CronTab"
        }
        spec = _explain(doc, "com.example.stable.v1.CronTab", "spec.cronSpec")
        assert spec["description"] == "Cron schedule."

    def test_crd_without_schema_preserves_unknown_fields(self, registry: Registry) -> None:
        registry.add(CRONTAB)
        doc = openapi_v3_document(registry, "apis/stable.example.com/v1")
        assert doc is not None
        crontab = doc["components"]["schemas"]["com.example.stable.v1.CronTab"]
        assert crontab["x-kubernetes-preserve-unknown-fields"] is True
        assert set(crontab["properties"]) == {"apiVersion", "kind", "metadata"}

    def test_cluster_scoped_crd(self, registry: Registry) -> None:
        registry.add(dataclasses.replace(CRONTAB, namespaced=False, subresources=()))
        doc = openapi_v3_document(registry, "apis/stable.example.com/v1", CRD_SCHEMAS)
        assert doc is not None
        assert "/apis/stable.example.com/v1/crontabs/{name}" in doc["paths"]
        assert not any("{namespace}" in p for p in doc["paths"])

    def test_crd_removal(self, registry: Registry) -> None:
        registry.add(CRONTAB)
        assert openapi_v3_document(registry, "apis/stable.example.com/v1", CRD_SCHEMAS) is not None
        registry.remove("stable.example.com", "v1", "crontabs")
        assert openapi_v3_document(registry, "apis/stable.example.com/v1", CRD_SCHEMAS) is None
        assert "apis/stable.example.com/v1" not in openapi_v3_root(registry, CRD_SCHEMAS)["paths"]
