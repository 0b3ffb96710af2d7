"""RFC 6902 JSON patch (``application/json-patch+json``) via the ``jsonpatch`` library.

Error mapping follows upstream's ``apiserver/pkg/endpoints/handlers/patch.go``: a document that is not
a list of operation objects is a 400 BadRequest, more than 10000 operations a 413, and any operation
that fails to apply (failed ``test``, missing path, bad operation) the generic 422 Invalid
"the server rejected our request due to an error in our request".
"""

from __future__ import annotations

from typing import Any

import jsonpatch
import jsonpointer

from kybernetes.api.errors import StatusError, cannot_unmarshal, too_large
from kybernetes.api.patch._common import deep_copy, unprocessable

MAX_OPERATIONS = 10000


def validate_json_patch(patch_ops: Any) -> list[dict[str, Any]]:
    """Check the document's shape (what upstream's ``DecodePatch`` checks); 400/413 otherwise."""
    if patch_ops is None:
        return []
    if not isinstance(patch_ops, list):
        raise cannot_unmarshal(patch_ops, "jsonpatch.Patch")
    for op in patch_ops:
        if not isinstance(op, dict):
            raise cannot_unmarshal(op, "jsonpatch.Operation")
    if len(patch_ops) > MAX_OPERATIONS:
        raise too_large(
            f"The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, got {len(patch_ops)}"
        )
    return patch_ops


def apply_json_patch(obj: dict[str, Any], patch_ops: list[dict[str, Any]]) -> dict[str, Any]:
    """Apply RFC 6902 operations to a copy of ``obj``; the input is never modified."""
    ops = validate_json_patch(patch_ops)
    if not ops:
        return deep_copy(obj)
    try:
        patched = jsonpatch.JsonPatch(deep_copy(ops)).apply(deep_copy(obj), in_place=True)
    except StatusError:
        raise
    except (
        jsonpatch.JsonPatchException,
        jsonpointer.JsonPointerException,
        TypeError,
        KeyError,
        IndexError,
        ValueError,
        AttributeError,
        RecursionError,
    ) as exc:
        raise unprocessable() from exc
    if not isinstance(patched, dict):
        raise unprocessable()
    return patched
