"""The DaemonSet controller (upstream ``pkg/controller/daemon`` semantics).

A node is eligible for a DaemonSet's pod when the template's ``nodeSelector`` and required node affinity
match it and its NoSchedule/NoExecute taints are tolerated by the template's tolerations plus the
standard daemon tolerations (``node.kubernetes.io/not-ready`` and ``unreachable`` NoExecute;
``disk-pressure``, ``memory-pressure``, ``pid-pressure``, ``unschedulable`` NoSchedule; and
``network-unavailable`` NoSchedule for hostNetwork pods), which are also added to every pod. A pod already
running on a node whose new NoSchedule taint it does not tolerate may stay; an untolerated NoExecute taint
evicts it.

Pods are created unbound, like upstream: their required node affinity is replaced by a single term
``matchFields metadata.name In [<node>]`` and the scheduler binds them. They carry
``controller-revision-hash`` (the bare hash of the DaemonSet's ControllerRevision) and
``pod-template-generation`` labels.

One reconcile: find (or create, with collision handling) the revision of the current template, map pods
to nodes (by ``spec.nodeName`` or the affinity above), create pods on eligible nodes without one, delete
pods on ineligible nodes, duplicates and failed pods, then roll out: ``RollingUpdate`` with
``maxSurge == 0`` deletes old pods while no more than ``maxUnavailable`` nodes are unavailable (unavailable
old pods first); with ``maxSurge > 0`` it starts a new pod beside an available old one (up to maxSurge
nodes at once) and deletes the old pod once the new one is available. ``OnDelete`` never deletes old pods.
Status: desiredNumberScheduled, currentNumberScheduled, numberMisscheduled, numberReady,
numberAvailable, numberUnavailable, updatedNumberScheduled, observedGeneration, collisionCount.

Expectations (``history.Expectations``) stop a stale pod cache from double-creating. Neighbours:
``history.py`` (revisions), the scheduler (binding), ``base.py``.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Mapping
from typing import Any

from kybernetes.api.errors import StatusError
from kybernetes.api.meta import ObjView as Obj
from kybernetes.api.meta import meta_of as _md
from kybernetes.api.selectors import label_selector_from_dict
from kybernetes.client import object_key, split_key
from kybernetes.controllers.base import (
    CONTROLLER_UID_INDEX,
    Controller,
    ControllerContext,
    controller_uid_index,
    ready_since,
    unwrap,
)
from kybernetes.controllers.util.history import (
    CONTROLLER_REVISION_HASH_LABEL,
    Expectations,
    create_revision,
    hash_data,
    next_revision_number,
    owner_reference,
    revision_data,
    sort_revisions,
    truncate_history,
)

__all__ = [
    "DAEMON_TOLERATIONS",
    "DaemonSetController",
    "add_daemon_tolerations",
    "node_should_run",
    "scaled_value",
]

log = logging.getLogger(__name__)

TEMPLATE_GENERATION_LABEL = "pod-template-generation"
DAEMON_TOLERATIONS: tuple[tuple[str, str], ...] = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
)
NETWORK_UNAVAILABLE = ("node.kubernetes.io/network-unavailable", "NoSchedule")


# --- eligibility --------------------------------------------------------------------------------------
def add_daemon_tolerations(pod_spec: dict[str, Any]) -> None:
    """Add the tolerations every DaemonSet pod gets (unless an equal one is there)."""
    tolerations = list(pod_spec.get("tolerations") or [])
    wanted = list(DAEMON_TOLERATIONS)
    if pod_spec.get("hostNetwork"):
        wanted.append(NETWORK_UNAVAILABLE)
    for key, effect in wanted:
        tol = {"key": key, "operator": "Exists", "effect": effect}
        if not any(
            t.get("key") == key and t.get("effect") == effect and t.get("operator") == "Exists"
            for t in tolerations
        ):
            tolerations.append(tol)
    pod_spec["tolerations"] = tolerations


def _tolerates(tolerations: list[Mapping[str, Any]], taint: Mapping[str, Any]) -> bool:
    for tol in tolerations:
        if tol.get("effect") and tol.get("effect") != taint.get("effect"):
            continue
        op = tol.get("operator") or "Equal"
        key = tol.get("key") or ""
        if not key:
            if op == "Exists":
                return True
            continue
        if key != taint.get("key"):
            continue
        if op == "Exists" or (tol.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def _requirement_matches(req: Mapping[str, Any], values: Mapping[str, str]) -> bool:
    key = req.get("key")
    op = req.get("operator")
    vals = [str(v) for v in req.get("values") or []]
    present = key in values
    have = values.get(str(key), "")
    if op == "In":
        return present and have in vals
    if op == "NotIn":
        return not present or have not in vals
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and vals:
        try:
            a, b = int(have), int(vals[0])
        except ValueError:
            return False
        return a > b if op == "Gt" else a < b
    return False


def _affinity_matches(affinity: Mapping[str, Any] | None, node: Obj) -> bool:
    required = (
        ((affinity or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
    ) or {}
    terms = required.get("nodeSelectorTerms")
    if not terms:
        return True
    labels = dict(_md(node).get("labels") or {})
    fields = {"metadata.name": str(_md(node).get("name"))}
    for term in terms:
        exprs = term.get("matchExpressions") or []
        mfields = term.get("matchFields") or []
        if not exprs and not mfields:
            continue
        if all(_requirement_matches(r, labels) for r in exprs) and all(
            _requirement_matches(r, fields) for r in mfields
        ):
            return True
    return False


def node_should_run(pod_spec: Mapping[str, Any], node: Obj) -> tuple[bool, bool]:
    """(should a daemon pod be placed on ``node``, may an existing one keep running there)."""
    labels = _md(node).get("labels") or {}
    for k, v in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False, False
    if not _affinity_matches(pod_spec.get("affinity"), node):
        return False, False
    spec = dict(pod_spec)
    add_daemon_tolerations(spec)
    tolerations = spec["tolerations"]
    should_run, may_continue = True, True
    for taint in (node.get("spec") or {}).get("taints") or []:
        effect = taint.get("effect")
        if effect not in ("NoSchedule", "NoExecute") or _tolerates(tolerations, taint):
            continue
        should_run = False
        if effect == "NoExecute":
            may_continue = False
    return should_run, may_continue


def scaled_value(value: Any, total: int, round_up: bool) -> int:
    """An int-or-percent (``maxUnavailable``, ``maxSurge``) against ``total``."""
    if isinstance(value, str) and value.endswith("%"):
        pct = int(value[:-1] or 0)
        raw = pct * total / 100
        return math.ceil(raw) if round_up else math.floor(raw)
    return int(value or 0)


def _pod_node(pod: Obj) -> str | None:
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        return str(node)
    affinity = ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}
    for term in (
        (affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms")
    ) or []:
        for req in term.get("matchFields") or []:
            if (
                req.get("key") == "metadata.name"
                and req.get("operator") == "In"
                and len(req.get("values") or []) == 1
            ):
                return str(req["values"][0])
    return None


def _is_available(pod: Obj, min_ready: int, now: float) -> bool:
    since = ready_since(pod)
    if since is None or _md(pod).get("deletionTimestamp"):
        return False
    return min_ready <= 0 or since + min_ready <= now


def _created(pod: Obj) -> str:
    return str(_md(pod).get("creationTimestamp") or "")


class DaemonSetController(Controller):
    """Keeps one pod of each DaemonSet on every eligible node."""

    name = "daemonset-controller"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        api = ctx.api
        self.sets = ctx.informers.informer(api.daemonsets)
        self.pods = ctx.informers.informer(api.pods)
        self.nodes = ctx.informers.informer(api.nodes)
        self.revisions = ctx.informers.informer(api.controllerrevisions)
        self.pods.add_indexer(CONTROLLER_UID_INDEX, controller_uid_index)
        self.revisions.add_indexer(CONTROLLER_UID_INDEX, controller_uid_index)
        self.expectations = Expectations()
        self.sets.add_event_handler(self.enqueue_obj, self.enqueue_new, self._set_deleted)
        self.pods.add_event_handler(self._pod_added, self._pod_updated, self._pod_deleted)
        self.nodes.add_event_handler(self._node_event, self._node_updated, self._node_event)
        self.revisions.add_event_handler(self._rev_event, self._rev_updated, self._rev_event)

    # --- handlers -------------------------------------------------------------------------------------
    def _set_deleted(self, obj: Any) -> None:
        ds = unwrap(obj)
        if ds is not None:
            self.expectations.forget(object_key(ds))

    def _owner_key(self, obj: Any) -> str | None:
        target = unwrap(obj)
        if target is None:
            return None
        for ref in _md(target).get("ownerReferences") or []:
            if ref.get("controller") and ref.get("kind") == "DaemonSet":
                return f"{_md(target).get('namespace')}/{ref.get('name')}"
        return None

    def _pod_added(self, obj: Any) -> None:
        key = self._owner_key(obj)
        if key:
            self.expectations.observe_add(key)
            self.queue.add(key)

    def _pod_updated(self, old: Any, new: Any) -> None:
        key = self._owner_key(new)
        if key:
            self.queue.add(key)

    def _pod_deleted(self, obj: Any) -> None:
        key = self._owner_key(obj)
        if key:
            self.queue.add(key)

    def _rev_event(self, obj: Any) -> None:
        key = self._owner_key(obj)
        if key:
            self.queue.add(key)

    def _rev_updated(self, old: Any, new: Any) -> None:
        self._rev_event(new)

    def _node_event(self, obj: Any) -> None:
        for ds in self.sets.list():
            self.queue.add(object_key(ds))

    def _node_updated(self, old: Any, new: Any) -> None:
        o, n = unwrap(old) or {}, unwrap(new) or {}
        if (_md(o).get("labels"), (o.get("spec") or {}).get("taints")) != (
            _md(n).get("labels"),
            (n.get("spec") or {}).get("taints"),
        ):
            self._node_event(new)

    # --- revisions ------------------------------------------------------------------------------------
    async def _revision(self, ds: dict[str, Any]) -> tuple[str, int, list[Obj]]:
        """(hash of the current template's revision, collision count, owned revisions)."""
        md = ds["metadata"]
        spec = ds.get("spec") or {}
        owned = sort_revisions(self.revisions.by_index(CONTROLLER_UID_INDEX, str(md["uid"])))
        collision = int((ds.get("status") or {}).get("collisionCount") or 0)
        data = revision_data(spec.get("template"))
        equal = [r for r in owned if r.get("data") == data]
        if equal:
            rev = dict(equal[-1])
            if rev["metadata"]["name"] != owned[-1]["metadata"]["name"]:
                body = copy.deepcopy(rev)
                body["revision"] = next_revision_number(owned)
                rev = await self.api.controllerrevisions.update(body)
        else:
            labels = dict(((spec.get("template") or {}).get("metadata") or {}).get("labels") or {})
            rev, collision = await create_revision(
                self.api,
                ds,
                api_version="apps/v1",
                kind="DaemonSet",
                template_labels=labels,
                data=data,
                revision=next_revision_number(owned),
                collision_count=collision,
                hash_label=CONTROLLER_REVISION_HASH_LABEL,
            )
            owned = [*owned, rev]
        digest = (rev["metadata"].get("labels") or {}).get(CONTROLLER_REVISION_HASH_LABEL) or hash_data(
            data, collision
        )
        return str(digest), collision, owned

    # --- pods -----------------------------------------------------------------------------------------
    def _new_pod(self, ds: Obj, node: str, digest: str) -> dict[str, Any]:
        md = ds["metadata"]
        tmpl = copy.deepcopy((ds.get("spec") or {}).get("template") or {})
        tmd = tmpl.get("metadata") or {}
        labels = dict(tmd.get("labels") or {})
        labels[CONTROLLER_REVISION_HASH_LABEL] = digest
        labels[TEMPLATE_GENERATION_LABEL] = str(md.get("generation") or 1)
        spec = dict(tmpl.get("spec") or {})
        add_daemon_tolerations(spec)
        affinity = dict(spec.get("affinity") or {})
        node_affinity = dict(affinity.get("nodeAffinity") or {})
        node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {
            "nodeSelectorTerms": [
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
            ]
        }
        affinity["nodeAffinity"] = node_affinity
        spec["affinity"] = affinity
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "generateName": f"{md['name']}-",
                "namespace": md["namespace"],
                "labels": labels,
                "annotations": dict(tmd.get("annotations") or {}),
                "ownerReferences": [owner_reference(ds, "apps/v1", "DaemonSet")],
            },
            "spec": spec,
        }

    async def _create_pods(self, ds: Obj, key: str, nodes: list[str], digest: str) -> None:
        if not nodes:
            return
        self.expectations.raise_(key, adds=len(nodes))
        failed = 0
        for node in nodes:
            try:
                pod = await self.api.pods.create(self._new_pod(ds, node, digest))
            except StatusError as exc:
                failed += 1
                self.expectations.lower(key, adds=1)
                self.recorder.warning(ds, "FailedCreate", f"Error creating: {exc.message}")
                continue
            self.recorder.normal(ds, "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}")
        if failed:
            raise RuntimeError(f"daemonset {key}: {failed} pod creations failed")

    async def _delete_pods(self, ds: Obj, pods: list[Obj]) -> None:
        for pod in pods:
            pmd = _md(pod)
            try:
                await self.api.pods.delete(str(pmd["name"]), namespace=str(pmd["namespace"]))
            except StatusError as exc:
                if exc.code != 404:
                    raise
                continue
            self.recorder.normal(ds, "SuccessfulDelete", f"Deleted pod: {pmd['name']}")

    # --- reconcile ------------------------------------------------------------------------------------
    async def reconcile(self, key: str) -> None:
        ns, name = split_key(key)
        cached = self.sets.get(name, ns)
        if cached is None or _md(cached).get("deletionTimestamp"):
            return
        if not self.expectations.satisfied(key):
            return
        ds: dict[str, Any] = copy.deepcopy(dict(cached))
        try:
            await self._sync(ds, key)
        except StatusError as exc:
            if exc.code != 409:
                raise
            self.queue.add_after(key, 0.05)

    async def _sync(self, ds: dict[str, Any], key: str) -> None:
        md = ds["metadata"]
        spec = ds.get("spec") or {}
        tmpl_spec = (spec.get("template") or {}).get("spec") or {}
        selector = label_selector_from_dict(spec.get("selector"))
        min_ready = int(spec.get("minReadySeconds") or 0)
        now = time.time()
        digest, collision, revisions = await self._revision(ds)

        by_node: dict[str, list[Obj]] = {}
        for pod in self.pods.by_index(CONTROLLER_UID_INDEX, str(md["uid"])):
            if not selector.matches(_md(pod).get("labels") or {}):
                continue
            pod_node = _pod_node(pod)
            if pod_node is not None:
                by_node.setdefault(pod_node, []).append(pod)

        def is_new(pod: Obj) -> bool:
            return (_md(pod).get("labels") or {}).get(CONTROLLER_REVISION_HASH_LABEL) == digest

        to_create: list[str] = []
        to_delete: list[Obj] = []
        eligible: dict[str, list[Obj]] = {}  # node -> live pods (not terminating, not failed)
        misscheduled = 0
        for node in self.nodes.list():
            node_name = str(_md(node)["name"])
            should_run, may_continue = node_should_run(tmpl_spec, node)
            pods = sorted(by_node.pop(node_name, []), key=_created)
            live = [p for p in pods if not _md(p).get("deletionTimestamp")]
            failed = [p for p in live if (p.get("status") or {}).get("phase") == "Failed"]
            live = [p for p in live if p not in failed]
            to_delete.extend(failed)
            if should_run or (may_continue and live):
                eligible[node_name] = live
                if not live and not any(_md(p).get("deletionTimestamp") for p in pods):
                    if should_run:
                        to_create.append(node_name)
                elif len(live) > 1:
                    # keep the newest-revision (then oldest) pods: one per node, two while surging
                    new = [p for p in live if is_new(p)]
                    old = [p for p in live if not is_new(p)]
                    keep = new[:1] + old[:1] if new and old else live[:1]
                    to_delete.extend(p for p in live if p not in keep)
                    eligible[node_name] = keep
            else:
                if live:
                    misscheduled += 1
                to_delete.extend(live)
        for pods in by_node.values():  # pods bound to nodes that no longer exist
            to_delete.extend(p for p in pods if not _md(p).get("deletionTimestamp"))

        # rolling update
        strategy = spec.get("updateStrategy") or {}
        if (strategy.get("type") or "RollingUpdate") == "RollingUpdate":
            rolling = strategy.get("rollingUpdate") or {}
            desired = len(eligible)
            max_surge = scaled_value(rolling.get("maxSurge", 0), desired, True)
            max_unavailable = scaled_value(rolling.get("maxUnavailable", 1), desired, True)
            if max_surge == 0 and max_unavailable == 0:
                max_unavailable = 1
            extra_create, extra_delete = self._roll(
                eligible, is_new, min_ready, now, max_surge, max_unavailable
            )
            to_create.extend(n for n in extra_create if n not in to_create)
            to_delete.extend(p for p in extra_delete if p not in to_delete)

        await self._delete_pods(ds, to_delete)
        await self._create_pods(ds, key, to_create, digest)

        # status
        deleted = {id(p) for p in to_delete}
        desired = current = ready = available = updated = 0
        for node in self.nodes.list():
            node_name = str(_md(node)["name"])
            should_run, _ = node_should_run(tmpl_spec, node)
            pods = [p for p in eligible.get(node_name, []) if id(p) not in deleted]
            if should_run:
                desired += 1
                if pods:
                    current += 1
            if not pods:
                continue
            chosen = next((p for p in pods if is_new(p)), pods[0])
            if ready_since(chosen) is not None:
                ready += 1
            if _is_available(chosen, min_ready, now):
                available += 1
            if is_new(chosen):
                updated += 1
        status = {
            "desiredNumberScheduled": desired,
            "currentNumberScheduled": current,
            "numberMisscheduled": misscheduled,
            "numberReady": ready,
            "numberAvailable": available,
            "numberUnavailable": max(0, desired - available),
            "updatedNumberScheduled": updated,
            "observedGeneration": int(md.get("generation") or 1),
            "collisionCount": collision,
        }
        if not status["numberUnavailable"]:
            status.pop("numberUnavailable")
        if not status["numberAvailable"]:
            status.pop("numberAvailable")
        old_status = ds.get("status") or {}
        if {k: v for k, v in old_status.items() if k != "conditions"} != status:
            if old_status.get("conditions"):
                status["conditions"] = old_status["conditions"]
            await self.api.daemonsets.update_status({**ds, "status": status})
        if min_ready and available < desired:
            self.queue.add_after(key, float(min_ready))
        live_hashes = {digest} | {
            str((_md(p).get("labels") or {}).get(CONTROLLER_REVISION_HASH_LABEL))
            for pods in eligible.values()
            for p in pods
        }
        live_names = {
            str(r["metadata"]["name"])
            for r in revisions
            if (r["metadata"].get("labels") or {}).get(CONTROLLER_REVISION_HASH_LABEL) in live_hashes
        }
        limit = int(v) if (v := spec.get("revisionHistoryLimit")) is not None else 10
        await truncate_history(self.api, revisions, live_names, limit)

    @staticmethod
    def _roll(
        eligible: dict[str, list[Obj]],
        is_new: Any,
        min_ready: int,
        now: float,
        max_surge: int,
        max_unavailable: int,
    ) -> tuple[list[str], list[Obj]]:
        """Rolling update decisions: (nodes to start a new pod on, old pods to delete)."""
        create: list[str] = []
        delete: list[Obj] = []
        if max_surge == 0:
            unavailable = 0
            old_available: list[Obj] = []
            for pods in eligible.values():
                if not pods:
                    unavailable += 1
                    continue
                pod = pods[0]
                ok = _is_available(pod, min_ready, now)
                if not ok:
                    unavailable += 1
                if not is_new(pod):
                    if ok:
                        old_available.append(pod)
                    else:
                        delete.append(pod)  # an unavailable old pod costs nothing to replace
            budget = max_unavailable - unavailable
            for pod in sorted(old_available, key=lambda p: str(_md(p).get("name"))):
                if budget <= 0:
                    break
                delete.append(pod)
                budget -= 1
            return create, delete
        surging = 0
        candidates: list[str] = []
        for node, pods in eligible.items():
            new = [p for p in pods if is_new(p)]
            old = [p for p in pods if not is_new(p)]
            if not old:
                continue
            if new:
                if _is_available(new[0], min_ready, now):
                    delete.extend(old)
                else:
                    surging += 1
            elif not any(_is_available(p, min_ready, now) for p in old):
                delete.extend(old)  # nothing to keep available: replace directly
            else:
                candidates.append(node)
        for node in sorted(candidates):
            if surging >= max_surge:
                break
            create.append(node)
            surging += 1
        return create, delete
