"""Schema-aware operations on objects for server-side apply: merge, compare and remove.

These mirror structured-merge-diff's ``typed`` package over plain JSON values. Maps merge key by key;
lists follow their list type (``map`` lists by their keys, ``set`` lists as unions of scalars,
``atomic`` lists and maps as a whole); a value whose shape does not match its schema is a leaf.
``MISSING`` stands for an absent value (as opposed to an explicit ``null``).
"""

from __future__ import annotations

from typing import Any, Final

from kybernetes.api.patch import _schema as sch
from kybernetes.api.patch._common import PatchError, deep_copy, json_equal
from kybernetes.api.patch._schema import ListInfo, Schema
from kybernetes.api.patch.fieldset import Path, field_pe, list_item_pe, path_string


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


def _copy_config(value: Any) -> Any:
    """A copy of an applied value with ``null`` map entries dropped (they unset, never store)."""
    if isinstance(value, dict):
        return {k: _copy_config(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_copy_config(v) for v in value]
    return value


def _empty(value: Any) -> bool:
    return value is MISSING or value is None or value == {} or value == []


def _granular_list(schema: Schema, *values: Any) -> ListInfo | None:
    """The list info when the values are lists that merge item by item, else ``None`` (a leaf)."""
    if not any(isinstance(v, list) for v in values):
        return None
    if not all(isinstance(v, list) or v is MISSING or v is None for v in values):
        return None
    info = sch.list_info(schema)
    return None if info.kind == "atomic" else info


def _granular_map(schema: Schema, *values: Any) -> bool:
    if not any(isinstance(v, dict) for v in values):
        return False
    if not all(isinstance(v, dict) or v is MISSING or v is None for v in values):
        return False
    return not sch.map_is_atomic(schema)


# -- merge --------------------------------------------------------------------------------------


def merge(lhs: Any, rhs: Any, schema: Schema, path: Path = ()) -> Any:
    """Merge ``rhs`` (applied configuration) into ``lhs`` (live); returns a new value."""
    if rhs is MISSING:
        return deep_copy(lhs)
    if lhs is MISSING or (_empty(lhs) and _empty(rhs)):
        _validate(rhs, schema, path)
        return _copy_config(rhs)
    if _granular_map(schema, lhs, rhs):
        out = deep_copy(lhs) if isinstance(lhs, dict) else {}
        for key, value in rhs.items() if isinstance(rhs, dict) else ():
            merged = merge(out.get(key, MISSING), value, sch.child(schema, key), (*path, field_pe(key)))
            if merged is None:
                out.pop(key, None)
            else:
                out[key] = merged
        return out
    info = _granular_list(schema, lhs, rhs)
    if info is not None:
        return _merge_items(
            lhs if isinstance(lhs, list) else [], rhs if isinstance(rhs, list) else [], info, path
        )
    _validate(rhs, schema, path)
    return _copy_config(rhs)


def _validate(value: Any, schema: Schema, path: Path) -> None:
    """Reject configurations that cannot be typed: bad list items, duplicate keys."""
    if isinstance(value, dict) and not sch.map_is_atomic(schema):
        for key, child in value.items():
            _validate(child, sch.child(schema, key), (*path, field_pe(key)))
    elif isinstance(value, list):
        info = sch.list_info(schema)
        if info.kind != "atomic":
            _item_pes(value, info, path, allow_duplicates=False)
            for item in value:
                _validate(item, info.item_schema, path)


def _item_pes(items: list[Any], info: ListInfo, path: Path, *, allow_duplicates: bool) -> list[str]:
    pes = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        try:
            pe = list_item_pe(item, info)
        except PatchError as exc:
            raise PatchError(f"{path_string(path)}: element {index}: {exc.message}") from exc
        if pe in seen and not allow_duplicates:
            raise PatchError(f"{path_string(path)}: duplicate entries for key {path_string((pe,))}")
        seen.add(pe)
        pes.append(pe)
    return pes


def _merge_items(lhs: list[Any], rhs: list[Any], info: ListInfo, path: Path) -> list[Any]:
    rpes = _item_pes(rhs, info, path, allow_duplicates=False)
    lpes = _item_pes(lhs, info, path, allow_duplicates=True)
    observed_r = dict(zip(rpes, rhs, strict=True))
    observed_l: dict[str, Any] = {}
    for pe, item in zip(lpes, lhs, strict=True):
        observed_l[pe] = None if pe in observed_l else item
    shared = [pe for pe in rpes if pe in observed_l]
    shared_at = 0
    merged_r: set[str] = set()
    out: list[Any] = []

    def next_shared() -> str | None:
        return shared[shared_at] if shared_at < len(shared) else None

    def take(pe: str, left: Any, right: Any) -> None:
        value = merge(left, right, info.item_schema, (*path, pe))
        if value is not MISSING:
            out.append(value)

    li = ri = 0
    while li < len(lpes) or ri < len(rpes):
        if li < len(lpes) and ri < len(rpes):
            pe = lpes[li]
            if pe == rpes[ri]:
                merged_r.add(pe)
                take(pe, observed_l.get(pe, MISSING), observed_r[pe])
                li, ri = li + 1, ri + 1
                shared_at += 1
                continue
            upcoming = next_shared()
            if pe in observed_r and upcoming is not None and upcoming != pe:
                li += 1
                continue
        if li < len(lpes):
            pe = lpes[li]
            if pe not in observed_r:
                out.append(deep_copy(lhs[li]))
                li += 1
                continue
            if pe in merged_r:
                li += 1
        if ri < len(rpes):
            pe = rpes[ri]
            merged_r.add(pe)
            take(pe, observed_l.get(pe, MISSING), observed_r[pe])
            ri += 1
            if next_shared() == pe:
                shared_at += 1
    return out


# -- compare ------------------------------------------------------------------------------------


class Comparison:
    """Paths added, modified and removed going from one object to another."""

    def __init__(self) -> None:
        self.added: set[Path] = set()
        self.modified: set[Path] = set()
        self.removed: set[Path] = set()


def compare(lhs: Any, rhs: Any, schema: Schema) -> Comparison:
    result = Comparison()
    _compare(lhs, rhs, schema, (), result)
    return result


def _compare(lhs: Any, rhs: Any, schema: Schema, path: Path, acc: Comparison) -> None:
    if lhs is MISSING and rhs is MISSING:
        return
    leaf = _empty(lhs) and _empty(rhs)
    if not leaf and _granular_map(schema, lhs, rhs):
        left = lhs if isinstance(lhs, dict) else {}
        right = rhs if isinstance(rhs, dict) else {}
        for key in {**left, **right}:
            child_path = (*path, field_pe(key))
            _compare(left.get(key, MISSING), right.get(key, MISSING), sch.child(schema, key), child_path, acc)
    elif not leaf and (info := _granular_list(schema, lhs, rhs)) is not None:
        _compare_items(
            lhs if isinstance(lhs, list) else [], rhs if isinstance(rhs, list) else [], info, path, acc
        )
    else:
        if lhs is MISSING:
            acc.added.add(path)
        elif rhs is MISSING:
            acc.removed.add(path)
        elif not json_equal(lhs, rhs):
            acc.modified.add(path)
        return
    if path and lhs is MISSING:
        acc.added.add(path)
    elif path and rhs is MISSING:
        acc.removed.add(path)


def _compare_items(lhs: list[Any], rhs: list[Any], info: ListInfo, path: Path, acc: Comparison) -> None:
    left: dict[str, list[Any]] = {}
    right: dict[str, list[Any]] = {}
    for pe, item in zip(_item_pes(lhs, info, path, allow_duplicates=True), lhs, strict=True):
        left.setdefault(pe, []).append(item)
    for pe, item in zip(_item_pes(rhs, info, path, allow_duplicates=True), rhs, strict=True):
        right.setdefault(pe, []).append(item)
    for pe in {**left, **right}:
        ls, rs = left.get(pe, []), right.get(pe, [])
        item_path = (*path, pe)
        if len(ls) <= 1 and len(rs) <= 1:
            _compare(ls[0] if ls else MISSING, rs[0] if rs else MISSING, info.item_schema, item_path, acc)
        elif len(ls) >= 2 and len(rs) >= 2:
            if not json_equal(ls, rs):
                acc.modified.add(item_path)
        elif len(ls) >= 2:
            if rs:
                _compare(MISSING, rs[0], info.item_schema, item_path, acc)
            acc.removed.add(item_path)
        else:
            if ls:
                _compare(ls[0], MISSING, info.item_schema, item_path, acc)
            acc.added.add(item_path)


# -- remove -------------------------------------------------------------------------------------


def remove(value: Any, paths: set[Path], schema: Schema) -> Any:
    """``value`` without the given member paths (and everything below them); ``MISSING`` if emptied."""
    if not paths:
        return value
    if isinstance(value, dict) and value and not sch.map_is_atomic(schema):
        out: dict[str, Any] = {}
        for key, child in value.items():
            pe = field_pe(key)
            if (pe,) in paths:
                continue
            below = {p[1:] for p in paths if len(p) > 1 and p[0] == pe}
            if below:
                child = remove(child, below, sch.child(schema, key))
                if child is MISSING:
                    continue
            out[key] = child
        return out if out else MISSING
    if isinstance(value, list) and value:
        info = sch.list_info(schema)
        if info.kind == "atomic":
            return value
        items: list[Any] = []
        for pe, item in zip(_item_pes(value, info, (), allow_duplicates=True), value, strict=True):
            if (pe,) in paths:
                continue
            below = {p[1:] for p in paths if len(p) > 1 and p[0] == pe}
            if below:
                item = remove(item, below, info.item_schema)
                if item is MISSING:
                    continue
            items.append(item)
        return items if items else MISSING
    return value


def value_at(obj: Any, path: Path, schema: Schema) -> tuple[Any, Schema]:
    """The value and schema at ``path`` (``MISSING`` if absent)."""
    node: Any = obj
    for pe in path:
        if pe.startswith("f:"):
            if not isinstance(node, dict) or pe[2:] not in node:
                return MISSING, None
            node, schema = node[pe[2:]], sch.child(schema, pe[2:])
        else:
            if not isinstance(node, list):
                return MISSING, None
            info = sch.list_info(schema)
            match = MISSING
            for item in node:
                try:
                    if list_item_pe(item, info) == pe:
                        match = item
                        break
                except PatchError:
                    continue
            node, schema = match, info.item_schema
            if node is MISSING:
                return MISSING, None
    return node, schema
