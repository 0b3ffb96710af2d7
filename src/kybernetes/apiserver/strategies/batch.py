"""Strategies of batch/v1 kinds. Jobs: the server generates the selector and template labels from the
Job's uid (upstream's ``generateSelector``) unless ``spec.manualSelector`` is set; CronJobs."""

from __future__ import annotations

from typing import Any

from kybernetes.api import defaults, selectors
from kybernetes.api.tables import batch as batch_tables
from kybernetes.api.validation import TypeRules
from kybernetes.api.validation import batch as batch_validation
from kybernetes.apiserver.strategies.base import Strategy


class JobStrategy(Strategy):
    rules = TypeRules(
        create=batch_validation.create_job,
        update=batch_validation.update_job,
        status=batch_validation.status_job,
    )
    printer = batch_tables.JOB
    field_rules = selectors.JOB_FIELDS
    tracks_generation = True

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_job(obj)

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        super().prepare_for_create(obj)
        defaults.apply_job_selector(obj)


class CronJobStrategy(Strategy):
    rules = TypeRules(create=batch_validation.create_cron_job, update=batch_validation.update_cron_job)
    printer = batch_tables.CRON_JOB
    tracks_generation = True

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_cron_job(obj)
