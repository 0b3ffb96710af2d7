"""The StatefulSet controller (upstream ``pkg/controller/statefulset`` semantics).

Pods have stable identities: ``<set>-<ordinal>`` for ordinals ``[start, start + replicas)`` (``start`` is
``spec.ordinals.start``, default 0), labelled ``statefulset.kubernetes.io/pod-name``,
``apps.kubernetes.io/pod-index`` and ``controller-revision-hash`` (the revision's *name*), with
``hostname`` = pod name and ``subdomain`` = ``spec.serviceName``. Each ``volumeClaimTemplates`` entry
becomes a PVC ``<claim>-<set>-<ordinal>`` created before its pod and mounted in place of the template's
volume of that name; ``persistentVolumeClaimRetentionPolicy`` decides whether PVCs are owned by the set
(``whenDeleted: Delete``, the garbage collector removes them with the set) and whether a scale-down
deletes the condemned ordinal's PVCs (``whenScaled: Delete``).

One reconcile:

1. Revisions: the update revision is the ControllerRevision whose data equals the current template
   (re-using and re-numbering an older one on rollback, creating a new one otherwise with collision
   handling); the current revision is ``status.currentRevision`` (or the update revision at first).
2. Replicas, lowest ordinal first: create missing pods (from the current revision below the rolling
   update ``partition``, else from the update revision), delete failed ones to recreate them. With
   ``OrderedReady`` the controller waits for each pod to be Running and Ready before the next step;
   ``Parallel`` does everything at once.
3. Condemned pods (ordinals outside the range) are deleted highest first; ``OrderedReady`` one at a time
   and only while every replica is healthy.
4. ``RollingUpdate``: once everything is healthy, the highest-ordinal pod at or above the partition not
   on the update revision is deleted (it comes back on the new revision); one at a time. ``OnDelete``
   leaves pods alone until something else deletes them.
5. Status (replicas, readyReplicas, availableReplicas, currentReplicas, updatedReplicas,
   currentRevision, updateRevision, observedGeneration, collisionCount); a finished rolling update moves
   ``currentRevision`` to ``updateRevision`` so ``kubectl rollout status`` completes. Old revisions beyond
   ``revisionHistoryLimit`` that no pod uses are deleted.

Neighbours: ``history.py`` (ControllerRevisions), ``base.py`` (loop skeleton).
"""

from __future__ import annotations

import copy
import logging
import re
import time
from collections.abc import Sequence
from typing import Any

from kybernetes.api.errors import StatusError
from kybernetes.api.meta import ObjView as Obj
from kybernetes.api.meta import meta_of as _md
from kybernetes.api.selectors import label_selector_from_dict
from kybernetes.client import split_key
from kybernetes.controllers.base import (
    CONTROLLER_UID_INDEX,
    Controller,
    ControllerContext,
    controller_uid_index,
    ready_since,
)
from kybernetes.controllers.util.history import (
    CONTROLLER_REVISION_HASH_LABEL,
    create_revision,
    next_revision_number,
    owner_reference,
    revision_data,
    revision_template,
    sort_revisions,
    truncate_history,
)

__all__ = ["POD_INDEX_LABEL", "POD_NAME_LABEL", "StatefulSetController", "claim_name", "pod_ordinal"]

log = logging.getLogger(__name__)

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"


def pod_ordinal(set_name: str, pod_name: str) -> int | None:
    """The ordinal of ``<set>-<ordinal>``, or None for a name that is not one of the set's."""
    m = re.fullmatch(re.escape(set_name) + r"-(\d+)", pod_name)
    return int(m.group(1)) if m else None


def claim_name(claim: str, set_name: str, ordinal: int) -> str:
    return f"{claim}-{set_name}-{ordinal}"


def _phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def is_terminating(pod: Obj) -> bool:
    return bool(_md(pod).get("deletionTimestamp"))


def is_running_and_ready(pod: Obj) -> bool:
    return _phase(pod) == "Running" and ready_since(pod) is not None


def is_available(pod: Obj, min_ready: int, now: float) -> bool:
    since = ready_since(pod)
    if _phase(pod) != "Running" or since is None:
        return False
    return min_ready <= 0 or since + min_ready <= now


def is_healthy(pod: Obj) -> bool:
    return is_running_and_ready(pod) and not is_terminating(pod)


def revision_of(pod: Obj) -> str:
    return str((_md(pod).get("labels") or {}).get(CONTROLLER_REVISION_HASH_LABEL) or "")


class StatefulSetController(Controller):
    """Keeps ordered, uniquely named pods (and their PVCs) for each StatefulSet."""

    name = "statefulset-controller"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        api = ctx.api
        self.sets = ctx.informers.informer(api.statefulsets)
        self.pods = ctx.informers.informer(api.pods)
        self.revisions = ctx.informers.informer(api.controllerrevisions)
        self.claims = ctx.informers.informer(api.persistentvolumeclaims)
        self.pods.add_indexer(CONTROLLER_UID_INDEX, controller_uid_index)
        self.revisions.add_indexer(CONTROLLER_UID_INDEX, controller_uid_index)
        self.sets.add_event_handler(self.enqueue_obj, self.enqueue_new, self.enqueue_obj)
        self.pods.add_event_handler(self._pod_event, self._pod_update, self._pod_event)
        self.revisions.add_event_handler(self._owner_event, self._owner_update, self._owner_event)

    def _pod_event(self, obj: Any) -> None:
        self.enqueue_owner("StatefulSet", obj)

    def _pod_update(self, old: Any, new: Any) -> None:
        self.enqueue_owner("StatefulSet", new)

    _owner_event = _pod_event
    _owner_update = _pod_update

    # --- revisions ------------------------------------------------------------------------------------
    async def _revisions(self, sts: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], int, list[Obj]]:
        """(current revision, update revision, collision count, all owned revisions)."""
        md = sts["metadata"]
        spec = sts.get("spec") or {}
        status = sts.get("status") or {}
        owned = sort_revisions(self.revisions.by_index(CONTROLLER_UID_INDEX, str(md["uid"])))
        collision = int(status.get("collisionCount") or 0)
        data = revision_data(spec.get("template"))
        equal = [r for r in owned if r.get("data") == data]
        update: dict[str, Any]
        if equal:
            update = dict(equal[-1])
            if owned and update["metadata"]["name"] != owned[-1]["metadata"]["name"]:
                # a rollback to an older template: it becomes the newest revision again
                body = copy.deepcopy(update)
                body["revision"] = next_revision_number(owned)
                update = await self.api.controllerrevisions.update(body)
        else:
            labels = dict(((spec.get("template") or {}).get("metadata") or {}).get("labels") or {})
            update, collision = await create_revision(
                self.api,
                sts,
                api_version="apps/v1",
                kind="StatefulSet",
                template_labels=labels,
                data=data,
                revision=next_revision_number(owned),
                collision_count=collision,
            )
            owned = [*owned, update]
        current = update
        want = status.get("currentRevision")
        for rev in owned:
            if rev["metadata"]["name"] == want:
                current = dict(rev)
        return current, update, collision, owned

    # --- pods -----------------------------------------------------------------------------------------
    def _new_pod(self, sts: Obj, revision: Obj, ordinal: int) -> dict[str, Any]:
        md = sts["metadata"]
        spec = sts.get("spec") or {}
        name = f"{md['name']}-{ordinal}"
        tmpl = revision_template(revision)
        tmd = tmpl.get("metadata") or {}
        labels = dict(tmd.get("labels") or {})
        labels[POD_NAME_LABEL] = name
        labels[POD_INDEX_LABEL] = str(ordinal)
        labels[CONTROLLER_REVISION_HASH_LABEL] = str(revision["metadata"]["name"])
        pod_spec = dict(tmpl.get("spec") or {})
        pod_spec["hostname"] = name
        if spec.get("serviceName"):
            pod_spec["subdomain"] = spec["serviceName"]
        claims = spec.get("volumeClaimTemplates") or []
        if claims:
            names = {(c.get("metadata") or {}).get("name") for c in claims}
            volumes = [v for v in pod_spec.get("volumes") or [] if v.get("name") not in names]
            for claim in claims:
                cname = str((claim.get("metadata") or {}).get("name") or "")
                volumes.append(
                    {
                        "name": cname,
                        "persistentVolumeClaim": {"claimName": claim_name(cname, md["name"], ordinal)},
                    }
                )
            pod_spec["volumes"] = volumes
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": md["namespace"],
                "labels": labels,
                "annotations": dict(tmd.get("annotations") or {}),
                "ownerReferences": [owner_reference(sts, "apps/v1", "StatefulSet")],
            },
            "spec": pod_spec,
        }

    async def _ensure_claims(self, sts: Obj, ordinal: int) -> None:
        md = sts["metadata"]
        spec = sts.get("spec") or {}
        policy = spec.get("persistentVolumeClaimRetentionPolicy") or {}
        selector_labels = dict(((spec.get("selector") or {}).get("matchLabels")) or {})
        for claim in spec.get("volumeClaimTemplates") or []:
            cmd = claim.get("metadata") or {}
            name = claim_name(str(cmd.get("name")), md["name"], ordinal)
            if self.claims.get(name, md["namespace"]) is not None:
                continue
            body: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {
                    "name": name,
                    "namespace": md["namespace"],
                    "labels": {**dict(cmd.get("labels") or {}), **selector_labels},
                    "annotations": dict(cmd.get("annotations") or {}),
                },
                "spec": copy.deepcopy(claim.get("spec") or {}),
            }
            if policy.get("whenDeleted") == "Delete":
                ref = owner_reference(sts, "apps/v1", "StatefulSet")
                ref["controller"] = True
                body["metadata"]["ownerReferences"] = [ref]
            try:
                await self.api.persistentvolumeclaims.create(body)
            except StatusError as exc:
                if exc.code != 409:
                    self.recorder.warning(
                        sts,
                        "FailedCreate",
                        f"create Claim {name} for Pod {md['name']}-{ordinal} in StatefulSet "
                        f"{md['name']} failed error: {exc.message}",
                    )
                    raise
                continue
            self.recorder.normal(
                sts,
                "SuccessfulCreate",
                f"create Claim {name} Pod {md['name']}-{ordinal} in StatefulSet {md['name']} success",
            )

    async def _delete_claims(self, sts: Obj, ordinal: int) -> None:
        md = sts["metadata"]
        for claim in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
            name = claim_name(str((claim.get("metadata") or {}).get("name")), md["name"], ordinal)
            try:
                await self.api.persistentvolumeclaims.delete(name, namespace=md["namespace"])
            except StatusError as exc:
                if exc.code != 404:
                    raise

    async def _create_pod(self, sts: Obj, revision: Obj, ordinal: int) -> None:
        md = sts["metadata"]
        await self._ensure_claims(sts, ordinal)
        pod = self._new_pod(sts, revision, ordinal)
        try:
            await self.api.pods.create(pod)
        except StatusError as exc:
            if exc.code == 409:
                return
            self.recorder.warning(
                sts,
                "FailedCreate",
                f"create Pod {pod['metadata']['name']} in StatefulSet {md['name']} failed error: {exc.message}",
            )
            raise
        self.recorder.normal(
            sts,
            "SuccessfulCreate",
            f"create Pod {pod['metadata']['name']} in StatefulSet {md['name']} successful",
        )

    async def _delete_pod(self, sts: Obj, pod: Obj) -> None:
        md = sts["metadata"]
        name = str(_md(pod)["name"])
        try:
            await self.api.pods.delete(
                name, namespace=str(md["namespace"]), preconditions={"uid": str(_md(pod)["uid"])}
            )
        except StatusError as exc:
            if exc.code in (404, 409):
                return
            raise
        self.recorder.normal(
            sts, "SuccessfulDelete", f"delete Pod {name} in StatefulSet {md['name']} successful"
        )

    # --- reconcile ------------------------------------------------------------------------------------
    async def reconcile(self, key: str) -> None:
        ns, name = split_key(key)
        cached = self.sets.get(name, ns)
        if cached is None or _md(cached).get("deletionTimestamp"):
            return
        sts: dict[str, Any] = copy.deepcopy(dict(cached))
        try:
            await self._sync(sts)
        except StatusError as exc:
            if exc.code != 409:
                raise
            self.queue.add_after(key, 0.05)

    async def _sync(self, sts: dict[str, Any]) -> None:
        md = sts["metadata"]
        spec = sts.get("spec") or {}
        set_name = str(md["name"])
        selector = label_selector_from_dict(spec.get("selector"))
        current_rev, update_rev, collision, revisions = await self._revisions(sts)
        replicas_wanted = int(v) if (v := spec.get("replicas")) is not None else 1
        start = int(((spec.get("ordinals") or {}).get("start")) or 0)
        monotonic = (spec.get("podManagementPolicy") or "OrderedReady") != "Parallel"
        strategy = spec.get("updateStrategy") or {}
        rolling = (strategy.get("type") or "RollingUpdate") == "RollingUpdate"
        partition = int(((strategy.get("rollingUpdate") or {}).get("partition")) or 0) if rolling else 0
        min_ready = int(spec.get("minReadySeconds") or 0)
        retention = spec.get("persistentVolumeClaimRetentionPolicy") or {}
        now = time.time()

        pods: list[Obj] = [
            p
            for p in self.pods.by_index(CONTROLLER_UID_INDEX, str(md["uid"]))
            if selector.matches(_md(p).get("labels") or {})
        ]
        replicas: dict[int, Obj] = {}
        condemned: list[tuple[int, Obj]] = []
        pod: Obj | None
        for pod in pods:
            ordinal = pod_ordinal(set_name, str(_md(pod).get("name")))
            if ordinal is None:
                continue
            if start <= ordinal < start + replicas_wanted:
                replicas[ordinal] = pod
            else:
                condemned.append((ordinal, pod))
        condemned.sort(key=lambda item: item[0], reverse=True)

        def revision_for(ordinal: int) -> Obj:
            if rolling and ordinal - start < partition:
                return current_rev
            return update_rev

        status_counts = self._count(pods, current_rev, update_rev, min_ready, now)
        done = False
        unhealthy_seen = False
        # 2. replicas, lowest first
        for ordinal in range(start, start + replicas_wanted):
            pod = replicas.get(ordinal)
            if pod is None:
                await self._create_pod(sts, revision_for(ordinal), ordinal)
                if monotonic:
                    done = True
                    break
                unhealthy_seen = True
                continue
            if _phase(pod) in ("Failed", "Succeeded") and not is_terminating(pod):
                await self._delete_pod(sts, pod)
                if monotonic:
                    done = True
                    break
                unhealthy_seen = True
                continue
            if is_terminating(pod) or not is_running_and_ready(pod):
                unhealthy_seen = True
                if monotonic:
                    done = True
                    break
        # 3. condemned, highest first
        if not done:
            for ordinal, pod in condemned:
                if is_terminating(pod):
                    if monotonic:
                        done = True
                        break
                    continue
                if monotonic and unhealthy_seen:
                    done = True
                    break
                await self._delete_pod(sts, pod)
                if retention.get("whenScaled") == "Delete":
                    await self._delete_claims(sts, ordinal)
                if monotonic:
                    done = True
                    break
        # 4. rolling update, highest first, one at a time
        if not done and rolling and not unhealthy_seen and not condemned:
            for ordinal in range(start + replicas_wanted - 1, start + partition - 1, -1):
                pod = replicas.get(ordinal)
                if pod is None:
                    break
                if revision_of(pod) != update_rev["metadata"]["name"] and not is_terminating(pod):
                    await self._delete_pod(sts, pod)
                    break
                if not is_healthy(pod):
                    break

        # 5. status and history
        await self._update_status(
            sts, status_counts, current_rev, update_rev, collision, replicas_wanted, rolling
        )
        live = {revision_of(p) for p in pods} | {
            current_rev["metadata"]["name"],
            update_rev["metadata"]["name"],
        }
        limit = int(v) if (v := spec.get("revisionHistoryLimit")) is not None else 10
        await truncate_history(self.api, revisions, live, limit)

    @staticmethod
    def _count(pods: Sequence[Obj], current: Obj, update: Obj, min_ready: int, now: float) -> dict[str, int]:
        counts = dict.fromkeys(
            ("replicas", "readyReplicas", "availableReplicas", "currentReplicas", "updatedReplicas"), 0
        )
        for pod in pods:
            if is_terminating(pod) or _phase(pod) in ("Failed", "Succeeded"):
                continue
            counts["replicas"] += 1
            if is_running_and_ready(pod):
                counts["readyReplicas"] += 1
            if is_available(pod, min_ready, now):
                counts["availableReplicas"] += 1
            if revision_of(pod) == current["metadata"]["name"]:
                counts["currentReplicas"] += 1
            if revision_of(pod) == update["metadata"]["name"]:
                counts["updatedReplicas"] += 1
        return counts

    async def _update_status(
        self,
        sts: dict[str, Any],
        counts: dict[str, int],
        current: Obj,
        update: Obj,
        collision: int,
        wanted: int,
        rolling: bool,
    ) -> None:
        old = sts.get("status") or {}
        status: dict[str, Any] = {k: v for k, v in old.items() if k == "conditions"}
        status.update(counts)
        status["observedGeneration"] = int(sts["metadata"].get("generation") or 1)
        status["currentRevision"] = current["metadata"]["name"]
        status["updateRevision"] = update["metadata"]["name"]
        status["collisionCount"] = collision
        if (
            rolling
            and counts["updatedReplicas"] == counts["replicas"]
            and counts["readyReplicas"] == counts["replicas"]
            and counts["replicas"] == wanted
        ):
            status["currentRevision"] = status["updateRevision"]
            status["currentReplicas"] = counts["updatedReplicas"]
        if status == old:
            return
        await self.api.statefulsets.update_status({**sts, "status": status})
