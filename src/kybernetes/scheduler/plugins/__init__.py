"""The in-tree plugins, one module each with the same shape (name, reasons, a pure helper, the plugin
class, ``new``), and ``default_plugins``: upstream's default profile and score weights.

Weights as upstream's v1 defaults: TaintToleration 3, NodeAffinity 2, PodTopologySpread 2,
InterPodAffinity 2, NodeResourcesFit 1, NodeResourcesBalancedAllocation 1. Filter order as upstream:
NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit,
PodTopologySpread, InterPodAffinity.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kybernetes.client import ApiClient
from kybernetes.scheduler.framework import (
    BindPlugin,
    EnqueueExtensions,
    FilterPlugin,
    NormalizeScorePlugin,
    PostFilterPlugin,
    PreFilterExtensions,
    PreFilterPlugin,
    PreScorePlugin,
    ScorePlugin,
)
from kybernetes.scheduler.framework.interface import Plugin
from kybernetes.scheduler.plugins import (
    balancedallocation,
    defaultbinder,
    defaultpreemption,
    interpodaffinity,
    nodeaffinity,
    nodename,
    nodeports,
    noderesources,
    nodeunschedulable,
    podtopologyspread,
    tainttoleration,
)

__all__ = ["DEFAULT_WEIGHTS", "default_plugins"]

DEFAULT_WEIGHTS: dict[str, int] = {
    tainttoleration.NAME: 3,
    nodeaffinity.NAME: 2,
    podtopologyspread.NAME: 2,
    interpodaffinity.NAME: 2,
    noderesources.NAME: 1,
    balancedallocation.NAME: 1,
}


def default_plugins(
    api: ApiClient | None = None, *, pdbs: Callable[[], Sequence[Mapping[str, Any]]] | None = None
) -> list[Plugin]:
    """The default profile's plugin instances, in upstream's order (the binder only with ``api``)."""
    plugins: list[Plugin] = [
        nodeunschedulable.new(),
        nodename.new(),
        tainttoleration.new(),
        nodeaffinity.new(),
        nodeports.new(),
        noderesources.new(),
        podtopologyspread.new(),
        interpodaffinity.new(),
        balancedallocation.new(),
        defaultpreemption.new(pdbs),
    ]
    if api is not None:
        plugins.append(defaultbinder.new(api))
    return plugins


# The framework dispatches on isinstance() against runtime_checkable Protocols, which only sees that the
# method names exist; these tables make mypy check every plugin's signatures against each extension point
# it serves (a drifted signature fails `make test`).
_FILTER_PLUGIN: tuple[type[FilterPlugin], ...] = (
    nodeunschedulable.NodeUnschedulable,
    nodename.NodeName,
    tainttoleration.TaintToleration,
    nodeaffinity.NodeAffinity,
    nodeports.NodePorts,
    noderesources.Fit,
    podtopologyspread.PodTopologySpread,
    interpodaffinity.InterPodAffinity,
)
_ENQUEUE_EXTENSIONS: tuple[type[EnqueueExtensions], ...] = (
    nodeunschedulable.NodeUnschedulable,
    nodename.NodeName,
    tainttoleration.TaintToleration,
    nodeaffinity.NodeAffinity,
    nodeports.NodePorts,
    noderesources.Fit,
    podtopologyspread.PodTopologySpread,
    interpodaffinity.InterPodAffinity,
    balancedallocation.BalancedAllocation,
)
_PRE_FILTER_PLUGIN: tuple[type[PreFilterPlugin], ...] = (
    nodename.NodeName,
    nodeaffinity.NodeAffinity,
    nodeports.NodePorts,
    podtopologyspread.PodTopologySpread,
    interpodaffinity.InterPodAffinity,
)
_PRE_SCORE_PLUGIN: tuple[type[PreScorePlugin], ...] = (
    tainttoleration.TaintToleration,
    nodeaffinity.NodeAffinity,
    podtopologyspread.PodTopologySpread,
    interpodaffinity.InterPodAffinity,
    balancedallocation.BalancedAllocation,
)
_SCORE_PLUGIN: tuple[type[ScorePlugin], ...] = (
    tainttoleration.TaintToleration,
    nodeaffinity.NodeAffinity,
    noderesources.Fit,
    podtopologyspread.PodTopologySpread,
    interpodaffinity.InterPodAffinity,
    balancedallocation.BalancedAllocation,
)
_NORMALIZE_SCORE_PLUGIN: tuple[type[NormalizeScorePlugin], ...] = (
    tainttoleration.TaintToleration,
    nodeaffinity.NodeAffinity,
    podtopologyspread.PodTopologySpread,
    interpodaffinity.InterPodAffinity,
)
_PRE_FILTER_EXTENSIONS: tuple[type[PreFilterExtensions], ...] = (
    podtopologyspread.PodTopologySpread,
    interpodaffinity.InterPodAffinity,
)
_POST_FILTER_PLUGIN: tuple[type[PostFilterPlugin], ...] = (defaultpreemption.DefaultPreemption,)
_BIND_PLUGIN: tuple[type[BindPlugin], ...] = (defaultbinder.DefaultBinder,)
