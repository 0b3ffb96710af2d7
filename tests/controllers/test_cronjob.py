"""CronJob controller with an injected clock against a real API server."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kybernetes.client import ApiClient
from kybernetes.controllers.cronjob import CronJobController
from kybernetes.controllers.job import JobController
from tests.controllers._batch_fixtures import (
    FakeClock,
    FakeKubelet,
    api,
    condition_true,
    eventually,
    fast_options,
    job_manifest,
    make_namespace,
    running,
    server,
)

__all__ = ["api", "server"]

pytestmark = pytest.mark.timeout(60)


def cronjob(name: str, ns: str, schedule: str = "* * * * *", outcome: str = "Succeeded", **spec: Any) -> dict:
    job = job_manifest("x", ns, outcome=outcome)
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "schedule": schedule,
            "jobTemplate": {"metadata": {"labels": {"cron": name}}, "spec": job["spec"]},
            **spec,
        },
    }


async def _jobs(api: ApiClient, ns: str) -> list[dict]:
    items = (await api.jobs.list(namespace=ns))["items"]
    return sorted(items, key=lambda j: j["metadata"]["name"])


async def _create(api: ApiClient, ns: str, body: dict) -> tuple[dict, dt.datetime]:
    cj = await api.cronjobs.create(body)
    created = dt.datetime.fromisoformat(cj["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
    return cj, created


def _minute_after(when: dt.datetime, minutes: int = 1) -> dt.datetime:
    return when.replace(second=0, microsecond=0) + dt.timedelta(minutes=minutes)


async def _reasons(api: ApiClient, ns: str) -> set[str]:
    return {e["reason"] for e in (await api.events.list(namespace=ns))["items"]}


async def test_creates_jobs_on_schedule_and_keeps_history(api: ApiClient) -> None:
    ns = await make_namespace(api, "cj-allow")
    clock = FakeClock(0)
    opts = fast_options(clock=clock)
    async with running(api, [CronJobController, JobController], opts), FakeKubelet(api, ns):
        _, created = await _create(api, ns, cronjob("every", ns, successfulJobsHistoryLimit=2))
        clock.set(created)
        for i in range(1, 5):
            tick = _minute_after(created, i)
            clock.set(tick + dt.timedelta(seconds=3))
            name = f"every-{int(tick.timestamp()) // 60}"

            async def done(name: str = name) -> dict | None:
                jobs = {j["metadata"]["name"]: j for j in await _jobs(api, ns)}
                job = jobs.get(name)
                return job if job is not None and condition_true(job, "Complete") else None

            job = await eventually(done, timeout=10, what=f"job {name} complete")
            ann = job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
            assert ann == tick.strftime("%Y-%m-%dT%H:%M:%SZ")
            assert job["metadata"]["labels"]["cron"] == "every"
            assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"

            async def seen(tick: dt.datetime = tick) -> dict | None:
                cur = await api.cronjobs.get("every", namespace=ns)
                st = cur.get("status") or {}
                ok = st.get("lastScheduleTime") == tick.strftime("%Y-%m-%dT%H:%M:%SZ") and not st.get(
                    "active"
                )
                return cur if ok and st.get("lastSuccessfulTime") else None

            await eventually(seen, what="status caught up")

        async def trimmed() -> list[dict] | None:
            jobs = await _jobs(api, ns)
            return jobs if len(jobs) == 2 else None

        jobs = await eventually(trimmed, what="history limit")
        assert [j["metadata"]["name"] for j in jobs] == [
            f"every-{int(_minute_after(created, i).timestamp()) // 60}" for i in (3, 4)
        ]
        assert {"SuccessfulCreate", "SawCompletedJob", "SuccessfulDelete"} <= await _reasons(api, ns)


async def test_forbid_skips_while_active(api: ApiClient) -> None:
    ns = await make_namespace(api, "cj-forbid")
    clock = FakeClock(0)
    async with running(api, [CronJobController], fast_options(clock=clock)):
        _, created = await _create(api, ns, cronjob("fb", ns, concurrencyPolicy="Forbid"))
        clock.set(_minute_after(created) + dt.timedelta(seconds=1))
        await eventually(lambda: _jobs(api, ns), what="first job")
        clock.set(_minute_after(created, 2) + dt.timedelta(seconds=1))

        async def skipped() -> bool:
            return "JobAlreadyActive" in await _reasons(api, ns)

        await eventually(skipped, what="JobAlreadyActive event")
        assert len(await _jobs(api, ns)) == 1
        cur = await api.cronjobs.get("fb", namespace=ns)
        assert len(cur["status"]["active"]) == 1


async def test_replace_deletes_running_job(api: ApiClient) -> None:
    ns = await make_namespace(api, "cj-replace")
    clock = FakeClock(0)
    async with running(api, [CronJobController], fast_options(clock=clock)):
        _, created = await _create(api, ns, cronjob("rp", ns, concurrencyPolicy="Replace"))
        clock.set(_minute_after(created) + dt.timedelta(seconds=1))
        first = (await eventually(lambda: _jobs(api, ns), what="first job"))[0]
        clock.set(_minute_after(created, 2) + dt.timedelta(seconds=1))
        second_name = f"rp-{int(_minute_after(created, 2).timestamp()) // 60}"

        async def replaced() -> list[dict] | None:
            jobs = await _jobs(api, ns)
            return jobs if [j["metadata"]["name"] for j in jobs] == [second_name] else None

        await eventually(replaced, what="replacement")
        assert first["metadata"]["name"] != second_name

        async def active_is_second() -> bool:
            st = (await api.cronjobs.get("rp", namespace=ns)).get("status") or {}
            return [a["name"] for a in st.get("active") or []] == [second_name]

        await eventually(active_is_second, what="active list")


async def test_missed_schedules_and_suspend(api: ApiClient) -> None:
    ns = await make_namespace(api, "cj-missed")
    clock = FakeClock(0)
    async with running(api, [CronJobController], fast_options(clock=clock)):
        _, created = await _create(api, ns, cronjob("late", ns, suspend=True))
        # suspended: nothing runs however much time passes
        clock.set(created + dt.timedelta(minutes=5))
        cur = await api.cronjobs.get("late", namespace=ns)
        assert not await _jobs(api, ns)
        # 200 minutes of downtime: a warning, and only the latest schedule runs
        now = _minute_after(created, 200) + dt.timedelta(seconds=10)
        clock.set(now)
        await api.cronjobs.patch("late", {"spec": {"suspend": False}}, namespace=ns)
        jobs = await eventually(lambda: _jobs(api, ns), what="late job")
        assert [j["metadata"]["name"] for j in jobs] == [f"late-{int(now.timestamp()) // 60}"]

        async def warned() -> bool:
            return "TooManyMissedTimes" in await _reasons(api, ns)

        await eventually(warned, what="TooManyMissedTimes")
        cur = await api.cronjobs.get("late", namespace=ns)
        assert cur["status"]["lastScheduleTime"] == _minute_after(created, 200).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_starting_deadline_and_time_zone(api: ApiClient) -> None:
    ns = await make_namespace(api, "cj-tz")
    clock = FakeClock(0)
    async with running(api, [CronJobController], fast_options(clock=clock)):
        # hourly at minute 0 in a zone 5:30 off UTC: runs at :30 UTC
        _, created = await _create(
            api,
            ns,
            cronjob("tz", ns, schedule="0 * * * *", timeZone="Asia/Kolkata", startingDeadlineSeconds=30),
        )
        base = created.replace(minute=30, second=0, microsecond=0)
        if base <= created:
            base += dt.timedelta(hours=1)
        # 2 minutes late with a 30 s deadline: not started
        clock.set(base + dt.timedelta(minutes=2))
        await api.cronjobs.patch("tz", {"metadata": {"labels": {"poke": "1"}}}, namespace=ns)
        clock.set(base + dt.timedelta(hours=1, seconds=5))
        jobs = await eventually(lambda: _jobs(api, ns), what="zoned job")
        assert len(jobs) == 1
        ann = jobs[0]["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
        assert ann.endswith("+05:30") and ":00:00+" in ann
