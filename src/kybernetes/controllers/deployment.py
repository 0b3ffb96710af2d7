"""The Deployment controller: roll pod templates out through ReplicaSets, as upstream does.

One sync of a Deployment (``reconcile``), following ``pkg/controller/deployment``:

1. claim its ReplicaSets (adopt orphans matching the selector, release owned ones that stopped matching);
2. a Deployment being deleted only gets its status refreshed; a paused one is only scaled (proportionally
   across its ReplicaSets) and gets the ``Progressing`` ``DeploymentPaused`` condition; a change of
   ``spec.replicas`` alone (the ``desired-replicas`` annotation of an active ReplicaSet differs) is a
   scaling event, handled the same way;
3. otherwise a rollout step: **RollingUpdate** scales the new ReplicaSet up within ``maxSurge``, or old
   ones down within ``maxUnavailable`` (unhealthy replicas first), one action per sync; **Recreate**
   scales every old ReplicaSet to zero, waits until no old pod runs, then scales the new one up;
4. when complete, ReplicaSets beyond ``revisionHistoryLimit`` (at zero replicas) are deleted;
5. the status (replicas, updated, ready, available, unavailable, observedGeneration, collisionCount) and
   the ``Available`` / ``Progressing`` conditions are written; a rollout that makes no progress for
   ``progressDeadlineSeconds`` gets ``ProgressDeadlineExceeded`` (the sync is re-queued for that moment).

The "new" ReplicaSet is the one whose template equals the Deployment's ignoring the ``pod-template-hash``
label; it is created as ``<deployment>-<hash>``. Revisions, rollbacks (``kubectl rollout undo`` patches
the template back client side; the old ReplicaSet then becomes new again with the next revision) and the
replica arithmetic are the pure helpers of ``util/deployment.py``. ReplicaSets are written with their
resourceVersion, so a decision taken on a stale cache fails with a conflict and the sync is retried.
Pods themselves are the ReplicaSet controller's (``replicaset.py``).
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Mapping
from typing import Any

from kybernetes.api.conditions import get_condition, remove_condition, transition_time
from kybernetes.api.errors import StatusError
from kybernetes.api.meta import Obj, parse_time
from kybernetes.api.selectors import LabelSelector, label_selector_from_dict
from kybernetes.client import object_key
from kybernetes.controllers.base import Controller, ControllerContext, controller_owner, unwrap
from kybernetes.controllers.util import deployment as du
from kybernetes.controllers.util.deployment import (
    AVAILABLE,
    PROGRESSING,
    REPLICA_FAILURE,
    md,
    spec_replicas,
)

log = logging.getLogger(__name__)

CONFLICT_RETRY = 0.05


def _owner_ref(d: Mapping[str, Any]) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": md(d).get("name"),
        "uid": md(d).get("uid"),
        "controller": True,
        "blockOwnerDeletion": True,
    }


class DeploymentController(Controller):
    """See the module docstring."""

    name = "deployment-controller"
    workers = 5

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.d_client = ctx.api.deployments
        self.rs_client = ctx.api.replicasets
        self.d_informer = ctx.informers.informer(self.d_client)
        self.rs_informer = ctx.informers.informer(self.rs_client)
        self.pod_informer = ctx.informers.informer(ctx.api.pods)
        self.d_informer.add_event_handler(self.enqueue_obj, self.enqueue_new, self.enqueue_obj)
        self.rs_informer.add_event_handler(self._rs_added, self._rs_updated, self._rs_deleted)
        self.pod_informer.add_event_handler(on_delete=self._pod_deleted)
        self.clock = time.time

    # --- handlers -------------------------------------------------------------------------------------
    def _resolve(self, namespace: str | None, ref: Mapping[str, Any] | None) -> Obj | None:
        if ref is None or ref.get("kind") != "Deployment":
            return None
        d = self.d_informer.get(str(ref.get("name")), namespace)
        if d is None or md(d).get("uid") != ref.get("uid"):
            return None
        return d

    def _matching(self, rs: Mapping[str, Any]) -> list[Obj]:
        labels = md(rs).get("labels") or {}
        out = []
        for d in self.d_informer.list(md(rs).get("namespace")):
            try:
                selector = label_selector_from_dict((d.get("spec") or {}).get("selector"))
            except ValueError:
                continue
            if not selector.empty and selector.matches(labels):
                out.append(d)
        return out

    def _rs_added(self, rs: Obj) -> None:
        if md(rs).get("deletionTimestamp"):
            self._rs_deleted(rs)
            return
        ref = controller_owner(rs)
        if ref is not None:
            d = self._resolve(md(rs).get("namespace"), ref)
            if d is not None:
                self.enqueue(object_key(d))
            return
        for d in self._matching(rs):
            self.enqueue(object_key(d))

    def _rs_updated(self, old: Obj, new: Obj) -> None:
        if md(old).get("resourceVersion") == md(new).get("resourceVersion"):
            return
        ns = md(new).get("namespace")
        old_ref, new_ref = controller_owner(old), controller_owner(new)
        if old_ref != new_ref and old_ref is not None:
            d = self._resolve(ns, old_ref)
            if d is not None:
                self.enqueue(object_key(d))
        if new_ref is not None:
            d = self._resolve(ns, new_ref)
            if d is not None:
                self.enqueue(object_key(d))
            return
        if old_ref != new_ref or md(old).get("labels") != md(new).get("labels"):
            for d in self._matching(new):
                self.enqueue(object_key(d))

    def _rs_deleted(self, obj: Any) -> None:
        rs = unwrap(obj)
        if rs is None:
            return
        d = self._resolve(md(rs).get("namespace"), controller_owner(rs))
        if d is not None:
            self.enqueue(object_key(d))

    def _pod_deleted(self, obj: Any) -> None:
        """Recreate waits for old pods to be gone: wake the Deployment when one goes."""
        pod = unwrap(obj)
        if pod is None:
            return
        ns = md(pod).get("namespace")
        ref = controller_owner(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.rs_informer.get(str(ref.get("name")), ns)
        if rs is None:
            return
        d = self._resolve(ns, controller_owner(rs))
        if d is not None and not du.is_rolling(d):
            self.enqueue(object_key(d))

    # --- sync -----------------------------------------------------------------------------------------
    async def reconcile(self, key: str) -> None:
        """Sync one Deployment; a write conflict (stale cache) retries shortly without a traceback."""
        try:
            await self.sync_deployment(key)
        except StatusError as exc:
            if exc.code == 404:  # the Deployment (or a ReplicaSet) went away meanwhile: events follow
                log.debug("deployment %s: %s", key, exc.message)
                return
            if exc.code != 409 or exc.reason != "Conflict":
                raise
            log.debug("deployment %s: %s; retrying", key, exc.message)
            self.queue.add_after(key, CONFLICT_RETRY)

    async def sync_deployment(self, key: str) -> None:
        ns, _, name = key.partition("/")
        cached = self.d_informer.get(name, ns)
        if cached is None:
            return
        d = copy.deepcopy(cached)
        spec = d.get("spec") or {}
        try:
            selector = label_selector_from_dict(spec.get("selector"))
        except ValueError as exc:
            log.warning("deployment %s has an invalid selector: %s", key, exc)
            return
        if selector.empty:
            self.recorder.warning(
                d, "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required."
            )
            if int(md(d).get("generation") or 0) > du.status_int(d, "observedGeneration"):
                status = dict(d.get("status") or {})
                status["observedGeneration"] = int(md(d).get("generation") or 0)
                await self._update_status(d, status)
            return
        rss = await self.claim_replica_sets(d, selector)
        if md(d).get("deletionTimestamp"):
            await self.sync_status_only(d, rss)
            return
        d = await self.check_paused_conditions(d)
        if spec.get("paused"):
            await self.sync(d, rss)
            return
        if await self.is_scaling_event(d, rss):
            await self.sync(d, rss)
            return
        if du.is_rolling(d):
            await self.rollout_rolling(d, rss)
        else:
            await self.rollout_recreate(d, rss, self._pod_map(d, rss, selector))

    # --- ownership ------------------------------------------------------------------------------------
    async def claim_replica_sets(self, d: Obj, selector: LabelSelector) -> list[Obj]:
        uid = md(d).get("uid")
        deleting = bool(md(d).get("deletionTimestamp"))
        claimed: list[Obj] = []
        can_adopt: bool | None = None
        for rs in self.rs_informer.list(md(d).get("namespace")):
            ref = controller_owner(rs)
            matches = selector.matches(md(rs).get("labels") or {})
            if ref is not None:
                if ref.get("uid") != uid:
                    continue
                if matches:
                    claimed.append(copy.deepcopy(rs))
                elif not deleting:
                    await self._set_owner_refs(
                        rs, [r for r in md(rs).get("ownerReferences") or [] if r.get("uid") != uid]
                    )
                continue
            if deleting or not matches or md(rs).get("deletionTimestamp"):
                continue
            if can_adopt is None:
                can_adopt = await self._can_adopt(d)
            if can_adopt:
                refs = [*(md(rs).get("ownerReferences") or []), _owner_ref(d)]
                adopted = await self._set_owner_refs(rs, refs)
                if adopted is not None:
                    claimed.append(adopted)
        return claimed

    async def _can_adopt(self, d: Obj) -> bool:
        try:
            fresh = await self.d_client.get(md(d)["name"], namespace=md(d)["namespace"])
        except StatusError as exc:
            if exc.code == 404:
                return False
            raise
        return md(fresh).get("uid") == md(d).get("uid") and not md(fresh).get("deletionTimestamp")

    async def _set_owner_refs(self, rs: Obj, refs: list[Obj]) -> Obj | None:
        patch = {
            "metadata": {"ownerReferences": refs or None, "resourceVersion": md(rs).get("resourceVersion")}
        }
        try:
            return await self.rs_client.patch(md(rs)["name"], patch, namespace=md(rs)["namespace"])
        except StatusError as exc:
            if exc.code in (404, 422):
                return None
            raise

    def _pod_map(self, d: Obj, rss: list[Obj], selector: LabelSelector) -> dict[str, list[Obj]]:
        uids = {md(rs).get("uid") for rs in rss}
        out: dict[str, list[Obj]] = {str(u): [] for u in uids}
        for pod in self.pod_informer.list(md(d).get("namespace"), selector):
            ref = controller_owner(pod)
            if ref is not None and ref.get("uid") in uids:
                out[str(ref["uid"])].append(pod)
        return out

    # --- new / old ReplicaSets ------------------------------------------------------------------------
    async def get_all_replica_sets(
        self, d: Obj, rss: list[Obj], create: bool
    ) -> tuple[Obj | None, list[Obj], Obj]:
        """(new ReplicaSet or None, old ReplicaSets, the Deployment as last written)."""
        existing = du.find_new_replica_set(d, rss)
        old = [rs for rs in rss if existing is None or md(rs).get("uid") != md(existing).get("uid")]
        new_rs, d = await self.get_new_replica_set(d, rss, old, existing, create)
        return new_rs, old, d

    async def get_new_replica_set(
        self, d: Obj, rss: list[Obj], old: list[Obj], existing: Obj | None, create: bool
    ) -> tuple[Obj | None, Obj]:
        new_revision = du.max_revision(old) + 1
        if existing is not None:
            rs = copy.deepcopy(existing)
            changed = du.set_new_replica_set_annotations(d, rs, new_revision, exists=True)
            min_ready = (d.get("spec") or {}).get("minReadySeconds") or 0
            if (rs.get("spec") or {}).get("minReadySeconds", 0) != min_ready:
                rs["spec"]["minReadySeconds"] = min_ready
                changed = True
            if changed:
                rs = await self.rs_client.update(rs)
            rev = str((md(rs).get("annotations") or {}).get(du.REVISION_ANNOTATION) or new_revision)
            annotations_changed = du.set_deployment_revision(d, rev)
            status = copy.deepcopy(d.get("status") or {})
            status_changed = False
            if du.has_progress_deadline(d) and get_condition(status, PROGRESSING) is None:
                du.set_condition(
                    status,
                    du.new_condition(
                        PROGRESSING, "True", du.FOUND_NEW_RS, f'Found new replica set "{md(rs)["name"]}"'
                    ),
                )
                status_changed = True
            d = await self._write_deployment(d, annotations_changed, status if status_changed else None)
            return rs, d
        if not create:
            return None, d
        spec = d.get("spec") or {}
        collision_count = (d.get("status") or {}).get("collisionCount")
        template = copy.deepcopy(spec.get("template") or {})
        pod_hash = du.compute_hash(template, collision_count)
        template.setdefault("metadata", {}).setdefault("labels", {})[du.DEFAULT_UNIQUE_LABEL] = pod_hash
        selector = copy.deepcopy(spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[du.DEFAULT_UNIQUE_LABEL] = pod_hash
        rs_name = f"{md(d)['name']}-{pod_hash}"
        new_rs: Obj = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": rs_name,
                "namespace": md(d)["namespace"],
                "ownerReferences": [_owner_ref(d)],
                "labels": dict(template["metadata"]["labels"]),
            },
            "spec": {
                "replicas": 0,
                "minReadySeconds": spec.get("minReadySeconds") or 0,
                "selector": selector,
                "template": template,
            },
        }
        replicas = du.new_rs_new_replicas(d, [*old, new_rs], new_rs)
        new_rs["spec"]["replicas"] = replicas
        du.set_new_replica_set_annotations(d, new_rs, new_revision, exists=False)
        already_exists = False
        try:
            created = await self.rs_client.create(new_rs)
        except StatusError as exc:
            if exc.code == 409 and exc.reason == "AlreadyExists":
                found = await self.rs_client.get(rs_name, namespace=md(d)["namespace"])
                ref = controller_owner(found)
                if (
                    ref is not None
                    and ref.get("uid") == md(d).get("uid")
                    and du.equal_ignore_hash((found.get("spec") or {}).get("template"), spec.get("template"))
                ):
                    created, already_exists = found, True
                else:
                    status = copy.deepcopy(d.get("status") or {})
                    status["collisionCount"] = int(collision_count or 0) + 1
                    await self._update_status(d, status)
                    raise RuntimeError(f"hash collision for replica set {rs_name}; retrying") from exc
            else:
                if du.has_progress_deadline(d):
                    status = copy.deepcopy(d.get("status") or {})
                    du.set_condition(
                        status,
                        du.new_condition(
                            PROGRESSING,
                            "False",
                            du.FAILED_RS_CREATE,
                            f'Failed to create new replica set "{rs_name}": {exc.message}',
                        ),
                    )
                    await self._update_status(d, status)
                raise
        if not already_exists and replicas > 0:
            self.recorder.normal(
                d, "ScalingReplicaSet", f"Scaled up replica set {md(created)['name']} to {replicas} from 0"
            )
        annotations_changed = du.set_deployment_revision(d, str(new_revision))
        status = copy.deepcopy(d.get("status") or {})
        status_changed = False
        if not already_exists and du.has_progress_deadline(d):
            du.set_condition(
                status,
                du.new_condition(
                    PROGRESSING, "True", du.NEW_RS_CREATED, f'Created new replica set "{md(created)["name"]}"'
                ),
            )
            status_changed = True
        d = await self._write_deployment(d, annotations_changed, status if status_changed else None)
        return created, d

    # --- writes ---------------------------------------------------------------------------------------
    async def _write_deployment(self, d: Obj, annotations_changed: bool, status: Obj | None) -> Obj:
        if annotations_changed:
            rev = (md(d).get("annotations") or {}).get(du.REVISION_ANNOTATION)
            patch = {"metadata": {"annotations": {du.REVISION_ANNOTATION: rev}}}
            updated = await self.d_client.patch(md(d)["name"], patch, namespace=md(d)["namespace"])
            if status is None:
                return updated
            d = {**d, "metadata": updated["metadata"]}
        if status is not None:
            return await self._update_status(d, status)
        return d

    async def _update_status(self, d: Obj, status: Obj) -> Obj:
        body = copy.deepcopy(d)
        body["status"] = status
        updated: Obj = await self.d_client.update_status(body)
        return updated

    async def scale_replica_set(self, rs: Obj, new_scale: int, d: Obj) -> tuple[bool, Obj]:
        """Scale ``rs`` (and refresh its replica annotations); records ScalingReplicaSet when the size
        changes. Returns (scaled, the ReplicaSet as written)."""
        old_scale = spec_replicas(rs)
        if old_scale == new_scale:
            return False, rs
        replicas = spec_replicas(d)
        body = copy.deepcopy(rs)
        body["spec"]["replicas"] = new_scale
        du.set_replicas_annotations(body, replicas, replicas + du.max_surge(d))
        updated = await self.rs_client.update(body)
        direction = "up" if new_scale > old_scale else "down"
        self.recorder.normal(
            d,
            "ScalingReplicaSet",
            f"Scaled {direction} replica set {md(rs)['name']} to {new_scale} from {old_scale}",
        )
        return True, updated

    # --- rolling update -------------------------------------------------------------------------------
    async def rollout_rolling(self, d: Obj, rss: list[Obj]) -> None:
        new_rs, old, d = await self.get_all_replica_sets(d, rss, create=True)
        assert new_rs is not None
        all_rss = [*old, new_rs]
        scaled, new_rs = await self.reconcile_new_replica_set(all_rss, new_rs, d)
        if scaled:
            await self.sync_rollout_status([*old, new_rs], new_rs, d)
            return
        scaled, old = await self.reconcile_old_replica_sets([*old, new_rs], old, new_rs, d)
        if scaled:
            await self.sync_rollout_status([*old, new_rs], new_rs, d)
            return
        if du.deployment_complete(d, d.get("status") or {}):
            await self.cleanup(old, d)
        await self.sync_rollout_status([*old, new_rs], new_rs, d)

    async def reconcile_new_replica_set(self, all_rss: list[Obj], new_rs: Obj, d: Obj) -> tuple[bool, Obj]:
        replicas = spec_replicas(d)
        if spec_replicas(new_rs) == replicas:
            return False, new_rs
        if spec_replicas(new_rs) > replicas:
            return await self.scale_replica_set(new_rs, replicas, d)
        return await self.scale_replica_set(new_rs, du.new_rs_new_replicas(d, all_rss, new_rs), d)

    async def reconcile_old_replica_sets(
        self, all_rss: list[Obj], old: list[Obj], new_rs: Obj, d: Obj
    ) -> tuple[bool, list[Obj]]:
        if du.spec_sum(old) == 0:
            return False, old
        all_pods = du.spec_sum(all_rss)
        min_available = spec_replicas(d) - du.max_unavailable(d)
        new_unavailable = spec_replicas(new_rs) - du.status_int(new_rs, "availableReplicas")
        max_scaled_down = all_pods - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False, old
        old, cleaned = await self._cleanup_unhealthy(old, d, max_scaled_down)
        old, scaled_down = await self._scale_down_old_for_rolling([*old, new_rs], old, d)
        return cleaned + scaled_down > 0, old

    async def _cleanup_unhealthy(self, old: list[Obj], d: Obj, max_cleanup: int) -> tuple[list[Obj], int]:
        total = 0
        out: list[Obj] = []
        for rs in sorted(old, key=du.creation_key):
            if total >= max_cleanup or spec_replicas(rs) == 0:
                out.append(rs)
                continue
            unhealthy = spec_replicas(rs) - du.status_int(rs, "availableReplicas")
            if unhealthy <= 0:
                out.append(rs)
                continue
            count = min(max_cleanup - total, unhealthy)
            _, rs = await self.scale_replica_set(rs, spec_replicas(rs) - count, d)
            total += count
            out.append(rs)
        return out, total

    async def _scale_down_old_for_rolling(
        self, all_rss: list[Obj], old: list[Obj], d: Obj
    ) -> tuple[list[Obj], int]:
        min_available = spec_replicas(d) - du.max_unavailable(d)
        available = du.status_sum(all_rss, "availableReplicas")
        if available <= min_available:
            return old, 0
        budget = available - min_available
        total = 0
        out: list[Obj] = []
        for rs in sorted(old, key=du.creation_key):
            if total >= budget or spec_replicas(rs) == 0:
                out.append(rs)
                continue
            count = min(spec_replicas(rs), budget - total)
            _, rs = await self.scale_replica_set(rs, spec_replicas(rs) - count, d)
            total += count
            out.append(rs)
        return out, total

    # --- recreate -------------------------------------------------------------------------------------
    async def rollout_recreate(self, d: Obj, rss: list[Obj], pod_map: dict[str, list[Obj]]) -> None:
        new_rs, old, d = await self.get_all_replica_sets(d, rss, create=False)
        scaled = False
        scaled_old: list[Obj] = []
        for rs in old:
            if spec_replicas(rs) > 0:
                did, rs = await self.scale_replica_set(rs, 0, d)
                scaled = scaled or did
            scaled_old.append(rs)
        old = scaled_old
        if scaled:
            await self.sync_rollout_status([*old, new_rs], new_rs, d)
            return
        if self._old_pods_running(new_rs, old, pod_map):
            await self.sync_rollout_status([*old, new_rs], new_rs, d)
            return
        if new_rs is None:
            new_rs, old, d = await self.get_all_replica_sets(d, rss, create=True)
        assert new_rs is not None
        _, new_rs = await self.scale_replica_set(new_rs, spec_replicas(d), d)
        if du.deployment_complete(d, d.get("status") or {}):
            await self.cleanup(old, d)
        await self.sync_rollout_status([*old, new_rs], new_rs, d)

    @staticmethod
    def _old_pods_running(new_rs: Obj | None, old: list[Obj], pod_map: dict[str, list[Obj]]) -> bool:
        if du.status_sum(old, "replicas") > 0:
            return True
        new_uid = md(new_rs).get("uid") if new_rs is not None else None
        for uid, pods in pod_map.items():
            if uid == new_uid:
                continue
            for pod in pods:
                if (pod.get("status") or {}).get("phase") not in ("Failed", "Succeeded"):
                    return True
        return False

    # --- scaling (paused deployments and replica count changes) ---------------------------------------
    async def is_scaling_event(self, d: Obj, rss: list[Obj]) -> bool:
        new_rs, old, _ = await self.get_all_replica_sets(d, rss, create=False)
        for rs in du.filter_active([*old, new_rs]):
            desired = du.int_annotation(rs, du.DESIRED_REPLICAS_ANNOTATION)
            if desired is not None and desired != spec_replicas(d):
                return True
        return False

    async def sync(self, d: Obj, rss: list[Obj]) -> None:
        new_rs, old, d = await self.get_all_replica_sets(d, rss, create=False)
        new_rs, old = await self.scale(d, new_rs, old)
        if (d.get("spec") or {}).get("paused"):
            await self.cleanup(old, d)
        await self.sync_deployment_status([*old, new_rs], new_rs, d)

    async def scale(self, d: Obj, new_rs: Obj | None, old: list[Obj]) -> tuple[Obj | None, list[Obj]]:
        replicas = spec_replicas(d)
        target = du.find_active_or_latest(new_rs, old)
        if target is not None:
            if spec_replicas(target) != replicas:
                _, written = await self.scale_replica_set(target, replicas, d)
                return self._replace(new_rs, old, written)
            return new_rs, old
        if du.is_saturated(d, new_rs):
            for rs in du.filter_active(old):
                _, written = await self.scale_replica_set(rs, 0, d)
                new_rs, old = self._replace(new_rs, old, written)
            return new_rs, old
        if not du.is_rolling(d):
            return new_rs, old
        active = du.filter_active([*old, new_rs])
        allowed = replicas + du.max_surge(d)
        to_add = allowed - du.spec_sum(active)
        if to_add > 0:  # larger first, then newer first
            active.sort(key=lambda rs: (-spec_replicas(rs), -du.creation_key(rs)[0]))
        elif to_add < 0:  # larger first, then older first
            active.sort(key=lambda rs: (-spec_replicas(rs), du.creation_key(rs)))
        added = 0
        sizes: dict[str, int] = {}
        for rs in active:
            if to_add != 0:
                part = du.proportion(rs, d, to_add, added)
                sizes[md(rs)["name"]] = spec_replicas(rs) + part
                added += part
            else:
                sizes[md(rs)["name"]] = spec_replicas(rs)
        for i, rs in enumerate(active):
            name = md(rs)["name"]
            if i == 0 and to_add != 0:
                sizes[name] = max(0, sizes[name] + to_add - added)
            _, written = await self.scale_replica_set(rs, sizes[name], d)
            new_rs, old = self._replace(new_rs, old, written)
        return new_rs, old

    @staticmethod
    def _replace(new_rs: Obj | None, old: list[Obj], written: Obj) -> tuple[Obj | None, list[Obj]]:
        uid = md(written).get("uid")
        if new_rs is not None and md(new_rs).get("uid") == uid:
            return written, old
        return new_rs, [written if md(rs).get("uid") == uid else rs for rs in old]

    async def check_paused_conditions(self, d: Obj) -> Obj:
        if not du.has_progress_deadline(d):
            return d
        status = copy.deepcopy(d.get("status") or {})
        cond = get_condition(status, PROGRESSING)
        paused = bool((d.get("spec") or {}).get("paused"))
        paused_cond = cond is not None and cond.get("reason") == du.PAUSED
        if paused and not paused_cond:
            du.set_condition(
                status, du.new_condition(PROGRESSING, "Unknown", du.PAUSED, "Deployment is paused")
            )
        elif not paused and paused_cond:
            du.set_condition(
                status, du.new_condition(PROGRESSING, "Unknown", du.RESUMED, "Deployment is resumed")
            )
        else:
            return d
        return await self._update_status(d, status)

    # --- history cleanup ------------------------------------------------------------------------------
    async def cleanup(self, old: list[Obj], d: Obj) -> None:
        limit = (d.get("spec") or {}).get("revisionHistoryLimit")
        if limit is None:
            return
        alive = [rs for rs in old if not md(rs).get("deletionTimestamp")]
        diff = len(alive) - int(limit)
        if diff <= 0:
            return
        alive.sort(key=lambda rs: (du.revision(rs), du.creation_key(rs)))
        for rs in alive[:diff]:
            if (
                du.status_int(rs, "replicas") != 0
                or spec_replicas(rs) != 0
                or int(md(rs).get("generation") or 0) > du.status_int(rs, "observedGeneration")
            ):
                continue
            try:
                await self.rs_client.delete(
                    md(rs)["name"], namespace=md(rs)["namespace"], preconditions={"uid": md(rs)["uid"]}
                )
            except StatusError as exc:
                if exc.code not in (404, 409):
                    raise

    # --- status ---------------------------------------------------------------------------------------
    def calculate_status(self, all_rss: list[Obj | None], new_rs: Obj | None, d: Obj) -> Obj:
        rss = [rs for rs in all_rss if rs is not None]
        available = du.status_sum(rss, "availableReplicas")
        total = du.spec_sum(rss)
        status: Obj = {
            "observedGeneration": int(md(d).get("generation") or 0),
            "replicas": du.status_sum(rss, "replicas"),
            "updatedReplicas": du.status_int(new_rs, "replicas"),
            "readyReplicas": du.status_sum(rss, "readyReplicas"),
            "availableReplicas": available,
            "unavailableReplicas": max(total - available, 0),
        }
        old_status = d.get("status") or {}
        if old_status.get("collisionCount") is not None:
            status["collisionCount"] = old_status["collisionCount"]
        if old_status.get("conditions"):
            status["conditions"] = copy.deepcopy(old_status["conditions"])
        if available >= spec_replicas(d) - du.max_unavailable(d):
            cond = du.new_condition(
                AVAILABLE, "True", du.MIN_AVAILABLE, "Deployment has minimum availability."
            )
        else:
            cond = du.new_condition(
                AVAILABLE, "False", du.MIN_UNAVAILABLE, "Deployment does not have minimum availability."
            )
        du.set_condition(status, cond)
        return status

    async def sync_deployment_status(self, all_rss: list[Obj | None], new_rs: Obj | None, d: Obj) -> None:
        status = self.calculate_status(all_rss, new_rs, d)
        if du.normalized_status(status) != du.normalized_status(d.get("status")):
            await self._update_status(d, status)

    async def sync_status_only(self, d: Obj, rss: list[Obj]) -> None:
        new_rs, old, d = await self.get_all_replica_sets(d, rss, create=False)
        await self.sync_deployment_status([*old, new_rs], new_rs, d)

    async def sync_rollout_status(self, all_rss: list[Obj | None], new_rs: Obj | None, d: Obj) -> None:
        status = self.calculate_status(all_rss, new_rs, d)
        if not du.has_progress_deadline(d):
            remove_condition(status, PROGRESSING)
        current = get_condition(d.get("status"), PROGRESSING)
        complete = (
            status.get("replicas") == status.get("updatedReplicas")
            and current is not None
            and current.get("reason") == du.NEW_RS_AVAILABLE
        )
        now = self.clock()
        rs_name = md(new_rs).get("name") if new_rs is not None else None
        if du.has_progress_deadline(d) and not complete:
            if du.deployment_complete(d, status):
                msg = (
                    f'ReplicaSet "{rs_name}" has successfully progressed.'
                    if rs_name
                    else (f'Deployment "{md(d)["name"]}" has successfully progressed.')
                )
                du.set_condition(status, du.new_condition(PROGRESSING, "True", du.NEW_RS_AVAILABLE, msg))
            elif du.deployment_progressing(d, status):
                msg = (
                    f'ReplicaSet "{rs_name}" is progressing.'
                    if rs_name
                    else (f'Deployment "{md(d)["name"]}" is progressing.')
                )
                cond = du.new_condition(PROGRESSING, "True", du.RS_UPDATED, msg)
                cond["lastTransitionTime"] = transition_time(current, "True", cond["lastTransitionTime"])
                remove_condition(status, PROGRESSING)
                du.set_condition(status, cond)
            elif du.deployment_timed_out(d, status, now):
                msg = (
                    f'ReplicaSet "{rs_name}" has timed out progressing.'
                    if rs_name
                    else (f'Deployment "{md(d)["name"]}" has timed out progressing.')
                )
                du.set_condition(status, du.new_condition(PROGRESSING, "False", du.TIMED_OUT, msg))
        failure = None
        for rs in all_rss:
            if rs is not None:
                failure = get_condition(rs.get("status"), REPLICA_FAILURE) or failure
        if failure is not None:
            du.set_condition(
                status,
                du.new_condition(
                    REPLICA_FAILURE,
                    str(failure.get("status")),
                    str(failure.get("reason")),
                    str(failure.get("message")),
                ),
            )
        else:
            remove_condition(status, REPLICA_FAILURE)
        if du.normalized_status(status) == du.normalized_status(d.get("status")):
            self._requeue_stuck(d, status, now)
            return
        await self._update_status(d, status)

    def _requeue_stuck(self, d: Obj, status: Obj, now: float) -> None:
        cond = get_condition(status, PROGRESSING)
        if not du.has_progress_deadline(d) or cond is None:
            return
        if du.deployment_complete(d, status) or cond.get("reason") == du.TIMED_OUT:
            return
        since = parse_time(cond.get("lastUpdateTime"))
        if since is None:
            return
        after = since + int((d.get("spec") or {}).get("progressDeadlineSeconds") or 0) - now
        key = object_key(d)
        self.queue.add_after(key, max(after, 0.0) + 1.0)
