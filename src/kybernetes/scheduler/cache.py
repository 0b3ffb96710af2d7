"""The scheduler cache: every node's ``NodeInfo`` and every assigned (or assumed) pod, updated
incrementally from the node and pod informers, and read directly as the cycle's ``Snapshot``.

Why no snapshot copy: a scheduling cycle is synchronous on the event loop, so informer events cannot
interleave with it; the cache *is* a consistent snapshot for its duration, and per-pod cost does not grow
with the cluster by copying. Indexes kept alongside: the node list (O(1) add/remove by swap), assigned
pods by namespace, the nodes holding pods with required anti-affinity or any affinity, and per label key
the domains (value → node count) for topology spreading.

Assumed pods: after a pod is placed, ``assume`` adds it to its node at once (the binding is still in
flight); the informer's event for the bound pod confirms it, ``forget`` undoes it if binding failed.
Pods on nodes the cache does not know (yet) are kept on a placeholder ``NodeInfo`` that is not
schedulable until the Node arrives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kybernetes.scheduler.framework.nodeinfo import NodeInfo, PodInfo

__all__ = ["Cache"]


class Cache:
    """Implements ``framework.Snapshot``."""

    def __init__(self) -> None:
        self._nodes: dict[str, NodeInfo] = {}  # known nodes and placeholders
        self._list: list[NodeInfo] = []  # schedulable order: real nodes only
        self._pos: dict[str, int] = {}
        self._pods: dict[str, PodInfo] = {}
        self._by_ns: dict[str, dict[str, PodInfo]] = {}
        self._assumed: set[str] = set()
        self._anti: dict[str, NodeInfo] = {}
        self._affine: dict[str, NodeInfo] = {}
        self._domains: dict[str, dict[str, int]] = {}
        self._ns_labels: dict[str, Mapping[str, str]] = {}

    # --- Snapshot ---------------------------------------------------------------------------------
    def node_infos(self) -> Sequence[NodeInfo]:
        return self._list

    def get(self, name: str) -> NodeInfo | None:
        return self._nodes.get(name)

    def pods_in_namespace(self, namespace: str) -> Mapping[str, PodInfo]:
        return self._by_ns.get(namespace) or {}

    def all_pods(self) -> Mapping[str, PodInfo]:
        return self._pods

    def nodes_with_required_anti_affinity(self) -> Sequence[NodeInfo]:
        return list(self._anti.values())

    def nodes_with_affinity_pods(self) -> Sequence[NodeInfo]:
        return list(self._affine.values())

    def topology_values(self, key: str) -> Mapping[str, int]:
        return self._domains.get(key) or {}

    def namespace_labels(self) -> Mapping[str, Mapping[str, str]]:
        return self._ns_labels

    # --- nodes ------------------------------------------------------------------------------------
    def _index_labels(self, labels: Mapping[str, str], delta: int) -> None:
        for key, value in labels.items():
            values = self._domains.setdefault(key, {})
            n = values.get(value, 0) + delta
            if n > 0:
                values[value] = n
            else:
                values.pop(value, None)

    def add_or_update_node(self, node: dict[str, Any]) -> NodeInfo:
        name = str((node.get("metadata") or {}).get("name") or "")
        ni = self._nodes.get(name)
        if ni is None:
            ni = self._nodes[name] = NodeInfo(name=name)
        if name in self._pos:
            self._index_labels(ni.labels, -1)
        else:
            self._pos[name] = len(self._list)
            self._list.append(ni)
        ni.set_node(node)
        self._index_labels(ni.labels, 1)
        return ni

    def remove_node(self, name: str) -> None:
        ni = self._nodes.get(name)
        if ni is None:
            return
        pos = self._pos.pop(name, None)
        if pos is not None:
            self._index_labels(ni.labels, -1)
            last = self._list.pop()
            if last is not ni:
                self._list[pos] = last
                self._pos[last.name] = pos
        if ni.pods:
            ni.node = None  # placeholder until its pods go
        else:
            del self._nodes[name]
            self._anti.pop(name, None)
            self._affine.pop(name, None)

    @property
    def node_count(self) -> int:
        return len(self._list)

    # --- pods -------------------------------------------------------------------------------------
    def _place(self, pi: PodInfo) -> None:
        ni = self._nodes.get(pi.node_name)
        if ni is None:
            ni = self._nodes[pi.node_name] = NodeInfo(name=pi.node_name)
        ni.add_pod(pi)
        self._pods[pi.key] = pi
        self._by_ns.setdefault(pi.namespace, {})[pi.key] = pi
        self._refresh_indexes(ni)

    def _refresh_indexes(self, ni: NodeInfo) -> None:
        if ni.pods_with_required_anti_affinity:
            self._anti[ni.name] = ni
        else:
            self._anti.pop(ni.name, None)
        if ni.pods_with_affinity:
            self._affine[ni.name] = ni
        else:
            self._affine.pop(ni.name, None)

    def add_or_update_pod(self, pi: PodInfo) -> None:
        """An assigned pod seen by the informer (confirms an assumed one)."""
        self._assumed.discard(pi.key)
        self._unplace(pi.key)
        self._place(pi)

    def _unplace(self, key: str) -> PodInfo | None:
        old = self._pods.pop(key, None)
        if old is None:
            return None
        ns = self._by_ns.get(old.namespace)
        if ns is not None:
            ns.pop(key, None)
            if not ns:
                del self._by_ns[old.namespace]
        ni = self._nodes.get(old.node_name)
        if ni is not None:
            ni.remove_pod(key)
            self._refresh_indexes(ni)
            if ni.node is None and not ni.pods:
                del self._nodes[ni.name]
        return old

    def remove_pod(self, key: str) -> PodInfo | None:
        self._assumed.discard(key)
        return self._unplace(key)

    def assume(self, pi: PodInfo, node_name: str) -> PodInfo:
        """Place ``pi`` on ``node_name`` before the binding is confirmed."""
        pod = dict(pi.pod)
        pod["spec"] = {**(pi.pod.get("spec") or {}), "nodeName": node_name}
        assumed = PodInfo(pod, pi.priority)
        self._unplace(pi.key)
        self._place(assumed)
        self._assumed.add(pi.key)
        return assumed

    def forget(self, key: str) -> None:
        if key in self._assumed:
            self._assumed.discard(key)
            self._unplace(key)

    def is_assumed(self, key: str) -> bool:
        return key in self._assumed

    def has_pod(self, key: str) -> bool:
        return key in self._pods

    def pod(self, key: str) -> PodInfo | None:
        return self._pods.get(key)

    # --- namespaces -------------------------------------------------------------------------------
    def set_namespace(self, name: str, labels: Mapping[str, str] | None) -> None:
        if labels is None:
            self._ns_labels.pop(name, None)
        else:
            self._ns_labels[name] = labels
