"""Shared vocabulary of the Table printers: columns, printers, time and formatting helpers.

A ``Printer`` is data: its column definitions plus a ``cells(obj, now)`` function (and optionally the
row ``conditions``), the shape of one ``TableHandler`` in upstream's
``pkg/printers/internalversion/printers.go``. The server always prints ``Wide`` (as upstream's table
convertor does); kubectl hides ``priority: 1`` columns unless ``-o wide``.

Column descriptions come from the bundled OpenAPI definitions (``api/schemas.py``), which carry the
same Go doc comments upstream's ``SwaggerDoc()`` maps return.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kybernetes.api import schemas
from kybernetes.api.meta import ObjView as Obj
from kybernetes.api.meta import format_time, parse_datetime

Cells = Callable[[Obj, datetime], list[Any]]
Conditions = Callable[[Obj], list[dict[str, str]] | None]

META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


@functools.cache
def describe(definition: str, prop: str) -> str:
    """The OpenAPI description of ``definition.prop`` (``""`` when unknown)."""
    try:
        schema = schemas.get(definition) or {}
    except (OSError, ValueError):  # schemas missing: descriptions are cosmetic
        return ""
    return str(((schema.get("properties") or {}).get(prop) or {}).get("description", ""))


@dataclass(frozen=True)
class Column:
    """One ``TableColumnDefinition``; ``doc`` is literal text or a (definition, property) reference."""

    name: str
    type: str = "string"
    doc: str | tuple[str, str] = ""
    priority: int = 0
    format: str = ""

    def definition(self) -> dict[str, Any]:
        doc = self.doc if isinstance(self.doc, str) else describe(*self.doc)
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": doc,
            "priority": self.priority,
        }


def name_column() -> Column:
    return Column("Name", format="name", doc=(META, "name"))


def age_column() -> Column:
    return Column("Age", doc=(META, "creationTimestamp"))


def containers_columns(selector_doc: tuple[str, str] | None = None) -> tuple[Column, ...]:
    """The wide Containers, Images (and Selector) columns shared by the workload printers."""
    cols = (
        Column("Containers", priority=1, doc="Names of each container in the template."),
        Column("Images", priority=1, doc="Images referenced by each container in the template."),
    )
    if selector_doc is None:
        return cols
    return (*cols, Column("Selector", priority=1, doc=selector_doc))


@dataclass(frozen=True)
class Printer:
    columns: tuple[Column, ...]
    cells: Cells
    conditions: Conditions | None = None

    def column_definitions(self) -> list[dict[str, Any]]:
        return [c.definition() for c in self.columns]


# ----------------------------------------------------------------------------------------------------
# Reading dicts.


def dig(obj: Any, *path: str | int) -> Any:
    """``obj[p0][p1]...`` or ``None`` as soon as a step is missing or of the wrong type."""
    cur = obj
    for part in path:
        if isinstance(part, int):
            if not isinstance(cur, list) or not -len(cur) <= part < len(cur):
                return None
            cur = cur[part]
        elif isinstance(cur, Mapping):
            cur = cur.get(part)
        else:
            return None
    return cur


def items(obj: Any, *path: str) -> list[Any]:
    """A list field, ``[]`` when absent or null."""
    value = dig(obj, *path)
    return value if isinstance(value, list) else []


def mapping(obj: Any, *path: str) -> dict[str, Any]:
    value = dig(obj, *path)
    return dict(value) if isinstance(value, Mapping) else {}


def text(obj: Any, *path: str) -> str:
    value = dig(obj, *path)
    return "" if value is None else str(value)


def integer(obj: Any, *path: str, default: int = 0) -> int:
    value = dig(obj, *path)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    return int(value)


def name(obj: Obj) -> str:
    return text(obj, "metadata", "name")


# ----------------------------------------------------------------------------------------------------
# Time.

_ZERO_YEAR = 1


def parse_time(value: Any) -> datetime | None:
    """RFC3339 (``metav1.Time``) or RFC3339 with micros (``MicroTime``); ``None`` for zero/invalid."""
    parsed = parse_datetime(value)
    if parsed is None:
        return None
    if parsed.year == _ZERO_YEAR and parsed.replace(tzinfo=None) == datetime(1, 1, 1):
        return None
    return parsed


def human_duration(delta: timedelta) -> str:
    """``k8s.io/apimachinery/pkg/util/duration.HumanDuration``."""
    micros = delta // timedelta(microseconds=1)
    seconds = int(micros / 1_000_000)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    return _human_hours(seconds // 3600, minutes % 60)


def _human_hours(hours: int, minutes: int) -> str:
    if hours < 8:
        return f"{hours}h" if minutes == 0 else f"{hours}h{minutes}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if days == 0 else f"{years}y{days}d"
    return f"{hours // 24 // 365}y"


def since(value: Any, now: datetime) -> str:
    """``translateTimestampSince``: ``<unknown>`` for a zero time."""
    moment = parse_time(value)
    return "<unknown>" if moment is None else human_duration(now - moment)


def age(obj: Obj, now: datetime) -> str:
    return since(dig(obj, "metadata", "creationTimestamp"), now)


def rfc3339(value: Any) -> str:
    """``Time.UTC().Format(time.RFC3339)``; a zero time prints as year 1."""
    moment = parse_time(value)
    if moment is None:
        return "0001-01-01T00:00:00Z"
    return format_time(moment)


# ----------------------------------------------------------------------------------------------------
# Formatting.


def format_labels(labels: Mapping[str, Any] | None) -> str:
    """``labels.FormatLabels``: sorted ``k=v`` joined by commas, ``<none>`` when empty."""
    labels = labels or {}
    joined = ",".join(f"{k}={labels[k]}" for k in sorted(labels))
    return joined or "<none>"


def container_cells(containers: Iterable[Any]) -> list[str]:
    """``layoutContainerCells``: names and images, each joined by commas."""
    listed = [c for c in containers if isinstance(c, Mapping)]
    names = ",".join(str(c.get("name", "")) for c in listed)
    images = ",".join(str(c.get("image", "")) for c in listed)
    return [names, images]


def replica_cells(obj: Obj, now: datetime, selector: str) -> list[Any]:
    """A ReplicaSet or ReplicationController row: name, desired/current/ready replicas, age, the
    template's containers and images, then ``selector`` as each kind formats it."""
    return [
        name(obj),
        integer(obj, "spec", "replicas", default=1),
        integer(obj, "status", "replicas"),
        integer(obj, "status", "readyReplicas"),
        age(obj, now),
        *container_cells(items(obj, "spec", "template", "spec", "containers")),
        selector,
    ]


def int_or_string(value: Any) -> str:
    """``intstr.IntOrString.String()``."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def bool_ptr(value: Any) -> str:
    """``printBoolPtr``: True/False, ``<unset>`` when nil."""
    if value is None:
        return "<unset>"
    return "True" if value else "False"


def quantity(value: Any) -> str:
    """A stored quantity as written (the apiserver canonicalises on write); zero when absent."""
    if value is None or value == "":
        return "0"
    return int_or_string(value)


def list_with_more(values: list[str], count: int, limit: int, empty: str = "<unset>") -> str:
    """``listWithMoreString``: the first ``limit`` values and ``+ N more...``."""
    joined = ",".join(values[:limit])
    if count > limit:
        return f"{joined} + {count - limit} more..."
    return joined or empty
