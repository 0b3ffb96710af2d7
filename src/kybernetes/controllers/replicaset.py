"""The ReplicaSet controller: keep ``spec.replicas`` active pods matching each ReplicaSet's selector.

Semantics of upstream's ``pkg/controller/replicaset`` (our own code):

- **ownership**: a pod belongs to the ReplicaSet named by its controller ownerReference (same uid). Orphan
  pods matching the selector are adopted (an ownerReference with ``controller`` and
  ``blockOwnerDeletion`` true, written with the pod's resourceVersion as precondition) after a live
  re-read of the ReplicaSet confirms it still exists and is not being deleted; owned pods whose labels
  no longer match are released (the reference removed).
- **expectations**: before creating (deleting) pods the controller records how many creations (which
  deletions) it expects; it does not act on a ReplicaSet again until its informer has observed them (or
  5 minutes passed), so it never double-creates from a stale cache.
- **slow start**: creations go in batches of 1, 2, 4, ... and stop at the first failing batch, so a
  ReplicaSet that cannot create pods (quota, admission) fails fast instead of flooding the API.
- **which pods go first** on scale down: unassigned < pending < unknown < running; not ready < ready;
  more pods of the same owner on the node first; recently ready before long ready; more restarts first;
  newer before older.
- **status**: replicas, fullyLabeledReplicas, readyReplicas, availableReplicas (ready for
  ``minReadySeconds``), observedGeneration and a ``ReplicaFailure`` condition while creations/deletions
  fail. Events ``SuccessfulCreate`` / ``FailedCreate`` / ``SuccessfulDelete`` / ``FailedDelete``.

Pods are named by ``generateName: <replicaset>-``. The ``pod-template-hash`` label is the Deployment
controller's business (``deployment.py``), not this one's.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kybernetes.api.errors import StatusError
from kybernetes.api.meta import Obj, now_rfc3339, parse_time
from kybernetes.api.meta import labels as _labels
from kybernetes.api.selectors import LabelSelector, label_selector_from_dict
from kybernetes.client import object_key
from kybernetes.controllers.base import Controller, ControllerContext, controller_owner, unwrap
from kybernetes.controllers.util.deployment import (
    is_pod_available,
    is_pod_ready,
    pod_condition,
    spec_replicas,
)

log = logging.getLogger(__name__)


BURST_REPLICAS = 500  # upstream's per-sync cap on creations / deletions
SLOW_START_INITIAL_BATCH = 1
EXPECTATIONS_TTL = 300.0
CONFLICT_RETRY = 0.05
TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})
_PHASE_ORDER = {"Pending": 0, "Unknown": 1, "Running": 2}


# --- expectations -------------------------------------------------------------------------------------
@dataclass
class _Expectation:
    add: int = 0
    delete: int = 0
    deleting: set[str] = field(default_factory=set)  # pod keys whose deletion is expected
    timestamp: float = 0.0


class Expectations:
    """Per-controller-key expected creations and (pod-key tracked) deletions, client-go style.

    ``satisfied(key)`` is True when nothing is pending, when the record is older than ``ttl`` (a lost
    watch event must not wedge a controller forever), or when there is no record at all.
    """

    def __init__(self, ttl: float = EXPECTATIONS_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._records: dict[str, _Expectation] = {}

    def satisfied(self, key: str) -> bool:
        rec = self._records.get(key)
        if rec is None:
            return True
        if rec.add <= 0 and rec.delete <= 0:
            return True
        return self.clock() - rec.timestamp > self.ttl

    def expect_creations(self, key: str, count: int) -> None:
        self._records[key] = _Expectation(add=count, timestamp=self.clock())

    def expect_deletions(self, key: str, pod_keys: list[str]) -> None:
        self._records[key] = _Expectation(
            delete=len(pod_keys), deleting=set(pod_keys), timestamp=self.clock()
        )

    def creation_observed(self, key: str, count: int = 1) -> None:
        rec = self._records.get(key)
        if rec is not None:
            rec.add -= count

    def deletion_observed(self, key: str, pod_key: str) -> None:
        rec = self._records.get(key)
        if rec is not None and pod_key in rec.deleting:
            rec.deleting.discard(pod_key)
            rec.delete -= 1

    def pending(self, key: str) -> tuple[int, int]:
        rec = self._records.get(key)
        return (rec.add, rec.delete) if rec is not None else (0, 0)

    def delete(self, key: str) -> None:
        self._records.pop(key, None)


# --- helpers ------------------------------------------------------------------------------------------
def is_active_pod(pod: Mapping[str, Any]) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return phase not in TERMINAL_PHASES and not (pod.get("metadata") or {}).get("deletionTimestamp")


def is_namespace_terminating(err: StatusError) -> bool:
    return any(c.reason == "NamespaceTerminating" for c in err.causes) or "being terminated" in err.message


def owner_reference(owner: Mapping[str, Any], api_version: str, kind: str) -> Obj:
    omd = owner.get("metadata") or {}
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": omd.get("name"),
        "uid": omd.get("uid"),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def pod_deletion_key(pod: Mapping[str, Any], rank: int, now: float) -> tuple[Any, ...]:
    """Sort key for scale down: pods that sort first are deleted first."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    ready = is_pod_ready(pod)
    ready_since = parse_time((pod_condition(pod, "Ready") or {}).get("lastTransitionTime")) if ready else None
    created = parse_time((pod.get("metadata") or {}).get("creationTimestamp"))
    restarts = sum(int(cs.get("restartCount") or 0) for cs in status.get("containerStatuses") or [])
    return (
        1 if spec.get("nodeName") else 0,
        _PHASE_ORDER.get(str(status.get("phase") or "Pending"), 0),
        1 if ready else 0,
        -rank,
        -(ready_since if ready_since is not None else float("inf")),
        -restarts,
        -(created if created is not None else float("inf")),
    )


async def slow_start_batch(
    count: int, initial: int, fn: Callable[[], Awaitable[None]]
) -> tuple[int, Exception | None]:
    """Call ``fn`` ``count`` times in doubling batches; stop after a batch with a failure.

    Returns (successes, first error)."""
    remaining = count
    batch = min(remaining, initial)
    successes = 0
    while batch > 0:
        results = await asyncio.gather(*(fn() for _ in range(batch)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        successes += batch - len(errors)
        if errors:
            err = errors[0]
            if not isinstance(err, Exception):
                raise err
            return successes, err
        remaining -= batch
        batch = min(remaining, 2 * batch)
    return successes, None


class ReplicaSetController(Controller):
    """See the module docstring. ``reconcile(key)`` syncs one ReplicaSet."""

    name = "replicaset-controller"
    workers = 5
    kind = "ReplicaSet"
    api_version = "apps/v1"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.rs_client = ctx.api.replicasets
        self.pod_client = ctx.api.pods
        self.rs_informer = ctx.informers.informer(self.rs_client)
        self.pod_informer = ctx.informers.informer(self.pod_client)
        self.expectations = Expectations()
        self.burst_replicas = int(ctx.options.extra.get("replicaset_burst_replicas", BURST_REPLICAS))
        self.rs_informer.add_event_handler(self._rs_added, self._rs_updated, self._rs_deleted)
        self.pod_informer.add_event_handler(self._pod_added, self._pod_updated, self._pod_deleted)

    # --- handlers -------------------------------------------------------------------------------------
    def _rs_added(self, rs: Obj) -> None:
        self.enqueue(object_key(rs))

    def _rs_updated(self, old: Obj, new: Obj) -> None:
        self.enqueue(object_key(new))

    def _rs_deleted(self, obj: Any) -> None:
        rs = unwrap(obj)
        if rs is None:
            return
        key = object_key(rs)
        self.expectations.delete(key)
        self.enqueue(key)

    def _resolve(self, namespace: str | None, ref: Mapping[str, Any] | None) -> Obj | None:
        if ref is None or ref.get("kind") != self.kind:
            return None
        rs = self.rs_informer.get(str(ref.get("name")), namespace)
        if rs is None or (rs.get("metadata") or {}).get("uid") != ref.get("uid"):
            return None
        return rs

    def _matching(self, pod: Mapping[str, Any]) -> list[Obj]:
        ns = (pod.get("metadata") or {}).get("namespace")
        labels = _labels(pod)
        out = []
        for rs in self.rs_informer.list(ns):
            try:
                selector = label_selector_from_dict((rs.get("spec") or {}).get("selector"))
            except ValueError:
                continue
            if not selector.empty and selector.matches(labels):
                out.append(rs)
        return out

    def _pod_added(self, pod: Obj) -> None:
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            self._pod_deleted(pod)
            return
        ns = (pod.get("metadata") or {}).get("namespace")
        ref = controller_owner(pod)
        if ref is not None:
            rs = self._resolve(ns, ref)
            if rs is not None:
                key = object_key(rs)
                self.expectations.creation_observed(key)
                self.enqueue(key)
            return
        for rs in self._matching(pod):
            self.enqueue(object_key(rs))

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        omd, nmd = old.get("metadata") or {}, new.get("metadata") or {}
        if omd.get("resourceVersion") == nmd.get("resourceVersion"):
            return
        label_changed = _labels(old) != _labels(new)
        if nmd.get("deletionTimestamp"):
            self._pod_deleted(new)
            if label_changed:
                self._pod_deleted(old)
            return
        ns = nmd.get("namespace")
        old_ref, new_ref = controller_owner(old), controller_owner(new)
        ref_changed = old_ref != new_ref
        if ref_changed and old_ref is not None:
            rs = self._resolve(ns, old_ref)
            if rs is not None:
                self.enqueue(object_key(rs))
        if new_ref is not None:
            rs = self._resolve(ns, new_ref)
            if rs is None:
                return
            key = object_key(rs)
            self.enqueue(key)
            min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
            if min_ready > 0 and not is_pod_ready(old) and is_pod_ready(new):
                self.queue.add_after(key, min_ready + 1.0)
            return
        if label_changed or ref_changed:
            for rs in self._matching(new):
                self.enqueue(object_key(rs))

    def _pod_deleted(self, obj: Any) -> None:
        pod = unwrap(obj)
        if pod is None:
            return
        ref = controller_owner(pod)
        rs = self._resolve((pod.get("metadata") or {}).get("namespace"), ref)
        if rs is None:
            return
        key = object_key(rs)
        self.expectations.deletion_observed(key, object_key(pod))
        self.enqueue(key)

    # --- sync -----------------------------------------------------------------------------------------
    async def reconcile(self, key: str) -> None:
        """Sync one ReplicaSet; a write conflict (stale cache) retries shortly without a traceback."""
        try:
            await self.sync_replica_set(key)
        except StatusError as exc:
            if exc.code != 409 or exc.reason != "Conflict":
                raise
            log.debug("replicaset %s: %s; retrying", key, exc.message)
            self.queue.add_after(key, CONFLICT_RETRY)

    async def sync_replica_set(self, key: str) -> None:
        ns, _, name = key.partition("/")
        rs = self.rs_informer.get(name, ns)
        if rs is None:
            self.expectations.delete(key)
            return
        rs = copy.deepcopy(rs)
        needs_sync = self.expectations.satisfied(key)
        try:
            selector = label_selector_from_dict((rs.get("spec") or {}).get("selector"))
        except ValueError as exc:
            log.warning("replicaset %s has an invalid selector: %s", key, exc)
            return
        active = [p for p in self.pod_informer.list(ns) if is_active_pod(p)]
        pods = await self.claim_pods(rs, selector, active)
        error: Exception | None = None
        diff = len(pods) - spec_replicas(rs)
        if needs_sync and not (rs.get("metadata") or {}).get("deletionTimestamp"):
            error = await self.manage_replicas(pods, rs, key)
        status = self.calculate_status(rs, pods, error, diff)
        updated = await self.update_status(rs, status)
        min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
        if (
            error is None
            and min_ready > 0
            and status.get("readyReplicas", 0) == spec_replicas(updated)
            and status.get("availableReplicas", 0) != spec_replicas(updated)
        ):
            self.queue.add_after(key, float(min_ready))
        if error is not None:
            raise error

    # --- adoption -------------------------------------------------------------------------------------
    async def claim_pods(self, rs: Obj, selector: LabelSelector, pods: list[Obj]) -> list[Obj]:
        rmd = rs["metadata"]
        uid = rmd.get("uid")
        deleting = bool(rmd.get("deletionTimestamp"))
        claimed: list[Obj] = []
        can_adopt: bool | None = None
        for pod in pods:
            ref = controller_owner(pod)
            matches = not selector.empty and selector.matches(_labels(pod))
            if ref is not None:
                if ref.get("uid") != uid:
                    continue
                if matches:
                    claimed.append(pod)
                elif not deleting:
                    await self._release(pod, uid)
                continue
            if deleting or not matches or (pod.get("metadata") or {}).get("deletionTimestamp"):
                continue
            if can_adopt is None:
                can_adopt = await self._can_adopt(rs)
            if not can_adopt:
                continue
            adopted = await self._adopt(pod, rs)
            if adopted is not None:
                claimed.append(adopted)
        return claimed

    async def _can_adopt(self, rs: Obj) -> bool:
        rmd = rs["metadata"]
        try:
            fresh = await self.rs_client.get(rmd["name"], namespace=rmd["namespace"])
        except StatusError as exc:
            if exc.code == 404:
                return False
            raise
        fmd = fresh.get("metadata") or {}
        return fmd.get("uid") == rmd.get("uid") and not fmd.get("deletionTimestamp")

    async def _adopt(self, pod: Obj, rs: Obj) -> Obj | None:
        pmd = pod["metadata"]
        refs = [*(pmd.get("ownerReferences") or []), owner_reference(rs, self.api_version, self.kind)]
        patch = {"metadata": {"ownerReferences": refs, "resourceVersion": pmd.get("resourceVersion")}}
        try:
            return await self.pod_client.patch(pmd["name"], patch, namespace=pmd["namespace"])
        except StatusError as exc:
            if exc.code == 404:
                return None
            raise

    async def _release(self, pod: Obj, uid: str | None) -> None:
        pmd = pod["metadata"]
        refs = [r for r in pmd.get("ownerReferences") or [] if r.get("uid") != uid]
        patch = {"metadata": {"ownerReferences": refs or None, "resourceVersion": pmd.get("resourceVersion")}}
        try:
            await self.pod_client.patch(pmd["name"], patch, namespace=pmd["namespace"])
        except StatusError as exc:
            if exc.code not in (404, 422):
                raise

    # --- creating and deleting ------------------------------------------------------------------------
    async def manage_replicas(self, pods: list[Obj], rs: Obj, key: str) -> Exception | None:
        diff = len(pods) - spec_replicas(rs)
        if diff < 0:
            count = min(-diff, self.burst_replicas)
            self.expectations.expect_creations(key, count)
            successes, error = await slow_start_batch(
                count, SLOW_START_INITIAL_BATCH, lambda: self._create_pod(rs)
            )
            skipped = count - successes
            if skipped > 0:
                self.expectations.creation_observed(key, skipped)
            return error
        if diff > 0:
            count = min(diff, self.burst_replicas)
            victims = self.pods_to_delete(pods, rs, count)
            self.expectations.expect_deletions(key, [object_key(p) for p in victims])
            results = await asyncio.gather(
                *(self._delete_pod(rs, p, key) for p in victims), return_exceptions=True
            )
            for result in results:
                if isinstance(result, Exception):
                    return result
                if isinstance(result, BaseException):
                    raise result
        return None

    def pods_to_delete(self, pods: list[Obj], rs: Obj, count: int) -> list[Obj]:
        if count >= len(pods):
            return list(pods)
        # rank: how many pods of this ReplicaSet's family (same controller owner) share each pod's node
        related = self._related_pods(rs) or pods
        per_node: dict[str, int] = {}
        for pod in related:
            node = (pod.get("spec") or {}).get("nodeName")
            if node:
                per_node[node] = per_node.get(node, 0) + 1
        now = time.time()
        ranked = sorted(
            pods,
            key=lambda p: pod_deletion_key(
                p, per_node.get((p.get("spec") or {}).get("nodeName") or "", 0), now
            ),
        )
        return ranked[:count]

    def _related_pods(self, rs: Obj) -> list[Obj]:
        rmd = rs["metadata"]
        owner = controller_owner(rs)
        siblings = {rmd.get("uid")}
        if owner is not None:
            for other in self.rs_informer.list(rmd.get("namespace")):
                oref = controller_owner(other)
                if oref is not None and oref.get("uid") == owner.get("uid"):
                    siblings.add((other.get("metadata") or {}).get("uid"))
        out = []
        for pod in self.pod_informer.list(rmd.get("namespace")):
            ref = controller_owner(pod)
            if ref is not None and ref.get("uid") in siblings and is_active_pod(pod):
                out.append(pod)
        return out

    def pod_from_template(self, rs: Obj) -> Obj:
        rmd = rs["metadata"]
        template = (rs.get("spec") or {}).get("template") or {}
        tmd = template.get("metadata") or {}
        metadata: Obj = {
            "generateName": f"{rmd['name']}-",
            "namespace": rmd["namespace"],
            "ownerReferences": [owner_reference(rs, self.api_version, self.kind)],
        }
        for field_name in ("labels", "annotations", "finalizers"):
            if tmd.get(field_name):
                metadata[field_name] = copy.deepcopy(tmd[field_name])
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": metadata,
            "spec": copy.deepcopy(template.get("spec") or {}),
        }

    async def _create_pod(self, rs: Obj) -> None:
        try:
            pod = await self.pod_client.create(self.pod_from_template(rs))
        except StatusError as exc:
            if is_namespace_terminating(exc):
                return  # every later creation fails too; the namespace is going away
            self.recorder.warning(rs, "FailedCreate", f"Error creating: {exc.message}")
            raise
        self.recorder.normal(rs, "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}")

    async def _delete_pod(self, rs: Obj, pod: Obj, key: str) -> None:
        pmd = pod["metadata"]
        try:
            await self.pod_client.delete(pmd["name"], namespace=pmd["namespace"])
        except StatusError as exc:
            self.expectations.deletion_observed(key, object_key(pod))
            if exc.code == 404:
                return
            self.recorder.warning(rs, "FailedDelete", f"Error deleting: {exc.message}")
            raise
        self.recorder.normal(rs, "SuccessfulDelete", f"Deleted pod: {pmd['name']}")

    # --- status ---------------------------------------------------------------------------------------
    def calculate_status(self, rs: Obj, pods: list[Obj], error: Exception | None, diff: int) -> Obj:
        spec = rs.get("spec") or {}
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        now = time.time()
        fully = sum(1 for p in pods if all(_labels(p).get(k) == v for k, v in template_labels.items()))
        ready = sum(1 for p in pods if is_pod_ready(p))
        available = sum(1 for p in pods if is_pod_available(p, min_ready, now))
        old = rs.get("status") or {}
        conditions = [dict(c) for c in old.get("conditions") or []]
        failure = next((c for c in conditions if c.get("type") == "ReplicaFailure"), None)
        if error is not None and failure is None:
            reason = "FailedCreate" if diff < 0 else "FailedDelete"
            message = error.message if isinstance(error, StatusError) else str(error)
            ts = now_rfc3339()
            conditions.append(
                {
                    "type": "ReplicaFailure",
                    "status": "True",
                    "lastTransitionTime": ts,
                    "reason": reason,
                    "message": message,
                }
            )
        elif error is None and failure is not None:
            conditions = [c for c in conditions if c.get("type") != "ReplicaFailure"]
        status: Obj = {
            "replicas": len(pods),
            "fullyLabeledReplicas": fully,
            "readyReplicas": ready,
            "availableReplicas": available,
            "observedGeneration": int((rs.get("metadata") or {}).get("generation") or 0),
        }
        if conditions:
            status["conditions"] = conditions
        return status

    async def update_status(self, rs: Obj, status: Obj) -> Obj:
        old = rs.get("status") or {}

        def norm(s: Mapping[str, Any]) -> Obj:
            return {k: v for k, v in s.items() if v not in (0, None, [])}

        if norm(old) == norm(status):
            return rs
        rmd = rs["metadata"]
        patch_status: Obj = {
            k: (v if v not in (0, []) or k == "replicas" else None) for k, v in status.items()
        }
        if "conditions" not in status:
            patch_status["conditions"] = None
        try:
            return await self.rs_client.patch_subresource(
                rmd["name"], "status", {"status": patch_status}, namespace=rmd["namespace"]
            )
        except StatusError as exc:
            if exc.code == 404:
                return rs
            raise
