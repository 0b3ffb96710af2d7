"""The shared object vocabulary: the exact Time/MicroTime strings, parsing, and generation tracking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from kybernetes.api import meta

T0 = datetime(2026, 1, 1, tzinfo=UTC).timestamp()


def test_time_and_micro_time_formats() -> None:
    assert meta.format_time(T0) == "2026-01-01T00:00:00Z"
    assert meta.format_time(T0 + 1.75) == "2026-01-01T00:00:01Z"  # whole seconds, truncated
    assert meta.format_micro_time(T0 + 1.5) == "2026-01-01T00:00:01.500000Z"
    plus_two = datetime(2026, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    assert meta.format_time(plus_two) == "2026-01-01T00:00:00Z"  # datetimes are shown in UTC
    assert meta.now_rfc3339().endswith("Z") and len(meta.now_rfc3339()) == 20


def test_parse_time_accepts_z_offsets_and_fractions_and_rejects_junk() -> None:
    assert meta.parse_time("2026-01-01T00:00:00Z") == T0
    assert meta.parse_time("2026-01-01T02:00:00+02:00") == T0
    assert meta.parse_time("2026-01-01T00:00:00.250000Z") == T0 + 0.25
    assert meta.parse_time("2026-01-01T00:00:00") == T0  # no offset reads as UTC
    for bad in (None, "", "yesterday", 5, {"x": 1}):
        assert meta.parse_time(bad) is None
    assert meta.parse_datetime("2026-01-01T00:00:00Z") == datetime(2026, 1, 1, tzinfo=UTC)


def test_normalize_time_to_seconds_utc() -> None:
    assert meta.normalize_time("2026-01-01T02:00:00.123+02:00") == "2026-01-01T00:00:00Z"
    assert meta.normalize_time("not a time") == "not a time"


def test_spec_changed_ignores_metadata_and_status() -> None:
    old = {"kind": "X", "metadata": {"name": "a"}, "spec": {"n": 1}, "status": {"s": 1}}
    assert not meta.spec_changed({**old, "metadata": {"name": "a", "labels": {"k": "v"}}, "status": {}}, old)
    assert meta.spec_changed({**old, "spec": {"n": 2}}, old)
