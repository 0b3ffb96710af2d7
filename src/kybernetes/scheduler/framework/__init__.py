"""The scheduling framework: extension-point Protocols, statuses, cycle state, node/pod views, runtime.

Lowest first: ``types`` (Code, Status, CycleState, cluster events) → ``helpers`` (quantities,
tolerations, selectors, normalisation) → ``nodeinfo`` (PodInfo, NodeInfo) → ``interface`` (one Protocol
per extension point, Snapshot, Handle) → ``runtime`` (Framework, FitError). Plugins live in
``kybernetes.scheduler.plugins`` and import only from here.
"""

from kybernetes.scheduler.framework.interface import (
    BindPlugin,
    EnqueueExtensions,
    FilterPlugin,
    Handle,
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
from kybernetes.scheduler.framework.nodeinfo import NodeInfo, PodInfo, Resource, required_matches
from kybernetes.scheduler.framework.runtime import (
    Diagnosis,
    FitError,
    Framework,
    ScheduleResult,
    num_feasible_nodes_to_find,
)
from kybernetes.scheduler.framework.types import (
    MAX_NODE_SCORE,
    SKIP,
    ActionType,
    ClusterEvent,
    Code,
    CycleState,
    Status,
    error,
    unresolvable,
    unschedulable,
)

__all__ = [
    "MAX_NODE_SCORE",
    "SKIP",
    "ActionType",
    "BindPlugin",
    "ClusterEvent",
    "Code",
    "CycleState",
    "Diagnosis",
    "EnqueueExtensions",
    "FilterPlugin",
    "FitError",
    "Framework",
    "Handle",
    "NodeInfo",
    "NormalizeScorePlugin",
    "PermitPlugin",
    "PodInfo",
    "PostFilterPlugin",
    "PostFilterResult",
    "PreFilterExtensions",
    "PreFilterPlugin",
    "PreScorePlugin",
    "ReservePlugin",
    "Resource",
    "ScheduleResult",
    "ScorePlugin",
    "Snapshot",
    "Status",
    "error",
    "num_feasible_nodes_to_find",
    "required_matches",
    "unresolvable",
    "unschedulable",
]
