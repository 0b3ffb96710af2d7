"""Two ``kyb controller-manager`` processes against one ``kyb server`` (its own controller manager
disabled): one holds the Lease ``kube-system/kube-controller-manager`` and acts; after ``kill -9`` of
the leader the standby takes over within the lease duration (15 s) and nothing is double-created."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e._controlplane import (
    Component,
    ControlPlane,
    Recorder,
    SimulatedCluster,
    is_ready,
    pods_of,
    start_server,
    wait_for,
)

pytestmark = pytest.mark.kubectl

LEASE_DURATION = 15.0
RETRY_PERIOD = 2.0


@pytest.fixture
def split() -> Iterator[tuple[ControlPlane, dict[str, Component]]]:
    server = start_server(["--disable-controller-manager"])
    cluster: SimulatedCluster | None = None
    managers: dict[str, Component] = {}
    try:
        for ident in ("cm-a", "cm-b"):
            managers[ident] = Component(
                server.kubeconfig,
                "controller-manager",
                "--identity",
                ident,
                log_path=server.data_dir / f"{ident}.log",
            )
        cluster = SimulatedCluster(server.kubeconfig)
        cluster.add_nodes(["sim-a", "sim-b", "sim-c"])
        yield ControlPlane(server, cluster), managers
    finally:
        for comp in managers.values():
            comp.kill(signal.SIGTERM)
        if cluster is not None:
            cluster.close()
        server.cleanup()


def lease(cp: ControlPlane) -> dict[str, Any] | None:
    return cp.get("lease", "kube-controller-manager", "-n", "kube-system")


def holder(cp: ControlPlane) -> str:
    obj = lease(cp)
    return str(((obj or {}).get("spec") or {}).get("holderIdentity") or "")


def test_standby_controller_manager_takes_over_without_double_creating(
    split: tuple[ControlPlane, dict[str, Component]],
) -> None:
    cp, managers = split
    ns = cp.create_namespace()
    leader = wait_for(lambda: holder(cp) in managers and holder(cp), timeout=30, what="a leader")
    standby = next(i for i in managers if i != leader)
    spec = lease(cp)["spec"]
    assert spec.get("leaseDurationSeconds") == int(LEASE_DURATION), spec
    transitions_before = int(spec.get("leaseTransitions") or 0)

    cp.kubectl("create", "deployment", "web", "--image=nginx", "--replicas=3", "-n", ns)
    cp.kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s", timeout=75)
    assert managers[leader].alive() and managers[standby].alive()
    assert "starting controllers" not in managers[standby].log_tail(500), managers[standby].log_tail()
    assert holder(cp) == leader

    with Recorder(cp.cluster, "pods", lambda objs: len(objs), namespace=ns, label_selector="app=web") as pods:
        managers[leader].kill(signal.SIGKILL)
        killed = time.monotonic()
        # scaled during the failover: nobody acts until the standby holds the lease
        cp.kubectl("scale", "deployment/web", "--replicas=5", "-n", ns)
        wait_for(
            lambda: holder(cp) == standby,
            timeout=LEASE_DURATION + 3 * RETRY_PERIOD + 5,
            interval=0.5,
            what=f"{standby} takes the lease",
        )
        takeover = time.monotonic() - killed
        assert takeover <= LEASE_DURATION + RETRY_PERIOD + 3, f"takeover took {takeover:.1f}s"
        cp.kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s", timeout=75)
        wait_for(
            lambda: sum(1 for p in pods_of(cp, ns, "app=web") if is_ready(p)) == 5,
            timeout=30,
            what="5 ready pods",
        )
        # and scaled again after it
        cp.kubectl("scale", "deployment/web", "--replicas=4", "-n", ns)
        cp.kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s", timeout=75)
        wait_for(lambda: len(pods_of(cp, ns, "app=web")) == 4, timeout=30, what="4 pods")
        time.sleep(3)  # let any duplicate work (from a stale leader or lost expectations) surface
        names = set(pods.names_seen)
        counts = pods.snapshot()

    final = pods_of(cp, ns, "app=web")
    assert len(final) == 4 and all(is_ready(p) for p in final), [p["metadata"]["name"] for p in final]
    assert len(names) == 5, f"pods ever created: {sorted(names)} (3 + 2 expected)"
    assert max(counts) == 5, counts
    rss = cp.items("replicasets", "-n", ns, "-l", "app=web")
    assert len(rss) == 1 and rss[0]["spec"]["replicas"] == 4, [rs["metadata"]["name"] for rs in rss]
    spec = lease(cp)["spec"]
    assert spec["holderIdentity"] == standby
    assert int(spec.get("leaseTransitions") or 0) == transitions_before + 1, spec
    assert managers[standby].alive(), managers[standby].log_tail()
    assert "starting controllers" in managers[standby].log_tail(2000)

    # a clean stop (SIGTERM) releases the lease: a new standby takes over at its next retry, not after
    # the lease duration
    managers["cm-c"] = Component(
        cp.server.kubeconfig,
        "controller-manager",
        "--identity",
        "cm-c",
        log_path=cp.server.data_dir / "cm-c.log",
    )
    time.sleep(3)  # cm-c is up and campaigning
    assert holder(cp) == standby
    managers[standby].kill(signal.SIGTERM)
    stopped = time.monotonic()
    wait_for(
        lambda: holder(cp) == "cm-c", timeout=LEASE_DURATION + 5, interval=0.2, what="cm-c takes the lease"
    )
    handover = time.monotonic() - stopped
    assert handover < LEASE_DURATION / 2, f"released lease taken after {handover:.1f}s"
    cp.kubectl("scale", "deployment/web", "--replicas=6", "-n", ns)
    cp.kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s", timeout=75)
    wait_for(lambda: len(pods_of(cp, ns, "app=web")) == 6, timeout=30, what="6 pods")
    time.sleep(2)
    assert len(pods_of(cp, ns, "app=web")) == 6
