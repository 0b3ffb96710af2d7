"""ComponentStatus health from leader Leases: held and renewed within its duration, or why not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kybernetes.apiserver.strategies.component_status import lease_error

NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


def _lease(holder: str | None, renewed: datetime | None, duration: int | None = 15) -> dict:
    spec: dict = {}
    if holder is not None:
        spec["holderIdentity"] = holder
    if renewed is not None:
        spec["renewTime"] = renewed.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if duration is not None:
        spec["leaseDurationSeconds"] = duration
    return {"metadata": {"name": "kube-scheduler", "namespace": "kube-system"}, "spec": spec}


def test_fresh_lease_is_healthy() -> None:
    assert lease_error(_lease("a", NOW - timedelta(seconds=5)), "kube-scheduler", NOW) == ""


def test_missing_lease() -> None:
    assert lease_error(None, "kube-scheduler", NOW) == "no leader: Lease kube-system/kube-scheduler not found"


def test_unheld_lease() -> None:
    assert "is not held" in lease_error(_lease(None, NOW), "kube-scheduler", NOW)


def test_expired_lease_says_how_long_ago() -> None:
    error = lease_error(_lease("a", NOW - timedelta(seconds=45)), "kube-scheduler", NOW)
    assert error == "leader a stopped renewing Lease kube-system/kube-scheduler 30s ago"


def test_lease_without_renew_time() -> None:
    assert "has not renewed" in lease_error(_lease("a", None), "kube-scheduler", NOW)
