"""Conditions (``status.conditions``) of any object: find, test, set and remove one, with upstream's rules.

One copy for every component that reads or writes conditions (controllers, the kubelet, the API server's
strategies). The rule every setter shares, upstream's ``meta.SetStatusCondition`` and the per-kind
``SetXCondition`` helpers: ``lastTransitionTime`` moves only when ``status`` changes, so a condition whose
reason or message changes keeps the time it last flipped.

Callers keep their kind's own time fields (``lastProbeTime`` for Jobs and Pods, ``lastUpdateTime`` for
Deployments, ``lastHeartbeatTime`` for Nodes): ``set_condition`` stores the new condition as given apart from
``lastTransitionTime``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "by_type",
    "get_condition",
    "is_true",
    "remove_condition",
    "set_condition",
    "transition_time",
]


def _listed(status: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    conds = (status or {}).get("conditions") if isinstance(status, Mapping) else None
    return [c for c in conds if isinstance(c, dict)] if isinstance(conds, list) else []


def get_condition(status: Mapping[str, Any] | None, ctype: str) -> dict[str, Any] | None:
    """The condition of type ``ctype`` in ``status.conditions``, or None."""
    return next((c for c in _listed(status) if c.get("type") == ctype), None)


def by_type(status: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """``status.conditions`` keyed by type (the last one wins, as a lookup by type finds)."""
    return {str(c.get("type")): c for c in _listed(status)}


def is_true(status: Mapping[str, Any] | None, ctype: str) -> bool:
    """Whether the condition of type ``ctype`` is present with status ``"True"``."""
    cond = get_condition(status, ctype)
    return cond is not None and cond.get("status") == "True"


def transition_time(previous: Mapping[str, Any] | None, status: Any, now: str) -> str:
    """The ``lastTransitionTime`` of a condition now at ``status``: the previous one's when it had the same
    status (and a time), else ``now``."""
    if previous is not None and previous.get("status") == status and previous.get("lastTransitionTime"):
        return str(previous["lastTransitionTime"])
    return now


def set_condition(
    conditions: list[dict[str, Any]],
    new: Mapping[str, Any],
    *,
    same_when: Iterable[str] = ("status", "reason"),
    to_end: bool = False,
) -> bool:
    """Put ``new`` into ``conditions`` in place of the one of its type (or append it); True if it changed.

    Nothing changes when the current condition equals ``new`` in every field of ``same_when`` (pass ``()`` to
    always store ``new``). The stored condition keeps the current ``lastTransitionTime`` when its status is
    unchanged. ``to_end`` moves it to the end of the list (Deployments, as upstream's
    ``SetDeploymentCondition``); otherwise it keeps its position (Jobs, PodDisruptionBudgets).
    """
    index = next((i for i, c in enumerate(conditions) if c.get("type") == new.get("type")), None)
    if index is None:
        conditions.append(dict(new))
        return True
    current = conditions[index]
    fields = tuple(same_when)
    if fields and all(current.get(f) == new.get(f) for f in fields):
        return False
    stored = dict(new)
    if current.get("status") == new.get("status"):
        stored["lastTransitionTime"] = current.get("lastTransitionTime", new.get("lastTransitionTime"))
    if to_end:
        del conditions[index]
        conditions.append(stored)
    else:
        conditions[index] = stored
    return True


def remove_condition(status: dict[str, Any], ctype: str) -> None:
    """Drop the condition of type ``ctype``; an empty list is dropped too."""
    conds = [c for c in status.get("conditions") or [] if c.get("type") != ctype]
    if conds:
        status["conditions"] = conds
    else:
        status.pop("conditions", None)
