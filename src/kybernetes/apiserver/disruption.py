"""The eviction API's PodDisruptionBudget check: refuse an eviction that would break a budget."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kybernetes.api import errors, meta
from kybernetes.api.selectors import label_selector_from_dict

if TYPE_CHECKING:
    from kybernetes.apiserver.context import ApiContext


async def check_eviction(ctx: ApiContext, pod: dict[str, Any]) -> None:
    """429 TooManyRequests when a matching PDB has no disruptions left (as upstream); otherwise the
    budget is used up: ``disruptionsAllowed`` decremented and the pod recorded in ``disruptedPods``."""

    namespace = pod["metadata"].get("namespace")
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed", "Pending"):
        return
    pdbs = await ctx.store_for("policy", "v1", "poddisruptionbudgets").list(namespace)
    for pdb in pdbs.items:
        selector = (pdb.get("spec") or {}).get("selector")
        if selector is None:
            continue
        try:
            matches = label_selector_from_dict(selector).matches(meta.labels(pod))
        except Exception:
            continue
        if not matches:
            continue
        status = pdb.get("status") or {}
        if int(status.get("observedGeneration") or 0) < int(pdb["metadata"].get("generation") or 1):
            raise _violation(
                f"The disruption budget {pdb['metadata']['name']} is still being processed by the server."
            )
        allowed = int(status.get("disruptionsAllowed") or 0)
        if allowed <= 0:
            raise _violation(
                f"The disruption budget {pdb['metadata']['name']} needs "
                f"{(pdb.get('status') or {}).get('desiredHealthy', 0)} healthy pods and has "
                f"{(pdb.get('status') or {}).get('currentHealthy', 0)} currently"
            )
        await _use_budget(ctx, pdb, pod["metadata"]["name"])
        return


def _violation(detail: str) -> errors.StatusError:
    """The 429 refusing an eviction, with ``detail`` as its DisruptionBudget cause."""
    return errors.StatusError(
        429,
        "TooManyRequests",
        "Cannot evict pod as it would violate the pod's disruption budget.",
        causes=[errors.Cause("", detail, "DisruptionBudget")],
    )


async def _use_budget(ctx: ApiContext, pdb: dict[str, Any], pod_name: str) -> None:
    store = ctx.store_for("policy", "v1", "poddisruptionbudgets")

    def mutate(current: dict[str, Any]) -> dict[str, Any]:
        status = current.setdefault("status", {})
        allowed = int(status.get("disruptionsAllowed") or 0)
        if allowed <= 0:
            raise errors.StatusError(
                429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget."
            )
        status["disruptionsAllowed"] = allowed - 1
        status.setdefault("disruptedPods", {})[pod_name] = meta.now_rfc3339()
        return current

    await store.guaranteed_update(pdb["metadata"].get("namespace"), pdb["metadata"]["name"], mutate)
