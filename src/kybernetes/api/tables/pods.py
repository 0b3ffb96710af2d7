"""The Pod printer: READY, the aggregate STATUS reason, RESTARTS with the last restart's age.

Follows ``printPod`` in upstream's ``printers.go`` step by step: the phase (or ``status.reason``),
``SchedulingGated``, init containers (``Init:N/M``, ``Init:<reason>``, ``Init:ExitCode:N``, sidecars
with ``restartPolicy: Always`` counted as containers), regular containers scanned last to first
(waiting/terminated reasons, ``Signal:N``/``ExitCode:N``, ``Completed`` turned back into ``Running`` or
``NotReady`` while a container still runs), then ``Terminating`` / ``Unknown`` for deleted pods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kybernetes.api.tables._base import (
    Column,
    Obj,
    Printer,
    age,
    age_column,
    dig,
    human_duration,
    integer,
    items,
    name,
    name_column,
    parse_time,
    text,
)

_POD_STATUS = "io.k8s.api.core.v1.PodStatus"
_POD_SPEC = "io.k8s.api.core.v1.PodSpec"

COLUMNS = (
    name_column(),
    Column("Ready", doc="The aggregate readiness state of this pod for accepting traffic."),
    Column("Status", doc="The aggregate status of the containers in this pod."),
    Column(
        "Restarts",
        doc="The number of times the containers in this pod have been restarted and when the last "
        "container in this pod has restarted.",
    ),
    age_column(),
    Column("IP", priority=1, doc=(_POD_STATUS, "podIP")),
    Column("Node", priority=1, doc=(_POD_SPEC, "nodeName")),
    Column("Nominated Node", priority=1, doc=(_POD_STATUS, "nominatedNodeName")),
    Column("Readiness Gates", priority=1, doc=(_POD_SPEC, "readinessGates")),
)

_TERMINAL = ("Succeeded", "Failed")
_NODE_UNREACHABLE_REASON = "NodeLost"


@dataclass
class _Tally:
    """Running totals while walking container statuses."""

    reason: str
    ready: int = 0
    restarts: int = 0
    last_restart: datetime | None = None
    sidecar_restarts: int = 0
    last_sidecar_restart: datetime | None = None
    sidecars: set[str] = field(default_factory=set)


def _later(current: datetime | None, status: Obj) -> datetime | None:
    finished = parse_time(dig(status, "lastState", "terminated", "finishedAt"))
    if finished is None or (current is not None and finished <= current):
        return current
    return finished


def _has_condition(status: Obj, kind: str) -> bool | None:
    for cond in items(status, "conditions"):
        if dig(cond, "type") == kind:
            return dig(cond, "status") == "True"
    return None


def _terminated_reason(term: Obj, prefix: str) -> str:
    if term.get("reason"):
        return prefix + str(term["reason"])
    if integer(term, "signal"):
        return f"{prefix}Signal:{integer(term, 'signal')}"
    return f"{prefix}ExitCode:{integer(term, 'exitCode')}"


def _walk_init(pod: Obj, tally: _Tally) -> bool:
    """Account init container statuses; True while the pod is still initializing."""
    specs = items(pod, "spec", "initContainers")
    for index, status in enumerate(items(pod, "status", "initContainerStatuses")):
        restart_count = integer(status, "restartCount")
        tally.restarts += restart_count
        tally.last_restart = _later(tally.last_restart, status)
        sidecar = dig(status, "name") in tally.sidecars
        if sidecar:
            tally.sidecar_restarts += restart_count
            tally.last_sidecar_restart = _later(tally.last_sidecar_restart, status)
        term, waiting = dig(status, "state", "terminated"), dig(status, "state", "waiting")
        if term is not None and integer(term, "exitCode") == 0:
            continue
        if sidecar and dig(status, "started") is True:
            tally.ready += 1 if dig(status, "ready") else 0
            continue
        if term is not None:
            tally.reason = _terminated_reason(term, "Init:")
        elif waiting is not None and dig(waiting, "reason") and dig(waiting, "reason") != "PodInitializing":
            tally.reason = "Init:" + str(waiting["reason"])
        else:
            tally.reason = f"Init:{index}/{len(specs)}"
        return True
    return False


def _walk_containers(pod: Obj, tally: _Tally) -> None:
    tally.restarts = tally.sidecar_restarts
    tally.last_restart = tally.last_sidecar_restart
    has_running = False
    for status in reversed(items(pod, "status", "containerStatuses")):
        tally.restarts += integer(status, "restartCount")
        tally.last_restart = _later(tally.last_restart, status)
        term, waiting = dig(status, "state", "terminated"), dig(status, "state", "waiting")
        if waiting is not None and dig(waiting, "reason"):
            tally.reason = str(waiting["reason"])
        elif term is not None:
            tally.reason = _terminated_reason(term, "")
        elif dig(status, "ready") and dig(status, "state", "running") is not None:
            has_running = True
            tally.ready += 1
    if tally.reason == "Completed" and has_running:
        tally.reason = "Running" if _has_condition(pod.get("status") or {}, "Ready") else "NotReady"


def _initial_reason(pod: Obj) -> str:
    reason = text(pod, "status", "reason") or text(pod, "status", "phase")
    for cond in items(pod, "status", "conditions"):
        if dig(cond, "type") == "PodScheduled" and dig(cond, "reason") == "SchedulingGated":
            reason = "SchedulingGated"
    return reason


def _summarize(pod: Obj) -> tuple[str, int, int, datetime | None]:
    """(reason, ready containers, restarts, last restart) exactly as ``printPod`` computes them."""
    tally = _Tally(reason=_initial_reason(pod))
    tally.sidecars = {
        str(c.get("name"))
        for c in items(pod, "spec", "initContainers")
        if dig(c, "restartPolicy") == "Always"
    }
    initializing = _walk_init(pod, tally)
    if not initializing or _has_condition(pod.get("status") or {}, "Initialized"):
        _walk_containers(pod, tally)
    deleted = dig(pod, "metadata", "deletionTimestamp") is not None
    if deleted and text(pod, "status", "reason") == _NODE_UNREACHABLE_REASON:
        tally.reason = "Unknown"
    elif deleted and text(pod, "status", "phase") not in _TERMINAL:
        tally.reason = "Terminating"
    return tally.reason, tally.ready, tally.restarts, tally.last_restart


def _total_containers(pod: Obj) -> int:
    sidecars = [c for c in items(pod, "spec", "initContainers") if dig(c, "restartPolicy") == "Always"]
    return len(items(pod, "spec", "containers")) + len(sidecars)


def _readiness_gates(pod: Obj) -> str:
    gates = items(pod, "spec", "readinessGates")
    if not gates:
        return "<none>"
    conditions = items(pod, "status", "conditions")
    passed = 0
    for gate in gates:
        for cond in conditions:
            if dig(cond, "type") == dig(gate, "conditionType"):
                passed += 1 if dig(cond, "status") == "True" else 0
                break
    return f"{passed}/{len(gates)}"


def _pod_ip(pod: Obj) -> str:
    ips = items(pod, "status", "podIPs")
    ip = text(ips[0], "ip") if ips else text(pod, "status", "podIP")
    return ip or "<none>"


def pod_cells(pod: Obj, now: datetime) -> list[Any]:
    reason, ready, restarts, last_restart = _summarize(pod)
    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        restarts_text = f"{restarts} ({human_duration(now - last_restart)} ago)"
    return [
        name(pod),
        f"{ready}/{_total_containers(pod)}",
        reason,
        restarts_text,
        age(pod, now),
        _pod_ip(pod),
        text(pod, "spec", "nodeName") or "<none>",
        text(pod, "status", "nominatedNodeName") or "<none>",
        _readiness_gates(pod),
    ]


def pod_conditions(pod: Obj) -> list[dict[str, str]] | None:
    """Row conditions: ``Completed`` for pods that finished (upstream's podSuccess/FailedConditions)."""
    phase = text(pod, "status", "phase")
    if phase == "Succeeded":
        message = "The pod has completed successfully."
    elif phase == "Failed":
        message = "The pod failed."
    else:
        return None
    return [{"type": "Completed", "status": "True", "reason": phase, "message": message}]


POD = Printer(COLUMNS, pod_cells, pod_conditions)
