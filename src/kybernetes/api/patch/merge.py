"""RFC 7386 JSON merge patch (``application/merge-patch+json``).

Objects merge key by key, ``null`` deletes, anything else (lists included) replaces. As upstream
(evanphx/json-patch ``MergePatch``): a ``null`` or scalar patch document is a 400 "Invalid JSON Patch";
a list document replaces the whole object, which then cannot decode, so it is a 422.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.errors import bad_request
from kybernetes.api.patch._common import deep_copy, unprocessable

BAD_PATCH = "Invalid JSON Patch"


def merge_values(target: Any, patch: Any) -> Any:
    """The RFC 7386 ``MergePatch(target, patch)`` function; returns a new value."""
    if not isinstance(patch, dict):
        return _prune_nulls(deep_copy(patch))
    result: dict[str, Any] = deep_copy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_values(result.get(key), value)
    return result


def _prune_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _prune_nulls(v) for k, v in value.items() if v is not None}
    return value


def apply_merge_patch(obj: dict[str, Any], patch: Any) -> dict[str, Any]:
    """Apply a JSON merge patch to a copy of ``obj``."""
    if isinstance(patch, list):
        raise unprocessable()
    if not isinstance(patch, dict):
        raise bad_request(BAD_PATCH)
    return merge_values(obj, patch)
