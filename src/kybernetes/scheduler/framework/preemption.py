"""Pure pieces of preemption (upstream's ``framework/preemption`` package): victim ordering, the
PodDisruptionBudget split, and ``pick_one_node`` with upstream's tie-break order. The DefaultPreemption
plugin (``plugins/defaultpreemption.py``) drives them; the scheduler deletes the victims it returns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kybernetes.api.selectors import InvalidSelectorError, label_selector_from_dict
from kybernetes.scheduler.framework.nodeinfo import PodInfo

__all__ = ["Candidate", "importance_key", "pick_one_node", "split_by_pdb_violation"]

INT32_OFFSET = 2**31  # upstream adds MaxInt32+1 so that negative priorities still sum sensibly


@dataclass
class Candidate:
    node: str
    victims: list[PodInfo]  # most important first
    num_pdb_violations: int


def importance_key(p: PodInfo) -> tuple[int, float]:
    """Sort key putting the more important pod first: higher priority, then the older one."""
    return (-p.priority, p.start_time)


def split_by_pdb_violation(
    pods: Sequence[PodInfo], pdbs: Sequence[Mapping[str, Any]]
) -> tuple[list[PodInfo], list[PodInfo]]:
    """(violating, non-violating), keeping order: evicting a pod violates a PDB once the PDB's
    ``disruptionsAllowed`` is used up by the pods before it."""
    allowed: list[int] = []
    selectors = []
    for pdb in pdbs:
        status = pdb.get("status") or {}
        allowed.append(int(status.get("disruptionsAllowed") or 0))
        try:
            sel = label_selector_from_dict((pdb.get("spec") or {}).get("selector"))
        except InvalidSelectorError:
            sel = None
        selectors.append(None if sel is None or sel.empty else sel)
    violating: list[PodInfo] = []
    ok: list[PodInfo] = []
    for p in pods:
        violates = False
        for i, pdb in enumerate(pdbs):
            sel = selectors[i]
            if sel is None or (pdb.get("metadata") or {}).get("namespace") != p.namespace:
                continue
            if p.name in ((pdb.get("status") or {}).get("disruptedPods") or {}):
                continue
            if sel.matches(p.labels):
                allowed[i] -= 1
                if allowed[i] < 0:
                    violates = True
        (violating if violates else ok).append(p)
    return violating, ok


def pick_one_node(candidates: Sequence[Candidate]) -> Candidate | None:
    """Fewest PDB violations, then lowest highest-priority victim, lowest priority sum, fewest victims,
    latest start among the highest-priority victims, then the first."""
    if not candidates:
        return None

    def keep_min(cands: list[Candidate], key: Any) -> list[Candidate]:
        best = min(key(c) for c in cands)
        return [c for c in cands if key(c) == best]

    cands = list(candidates)
    cands = keep_min(cands, lambda c: c.num_pdb_violations)
    cands = keep_min(cands, lambda c: c.victims[0].priority if c.victims else -INT32_OFFSET)
    cands = keep_min(cands, lambda c: sum(v.priority + INT32_OFFSET for v in c.victims))
    cands = keep_min(cands, lambda c: len(c.victims))

    def earliest_top(c: Candidate) -> float:
        if not c.victims:
            return 0.0
        top = c.victims[0].priority
        return -min(v.start_time for v in c.victims if v.priority == top)

    return keep_min(cands, earliest_top)[0]
