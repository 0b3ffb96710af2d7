"""Job controller against a real API server, with a fake kubelet finishing pods."""

from __future__ import annotations

import pytest

from kybernetes.client import ApiClient
from kybernetes.controllers.job import JobController
from tests.controllers._batch_fixtures import (
    FakeKubelet,
    Server,
    api,
    condition,
    condition_true,
    eventually,
    job_manifest,
    kubectl,
    make_namespace,
    running,
    server,
)

__all__ = ["api", "server"]

pytestmark = pytest.mark.timeout(60)


async def _job(api: ApiClient, ns: str, name: str) -> dict:
    return await api.jobs.get(name, namespace=ns)


async def test_job_completes_with_parallelism(server: Server, api: ApiClient) -> None:
    ns = await make_namespace(api, "job-par")
    async with running(api, [JobController]), FakeKubelet(api, ns, run_seconds=0.2):
        await api.jobs.create(job_manifest("pi", ns, completions=3, parallelism=2))
        pods = await eventually(lambda: _all_pods(api, ns), what="first pods")
        assert len([p for p in pods if p["status"].get("phase") not in ("Succeeded", "Failed")]) <= 2
        done = await eventually(lambda: _finished(api, ns, "pi", "Complete"), timeout=15, what="job complete")
        assert done["status"]["succeeded"] == 3
        assert done["status"].get("failed", 0) == 0
        assert done["status"]["completionTime"]
        assert condition_true(done, "SuccessCriteriaMet")
        assert done["status"]["uncountedTerminatedPods"] == {}
        code, out, err = await kubectl(
            server, "-n", ns, "wait", "--for=condition=complete", "job/pi", "--timeout=10s"
        )
        assert code == 0, err
        assert "condition met" in out
        pods = (await api.pods.list(namespace=ns))["items"]
        assert len(pods) == 3
        for pod in pods:
            assert "batch.kubernetes.io/job-tracking" not in (pod["metadata"].get("finalizers") or [])
            assert pod["metadata"]["name"].startswith("pi-")
            assert pod["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "pi"
        events = (await api.events.list(namespace=ns))["items"]
        reasons = {e["reason"] for e in events}
        assert {"SuccessfulCreate", "Completed"} <= reasons


async def _all_pods(api: ApiClient, ns: str) -> list[dict]:
    return (await api.pods.list(namespace=ns))["items"]


async def _active_pods(api: ApiClient, ns: str) -> list[dict]:
    items = (await api.pods.list(namespace=ns))["items"]
    return [p for p in items if p["status"].get("phase") not in ("Succeeded", "Failed")]


async def _finished(api: ApiClient, ns: str, name: str, ctype: str) -> dict | None:
    job = await _job(api, ns, name)
    return job if condition_true(job, ctype) else None


async def test_backoff_limit_exceeded(api: ApiClient) -> None:
    ns = await make_namespace(api, "job-fail")
    async with running(api, [JobController]), FakeKubelet(api, ns):
        await api.jobs.create(job_manifest("bad", ns, outcome="Failed", backoffLimit=2))
        job = await eventually(lambda: _finished(api, ns, "bad", "Failed"), timeout=15, what="job failed")
        cond = condition(job, "Failed")
        assert cond is not None and cond["reason"] == "BackoffLimitExceeded"
        assert condition_true(job, "FailureTarget")
        assert job["status"]["failed"] == 3
        assert job["status"].get("active", 0) == 0
        assert not condition_true(job, "Complete")


async def test_indexed_job_completes_all_indexes(api: ApiClient) -> None:
    ns = await make_namespace(api, "job-idx")
    async with running(api, [JobController]), FakeKubelet(api, ns):
        await api.jobs.create(job_manifest("idx", ns, completions=4, parallelism=2, completionMode="Indexed"))
        job = await eventually(lambda: _finished(api, ns, "idx", "Complete"), timeout=15, what="indexed done")
        assert job["status"]["completedIndexes"] == "0-3"
        assert job["status"]["succeeded"] == 4
        pods = (await api.pods.list(namespace=ns))["items"]
        indexes = sorted(
            int(p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]) for p in pods
        )
        assert indexes == [0, 1, 2, 3]
        for pod in pods:
            ix = pod["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
            assert pod["metadata"]["name"].startswith(f"idx-{ix}-")
            assert pod["spec"]["hostname"] == f"idx-{ix}"


async def test_pod_failure_policy_fail_job(api: ApiClient) -> None:
    ns = await make_namespace(api, "job-pfp")
    policy = {
        "rules": [
            {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}},
        ]
    }
    async with running(api, [JobController]), FakeKubelet(api, ns):
        await api.jobs.create(
            job_manifest("pfp", ns, outcome="Failed", exit_code=42, backoffLimit=6, podFailurePolicy=policy)
        )
        job = await eventually(lambda: _finished(api, ns, "pfp", "Failed"), timeout=15, what="job failed")
        cond = condition(job, "Failed")
        assert cond is not None and cond["reason"] == "PodFailurePolicy"
        assert "exit code 42" in cond["message"] and "FailJob rule at index 0" in cond["message"]
        assert job["status"]["failed"] == 1


async def test_pod_failure_policy_ignore_then_backoff(api: ApiClient) -> None:
    ns = await make_namespace(api, "job-ign")
    policy = {"rules": [{"action": "Ignore", "onExitCodes": {"operator": "In", "values": [7]}}]}
    seen: list[str] = []

    def decide(pod: dict) -> tuple[str, int]:
        # the first pod fails with an ignored code, the next ones succeed
        seen.append(pod["metadata"]["name"])
        first = pod["metadata"]["name"] == seen[0]
        return ("Failed", 7) if first else ("Succeeded", 0)

    async with running(api, [JobController]), FakeKubelet(api, ns, decide=decide):
        await api.jobs.create(job_manifest("ign", ns, backoffLimit=0, podFailurePolicy=policy))
        job = await eventually(lambda: _finished(api, ns, "ign", "Complete"), timeout=15, what="job complete")
        assert job["status"].get("failed", 0) == 0
        assert job["status"]["succeeded"] == 1


async def test_active_deadline_seconds(api: ApiClient) -> None:
    ns = await make_namespace(api, "job-ads")
    async with running(api, [JobController]), FakeKubelet(api, ns):
        await api.jobs.create(
            job_manifest("slow", ns, outcome="Running", parallelism=2, completions=2, activeDeadlineSeconds=1)
        )
        await eventually(lambda: _active_pods(api, ns), what="pods running")
        job = await eventually(lambda: _finished(api, ns, "slow", "Failed"), timeout=15, what="deadline")
        cond = condition(job, "Failed")
        assert cond is not None and cond["reason"] == "DeadlineExceeded"
        assert cond["message"] == "Job was active longer than specified deadline"
        await eventually(lambda: _no_pods(api, ns), what="pods deleted")


async def _no_pods(api: ApiClient, ns: str) -> bool:
    return not (await api.pods.list(namespace=ns))["items"]


async def test_suspend_and_resume(api: ApiClient) -> None:
    ns = await make_namespace(api, "job-sus")
    async with running(api, [JobController]), FakeKubelet(api, ns) as kubelet:
        kubelet.paused = True
        await api.jobs.create(job_manifest("sus", ns, suspend=True))
        job = await eventually(lambda: _finished(api, ns, "sus", "Suspended"), what="suspended")
        assert "startTime" not in job["status"]
        assert not (await api.pods.list(namespace=ns))["items"]
        kubelet.paused = False
        await api.jobs.patch("sus", {"spec": {"suspend": False}}, namespace=ns)
        job = await eventually(lambda: _finished(api, ns, "sus", "Complete"), timeout=15, what="complete")
        cond = condition(job, "Suspended")
        assert cond is not None and cond["status"] == "False" and cond["reason"] == "JobResumed"


async def test_ttl_after_finished_deletes_job(api: ApiClient) -> None:
    """The TTL deletes a finished Job in the foreground (upstream's ttlafterfinished controller). With no
    garbage collector running, the API server still adds ``foregroundDeletion`` (as upstream's does), so
    the Job stays marked until a collector removes it: ``test_job_manager.py`` runs the collector too and
    sees it gone."""
    ns = await make_namespace(api, "job-ttl")
    async with running(api, [JobController]), FakeKubelet(api, ns):
        await api.jobs.create(job_manifest("ttl", ns, ttlSecondsAfterFinished=0))

        async def marked_for_foreground_deletion() -> bool:
            md = (await api.jobs.get("ttl", namespace=ns))["metadata"]
            return bool(md.get("deletionTimestamp")) and md.get("finalizers") == ["foregroundDeletion"]

        await eventually(marked_for_foreground_deletion, timeout=15, what="job deleted by TTL")


async def test_backoff_limit_per_index_and_fail_index(api: ApiClient) -> None:
    ns = await make_namespace(api, "job-bpi")
    policy = {"rules": [{"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [3]}}]}

    def decide(pod: dict) -> tuple[str, int]:
        ix = pod["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
        return {"0": ("Succeeded", 0), "1": ("Failed", 1), "2": ("Failed", 3)}[ix]

    async with running(api, [JobController]), FakeKubelet(api, ns, decide=decide):
        await api.jobs.create(
            job_manifest(
                "bpi",
                ns,
                completions=3,
                parallelism=3,
                completionMode="Indexed",
                backoffLimitPerIndex=1,
                podFailurePolicy=policy,
            )
        )
        job = await eventually(lambda: _finished(api, ns, "bpi", "Failed"), timeout=15, what="job failed")
        cond = condition(job, "Failed")
        assert cond is not None and cond["reason"] == "FailedIndexes"
        assert job["status"]["completedIndexes"] == "0"
        assert job["status"]["failedIndexes"] == "1-2"
        pods = (await api.pods.list(namespace=ns))["items"]
        per_index: dict[str, list[str]] = {}
        for pod in pods:
            ann = pod["metadata"]["annotations"]
            per_index.setdefault(ann["batch.kubernetes.io/job-completion-index"], []).append(
                ann["batch.kubernetes.io/job-index-failure-count"]
            )
        # index 1 retried once (limit 1), index 2 failed at once by the FailIndex rule
        assert sorted(per_index["1"]) == ["0", "1"]
        assert per_index["2"] == ["0"]
