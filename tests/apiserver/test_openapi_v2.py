"""``/openapi/v2``: the Swagger 2.0 document, its gnostic protobuf encoding, and real kubectl using it.

kubectl validates ``kind: List`` documents on the client with the v2 models (found by their
``x-kubernetes-group-version-kind``); without ``/openapi/v2`` it fails with "error validating data: the
server could not find the requested resource". The kubectl tests run an in-process API server whose
``/openapi/v2`` is answered from ``openapi_v2`` (by a test middleware when the server itself answers 404).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer

from kybernetes.api import errors, schemas
from kybernetes.api.registry import Registry, ResourceInfo, SubresourceInfo
from kybernetes.apiserver import openapi_v2
from kybernetes.apiserver.app import make_app
from kybernetes.apiserver.openapi_v2 import (
    OPENAPI_V2_PROTOBUF,
    OPENAPI_V2_PROTOBUF_CONTENT_TYPE,
    openapi_v2_document,
    openapi_v2_etag,
    openapi_v2_protobuf,
    to_yaml,
    wants_protobuf,
)
from tests.inprocess import api_context, write_kubeconfig

DEF = "#/definitions/"
CONFIGMAP = "io.k8s.api.core.v1.ConfigMap"

CRONTAB = ResourceInfo(
    group="stable.example.com",
    version="v1",
    kind="CronTab",
    plural="crontabs",
    singular="crontab",
    namespaced=True,
    subresources=(SubresourceInfo("status", ""),),
    custom=True,
)
CRONTAB_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["cronSpec", "maybe"],
            "properties": {
                "cronSpec": {"type": "string"},
                "replicas": {"type": "integer", "minimum": 1, "maximum": 10},
                "port": {
                    "x-kubernetes-int-or-string": True,
                    "anyOf": [{"type": "integer"}, {"type": "string"}],
                },
                "extra": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                    "properties": {"a": {"type": "string"}},
                },
                "maybe": {"type": "string", "nullable": True},
                "anything": {"type": "array", "x-kubernetes-preserve-unknown-fields": True, "items": {}},
                "mode": {"type": "string", "enum": ["a", "b"], "default": "a"},
            },
        }
    },
}


# ---------------------------------------------------------------------------------------------------------
# A tiny protobuf reader (wire format only) and a decoder of gnostic Schema back into Swagger 2.0 data


def read_fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) of every field: ints for varints, bytes for length-delimited."""
    out: list[tuple[int, int, Any]] = []
    pos = 0

    def varint() -> int:
        nonlocal pos
        shift = result = 0
        while True:
            byte = buf[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return result

    while pos < len(buf):
        key = varint()
        field, wire = key >> 3, key & 7
        if wire == 0:
            out.append((field, wire, varint()))
        elif wire == 1:
            out.append((field, wire, struct.unpack("<d", buf[pos : pos + 8])[0]))
            pos += 8
        elif wire == 2:
            size = varint()
            out.append((field, wire, buf[pos : pos + size]))
            pos += size
        else:
            raise AssertionError(f"unexpected wire type {wire}")
    assert pos == len(buf)
    return out


def fields_of(buf: bytes, field: int) -> list[Any]:
    return [value for number, _, value in read_fields(buf) if number == field]


def one(buf: bytes, field: int) -> Any:
    values = fields_of(buf, field)
    assert len(values) == 1, (field, values)
    return values[0]


def decode_any(buf: bytes) -> Any:
    return yaml.safe_load(one(buf, 2).decode())  # Any.yaml


def decode_named_any(buf: bytes) -> tuple[str, Any]:
    return one(buf, 1).decode(), decode_any(one(buf, 2))


_SCHEMA_STRINGS = {1: "$ref", 2: "format", 3: "title", 4: "description", 13: "pattern", 26: "discriminator"}
_SCHEMA_DOUBLES = {6: "multipleOf", 7: "maximum", 9: "minimum"}
_SCHEMA_INTS = {11: "maxLength", 12: "minLength", 14: "maxItems", 15: "minItems", 17: "maxProperties"}
_SCHEMA_BOOLS = {8: "exclusiveMaximum", 10: "exclusiveMinimum", 16: "uniqueItems", 27: "readOnly"}


def decode_schema(buf: bytes) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field, wire, value in read_fields(buf):
        if field in _SCHEMA_STRINGS:
            assert wire == 2
            out[_SCHEMA_STRINGS[field]] = value.decode()
        elif field in _SCHEMA_DOUBLES:
            assert wire == 1
            out[_SCHEMA_DOUBLES[field]] = value
        elif field in _SCHEMA_INTS or field in _SCHEMA_BOOLS:
            assert wire == 0
            if field in _SCHEMA_INTS:
                out[_SCHEMA_INTS[field]] = value
            else:
                out[_SCHEMA_BOOLS[field]] = bool(value)
        elif field == 5:
            out["default"] = decode_any(value)
        elif field == 19:
            out.setdefault("required", []).append(value.decode())
        elif field == 20:
            out.setdefault("enum", []).append(decode_any(value))
        elif field == 21:
            (inner_field, inner_wire, inner), *rest = read_fields(value)
            assert not rest
            out["additionalProperties"] = decode_schema(inner) if inner_field == 1 else bool(inner)
            assert inner_wire == (2 if inner_field == 1 else 0)
        elif field == 22:
            (single,) = fields_of(value, 1)
            out["type"] = single.decode()
        elif field == 23:
            (item,) = fields_of(value, 1)
            out["items"] = decode_schema(item)
        elif field == 24:
            out.setdefault("allOf", []).append(decode_schema(value))
        elif field == 25:
            props = {}
            for named in fields_of(value, 1):
                props[one(named, 1).decode()] = decode_schema(one(named, 2))
            out["properties"] = props
        elif field == 30:
            out["example"] = decode_any(value)
        elif field == 31:
            name, ext = decode_named_any(value)
            out[name] = ext
        else:
            raise AssertionError(f"unexpected Schema field {field}")
    return out


def decode_document(buf: bytes) -> dict[str, Any]:
    """The parts of a gnostic Document the checks below need, as plain data."""
    doc: dict[str, Any] = {"swagger": one(buf, 1).decode()}
    info = one(buf, 2)
    doc["info"] = {"title": one(info, 1).decode(), "version": one(info, 2).decode()}
    doc["paths_raw"] = {one(p, 1).decode(): one(p, 2) for p in fields_of(one(buf, 8), 2)}
    doc["definitions_raw"] = {one(d, 1).decode(): one(d, 2) for d in fields_of(one(buf, 9), 1)}
    return doc


def decode_operation(buf: bytes) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": one(buf, 5).decode(),
        "consumes": [v.decode() for v in fields_of(buf, 7)],
        "params": [],
        "ext": dict(decode_named_any(e) for e in fields_of(buf, 13)),
    }
    for item in fields_of(buf, 8):
        parameter = one(item, 1)  # ParametersItem.parameter
        body = fields_of(parameter, 1)
        if body:
            op["params"].append({"in": one(body[0], 3).decode(), "name": one(body[0], 2).decode()})
            continue
        ((sub_field, _, sub),) = read_fields(one(parameter, 2))
        assert sub_field == 3  # query
        op["params"].append({"in": one(sub, 2).decode(), "name": one(sub, 4).decode()})
    codes = [one(named, 1).decode() for named in fields_of(one(buf, 9), 1)]
    op["responses"] = codes
    return op


def _drop_proto3_defaults(node: Any) -> Any:
    """What survives a proto3 round trip: no false/zero/empty scalar fields."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key.startswith("x-") or key in ("default", "example", "enum"):
                out[key] = value
            elif key == "additionalProperties" and isinstance(value, bool):
                out[key] = value
            elif value in (False, 0, "", []) and not isinstance(value, dict):
                continue
            else:
                out[key] = _drop_proto3_defaults(value)
        return out
    if isinstance(node, list):
        return [_drop_proto3_defaults(v) for v in node]
    return node


# ---------------------------------------------------------------------------------------------------------
# The document


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    openapi_v2.clear_cache()


def test_document_shape_and_builtin_definitions() -> None:
    doc = openapi_v2_document(Registry.builtin())
    assert doc["swagger"] == "2.0"
    assert doc["info"] == {"title": "Kubernetes", "version": "v1.32.4"}
    defs = doc["definitions"]
    assert set(schemas.definitions()) <= set(defs)
    cm = defs[CONFIGMAP]
    assert cm["type"] == "object"
    assert cm["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "ConfigMap", "version": "v1"}]
    assert cm["properties"]["metadata"]["$ref"] == DEF + "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    assert "description" in cm["properties"]["metadata"]
    assert cm["properties"]["apiVersion"] == {
        "description": schemas.get(CONFIGMAP)["properties"]["apiVersion"]["description"],  # type: ignore[index]
        "type": "string",
    }
    assert cm["properties"]["data"]["additionalProperties"] == {"type": "string"}
    assert defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"] == "int-or-string"
    assert defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["type"] == "string"
    assert defs["io.k8s.apimachinery.pkg.api.resource.Quantity"]["type"] == "string"
    containers = defs["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert containers["items"] == {"$ref": DEF + "io.k8s.api.core.v1.Container"}


def _walk(node: Any, visit: Callable[[dict[str, Any]], None]) -> None:
    if isinstance(node, dict):
        visit(node)
        for key, value in node.items():
            if key == "properties":
                for sub in value.values():
                    _walk(sub, visit)
            elif key in ("items", "additionalProperties"):
                _walk(value, visit)


def test_definitions_are_shapes_kubectl_can_model() -> None:
    """kubectl's model parser rejects the whole document on any of these."""
    registry = Registry.builtin()
    registry.add(CRONTAB)
    doc = openapi_v2_document(registry, {("stable.example.com", "v1", "crontabs"): CRONTAB_SCHEMA})
    defs = doc["definitions"]
    problems: list[str] = []

    def visit(node: dict[str, Any]) -> None:
        ref = node.get("$ref")
        if ref is not None:
            if not ref.startswith(DEF) or ref[len(DEF) :] not in defs:
                problems.append(f"dangling {ref}")
            if "type" in node or "properties" in node:
                problems.append(f"$ref with type/properties: {ref}")
            return
        kind = node.get("type")
        if kind is not None and kind not in ("object", "array", "string", "integer", "number", "boolean"):
            problems.append(f"type {kind!r}")
        if kind == "array" and not isinstance(node.get("items"), dict):
            problems.append("array without items")
        if "properties" in node and kind not in (None, "object"):
            problems.append("properties on a non-object")
        for key in ("oneOf", "anyOf", "not", "nullable", "$defs"):
            if key in node:
                problems.append(f"{key} left over")

    for schema in defs.values():
        _walk(schema, visit)
    for item in doc["paths"].values():
        for op in item.values():
            if isinstance(op, dict):
                for response in op["responses"].values():
                    _walk(response.get("schema"), visit)
    assert problems == []


def test_paths_carry_actions_gvks_and_field_validation() -> None:
    doc = openapi_v2_document(Registry.builtin())
    item = doc["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]
    patch = item["patch"]
    assert patch["x-kubernetes-action"] == "patch"
    assert patch["x-kubernetes-group-version-kind"] == {"group": "", "kind": "ConfigMap", "version": "v1"}
    names = [p["name"] for p in patch["parameters"]]
    assert names[0] == "body" and "fieldValidation" in names
    assert "application/strategic-merge-patch+json" in patch["consumes"]
    assert patch["responses"]["200"]["schema"] == {"$ref": DEF + CONFIGMAP}
    assert {p["name"] for p in item["parameters"]} >= {"name", "namespace", "pretty"}
    listing = doc["paths"]["/apis/apps/v1/deployments"]["get"]
    assert listing["x-kubernetes-action"] == "list"
    assert listing["responses"]["200"]["schema"] == {"$ref": DEF + "io.k8s.api.apps.v1.DeploymentList"}
    post = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"]["post"]
    assert {"name": "body", "in": "body", "required": True}.items() <= post["parameters"][0].items()
    assert any(p["name"] == "fieldValidation" for p in post["parameters"])


def test_custom_resources_follow_upstream_v2_rules() -> None:
    registry = Registry.builtin()
    registry.add(CRONTAB)
    doc = openapi_v2_document(registry, {("stable.example.com", "v1", "crontabs"): CRONTAB_SCHEMA})
    crontab = doc["definitions"]["com.example.stable.v1.CronTab"]
    assert crontab["x-kubernetes-group-version-kind"] == [
        {"group": "stable.example.com", "kind": "CronTab", "version": "v1"}
    ]
    assert (
        crontab["properties"]["metadata"]["$ref"] == DEF + "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    )
    spec = crontab["properties"]["spec"]
    assert spec["required"] == ["cronSpec"]  # nullable "maybe" is no longer required
    props = spec["properties"]
    assert props["maybe"] == {}  # nullable: untyped
    assert props["port"] == {"x-kubernetes-int-or-string": True}  # anyOf dropped: arbitrary value
    assert props["extra"] == {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    assert props["anything"] == {"x-kubernetes-preserve-unknown-fields": True}  # array without items
    assert props["mode"] == {"type": "string", "enum": ["a", "b"], "default": "a"}
    assert props["replicas"] == {"type": "integer", "minimum": 1, "maximum": 10}
    listing = doc["definitions"]["com.example.stable.v1.CronTabList"]
    assert listing["properties"]["items"]["items"] == {"$ref": DEF + "com.example.stable.v1.CronTab"}
    assert "/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}" in doc["paths"]

    # no schema at all (or one preserving unknown fields at the root): a bare object
    bare = openapi_v2_document(registry)["definitions"]["com.example.stable.v1.CronTab"]
    assert bare == {
        "type": "object",
        "x-kubernetes-group-version-kind": [
            {"group": "stable.example.com", "kind": "CronTab", "version": "v1"}
        ],
    }


def test_memoised_by_registry_and_crd_schemas() -> None:
    started = time.perf_counter()
    registry = Registry.builtin()
    first = openapi_v2_protobuf(registry)
    assert time.perf_counter() - started < 3.0
    started = time.perf_counter()
    assert openapi_v2_protobuf(registry) is first
    assert openapi_v2_document(registry) is openapi_v2_document(Registry.builtin())
    assert time.perf_counter() - started < 0.1
    etag = openapi_v2_etag(registry)
    assert etag.startswith('"') and etag == openapi_v2_etag(Registry.builtin())

    registry.add(CRONTAB)
    with_crd = openapi_v2_protobuf(registry, {("stable.example.com", "v1", "crontabs"): CRONTAB_SCHEMA})
    assert with_crd != first
    changed = {"type": "object", "properties": {"spec": {"type": "object"}}}
    other = openapi_v2_protobuf(registry, {("stable.example.com", "v1", "crontabs"): changed})
    assert other != with_crd
    registry.remove("stable.example.com", "v1", "crontabs")
    assert openapi_v2_protobuf(registry) is first


# ---------------------------------------------------------------------------------------------------------
# The protobuf encoding


def test_protobuf_round_trips_every_definition() -> None:
    registry = Registry.builtin()
    registry.add(CRONTAB)
    crd_schemas = {("stable.example.com", "v1", "crontabs"): CRONTAB_SCHEMA}
    doc = openapi_v2_document(registry, crd_schemas)
    decoded = decode_document(openapi_v2_protobuf(registry, crd_schemas))
    assert decoded["swagger"] == "2.0"
    assert decoded["info"] == doc["info"]
    assert list(decoded["definitions_raw"]) == list(doc["definitions"])
    for name, raw in decoded["definitions_raw"].items():
        assert decode_schema(raw) == _drop_proto3_defaults(doc["definitions"][name]), name
    assert list(decoded["paths_raw"]) == list(doc["paths"])


def test_protobuf_operations_and_parameters() -> None:
    registry = Registry.builtin()
    decoded = decode_document(openapi_v2_protobuf(registry))
    item = decoded["paths_raw"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]
    patch = decode_operation(one(item, 8))  # PathItem.patch
    assert patch["operationId"] == "patchCoreV1NamespacedConfigMap"
    assert patch["ext"] == {
        "x-kubernetes-action": "patch",
        "x-kubernetes-group-version-kind": {"group": "", "kind": "ConfigMap", "version": "v1"},
    }
    assert {"in": "body", "name": "body"} in patch["params"]
    assert {"in": "query", "name": "fieldValidation"} in patch["params"]
    assert patch["responses"] == ["200", "201", "401"]
    # path-level parameters: name and namespace are path parameters (NonBodyParameter field 4)
    kinds = set()
    for param_item in fields_of(item, 9):
        ((sub_field, _, sub),) = read_fields(one(one(param_item, 1), 2))
        kinds.add((sub_field, one(sub, 4).decode()))
    assert {(4, "name"), (4, "namespace"), (3, "pretty")} <= kinds


@pytest.mark.parametrize(
    "value",
    [
        "list",
        "",
        "yes",
        "null",
        "a: b",
        "- x",
        "1.5",
        'héllo\n"quoted"\ttab',
        7,
        2.5,
        True,
        None,
        [],
        {},
        [
            {"group": "", "kind": "ConfigMap", "version": "v1"},
            {"group": "apps", "kind": "X", "version": "v1"},
        ],
        {"group": "", "kind": "ConfigMap", "version": "v1"},
        {"a": [1, [2, {"b": []}]], "c": {"d": {"e": "f"}}, "g": [{"h": {"i": 1}, "j": [3]}]},
        [["a", "b"], [{"x": 1}]],
    ],
)
def test_extension_yaml_round_trips(value: Any) -> None:
    assert yaml.safe_load(to_yaml(value)) == value


def test_extension_yaml_is_block_style() -> None:
    gvk = [{"group": "", "kind": "ConfigMap", "version": "v1"}]
    assert to_yaml(gvk) == '- group: ""\n  kind: ConfigMap\n  version: v1\n'
    assert to_yaml("list") == "list\n"


def test_wants_protobuf() -> None:
    assert wants_protobuf(OPENAPI_V2_PROTOBUF)
    assert wants_protobuf(f"application/json;q=0.5, {OPENAPI_V2_PROTOBUF_CONTENT_TYPE}")
    assert not wants_protobuf("application/json")
    assert not wants_protobuf(None)
    assert not wants_protobuf(f"{OPENAPI_V2_PROTOBUF};q=0")
    assert "@" not in OPENAPI_V2_PROTOBUF_CONTENT_TYPE


# ---------------------------------------------------------------------------------------------------------
# Real kubectl against an in-process server

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
KUBECTL_TIMEOUT = 90.0

needs_kubectl = pytest.mark.kubectl  # skipped without kubectl, failed under CI=true (tests/conftest.py)

CM_LIST = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: first}
  data: {k: v}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: second}
  data: {k: w}
"""
BAD_LIST = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: ok}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: bad}
  data: {k: v}
  bogusField: 1
"""
CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: crontabs.stable.example.com}
spec:
  group: stable.example.com
  scope: Namespaced
  names: {plural: crontabs, singular: crontab, kind: CronTab}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              cronSpec: {type: string}
              port: {x-kubernetes-int-or-string: true, anyOf: [{type: integer}, {type: string}]}
              maybe: {type: string, nullable: true}
"""
CR_LIST = """\
apiVersion: v1
kind: List
items:
- apiVersion: stable.example.com/v1
  kind: CronTab
  metadata: {name: c1}
  spec: {cronSpec: "* * * * *", port: 80, maybe: null%s}
"""


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


Kubectl = Callable[..., Awaitable[Result]]


@pytest.fixture
async def kubectl(tmp_path: Path) -> AsyncIterator[Kubectl]:
    async with api_context(tmp_path) as ctx:
        app = make_app(ctx)
        served: list[str] = []

        @web.middleware
        async def serve_v2(request: web.Request, handler: Callable[..., Any]) -> web.StreamResponse:
            """Answer /openapi/v2 from openapi_v2 unless the server already serves it."""
            if request.path != "/openapi/v2":
                return await handler(request)
            served.append(request.headers.get("Accept", ""))
            try:
                response: web.StreamResponse = await handler(request)
                if response.status != 404:
                    return response
            except errors.StatusError as exc:
                if exc.code != 404:
                    raise
            except web.HTTPNotFound:
                pass
            if wants_protobuf(request.headers.get("Accept")):
                body = openapi_v2_protobuf(ctx.registry, ctx.crd_schemas)
                return web.Response(body=body, content_type=OPENAPI_V2_PROTOBUF_CONTENT_TYPE)
            return web.json_response(openapi_v2_document(ctx.registry, ctx.crd_schemas))

        app.middlewares.append(serve_v2)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{server.port}")
        env = {**os.environ, "KUBECONFIG": str(kubeconfig), "KUBECACHEDIR": str(tmp_path / "kubectl-cache")}

        async def run(*args: str, input: str | None = None) -> Result:
            proc = await asyncio.create_subprocess_exec(
                KUBECTL,
                *args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
            )
            try:
                out, err = await asyncio.wait_for(
                    proc.communicate(input.encode() if input is not None else None), KUBECTL_TIMEOUT
                )
            except TimeoutError:
                proc.kill()
                await proc.wait()
                raise AssertionError(f"kubectl {' '.join(args)} timed out") from None
            assert proc.returncode is not None
            return Result(proc.returncode, out.decode(), err.decode())

        run.served = served  # type: ignore[attr-defined]
        try:
            yield run
        finally:
            await server.close()


@needs_kubectl
@pytest.mark.kubectl
async def test_kubectl_applies_a_list(kubectl: Kubectl) -> None:
    created = await kubectl("apply", "-f", "-", input=CM_LIST)
    assert created.code == 0, created.stderr
    assert created.stdout.split("\n")[:2] == ["configmap/first created", "configmap/second created"]
    assert any("proto-openapi" in accept for accept in kubectl.served)  # type: ignore[attr-defined]

    again = await kubectl("apply", "-f", "-", input=CM_LIST)
    assert again.code == 0, again.stderr
    assert "configmap/first unchanged" in again.stdout

    # the classic round trip: `kubectl get -o yaml` output (a v1 List) applied back
    dumped = await kubectl("get", "cm", "first", "second", "-o", "yaml")
    assert dumped.code == 0, dumped.stderr
    assert yaml.safe_load(dumped.stdout)["kind"] == "List"
    reapplied = await kubectl("apply", "-f", "-", input=dumped.stdout)
    assert reapplied.code == 0, reapplied.stderr
    assert "configmap/second" in reapplied.stdout


@needs_kubectl
@pytest.mark.kubectl
async def test_kubectl_rejects_unknown_field_in_a_list(kubectl: Kubectl) -> None:
    result = await kubectl("apply", "-f", "-", input=BAD_LIST)
    assert result.code != 0
    assert "error validating data" in result.stderr
    assert 'unknown field "bogusField"' in result.stderr
    assert CONFIGMAP in result.stderr
    missing = await kubectl("get", "cm", "ok", "--ignore-not-found", "-o", "name")
    assert missing.stdout.strip() == ""  # validation failed before anything was sent

    wrong_type = BAD_LIST.replace("bogusField: 1", "immutable: sometimes")
    result = await kubectl("apply", "-f", "-", input=wrong_type)
    assert result.code != 0
    assert 'invalid type for io.k8s.api.core.v1.ConfigMap.immutable: got "string"' in result.stderr

    lenient = await kubectl("apply", "--validate=false", "-f", "-", input=CM_LIST)
    assert lenient.code == 0, lenient.stderr


@needs_kubectl
@pytest.mark.kubectl
async def test_kubectl_explain_still_works(kubectl: Kubectl) -> None:
    v3 = await kubectl("explain", "configmap.data")
    assert v3.code == 0, v3.stderr
    assert "map[string]string" in v3.stdout
    v2 = await kubectl("explain", "deployment.spec.strategy", "--output=plaintext-openapiv2")
    assert v2.code == 0, v2.stderr
    assert "rollingUpdate" in v2.stdout


@needs_kubectl
@pytest.mark.kubectl
async def test_kubectl_validates_custom_resources_in_a_list(kubectl: Kubectl) -> None:
    crd = await kubectl("apply", "-f", "-", input=CRD)
    assert crd.code == 0, crd.stderr
    ok = await kubectl("apply", "-f", "-", input=CR_LIST % "")
    assert ok.code == 0, ok.stderr
    assert "crontab.stable.example.com/c1 created" in ok.stdout
    bad = await kubectl("apply", "-f", "-", input=CR_LIST % ", nope: 1")
    assert bad.code != 0
    assert 'unknown field "nope" in com.example.stable.v1.CronTab.spec' in bad.stderr
