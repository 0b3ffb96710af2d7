"""Patch engines of the PATCH verb and server-side apply: pure functions over JSON objects.

- ``apply_json_patch`` (RFC 6902), ``apply_merge_patch`` (RFC 7386) and
  ``apply_strategic_merge_patch`` (schema-driven, upstream's strategicpatch semantics);
- ``apply_patch`` dispatches on the request's ``Content-Type`` and parses the body;
- ``server_side_apply`` and ``update_managed_fields`` maintain ``metadata.managedFields``.

Every failure is a ``kybernetes.api.errors.StatusError`` with upstream's code: 400 for bodies that
do not parse, 415 for content types the resource does not accept, 422 for patches that do not apply,
409 for apply conflicts. Inputs are never modified. Schemas come from ``kybernetes.api.schemas``;
the apiserver's PATCH handler is the caller (``application/apply-patch+yaml`` is decoded there and
handed to ``server_side_apply``).
"""

from __future__ import annotations

from typing import Any

import orjson

from kybernetes.api.errors import bad_request, unsupported_media_type
from kybernetes.api.patch.apply import server_side_apply, update_managed_fields
from kybernetes.api.patch.jsonpatch_ import apply_json_patch
from kybernetes.api.patch.merge import apply_merge_patch
from kybernetes.api.patch.strategic import apply_strategic_merge_patch, strategic_supported

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


def supported_patch_types(schema_name: str | None) -> list[str]:
    """The patch content types a resource accepts, in upstream's order (no SMP for custom resources)."""
    if strategic_supported(schema_name):
        return [JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH]
    return [JSON_PATCH, MERGE_PATCH, APPLY_PATCH]


def apply_patch(
    obj: dict[str, Any], content_type: str, body_bytes: bytes, schema_name: str | None
) -> dict[str, Any]:
    """Parse ``body_bytes`` as a patch of ``content_type`` and apply it to a copy of ``obj``."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    accepted = supported_patch_types(schema_name)
    if media_type not in accepted or media_type == APPLY_PATCH:
        raise unsupported_media_type(
            "the body of the request was in an unknown format - accepted media types include: "
            + ", ".join(accepted)
        )
    try:
        patch = orjson.loads(body_bytes)
    except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
        raise bad_request("invalid JSON patch") from exc
    if media_type == JSON_PATCH:
        return apply_json_patch(obj, patch)
    if media_type == MERGE_PATCH:
        return apply_merge_patch(obj, patch)
    if not isinstance(patch, dict):
        raise bad_request(_not_an_object(patch))
    return apply_strategic_merge_patch(obj, patch, schema_name)


def _not_an_object(patch: Any) -> str:
    kind = {list: "array", str: "string", bool: "bool", int: "number", float: "number"}.get(
        type(patch), "null"
    )
    return f"json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"


__all__ = [
    "APPLY_PATCH",
    "JSON_PATCH",
    "MERGE_PATCH",
    "STRATEGIC_MERGE_PATCH",
    "apply_json_patch",
    "apply_merge_patch",
    "apply_patch",
    "apply_strategic_merge_patch",
    "server_side_apply",
    "strategic_supported",
    "supported_patch_types",
    "update_managed_fields",
]
