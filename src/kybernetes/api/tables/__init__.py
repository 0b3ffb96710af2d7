"""Server-side Table conversion (``meta.k8s.io/v1 Table``), as upstream's printers produce it.

The printers are named per type in one module per group of types (``pods``, ``core``, ``events``,
``storage``, ``apps``, ``batch``, ``other``, ``networking``, ``cluster``; ``custom`` for CRD printer columns
and the NAME / CREATED AT default); each kind's strategy (``apiserver/strategies``) names its printer.
``to_table`` renders every object with the printer it is given into a row and attaches the row object as upstream's
``includeObject`` asks: ``Metadata`` (a ``PartialObjectMetadata``, the default), ``Object`` or
``None``. Cells are always the wide form; kubectl hides ``priority: 1`` columns without ``-o wide``.
The caller fills ``metadata.resourceVersion`` / ``continue``.

Relies on ``api/selectors.py`` and ``api/jsonpath.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kybernetes.api.tables._base import Printer, human_duration

__all__ = ["Printer", "human_duration", "to_table"]

INCLUDE_OBJECT_VALUES = ("None", "Metadata", "Object")


def _partial_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata") or {},
    }


def _row(printer: Printer, obj: dict[str, Any], include_object: str, now: datetime) -> dict[str, Any]:
    row: dict[str, Any] = {"cells": printer.cells(obj, now)}
    conditions = printer.conditions(obj) if printer.conditions else None
    if conditions:
        row["conditions"] = conditions
    if include_object == "Object":
        row["object"] = obj
    elif include_object != "None":
        row["object"] = _partial_metadata(obj)
    return row


def to_table(
    printer: Printer,
    objects: list[dict[str, Any]],
    *,
    include_object: str = "Metadata",
    now: datetime | None = None,
) -> dict[str, Any]:
    """A ``meta.k8s.io/v1`` Table of ``objects`` rendered by ``printer``, ages measured at ``now``."""
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": printer.column_definitions(),
        "rows": [_row(printer, obj, include_object, moment) for obj in objects],
    }
