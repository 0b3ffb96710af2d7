"""Outcomes and shared vocabulary of the scheduling framework: ``Code``, ``Status``, ``CycleState``,
cluster events (``ActionType``, ``ClusterEvent``) and the scheduler's constants.

Plugins return ``None`` for success (as upstream returns a nil ``*Status``) and a ``Status`` otherwise, so
the hot filter loop allocates nothing for a node that fits. A ``Status`` carries a ``Code`` and the
reasons that end up, counted per node, in the ``FailedScheduling`` message. ``CycleState`` is the
per-pod scratch space of one scheduling cycle, cloned (shallowly, through each value's ``clone``) when
preemption simulates removing pods on a node. The plugin interfaces are in ``interface.py``; the data the
plugins read (``NodeInfo``, ``PodInfo``) in ``nodeinfo.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import Any, Protocol

__all__ = [
    "MAX_NODE_SCORE",
    "ActionType",
    "ClusterEvent",
    "Code",
    "CycleState",
    "StateData",
    "Status",
    "error",
    "unresolvable",
    "unschedulable",
]

MAX_NODE_SCORE = 100
MIN_NODE_SCORE = 0


class Code(IntEnum):
    """Upstream's status codes (``framework.Code``), same meaning."""

    SUCCESS = 0
    ERROR = 1
    UNSCHEDULABLE = 2
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    WAIT = 4
    SKIP = 5


@dataclass(slots=True, frozen=True)
class Status:
    """A non-success outcome: a code and human-readable reasons (``None`` stands for success)."""

    code: Code
    reasons: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)

    @property
    def rejected(self) -> bool:
        return self.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    @property
    def is_skip(self) -> bool:
        return self.code is Code.SKIP


def unschedulable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE, reasons)


def unresolvable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reasons)


def error(message: str) -> Status:
    return Status(Code.ERROR, (message,))


SKIP = Status(Code.SKIP)


class StateData(Protocol):
    def clone(self) -> StateData: ...


class CycleState:
    """Per-cycle plugin data keyed by plugin name, plus the plugins PreFilter/PreScore asked to skip."""

    __slots__ = ("_data", "skip_filter", "skip_score")

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self.skip_filter: set[str] = set()
        self.skip_score: set[str] = set()

    def write(self, key: str, value: Any) -> None:
        self._data[key] = value

    def read(self, key: str) -> Any:
        return self._data.get(key)

    def clone(self) -> CycleState:
        other = CycleState()
        other._data = {k: (v.clone() if hasattr(v, "clone") else v) for k, v in self._data.items()}
        other.skip_filter = set(self.skip_filter)
        other.skip_score = set(self.skip_score)
        return other


class ActionType(IntFlag):
    """What happened to an object (upstream's ``framework.ActionType``; node updates are split by field)."""

    ADD = 1
    DELETE = 2
    UPDATE_NODE_ALLOCATABLE = 4
    UPDATE_NODE_LABEL = 8
    UPDATE_NODE_TAINT = 16
    UPDATE_NODE_CONDITION = 32
    UPDATE_NODE_UNSCHEDULABLE = 64
    UPDATE_POD_LABEL = 128
    UPDATE_POD_SCALE_DOWN = 256
    UPDATE_OTHER = 512
    UPDATE = (
        UPDATE_NODE_ALLOCATABLE
        | UPDATE_NODE_LABEL
        | UPDATE_NODE_TAINT
        | UPDATE_NODE_CONDITION
        | UPDATE_NODE_UNSCHEDULABLE
        | UPDATE_POD_LABEL
        | UPDATE_POD_SCALE_DOWN
        | UPDATE_OTHER
    )
    ALL = ADD | DELETE | UPDATE


NODE = "Node"
POD = "Pod"  # assigned pods
NAMESPACE = "Namespace"
PDB = "PodDisruptionBudget"
WILDCARD = "*"


@dataclass(frozen=True, slots=True)
class ClusterEvent:
    """``resource`` (``Node``, ``Pod`` for assigned pods, ...) and the ``action`` bits that happened."""

    resource: str
    action: ActionType
    label: str = ""

    def matches(self, happened: ClusterEvent) -> bool:
        """True if ``happened`` is (part of) what this registration waits for."""
        if self.resource not in (WILDCARD, happened.resource):
            return False
        return bool(self.action & happened.action)


UNSCHEDULABLE_TIMEOUT = ClusterEvent(WILDCARD, ActionType.ALL, "UnschedulableTimeout")
FORCE_ACTIVATE = ClusterEvent(WILDCARD, ActionType.ALL, "ForceActivate")
