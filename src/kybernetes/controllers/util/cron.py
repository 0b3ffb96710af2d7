"""Cron schedules for the CronJob controller: parsing and "when is the next run".

The syntax is the standard 5-field one upstream's CronJob accepts (robfig/cron v3 ``ParseStandard``):
``minute hour day-of-month month day-of-week`` where each field is a comma list of ``*``/``?``, a value,
a range ``a-b`` and an optional step ``/n``; months and weekdays accept names (``jan``, ``mon``, any
case), weekday 0 is Sunday. Descriptors ``@yearly``/``@annually``, ``@monthly``, ``@weekly``,
``@daily``/``@midnight``, ``@hourly`` are shorthands. ``@every`` is not supported (CronJobs should not
depend on it) and ``TZ=``/``CRON_TZ=`` prefixes are rejected: CronJobs name their zone in
``spec.timeZone`` instead (the API server's validation rejects the prefix with upstream's message; the
controller refuses it too).

Day matching follows cron (and robfig): when both day-of-month and day-of-week are restricted (neither
starts with ``*``/``?``, a ``*/n`` step counts as restricted), a day matches if either matches;
otherwise both must.

Times are evaluated as wall-clock times in a ``tzinfo`` (``zoneinfo.ZoneInfo``); a wall time that does
not exist (skipped by a DST jump forward) is skipped, an ambiguous one (DST fall back) runs once, at its
first occurrence. ``Schedule.next(after)`` is the first run strictly after ``after``. The controller
(``cronjob.py``) uses ``most_recent(earliest, now)`` for missed-schedule handling.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = ["CronError", "MissedSchedules", "Schedule", "parse_schedule"]

MONTH_NAMES = {
    name: i + 1
    for i, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    )
}
DOW_NAMES = {name: i for i, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# (low, high, names) of minute, hour, day-of-month, month, day-of-week
_FIELDS: tuple[tuple[int, int, dict[str, int] | None], ...] = (
    (0, 59, None),
    (0, 23, None),
    (1, 31, None),
    (1, 12, MONTH_NAMES),
    (0, 6, DOW_NAMES),
)
# Searching further than this many years for a match means the schedule never fires (e.g. Feb 30).
_MAX_YEARS = 5
UTC = dt.UTC


class CronError(ValueError):
    """An unparseable schedule (the message says why, in robfig's words where it has them)."""


def _number(expr: str, names: dict[str, int] | None) -> int:
    if names is not None and expr.lower() in names:
        return names[expr.lower()]
    if not expr.isdigit():
        raise CronError(f'failed to parse int from {expr}: strconv.Atoi: parsing "{expr}": invalid syntax')
    return int(expr)


def _parse_field(expr: str, low: int, high: int, names: dict[str, int] | None) -> tuple[frozenset[int], bool]:
    """The values of one field and whether it is unrestricted (a ``*``/``?`` without a step > 1)."""
    values: set[int] = set()
    star = False
    for part in expr.split(","):
        range_step = part.split("/")
        if len(range_step) > 2:
            raise CronError(f"too many slashes: {part}")
        bounds = range_step[0].split("-")
        if bounds[0] in ("*", "?"):
            if len(bounds) > 1:
                raise CronError(f"too many hyphens: {part}")
            start, end, part_star = low, high, True
        else:
            if len(bounds) > 2:
                raise CronError(f"too many hyphens: {part}")
            start = _number(bounds[0], names)
            end = _number(bounds[1], names) if len(bounds) == 2 else start
            part_star = False
        step = 1
        if len(range_step) == 2:
            step = _number(range_step[1], None)
            if len(bounds) == 1 and bounds[0] not in ("*", "?"):
                end = high  # "N/step" means "N-high/step"
            if step > 1:
                part_star = False
        if start < low:
            raise CronError(f"beginning of range ({start}) below minimum ({low}): {part}")
        if end > high:
            raise CronError(f"end of range ({end}) above maximum ({high}): {part}")
        if start > end:
            raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {part}")
        if step == 0:
            raise CronError(f"step of range should be a positive number: {part}")
        values.update(range(start, end + 1, step))
        star = star or part_star
    return frozenset(values), star


@dataclass(frozen=True)
class MissedSchedules:
    """What ``Schedule.most_recent`` found between the earliest time and now."""

    time: dt.datetime | None  # the most recent run time in (earliest, now], if any
    count: int  # how many run times were missed (capped at ``limit + 1``)
    too_many: bool  # more than ``limit`` run times were missed


@dataclass(frozen=True)
class Schedule:
    """A parsed 5-field schedule. Build with ``parse_schedule``."""

    expr: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_star: bool
    weekdays_star: bool

    def _day_matches(self, day: dt.date) -> bool:
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        if self.days_star or self.weekdays_star:
            return dom and dow
        return dom or dow

    def _next_wall(self, after: dt.datetime) -> dt.datetime | None:
        """The first naive wall-clock time strictly after naive ``after`` that matches."""
        t = after.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        limit_year = after.year + _MAX_YEARS
        while t.year <= limit_year:
            if t.month not in self.months:
                year, month = (t.year + 1, 1) if t.month == 12 else (t.year, t.month + 1)
                t = dt.datetime(year, month, 1)
                continue
            if not self._day_matches(t.date()):
                t = dt.datetime(t.year, t.month, t.day) + dt.timedelta(days=1)
                continue
            if t.hour not in self.hours:
                t = t.replace(minute=0) + dt.timedelta(hours=1)
                continue
            if t.minute not in self.minutes:
                t += dt.timedelta(minutes=1)
                continue
            return t
        return None

    def next(self, after: dt.datetime, tz: dt.tzinfo = UTC) -> dt.datetime | None:
        """The first run strictly after aware ``after``, evaluated in ``tz``; None if it never runs."""
        local = after.astimezone(tz)
        wall = local.replace(tzinfo=None)
        while True:
            cand = self._next_wall(wall)
            if cand is None:
                return None
            aware = cand.replace(tzinfo=tz, fold=0)
            # a wall time in a DST gap does not round-trip: skip it
            if aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != cand:
                wall = cand
                continue
            if aware > after:
                return aware
            wall = cand

    def most_recent(
        self, earliest: dt.datetime, now: dt.datetime, tz: dt.tzinfo = UTC, *, limit: int = 100
    ) -> MissedSchedules:
        """The latest run time in ``(earliest, now]`` and how many were missed in that window.

        Counting stops past ``limit``; the most recent time is then found by searching back from ``now``
        in growing windows, so a controller that was down for years neither spins nor runs every
        missed schedule.
        """
        count = 0
        last: dt.datetime | None = None
        t = self.next(earliest, tz)
        while t is not None and t <= now:
            count += 1
            last = t
            if count > limit:
                break
            t = self.next(t, tz)
        if count <= limit:
            return MissedSchedules(last, count, False)
        for window in (
            dt.timedelta(hours=2),
            dt.timedelta(days=2),
            dt.timedelta(days=63),
            dt.timedelta(days=800),
        ):
            start = max(earliest, now - window)
            found: dt.datetime | None = None
            t = self.next(start, tz)
            while t is not None and t <= now:
                found = t
                t = self.next(t, tz)
            if found is not None:
                return MissedSchedules(found, count, True)
        return MissedSchedules(last, count, True)


def parse_schedule(spec: str) -> Schedule:
    """Parse a CronJob schedule; raises ``CronError`` (a ``ValueError``) with the reason."""
    text = spec.strip()
    if not text:
        raise CronError("empty spec string")
    if text.startswith(("TZ=", "CRON_TZ=")):
        raise CronError("cannot use TZ or CRON_TZ in schedule, use timeZone field instead")
    if text.startswith("@"):
        expanded = DESCRIPTORS.get(text.lower())
        if expanded is None:
            raise CronError(f"unrecognized descriptor: {text}")
        text = expanded
    fields = text.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    parsed = [
        _parse_field(expr, lo, hi, names) for expr, (lo, hi, names) in zip(fields, _FIELDS, strict=True)
    ]
    return Schedule(
        expr=spec,
        minutes=parsed[0][0],
        hours=parsed[1][0],
        days=parsed[2][0],
        months=parsed[3][0],
        weekdays=parsed[4][0],
        days_star=parsed[2][1],
        weekdays_star=parsed[4][1],
    )
