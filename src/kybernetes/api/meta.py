"""The object vocabulary every component shares: the ``Obj`` / ``ObjView`` aliases, metadata accessors,
names and uids, metadata for reading and writing, labels, deep copy of JSON values, generation tracking (``spec_changed``) and RFC 3339 timestamps.

One copy of each, used by the API server, the client, controllers, the scheduler and the kubelet (upstream
keeps these in ``k8s.io/apimachinery/pkg/apis/meta/v1``). Timestamps follow ``metav1.Time`` (UTC, whole
seconds, ``Z``: ``2026-01-01T00:00:00Z``) and ``metav1.MicroTime`` (six fraction digits:
``2026-01-01T00:00:00.000000Z``); parsing accepts either, ``Z`` or an offset, and reads a timestamp without
an offset as UTC.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

__all__ = [
    "GENERATED_SUFFIX_LEN",
    "MAX_GENERATE_NAME_PREFIX",
    "Obj",
    "ObjView",
    "deep_copy",
    "format_micro_time",
    "format_time",
    "generate_name",
    "labels",
    "meta_of",
    "metadata",
    "new_uid",
    "normalize_managed_times",
    "normalize_time",
    "now_rfc3339",
    "parse_datetime",
    "parse_time",
    "spec_changed",
    "spec_part",
]

Obj = dict[str, Any]
"""A Kubernetes object (or any part of one) as decoded JSON."""
ObjView = Mapping[str, Any]
"""The same, for code that only reads it."""

_J = TypeVar("_J")

# Upstream's generateName alphabet (no vowels, no look-alike characters).
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
GENERATED_SUFFIX_LEN = 5
MAX_GENERATE_NAME_PREFIX = 63 - GENERATED_SUFFIX_LEN

# Top-level fields that are not "spec" for generation purposes.
_NON_SPEC_FIELDS = frozenset({"apiVersion", "kind", "metadata", "status"})


_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_MICRO_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def _moment(when: float | datetime | None) -> datetime:
    if isinstance(when, datetime):
        return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
    return datetime.fromtimestamp(time.time() if when is None else when, UTC)


def format_time(when: float | datetime | None = None) -> str:
    """``metav1.Time`` of ``when`` (epoch seconds or a datetime; now when None): UTC, whole seconds."""
    return _moment(when).strftime(_TIME_FORMAT)


def format_micro_time(when: float | datetime | None = None) -> str:
    """``metav1.MicroTime`` of ``when`` (epoch seconds or a datetime; now when None): UTC, microseconds."""
    return _moment(when).strftime(_MICRO_TIME_FORMAT)


def now_rfc3339() -> str:
    """Now as ``metav1.Time``."""
    return format_time()


def parse_datetime(value: Any) -> datetime | None:
    """An RFC 3339 (Micro)Time string as an aware datetime; None if absent, not a string or malformed."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_time(value: Any) -> float | None:
    """Epoch seconds of an RFC 3339 (Micro)Time string; None if absent, not a string or malformed."""
    parsed = parse_datetime(value)
    return None if parsed is None else parsed.timestamp()


def new_uid() -> str:
    return str(uuid.uuid4())


def generate_name(prefix: str) -> str:
    prefix = prefix[:MAX_GENERATE_NAME_PREFIX]
    return prefix + "".join(random.choices(_NAME_ALPHABET, k=GENERATED_SUFFIX_LEN))


def meta_of(obj: Mapping[str, Any]) -> dict[str, Any]:
    """``obj.metadata`` for reading: ``{}`` when absent or not an object (never adds it)."""
    md = obj.get("metadata")
    return md if isinstance(md, dict) else {}


def metadata(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj.metadata`` for writing: added (empty) when absent or not an object."""
    md = obj.get("metadata")
    if not isinstance(md, dict):
        md = {}
        obj["metadata"] = md
    return md


def spec_part(obj: dict[str, Any]) -> dict[str, Any]:
    """Everything generation tracks: the object minus metadata, status and type fields."""
    return {k: v for k, v in obj.items() if k not in _NON_SPEC_FIELDS}


def spec_changed(new: dict[str, Any], old: dict[str, Any]) -> bool:
    return spec_part(new) != spec_part(old)


def deep_copy(value: _J) -> _J:
    """A deep copy of a JSON value (much cheaper than ``copy.deepcopy``; objects hold nothing else)."""
    if isinstance(value, dict):
        return {k: deep_copy(v) for k, v in value.items()}  # type: ignore[return-value]  # same shape as value; a TypeVar cannot say so
    if isinstance(value, list):
        return [deep_copy(v) for v in value]  # type: ignore[return-value]  # as above
    return value


def labels(obj: Mapping[str, Any]) -> dict[str, str]:
    """``obj.metadata.labels`` for reading: ``{}`` when absent or malformed."""
    lbl = meta_of(obj).get("labels") or {}
    return lbl if isinstance(lbl, dict) else {}


def normalize_time(value: Any) -> Any:
    """Any RFC 3339 timestamp as upstream serialises ``metav1.Time``: UTC, seconds, ``Z``."""
    parsed = parse_datetime(value)
    return value if parsed is None else format_time(parsed)


def normalize_managed_times(md: dict[str, Any]) -> None:
    for entry in md.get("managedFields") or []:
        if isinstance(entry, dict) and "time" in entry:
            entry["time"] = normalize_time(entry["time"])
