"""PodDisruptionBudget status: how many of the selected pods are healthy and how many may be disrupted.

Upstream's ``pkg/controller/disruption`` semantics, written afresh. For each PDB (queue key
``namespace/name``):

- the selected pods: the namespace's pods matching ``spec.selector`` (an empty selector selects every
  pod, a missing one none);
- ``expectedPods`` and ``desiredHealthy``: with an integer ``minAvailable``, ``desiredHealthy`` is that
  number and ``expectedPods`` the number of selected pods. With ``maxUnavailable`` (integer or percent) or
  a percentage ``minAvailable``, ``expectedPods`` is the sum of the scales of the pods' controllers
  (Deployment through its ReplicaSet, ReplicaSet, StatefulSet, ReplicationController, or any owner with a
  ``/scale`` subresource), and percentages are scaled against it rounding up, as upstream's
  ``GetScaledValueFromIntOrPercent(.., roundUp=true)``; ``desiredHealthy = expected - maxUnavailable`` (at
  least 0). Pods without a controller make these forms fail (``UnmanagedPods`` warning event);
- ``currentHealthy``: selected pods that are Ready and not being deleted, excluding pods in
  ``status.disruptedPods`` (pods the eviction API let go whose deletion is still expected: entries
  expire after 2 minutes or when the pod is deleted);
- ``disruptionsAllowed = currentHealthy - desiredHealthy`` (0 when negative or when ``expectedPods`` is
  0), ``observedGeneration``, and the ``DisruptionAllowed`` condition (True/``SufficientPods``,
  False/``InsufficientPods``, or False/``SyncFailed`` with the error, when the computation fails, which
  also sets ``disruptionsAllowed`` to 0: the fail-safe).

The eviction API that reads this status is ``kybernetes.apiserver.disruption``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from kybernetes.api.conditions import set_condition
from kybernetes.api.errors import StatusError
from kybernetes.api.meta import Obj, now_rfc3339, parse_time
from kybernetes.api.selectors import label_selector_from_dict
from kybernetes.client import object_key, split_key
from kybernetes.controllers.base import Controller, ControllerContext, controller_owner, unwrap

__all__ = ["DisruptionController", "compute_pdb_status", "pod_is_ready", "scaled_value"]

log = logging.getLogger(__name__)

DELETION_TIMEOUT = 120.0  # seconds an eviction-approved pod stays in disruptedPods (upstream DeletionTimeout)


class PdbError(Exception):
    """The PDB's status cannot be computed (unmanaged pods, missing controllers, bad values)."""


def scaled_value(value: int | str, total: int, round_up: bool = True) -> int:
    """``intstr.GetScaledValueFromIntOrPercent``: an int as is, ``"N%"`` of ``total``."""
    if isinstance(value, bool):
        raise PdbError(f"invalid value for IntOrString: {value!r}")
    if isinstance(value, int):
        return value
    text = str(value)
    if not text.endswith("%"):
        try:
            return int(text)
        except ValueError:
            raise PdbError(
                f'invalid value for IntOrString: invalid type: string is not a percentage: "{text}"'
            ) from None
    try:
        percent = int(text[:-1])
    except ValueError:
        raise PdbError(f'invalid value "{text}"') from None
    exact = percent * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def pod_is_ready(pod: Mapping[str, Any]) -> bool:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def compute_pdb_status(
    pdb: Mapping[str, Any],
    pods: Sequence[Mapping[str, Any]],
    expected_scale: int | None,
    now: float | None = None,
) -> tuple[Obj, float | None]:
    """The PDB's new status (keeping its conditions list shape) and when to look again (disruptedPods
    expiry), given its selected pods and, for the scale-based forms, the sum of the controllers' scales
    (``None`` raises ``PdbError`` when needed)."""
    now = time.time() if now is None else now
    spec = pdb.get("spec") or {}
    min_available = spec.get("minAvailable")
    max_unavailable = spec.get("maxUnavailable")
    if max_unavailable is not None:
        if expected_scale is None:
            raise PdbError("cannot compute expected pods: pods without a scalable controller")
        expected = expected_scale
        desired = max(0, expected - scaled_value(max_unavailable, expected, True))
    elif min_available is not None and isinstance(min_available, int) and not isinstance(min_available, bool):
        desired = min_available
        expected = len(pods)
    elif min_available is not None:
        if expected_scale is None:
            raise PdbError("cannot compute expected pods: pods without a scalable controller")
        expected = expected_scale
        desired = scaled_value(min_available, expected, True)
    else:
        desired, expected = 0, len(pods)  # neither set: defaulting gives minAvailable 1 upstream
    previous = (pdb.get("status") or {}).get("disruptedPods") or {}
    disrupted: dict[str, str] = {}
    recheck: float | None = None
    healthy = 0
    for pod in pods:
        md = pod.get("metadata") or {}
        if md.get("deletionTimestamp"):
            continue
        name = str(md.get("name"))
        if name in previous:
            at = parse_time(previous[name])
            if at is not None and at + DELETION_TIMEOUT > now:
                disrupted[name] = previous[name]
                due = at + DELETION_TIMEOUT
                recheck = due if recheck is None else min(recheck, due)
                continue
        if pod_is_ready(pod):
            healthy += 1
    allowed = healthy - desired
    if expected <= 0 or allowed <= 0:
        allowed = 0
    status: Obj = {
        "currentHealthy": healthy,
        "desiredHealthy": desired,
        "expectedPods": expected,
        "disruptionsAllowed": allowed,
        "observedGeneration": (pdb.get("metadata") or {}).get("generation") or 0,
        "conditions": _with_condition(
            pdb,
            "True" if allowed > 0 else "False",
            "SufficientPods" if allowed > 0 else "InsufficientPods",
            "",
        ),
    }
    if disrupted:
        status["disruptedPods"] = disrupted
    return status, recheck


def _with_condition(pdb: Mapping[str, Any], status: str, reason: str, message: str) -> list[Obj]:
    conditions = [dict(c) for c in (pdb.get("status") or {}).get("conditions") or []]
    generation = (pdb.get("metadata") or {}).get("generation") or 0
    set_condition(
        conditions,
        {
            "type": "DisruptionAllowed",
            "status": status,
            "reason": reason,
            "message": message,
            "observedGeneration": generation,
            "lastTransitionTime": now_rfc3339(),
        },
        same_when=(),
    )
    return conditions


def _selected(pdb: Mapping[str, Any], pods: list[Obj]) -> list[Obj]:
    selector = (pdb.get("spec") or {}).get("selector")
    if selector is None:
        return []
    sel = label_selector_from_dict(selector)
    return [p for p in pods if sel.matches((p.get("metadata") or {}).get("labels") or {})]


class DisruptionController(Controller):
    """Keeps PodDisruptionBudget status current (see the module docstring)."""

    name = "disruption-controller"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        api = self.api
        self.pdbs = ctx.informers.informer(api.poddisruptionbudgets)
        self.pods = ctx.informers.informer(api.pods)
        self.replicasets = ctx.informers.informer(api.replicasets)
        self.deployments = ctx.informers.informer(api.deployments)
        self.statefulsets = ctx.informers.informer(api.statefulsets)
        self.rcs = ctx.informers.informer(api.replicationcontrollers)
        self.pdbs.add_event_handler(self.enqueue_obj, self.enqueue_new, None)
        self.pods.add_event_handler(self._pod_event, self._pod_updated, self._pod_event)
        for inf in (self.replicasets, self.deployments, self.statefulsets, self.rcs):
            inf.add_event_handler(
                self._namespace_event, lambda old, new: self._namespace_event(new), self._namespace_event
            )

    # --- handlers -------------------------------------------------------------------------------------
    def _pod_event(self, obj: Any) -> None:
        pod = unwrap(obj)
        if pod is None:
            return
        ns = (pod.get("metadata") or {}).get("namespace")
        labels = (pod.get("metadata") or {}).get("labels") or {}
        for pdb in self.pdbs.list(ns):
            selector = (pdb.get("spec") or {}).get("selector")
            if selector is None:
                continue
            try:
                if label_selector_from_dict(selector).matches(labels):
                    self.queue.add(object_key(pdb))
            except Exception:
                continue

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels"):
            self._pod_event(old)
        self._pod_event(new)

    def _namespace_event(self, obj: Any) -> None:
        target = unwrap(obj)
        if target is None:
            return
        for pdb in self.pdbs.list((target.get("metadata") or {}).get("namespace")):
            self.queue.add(object_key(pdb))

    # --- expected scale -------------------------------------------------------------------------------
    async def _controller_scale(self, ref: Mapping[str, Any], namespace: str) -> tuple[str, int] | None:
        kind, name = ref.get("kind"), str(ref.get("name"))
        group = str(ref.get("apiVersion") or "").rpartition("/")[0]
        if kind == "ReplicaSet" and group == "apps":
            rs = self.replicasets.get(name, namespace)
            if rs is None or (rs.get("metadata") or {}).get("uid") != ref.get("uid"):
                return None
            owner = controller_owner(rs)
            if owner is not None and owner.get("kind") == "Deployment":
                dep = self.deployments.get(str(owner.get("name")), namespace)
                if dep is None or (dep.get("metadata") or {}).get("uid") != owner.get("uid"):
                    return None
                return str(owner.get("uid")), int((dep.get("spec") or {}).get("replicas", 1))
            return str(ref.get("uid")), int((rs.get("spec") or {}).get("replicas", 1))
        for k, g, inf in (
            ("StatefulSet", "apps", self.statefulsets),
            ("ReplicationController", "", self.rcs),
        ):
            if kind == k and group == g:
                obj = inf.get(name, namespace)
                if obj is None or (obj.get("metadata") or {}).get("uid") != ref.get("uid"):
                    return None
                return str(ref.get("uid")), int((obj.get("spec") or {}).get("replicas", 1))
        # any other controller with a /scale subresource
        version = str(ref.get("apiVersion") or "").rpartition("/")[2]
        info = next((i for i in self.api.registry.in_group_version(group, version) if i.kind == kind), None)
        if info is None or info.subresource("scale") is None:
            return None
        try:
            scale = await self.api.client_for(info).get_scale(name, namespace=namespace)
        except StatusError as exc:
            if exc.code == 404:
                return None
            raise
        if (scale.get("metadata") or {}).get("uid") not in (None, ref.get("uid")):
            return None
        return str(ref.get("uid")), int((scale.get("spec") or {}).get("replicas") or 0)

    async def expected_scale(self, pods: list[Obj], pdb: Mapping[str, Any]) -> int:
        scales: dict[str, int] = {}
        unmanaged: list[str] = []
        for pod in pods:
            md = pod.get("metadata") or {}
            ref = controller_owner(pod)
            if ref is None:
                unmanaged.append(str(md.get("name")))
                continue
            if str(ref.get("uid")) in scales:
                continue
            found = await self._controller_scale(ref, str(md.get("namespace")))
            if found is None:
                raise PdbError(f'found no controllers for pod "{md.get("name")}"')
            scales[found[0]] = found[1]
        if unmanaged:
            self.recorder.warning(
                pdb,
                "UnmanagedPods",
                f"Pods selected by this PodDisruptionBudget (selector: {(pdb.get('spec') or {}).get('selector')}) "
                "were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, "
                'which may result in undefined behavior. To account for these pods please set ".spec.minAvailable" '
                "field of the PDB to an integer value.",
            )
            raise PdbError(f"pods without a controller: {', '.join(sorted(unmanaged))}")
        return sum(scales.values())

    # --- reconcile ------------------------------------------------------------------------------------
    async def reconcile(self, key: str) -> None:
        pdb = self.pdbs.indexer.get_by_key(key)
        if pdb is None:
            return
        ns, _ = split_key(key)
        pods = _selected(pdb, self.pods.list(ns))
        if not pods:
            self.recorder.normal(pdb, "NoPods", "No matching pods found")
        spec = pdb.get("spec") or {}
        needs_scale = spec.get("maxUnavailable") is not None or isinstance(spec.get("minAvailable"), str)
        try:
            scale = await self.expected_scale(pods, pdb) if needs_scale else None
            status, recheck = compute_pdb_status(pdb, pods, scale)
        except PdbError as exc:
            self.recorder.warning(
                pdb,
                "CalculateExpectedPodCountFailed",
                f"Failed to calculate the number of expected pods: {exc}",
            )
            status = {
                **(pdb.get("status") or {}),
                "disruptionsAllowed": 0,
                "observedGeneration": (pdb.get("metadata") or {}).get("generation") or 0,
                "conditions": _with_condition(pdb, "False", "SyncFailed", str(exc)),
            }
            status.setdefault("currentHealthy", 0)
            status.setdefault("desiredHealthy", 0)
            status.setdefault("expectedPods", 0)
            recheck = None
        if recheck is not None:
            self.queue.add_after(key, max(0.0, recheck - time.time()) + 0.1)
        if _status_equal(pdb.get("status") or {}, status):
            return
        await self.api.poddisruptionbudgets.update_status({**pdb, "status": status})


def _status_equal(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    def strip(s: Mapping[str, Any]) -> Obj:
        out = dict(s)
        out["conditions"] = [
            {k: v for k, v in c.items() if k != "lastTransitionTime"} for c in s.get("conditions") or []
        ]
        out.setdefault("disruptedPods", {})
        out["disruptedPods"] = out["disruptedPods"] or {}
        return out

    return strip(a) == strip(b)
