"""Schema navigation for the patch engines: patch strategies, list types and map types of a field.

Works on the (unresolved) property schemas of ``kybernetes.api.schemas``: the ``x-kubernetes-*``
extensions sit on the property node next to its ``$ref``/``items``, sometimes on the referenced
definition (``x-kubernetes-map-type`` of ``LabelSelector``), so both are consulted. A ``None`` schema
means "unknown": maps merge field by field, lists are atomic (structured-merge-diff's deduced type).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from kybernetes.api import schemas

Schema = dict[str, Any] | None

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

# Defaults of list-map key fields that upstream's OpenAPI carries (``+default``) but the bundled
# JSON schemas do not: without them ``ports`` items applied without ``protocol`` would not match.
KEY_DEFAULTS: dict[tuple[str, str], Any] = {
    ("io.k8s.api.core.v1.ContainerPort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.ServicePort", "protocol"): "TCP",
}

# Root used for objects without a known schema (custom resources): only ``metadata`` is typed.
GENERIC_ROOT: dict[str, Any] = {
    "type": "object",
    "properties": {"metadata": {"$ref": schemas.REF_PREFIX + OBJECT_META}},
    "x-kubernetes-preserve-unknown-fields": True,
}


def root_schema(schema: str | dict[str, Any] | None) -> dict[str, Any]:
    """The root schema for a definition name, a literal schema (e.g. a CRD's), or ``None``."""
    if isinstance(schema, dict):
        return schema
    if isinstance(schema, str) and schemas.get(schema) is not None:
        return _ref_root(schema)
    return GENERIC_ROOT


@functools.cache
def _ref_root(name: str) -> dict[str, Any]:
    # One long-lived node per definition, so the navigation caches below stay small and valid.
    return {"$ref": schemas.REF_PREFIX + name}


# Navigation is pure and schemas are immutable: memoise it by node identity. The cache holds the
# node itself, so its id cannot be reused by another object while the entry exists.
_CHILD_CACHE: dict[tuple[int, str], tuple[Any, Schema]] = {}
_CHILD_CACHE_LIMIT = 100_000


def known(schema_name: str | None) -> bool:
    return isinstance(schema_name, str) and schemas.get(schema_name) is not None


def _resolved(node: Schema) -> dict[str, Any]:
    return schemas.resolve(node) or {}


def extension(node: Schema, name: str) -> Any:
    """An ``x-kubernetes-*`` extension from the property node, else from what it references."""
    if not node:
        return None
    if name in node:
        return node[name]
    return _resolved(node).get(name)


def child(node: Schema, key: str) -> Schema:
    """The schema of map entry / struct field ``key`` (``None`` if unknown)."""
    if not node:
        return None
    cache_key = (id(node), key)
    hit = _CHILD_CACHE.get(cache_key)
    if hit is not None and hit[0] is node:
        return hit[1]
    prop = schemas.property_schema(node, key)
    result = prop if prop is not None else schemas.additional_properties_schema(node)
    if len(_CHILD_CACHE) >= _CHILD_CACHE_LIMIT:
        _CHILD_CACHE.clear()
    _CHILD_CACHE[cache_key] = (node, result)
    return result


def items(node: Schema) -> Schema:
    return schemas.items_schema(node) if node else None


def declares(node: Schema, key: str) -> bool:
    """Whether ``key`` is a declared field of a struct schema."""
    props = _resolved(node).get("properties") if node else None
    return isinstance(props, dict) and key in props


def is_struct(node: Schema) -> bool:
    return bool(node) and isinstance(_resolved(node).get("properties"), dict)


def is_required(node: Schema, key: str) -> bool:
    required = _resolved(node).get("required") if node else None
    return isinstance(required, list) and key in required


def strategies(node: Schema) -> list[str]:
    raw = extension(node, "x-kubernetes-patch-strategy")
    if not isinstance(raw, str) or not raw:
        return []
    return raw.split(",")


def merge_key(node: Schema) -> str:
    raw = extension(node, "x-kubernetes-patch-merge-key")
    return raw if isinstance(raw, str) else ""


def map_is_atomic(node: Schema) -> bool:
    return extension(node, "x-kubernetes-map-type") == "atomic"


@dataclass(frozen=True)
class ListInfo:
    """How server-side apply treats a list: ``map`` (keyed), ``set`` (of scalars) or ``atomic``."""

    kind: str
    keys: tuple[str, ...] = ()
    item_schema: Schema = None

    def key_default(self, key: str) -> Any:
        ref = (self.item_schema or {}).get("$ref")
        if isinstance(ref, str):
            found = KEY_DEFAULTS.get((schemas.ref_name(ref), key))
            if found is not None:
                return found
        default = (_resolved(child(self.item_schema, key)) if self.item_schema else {}).get("default")
        return default


def list_info(node: Schema) -> ListInfo:
    if not node:
        return ListInfo("atomic")
    item_schema = items(node)
    list_type = extension(node, "x-kubernetes-list-type")
    keys = extension(node, "x-kubernetes-list-map-keys")
    if list_type == "map" and isinstance(keys, list) and keys:
        return ListInfo("map", tuple(str(k) for k in keys), item_schema)
    if list_type == "set":
        return ListInfo("set", (), item_schema)
    if list_type == "atomic":
        return ListInfo("atomic", (), item_schema)
    if "merge" in strategies(node):
        key = merge_key(node)
        if key:
            return ListInfo("map", (key,), item_schema)
        return ListInfo("set", (), item_schema)
    return ListInfo("atomic", (), item_schema)


@functools.cache
def _gvk_index() -> dict[tuple[str, str], str]:
    index: dict[tuple[str, str], str] = {}
    for name, definition in schemas.definitions().items():
        for gvk in definition.get("x-kubernetes-group-version-kind") or []:
            if not isinstance(gvk, dict):
                continue
            group, version, kind = gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", "")
            api_version = f"{group}/{version}" if group else version
            index.setdefault((api_version, kind), name)
    return index


def schema_for(api_version: Any, kind: Any) -> str | None:
    """The definition name of a built-in ``apiVersion``/``kind`` (``None`` for custom resources)."""
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return None
    return _gvk_index().get((api_version, kind))
