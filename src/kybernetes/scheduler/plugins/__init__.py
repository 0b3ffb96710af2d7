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
) -> list[Any]:
    """The default profile's plugin instances, in upstream's order (the binder only with ``api``)."""
    plugins: list[Any] = [
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
