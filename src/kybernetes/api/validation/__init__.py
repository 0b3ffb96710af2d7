"""Validation of API objects, as upstream's per-type ``validation`` packages (pure functions, no I/O).

The API server calls, through each kind's strategy and after defaulting (``api.defaults.default_<kind>``):

* ``check_types(schema_name, obj)`` / ``check_unknown_fields(schema_name, obj)`` at decode time (400
  BadRequest / strict-decoding errors and warnings; see ``schema``);
* ``validate_create`` / ``validate_update`` / ``validate_status_update`` (and
  ``validate_subresource_update`` for other status-like subresources: CSR ``/approval``,
  ``pods/ephemeralcontainers``) and, if any cause
  comes back, raises ``errors.invalid(kind, name, causes)`` (422, the message kubectl prints);
* for custom resources also ``validate_custom`` against the CRD version's schema, after
  ``prune_unknown`` (``unknown_custom_fields`` for Strict/Warn).

Per-type rules live in one small module per API group (``core``, ``apps``, ``batch``, ``rbac``,
``apiextensions``, ``other``, ``networking``, ``storage`` (CSI), ``cluster``; pod specs in ``podspec``,
metadata in ``meta``). A kind's ``TypeRules`` (the metadata name rule and the create/update/status
checks) is bound by its strategy (``apiserver/strategies``), which passes it to the functions here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kybernetes.api.errors import Cause
from kybernetes.api.registry import ResourceInfo
from kybernetes.api.validation import meta, names
from kybernetes.api.validation.field import dedupe
from kybernetes.api.validation.schema import (
    check_types,
    check_unknown_fields,
    decode_error_message,
    strict_error_message,
)
from kybernetes.api.validation.structural import (
    apply_custom_defaults,
    prune_unknown,
    unknown_custom_fields,
    validate_custom,
)

CreateFn = Callable[[dict[str, Any]], list[Cause]]
UpdateFn = Callable[[dict[str, Any], dict[str, Any]], list[Cause]]
SubresourceFn = Callable[[dict[str, Any], dict[str, Any], str], list[Cause]]

__all__ = [
    "TypeRules",
    "apply_custom_defaults",
    "check_types",
    "check_unknown_fields",
    "decode_error_message",
    "prune_unknown",
    "strict_error_message",
    "unknown_custom_fields",
    "validate_create",
    "validate_custom",
    "validate_status_update",
    "validate_subresource_update",
    "validate_update",
]


@dataclass(frozen=True)
class TypeRules:
    """How one kind is validated beyond its metadata."""

    name_fn: names.NameFn = names.name_is_dns_subdomain
    create: CreateFn | None = None
    # None: re-run ``create`` on the new object (upstream re-validates the whole object on update).
    update: UpdateFn | None = None
    status: UpdateFn | None = None
    # Writes to status-like subresources other than /status (CSR /approval): (new, old, subresource).
    subresource: SubresourceFn | None = None


def _meta(obj: dict[str, Any]) -> Any:
    return obj.get("metadata") if isinstance(obj, dict) else None


def validate_create(info: ResourceInfo, obj: dict[str, Any], rules: TypeRules) -> list[Cause]:
    """Causes that make ``obj`` invalid for creation (empty list: valid)."""
    causes = meta.validate_object_meta(_meta(obj), namespaced=info.namespaced, name_fn=rules.name_fn)
    if rules.create is not None and isinstance(obj, dict):
        causes += rules.create(obj)
    return dedupe(causes)


def validate_update(
    info: ResourceInfo, new: dict[str, Any], old: dict[str, Any], rules: TypeRules
) -> list[Cause]:
    """Causes that make replacing ``old`` by ``new`` invalid (metadata immutability, type rules)."""
    causes = meta.validate_object_meta_update(_meta(new), _meta(old))
    if rules.update is not None:
        causes += rules.update(new, old)
    elif rules.create is not None:
        causes += rules.create(new)
    return dedupe(causes)


def validate_status_update(
    info: ResourceInfo, new: dict[str, Any], old: dict[str, Any], rules: TypeRules
) -> list[Cause]:
    """Causes for a write to the ``status`` subresource (the server keeps ``old``'s spec)."""
    causes = meta.validate_object_meta_update(_meta(new), _meta(old))
    if rules.status is not None:
        causes += rules.status(new, old)
    return dedupe(causes)


def validate_subresource_update(
    info: ResourceInfo, subresource: str, new: dict[str, Any], old: dict[str, Any], rules: TypeRules
) -> list[Cause]:
    """Causes for a write to a status-like subresource; ``/status`` unless the type has its own rules."""
    if subresource == "status" or rules.subresource is None:
        return validate_status_update(info, new, old, rules)
    causes = meta.validate_object_meta_update(_meta(new), _meta(old))
    causes += rules.subresource(new, old, subresource)
    return dedupe(causes)
