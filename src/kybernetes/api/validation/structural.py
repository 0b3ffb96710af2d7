"""Custom resources against their CRD's structural OpenAPI v3 schema.

``validate_custom`` reproduces the causes upstream's apiextensions-apiserver derives from kube-openapi's
validator (``spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer:
"string"``, ``Required value``, ``Unsupported value`` for enums, ``Too long``/``Too many`` for max
lengths and items...). ``prune_unknown`` drops fields the schema does not declare (unless
``x-kubernetes-preserve-unknown-fields``; ``apiVersion``/``kind``/``metadata`` are kept at the root and
in embedded resources), ``unknown_custom_fields`` lists them for ``fieldValidation=Strict|Warn``, and
``apply_custom_defaults`` applies schema ``default`` values.
"""

from __future__ import annotations

import base64
import copy
import datetime
import ipaddress
import json
import re
import uuid
from typing import Any

from kybernetes.api import schemas
from kybernetes.api.errors import Cause
from kybernetes.api.validation import field as f

_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_ROOT_KEEP = ("apiVersion", "kind", "metadata")
_HOSTNAME_RE = re.compile(
    r"^[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$"
)
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
_DURATION_RE = re.compile(r"^([0-9]*(\.[0-9]*)?(ns|us|µs|ms|s|m|h|d|w))+$")
_MAC_RE = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}([0-9A-Fa-f]{2})$")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value == int(value) else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _num(v: float | int) -> str:
    return f._go_float(float(v))


def _check_format(fmt: str, value: str) -> bool:
    try:
        if fmt in ("date-time", "datetime"):
            datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return "T" in value or "t" in value
        if fmt == "date":
            datetime.date.fromisoformat(value)
            return len(value) == 10
        if fmt == "ipv4":
            return isinstance(ipaddress.ip_address(value), ipaddress.IPv4Address)
        if fmt == "ipv6":
            return isinstance(ipaddress.ip_address(value), ipaddress.IPv6Address)
        if fmt == "cidr":
            ipaddress.ip_network(value, strict=False)
            return "/" in value
        if fmt in ("uuid", "uuid3", "uuid4", "uuid5"):
            u = uuid.UUID(value)
            return fmt == "uuid" or u.version == int(fmt[-1])
        if fmt == "byte":
            base64.b64decode(value, validate=True)
            return True
        if fmt == "hostname":
            return bool(_HOSTNAME_RE.match(value)) and len(value) <= 255
        if fmt == "email":
            return bool(_EMAIL_RE.match(value))
        if fmt == "duration":
            return bool(_DURATION_RE.match(value))
        if fmt == "mac":
            return bool(_MAC_RE.match(value))
    except ValueError:
        return False
    return True


class _Validator:
    def __init__(self) -> None:
        self.causes: list[Cause] = []

    def _invalid(self, path: str, value: Any, msg: str) -> None:
        self.causes.append(f.invalid(path, value, msg))

    def validate(self, schema: dict[str, Any], value: Any, path: str) -> None:
        name = path or "."
        if value is None:
            if schema.get("nullable") is True:
                return
            # upstream prunes non-nullable nulls before validating; required checks see them absent
            return
        stype = schema.get("type")
        if schema.get("x-kubernetes-int-or-string") is True and not stype:
            if _json_type(value) not in ("integer", "string"):
                self.causes.append(
                    f.type_invalid(
                        path,
                        _json_type(value),
                        f"{name} in body must be of type integer,string: {f.go_quote(_json_type(value))}",
                    )
                )
                return
        elif isinstance(stype, str) and stype:
            actual = _json_type(value)
            ok = actual == stype or (stype == "number" and actual == "integer")
            if not ok:
                self.causes.append(
                    f.type_invalid(
                        path, actual, f"{name} in body must be of type {stype}: {f.go_quote(actual)}"
                    )
                )
                return
        for sub in schema.get("allOf") or []:
            if isinstance(sub, dict):
                self.validate(sub, value, path)
        for key, text in (
            ("anyOf", "must validate at least one schema (anyOf)"),
            ("oneOf", "must validate one and only one schema (oneOf)"),
        ):
            alts = [s for s in schema.get(key) or [] if isinstance(s, dict)]
            if alts:
                passing = 0
                for alt in alts:
                    probe = _Validator()
                    probe.validate(alt, value, path)
                    passing += not probe.causes
                if (key == "anyOf" and passing == 0) or (key == "oneOf" and passing != 1):
                    self._invalid(path, "", f"{name} {text}")
        if isinstance(schema.get("not"), dict):
            probe = _Validator()
            probe.validate(schema["not"], value, path)
            if not probe.causes:
                self._invalid(path, "", f"{name} in body must not validate the schema (not)")
        enum = schema.get("enum")
        if isinstance(enum, list) and value not in enum:
            supported = [e if isinstance(e, str) else json.dumps(e) for e in enum]
            self.causes.append(f.not_supported(path, value, supported))
        if isinstance(value, str):
            self._string(schema, value, path, name)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            self._number(schema, value, path, name)
        elif isinstance(value, list):
            self._array(schema, value, path, name)
        elif isinstance(value, dict):
            self._object(schema, value, path, name)

    def _string(self, schema: dict[str, Any], value: str, path: str, name: str) -> None:
        max_len, min_len = schema.get("maxLength"), schema.get("minLength")
        length = len(value)
        if isinstance(max_len, int) and length > max_len:
            self.causes.append(f.too_long(path, max_len))
        if isinstance(min_len, int) and length < min_len:
            self._invalid(path, value, f"{name} in body should be at least {min_len} chars long")
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            try:
                if not re.search(pattern, value):
                    self._invalid(path, value, f"{name} in body should match '{pattern}'")
            except re.error:
                pass
        fmt = schema.get("format")
        if isinstance(fmt, str) and fmt and not _check_format(fmt, value):
            self.causes.append(
                f.type_invalid(path, value, f"{name} in body must be of type {fmt}: {f.go_quote(value)}")
            )

    def _number(self, schema: dict[str, Any], value: float, path: str, name: str) -> None:
        lo, hi = schema.get("minimum"), schema.get("maximum")
        if isinstance(lo, int | float):
            if schema.get("exclusiveMinimum") is True and value <= lo:
                self._invalid(path, value, f"{name} in body should be greater than {_num(lo)}")
            elif value < lo:
                self._invalid(path, value, f"{name} in body should be greater than or equal to {_num(lo)}")
        if isinstance(hi, int | float):
            if schema.get("exclusiveMaximum") is True and value >= hi:
                self._invalid(path, value, f"{name} in body should be less than {_num(hi)}")
            elif value > hi:
                self._invalid(path, value, f"{name} in body should be less than or equal to {_num(hi)}")
        mult = schema.get("multipleOf")
        if isinstance(mult, int | float) and mult > 0 and (value / mult) != int(value / mult):
            self._invalid(path, value, f"{name} in body should be a multiple of {_num(mult)}")

    def _array(self, schema: dict[str, Any], value: list[Any], path: str, name: str) -> None:
        max_items, min_items = schema.get("maxItems"), schema.get("minItems")
        if isinstance(max_items, int) and len(value) > max_items:
            self.causes.append(f.too_many(path, len(value), max_items))
        if isinstance(min_items, int) and len(value) < min_items:
            self._invalid(path, len(value), f"{name} in body should have at least {min_items} items")
        if schema.get("x-kubernetes-list-type") == "set":
            seen: list[Any] = []
            for i, item in enumerate(value):
                if item in seen:
                    self.causes.append(f.duplicate(f.index(path, i), item))
                seen.append(item)
        elif schema.get("x-kubernetes-list-type") == "map":
            keys = schema.get("x-kubernetes-list-map-keys") or []
            seen_keys: list[Any] = []
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    k = [item.get(x) for x in keys]
                    if k in seen_keys:
                        dup = {x: item.get(x) for x in keys}
                        self.causes.append(f.duplicate(f.index(path, i), dup))
                    seen_keys.append(k)
        items = schema.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                self.validate(items, item, f.index(path, i))

    def _object(self, schema: dict[str, Any], value: dict[str, Any], path: str, name: str) -> None:
        max_p, min_p = schema.get("maxProperties"), schema.get("minProperties")
        if isinstance(max_p, int) and len(value) > max_p:
            self.causes.append(f.too_many(path, len(value), max_p))
        if isinstance(min_p, int) and len(value) < min_p:
            self._invalid(path, len(value), f"{name} in body should have at least {min_p} properties")
        for req in schema.get("required") or []:
            if value.get(req) is None:
                self.causes.append(f.required(f.child(path, req)))
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for k, v in value.items():
            if not path and k in _ROOT_KEEP and not (isinstance(props, dict) and k in props):
                continue
            child_path = f.child(path, k)
            if isinstance(props, dict) and isinstance(props.get(k), dict):
                if not path and k == "metadata":
                    self._metadata(props[k], v)
                else:
                    self.validate(props[k], v, child_path)
            elif isinstance(extra, dict):
                self.validate(extra, v, child_path)

    def _metadata(self, schema: dict[str, Any], value: Any) -> None:
        if not isinstance(value, dict):
            return
        sub = _Validator()
        props = schema.get("properties") or {}
        for k in ("name", "generateName"):
            if isinstance(props.get(k), dict) and isinstance(value.get(k), str):
                sub.validate(props[k], value[k], f.child("metadata", k))
        self.causes += sub.causes


def validate_custom(obj: dict[str, Any], openapi_v3_schema: dict[str, Any]) -> list[Cause]:
    """Causes for ``obj`` (a custom resource) against its version's ``openAPIV3Schema``."""
    v = _Validator()
    v.validate(openapi_v3_schema, obj, "")
    return f.dedupe(v.causes)


def _preserves(schema: dict[str, Any]) -> bool:
    return schema.get("x-kubernetes-preserve-unknown-fields") is True


def _walk_unknown(
    schema: dict[str, Any], value: Any, path: str, out: list[str] | None, *, root: bool = False
) -> Any:
    """Prune (returning the pruned value) and, if ``out`` is given, record unknown paths."""
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        embedded = schema.get("x-kubernetes-embedded-resource") is True
        result: dict[str, Any] = {}
        for k, v in value.items():
            child = f"{path}.{k}" if path else k
            if (
                isinstance(props, dict)
                and isinstance(props.get(k), dict)
                and not ((root or embedded) and k == "metadata")
            ):
                result[k] = _walk_unknown(props[k], v, child, out)
            elif (root or embedded) and k in _ROOT_KEEP:
                result[k] = _prune_meta(v, child, out) if k == "metadata" else v
            elif isinstance(extra, dict):
                result[k] = _walk_unknown(extra, v, child, out)
            elif extra is True or _preserves(schema):
                result[k] = v
            else:
                if out is not None:
                    out.append(f'unknown field "{child}"')
        return result
    if isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            return [_walk_unknown(items, v, f"{path}[{i}]", out) for i, v in enumerate(value)]
        return value
    return value


def _prune_meta(value: Any, path: str, out: list[str] | None) -> Any:
    if not isinstance(value, dict):
        return value
    meta_schema = schemas.get(_OBJECT_META) or {}
    props = meta_schema.get("properties") or {}
    result = {}
    for k, v in value.items():
        if k in props:
            result[k] = v
        elif out is not None:
            out.append(f'unknown field "{path}.{k}"')
    return result


def prune_unknown(obj: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` without fields the structural schema does not specify."""
    pruned = _walk_unknown(schema, copy.deepcopy(obj), "", None, root=True)
    return pruned if isinstance(pruned, dict) else {}


def unknown_custom_fields(obj: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """``unknown field "spec.foo"`` for every field pruning would drop."""
    out: list[str] = []
    _walk_unknown(schema, obj, "", out, root=True)
    return out


def apply_custom_defaults(obj: Any, schema: dict[str, Any]) -> Any:
    """Apply ``default`` values of the structural schema in place (and return ``obj``)."""
    if isinstance(obj, dict):
        props = schema.get("properties")
        if isinstance(props, dict):
            for k, sub in props.items():
                if isinstance(sub, dict) and "default" in sub and obj.get(k) is None:
                    obj[k] = copy.deepcopy(sub["default"])
            for k, v in obj.items():
                if isinstance(props.get(k), dict):
                    apply_custom_defaults(v, props[k])
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for v in obj.values():
                apply_custom_defaults(v, extra)
    elif isinstance(obj, list) and isinstance(schema.get("items"), dict):
        for v in obj:
            apply_custom_defaults(v, schema["items"])
    return obj
