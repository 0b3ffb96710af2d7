"""Object metadata chores shared by every resource: names, uids, timestamps, generation."""

from __future__ import annotations

import copy
import random
import uuid
from datetime import UTC, datetime
from typing import Any

# Upstream's generateName alphabet (no vowels, no look-alike characters).
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
GENERATED_SUFFIX_LEN = 5
MAX_GENERATE_NAME_PREFIX = 63 - GENERATED_SUFFIX_LEN

# Top-level fields that are not "spec" for generation purposes.
_NON_SPEC_FIELDS = frozenset({"apiVersion", "kind", "metadata", "status"})


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_uid() -> str:
    return str(uuid.uuid4())


def generate_name(prefix: str) -> str:
    prefix = prefix[:MAX_GENERATE_NAME_PREFIX]
    return prefix + "".join(random.choices(_NAME_ALPHABET, k=GENERATED_SUFFIX_LEN))


def metadata(obj: dict[str, Any]) -> dict[str, Any]:
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


def deep_copy(obj: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(obj)


def labels(obj: dict[str, Any]) -> dict[str, str]:
    md = obj.get("metadata") or {}
    lbl = md.get("labels") or {}
    return lbl if isinstance(lbl, dict) else {}


def parse_rfc3339(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def normalize_time(value: Any) -> Any:
    """Any RFC 3339 timestamp as upstream serialises ``metav1.Time``: UTC, seconds, ``Z``."""
    if not isinstance(value, str) or not value:
        return value
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def normalize_managed_times(md: dict[str, Any]) -> None:
    for entry in md.get("managedFields") or []:
        if isinstance(entry, dict) and "time" in entry:
            entry["time"] = normalize_time(entry["time"])
