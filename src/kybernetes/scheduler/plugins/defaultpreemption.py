"""DefaultPreemption (PostFilter): for a pod that fits nowhere, find nodes where removing lower-priority
pods makes it fit, keep as many of them as possible (reprieve, PDB-violating pods first), and nominate
the best node (``framework/preemption.pick_one_node``). The victims are returned in the result; the
scheduler deletes them and sets ``status.nominatedNodeName``. Messages are upstream's."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kybernetes.scheduler.framework import (
    Code,
    CycleState,
    Diagnosis,
    Handle,
    NodeInfo,
    PodInfo,
    PostFilterResult,
    Status,
)
from kybernetes.scheduler.framework import unresolvable as _unresolvable
from kybernetes.scheduler.framework import unschedulable as _unschedulable
from kybernetes.scheduler.framework.preemption import (
    Candidate,
    importance_key,
    pick_one_node,
    split_by_pdb_violation,
)
from kybernetes.scheduler.framework.runtime import fit_error_message

NAME = "DefaultPreemption"
NOT_HELPFUL = _unresolvable("Preemption is not helpful for scheduling")
NO_VICTIMS = _unresolvable("No preemption victims found for incoming pod")
MIN_CANDIDATES_PERCENTAGE, MIN_CANDIDATES_ABSOLUTE = 10, 100


class DefaultPreemption:
    name = NAME

    def __init__(
        self, pdbs: Callable[[], Sequence[Mapping[str, Any]]] | None = None, rng: random.Random | None = None
    ) -> None:
        self.pdbs = pdbs or (lambda: ())
        self.rng = rng or random.Random()
        self.handle: Handle

    def attach(self, handle: Handle) -> None:
        self.handle = handle

    def eligible(self, pod: PodInfo) -> str:
        """ "" if the pod may preempt, else upstream's reason."""
        if (pod.pod.get("spec") or {}).get("preemptionPolicy") == "Never":
            return "not eligible due to preemptionPolicy=Never."
        nominated = (pod.pod.get("status") or {}).get("nominatedNodeName")
        node = self.handle.snapshot.get(nominated) if nominated else None
        if node is not None and any(p.deleting and p.priority < pod.priority for p in node.pods.values()):
            return "not eligible due to a terminating pod on the nominated node."
        return ""

    def post_filter(
        self, state: CycleState, pod: PodInfo, statuses: Mapping[str, Status]
    ) -> tuple[PostFilterResult | None, Status | None]:
        reason = self.eligible(pod)
        if reason:
            return None, _unschedulable("preemption: " + reason)
        nodes = self.handle.snapshot.node_infos()
        report: dict[str, Status] = {}
        potential: list[NodeInfo] = []
        for node in nodes:
            st = statuses.get(node.name)
            if st is not None and st.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                report[node.name] = NOT_HELPFUL
            else:
                potential.append(node)
        candidates = self.dry_run(state, pod, potential, report)
        best = pick_one_node(candidates)
        if best is None:
            msg = fit_error_message(len(nodes), Diagnosis(node_statuses=report))
            return PostFilterResult(), _unschedulable("preemption: " + msg)
        return PostFilterResult(best.node, best.victims), None

    def dry_run(
        self, state: CycleState, pod: PodInfo, potential: list[NodeInfo], report: dict[str, Status]
    ) -> list[Candidate]:
        if not potential:
            return []
        want = max(len(potential) * MIN_CANDIDATES_PERCENTAGE // 100, MIN_CANDIDATES_ABSOLUTE)
        offset = self.rng.randrange(len(potential))
        pdbs = list(self.pdbs())
        out: list[Candidate] = []
        for i in range(len(potential)):
            node = potential[(offset + i) % len(potential)]
            victims, violations, st = self.select_victims(state, pod, node, pdbs)
            if st is None:
                out.append(Candidate(node.name, victims, violations))
                if len(out) >= want:
                    break
            else:
                report[node.name] = st
        return out

    def select_victims(
        self, state: CycleState, pod: PodInfo, node: NodeInfo, pdbs: Sequence[Mapping[str, Any]]
    ) -> tuple[list[PodInfo], int, Status | None]:
        h = self.handle
        clone, st = node.clone(), state.clone()
        lower = sorted((p for p in node.pods.values() if p.priority < pod.priority), key=importance_key)
        if not lower:
            return [], 0, NO_VICTIMS
        for p in lower:
            clone.remove_pod(p.key)
            h.run_pre_filter_remove_pod(st, pod, p, clone)
        status = h.run_filters(st, pod, clone)
        if status is not None:
            return [], 0, status
        violating, non_violating = split_by_pdb_violation(lower, pdbs)
        victims: list[PodInfo] = []

        def reprieve(p: PodInfo) -> bool:
            clone.add_pod(p)
            h.run_pre_filter_add_pod(st, pod, p, clone)
            if h.run_filters(st, pod, clone) is None:
                return True
            clone.remove_pod(p.key)
            h.run_pre_filter_remove_pod(st, pod, p, clone)
            victims.append(p)
            return False

        violations = sum(1 for p in violating if not reprieve(p))
        for p in non_violating:
            reprieve(p)
        if not victims:
            return [], 0, NO_VICTIMS
        victims.sort(key=importance_key)
        return victims, violations, None


def new(pdbs: Callable[[], Sequence[Mapping[str, Any]]] | None = None) -> DefaultPreemption:
    return DefaultPreemption(pdbs)
