"""TaintToleration: filter out nodes with an untolerated NoSchedule/NoExecute taint; prefer nodes with
fewer untolerated PreferNoSchedule taints (score reversed: fewer is better). Default weight 3."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kybernetes.scheduler.framework import ActionType, ClusterEvent, CycleState, NodeInfo, PodInfo, Status
from kybernetes.scheduler.framework import unresolvable as _unresolvable
from kybernetes.scheduler.framework.helpers import default_normalize, find_untolerated_taint, tolerates

NAME = "TaintToleration"
_STATE = NAME + "/prescore"


def untolerated_reason(taint: dict[str, Any] | Any) -> str:
    return f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value') or ''}}}"


def hard_tolerations(pod: PodInfo) -> list[dict[str, Any]]:
    return [t for t in pod.tolerations if (t.get("effect") or "") in ("", "NoSchedule", "NoExecute")]


def count_intolerable(taints: Sequence[dict[str, Any]], tolerations: Sequence[dict[str, Any]]) -> int:
    return sum(1 for taint in taints if not any(tolerates(t, taint) for t in tolerations))


class TaintToleration:
    name = NAME

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.hard_taints:
            return None
        taint = find_untolerated_taint(node.hard_taints, hard_tolerations(pod))
        return None if taint is None else _unresolvable(untolerated_reason(taint))

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        state.write(
            _STATE, [t for t in pod.tolerations if (t.get("effect") or "") in ("", "PreferNoSchedule")]
        )
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        if not node.prefer_taints:
            return 0
        return count_intolerable(node.prefer_taints, state.read(_STATE) or [])

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        default_normalize(scores, reverse=True)

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE_NODE_TAINT)]


def new() -> TaintToleration:
    return TaintToleration()
