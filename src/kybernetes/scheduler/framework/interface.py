"""One tiny Protocol per extension point (upstream's ``framework/interface.go``), the ``Snapshot`` the
plugins read and the ``Handle`` the framework gives them.

A plugin implements only the extension points it needs; ``runtime.Framework`` discovers them with
``isinstance`` checks on these runtime-checkable Protocols. Filters and scores are synchronous and pure
over the snapshot (no I/O inside a scheduling cycle); only ``Bind`` (and the work preemption starts) is
asynchronous. Return ``None`` for success.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from kybernetes.scheduler.framework.nodeinfo import NodeInfo, PodInfo
from kybernetes.scheduler.framework.types import ClusterEvent, CycleState, Status

__all__ = [
    "BindPlugin",
    "EnqueueExtensions",
    "FilterPlugin",
    "Handle",
    "NormalizeScorePlugin",
    "PermitPlugin",
    "Plugin",
    "PostFilterPlugin",
    "PostFilterResult",
    "PreFilterExtensions",
    "PreFilterPlugin",
    "PreScorePlugin",
    "ReservePlugin",
    "ScorePlugin",
    "Snapshot",
]


class Snapshot(Protocol):
    """The cluster as the cache sees it. Stable for the (synchronous) length of one scheduling cycle."""

    def node_infos(self) -> Sequence[NodeInfo]: ...
    def get(self, name: str) -> NodeInfo | None: ...
    def pods_in_namespace(self, namespace: str) -> Mapping[str, PodInfo]: ...
    def all_pods(self) -> Mapping[str, PodInfo]: ...
    def nodes_with_required_anti_affinity(self) -> Sequence[NodeInfo]: ...
    def nodes_with_affinity_pods(self) -> Sequence[NodeInfo]: ...
    def topology_values(self, key: str) -> Mapping[str, int]: ...
    def namespace_labels(self) -> Mapping[str, Mapping[str, str]]: ...


@dataclass
class PostFilterResult:
    nominated_node: str = ""
    victims: list[PodInfo] = field(default_factory=list)


class Handle(Protocol):
    """What the framework offers plugins beyond the snapshot."""

    @property
    def snapshot(self) -> Snapshot: ...
    def run_filters(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None: ...
    def run_pre_filter_add_pod(
        self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo
    ) -> None: ...
    def run_pre_filter_remove_pod(
        self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo
    ) -> None: ...
    def nominated_pods(self, node_name: str) -> Sequence[PodInfo]: ...
    def spawn(self, coro: Awaitable[Any], name: str) -> None: ...


@runtime_checkable
class Plugin(Protocol):
    name: str


@runtime_checkable
class EnqueueExtensions(Protocol):
    name: str

    def events_to_register(self) -> list[ClusterEvent]: ...


@runtime_checkable
class PreFilterPlugin(Protocol):
    name: str

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> Status | None:
        """May return SKIP (this plugin's Filter is not needed for this pod) or a rejection."""
        ...


@runtime_checkable
class PreFilterExtensions(Protocol):
    """Keep PreFilter state right when preemption adds or removes pods from a node."""

    def add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None: ...
    def remove_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None: ...


@runtime_checkable
class FilterPlugin(Protocol):
    name: str

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None: ...


@runtime_checkable
class PostFilterPlugin(Protocol):
    name: str

    def post_filter(
        self, state: CycleState, pod: PodInfo, statuses: Mapping[str, Status]
    ) -> tuple[PostFilterResult | None, Status | None]: ...


@runtime_checkable
class PreScorePlugin(Protocol):
    name: str

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None: ...


@runtime_checkable
class ScorePlugin(Protocol):
    name: str

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int: ...


@runtime_checkable
class NormalizeScorePlugin(Protocol):
    name: str

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        """Rescale ``scores`` (aligned with the scored nodes) in place to 0..100."""
        ...


@runtime_checkable
class ReservePlugin(Protocol):
    name: str

    def reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None: ...
    def unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None: ...


@runtime_checkable
class PermitPlugin(Protocol):
    name: str

    def permit(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None: ...


@runtime_checkable
class BindPlugin(Protocol):
    name: str

    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None: ...
