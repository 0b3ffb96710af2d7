"""The framework runtime: runs the plugins of one profile at each extension point for one pod.

``Framework.schedule_pod`` is upstream's ``schedulePod``: PreFilter, then Filter over the nodes starting
at a rotating index and stopping once ``num_feasible_nodes_to_find`` nodes fit (the adaptive
percentageOfNodesToScore: ``50 - nodes/125`` percent, at least 5 % and at least 100 nodes), then
PreScore/Score/NormalizeScore over the feasible nodes only, weighted, and a random pick among the best.
Everything in it is synchronous: the snapshot (the live cache) cannot change under a cycle. When no node
fits it raises ``FitError``, whose message is upstream's ``0/N nodes are available: ...``. Nominated pods
(preemptors waiting for their victims to leave) of equal or higher priority are added to a node's clone
before filtering it, so lower-priority pods do not take the room they freed.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain, islice
from typing import Any

from kybernetes.scheduler.framework.interface import (
    BindPlugin,
    EnqueueExtensions,
    FilterPlugin,
    NormalizeScorePlugin,
    PermitPlugin,
    PostFilterPlugin,
    PostFilterResult,
    PreFilterExtensions,
    PreFilterPlugin,
    PreScorePlugin,
    ReservePlugin,
    ScorePlugin,
    Snapshot,
)
from kybernetes.scheduler.framework.nodeinfo import NodeInfo, PodInfo
from kybernetes.scheduler.framework.types import ClusterEvent, Code, CycleState, Status

__all__ = ["Diagnosis", "FitError", "Framework", "ScheduleResult", "num_feasible_nodes_to_find"]

MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE = 5


def num_feasible_nodes_to_find(num_all: int, percentage: int = 0) -> int:
    """Upstream's ``numFeasibleNodesToFind`` (``percentage`` 0 means adaptive)."""
    if num_all < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all
    pct = percentage or max(50 - num_all // 125, MIN_FEASIBLE_NODES_PERCENTAGE)
    if pct >= 100:
        return num_all
    return max(num_all * pct // 100, MIN_FEASIBLE_NODES_TO_FIND)


@dataclass
class Diagnosis:
    node_statuses: dict[str, Status] = field(default_factory=dict)
    unschedulable_plugins: set[str] = field(default_factory=set)
    pre_filter_msg: str = ""
    post_filter_msg: str = ""


class FitError(Exception):
    """No node fits; ``str()`` is upstream's FitError message."""

    def __init__(self, pod: PodInfo, num_all_nodes: int, diagnosis: Diagnosis) -> None:
        self.pod = pod
        self.num_all_nodes = num_all_nodes
        self.diagnosis = diagnosis
        super().__init__()

    def __str__(self) -> str:
        return fit_error_message(self.num_all_nodes, self.diagnosis)


NO_NODES_MESSAGE = "no nodes available to schedule pods"  # upstream's ErrNoNodesAvailable


def fit_error_message(num_all_nodes: int, diagnosis: Diagnosis) -> str:
    if num_all_nodes == 0:
        return NO_NODES_MESSAGE
    msg = f"0/{num_all_nodes} nodes are available:"
    if diagnosis.pre_filter_msg:
        msg += f" {diagnosis.pre_filter_msg}."
    else:
        counts: Counter[str] = Counter()
        for status in diagnosis.node_statuses.values():
            counts.update(status.reasons)
        if counts:
            msg += " " + ", ".join(sorted(f"{n} {reason}" for reason, n in counts.items())) + "."
    if diagnosis.post_filter_msg:
        msg += f" {diagnosis.post_filter_msg}"
        if not msg.endswith("."):
            msg += "."
    return msg


@dataclass
class ScheduleResult:
    node: str
    evaluated: int
    feasible: int


class Framework:
    """One scheduling profile: its plugins, score weights, and the state of the node rotation."""

    def __init__(
        self,
        plugins: Sequence[Any],
        weights: Mapping[str, int],
        snapshot: Snapshot,
        *,
        percentage_of_nodes_to_score: int = 0,
        nominated: Mapping[str, Sequence[PodInfo]] | None = None,
        spawn: Callable[[Awaitable[Any], str], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.plugins = list(plugins)
        self.weights = dict(weights)
        self._snapshot = snapshot
        self.percentage = percentage_of_nodes_to_score
        self._nominated: Mapping[str, Sequence[PodInfo]] = nominated if nominated is not None else {}
        self._spawn = spawn
        self.rng = rng or random.Random()
        self.next_start_index = 0
        ps = self.plugins
        self.pre_filter = [p for p in ps if isinstance(p, PreFilterPlugin)]
        self.pre_filter_ext = [p for p in self.pre_filter if isinstance(p, PreFilterExtensions)]
        self.filter = [p for p in ps if isinstance(p, FilterPlugin)]
        self.post_filter = [p for p in ps if isinstance(p, PostFilterPlugin)]
        self.pre_score = [p for p in ps if isinstance(p, PreScorePlugin)]
        self.score = [p for p in ps if isinstance(p, ScorePlugin) and self.weights.get(p.name, 1) > 0]
        self.reserve = [p for p in ps if isinstance(p, ReservePlugin)]
        self.permit = [p for p in ps if isinstance(p, PermitPlugin)]
        self.bind = [p for p in ps if isinstance(p, BindPlugin)]
        for p in ps:
            if hasattr(p, "attach"):
                p.attach(self)

    # --- Handle -----------------------------------------------------------------------------------
    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def nominated_pods(self, node_name: str) -> Sequence[PodInfo]:
        return self._nominated.get(node_name) or ()

    def spawn(self, coro: Awaitable[Any], name: str) -> None:
        if self._spawn is None:
            raise RuntimeError("this framework cannot start background work")
        self._spawn(coro, name)

    def events_to_register(self) -> dict[str, list[ClusterEvent]]:
        return {p.name: p.events_to_register() for p in self.plugins if isinstance(p, EnqueueExtensions)}

    # --- extension points -------------------------------------------------------------------------
    def run_pre_filter(self, state: CycleState, pod: PodInfo) -> tuple[Status | None, str]:
        for p in self.pre_filter:
            st = p.pre_filter(state, pod, self._snapshot)
            if st is None:
                continue
            if st.code is Code.SKIP:
                state.skip_filter.add(p.name)
                continue
            return st, p.name
        return None, ""

    def run_pre_filter_add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        for p in self.pre_filter_ext:
            if p.name not in state.skip_filter:
                p.add_pod(state, pod, other, node)

    def run_pre_filter_remove_pod(
        self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo
    ) -> None:
        for p in self.pre_filter_ext:
            if p.name not in state.skip_filter:
                p.remove_pod(state, pod, other, node)

    def _filters(self, state: CycleState) -> list[Any]:
        skip = state.skip_filter
        return [p for p in self.filter if p.name not in skip] if skip else self.filter

    def run_filters(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        for p in self._filters(state):
            st = p.filter(state, pod, node)
            if st is not None:
                return st
        return None

    def _filter_node(
        self, state: CycleState, pod: PodInfo, node: NodeInfo, filters: list[Any]
    ) -> tuple[Status | None, str]:
        nominated = self._nominated.get(node.name)
        if nominated:
            others = [n for n in nominated if n.priority >= pod.priority and n.key != pod.key]
            if others:  # as upstream: must fit both with and without the nominated pods
                clone, state2 = node.clone(), state.clone()
                for other in others:
                    clone.add_pod(other)
                    self.run_pre_filter_add_pod(state2, pod, other, clone)
                for p in filters:
                    st = p.filter(state2, pod, clone)
                    if st is not None:
                        return st, p.name
        for p in filters:
            st = p.filter(state, pod, node)
            if st is not None:
                return st, p.name
        return None, ""

    def schedule_pod(self, state: CycleState, pod: PodInfo) -> ScheduleResult:
        nodes = self._snapshot.node_infos()
        diagnosis = Diagnosis()
        if not nodes:
            raise FitError(pod, 0, diagnosis)
        st, plugin = self.run_pre_filter(state, pod)
        if st is not None:
            if st.code is Code.ERROR:
                raise RuntimeError(f"running PreFilter plugin {plugin}: {st.message}")
            diagnosis.pre_filter_msg = st.message
            diagnosis.unschedulable_plugins.add(plugin)
            diagnosis.node_statuses = {n.name: st for n in nodes}
            raise FitError(pod, len(nodes), diagnosis)
        filters = self._filters(state)
        feasible = self._nominated_node_first(state, pod, filters, diagnosis)
        evaluated = len(feasible)
        if not feasible:
            feasible, evaluated = self._find_feasible(state, pod, nodes, filters, diagnosis)
        if not feasible:
            raise FitError(pod, len(nodes), diagnosis)
        if len(feasible) == 1:
            return ScheduleResult(feasible[0].name, evaluated, 1)
        totals = self.prioritize(state, pod, feasible)
        return ScheduleResult(self.select_host(feasible, totals), evaluated, len(feasible))

    def _nominated_node_first(
        self, state: CycleState, pod: PodInfo, filters: list[Any], diagnosis: Diagnosis
    ) -> list[NodeInfo]:
        name = (pod.pod.get("status") or {}).get("nominatedNodeName")
        node = self._snapshot.get(name) if name else None
        if node is None or node.node is None:
            return []
        st, _ = self._filter_node(state, pod, node, filters)
        return [node] if st is None else []

    def _find_feasible(
        self,
        state: CycleState,
        pod: PodInfo,
        nodes: Sequence[NodeInfo],
        filters: list[Any],
        diagnosis: Diagnosis,
    ) -> tuple[list[NodeInfo], int]:
        n = len(nodes)
        want = num_feasible_nodes_to_find(n, self.percentage)
        start = self.next_start_index % n
        feasible: list[NodeInfo] = []
        statuses = diagnosis.node_statuses
        failed_plugins = diagnosis.unschedulable_plugins
        processed = 0
        plugin = ""
        nominated = self._nominated
        order = chain(islice(nodes, start, None), islice(nodes, 0, start)) if start else nodes
        for node in order:
            processed += 1
            if nominated and node.name in nominated:
                st, plugin = self._filter_node(state, pod, node, filters)
            else:
                st = None
                for p in filters:  # inlined _filter_node: this is the hot loop
                    st = p.filter(state, pod, node)
                    if st is not None:
                        plugin = p.name
                        break
            if st is None:
                feasible.append(node)
                if len(feasible) >= want:
                    break
            elif st.code is Code.ERROR:
                raise RuntimeError(f"running Filter plugin {plugin} on {node.name}: {st.message}")
            else:
                statuses[node.name] = st
                failed_plugins.add(plugin)
        self.next_start_index = (start + processed) % n
        return feasible, processed

    def prioritize(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        for p in self.pre_score:
            st = p.pre_score(state, pod, nodes)
            if st is not None:
                if st.code is Code.SKIP:
                    state.skip_score.add(p.name)
                else:
                    raise RuntimeError(f"running PreScore plugin {p.name}: {st.message}")
        totals = [0] * len(nodes)
        for sp in self.score:
            if sp.name in state.skip_score:
                continue
            fn = sp.score
            scores = [fn(state, pod, node) for node in nodes]
            if isinstance(sp, NormalizeScorePlugin):
                sp.normalize_score(state, pod, scores)
            weight = self.weights.get(sp.name, 1)
            for i, s in enumerate(scores):
                totals[i] += s * weight
        return totals

    def select_host(self, nodes: list[NodeInfo], totals: list[int]) -> str:
        """Highest total wins; ties broken uniformly at random (reservoir sampling, as upstream)."""
        best, best_i, seen = -1, 0, 0
        for i, s in enumerate(totals):
            if s > best:
                best, best_i, seen = s, i, 1
            elif s == best:
                seen += 1
                if self.rng.randrange(seen) == 0:
                    best_i = i
        return nodes[best_i].name

    def run_post_filter(
        self, state: CycleState, pod: PodInfo, statuses: Mapping[str, Status]
    ) -> tuple[PostFilterResult | None, str]:
        messages: list[str] = []
        last: PostFilterResult | None = None
        for p in self.post_filter:
            result, st = p.post_filter(state, pod, statuses)
            if st is None:
                return result, ""
            if st.message:
                messages.append(st.message)
            last = result if result is not None else last
            if st.code is not Code.UNSCHEDULABLE:
                break
        return last, "; ".join(messages)

    def run_reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        for p in self.reserve:
            st = p.reserve(state, pod, node_name)
            if st is not None:
                return st
        return None

    def run_unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None:
        for p in reversed(self.reserve):
            p.unreserve(state, pod, node_name)

    def run_permit(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        for p in self.permit:
            st = p.permit(state, pod, node_name)
            if st is not None:
                return st
        return None

    async def run_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        for p in self.bind:
            st = await p.bind(state, pod, node_name)
            if st is not None and st.code is Code.SKIP:
                continue
            return st
        return Status(Code.ERROR, ("no bind plugin accepted the pod",))
