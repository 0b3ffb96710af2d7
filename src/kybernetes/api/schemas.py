"""OpenAPI schemas of the built-in types, from ``kubernetes-validate``'s bundled v1.32 definitions.

Loaded lazily once per process. Definitions are keyed by their upstream names
(``io.k8s.api.core.v1.Pod``) and keep upstream's extensions (``x-kubernetes-patch-merge-key``,
``x-kubernetes-patch-strategy``, ``x-kubernetes-list-type``, ``x-kubernetes-list-map-keys``,
``x-kubernetes-group-version-kind``), which drive validation, strategic merge, apply, OpenAPI and
``kubectl explain``. Types are widened to admit ``null`` in this ("local") variant.
"""

from __future__ import annotations

import functools
import importlib.resources
from typing import Any

import orjson

SCHEMA_VERSION = "v1.32.0-local"
REF_PREFIX = "#/$defs/"


@functools.cache
def definitions() -> dict[str, dict[str, Any]]:
    """All definitions, name -> schema (``$ref`` values point at ``#/$defs/<name>``)."""
    root = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema" / SCHEMA_VERSION
    data = orjson.loads((root / "_definitions.json").read_bytes())
    return data["$defs"]


def ref_name(ref: str) -> str:
    """``#/$defs/io.k8s.api.core.v1.Pod`` -> ``io.k8s.api.core.v1.Pod``."""
    return ref[len(REF_PREFIX) :] if ref.startswith(REF_PREFIX) else ref.rsplit("/", 1)[-1]


def get(name: str) -> dict[str, Any] | None:
    return definitions().get(name)


def resolve(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """Follow ``$ref`` (also through a single-element ``allOf``) to the referenced definition."""
    seen = 0
    while schema is not None and seen < 16:
        seen += 1
        if "$ref" in schema:
            schema = definitions().get(ref_name(schema["$ref"]))
            continue
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict):
            schema = all_of[0]
            continue
        return schema
    return schema


def property_schema(schema: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
    """The (unresolved) schema of property ``name`` of an object schema, if declared."""
    resolved = resolve(schema)
    if not resolved:
        return None
    props = resolved.get("properties")
    if isinstance(props, dict):
        return props.get(name)
    return None


def items_schema(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    resolved = resolve(schema)
    if not resolved:
        return None
    items = resolved.get("items")
    return items if isinstance(items, dict) else None


def additional_properties_schema(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    resolved = resolve(schema)
    if not resolved:
        return None
    extra = resolved.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def types_of(schema: dict[str, Any] | None) -> set[str]:
    """The JSON types a schema admits, ``null`` excluded (``{"object"}``, ``{"string"}``, ...)."""
    resolved = resolve(schema)
    if not resolved:
        return set()
    t = resolved.get("type")
    if isinstance(t, str):
        out = {t}
    elif isinstance(t, list):
        out = {x for x in t if isinstance(x, str)}
    else:
        out = set()
        for alt in resolved.get("oneOf", []) or []:
            out |= types_of(alt)
    out.discard("null")
    return out
