"""InterPodAffinity: required pod affinity / anti-affinity of the incoming pod, and existing pods'
required anti-affinity against it, as a filter over topology-pair counts computed once per cycle;
preferred terms (both directions, existing pods' required affinity at weight 1) as a score. Pods are
found through the cache's namespace index, and existing anti-affinity through the nodes that have such
pods, never a walk over every node. Default weight 2."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kybernetes.scheduler.framework import (
    SKIP,
    ActionType,
    ClusterEvent,
    CycleState,
    NodeInfo,
    PodInfo,
    Status,
)
from kybernetes.scheduler.framework import Snapshot as _Snapshot
from kybernetes.scheduler.framework import unresolvable as _unresolvable
from kybernetes.scheduler.framework import unschedulable as _unschedulable
from kybernetes.scheduler.framework.helpers import AffinityTerm

NAME = "InterPodAffinity"
ERR_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
ERR_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
HARD_POD_AFFINITY_WEIGHT = 1
_FILTER, _SCORE = NAME + "/filter", NAME + "/score"
Pair = tuple[str, str]


@dataclass
class AffinityState:
    existing_anti: Counter[Pair] = field(default_factory=Counter)
    affinity: Counter[Pair] = field(default_factory=Counter)
    anti: Counter[Pair] = field(default_factory=Counter)
    ns_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def clone(self) -> AffinityState:
        return AffinityState(
            Counter(self.existing_anti), Counter(self.affinity), Counter(self.anti), self.ns_labels
        )


def candidates(terms: Sequence[AffinityTerm], snapshot: _Snapshot) -> Iterable[PodInfo]:
    """Assigned pods any of ``terms`` could select (by namespace when the terms name them)."""
    if any(t.namespace_selector is not None for t in terms):
        return snapshot.all_pods().values()
    nss = {ns for t in terms for ns in t.namespaces}
    return [p for ns in nss for p in snapshot.pods_in_namespace(ns).values()]


def _count(state: AffinityState, pod: PodInfo, other: PodInfo, node: NodeInfo, delta: int) -> None:
    labels, nsl = node.labels, state.ns_labels
    for t in other.anti_affinity_terms:  # the other pod's anti-affinity against the incoming pod
        if t.topology_key in labels and t.matches(pod.namespace, pod.labels, nsl):
            state.existing_anti[(t.topology_key, labels[t.topology_key])] += delta
    if pod.affinity_terms and all(t.matches(other.namespace, other.labels, nsl) for t in pod.affinity_terms):
        for t in pod.affinity_terms:
            if t.topology_key in labels:
                state.affinity[(t.topology_key, labels[t.topology_key])] += delta
    for t in pod.anti_affinity_terms:
        if t.topology_key in labels and t.matches(other.namespace, other.labels, nsl):
            state.anti[(t.topology_key, labels[t.topology_key])] += delta


class InterPodAffinity:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: _Snapshot) -> Status | None:
        anti_nodes = snapshot.nodes_with_required_anti_affinity()
        if not pod.affinity_terms and not pod.anti_affinity_terms and not anti_nodes:
            return SKIP
        s = AffinityState(ns_labels=snapshot.namespace_labels())
        seen: set[str] = set()
        for node in anti_nodes:
            for other in node.pods_with_required_anti_affinity:
                seen.add(other.key)
                _count(s, pod, other, node, 1)
        for other in candidates(pod.affinity_terms + pod.anti_affinity_terms, snapshot):
            other_node = snapshot.get(other.node_name)
            if other_node is not None and other.key not in seen:
                _count(s, pod, other, other_node, 1)
        state.write(_FILTER, s)
        return None

    def add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        _count(state.read(_FILTER), pod, other, node, 1)

    def remove_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        _count(state.read(_FILTER), pod, other, node, -1)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: AffinityState = state.read(_FILTER)
        labels = node.labels
        if pod.affinity_terms:
            ok = all(
                t.topology_key in labels and s.affinity[(t.topology_key, labels[t.topology_key])] > 0
                for t in pod.affinity_terms
            )
            if not ok:  # the first pod of a self-affine group may go anywhere the topology keys exist
                self_affine = all(
                    t.matches(pod.namespace, pod.labels, s.ns_labels) for t in pod.affinity_terms
                )
                if (
                    +s.affinity
                    or not self_affine
                    or not all(t.topology_key in labels for t in pod.affinity_terms)
                ):
                    return _unresolvable(ERR_AFFINITY)
        for t in pod.anti_affinity_terms:
            if t.topology_key in labels and s.anti[(t.topology_key, labels[t.topology_key])] > 0:
                return _unschedulable(ERR_ANTI_AFFINITY)
        for (key, value), n in s.existing_anti.items():
            if n > 0 and labels.get(key) == value:
                return _unschedulable(ERR_EXISTING_ANTI_AFFINITY)
        return None

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        pref = pod.preferred_affinity_terms + pod.preferred_anti_affinity_terms
        affine = self.snapshot.nodes_with_affinity_pods()
        if not pref and not affine:
            return SKIP
        nsl, scores = self.snapshot.namespace_labels(), Counter[Pair]()
        others = (
            list(candidates(pref, self.snapshot)) if pref else [p for n in affine for p in n.pods.values()]
        )
        for other in others:
            node = self.snapshot.get(other.node_name)
            if node is None:
                continue
            for sign, terms, subject in (
                (1, pod.preferred_affinity_terms, other),
                (-1, pod.preferred_anti_affinity_terms, other),
                (1, other.preferred_affinity_terms, pod),
                (-1, other.preferred_anti_affinity_terms, pod),
                (HARD_POD_AFFINITY_WEIGHT, other.affinity_terms, pod),
            ):
                for t in terms:
                    if t.topology_key in node.labels and t.matches(subject.namespace, subject.labels, nsl):
                        scores[(t.topology_key, node.labels[t.topology_key])] += sign * t.weight
        state.write(_SCORE, scores)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        scores: Counter[Pair] = state.read(_SCORE)
        return sum(v for (key, value), v in scores.items() if node.labels.get(key) == value)

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        lo, hi = min(scores, default=0), max(scores, default=0)
        for i, s in enumerate(scores):
            scores[i] = 100 * (s - lo) // (hi - lo) if hi > lo else 0

    def attach(self, handle: Any) -> None:
        self.snapshot: Any = handle.snapshot

    def events_to_register(self) -> list[ClusterEvent]:
        return [
            ClusterEvent("Pod", ActionType.ALL),
            ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE_NODE_LABEL),
        ]


def new() -> InterPodAffinity:
    return InterPodAffinity()
