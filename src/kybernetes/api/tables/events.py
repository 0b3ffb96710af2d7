"""The Event printer, for both ``v1 Event`` and ``events.k8s.io/v1 Event``.

Upstream prints the internal Event type for both APIs, so an ``events.k8s.io`` object is first mapped
back onto core field names (``regarding`` -> ``involvedObject``, ``note`` -> ``message``,
``deprecated*`` -> their core names). Cells follow ``printEvent`` (wide form).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kybernetes.api.tables._base import (
    Column,
    Obj,
    Printer,
    dig,
    integer,
    name,
    name_column,
    parse_time,
    since,
    text,
)

_EVENT = "io.k8s.api.core.v1.Event"
_REF = "io.k8s.api.core.v1.ObjectReference"

COLUMNS = (
    Column("Last Seen", doc=(_EVENT, "lastTimestamp")),
    Column("Type", doc=(_EVENT, "type")),
    Column("Reason", doc=(_EVENT, "reason")),
    Column("Object", doc=(_EVENT, "involvedObject")),
    Column("Subobject", priority=1, doc=(_REF, "fieldPath")),
    Column("Source", priority=1, doc=(_EVENT, "source")),
    Column("Message", doc=(_EVENT, "message")),
    Column("First Seen", priority=1, doc=(_EVENT, "firstTimestamp")),
    Column("Count", priority=1, doc=(_EVENT, "count")),
    Column(name_column().name, priority=1, format="name", doc=name_column().doc),
)

_V1_TO_CORE = {
    "regarding": "involvedObject",
    "note": "message",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
}


def as_core_event(event: Obj) -> dict[str, Any]:
    """An ``events.k8s.io/v1`` Event with core field names (core events pass through unchanged)."""
    core = dict(event)
    for new, old in _V1_TO_CORE.items():
        if new in core:
            core[old] = core.pop(new)
    return core


def _source(event: Obj) -> str:
    component = text(event, "source", "component") or text(event, "reportingController")
    host = text(event, "source", "host") or text(event, "reportingInstance")
    return f"{component}, {host}" if host else component


def _target(event: Obj) -> str:
    kind = text(event, "involvedObject", "kind").lower()
    ref_name = text(event, "involvedObject", "name")
    return f"{kind}/{ref_name}" if ref_name else kind


def event_cells(obj: Obj, now: datetime) -> list[Any]:
    event = as_core_event(obj)
    first = since(event.get("firstTimestamp"), now)
    if parse_time(event.get("firstTimestamp")) is None:
        first = since(event.get("eventTime"), now)
    last = first if parse_time(event.get("lastTimestamp")) is None else since(event.get("lastTimestamp"), now)
    count = integer(event, "count")
    if isinstance(event.get("series"), dict):
        last = since(dig(event, "series", "lastObservedTime"), now)
        count = integer(event, "series", "count")
    elif count == 0:
        count = 1
    return [
        last,
        text(event, "type"),
        text(event, "reason"),
        _target(event),
        text(event, "involvedObject", "fieldPath"),
        _source(event),
        text(event, "message").strip(),
        first,
        count,
        name(event),
    ]


EVENT = Printer(COLUMNS, event_cells)
