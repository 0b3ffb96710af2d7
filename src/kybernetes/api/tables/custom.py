"""Tables for custom resources (CRD ``additionalPrinterColumns``) and the default NAME / CREATED AT
table used for built-in types without a printer.

Custom resources follow apiextensions' ``tableconvertor``: a Name column, then one column per printer
column whose cell is the first JSONPath match, rendered by type (``string`` as JSONPath prints it,
``integer``/``number``/``boolean`` when the JSON type fits, ``date`` as an age), ``None`` when missing.
Without printer columns a CRD gets a single ``Age`` column of type ``date``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kybernetes.api import jsonpath
from kybernetes.api.tables._base import (
    META,
    Column,
    Obj,
    Printer,
    describe,
    human_duration,
    name,
    name_column,
    parse_time,
    rfc3339,
)

DEFAULT_CRD_COLUMNS: tuple[dict[str, Any], ...] = (
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
)


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _date_cell(value: Any, now: datetime) -> Any:
    """``metav1.Time.UnmarshalQueryParameter`` (strict RFC3339) then the human-readable age."""
    if not isinstance(value, str):
        return None
    if value in ("", "null"):
        return "<unknown>"
    if not _RFC3339.match(value):
        return "<invalid>"
    moment = parse_time(value)
    return "<unknown>" if moment is None else human_duration(now - moment)


def cell_for_json_value(column_type: str, value: Any, now: datetime) -> Any:
    """``cellForJSONValue`` (plus ``string``, which upstream prints through JSONPath)."""
    if value is None:
        return None
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if column_type == "string":
        return jsonpath.print_text(value)
    if column_type == "integer":
        return int(value) if is_number else None
    if column_type == "number":
        return float(value) if is_number else None
    if column_type == "boolean":
        return value if isinstance(value, bool) else None
    if column_type == "date":
        return _date_cell(value, now)
    return None


def _column(spec: Mapping[str, Any]) -> Column:
    path = str(spec.get("jsonPath", ""))
    doc = str(spec.get("description") or "")
    if not doc:
        is_age = (
            spec.get("name") == "Age" and path == ".metadata.creationTimestamp" and spec.get("type") == "date"
        )
        doc = (
            describe(META, "creationTimestamp")
            if is_age
            else (f"Custom resource definition column (in JSONPath format): {path}")
        )
    return Column(
        str(spec.get("name", "")),
        str(spec.get("type", "string")),
        doc,
        int(spec.get("priority") or 0),
        str(spec.get("format") or ""),
    )


def _cell(spec: Mapping[str, Any], obj: Obj, now: datetime) -> Any:
    try:
        found = jsonpath.find(str(spec.get("jsonPath", "")), obj)
    except jsonpath.JSONPathError:
        return None
    if not found:
        return None
    return cell_for_json_value(str(spec.get("type", "string")), found[0], now)


def custom_printer(crd_columns: list[dict[str, Any]] | None) -> Printer:
    """A printer for one CRD version's printer columns (the default Age column when none)."""
    specs = tuple(crd_columns) if crd_columns else DEFAULT_CRD_COLUMNS
    columns = (name_column(), *(_column(s) for s in specs))

    def cells(obj: Obj, now: datetime) -> list[Any]:
        return [name(obj), *(_cell(s, obj, now) for s in specs)]

    return Printer(columns, cells)


DEFAULT = Printer(
    (name_column(), Column("Created At", "date", (META, "creationTimestamp"))),
    lambda obj, now: [name(obj), rfc3339((obj.get("metadata") or {}).get("creationTimestamp"))],
)
