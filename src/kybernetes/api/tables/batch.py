"""Printers for ``batch``: jobs (STATUS, COMPLETIONS, DURATION) and cron jobs, as upstream's
``printers.go`` prints them (wide form).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kybernetes.api.selectors import format_label_selector
from kybernetes.api.tables._base import (
    Column,
    Obj,
    Printer,
    age,
    age_column,
    bool_ptr,
    container_cells,
    containers_columns,
    dig,
    human_duration,
    integer,
    items,
    name,
    name_column,
    parse_time,
    since,
    text,
)

_BATCH = "io.k8s.api.batch.v1."


def _completions(job: Obj) -> str:
    succeeded = integer(job, "status", "succeeded")
    completions = dig(job, "spec", "completions")
    if isinstance(completions, int) and not isinstance(completions, bool):
        return f"{succeeded}/{completions}"
    parallelism = integer(job, "spec", "parallelism")
    return f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"


def _duration(job: Obj, now: datetime) -> str:
    start = parse_time(dig(job, "status", "startTime"))
    if start is None:
        return ""
    end = parse_time(dig(job, "status", "completionTime"))
    return human_duration((end or now) - start)


def _condition_true(job: Obj, kind: str) -> bool:
    for cond in items(job, "status", "conditions"):
        if dig(cond, "type") == kind:
            return dig(cond, "status") == "True"
    return False


def job_status(job: Obj) -> str:
    if _condition_true(job, "Complete"):
        return "Complete"
    if _condition_true(job, "Failed"):
        return "Failed"
    if dig(job, "metadata", "deletionTimestamp") is not None:
        return "Terminating"
    if _condition_true(job, "Suspended"):
        return "Suspended"
    if _condition_true(job, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def _job_cells(job: Obj, now: datetime) -> list[Any]:
    return [
        name(job),
        job_status(job),
        _completions(job),
        _duration(job, now),
        age(job, now),
        *container_cells(items(job, "spec", "template", "spec", "containers")),
        format_label_selector(dig(job, "spec", "selector")),
    ]


JOB = Printer(
    (
        name_column(),
        Column("Status", doc="Status of the job."),
        Column("Completions", doc=(_BATCH + "JobStatus", "succeeded")),
        Column("Duration", doc="Time required to complete the job."),
        age_column(),
        *containers_columns((_BATCH + "JobSpec", "selector")),
    ),
    _job_cells,
)


def _cron_job_cells(cj: Obj, now: datetime) -> list[Any]:
    last = dig(cj, "status", "lastScheduleTime")
    job_spec = dig(cj, "spec", "jobTemplate", "spec") or {}
    return [
        name(cj),
        text(cj, "spec", "schedule"),
        "<none>" if dig(cj, "spec", "timeZone") is None else text(cj, "spec", "timeZone"),
        bool_ptr(dig(cj, "spec", "suspend")),
        len(items(cj, "status", "active")),
        "<none>" if last is None else since(last, now),
        age(cj, now),
        *container_cells(items(job_spec, "template", "spec", "containers")),
        format_label_selector(dig(job_spec, "selector")),
    ]


CRON_JOB = Printer(
    (
        name_column(),
        Column("Schedule", doc=(_BATCH + "CronJobSpec", "schedule")),
        Column("Timezone", doc=(_BATCH + "CronJobSpec", "timeZone")),
        Column("Suspend", "boolean", (_BATCH + "CronJobSpec", "suspend")),
        Column("Active", "integer", (_BATCH + "CronJobStatus", "active")),
        Column("Last Schedule", doc=(_BATCH + "CronJobStatus", "lastScheduleTime")),
        age_column(),
        *containers_columns((_BATCH + "JobSpec", "selector")),
    ),
    _cron_job_cells,
)
