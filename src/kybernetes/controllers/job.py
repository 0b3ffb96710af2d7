"""The Job controller (upstream ``pkg/controller/job`` semantics as of 1.32) plus the TTL-after-finished
controller, which upstream runs separately.

One reconcile of ``namespace/name``:

1. Read the Job and its pods (pods controlled by the Job's uid) from the informer caches.
2. Account for terminated pods with the ``batch.kubernetes.io/job-tracking`` finalizer: their uids go to
   ``status.uncountedTerminatedPods`` (written first, compare-and-swap on resourceVersion), then the
   finalizers are removed, then the uids move to ``succeeded``/``failed`` (and ``completedIndexes`` for
   Indexed Jobs). A pod is thus counted exactly once even across crashes and stale caches. Failed pods
   are matched against ``podFailurePolicy`` (FailJob / Ignore / Count / FailIndex, on exit codes and pod
   conditions); deleted pods that never reached a phase count as failed unless
   ``podReplacementPolicy: Failed``.
3. Decide: success (completions reached, all indexes done, or for work-queue Jobs any success and no
   active pods) -> ``SuccessCriteriaMet`` then ``Complete`` once no pod is left running; failure
   (``backoffLimit`` exceeded, ``activeDeadlineSeconds`` passed, a FailJob rule, failed indexes) ->
   ``FailureTarget`` then ``Failed`` with the same reason once pods are gone; ``suspend`` -> pods deleted,
   ``Suspended`` condition.
4. Otherwise create or delete pods towards ``min(parallelism, remaining completions)`` (slow start in
   batches 1, 2, 4, ...), delaying replacements of failed pods by an exponential backoff
   (``ControllerOptions.job_backoff_base_seconds`` doubling up to ``job_backoff_max_seconds``).
5. Write the status (active, ready, terminating, succeeded, failed, startTime, completionTime,
   completedIndexes, failedIndexes, uncountedTerminatedPods, conditions) if it changed.

Finished Jobs with ``ttlSecondsAfterFinished`` are deleted (foreground propagation) once the TTL passes.

Time comes from a clock (``JobController(ctx, clock=...)`` or ``ctx.options.extra["clock"]``): a callable
returning epoch seconds; if it has ``subscribe(callback)``, the controller re-examines every Job whenever
the clock moves (test clocks). Expectations (``history.Expectations``) keep a stale pod cache from causing
double creations. Neighbours: ``cronjob.py`` creates Jobs; ``base.py`` has the loop skeleton.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from kybernetes._lib.backoff import exponential
from kybernetes.api.conditions import get_condition, is_true
from kybernetes.api.conditions import set_condition as _set_condition
from kybernetes.api.errors import StatusError
from kybernetes.api.meta import ObjView as Obj
from kybernetes.api.meta import format_time, parse_time
from kybernetes.api.meta import meta_of as _md
from kybernetes.client import object_key, split_key
from kybernetes.controllers.base import (
    CONTROLLER_UID_INDEX,
    Controller,
    ControllerContext,
    controller_uid_index,
    unwrap,
)
from kybernetes.controllers.util.history import Expectations, owner_reference

__all__ = [
    "COMPLETION_INDEX_ANNOTATION",
    "JOB_TRACKING_FINALIZER",
    "JobController",
    "format_indexes",
    "match_pod_failure_policy",
    "parse_indexes",
]

log = logging.getLogger(__name__)

JOB_TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
COMPLETION_INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"
INDEX_FAILURE_COUNT_ANNOTATION = "batch.kubernetes.io/job-index-failure-count"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
MAX_BATCH = 500


# --- small helpers ------------------------------------------------------------------------------------


def _phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def is_terminal(pod: Obj) -> bool:
    return _phase(pod) in ("Succeeded", "Failed")


def is_active(pod: Obj) -> bool:
    return not is_terminal(pod) and not _md(pod).get("deletionTimestamp")


def is_terminating(pod: Obj) -> bool:
    return not is_terminal(pod) and bool(_md(pod).get("deletionTimestamp"))


def is_ready(pod: Obj) -> bool:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


def has_finalizer(pod: Obj) -> bool:
    return JOB_TRACKING_FINALIZER in (_md(pod).get("finalizers") or [])


def completion_index(pod: Obj, completions: int) -> int | None:
    raw = (_md(pod).get("annotations") or {}).get(COMPLETION_INDEX_ANNOTATION)
    if raw is None:
        raw = (_md(pod).get("labels") or {}).get(COMPLETION_INDEX_ANNOTATION)
    try:
        ix = int(str(raw))
    except (TypeError, ValueError):
        return None
    return ix if 0 <= ix < completions else None


def parse_indexes(text: str | None) -> set[int]:
    """``"1,3-5"`` -> ``{1, 3, 4, 5}`` (the compressed interval form of ``completedIndexes``)."""
    out: set[int] = set()
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        try:
            out.update(range(int(lo), int(hi or lo) + 1))
        except ValueError:
            continue
    return out


def format_indexes(indexes: Iterable[int]) -> str:
    """``{1, 3, 4, 5}`` -> ``"1,3-5"``."""
    ordered = sorted(set(indexes))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def find_condition(job: Obj, ctype: str) -> Mapping[str, Any] | None:
    return get_condition(job.get("status"), ctype)


def condition_true(job: Obj, ctype: str) -> bool:
    return is_true(job.get("status"), ctype)


def is_finished(job: Obj) -> bool:
    return condition_true(job, "Complete") or condition_true(job, "Failed")


def match_pod_failure_policy(job: Obj, pod: Obj) -> tuple[str, str] | None:
    """The action of the first ``podFailurePolicy`` rule matching a failed pod and the message upstream
    reports, or None (count the failure as usual)."""
    policy = (job.get("spec") or {}).get("podFailurePolicy") or {}
    md = _md(pod)
    pod_name = f"{md.get('namespace')}/{md.get('name')}"
    status = pod.get("status") or {}
    statuses = list(status.get("initContainerStatuses") or []) + list(status.get("containerStatuses") or [])
    for i, rule in enumerate(policy.get("rules") or []):
        action = str(rule.get("action") or "")
        on_codes = rule.get("onExitCodes")
        if on_codes:
            op = on_codes.get("operator")
            values = {int(v) for v in on_codes.get("values") or []}
            container = on_codes.get("containerName")
            for cs in statuses:
                if container and cs.get("name") != container:
                    continue
                term = (cs.get("state") or {}).get("terminated")
                if not term:
                    continue
                code = int(term.get("exitCode") or 0)
                if code == 0:
                    continue
                if (op == "In" and code in values) or (op == "NotIn" and code not in values):
                    msg = (
                        f"Container {cs.get('name')} for pod {pod_name} failed with exit code {code} "
                        f"matching {action} rule at index {i}"
                    )
                    return action, msg
        for pattern in rule.get("onPodConditions") or []:
            for cond in status.get("conditions") or []:
                if cond.get("type") == pattern.get("type") and cond.get("status") == (
                    pattern.get("status") or "True"
                ):
                    msg = (
                        f"Pod {pod_name} has condition {cond.get('type')} matching {action} rule at index {i}"
                    )
                    return action, msg
    return None


def _condition(ctype: str, status: str, reason: str, message: str, now: float) -> dict[str, Any]:
    ts = format_time(now)
    return {
        "type": ctype,
        "status": status,
        "reason": reason,
        "message": message,
        "lastProbeTime": ts,
        "lastTransitionTime": ts,
    }


class _Clock:
    """Wraps the injected clock: ``now()`` in epoch seconds."""

    def __init__(self, clock: Any) -> None:
        self._clock = clock or time.time

    def now(self) -> float:
        value = self._clock() if callable(self._clock) else self._clock.now()
        if isinstance(value, dt.datetime):
            return value.timestamp()
        return float(value)


# --- the controller -----------------------------------------------------------------------------------
class JobController(Controller):
    """Runs Jobs to completion and deletes finished Jobs whose TTL passed."""

    name = "job-controller"

    def __init__(self, ctx: ControllerContext, *, clock: Callable[[], float] | None = None) -> None:
        super().__init__(ctx)
        raw_clock = clock or ctx.options.extra.get("clock")
        self.clock = _Clock(raw_clock)
        self.backoff_base = ctx.options.job_backoff_base_seconds
        self.backoff_max = ctx.options.job_backoff_max_seconds
        self.jobs = ctx.informers.informer(ctx.api.jobs)
        self.pods = ctx.informers.informer(ctx.api.pods)
        self.pods.add_indexer(CONTROLLER_UID_INDEX, controller_uid_index)
        self.expectations = Expectations()
        self._removing: dict[str, set[str]] = {}  # job key -> pod uids whose finalizer removal we issued
        self._last_failure: dict[str, float] = {}  # job key -> when a failure was last counted
        self._deleted_uids: dict[str, str] = {}  # job key -> uid of a deleted job (finalizer cleanup)
        self.jobs.add_event_handler(self.enqueue_obj, self.enqueue_new, self._job_deleted)
        self.pods.add_event_handler(self._pod_added, self._pod_updated, self._pod_deleted)
        subscribe = getattr(raw_clock, "subscribe", None)
        if callable(subscribe):
            subscribe(self._clock_moved)

    # --- event handlers -------------------------------------------------------------------------------
    def _clock_moved(self, *_: Any) -> None:
        for job in self.jobs.list():
            self.queue.add(object_key(job))

    def _job_deleted(self, obj: Any) -> None:
        job = unwrap(obj)
        if job is None:
            return
        key = object_key(job)
        self.expectations.forget(key)
        self._last_failure.pop(key, None)
        uid = _md(job).get("uid")
        if uid:
            self._deleted_uids[key] = str(uid)
        self.queue.add(key)

    def _job_key_of(self, pod: Obj) -> str | None:
        for ref in _md(pod).get("ownerReferences") or []:
            if ref.get("controller") and ref.get("kind") == "Job":
                return f"{_md(pod).get('namespace')}/{ref.get('name')}"
        return None

    def _pod_added(self, pod: Any) -> None:
        key = self._job_key_of(pod)
        if key is not None:
            self.expectations.observe_add(key)
            self.queue.add(key)

    def _pod_updated(self, old: Any, new: Any) -> None:
        key = self._job_key_of(new) or self._job_key_of(old)
        if key is None:
            return
        if not has_finalizer(new):
            self._removing.get(key, set()).discard(str(_md(new).get("uid")))
        self.queue.add(key)

    def _pod_deleted(self, obj: Any) -> None:
        pod = unwrap(obj)
        if pod is None:
            return
        key = self._job_key_of(pod)
        if key is not None:
            self._removing.get(key, set()).discard(str(_md(pod).get("uid")))
            self.queue.add(key)

    # --- pod writes -----------------------------------------------------------------------------------
    async def _remove_finalizer(self, pod: Obj) -> bool:
        """Drop the tracking finalizer (compare-and-swap; one re-read on conflict). True when gone."""
        md = _md(pod)
        name, ns = str(md["name"]), str(md["namespace"])
        current: Obj = pod
        for _ in range(3):
            finalizers = [f for f in _md(current).get("finalizers") or [] if f != JOB_TRACKING_FINALIZER]
            if len(finalizers) == len(_md(current).get("finalizers") or []):
                return True
            patch = {
                "metadata": {
                    "finalizers": finalizers or None,
                    "resourceVersion": _md(current).get("resourceVersion"),
                }
            }
            try:
                await self.api.pods.patch(name, patch, namespace=ns)
                return True
            except StatusError as exc:
                if exc.code == 404:
                    return True
                if exc.code != 409:
                    log.warning("job: removing finalizer of pod %s/%s: %s", ns, name, exc)
                    return False
            try:
                current = await self.api.pods.get(name, namespace=ns)
            except StatusError as exc:
                return exc.code == 404
        return False

    async def _delete_pod(self, job: Obj, pod: Obj, key: str) -> None:
        """Delete a pod the controller no longer wants: finalizer first, so it is not counted failed."""
        md = _md(pod)
        self._removing.setdefault(key, set()).add(str(md.get("uid")))
        await self._remove_finalizer(pod)
        try:
            await self.api.pods.delete(str(md["name"]), namespace=str(md["namespace"]))
        except StatusError as exc:
            if exc.code != 404:
                raise
            return
        self.recorder.normal(job, "SuccessfulDelete", f"Deleted pod: {md['name']}")

    def _pod_for(self, job: Obj, index: int | None, index_failures: int = 0) -> dict[str, Any]:
        md = _md(job)
        spec = job.get("spec") or {}
        tmpl = copy.deepcopy(spec.get("template") or {})
        tmd = tmpl.get("metadata") or {}
        labels = dict(tmd.get("labels") or {})
        annotations = dict(tmd.get("annotations") or {})
        pod_spec = dict(tmpl.get("spec") or {})
        gen = f"{md['name']}-"
        if index is not None:
            annotations[COMPLETION_INDEX_ANNOTATION] = str(index)
            if (job.get("spec") or {}).get("backoffLimitPerIndex") is not None:
                annotations[INDEX_FAILURE_COUNT_ANNOTATION] = str(index_failures)
            labels[COMPLETION_INDEX_ANNOTATION] = str(index)
            gen = f"{md['name']}-{index}-"
            if not pod_spec.get("hostname"):
                pod_spec["hostname"] = f"{md['name']}-{index}"
            env_var = {
                "name": "JOB_COMPLETION_INDEX",
                "valueFrom": {
                    "fieldRef": {
                        "apiVersion": "v1",
                        "fieldPath": f"metadata.labels['{COMPLETION_INDEX_ANNOTATION}']",
                    }
                },
            }
            for group in ("initContainers", "containers"):
                for ctr in pod_spec.get(group) or []:
                    env = list(ctr.get("env") or [])
                    if not any(e.get("name") == "JOB_COMPLETION_INDEX" for e in env):
                        env.append(env_var)
                        ctr["env"] = env
        if len(gen) > 58:
            gen = gen[:58]
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "generateName": gen,
                "namespace": md.get("namespace"),
                "labels": labels,
                "annotations": annotations,
                "ownerReferences": [owner_reference(job, "batch/v1", "Job")],
                "finalizers": [JOB_TRACKING_FINALIZER],
            },
            "spec": pod_spec,
        }

    async def _create_pods(self, job: Obj, key: str, indexes: list[int | None]) -> int:
        """Create pods in slow-start batches (1, 2, 4, ...); stops at the first batch with a failure."""
        created = 0
        batch = 1
        pending = list(indexes)
        while pending:
            chunk, pending = pending[:batch], pending[batch:]
            self.expectations.raise_(key, adds=len(chunk))
            results = await asyncio.gather(
                *(
                    self.api.pods.create(self._pod_for(job, ix, self._index_failures(job, ix)))
                    for ix in chunk
                ),
                return_exceptions=True,
            )
            failures = 0
            for res in results:
                if isinstance(res, BaseException):
                    failures += 1
                    self.expectations.lower(key, adds=1)
                    log.warning("job %s: creating pod: %s", key, res)
                    msg = str(res)
                    self.recorder.warning(job, "FailedCreate", f"Error creating: {msg}")
                else:
                    created += 1
                    self.recorder.normal(job, "SuccessfulCreate", f"Created pod: {res['metadata']['name']}")
            if failures:
                raise RuntimeError(f"job {key}: {failures} pod creations failed")
            batch = min(batch * 2, MAX_BATCH)
        return created

    def _index_failures(self, job: Obj, index: int | None) -> int:
        """Failures so far of one completion index: one more than the highest count a failed pod of that
        index carried (``backoffLimitPerIndex``)."""
        if index is None:
            return 0
        completions = int((job.get("spec") or {}).get("completions") or 0)
        count = 0
        for pod in self.pods.by_index(CONTROLLER_UID_INDEX, str(_md(job).get("uid"))):
            if _phase(pod) == "Failed" and completion_index(pod, completions) == index:
                raw = (_md(pod).get("annotations") or {}).get(INDEX_FAILURE_COUNT_ANNOTATION) or 0
                count = max(count, int(raw) + 1)
        return count

    # --- reconcile ------------------------------------------------------------------------------------
    async def reconcile(self, key: str) -> None:
        ns, name = split_key(key)
        job = self.jobs.get(name, ns)
        if job is None:
            uid = self._deleted_uids.pop(key, None)
            if uid:
                for pod in self.pods.by_index(CONTROLLER_UID_INDEX, uid):
                    if has_finalizer(pod):
                        await self._remove_finalizer(pod)
            self._removing.pop(key, None)
            return
        self._deleted_uids.pop(key, None)
        if _md(job).get("deletionTimestamp"):
            await self._release_finalizers(job)
            return
        if is_finished(job):
            await self._release_finalizers(job)
            await self._handle_ttl(job, key)
            return
        if not self.expectations.satisfied(key):
            return
        try:
            await self._sync(copy.deepcopy(dict(job)), key)
        except StatusError as exc:
            if exc.code != 409:
                raise
            self.queue.add_after(key, 0.05)  # our cache was behind our own write: look again shortly

    async def _release_finalizers(self, job: Obj) -> None:
        for pod in self.pods.by_index(CONTROLLER_UID_INDEX, str(_md(job).get("uid"))):
            if has_finalizer(pod) and (
                is_terminal(pod) or _md(pod).get("deletionTimestamp") or is_finished(job)
            ):
                await self._remove_finalizer(pod)

    async def _handle_ttl(self, job: Obj, key: str) -> None:
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        if ttl is None:
            return
        status = job.get("status") or {}
        finished_at = parse_time(status.get("completionTime"))
        if finished_at is None:
            for ctype in ("Complete", "Failed"):
                cond = find_condition(job, ctype)
                if cond is not None and cond.get("status") == "True":
                    finished_at = parse_time(cond.get("lastTransitionTime"))
        if finished_at is None:
            return
        remaining = finished_at + float(ttl) - self.clock.now()
        if remaining > 0:
            self.queue.add_after(key, remaining)
            return
        md = _md(job)
        try:
            await self.api.jobs.delete(
                str(md["name"]),
                namespace=str(md["namespace"]),
                propagation_policy="Foreground",
                preconditions={"uid": str(md["uid"])},
            )
        except StatusError as exc:
            if exc.code not in (404, 409):
                raise

    async def _write_status(self, job: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        if status == (job.get("status") or {}):
            return job
        body = {**job, "status": status}
        updated = await self.api.jobs.update_status(body)
        return updated

    async def _sync(self, job: dict[str, Any], key: str) -> None:
        now = self.clock.now()
        md = job["metadata"]
        spec = job.get("spec") or {}
        old_status: dict[str, Any] = copy.deepcopy(job.get("status") or {})
        status: dict[str, Any] = copy.deepcopy(old_status)
        conds: list[dict[str, Any]] = status.setdefault("conditions", [])
        pods: list[Obj] = list(self.pods.by_index(CONTROLLER_UID_INDEX, str(md["uid"])))
        indexed = spec.get("completionMode") == "Indexed"
        completions: int | None = spec.get("completions")
        backoff_limit = int(v) if (v := spec.get("backoffLimit")) is not None else 6
        per_index_limit = spec.get("backoffLimitPerIndex")
        only_failed = spec.get("podReplacementPolicy") == "Failed"
        suspended = bool(spec.get("suspend"))
        removing = self._removing.setdefault(key, set())

        uncounted = status.get("uncountedTerminatedPods") or {}
        unc_s: list[str] = list(uncounted.get("succeeded") or [])
        unc_f: list[str] = list(uncounted.get("failed") or [])
        completed_idx = parse_indexes(status.get("completedIndexes")) if indexed else set()
        failed_idx = (
            parse_indexes(status.get("failedIndexes")) if indexed and per_index_limit is not None else set()
        )
        failure_target: tuple[str, str] | None = None
        ft = find_condition(job, "FailureTarget")
        if ft is not None and ft.get("status") == "True":
            failure_target = (str(ft.get("reason") or ""), str(ft.get("message") or ""))
        new_failures = 0
        to_release: list[Obj] = []
        pod_by_uid = {str(_md(p).get("uid")): p for p in pods}

        # 1. newly terminated pods -> uncounted
        for pod in pods:
            uid = str(_md(pod).get("uid"))
            if not has_finalizer(pod) or uid in removing:
                continue
            if uid in unc_s or uid in unc_f:
                to_release.append(pod)
                continue
            ix = completion_index(pod, completions or 0) if indexed else None
            if _phase(pod) == "Succeeded":
                if indexed:
                    if ix is None or ix in completed_idx:
                        to_release.append(pod)
                        continue
                    completed_idx.add(ix)
                unc_s.append(uid)
                to_release.append(pod)
            elif _phase(pod) == "Failed" or (not only_failed and is_terminating(pod)):
                matched = match_pod_failure_policy(job, pod) if _phase(pod) == "Failed" else None
                action = matched[0] if matched else "Count"
                if action == "Ignore":
                    to_release.append(pod)
                    removing.add(uid)
                    continue
                if action == "FailJob" and failure_target is None and matched is not None:
                    failure_target = ("PodFailurePolicy", matched[1])
                if indexed and ix is not None and per_index_limit is not None:
                    failures_of_index = int(
                        (_md(pod).get("annotations") or {}).get(INDEX_FAILURE_COUNT_ANNOTATION) or 0
                    )
                    if action == "FailIndex" or failures_of_index + 1 > int(per_index_limit):
                        failed_idx.add(ix)
                unc_f.append(uid)
                to_release.append(pod)
                new_failures += 1

        if new_failures:
            self._last_failure[key] = now
        status["uncountedTerminatedPods"] = {k: v for k, v in (("succeeded", unc_s), ("failed", unc_f)) if v}
        if indexed:
            status["completedIndexes"] = format_indexes(completed_idx)
            if per_index_limit is not None:
                status["failedIndexes"] = format_indexes(failed_idx)

        # 2. persist the uncounted uids before any finalizer goes, then release and count them
        if status != old_status and to_release:
            job = await self._write_status(job, status)
            status = copy.deepcopy(job.get("status") or {})
            conds = status.setdefault("conditions", [])
        released: set[str] = set()
        for pod in to_release:
            uid = str(_md(pod).get("uid"))
            if await self._remove_finalizer(pod):
                removing.add(uid)
                released.add(uid)
        still_tracked = {
            u for u, p in pod_by_uid.items() if has_finalizer(p) and u not in released and u not in removing
        }
        moved_s = [u for u in unc_s if u not in still_tracked]
        moved_f = [u for u in unc_f if u not in still_tracked]
        status["succeeded"] = int(status.get("succeeded") or 0) + len(moved_s)
        status["failed"] = int(status.get("failed") or 0) + len(moved_f)
        unc_s = [u for u in unc_s if u in still_tracked]
        unc_f = [u for u in unc_f if u in still_tracked]
        status["uncountedTerminatedPods"] = {k: v for k, v in (("succeeded", unc_s), ("failed", unc_f)) if v}
        succeeded_total = int(status["succeeded"]) + len(unc_s)
        failed_total = int(status["failed"]) + len(unc_f)

        active = [p for p in pods if is_active(p)]
        terminating = [p for p in pods if is_terminating(p)]
        created = 0

        # 3. suspend / resume and startTime
        if suspended:
            if _set_condition(conds, _condition("Suspended", "True", "JobSuspended", "Job suspended", now)):
                self.recorder.normal(job, "Suspended", "Job suspended")
            status.pop("startTime", None)
        else:
            sus = find_condition(job, "Suspended")
            if sus is not None and sus.get("status") == "True":
                _set_condition(conds, _condition("Suspended", "False", "JobResumed", "Job resumed", now))
                self.recorder.normal(job, "Resumed", "Job resumed")
                status["startTime"] = format_time(now)
            status.setdefault("startTime", format_time(now))

        # 4. finished?
        success = condition_true(job, "SuccessCriteriaMet")
        if failure_target is None and not success:
            deadline = spec.get("activeDeadlineSeconds")
            start = parse_time(status.get("startTime"))
            if failed_total > backoff_limit:
                failure_target = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
            elif (
                deadline is not None
                and start is not None
                and not suspended
                and now - start >= float(deadline)
            ):
                failure_target = ("DeadlineExceeded", "Job was active longer than specified deadline")
            elif (
                indexed
                and per_index_limit is not None
                and spec.get("maxFailedIndexes") is not None
                and len(failed_idx) > int(spec["maxFailedIndexes"])
            ):
                failure_target = (
                    "MaxFailedIndexesExceeded",
                    "Job has exceeded the specified maximal number of failed indexes",
                )
            elif indexed and failed_idx and len(completed_idx | failed_idx) >= int(completions or 0):
                failure_target = ("FailedIndexes", "Job has failed indexes")
            elif indexed:
                success = len(completed_idx) >= int(completions or 0)
            elif completions is not None:
                success = succeeded_total >= int(completions)
            else:
                success = succeeded_total > 0 and not active
            if (
                deadline is not None
                and start is not None
                and failure_target is None
                and not success
                and not suspended
            ):
                self.queue.add_after(key, max(0.0, start + float(deadline) - now) + 0.01)

        if failure_target is not None:
            reason, message = failure_target
            if _set_condition(conds, _condition("FailureTarget", "True", reason, message, now)):
                self.recorder.warning(job, reason, message)
            for pod in active:
                await self._delete_pod(job, pod, key)
            if not terminating and not unc_s and not unc_f and not self._tracked_left(pods, removing):
                _set_condition(conds, _condition("Failed", "True", reason, message, now))
        elif success:
            msg = "Reached expected number of succeeded pods"
            _set_condition(conds, _condition("SuccessCriteriaMet", "True", "CompletionsReached", msg, now))
            for pod in active:
                await self._delete_pod(job, pod, key)
            if not terminating and not unc_s and not unc_f and not self._tracked_left(pods, removing):
                _set_condition(conds, _condition("Complete", "True", "CompletionsReached", msg, now))
                status["completionTime"] = format_time(now)
                self.recorder.normal(job, "Completed", "Job completed")
        elif suspended:
            for pod in active:
                await self._delete_pod(job, pod, key)
            active = []
        else:
            active, created = await self._manage(
                job, key, active, terminating, status, completed_idx, failed_idx, now
            )

        status["active"] = len(active) + created if failure_target is None and not success else 0
        status["ready"] = sum(1 for p in active if is_ready(p)) if status["active"] else 0
        status["terminating"] = len(terminating)
        if not status["conditions"]:
            status.pop("conditions")
        await self._write_status(job, status)
        if is_finished({"status": status}):
            self.queue.add(key)  # TTL and leftover finalizers

    @staticmethod
    def _tracked_left(pods: Sequence[Obj], removing: set[str]) -> bool:
        """Pods that still carry the finalizer and are not being released (stale cache aside)."""
        return any(has_finalizer(p) and str(_md(p).get("uid")) not in removing for p in pods)

    async def _manage(
        self,
        job: dict[str, Any],
        key: str,
        active: list[Obj],
        terminating: list[Obj],
        status: dict[str, Any],
        completed_idx: set[int],
        failed_idx: set[int],
        now: float,
    ) -> tuple[list[Obj], int]:
        """Create or delete pods towards the wanted parallelism; returns the active pods kept and the
        number of pods created."""
        spec = job.get("spec") or {}
        completions: int | None = spec.get("completions")
        parallelism = int(v) if (v := spec.get("parallelism")) is not None else 1
        only_failed = spec.get("podReplacementPolicy") == "Failed"
        busy = len(active) + (len(terminating) if only_failed else 0)
        succeeded = int(status.get("succeeded") or 0) + len(
            (status.get("uncountedTerminatedPods") or {}).get("succeeded") or []
        )
        to_create: list[int | None] = []
        excess: list[Obj] = []
        if spec.get("completionMode") == "Indexed":
            total = int(completions or 0)
            seen: dict[int, Obj] = {}
            for pod in sorted(active, key=lambda p: str(_md(p).get("creationTimestamp") or "")):
                ix = completion_index(pod, total)
                if ix is None or ix in seen or ix in completed_idx or ix in failed_idx:
                    excess.append(pod)
                else:
                    seen[ix] = pod
            taken = set(seen)
            if only_failed:
                taken |= {ix for p in terminating if (ix := completion_index(p, total)) is not None}
            pending = [
                i for i in range(total) if i not in completed_idx and i not in failed_idx and i not in taken
            ]
            room = parallelism - len(seen) - (len(terminating) if only_failed else 0)
            if room < 0:
                # drop the highest indexes beyond parallelism
                extra = sorted(seen.items(), reverse=True)[:-room]
                excess.extend(p for _, p in extra)
                room = 0
            to_create = list(pending[:room])
        else:
            if completions is None:
                want = 0 if succeeded > 0 else parallelism
            else:
                want = max(0, min(parallelism, int(completions) - succeeded))
            diff = want - busy
            if diff > 0:
                to_create = [None] * diff
            elif diff < 0:
                ranked = sorted(
                    active,
                    key=lambda p: (
                        is_ready(p),
                        _phase(p) == "Running",
                        str(_md(p).get("creationTimestamp") or ""),
                    ),
                )
                excess = ranked[:-diff]
        kept = [p for p in active if p not in excess]
        for pod in excess:
            await self._delete_pod(job, pod, key)
        if to_create:
            failed = int(status.get("failed") or 0) + len(
                (status.get("uncountedTerminatedPods") or {}).get("failed") or []
            )
            last = self._last_failure.get(key)
            if failed > 0 and last is not None:
                delay = exponential(self.backoff_base, self.backoff_max, failed - 1)
                remaining = last + delay - now
                if remaining > 0:
                    self.queue.add_after(key, remaining)
                    return kept, 0
            return kept, await self._create_pods(job, key, to_create)
        return kept, 0
