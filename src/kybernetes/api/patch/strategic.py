"""Strategic merge patch (``application/strategic-merge-patch+json``), driven by OpenAPI metadata.

Semantics follow upstream's ``k8s.io/apimachinery/pkg/util/strategicpatch`` (``mergeMap`` with
``MergeParallelList`` and ``IgnoreUnmatchedNulls``, the options the apiserver uses):

- maps merge recursively, ``null`` deletes a key; fields with strategy ``replace`` are replaced;
- lists with strategy ``merge`` merge items by ``x-kubernetes-patch-merge-key`` (lists of maps) or
  union (lists of scalars); other lists are replaced;
- directives: ``$patch: replace|delete`` in maps, ``$patch: replace|delete`` items in merging lists,
  ``$deleteFromPrimitiveList/<f>``, ``$setElementOrder/<f>`` (ordering: element order list, then patch
  order, then live order), ``$retainKeys`` (keys not listed are cleared).

Errors: the directive-format errors upstream reports as 400 are 400 here, ``ErrNoListOfLists`` and
retainKeys mismatches are 422 with upstream's generic message; the remaining engine errors (missing
merge key, mixed element types...) surface from upstream as 500s, here as 422 with the engine's message.
Custom resources have no patch metadata: upstream refuses the content type (415, see
``strategic_supported``); called with ``schema_name=None`` this module merges maps and replaces lists.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.errors import bad_request
from kybernetes.api.patch import _schema as sch
from kybernetes.api.patch._common import (
    REJECTED,
    PatchError,
    deep_copy,
    json_equal,
    json_kind,
    unprocessable,
    value_key,
)
from kybernetes.api.patch._schema import Schema

DIRECTIVE = "$patch"
REPLACE = "replace"
DELETE = "delete"
MERGE = "merge"
RETAIN_KEYS = "$retainKeys"
RETAIN_KEYS_STRATEGY = "retainKeys"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"
SET_ELEMENT_ORDER = "$setElementOrder"

ERR_BAD_JSON_DOC = "invalid JSON document"
ERR_NO_LIST_OF_LISTS = "lists of lists are not supported"
ERR_PRIMITIVE_LIST = "invalid patch format of primitive list"
ERR_RETAIN_KEYS = "invalid patch format of retainKeys"
ERR_SET_ELEMENT_ORDER = "invalid patch format of setElementOrder list"
ERR_UNSUPPORTED = "strategic merge patch format is not supported"


def strategic_supported(schema_name: str | None) -> bool:
    """Whether strategic merge patch is offered for a type (built-ins yes, custom resources no)."""
    return sch.known(schema_name)


def apply_strategic_merge_patch(
    obj: dict[str, Any], patch: Any, schema_name: str | dict[str, Any] | None
) -> dict[str, Any]:
    """Apply a strategic merge patch to a copy of ``obj`` using the schema's patch metadata."""
    if not isinstance(patch, dict) or not isinstance(obj, dict):
        raise bad_request(ERR_BAD_JSON_DOC)
    root = sch.root_schema(schema_name)
    try:
        return _merge_map(deep_copy(obj), deep_copy(patch), root)
    except PatchError as exc:
        raise exc.to_status() from exc
    except RecursionError as exc:
        raise unprocessable() from exc


# -- errors -----------------------------------------------------------------------------------


def _bad(message: str) -> PatchError:
    return PatchError(message, 400)


def _rejected() -> PatchError:
    return PatchError(REJECTED, 422)


def _no_merge_key(item: Any, key: str) -> PatchError:
    return PatchError(f"map: {_go(item)} does not contain declared merge key: {key}")


def _bad_arg(expected: str, actual: Any) -> PatchError:
    return PatchError(f"expected a {expected}, but received a {json_kind(actual)}")


def _go(value: Any) -> str:
    """A Go-``%v``-like rendering for error messages."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- schema metadata ----------------------------------------------------------------------------


def _strategy(node: Schema) -> str:
    """The non-retainKeys patch strategy of a field (``extractRetainKeysPatchStrategy``)."""
    found = sch.strategies(node)
    if len(found) <= 1:
        return "" if not found or found[0] == RETAIN_KEYS_STRATEGY else found[0]
    if len(found) == 2 and RETAIN_KEYS_STRATEGY in found:
        return found[1] if found[0] == RETAIN_KEYS_STRATEGY else found[0]
    raise PatchError(f"unexpected patch strategy: {found}")


# -- maps ---------------------------------------------------------------------------------------


def _merge_map(original: dict[str, Any], patch: dict[str, Any], schema: Schema) -> dict[str, Any]:
    if DIRECTIVE in patch:
        directive = patch[DIRECTIVE]
        if directive == REPLACE:
            del patch[DIRECTIVE]
            return patch
        if directive == DELETE:
            return {}
        raise PatchError(f"unknown patch type: {_go(directive)} in map: {_go(patch)}")

    _apply_retain_keys(original, patch)
    _merge_ordered_lists(original, patch, schema)

    for key, patch_value in list(patch.items()):
        is_delete_list = False
        if key.startswith(DELETE_FROM_PRIMITIVE_LIST):
            key = _extract_key(key, DELETE_FROM_PRIMITIVE_LIST)
            is_delete_list = True

        if patch_value is None:
            original.pop(key, None)
            continue

        if key not in original:
            if not is_delete_list:
                _store(original, key, patch_value)
            continue

        current = original[key]
        if json_kind(current) != json_kind(patch_value):
            if not is_delete_list:
                _store(original, key, patch_value)
            continue

        if isinstance(current, dict):
            field = sch.child(schema, key)
            if _strategy(field) == REPLACE:
                original[key] = patch_value
            else:
                original[key] = _merge_map(current, patch_value, field)
        elif isinstance(current, list):
            field = sch.child(schema, key)
            strategy = _strategy(field)
            if strategy == MERGE or is_delete_list:
                original[key] = _merge_list(
                    current, patch_value, sch.items(field), sch.merge_key(field), is_delete_list
                )
            else:
                original[key] = patch_value
        else:
            _store(original, key, patch_value)
    return original


def _store(original: dict[str, Any], key: str, patch_value: Any) -> None:
    """Take a patch value as is: nulls discarded, directives removed (``removeDirectives``)."""
    _discard_nulls(patch_value)
    value, keep = _remove_directives(patch_value)
    if keep:
        original[key] = value
    else:
        original.pop(key, None)


def _discard_nulls(value: Any) -> None:
    if isinstance(value, dict):
        for k in [k for k, v in value.items() if v is None]:
            del value[k]
        for v in value.values():
            _discard_nulls(v)
    elif isinstance(value, list):
        for v in value:
            _discard_nulls(v)


def _remove_directives(value: Any) -> tuple[Any, bool]:
    if isinstance(value, dict):
        if DIRECTIVE in value:
            return None, False
        for k in list(value):
            new, keep = _remove_directives(value[k])
            if keep:
                value[k] = new
            else:
                del value[k]
        return value, True
    if isinstance(value, list):
        out = []
        for v in value:
            new, keep = _remove_directives(v)
            if keep:
                out.append(new)
        return out, True
    return value, True


def _extract_key(key: str, prefix: str) -> str:
    head, sep, rest = key.partition("/")
    if not sep or head != prefix:
        if prefix == DELETE_FROM_PRIMITIVE_LIST:
            raise _bad(ERR_PRIMITIVE_LIST)
        raise _bad(ERR_SET_ELEMENT_ORDER)
    return rest


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    if RETAIN_KEYS not in patch:
        return
    retain = patch.pop(RETAIN_KEYS)
    if not isinstance(retain, list):
        raise _bad(ERR_RETAIN_KEYS)
    allowed = {value_key(v) for v in retain}
    for key, value in patch.items():
        if value is None or key.startswith(DELETE_FROM_PRIMITIVE_LIST) or key.startswith(SET_ELEMENT_ORDER):
            continue
        if value_key(key) not in allowed:
            raise _bad(ERR_RETAIN_KEYS)
    for key in [k for k in original if value_key(k) not in allowed]:
        del original[key]


# -- $setElementOrder ---------------------------------------------------------------------------


def _merge_ordered_lists(original: dict[str, Any], patch: dict[str, Any], schema: Schema) -> None:
    for key in [k for k in patch if k.startswith(SET_ELEMENT_ORDER)]:
        order = patch.pop(key)
        if not isinstance(order, list):
            raise _bad_arg("slice", order)
        list_key = _extract_key(key, SET_ELEMENT_ORDER)
        found_original = list_key in original
        found_patch = list_key in patch
        original_list: list[Any] = []
        patch_list: list[Any] = []
        if found_original:
            if not isinstance(original[list_key], list):
                raise _bad_arg("slice", original[list_key])
            original_list = original[list_key]
        if found_patch:
            if not isinstance(patch[list_key], list):
                raise _bad_arg("slice", patch[list_key])
            patch_list = patch[list_key]
        field = sch.child(schema, list_key)
        strategy = _strategy(field)
        key_name = sch.merge_key(field)
        _validate_order(patch_list, order, key_name)

        if found_original and not found_patch:
            merged = original_list
        elif found_patch and not found_original:
            merged = _remove_directives(patch_list)[0]
        elif found_original and found_patch:
            if strategy == MERGE:
                merged = _merge_list(original_list, patch_list, sch.items(field), key_name, False)
            else:
                merged = patch_list
        else:
            continue

        if key_name:
            in_order, server_only = _partition_maps(merged, order, key_name)
        else:
            in_order, server_only = _partition_primitives(merged, order)
        is_map = _element_kind(original_list, patch_list) == "map"
        original[list_key] = _normalize_order(in_order, server_only, order, original_list, key_name, is_map)
        patch.pop(list_key, None)


def _validate_order(patch_list: list[Any], order: list[Any], key_name: str) -> None:
    if not order or not patch_list:
        return
    if key_name:
        non_delete = []
        for item in patch_list:
            if not isinstance(item, dict):
                raise _bad_arg("map", item)
            if item.get(DIRECTIVE) != DELETE:
                non_delete.append(item)
    else:
        non_delete = patch_list
    p = o = 0
    while p < len(non_delete) and o < len(order):
        if isinstance(non_delete[p], dict) and DIRECTIVE in non_delete[p]:
            p += 1
            continue
        if _merge_key_equal(non_delete[p], order[o], key_name):
            p += 1
        o += 1
    if p < len(non_delete) and o >= len(order):
        raise PatchError(
            f"The order in patch list:\n{_go(patch_list)}\n doesn't match {SET_ELEMENT_ORDER} list:\n{_go(order)}\n"
        )


def _merge_key_equal(left: Any, right: Any, key_name: str) -> bool:
    if not key_name:
        return json_equal(left, right)
    if not isinstance(left, dict):
        raise _bad_arg("map", left)
    if not isinstance(right, dict):
        raise _bad_arg("map", right)
    if key_name not in left:
        raise _no_merge_key(left, key_name)
    if key_name not in right:
        raise _no_merge_key(right, key_name)
    return json_equal(left[key_name], right[key_name])


# -- lists --------------------------------------------------------------------------------------


def _element_kind(*lists: list[Any]) -> str:
    """``sliceElementType``: all elements share one JSON type, which is not a list."""
    kind = ""
    for values in lists:
        for value in values:
            current = json_kind(value)
            if not kind:
                if current == "slice":
                    raise _rejected()
                kind = current
            elif kind != current:
                raise PatchError(f"list element types are not identical: {_go(list(lists))}")
    if not kind:
        raise PatchError("no elements in any of the given slices")
    return kind


def _merge_list(
    original: list[Any], patch: list[Any], item_schema: Schema, key_name: str, is_delete_list: bool
) -> list[Any]:
    if not original and not patch:
        return original
    kind = _element_kind(original, patch)
    if kind != "map":
        if is_delete_list:
            remove = {value_key(v) for v in patch}
            return [v for v in original if value_key(v) not in remove]
        merged = _dedupe(original + patch)
    else:
        if not key_name:
            raise PatchError("cannot merge lists without merge key")
        original, patch = _merge_special_items(original, patch, key_name)
        merged = _merge_keyed_items(original, patch, key_name, item_schema)

    if key_name:
        in_patch, server_only = _partition_maps(merged, patch, key_name)
    else:
        in_patch, server_only = _partition_primitives(merged, patch)
    return _normalize_order(in_patch, server_only, patch, original, key_name, kind == "map")


def _dedupe(values: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    out = []
    for v in values:
        k = value_key(v)
        if k not in seen:
            seen.add(k)
            out.append(v)
    return out


def _merge_special_items(original: list[Any], patch: list[Any], key_name: str) -> tuple[list[Any], list[Any]]:
    plain: list[Any] = []
    replace = False
    for item in patch:
        if DIRECTIVE not in item:
            plain.append(item)
            continue
        directive = item[DIRECTIVE]
        if directive == DELETE:
            if key_name not in item:
                raise _no_merge_key(item, key_name)
            original = [o for o in original if not _matches(o, key_name, item[key_name])]
        elif directive == REPLACE:
            replace = True
        elif directive == MERGE:
            raise PatchError("merging lists cannot yet be specified in the patch")
        else:
            raise PatchError(f"unknown patch type: {_go(directive)} in map: {_go(item)}")
    if replace:
        return plain, []
    return original, plain


def _matches(item: Any, key_name: str, value: Any) -> bool:
    if not isinstance(item, dict):
        raise PatchError("value for key is not a map")
    return key_name in item and json_equal(item[key_name], value)


def _merge_keyed_items(
    original: list[Any], patch: list[Any], key_name: str, item_schema: Schema
) -> list[Any]:
    original = list(original)
    for item in patch:
        if key_name not in item:
            raise _no_merge_key(item, key_name)
        index = next((i for i, o in enumerate(original) if _matches(o, key_name, item[key_name])), -1)
        if index >= 0:
            original[index] = _merge_map(original[index], item, item_schema)
        else:
            original.append(item)
    return original


def _partition_primitives(values: list[Any], by: list[Any]) -> tuple[list[Any], list[Any]]:
    wanted = {value_key(v) for v in by}
    inside = [v for v in values if value_key(v) in wanted]
    outside = [v for v in values if value_key(v) not in wanted]
    return inside, outside


def _partition_maps(values: list[Any], by: list[Any], key_name: str) -> tuple[list[Any], list[Any]]:
    inside, outside = [], []
    for v in values:
        if not isinstance(v, dict):
            raise _bad_arg("map", v)
        if key_name not in v:
            raise _no_merge_key(v, key_name)
        if any(_matches(b, key_name, v[key_name]) for b in by):
            inside.append(v)
        else:
            outside.append(v)
    return inside, outside


def _index(values: list[Any], target: Any, key_name: str, is_map: bool) -> int:
    def val(item: Any) -> Any:
        if is_map:
            return item.get(key_name) if isinstance(item, dict) else None
        return item

    wanted = value_key(val(target))
    for i, v in enumerate(values):
        if value_key(val(v)) == wanted:
            return i
    return -1


def _sort_by(values: list[Any], order: list[Any], key_name: str, is_map: bool) -> list[Any]:
    to_delete: list[Any] = []
    if is_map:
        for v in values + order:
            if not isinstance(v, dict):
                raise _bad_arg("map", v)
            if key_name not in v:
                raise _no_merge_key(v, key_name)
        to_delete = [v for v in values if v.get(DIRECTIVE) == DELETE]
        values = [v for v in values if v.get(DIRECTIVE) != DELETE]
    positions = [_index(order, v, key_name, is_map) for v in values]
    ranked = sorted(range(len(values)), key=lambda i: (positions[i] < 0, positions[i], i))
    return [values[i] for i in ranked] + to_delete


def _normalize_order(
    in_patch: list[Any],
    server_only: list[Any],
    patch_order: list[Any],
    server_order: list[Any],
    key_name: str,
    is_map: bool,
) -> list[Any]:
    right = _sort_by(in_patch, patch_order, key_name, is_map)
    left = _sort_by(server_only, server_order, key_name, is_map)
    # Interleave server-only items into the patch items by their position in the live list.
    out: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li = _index(server_order, left[i], key_name, is_map)
            ri = _index(server_order, right[j], key_name, is_map)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out
