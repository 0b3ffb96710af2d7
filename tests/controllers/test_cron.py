"""Cron parsing and next-run computation (``kybernetes.controllers.util.cron``)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from kybernetes.controllers.util.cron import CronError, parse_schedule

UTC = dt.UTC


def t(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s).replace(tzinfo=UTC)


def runs(expr: str, start: str, n: int, tz: dt.tzinfo = UTC) -> list[str]:
    sched = parse_schedule(expr)
    out: list[str] = []
    cur: dt.datetime | None = t(start)
    for _ in range(n):
        assert cur is not None
        cur = sched.next(cur, tz)
        assert cur is not None
        out.append(cur.astimezone(tz).strftime("%Y-%m-%d %H:%M %a"))
    return out


@pytest.mark.parametrize(
    ("expr", "start", "expected"),
    [
        ("* * * * *", "2024-01-01T00:00:30", ["2024-01-01 00:01 Mon", "2024-01-01 00:02 Mon"]),
        ("*/15 * * * *", "2024-01-01T00:00:00", ["2024-01-01 00:15 Mon", "2024-01-01 00:30 Mon"]),
        ("5-10/5 1 * * *", "2024-01-01T00:00:00", ["2024-01-01 01:05 Mon", "2024-01-01 01:10 Mon"]),
        ("0 9 * * mon-fri", "2024-01-05T10:00:00", ["2024-01-08 09:00 Mon", "2024-01-09 09:00 Tue"]),
        ("0 0 1 jan,JUL *", "2024-01-01T00:00:00", ["2024-07-01 00:00 Mon", "2025-01-01 00:00 Wed"]),
        ("0 0 29 2 *", "2024-03-01T00:00:00", ["2028-02-29 00:00 Tue", "2032-02-29 00:00 Sun"]),
        ("30 2 31 * *", "2024-01-31T03:00:00", ["2024-03-31 02:30 Sun", "2024-05-31 02:30 Fri"]),
        ("10/20 * * * *", "2024-01-01T00:00:00", ["2024-01-01 00:10 Mon", "2024-01-01 00:30 Mon"]),
        ("@hourly", "2024-01-01T00:00:00", ["2024-01-01 01:00 Mon", "2024-01-01 02:00 Mon"]),
        ("@daily", "2024-01-01T00:00:00", ["2024-01-02 00:00 Tue", "2024-01-03 00:00 Wed"]),
        ("@weekly", "2024-01-01T00:00:00", ["2024-01-07 00:00 Sun", "2024-01-14 00:00 Sun"]),
        ("@monthly", "2024-01-15T00:00:00", ["2024-02-01 00:00 Thu", "2024-03-01 00:00 Fri"]),
        ("@yearly", "2024-01-15T00:00:00", ["2025-01-01 00:00 Wed", "2026-01-01 00:00 Thu"]),
        ("@annually", "2024-01-15T00:00:00", ["2025-01-01 00:00 Wed", "2026-01-01 00:00 Thu"]),
        ("@midnight", "2024-01-01T12:00:00", ["2024-01-02 00:00 Tue", "2024-01-03 00:00 Wed"]),
        ("0 0 ? * sun", "2024-01-01T00:00:00", ["2024-01-07 00:00 Sun", "2024-01-14 00:00 Sun"]),
    ],
)
def test_next_runs(expr: str, start: str, expected: list[str]) -> None:
    assert runs(expr, start, len(expected)) == expected


def test_day_of_month_or_day_of_week_when_both_restricted() -> None:
    # the 13th or any Friday
    assert runs("0 0 13 * fri", "2024-09-01T00:00:00", 3) == [
        "2024-09-06 00:00 Fri",
        "2024-09-13 00:00 Fri",
        "2024-09-20 00:00 Fri",
    ]
    assert runs("0 0 10 * mon", "2024-09-01T00:00:00", 2) == ["2024-09-02 00:00 Mon", "2024-09-09 00:00 Mon"]
    # a step on the day of week counts as restricted; "*" on it means day-of-month alone decides
    assert runs("0 0 10 * *", "2024-09-01T00:00:00", 1) == ["2024-09-10 00:00 Tue"]
    assert runs("0 0 10 * */2", "2024-09-01T00:00:00", 2) == ["2024-09-03 00:00 Tue", "2024-09-05 00:00 Thu"]


def test_time_zone() -> None:
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    sched = parse_schedule("0 9 * * *")
    nxt = sched.next(t("2024-06-01T00:00:00"), berlin)
    assert nxt is not None and nxt.astimezone(UTC) == t("2024-06-01T07:00:00")
    # DST: 02:30 does not exist in Berlin on 2024-03-31, the run is skipped
    nxt = parse_schedule("30 2 * * *").next(t("2024-03-30T12:00:00"), berlin)
    assert nxt is not None and nxt.astimezone(berlin).strftime("%m-%d %H:%M") == "04-01 02:30"
    # fall back: 02:30 happens twice on 2024-10-27, the job runs once
    sched = parse_schedule("30 2 * * *")
    first = sched.next(t("2024-10-26T12:00:00"), berlin)
    assert first is not None
    second = sched.next(first, berlin)
    assert second is not None and second.astimezone(berlin).strftime("%m-%d %H:%M") == "10-28 02:30"


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("", "empty spec string"),
        ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
        ("* * * * * *", "expected exactly 5 fields, found 6"),
        ("60 * * * *", "end of range (60) above maximum (59): 60"),
        ("* 24 * * *", "end of range (24) above maximum (23): 24"),
        ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
        ("* * * 13 *", "end of range (13) above maximum (12): 13"),
        ("* * * * 7", "end of range (7) above maximum (6): 7"),
        ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
        ("*/0 * * * *", "step of range should be a positive number: */0"),
        ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
        ("*/2/3 * * * *", "too many slashes: */2/3"),
        ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
        ("* * * foo *", "failed to parse int from foo"),
        ("@every 5m", "unrecognized descriptor: @every 5m"),
        ("@fortnightly", "unrecognized descriptor: @fortnightly"),
        ("CRON_TZ=UTC * * * * *", "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"),
        ("TZ=UTC * * * * *", "cannot use TZ or CRON_TZ in schedule"),
    ],
)
def test_parse_errors(expr: str, message: str) -> None:
    with pytest.raises(CronError) as info:
        parse_schedule(expr)
    assert message in str(info.value)


def test_never_matching_schedule() -> None:
    assert parse_schedule("0 0 30 2 *").next(t("2024-01-01T00:00:00")) is None


def test_most_recent_and_missed_counts() -> None:
    sched = parse_schedule("*/10 * * * *")
    got = sched.most_recent(t("2024-01-01T00:00:00"), t("2024-01-01T00:35:00"))
    assert got.time == t("2024-01-01T00:30:00") and got.count == 3 and not got.too_many
    got = sched.most_recent(t("2024-01-01T00:00:00"), t("2024-01-01T00:05:00"))
    assert got.time is None and got.count == 0
    # boundaries: a run exactly at "now" counts, one exactly at "earliest" does not
    got = sched.most_recent(t("2024-01-01T00:10:00"), t("2024-01-01T00:20:00"))
    assert got.time == t("2024-01-01T00:20:00") and got.count == 1
    # years of downtime: counting stops past 100, the latest time is still found
    got = parse_schedule("* * * * *").most_recent(t("2020-01-01T00:00:00"), t("2024-01-01T00:00:30"))
    assert got.too_many and got.time == t("2024-01-01T00:00:00")
    got = parse_schedule("0 0 1 1 *").most_recent(t("1900-01-01T00:00:00"), t("2024-06-01T00:00:00"))
    assert got.too_many and got.time == t("2024-01-01T00:00:00")
