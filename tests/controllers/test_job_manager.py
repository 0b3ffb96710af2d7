"""The batch and workload controllers as the ControllerManager runs them (registered names), with the
garbage collector: a finished Job's TTL deletes it and, in the foreground, its pods."""

from __future__ import annotations

import pytest

from kybernetes.client import ApiClient
from kybernetes.controllers.base import ControllerOptions
from tests.controllers._batch_fixtures import (
    FakeKubelet,
    condition_true,
    eventually,
    job_manifest,
    make_namespace,
)
from tests.controllers.conftest import StartManager

pytestmark = pytest.mark.timeout(60)


async def test_job_ttl_through_the_manager_with_gc(api: ApiClient, start_manager: StartManager) -> None:
    ns = await make_namespace(api, "mgr-jobs")
    options = ControllerOptions(
        job_backoff_base_seconds=0.05, job_backoff_max_seconds=0.2, extra={"gc_discovery_period": 2.0}
    )
    await start_manager(
        controllers=["job", "cronjob", "statefulset", "daemonset", "garbagecollector"], options=options
    )
    async with FakeKubelet(api, ns, run_seconds=0.3):
        await api.jobs.create(job_manifest("keep", ns, completions=2, parallelism=2))
        await api.jobs.create(job_manifest("short", ns, ttlSecondsAfterFinished=1))

        async def complete() -> dict | None:
            job = await api.jobs.get("keep", namespace=ns)
            return job if condition_true(job, "Complete") else None

        await eventually(complete, timeout=15, what="job complete")

        async def ttl_done() -> bool:
            names = {j["metadata"]["name"] for j in (await api.jobs.list(namespace=ns))["items"]}
            pods = (await api.pods.list(namespace=ns, label_selector="batch.kubernetes.io/job-name=short"))[
                "items"
            ]
            return names == {"keep"} and not pods

        await eventually(ttl_done, timeout=20, what="TTL deleted the job and the GC its pods")
