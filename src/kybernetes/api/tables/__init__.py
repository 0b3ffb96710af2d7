"""Server-side Table conversion (``meta.k8s.io/v1 Table``), as upstream's printers produce it.

``to_table`` picks the printer for a resource (one module per group of types: ``pods``, ``core``,
``events``, ``storage``, ``apps``, ``batch``, ``other``, ``networking``, ``cluster``; ``custom`` for CRD printer columns and the
NAME / CREATED AT default), renders every object into a row and attaches the row object as upstream's
``includeObject`` asks: ``Metadata`` (a ``PartialObjectMetadata``, the default), ``Object`` or
``None``. Cells are always the wide form; kubectl hides ``priority: 1`` columns without ``-o wide``.
The caller fills ``metadata.resourceVersion`` / ``continue``.

Relies on ``api/registry.py`` (``ResourceInfo``), ``api/selectors.py`` and ``api/jsonpath.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kybernetes.api.registry import ResourceInfo
from kybernetes.api.tables import apps, batch, cluster, core, custom, events, networking, other, pods, storage
from kybernetes.api.tables._base import Printer, human_duration

__all__ = ["human_duration", "printer_for", "to_table"]

_PRINTERS: dict[tuple[str, str], Printer] = {
    **pods.PRINTERS,
    **core.PRINTERS,
    **events.PRINTERS,
    **storage.PRINTERS,
    **apps.PRINTERS,
    **batch.PRINTERS,
    **other.PRINTERS,
    **networking.PRINTERS,
    **cluster.PRINTERS,
}

INCLUDE_OBJECT_VALUES = ("None", "Metadata", "Object")


def printer_for(info: ResourceInfo, crd_columns: list[dict[str, Any]] | None = None) -> Printer:
    """The printer of a resource: CRD columns for custom resources, else the built-in or default one."""
    if info.custom or crd_columns is not None:
        return custom.custom_printer(crd_columns)
    return _PRINTERS.get((info.group, info.kind), custom.DEFAULT)


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
    info: ResourceInfo,
    objects: list[dict[str, Any]],
    *,
    include_object: str = "Metadata",
    now: datetime | None = None,
    crd_columns: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A ``meta.k8s.io/v1`` Table of ``objects`` (all of kind ``info``), ages measured at ``now``."""
    printer = printer_for(info, crd_columns)
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
