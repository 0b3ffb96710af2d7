"""The per-kind behaviour the API tests exercise, reached the way the server reaches it: through the
kind's strategy (``apiserver/strategies``), which binds the pure rules, defaulters, printers and field
rules of ``kybernetes.api``. Each helper takes the ``ResourceInfo`` of the kind under test."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from kybernetes.api.errors import Cause
from kybernetes.api.registry import ResourceInfo
from kybernetes.api.selectors import FieldSelector
from kybernetes.apiserver.strategies import strategy_for


def apply_defaults(info: ResourceInfo, obj: dict[str, Any]) -> None:
    strategy_for(info).default(obj)


def validate_create(info: ResourceInfo, obj: dict[str, Any]) -> list[Cause]:
    return strategy_for(info).validate_create(obj)


def validate_update(info: ResourceInfo, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    return strategy_for(info).validate_update(new, old)


def validate_status_update(info: ResourceInfo, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    return strategy_for(info).validate_status_update(new, old)


def validate_subresource_update(
    info: ResourceInfo, subresource: str, new: dict[str, Any], old: dict[str, Any]
) -> list[Cause]:
    return strategy_for(info).validate_subresource_update(subresource, new, old)


def to_table(
    info: ResourceInfo,
    objects: list[dict[str, Any]],
    *,
    include_object: str = "Metadata",
    now: datetime | None = None,
    crd_columns: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return strategy_for(info).to_table(
        objects, include_object=include_object, now=now, crd_columns=crd_columns
    )


def validate_field_selector(
    info: ResourceInfo, selector: FieldSelector, *, selectable_fields: Iterable[str] = ()
) -> FieldSelector:
    return strategy_for(info).validate_field_selector(selector, selectable_fields=selectable_fields)


def object_fields(
    info: ResourceInfo, obj: Mapping[str, Any], *, selectable_fields: Iterable[str] = ()
) -> dict[str, str]:
    return strategy_for(info).object_fields(obj, selectable_fields=selectable_fields)
