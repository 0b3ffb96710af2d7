"""``v1 ComponentStatus`` (deprecated upstream since v1.19, still answered): computed on each read, never
stored, as upstream's ``componentstatus`` REST computes it from health probes.

* ``scheduler`` and ``controller-manager`` may run in other processes, so their health is their leader
  Lease in ``kube-system`` (``kube-scheduler`` / ``kube-controller-manager``): Healthy while the lease is
  held and renewed within its duration.
* ``etcd-0`` is the store (SQLite or etcd): Healthy when a read answers within two seconds.

Conditions carry upstream's shape: ``type: Healthy``, ``status`` True/False, ``message`` ``ok`` when
healthy, else ``error``.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from kybernetes.api.meta import parse_datetime
from kybernetes.apiserver.strategies.base import ServerContext

DEPRECATION_WARNING = "v1 ComponentStatus is deprecated in v1.19+"
STORE_PROBE_TIMEOUT = 2.0
LEASES = (("scheduler", "kube-scheduler"), ("controller-manager", "kube-controller-manager"))


def _status(name: str, error: str) -> dict[str, Any]:
    condition: dict[str, Any] = {"type": "Healthy", "status": "False" if error else "True"}
    if error:
        condition["error"] = error
    else:
        condition["message"] = "ok"
    return {
        "kind": "ComponentStatus",
        "apiVersion": "v1",
        "metadata": {"name": name},
        "conditions": [condition],
    }


def lease_error(lease: dict[str, Any] | None, lease_name: str, now: datetime) -> str:
    """Why a leader Lease shows its component unhealthy ("" when it is held and fresh)."""
    where = f"kube-system/{lease_name}"
    if lease is None:
        return f"no leader: Lease {where} not found"
    spec = lease.get("spec") or {}
    holder = spec.get("holderIdentity")
    if not holder:
        return f"no leader: Lease {where} is not held"
    renewed = parse_datetime(spec.get("renewTime")) or parse_datetime(spec.get("acquireTime"))
    duration = spec.get("leaseDurationSeconds")
    if renewed is None or not isinstance(duration, int):
        return f"leader {holder} has not renewed Lease {where}"
    expired = now - (renewed + timedelta(seconds=duration))
    if expired > timedelta(0):
        return f"leader {holder} stopped renewing Lease {where} {int(expired.total_seconds())}s ago"
    return ""


async def _store_error(ctx: ServerContext) -> str:
    try:
        await asyncio.wait_for(ctx.store.get("health"), STORE_PROBE_TIMEOUT)
    except TimeoutError:
        return f"storage did not answer within {STORE_PROBE_TIMEOUT:g}s"
    except Exception as exc:  # any failure of the store is an unhealthy etcd-0
        return f"storage unavailable: {exc}"
    return ""


async def component_statuses(ctx: ServerContext, now: datetime | None = None) -> list[dict[str, Any]]:
    """All component statuses, in upstream's order (scheduler, controller-manager, etcd-0)."""
    moment = now or datetime.now(UTC)
    leases = ctx.store_for("coordination.k8s.io", "v1", "leases")
    out = []
    for component, lease_name in LEASES:
        lease = await leases.try_get("kube-system", lease_name)
        out.append(_status(component, lease_error(lease, lease_name, moment)))
    out.append(_status("etcd-0", await _store_error(ctx)))
    return out
