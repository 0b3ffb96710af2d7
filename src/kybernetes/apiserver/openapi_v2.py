"""The Swagger 2.0 document of ``GET /openapi/v2``, as JSON-ready data and as a gnostic protobuf message.

kubectl fetches ``/openapi/v2`` with ``Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf``
and reads the body as gnostic's ``openapi.v2.Document`` message. It uses the document for:

* client-side validation of ``kind: List`` documents (``apply``/``create -f`` of ``kubectl get -o yaml``
  output): a List has no ``patch`` operation in ``/openapi/v3``, so kubectl validates each item itself,
  looking the item's model up by the ``x-kubernetes-group-version-kind`` extension of the definitions
  (unknown fields and wrong types are reported as ``error validating data: ...``);
* strategic-merge-patch metadata (``x-kubernetes-patch-strategy`` / ``-merge-key``) when the v3 path
  fails, and older ``explain``.

kubectl's model parser is strict about shapes: a ``$ref`` may not carry ``type`` or ``properties``, an
array must have exactly one ``items`` schema, a type is a single primitive/object/array name, every
``$ref`` must name an existing definition. The conversion below keeps to that.

Definitions are every built-in definition of ``kybernetes.api.schemas`` converted from its JSON-schema
flavour (``#/$defs/X`` -> ``#/definitions/X``, ``["object", "null"]`` -> ``object``, the synthetic
``apiVersion``/``kind`` enums dropped, ``IntOrString`` -> ``string``/``int-or-string``, ``Quantity`` ->
``string``), plus custom resources taken from the ``/openapi/v3`` components (same upstream names, e.g.
``com.example.stable.v1.CronTab``) with upstream's v3 -> v2 rules for CRDs (no ``oneOf``/``anyOf``/
``allOf``/``not``; ``nullable`` or ``x-kubernetes-preserve-unknown-fields`` nodes lose ``items`` and
``properties``; untyped arrays; a root that preserves unknown fields becomes a bare ``object``). Paths are
the ``/openapi/v3`` operations of every served group-version in Swagger 2.0 form (body parameters,
``consumes``/``produces``), keeping ``x-kubernetes-action`` and ``x-kubernetes-group-version-kind``.

The protobuf encoder is hand-written for just the gnostic messages used here (field numbers from
gnostic's ``openapiv2/OpenAPIv2.proto``). Extension values are ``Any{yaml: ...}`` as gnostic writes them
(block YAML). Both forms are memoised by the registry's rows and the CRD schemas they use; built-in
definitions are converted and encoded once per process. Returned documents are shared: do not mutate.

HTTP: when ``wants_protobuf(accept)``, serve ``openapi_v2_protobuf(...)`` with
``Content-Type: OPENAPI_V2_PROTOBUF_CONTENT_TYPE`` (not the ``@`` spelling kubectl sends in Accept: Go's
media-type parser rejects it and kubectl then fails with "mime: unexpected content after media subtype");
otherwise ``openapi_v2_document(...)`` as JSON. ``openapi_v2_etag(...)`` is a content hash for ``ETag``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import struct
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import orjson

from kybernetes.api import schemas
from kybernetes.api.registry import Registry, ResourceInfo
from kybernetes.apiserver import openapi

# What kubectl/client-go offer in Accept (the "@" form is upstream's deprecated spelling, still sent).
OPENAPI_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
OPENAPI_V2_PROTOBUF_ALT = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
# What the server answers with: Go's mime parser rejects "@", so upstream always replies with this one.
OPENAPI_V2_PROTOBUF_CONTENT_TYPE = OPENAPI_V2_PROTOBUF_ALT
SWAGGER_VERSION = "2.0"
DEFINITION_PREFIX = "#/definitions/"
INFO = {"title": "Kubernetes", "version": "v1.32.4"}

_V3_PREFIX = openapi.COMPONENT_PREFIX
_JSON_SCHEMA_PREFIX = schemas.REF_PREFIX

_SECURITY_DEFINITIONS = {
    "BearerToken": {
        "description": "Bearer Token authentication",
        "in": "header",
        "name": "authorization",
        "type": "apiKey",
    }
}
_SECURITY: list[dict[str, list[str]]] = [{"BearerToken": []}]
_SCHEMES = ["https"]
_PROTOBUF_RESPONSE = "application/vnd.kubernetes.protobuf"
_PROTOBUF_WATCH = "application/vnd.kubernetes.protobuf;stream=watch"

# Upstream's Swagger 2.0 forms of the two scalar "union" types.
_SPECIAL_DEFINITIONS: dict[str, dict[str, Any]] = {
    openapi.INT_OR_STRING: {
        "description": (
            "IntOrString is a type that can hold an int32 or a string. When used in JSON or YAML marshalling "
            "and unmarshalling, it produces or consumes the inner type."
        ),
        "format": "int-or-string",
        "type": "string",
    },
    openapi.QUANTITY: {
        "description": (
            "Quantity is a fixed-point representation of a number, serialized as a string such as "
            '"100m", "1Gi" or "1.5".'
        ),
        "type": "string",
    },
}

# Swagger 2.0 schema keywords kept as-is (everything else that is not an x- extension is dropped).
_PLAIN_KEYWORDS = frozenset(
    {
        "format",
        "title",
        "description",
        "default",
        "multipleOf",
        "maximum",
        "exclusiveMaximum",
        "minimum",
        "exclusiveMinimum",
        "maxLength",
        "minLength",
        "pattern",
        "maxItems",
        "minItems",
        "uniqueItems",
        "maxProperties",
        "minProperties",
        "required",
        "enum",
        "discriminator",
        "readOnly",
        "example",
    }
)
_TYPE_META_PROPERTIES = ("apiVersion", "kind")


# ---------------------------------------------------------------------------------------------------------
# Schema conversion (JSON-schema flavour or OpenAPI v3 component -> Swagger 2.0 schema)


def _definition_ref(ref: str) -> str:
    for prefix in (_JSON_SCHEMA_PREFIX, _V3_PREFIX, DEFINITION_PREFIX):
        if ref.startswith(prefix):
            return DEFINITION_PREFIX + ref[len(prefix) :]
    return DEFINITION_PREFIX + ref.rsplit("/", 1)[-1]


def _single_ref(node: dict[str, Any]) -> str | None:
    """The target of ``$ref`` or of a single-element ``allOf: [{$ref}]`` (upstream's v3 wrapping)."""
    ref = node.get("$ref")
    if isinstance(ref, str):
        return ref
    all_of = node.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict):
        inner = all_of[0]
        if isinstance(inner.get("$ref"), str) and len(inner) == 1:
            return str(inner["$ref"])
    return None


def to_v2_schema(node: Any, *, crd: bool = False, type_meta: bool = False) -> Any:
    """Convert one schema node to Swagger 2.0. ``crd`` applies upstream's CRD v3 -> v2 rules; ``type_meta``
    marks an ``apiVersion``/``kind`` property (its synthetic ``enum`` is dropped)."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    ref = _single_ref(node)
    if ref is not None:
        # kubectl rejects a $ref with a type or properties; other siblings (description, x-*) are fine.
        out["$ref"] = _definition_ref(ref)
        for key, value in node.items():
            if key in ("description",) or key.startswith("x-"):
                out[key] = value
        return out
    nullable = crd and node.get("nullable") is True
    preserve = crd and node.get("x-kubernetes-preserve-unknown-fields") is True
    for key, value in node.items():
        if key == "type":
            single = openapi.single_type(value)
            if single is not None and not nullable:
                out["type"] = single
        elif key == "properties" and isinstance(value, dict):
            if nullable or preserve:
                continue
            out["properties"] = {
                prop: to_v2_schema(sub, crd=crd, type_meta=prop in _TYPE_META_PROPERTIES)
                for prop, sub in value.items()
            }
        elif key == "items":
            if nullable or preserve:
                continue
            if isinstance(value, dict):
                out["items"] = to_v2_schema(value, crd=crd)
            elif isinstance(value, list) and len(value) == 1:
                out["items"] = to_v2_schema(value[0], crd=crd)
        elif key == "additionalProperties":
            if isinstance(value, dict):
                out["additionalProperties"] = to_v2_schema(value, crd=crd)
            elif isinstance(value, bool):
                out["additionalProperties"] = value
        elif key == "enum" and type_meta:
            continue
        elif key == "required" and isinstance(value, list):
            out["required"] = list(value)
        elif key in _PLAIN_KEYWORDS or key.startswith("x-"):
            out[key] = value
        # allOf/oneOf/anyOf/not, nullable, patternProperties, ... have no Swagger 2.0 form kubectl can use.
    if crd and isinstance(out.get("required"), list) and isinstance(node.get("properties"), dict):
        nullable_props = {
            p for p, s in node["properties"].items() if isinstance(s, dict) and s.get("nullable") is True
        }
        if nullable_props:
            out["required"] = [r for r in out["required"] if r not in nullable_props]
            if not out["required"]:
                del out["required"]
    if out.get("type") == "array" and "items" not in out:
        del out["type"]  # kubectl cannot model an array without an item schema
    return out


@functools.cache
def _builtin_definitions() -> dict[str, dict[str, Any]]:
    """Every built-in definition in Swagger 2.0 form, by name (shared: do not mutate)."""
    out: dict[str, dict[str, Any]] = {}
    for name, source in schemas.definitions().items():
        out[name] = _SPECIAL_DEFINITIONS.get(name) or to_v2_schema(source)
    return out


def _custom_definition(component: dict[str, Any]) -> dict[str, Any]:
    """A custom kind's (or list's) v3 component in upstream's CRD v2 form."""
    gvk = component.get("x-kubernetes-group-version-kind")
    if component.get("x-kubernetes-preserve-unknown-fields") is True:
        bare: dict[str, Any] = {"type": "object"}
        if gvk is not None:
            bare["x-kubernetes-group-version-kind"] = gvk
        return bare
    return to_v2_schema(component, crd=True)


# ---------------------------------------------------------------------------------------------------------
# Paths (the /openapi/v3 operations in Swagger 2.0 form)

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")


def _v2_parameter(param: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    schema = param.get("schema") or {}
    if schema.get("uniqueItems"):
        out["uniqueItems"] = True
    if "type" in schema:
        out["type"] = schema["type"]
    for key in ("description", "name", "in"):
        if key in param:
            out[key] = param[key]
    if param.get("required"):
        out["required"] = True
    return out


def _v2_response_schema(schema: dict[str, Any]) -> dict[str, Any]:
    ref = _single_ref(schema)
    if ref is not None:
        return {"$ref": _definition_ref(ref)}
    return to_v2_schema(schema)


def _v2_operation(op: dict[str, Any], list_watch: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "description" in op:
        out["description"] = op["description"]
    body = op.get("requestBody")
    consumes: list[str] = []
    if isinstance(body, dict):
        consumes = list((body.get("content") or {}).keys())
    elif op.get("parameters") is not None or "x-kubernetes-action" in op:
        consumes = ["*/*"]
    if consumes:
        out["consumes"] = consumes
    produces: list[str] = []
    responses: dict[str, Any] = {}
    for code, response in (op.get("responses") or {}).items():
        v2_response: dict[str, Any] = {"description": response.get("description", "")}
        content = response.get("content") or {}
        for media_type, media in content.items():
            if media_type not in produces:
                produces.append(media_type)
            if "schema" not in v2_response and isinstance(media, dict) and "schema" in media:
                v2_response["schema"] = _v2_response_schema(media["schema"])
        responses[code] = v2_response
    if "application/json" in produces:
        produces.append(_PROTOBUF_RESPONSE)
        if list_watch:
            produces.append(_PROTOBUF_WATCH)
    if produces:
        out["produces"] = produces
    out["schemes"] = list(_SCHEMES)
    if "tags" in op:
        out["tags"] = list(op["tags"])
    if "operationId" in op:
        out["operationId"] = op["operationId"]
    params = [_v2_parameter(p) for p in op.get("parameters") or ()]
    if isinstance(body, dict):
        body_media: dict[str, Any] = next(iter((body.get("content") or {}).values()), {})
        schema = body_media.get("schema") or {}
        body_param: dict[str, Any] = {"in": "body", "name": "body", "schema": _v2_response_schema(schema)}
        if body.get("required"):
            body_param["required"] = True
        params.insert(0, body_param)
    if params:
        out["parameters"] = params
    out["responses"] = responses
    for key, value in op.items():
        if key.startswith("x-"):
            out[key] = value
    return out


def _v2_path_item(item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for method in _METHODS:
        op = item.get(method)
        if isinstance(op, dict):
            list_watch = op.get("x-kubernetes-action") == "list"
            out[method] = _v2_operation(op, list_watch)
    if item.get("parameters"):
        out["parameters"] = [_v2_parameter(p) for p in item["parameters"]]
    return out


# ---------------------------------------------------------------------------------------------------------
# The document (memoised)

CrdSchemas = dict[tuple[str, str, str], dict[str, Any]]

_CACHE_SIZE = 8
_cache: OrderedDict[tuple[Any, ...], _Built] = OrderedDict()
_cache_lock = threading.Lock()


class _Built:
    """One built document, with its protobuf encoding made on first use."""

    def __init__(self, document: dict[str, Any], custom_names: tuple[str, ...]) -> None:
        self.document = document
        self.custom_names = custom_names
        self._protobuf: bytes | None = None
        self._etag: str | None = None
        self._lock = threading.Lock()

    def protobuf(self) -> bytes:
        with self._lock:
            if self._protobuf is None:
                self._protobuf = _encode_document(self.document, self.custom_names)
            return self._protobuf

    def etag(self) -> str:
        if self._etag is None:
            self._etag = f'"{hashlib.sha512(self.protobuf()).hexdigest().upper()}"'
        return self._etag


def _schema_digest(schema: dict[str, Any] | None) -> str:
    if schema is None:
        return ""
    return hashlib.sha256(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _cache_key(registry: Registry, crd_schemas: CrdSchemas) -> tuple[Any, ...]:
    infos: tuple[ResourceInfo, ...] = tuple(sorted(registry, key=lambda i: (i.group, i.version, i.plural)))
    builtin = _builtin_definitions()
    crd_part = tuple(
        (i.group, i.version, i.plural, _schema_digest(crd_schemas.get((i.group, i.version, i.plural))))
        for i in infos
        if i.custom or not i.schema_name or i.schema_name not in builtin
    )
    return (infos, crd_part)


def _build(registry: Registry, crd_schemas: CrdSchemas) -> _Built:
    builtin = _builtin_definitions()
    paths: dict[str, Any] = {}
    custom: dict[str, dict[str, Any]] = {}
    for group, versions in registry.groups().items():
        for version in versions:
            gv_path = f"apis/{group}/{version}" if group else f"api/{version}"
            v3 = openapi.openapi_v3_document(registry, gv_path, crd_schemas)
            if v3 is None:
                continue
            for path, item in v3.get("paths", {}).items():
                paths[path] = _v2_path_item(item)
            for name, component in v3.get("components", {}).get("schemas", {}).items():
                if name not in builtin and name not in custom:
                    custom[name] = _custom_definition(component)
    definitions = dict(builtin)
    definitions.update(custom)
    document = {
        "swagger": SWAGGER_VERSION,
        "info": dict(INFO),
        "paths": dict(sorted(paths.items())),
        "definitions": dict(sorted(definitions.items())),
        "securityDefinitions": _SECURITY_DEFINITIONS,
        "security": _SECURITY,
    }
    return _Built(document, tuple(sorted(custom)))


def _built(registry: Registry, crd_schemas: CrdSchemas | None) -> _Built:
    crd_schemas = crd_schemas or {}
    key = _cache_key(registry, crd_schemas)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    built = _build(registry, crd_schemas)
    with _cache_lock:
        _cache[key] = built
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return built


def openapi_v2_document(registry: Registry, crd_schemas: CrdSchemas | None = None) -> dict[str, Any]:
    """``GET /openapi/v2`` as JSON-ready data (Swagger 2.0). Shared with the cache: do not mutate.

    ``crd_schemas`` maps (group, version, plural) to the CRD version's ``openAPIV3Schema`` (as for
    ``openapi.openapi_v3_document``).
    """
    return _built(registry, crd_schemas).document


def openapi_v2_protobuf(registry: Registry, crd_schemas: CrdSchemas | None = None) -> bytes:
    """``GET /openapi/v2`` with ``Accept: OPENAPI_V2_PROTOBUF``: the document as a gnostic
    ``openapi.v2.Document`` message."""
    return _built(registry, crd_schemas).protobuf()


def openapi_v2_etag(registry: Registry, crd_schemas: CrdSchemas | None = None) -> str:
    """A quoted strong ETag of the document (the same for its JSON and protobuf forms)."""
    return _built(registry, crd_schemas).etag()


def wants_protobuf(accept: str | None) -> bool:
    """Whether an Accept header asks for the protobuf form (either spelling, without ``q=0``)."""
    for part in (accept or "").split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if media.lower() in (OPENAPI_V2_PROTOBUF, OPENAPI_V2_PROTOBUF_ALT):
            if not any(p.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000") for p in params):
                return True
    return False


def clear_cache() -> None:
    """Forget built documents (tests)."""
    with _cache_lock:
        _cache.clear()


# ---------------------------------------------------------------------------------------------------------
# YAML for extension values (gnostic stores each x-* value as block YAML text)

_PLAIN_SCALAR = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*")
_YAML_SPECIAL = frozenset({"y", "yes", "n", "no", "true", "false", "on", "off", "null"})


def _yaml_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    text = str(value)
    if _PLAIN_SCALAR.fullmatch(text) and text.lower() not in _YAML_SPECIAL:
        return text
    return json.dumps(text)  # a JSON string is a valid YAML double-quoted scalar


def _yaml_lines(value: Any) -> list[str]:
    if isinstance(value, dict) and value:
        lines: list[str] = []
        for key, sub in value.items():
            head = _yaml_scalar(key)
            if isinstance(sub, dict) and sub:
                lines.append(f"{head}:")
                lines.extend("  " + line for line in _yaml_lines(sub))
            elif isinstance(sub, list) and sub:
                lines.append(f"{head}:")
                lines.extend(_yaml_lines(sub))
            else:
                lines.append(f"{head}: {_yaml_lines(sub)[0]}")
        return lines
    if isinstance(value, list) and value:
        lines = []
        for item in value:
            sub_lines = _yaml_lines(item)
            lines.append("- " + sub_lines[0])
            lines.extend("  " + line for line in sub_lines[1:])
        return lines
    if isinstance(value, dict):
        return ["{}"]
    if isinstance(value, list):
        return ["[]"]
    return [_yaml_scalar(value)]


def to_yaml(value: Any) -> str:
    """Block YAML of a JSON value, as gnostic stores extension values (``Any.yaml``)."""
    return "\n".join(_yaml_lines(value)) + "\n"


# ---------------------------------------------------------------------------------------------------------
# Protobuf encoding of the gnostic openapi.v2 messages (proto3 wire format)


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


@functools.cache
def _tag(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def _message(field: int, payload: bytes) -> bytes:
    """A length-delimited field (emitted even when empty: message presence matters)."""
    return _tag(field, 2) + _varint(len(payload)) + payload


def _string(field: int, value: Any) -> bytes:
    if not value:
        return b""
    return _message(field, str(value).encode())


def _strings(field: int, values: Iterable[Any]) -> bytes:
    return b"".join(_message(field, str(v).encode()) for v in values)


def _bool(field: int, value: Any) -> bytes:
    return _tag(field, 0) + b"\x01" if value is True else b""


def _int64(field: int, value: Any) -> bytes:
    if not isinstance(value, int) or isinstance(value, bool) or value == 0:
        return b""
    return _tag(field, 0) + _varint(value)


def _double(field: int, value: Any) -> bytes:
    if not isinstance(value, int | float) or isinstance(value, bool) or value == 0:
        return b""
    return _tag(field, 1) + struct.pack("<d", float(value))


@functools.lru_cache(maxsize=4096)
def _any_cached(text: str) -> bytes:
    return _string(2, text)  # Any{yaml}


def _any(value: Any) -> bytes:
    """gnostic ``Any``: field 2 ``yaml``."""
    return _any_cached(to_yaml(value))


def _named_any(name: str, value: Any) -> bytes:
    return _string(1, name) + _message(2, _any(value))


def _extensions(field: int, node: dict[str, Any]) -> bytes:
    return b"".join(
        _message(field, _named_any(key, value)) for key, value in node.items() if key.startswith("x-")
    )


def _schema(node: dict[str, Any]) -> bytes:
    """gnostic ``Schema``."""
    parts = [
        _string(1, node.get("$ref")),
        _string(2, node.get("format")),
        _string(3, node.get("title")),
        _string(4, node.get("description")),
    ]
    if "default" in node:
        parts.append(_message(5, _any(node["default"])))
    parts += [
        _double(6, node.get("multipleOf")),
        _double(7, node.get("maximum")),
        _bool(8, node.get("exclusiveMaximum")),
        _double(9, node.get("minimum")),
        _bool(10, node.get("exclusiveMinimum")),
        _int64(11, node.get("maxLength")),
        _int64(12, node.get("minLength")),
        _string(13, node.get("pattern")),
        _int64(14, node.get("maxItems")),
        _int64(15, node.get("minItems")),
        _bool(16, node.get("uniqueItems")),
        _int64(17, node.get("maxProperties")),
        _int64(18, node.get("minProperties")),
        _strings(19, node.get("required") or ()),
    ]
    parts += [_message(20, _any(v)) for v in node.get("enum") or ()]
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        parts.append(_message(21, _message(1, _schema(extra))))  # AdditionalPropertiesItem.schema
    elif isinstance(extra, bool):
        parts.append(_message(21, _tag(2, 0) + (b"\x01" if extra else b"\x00")))  # oneof: always emitted
    if "type" in node:
        parts.append(_message(22, _strings(1, [node["type"]])))  # TypeItem.value
    items = node.get("items")
    if isinstance(items, dict):
        parts.append(_message(23, _message(1, _schema(items))))  # ItemsItem.schema
    for sub in node.get("allOf") or ():
        parts.append(_message(24, _schema(sub)))
    props = node.get("properties")
    if isinstance(props, dict):
        named = b"".join(_message(1, _string(1, k) + _message(2, _schema(v))) for k, v in props.items())
        parts.append(_message(25, named))  # Properties.additional_properties (NamedSchema)
    parts += [_string(26, node.get("discriminator")), _bool(27, node.get("readOnly"))]
    if "example" in node:
        parts.append(_message(30, _any(node["example"])))
    parts.append(_extensions(31, node))
    return b"".join(parts)


def _named_schema(name: str, schema: dict[str, Any]) -> bytes:
    return _message(1, _string(1, name) + _message(2, _schema(schema)))  # Definitions.additional_properties


@functools.cache
def _builtin_definition_bytes(name: str) -> bytes:
    return _named_schema(name, _builtin_definitions()[name])


# NonBodyParameter sub-schemas: field numbers of (required, in, description, name, type, format,
# unique_items, vendor_extension) per ``in``, and the NonBodyParameter oneof field.
_NON_BODY_FIELDS: dict[str, tuple[int, tuple[int, ...]]] = {
    "header": (1, (1, 2, 3, 4, 5, 6, 19, 22)),
    "formData": (2, (1, 2, 3, 4, 6, 7, 20, 23)),
    "query": (3, (1, 2, 3, 4, 6, 7, 20, 23)),
    "path": (4, (1, 2, 3, 4, 5, 6, 19, 22)),
}


def _parameter(param: dict[str, Any]) -> bytes:
    """gnostic ``ParametersItem`` (always the ``parameter`` alternative here)."""
    where = param.get("in", "query")
    if where == "body":
        body = b"".join(
            (
                _string(1, param.get("description")),
                _string(2, param.get("name")),
                _string(3, "body"),
                _bool(4, param.get("required")),
                _message(5, _schema(param.get("schema") or {})),
                _extensions(6, param),
            )
        )
        parameter = _message(1, body)  # Parameter.body_parameter
    else:
        oneof, (f_req, f_in, f_desc, f_name, f_type, f_fmt, f_unique, f_ext) = _NON_BODY_FIELDS.get(
            where, _NON_BODY_FIELDS["query"]
        )
        sub = b"".join(
            (
                _bool(f_req, param.get("required")),
                _string(f_in, where),
                _string(f_desc, param.get("description")),
                _string(f_name, param.get("name")),
                _string(f_type, param.get("type")),
                _string(f_fmt, param.get("format")),
                _bool(f_unique, param.get("uniqueItems")),
                _extensions(f_ext, param),
            )
        )
        parameter = _message(2, _message(oneof, sub))  # Parameter.non_body_parameter
    return _message(1, parameter)  # ParametersItem.parameter


def _responses(responses: dict[str, Any]) -> bytes:
    parts = []
    for code, response in responses.items():
        body = _string(1, response.get("description"))
        if isinstance(response.get("schema"), dict):
            body += _message(2, _message(1, _schema(response["schema"])))  # SchemaItem.schema
        body += _extensions(5, response)
        value = _message(1, body)  # ResponseValue.response
        parts.append(_message(1, _string(1, code) + _message(2, value)))  # NamedResponseValue
    return b"".join(parts)


def _operation(op: dict[str, Any]) -> bytes:
    return b"".join(
        (
            _strings(1, op.get("tags") or ()),
            _string(2, op.get("summary")),
            _string(3, op.get("description")),
            _string(5, op.get("operationId")),
            _strings(6, op.get("produces") or ()),
            _strings(7, op.get("consumes") or ()),
            b"".join(_message(8, _parameter(p)) for p in op.get("parameters") or ()),
            _message(9, _responses(op.get("responses") or {})),
            _strings(10, op.get("schemes") or ()),
            _bool(11, op.get("deprecated")),
            _extensions(13, op),
        )
    )


_PATH_ITEM_FIELDS = {"get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7, "patch": 8}


def _path_item(item: dict[str, Any]) -> bytes:
    parts = [_message(field, _operation(item[m])) for m, field in _PATH_ITEM_FIELDS.items() if m in item]
    parts += [_message(9, _parameter(p)) for p in item.get("parameters") or ()]
    parts.append(_extensions(10, item))
    return b"".join(parts)


def _paths(paths: dict[str, Any]) -> bytes:
    return b"".join(
        _message(2, _string(1, path) + _message(2, _path_item(item))) for path, item in paths.items()
    )


def _security_definitions(defs: dict[str, Any]) -> bytes:
    parts = []
    for name, item in defs.items():
        api_key = b"".join(
            (
                _string(1, item.get("type")),
                _string(2, item.get("name")),
                _string(3, item.get("in")),
                _string(4, item.get("description")),
            )
        )
        value = _message(2, api_key)  # SecurityDefinitionsItem.api_key_security
        parts.append(_message(1, _string(1, name) + _message(2, value)))
    return b"".join(parts)


def _security_requirement(requirement: dict[str, list[str]]) -> bytes:
    return b"".join(
        _message(1, _string(1, name) + _message(2, _strings(1, scopes)))
        for name, scopes in requirement.items()
    )


def _encode_document(doc: dict[str, Any], custom_names: tuple[str, ...]) -> bytes:
    """gnostic ``Document``; built-in definitions come from the per-process cache of encoded bytes."""
    customs = set(custom_names)
    definition_parts = [
        _named_schema(name, schema) if name in customs else _builtin_definition_bytes(name)
        for name, schema in doc["definitions"].items()
    ]
    info = _string(1, doc["info"].get("title")) + _string(2, doc["info"].get("version"))
    return b"".join(
        (
            _string(1, doc["swagger"]),
            _message(2, info),
            _message(8, _paths(doc["paths"])),
            _message(9, b"".join(definition_parts)),
            b"".join(_message(12, _security_requirement(r)) for r in doc.get("security") or ()),
            _message(13, _security_definitions(doc.get("securityDefinitions") or {})),
            _extensions(16, doc),
        )
    )
