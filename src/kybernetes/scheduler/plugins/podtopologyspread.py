"""PodTopologySpread: ``DoNotSchedule`` constraints filter (the skew of matching pods across the
topology domains, counting the pod itself, must stay within ``maxSkew``; fewer than ``minDomains``
domains make the global minimum 0); ``ScheduleAnyway`` constraints score (fewer matching pods in the
node's domain is better). Counts come from the pods of the namespace (not a walk over every node) and
the cache's label index of domains. Cluster default constraints are off. Default weight 2."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kybernetes.api.selectors import InvalidSelectorError, LabelSelector, label_selector_from_dict, nothing
from kybernetes.scheduler.framework import (
    SKIP,
    ActionType,
    ClusterEvent,
    CycleState,
    NodeInfo,
    PodInfo,
    Status,
    required_matches,
)
from kybernetes.scheduler.framework import Snapshot as _Snapshot
from kybernetes.scheduler.framework import unresolvable as _unresolvable
from kybernetes.scheduler.framework import unschedulable as _unschedulable

NAME = "PodTopologySpread"
ERR_REASON_CONSTRAINTS = "node(s) didn't match pod topology spread constraints"
ERR_REASON_MISSING_LABEL = ERR_REASON_CONSTRAINTS + " (missing required label)"
_FILTER, _SCORE = NAME + "/filter", NAME + "/score"


@dataclass
class Constraint:
    key: str
    max_skew: int
    min_domains: int
    selector: LabelSelector
    honor_affinity: bool
    counts: Counter[str] = field(default_factory=Counter)
    self_match: int = 0

    def clone(self) -> Constraint:
        return Constraint(**{**self.__dict__, "counts": Counter(self.counts)})

    def min_match(self) -> int:
        if len(self.counts) < self.min_domains:
            return 0
        return min(self.counts.values(), default=0)

    def eligible(self, pod: PodInfo, node: NodeInfo | None) -> bool:
        return (
            node is not None
            and self.key in node.labels
            and (not self.honor_affinity or required_matches(pod, node))
        )


@dataclass
class SpreadState:
    constraints: list[Constraint]

    def clone(self) -> SpreadState:
        return SpreadState([c.clone() for c in self.constraints])


def parse_constraints(pod: PodInfo, mode: str) -> list[Constraint]:
    out = []
    for c in pod.spread_constraints:
        if (c.get("whenUnsatisfiable") or "DoNotSchedule") != mode:
            continue
        raw: dict[str, Any] = dict(c.get("labelSelector") or {})
        keys = [k for k in c.get("matchLabelKeys") or () if k in pod.labels]
        if keys:
            raw["matchLabels"] = {**(raw.get("matchLabels") or {}), **{k: pod.labels[k] for k in keys}}
        try:
            selector = (
                label_selector_from_dict(raw) if c.get("labelSelector") is not None or keys else nothing()
            )
        except InvalidSelectorError:
            selector = nothing()
        honor = (c.get("nodeAffinityPolicy") or "Honor") == "Honor"
        con = Constraint(
            str(c.get("topologyKey") or ""),
            int(c.get("maxSkew") or 1),
            int(c.get("minDomains") or 1),
            selector,
            honor,
        )
        con.self_match = 1 if selector.matches(pod.labels) else 0
        out.append(con)
    return out


def count_pods(pod: PodInfo, constraints: list[Constraint], snapshot: _Snapshot, all_domains: bool) -> None:
    """Fill each constraint's per-domain counts from the namespace's assigned pods."""
    for con in constraints:
        eligible: dict[str, bool] = {}
        if all_domains and (
            not con.honor_affinity or (not pod.node_selector and pod.required_node_affinity is None)
        ):
            con.counts.update(dict.fromkeys(snapshot.topology_values(con.key), 0))
        elif all_domains:
            for node in snapshot.node_infos():
                if con.eligible(pod, node):
                    con.counts.setdefault(node.labels[con.key], 0)
        for other in snapshot.pods_in_namespace(pod.namespace).values():
            if other.deleting or not other.node_name or not con.selector.matches(other.labels):
                continue
            ok = eligible.get(other.node_name)
            other_node = snapshot.get(other.node_name)
            if ok is None:
                ok = eligible[other.node_name] = con.eligible(pod, other_node)
            if ok and other_node is not None:
                con.counts[other_node.labels[con.key]] += 1


class PodTopologySpread:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: _Snapshot) -> Status | None:
        constraints = parse_constraints(pod, "DoNotSchedule")
        if not constraints:
            return SKIP
        count_pods(pod, constraints, snapshot, all_domains=True)
        state.write(_FILTER, SpreadState(constraints))
        return None

    def _update(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo, delta: int) -> None:
        s: SpreadState | None = state.read(_FILTER)
        for con in s.constraints if s else ():
            if (
                other.namespace == pod.namespace
                and con.selector.matches(other.labels)
                and con.eligible(pod, node)
            ):
                con.counts[node.labels[con.key]] += delta

    def add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        self._update(state, pod, other, node, 1)

    def remove_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        self._update(state, pod, other, node, -1)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: SpreadState = state.read(_FILTER)
        for con in s.constraints:
            value = node.labels.get(con.key)
            if value is None:
                return _unresolvable(ERR_REASON_MISSING_LABEL)
            if con.counts.get(value, 0) + con.self_match - con.min_match() > con.max_skew:
                return _unschedulable(ERR_REASON_CONSTRAINTS)
        return None

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        constraints = parse_constraints(pod, "ScheduleAnyway")
        if not constraints:
            return SKIP
        count_pods(pod, constraints, self.snapshot, all_domains=False)
        state.write(_SCORE, SpreadState(constraints))
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        s: SpreadState = state.read(_SCORE)
        total = 0.0
        for con in s.constraints:
            value = node.labels.get(con.key)
            if value is None:
                return -1  # ignored: gets the minimum after normalisation
            weight = math.log(len(con.counts) + 2)
            total += con.counts.get(value, 0) * weight + (con.max_skew - 1)
        return round(total)

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        valid = [s for s in scores if s >= 0]
        lo, hi = min(valid, default=0), max(valid, default=0)
        for i, s in enumerate(scores):
            scores[i] = 0 if s < 0 else (100 if hi == 0 else 100 * (hi + lo - s) // hi)

    def attach(self, handle: Any) -> None:
        self.snapshot: _Snapshot = handle.snapshot

    def events_to_register(self) -> list[ClusterEvent]:
        return [
            ClusterEvent("Pod", ActionType.ALL),
            ClusterEvent("Node", ActionType.ADD | ActionType.DELETE | ActionType.UPDATE_NODE_LABEL),
        ]


def new() -> PodTopologySpread:
    return PodTopologySpread()
