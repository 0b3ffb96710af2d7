"""Field sets: which fields of an object a manager owns, and their ``FieldsV1`` wire format.

A field set is a ``frozenset`` of paths; a path is a tuple of serialized path elements exactly as
``FieldsV1`` spells them: ``f:<field>``, ``k:<json of the key fields>`` (items of map-lists),
``v:<json>`` (items of sets) and ``i:<n>``. Only *members* are stored, so union, difference and
intersection are plain set operations (structured-merge-diff's ``fieldpath.Set`` without the tree).
``to_fields_v1`` builds the nested form, where ``"."`` marks a member that also has children.

``object_fields`` is structured-merge-diff's ``ToFieldSet``: scalars, atomic lists/maps, list items,
empty or null values and entries of maps without declared fields are members; struct fields that hold
non-empty values are only containers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from kybernetes.api.patch import _schema as sch
from kybernetes.api.patch._common import PatchError
from kybernetes.api.patch._schema import ListInfo, Schema

Path = tuple[str, ...]
FieldSet = frozenset[Path]

EMPTY: FieldSet = frozenset()


def _dumps(value: Any, *, sort_keys: bool = False) -> str:
    # Go's encoder escapes <, > and & in strings; keep the same spelling so keys compare equal.
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def field_pe(name: str) -> str:
    return "f:" + name


def key_pe(fields: dict[str, Any]) -> str:
    return "k:" + _dumps(fields, sort_keys=True)


def value_pe(value: Any) -> str:
    return "v:" + _dumps(value, sort_keys=True)


def list_item_pe(item: Any, info: ListInfo) -> str:
    """The path element of an item of a ``map`` or ``set`` list (``listItemToPathElement``)."""
    if info.kind == "map":
        if not isinstance(item, dict):
            if item is None:
                raise PatchError("associative list with keys may not have a null element")
            raise PatchError("associative list with keys may not have non-map elements")
        fields: dict[str, Any] = {}
        for key in info.keys:
            if key in item:
                fields[key] = item[key]
            else:
                default = info.key_default(key)
                if default is not None:
                    fields[key] = default
        if not fields:
            raise PatchError(
                "associative list with keys has an element that omits all key fields "
                f"{_dumps(list(info.keys))} (and doesn't have default values for any key fields)"
            )
        return key_pe(fields)
    if isinstance(item, dict):
        raise PatchError("associative list without keys has an element that's a map type")
    if isinstance(item, list):
        raise PatchError("not supported: associative list with lists as elements")
    if item is None:
        raise PatchError("associative list without keys has an element that's an explicit null")
    return value_pe(item)


def child_schema(schema: Schema, pe: str) -> Schema:
    """The schema below path element ``pe``."""
    if pe.startswith("f:"):
        return sch.child(schema, pe[2:])
    return sch.items(schema)


# -- building from objects ----------------------------------------------------------------------


def object_fields(obj: Any, schema: Schema) -> FieldSet:
    """All member paths of ``obj`` (``ToFieldSet``); raises ``PatchError`` for invalid list items."""
    out: set[Path] = set()
    _walk(obj, schema, (), out)
    return frozenset(out)


def _walk(value: Any, schema: Schema, path: Path, out: set[Path]) -> None:
    if isinstance(value, dict):
        if sch.map_is_atomic(schema):
            out.add(path)
            return
        for key, child_value in value.items():
            child_path = (*path, field_pe(key))
            _walk(child_value, sch.child(schema, key), child_path, out)
            if child_value is None or child_value == {} or not sch.declares(schema, key):
                out.add(child_path)
        return
    if isinstance(value, list):
        info = sch.list_info(schema)
        if info.kind == "atomic":
            out.add(path)
            return
        seen: dict[str, int] = {}
        pes = [list_item_pe(item, info) for item in value]
        for pe in pes:
            seen[pe] = seen.get(pe, 0) + 1
        for pe, item in zip(pes, value, strict=True):
            item_path = (*path, pe)
            if seen[pe] == 1:
                _walk(item, info.item_schema, item_path, out)
            out.add(item_path)
        return
    out.add(path)


# -- set helpers --------------------------------------------------------------------------------


def ensure_named_fields(fields: Iterable[Path], schema: Schema) -> FieldSet:
    """Add every ancestor that is a declared struct field (``EnsureNamedFieldsAreMembers``)."""
    out = set(fields)
    for path in list(out):
        node = schema
        for i, pe in enumerate(path[:-1]):
            if pe.startswith("f:") and sch.declares(node, pe[2:]):
                out.add(path[: i + 1])
            node = child_schema(node, pe)
    return frozenset(out)


def without_prefixes(fields: Iterable[Path], prefixes: Iterable[Path]) -> FieldSet:
    """Drop every path equal to or below one of ``prefixes`` (``RecursiveDifference``)."""
    prefixes = tuple(prefixes)
    return frozenset(p for p in fields if not any(p[: len(q)] == q for q in prefixes))


# -- FieldsV1 -----------------------------------------------------------------------------------


def _rank(pe: str) -> tuple[int, str]:
    return ({"f": 0, "k": 1, "v": 2, "i": 3}.get(pe[:1], 4), pe)


def to_fields_v1(fields: Iterable[Path]) -> dict[str, Any]:
    """The nested ``FieldsV1`` JSON object of a field set, keys sorted like upstream."""
    tree: dict[str, Any] = {}
    members: set[Path] = set(fields)
    for path in members:
        node = tree
        for pe in path:
            node = node.setdefault(pe, {})
    return _emit(tree, (), members)


def _emit(tree: dict[str, Any], path: Path, members: set[Path]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if path and tree and path in members:
        out["."] = {}
    for pe in sorted(tree, key=_rank):
        out[pe] = _emit(tree[pe], (*path, pe), members)
    return out


def from_fields_v1(data: Any) -> FieldSet:
    """Parse ``FieldsV1``; raises ``PatchError`` when malformed. Key and value elements are normalized."""
    if not isinstance(data, dict):
        raise PatchError("FieldsV1 must be a JSON object")
    out: set[Path] = set()
    _parse(data, (), out)
    return frozenset(out)


def _parse(node: dict[str, Any], path: Path, out: set[Path]) -> None:
    for raw, sub in node.items():
        if raw == ".":
            if path:
                out.add(path)
            continue
        if not isinstance(sub, dict):
            raise PatchError(f"FieldsV1 entry {raw!r} must be an object")
        pe = _normalize_pe(raw)
        child_path = (*path, pe)
        if not sub:
            out.add(child_path)
        else:
            _parse(sub, child_path, out)


def _normalize_pe(raw: str) -> str:
    if len(raw) < 2 or raw[1] != ":":
        raise PatchError(f"invalid path element {raw!r}")
    kind, body = raw[0], raw[2:]
    if kind == "f":
        return raw
    if kind == "i":
        if not body.lstrip("-").isdigit():
            raise PatchError(f"invalid index path element {raw!r}")
        return raw
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise PatchError(f"invalid path element {raw!r}") from exc
    if kind == "k" and isinstance(value, dict):
        return key_pe(value)
    if kind == "v":
        return value_pe(value)
    raise PatchError(f"invalid path element {raw!r}")


# -- display ------------------------------------------------------------------------------------


def _to_string(value: Any) -> str:
    """structured-merge-diff's ``value.ToString``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(_to_string(v) for v in value) + "]"
    if isinstance(value, dict):
        return "".join(f"{k}={_to_string(v)}" for k, v in value.items())
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def path_string(path: Path) -> str:
    """``.spec.containers[name="web"].image`` — how upstream prints a path in conflicts."""
    parts = []
    for pe in path:
        kind, body = pe[0], pe[2:]
        if kind == "f":
            parts.append("." + body)
        elif kind == "k":
            fields = json.loads(body)
            parts.append("[" + ",".join(f"{k}={_to_string(v)}" for k, v in fields.items()) + "]")
        elif kind == "v":
            parts.append("[=" + _to_string(json.loads(body)) + "]")
        else:
            parts.append("[" + body + "]")
    return "".join(parts)


def sort_paths(fields: Iterable[Path]) -> list[Path]:
    return sorted(fields, key=lambda p: [_rank(pe) for pe in p])
