"""Decode-time checks of built-in objects against their OpenAPI definitions (``api/schemas.py``).

Upstream decodes JSON into Go structs before any validation runs, so two kinds of problems never reach
the validators:

* wrong JSON types: the decoder fails with ``json: cannot unmarshal string into Go struct field
  DeploymentSpec.spec.replicas of type int32`` and the request is a 400 BadRequest
  (``Deployment in version "v1" cannot be handled as a Deployment: <that>``) -> ``check_types``;
* fields the struct does not have: dropped silently, or reported as ``unknown field "spec.foo"`` with
  ``fieldValidation=Warn`` (a warning) or ``Strict`` (400 ``strict decoding error: ...``) ->
  ``check_unknown_fields``.

Type errors name the innermost Go struct, the dotted JSON path without indices (as encoding/json) and
the Go type derived from the definition; typed string aliases (``v1.RestartPolicy``) read as ``string``.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import schemas
from kybernetes.api.validation import quantity

_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_TIME = ("io.k8s.apimachinery.pkg.apis.meta.v1.Time", "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime")
_B64 = {ord(c): i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}


def _ref(schema: dict[str, Any] | None) -> str | None:
    """The definition a schema points at (through a one-element ``allOf``)."""
    seen = 0
    while isinstance(schema, dict) and seen < 8:
        seen += 1
        if "$ref" in schema:
            return schemas.ref_name(schema["$ref"])
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict):
            schema = all_of[0]
            continue
        return None
    return None


def _go_package_type(defname: str) -> str:
    parts = defname.split(".")
    return f"{parts[-2]}.{parts[-1]}" if len(parts) >= 2 else defname


def _is_free_form(resolved: dict[str, Any]) -> bool:
    return not resolved.get("type") and not resolved.get("properties") and not resolved.get("oneOf")


def go_type(schema: dict[str, Any] | None) -> str:
    """The Go type name upstream's decoder reports for a field with this schema."""
    name = _ref(schema)
    resolved = schemas.resolve(schema) or {}
    if name == _INT_OR_STRING:
        return "int32"
    if name == _QUANTITY:
        return "resource.Quantity"
    if name in _TIME:
        return "string"
    types = schemas.types_of(resolved)
    if (
        "object" in types
        and not resolved.get("properties")
        and isinstance(resolved.get("additionalProperties"), dict)
    ):
        return "map[string]" + go_type(resolved["additionalProperties"])
    if name and ("object" in types or resolved.get("properties")):
        return _go_package_type(name)
    if "array" in types:
        items = resolved.get("items")
        return "[]" + (go_type(items) if isinstance(items, dict) else "interface {}")
    if "integer" in types:
        fmt = resolved.get("format")
        return fmt if fmt in ("int32", "int64") else "int"
    if "number" in types:
        return "float64"
    if "boolean" in types:
        return "bool"
    if "string" in types:
        return "[]uint8" if resolved.get("format") == "byte" else "string"
    if "object" in types:
        return "map[string]interface {}"
    return "interface {}"


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _number_literal(value: int | float) -> str:
    return repr(value) if isinstance(value, float) else str(value)


_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1), "int": (-(2**63), 2**63 - 1)}


def base64_error(text: str) -> str | None:
    """Go's ``base64.StdEncoding`` error for ``text`` (``illegal base64 data at input byte N``), if any."""
    src = text.encode()
    si, n = 0, len(src)
    while True:
        j = 0
        while j < 4:
            if si == n:
                if j == 0:
                    return None
                return f"illegal base64 data at input byte {si - j}"
            c = src[si]
            si += 1
            if c in _B64:
                j += 1
                continue
            if c in (10, 13):
                continue
            if c != ord("="):
                return f"illegal base64 data at input byte {si - 1}"
            if j in (0, 1):
                return f"illegal base64 data at input byte {si - 1}"
            if j == 2:
                while si < n and src[si] in (10, 13):
                    si += 1
                if si == n:
                    return f"illegal base64 data at input byte {n}"
                if src[si] != ord("="):
                    return f"illegal base64 data at input byte {si - 1}"
                si += 1
            while si < n and src[si] in (10, 13):
                si += 1
            if si < n:
                return f"illegal base64 data at input byte {si}"
            return None


class _TypeWalker:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def _fail(self, value_desc: str, struct: str, go_path: str, schema: dict[str, Any] | None) -> None:
        where = f"Go struct field {struct}.{go_path}" if struct and go_path else "Go value"
        self.errors.append(f"json: cannot unmarshal {value_desc} into {where} of type {go_type(schema)}")

    def walk(self, schema: dict[str, Any] | None, value: Any, struct: str, go_path: str) -> None:
        if value is None or schema is None:
            return
        name = _ref(schema)
        resolved = schemas.resolve(schema)
        if not resolved:
            return
        if name == _QUANTITY:
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float | str)
                or not quantity.is_valid(value)
            ):
                self.errors.append(quantity.FORMAT_ERROR)
            return
        if name == _INT_OR_STRING:
            if isinstance(value, str):
                return
            if isinstance(value, bool) or not isinstance(value, int):
                desc = f"number {_number_literal(value)}" if isinstance(value, float) else _json_kind(value)
                self._fail(desc, struct, go_path, schema)
            elif not -(2**31) <= value < 2**31:
                self._fail(f"number {value}", struct, go_path, schema)
            return
        if name in _TIME:
            if not isinstance(value, str):
                self._fail(_json_kind(value), struct, go_path, {"type": "string"})
            return
        if _is_free_form(resolved):
            return
        types = schemas.types_of(resolved)
        if "object" in types or resolved.get("properties"):
            if not isinstance(value, dict):
                self._fail(_json_kind(value), struct, go_path, schema)
                return
            props = resolved.get("properties")
            extra = resolved.get("additionalProperties")
            if isinstance(props, dict) and props:
                inner = name.rsplit(".", 1)[-1] if name else struct
                for k, v in value.items():
                    if k in props:
                        self.walk(props[k], v, inner, f"{go_path}.{k}" if go_path else k)
            elif isinstance(extra, dict):
                for v in value.values():
                    self.walk(extra, v, struct, go_path)
            return
        if "array" in types:
            if not isinstance(value, list):
                self._fail(_json_kind(value), struct, go_path, schema)
                return
            items = resolved.get("items")
            if isinstance(items, dict):
                for v in value:
                    self.walk(items, v, struct, go_path)
            return
        if "integer" in types:
            if isinstance(value, bool) or not isinstance(value, int | float):
                self._fail(_json_kind(value), struct, go_path, schema)
            elif isinstance(value, float) or not (
                _INT_RANGES[go_type(schema)][0] <= value <= _INT_RANGES[go_type(schema)][1]
            ):
                self._fail(f"number {_number_literal(value)}", struct, go_path, schema)
            return
        if "number" in types:
            if isinstance(value, bool) or not isinstance(value, int | float):
                self._fail(_json_kind(value), struct, go_path, schema)
            return
        if "boolean" in types:
            if not isinstance(value, bool):
                self._fail(_json_kind(value), struct, go_path, schema)
            return
        if "string" in types:
            if not isinstance(value, str):
                self._fail(_json_kind(value), struct, go_path, schema)
            elif resolved.get("format") == "byte":
                err = base64_error(value)
                if err:
                    self.errors.append(err)


def check_types(schema_name: str, obj: dict[str, Any]) -> list[str]:
    """Decode errors of ``obj`` against definition ``schema_name``, in document order (upstream reports
    the first). Empty if the object would decode."""
    schema = schemas.get(schema_name)
    if schema is None:
        return []
    walker = _TypeWalker()
    walker.walk({"$ref": schemas.REF_PREFIX + schema_name}, obj, schema_name.rsplit(".", 1)[-1], "")
    return walker.errors


def decode_error_message(kind: str, version: str, error: str) -> str:
    """Upstream's 400 message for a body that does not decode."""
    return f'{kind} in version "{version}" cannot be handled as a {kind}: {error}'


def _unknown(schema: dict[str, Any] | None, value: Any, path: str, out: list[str]) -> None:
    if value is None or schema is None:
        return
    name = _ref(schema)
    if name in (_QUANTITY, _INT_OR_STRING, *_TIME):
        return
    resolved = schemas.resolve(schema)
    if not resolved or _is_free_form(resolved):
        return
    if isinstance(value, dict):
        props = resolved.get("properties")
        extra = resolved.get("additionalProperties")
        if isinstance(props, dict) and props:
            for k, v in value.items():
                child = f"{path}.{k}" if path else k
                if k in props:
                    _unknown(props[k], v, child, out)
                elif not isinstance(extra, dict | bool):
                    out.append(f'unknown field "{child}"')
        elif isinstance(extra, dict):
            for k, v in value.items():
                _unknown(extra, v, f"{path}.{k}" if path else k, out)
    elif isinstance(value, list):
        items = resolved.get("items")
        if isinstance(items, dict):
            for i, v in enumerate(value):
                _unknown(items, v, f"{path}[{i}]", out)


def check_unknown_fields(schema_name: str, obj: dict[str, Any]) -> list[str]:
    """``unknown field "spec.foo"`` for each field the Go struct would not accept (array items are
    indexed: ``spec.containers[0].foo``). The server joins them for ``fieldValidation=Strict``
    (``strict decoding error: unknown field "a", unknown field "b"``) or sends each as a warning."""
    out: list[str] = []
    if schemas.get(schema_name) is None:
        return out
    _unknown({"$ref": schemas.REF_PREFIX + schema_name}, obj, "", out)
    return out


def strict_error_message(unknown: list[str]) -> str:
    return "strict decoding error: " + ", ".join(unknown)
