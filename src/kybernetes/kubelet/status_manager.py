"""Pod status: computed from the kubelet's ``PodState`` and posted to ``pods/status`` from one place.

``compute_status`` is upstream's ``generateAPIPodStatus`` in small pieces: container statuses (state
waiting / running / terminated with reason, exit code, times, ``containerID`` ``<runtime>://<id>``, image,
imageID, ready, started, restartCount, lastState), init container statuses, ephemeral container statuses
(``ephemeralContainerStatuses``: never ready, no ``started``, restartCount 0; they count for neither the
phase nor the conditions), the phase (``get_phase``,
upstream's ``getPhase``), the conditions PodReadyToStartContainers, Initialized, ContainersReady, Ready
(PodScheduled is kept as the scheduler wrote it), hostIP(s), podIP(s), startTime and qosClass.

``StatusManager.post(state, status)`` PATCHes (merge) ``pods/status`` only when the status differs from
the last one posted for that pod; condition ``lastTransitionTime`` is carried over while a condition's
status does not change; keys that disappeared are sent as ``null`` so the merge removes them. Static pods
post to their mirror pod (same namespace/name); a missing pod (404) is not an error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from kybernetes.api.conditions import transition_time
from kybernetes.api.meta import Obj, format_time
from kybernetes.api.pods import qos_class
from kybernetes.client import ApiClient, StatusError
from kybernetes.kubelet.pod_state import ContainerRecord, PodState
from kybernetes.kubelet.runtime import ContainerStatus

__all__ = ["StatusManager", "compute_status", "get_phase"]

log = logging.getLogger(__name__)
TERMINAL = ("Succeeded", "Failed")


# --- containers ---------------------------------------------------------------------------------------
def _terminated(st: ContainerStatus, runtime_name: str) -> Obj:
    reason = st.reason or ("Completed" if st.exit_code == 0 else "Error")
    out: Obj = {
        "exitCode": st.exit_code,
        "reason": reason,
        "startedAt": format_time(st.started_at) if st.started_at else None,
        "finishedAt": format_time(st.finished_at) if st.finished_at else None,
        "containerID": f"{runtime_name}://{st.id}",
    }
    if st.message:
        out["message"] = st.message
    return out


def _container_status(
    rec: ContainerRecord, spec: Mapping[str, Any], runtime_name: str, ready: bool, started: bool
) -> Obj:
    st = rec.status
    image = str(spec.get("image") or "")
    out: Obj = {
        "name": rec.name,
        "image": image,
        "imageID": rec.image_id or "",
        "ready": False,
        "restartCount": rec.restart_count,
        "started": False,
        "state": {},
        "lastState": {},
    }
    if rec.container_id:
        out["containerID"] = f"{runtime_name}://{rec.container_id}"
    last = rec.previous
    if st is not None and st.state == "running":
        out["state"] = {"running": {"startedAt": format_time(st.started_at or st.created_at)}}
        out["ready"], out["started"] = ready, started
    elif st is not None and st.state == "exited" and not rec.waiting_reason:
        out["state"] = {"terminated": _terminated(st, runtime_name)}
    else:
        waiting: Obj = {"reason": rec.waiting_reason or "ContainerCreating"}
        if rec.waiting_message:
            waiting["message"] = rec.waiting_message
        out["state"] = {"waiting": waiting}
        if st is not None and st.state == "exited":
            last = st
    if last is not None and last.state == "exited":
        out["lastState"] = {"terminated": _terminated(last, runtime_name)}
    return out


# --- phase and conditions --------------------------------------------------------------------------------
def get_phase(state: PodState, statuses: list[Obj], init_statuses: list[Obj]) -> str:
    """Upstream's ``getPhase`` over the computed container statuses."""
    if state.terminal_phase:
        return state.terminal_phase
    spec = state.spec
    policy = str(spec.get("restartPolicy") or "Always")
    pending_init = failed_init = 0
    for s in init_statuses:
        sidecar = state.containers.get(s["name"])
        if sidecar is not None and sidecar.sidecar:
            if not s.get("started"):
                pending_init += 1
            continue
        term = s["state"].get("terminated")
        if term is not None and term.get("exitCode") == 0:
            continue
        if term is not None or "terminated" in s.get("lastState", {}):
            failed_init += 1
        pending_init += 1
    if failed_init and policy == "Never":
        return "Failed"
    running = waiting = stopped = succeeded = 0
    for s in statuses:
        st = s["state"]
        if "running" in st:
            running += 1
        elif "terminated" in st:
            stopped += 1
            succeeded += st["terminated"].get("exitCode") == 0
        elif "terminated" in s.get("lastState", {}):
            stopped += 1
        else:
            waiting += 1
    if pending_init and not state.initialized:
        return "Pending"
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if stopped:
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        return "Running" if policy == "OnFailure" else "Failed"
    return "Pending"


def _cond(ctype: str, ok: bool, reason: str = "", message: str = "") -> Obj:
    c: Obj = {"type": ctype, "status": "True" if ok else "False", "lastProbeTime": None}
    if not ok and reason:
        c["reason"] = reason
        if message:
            c["message"] = message
    return c


def _conditions(state: PodState, phase: str, statuses: list[Obj], init_statuses: list[Obj]) -> list[Obj]:
    existing = {c.get("type"): c for c in (state.pod.get("status") or {}).get("conditions") or []}
    unready = [s["name"] for s in statuses if not s["ready"]]
    unready += [s["name"] for s in init_statuses if state.containers[s["name"]].sidecar and not s["ready"]]
    incomplete = [
        s["name"]
        for s in init_statuses
        if not state.containers[s["name"]].sidecar
        and not s["state"].get("terminated", {}).get("exitCode") == 0
    ]
    initialized = state.initialized or not incomplete
    conds = [_cond("PodReadyToStartContainers", bool(state.sandbox_id) and not state.terminated)]
    conds.append(
        _cond(
            "Initialized",
            initialized,
            "ContainersNotInitialized",
            f"containers with incomplete status: [{' '.join(incomplete)}]",
        )
    )
    if phase in TERMINAL:
        ready, reason, message = False, "PodCompleted", ""
    else:
        ready = not unready
        reason, message = "ContainersNotReady", f"containers with unready status: [{' '.join(unready)}]"
    conds.append(_cond("ContainersReady", ready, reason, message))
    conds.append(_cond("Ready", ready, reason, message))
    if "PodScheduled" in existing:
        conds.append(dict(existing["PodScheduled"]))
    elif (state.pod.get("spec") or {}).get("nodeName"):
        conds.append(_cond("PodScheduled", True))
    return conds


def compute_status(
    state: PodState,
    *,
    runtime_name: str,
    host_ip: str,
    ready: Callable[[ContainerRecord], bool],
    started: Callable[[ContainerRecord], bool],
) -> Obj:
    """The pod's status as the kubelet reports it (see the module docstring)."""
    spec = state.spec
    init_statuses = [
        _container_status(
            state.record(c, init=True), c, runtime_name, *_probe(state, c, True, ready, started)
        )
        for c in spec.get("initContainers") or []
    ]
    statuses = [
        _container_status(
            state.record(c, init=False), c, runtime_name, *_probe(state, c, False, ready, started)
        )
        for c in spec.get("containers") or []
    ]
    ephemeral_statuses = []
    for c in spec.get("ephemeralContainers") or []:
        es = _container_status(state.record(c, init=False, ephemeral=True), c, runtime_name, False, False)
        del es["started"]  # upstream reports no started field for ephemeral containers
        ephemeral_statuses.append(es)
    phase = get_phase(state, statuses, init_statuses)
    pod_ip = host_ip if spec.get("hostNetwork") else (state.pod_ip or "")
    status: Obj = {
        "phase": phase,
        "conditions": _conditions(state, phase, statuses, init_statuses),
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}] if host_ip else [],
        "startTime": format_time(state.start_time),
        "containerStatuses": statuses,
        "qosClass": qos_class(state.pod),
    }
    if pod_ip:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    if ephemeral_statuses:
        status["ephemeralContainerStatuses"] = ephemeral_statuses
    if state.reason:
        status["reason"] = state.reason
    if state.message:
        status["message"] = state.message
    return status


def _probe(
    state: PodState,
    container: Mapping[str, Any],
    init: bool,
    ready: Callable[[ContainerRecord], bool],
    started: Callable[[ContainerRecord], bool],
) -> tuple[bool, bool]:
    rec = state.record(dict(container), init=init)
    if not rec.running:
        return (rec.succeeded and init and not rec.sidecar), False
    return ready(rec), started(rec)


# --- posting --------------------------------------------------------------------------------------------
def _carry_transitions(new: Obj, old: Obj | None, now: str) -> None:
    before = {c.get("type"): c for c in (old or {}).get("conditions") or []}
    for cond in new.get("conditions") or []:
        if cond.get("lastTransitionTime"):
            continue
        cond["lastTransitionTime"] = transition_time(before.get(cond.get("type")), cond.get("status"), now)


class StatusManager:
    """Posts pod statuses; remembers the last one posted per pod uid to PATCH only on change."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api
        self._posted: dict[str, Obj] = {}
        self.patches = 0

    def last(self, uid: str) -> Obj | None:
        return self._posted.get(uid)

    def forget(self, uid: str) -> None:
        self._posted.pop(uid, None)

    async def post(self, state: PodState, status: Obj) -> bool:
        """PATCH the status if it changed; True when posted (or nothing to do), False on failure."""
        previous = self._posted.get(state.uid)
        if previous is None:
            previous = dict(state.pod.get("status") or {})
        _carry_transitions(status, previous, format_time())
        if status == self._posted.get(state.uid):
            return True
        patch: Obj = dict(status)
        for key in previous:
            if key not in patch:
                patch[key] = None
        try:
            await self.api.pods.patch(
                state.name, {"status": patch}, namespace=state.namespace, subresource="status"
            )
        except StatusError as exc:
            if exc.code == 404:
                return True
            log.warning("status update of pod %s/%s failed: %s", state.namespace, state.name, exc)
            return False
        except Exception as exc:
            log.warning("status update of pod %s/%s failed: %s", state.namespace, state.name, exc)
            return False
        self._posted[state.uid] = status
        self.patches += 1
        return True
