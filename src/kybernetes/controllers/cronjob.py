"""The CronJob controller (upstream ``pkg/controller/cronjob``, the v2 controller's semantics).

One reconcile of ``namespace/name``:

1. Reconcile ``status.active`` with the Jobs the CronJob controls (found through the informer, by owner
   uid): unfinished Jobs missing from the list are added; finished ones are removed with a
   ``SawCompletedJob`` event (and ``lastSuccessfulTime`` moves on ``Complete``); listed Jobs that no longer
   exist (confirmed with a GET, the cache may lag our own creates) are dropped with ``MissingJob``.
2. Delete finished Jobs beyond ``successfulJobsHistoryLimit`` / ``failedJobsHistoryLimit``, oldest first.
3. Unless suspended or being deleted: resolve ``spec.timeZone`` (``UnknownTimeZone`` if it does not
   exist; the controller's default zone otherwise, UTC unless ``ControllerOptions.extra["cronjob_timezone"]``
   says another), parse the schedule (``UnparseableSchedule``), and find the most recent unmet schedule
   time since ``lastScheduleTime`` (or creation), no earlier than ``now - startingDeadlineSeconds``. More
   than 100 missed times raise a ``TooManyMissedTimes`` warning and only the latest one runs.
4. Start a Job for it, named ``<cronjob>-<scheduled time in minutes since the epoch>`` (deterministic, so
   a retry never double-creates) and annotated ``batch.kubernetes.io/cronjob-scheduled-timestamp``,
   honouring ``concurrencyPolicy``: Allow; Forbid (skip with ``JobAlreadyActive`` while one runs); Replace
   (delete the running ones first). Events ``SuccessfulCreate`` / ``SuccessfulDelete``; ``status.active``
   and ``lastScheduleTime`` are written with compare-and-swap.
5. Requeue for the next schedule time.

Time is injectable: ``CronJobController(ctx, clock=...)`` or ``ctx.options.extra["clock"]`` (a callable
returning epoch seconds or an aware datetime); a clock with ``subscribe(callback)`` makes the controller
re-examine every CronJob whenever it moves, so tests never wait for real minutes. Cron parsing is
``cron.py``; the Jobs themselves are run by ``job.py``.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import functools
import logging
import time
import zoneinfo
from collections.abc import Sequence
from typing import Any

from kybernetes.api.errors import StatusError
from kybernetes.api.meta import ObjView as Obj
from kybernetes.api.meta import format_time, parse_datetime
from kybernetes.client import object_key, split_key
from kybernetes.controllers.base import (
    CONTROLLER_UID_INDEX,
    Controller,
    ControllerContext,
    controller_uid_index,
)
from kybernetes.controllers.util.cron import CronError, parse_schedule
from kybernetes.controllers.util.history import owner_reference

__all__ = ["SCHEDULED_TIMESTAMP_ANNOTATION", "CronJobController", "job_name_for"]

log = logging.getLogger(__name__)

SCHEDULED_TIMESTAMP_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
UTC = dt.UTC


def job_name_for(cronjob_name: str, scheduled: dt.datetime) -> str:
    """``<cronjob>-<minutes since the epoch>`` (upstream's ``getJobName``)."""
    return f"{cronjob_name}-{int(scheduled.timestamp()) // 60}"


def _finished(job: Obj) -> str | None:
    """ "Complete" or "Failed" when the Job has finished."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            return str(cond["type"])
    return None


def _job_ref(job: Obj) -> dict[str, Any]:
    md = job.get("metadata") or {}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "namespace": md.get("namespace"),
        "name": md.get("name"),
        "uid": md.get("uid"),
        "resourceVersion": md.get("resourceVersion"),
    }


class CronJobController(Controller):
    """Creates Jobs on a cron schedule."""

    name = "cronjob-controller"

    def __init__(self, ctx: ControllerContext, *, clock: Any = None) -> None:
        super().__init__(ctx)
        self._clock = clock or ctx.options.extra.get("clock") or time.time
        tz_name = ctx.options.extra.get("cronjob_timezone")
        self.default_tz: dt.tzinfo = zoneinfo.ZoneInfo(tz_name) if tz_name else UTC
        self.cronjobs = ctx.informers.informer(ctx.api.cronjobs)
        self.jobs = ctx.informers.informer(ctx.api.jobs)
        self.jobs.add_indexer(CONTROLLER_UID_INDEX, controller_uid_index)
        self.cronjobs.add_event_handler(self.enqueue_obj, self.enqueue_new, self.enqueue_obj)
        owner = functools.partial(self.enqueue_owner, "CronJob")
        self.jobs.add_event_handler(owner, owner, owner)
        subscribe = getattr(self._clock, "subscribe", None)
        if callable(subscribe):
            subscribe(self._clock_moved)

    def now(self) -> dt.datetime:
        value = self._clock() if callable(self._clock) else self._clock.now()
        if isinstance(value, dt.datetime):
            return value.astimezone(UTC)
        return dt.datetime.fromtimestamp(float(value), UTC)

    def _clock_moved(self, *_: Any) -> None:
        for cj in self.cronjobs.list():
            self.queue.add(object_key(cj))

    def background(self) -> Any:
        return self._resync()

    async def _resync(self) -> None:
        """Look at every CronJob periodically too (upstream's v1 controller polled every 10 s)."""
        while True:
            await asyncio.sleep(self.ctx.options.cronjob_sync_period)
            self._clock_moved()

    # --- reconcile ------------------------------------------------------------------------------------
    async def reconcile(self, key: str) -> None:
        ns, name = split_key(key)
        cached = self.cronjobs.get(name, ns)
        if cached is None:
            return
        cj: dict[str, Any] = copy.deepcopy(dict(cached))
        try:
            requeue = await self._sync(cj)
        except StatusError as exc:
            if exc.code != 409:
                raise
            requeue = 0.05  # our cache was behind our own write
        if requeue is not None:
            self.queue.add_after(key, requeue)

    async def _sync(self, cj: dict[str, Any]) -> float | None:
        """Returns seconds until the next look, or None."""
        md = cj["metadata"]
        spec = cj.get("spec") or {}
        ns = str(md["namespace"])
        old_status = copy.deepcopy(cj.get("status") or {})
        status: dict[str, Any] = copy.deepcopy(old_status)
        active: list[dict[str, Any]] = list(status.get("active") or [])
        now = self.now()
        jobs = self.jobs.by_index(CONTROLLER_UID_INDEX, str(md["uid"]))

        # 1. active list vs the Jobs we control
        active_uids = {a.get("uid") for a in active}
        for job in jobs:
            jmd = job.get("metadata") or {}
            finished = _finished(job)
            listed = jmd.get("uid") in active_uids
            if not listed and finished is None:
                active.append(_job_ref(job))
            elif listed and finished is not None:
                active = [a for a in active if a.get("uid") != jmd.get("uid")]
                self.recorder.normal(
                    cj, "SawCompletedJob", f"Saw completed job: {jmd.get('name')}, condition: {finished}"
                )
                if finished == "Complete":
                    done = parse_datetime((job.get("status") or {}).get("completionTime"))
                    last = parse_datetime(status.get("lastSuccessfulTime"))
                    if done is not None and (last is None or done > last):
                        status["lastSuccessfulTime"] = format_time(done)
        known = {(j.get("metadata") or {}).get("uid") for j in jobs}
        for ref in list(active):
            if ref.get("uid") in known:
                continue
            try:
                got = await self.api.jobs.get(str(ref.get("name")), namespace=ns)
                if got["metadata"].get("uid") == ref.get("uid"):
                    continue
            except StatusError as exc:
                if exc.code != 404:
                    raise
            self.recorder.normal(cj, "MissingJob", f"Active job went missing: {ref.get('name')}")
            active = [a for a in active if a.get("uid") != ref.get("uid")]

        # 2. history limits
        await self._cleanup(cj, jobs, active)

        def write() -> None:
            if active:
                status["active"] = active
            else:
                status.pop("active", None)

        if md.get("deletionTimestamp") or spec.get("suspend"):
            write()
            await self._write_status(cj, status, old_status)
            return None

        # 3. zone, schedule, most recent unmet time
        tz: dt.tzinfo = self.default_tz
        if spec.get("timeZone"):
            try:
                tz = zoneinfo.ZoneInfo(str(spec["timeZone"]))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
                self.recorder.warning(cj, "UnknownTimeZone", f"invalid timeZone: {spec['timeZone']!r}: {exc}")
                write()
                await self._write_status(cj, status, old_status)
                return None
        try:
            schedule = parse_schedule(str(spec.get("schedule") or ""))
        except CronError as exc:
            self.recorder.warning(
                cj, "UnparseableSchedule", f"unparseable schedule: {spec.get('schedule')!r} : {exc}"
            )
            write()
            await self._write_status(cj, status, old_status)
            return None

        earliest = (
            parse_datetime(status.get("lastScheduleTime"))
            or parse_datetime(md.get("creationTimestamp"))
            or now
        )
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None:
            earliest = max(earliest, now - dt.timedelta(seconds=int(deadline)))
        missed = schedule.most_recent(earliest, now, tz)
        if missed.too_many:
            self.recorder.warning(
                cj,
                "TooManyMissedTimes",
                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew",
            )
        next_in = self._next_delay(schedule, now, tz)
        scheduled = missed.time
        if scheduled is None:
            write()
            await self._write_status(cj, status, old_status)
            return next_in
        if deadline is not None and scheduled + dt.timedelta(seconds=int(deadline)) < now:
            self.recorder.warning(
                cj, "MissSchedule", f"Missed scheduled time to start a job: {format_time(scheduled)}"
            )
            write()
            await self._write_status(cj, status, old_status)
            return next_in
        job_name = job_name_for(str(md["name"]), scheduled)
        last_scheduled = parse_datetime(status.get("lastScheduleTime"))
        if any(a.get("name") == job_name for a in active) or last_scheduled == scheduled:
            write()
            await self._write_status(cj, status, old_status)
            return next_in

        # 4. concurrency policy, then the Job
        policy = spec.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and active:
            self.recorder.normal(
                cj,
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is Forbid",
            )
            write()
            await self._write_status(cj, status, old_status)
            return next_in
        if policy == "Replace":
            for ref in list(active):
                try:
                    await self.api.jobs.delete(
                        str(ref.get("name")), namespace=ns, propagation_policy="Background"
                    )
                except StatusError as exc:
                    if exc.code != 404:
                        raise
                self.recorder.normal(cj, "SuccessfulDelete", f"Deleted job {ref.get('name')}")
                active = [a for a in active if a.get("uid") != ref.get("uid")]

        job = self._job_for(cj, job_name, scheduled, tz)
        try:
            created = await self.api.jobs.create(job)
        except StatusError as exc:
            if exc.code != 409:
                self.recorder.warning(cj, "FailedCreate", f"Error creating job: {exc.message}")
                raise
            created = await self.api.jobs.get(job_name, namespace=ns)
            owned = any(r.get("uid") == md["uid"] for r in created["metadata"].get("ownerReferences") or [])
            if not owned:
                self.recorder.warning(cj, "FailedCreate", f"Error creating job: {exc.message}")
                return next_in
        else:
            self.recorder.normal(cj, "SuccessfulCreate", f"Created job {job_name}")
        if _finished(created) is None and all(a.get("uid") != created["metadata"]["uid"] for a in active):
            active.append(_job_ref(created))
        status["lastScheduleTime"] = format_time(scheduled)
        write()
        await self._write_status(cj, status, old_status)
        return next_in

    def _next_delay(self, schedule: Any, now: dt.datetime, tz: dt.tzinfo) -> float | None:
        nxt = schedule.next(now, tz)
        if nxt is None:
            return None
        return max(0.01, (nxt - now).total_seconds() + 0.01)

    def _job_for(self, cj: Obj, name: str, scheduled: dt.datetime, tz: dt.tzinfo) -> dict[str, Any]:
        md = cj["metadata"]
        template = copy.deepcopy((cj.get("spec") or {}).get("jobTemplate") or {})
        tmd = template.get("metadata") or {}
        annotations = dict(tmd.get("annotations") or {})
        annotations[SCHEDULED_TIMESTAMP_ANNOTATION] = (
            scheduled.astimezone(tz).isoformat().replace("+00:00", "Z")
        )
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": name,
                "namespace": md["namespace"],
                "labels": dict(tmd.get("labels") or {}),
                "annotations": annotations,
                "ownerReferences": [owner_reference(cj, "batch/v1", "CronJob")],
            },
            "spec": template.get("spec") or {},
        }

    async def _cleanup(self, cj: Obj, jobs: Sequence[Obj], active: Sequence[Obj]) -> None:
        spec = cj.get("spec") or {}
        active_uids = {a.get("uid") for a in active}
        for ctype, limit_field in (
            ("Complete", "successfulJobsHistoryLimit"),
            ("Failed", "failedJobsHistoryLimit"),
        ):
            limit = spec.get(limit_field)
            if limit is None:
                continue
            done = [
                j
                for j in jobs
                if _finished(j) == ctype
                and (j.get("metadata") or {}).get("uid") not in active_uids
                and not (j.get("metadata") or {}).get("deletionTimestamp")
            ]
            done.sort(
                key=lambda j: (
                    (j.get("status") or {}).get("startTime")
                    or (j.get("metadata") or {}).get("creationTimestamp")
                    or "",
                    (j.get("metadata") or {}).get("name") or "",
                )
            )
            for job in done[: max(0, len(done) - int(limit))]:
                jmd = job["metadata"]
                try:
                    await self.api.jobs.delete(
                        jmd["name"], namespace=jmd["namespace"], propagation_policy="Background"
                    )
                except StatusError as exc:
                    if exc.code != 404:
                        raise
                    continue
                self.recorder.normal(cj, "SuccessfulDelete", f"Deleted job {jmd['name']}")

    async def _write_status(self, cj: dict[str, Any], status: dict[str, Any], old: dict[str, Any]) -> None:
        if status == old:
            return
        await self.api.cronjobs.update_status({**cj, "status": status})
