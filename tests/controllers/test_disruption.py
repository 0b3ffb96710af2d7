"""DisruptionController: PDB status math (pure) and the controller against a real API server."""

from __future__ import annotations

import time
from typing import Any

import pytest

from kybernetes.client import ApiClient
from kybernetes.controllers.disruption import DisruptionController, PdbError, compute_pdb_status, scaled_value
from tests.controllers._node_fixtures import api, eventually, pod, running, server

__all__ = ["api", "server"]


def ready_pod(name: str, ready: bool = True, **md: Any) -> dict[str, Any]:
    p = pod(name, labels={"app": "web"})
    p["metadata"].update(md)
    p["status"] = {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
    }
    return p


def pdb(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "b", "namespace": "default", "generation": 2},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec},
    }


def test_scaled_value() -> None:
    assert scaled_value(2, 10) == 2
    assert scaled_value("50%", 5) == 3  # rounds up
    assert scaled_value("50%", 5, round_up=False) == 2
    assert scaled_value("0%", 7) == 0
    with pytest.raises(PdbError):
        scaled_value("abc", 3)


def test_min_available_int() -> None:
    pods = [ready_pod("a"), ready_pod("b"), ready_pod("c", ready=False)]
    status, _ = compute_pdb_status(pdb(minAvailable=1), pods, None)
    assert (status["currentHealthy"], status["desiredHealthy"], status["expectedPods"]) == (2, 1, 3)
    assert status["disruptionsAllowed"] == 1
    assert status["observedGeneration"] == 2
    cond = status["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == ("DisruptionAllowed", "True", "SufficientPods")
    status, _ = compute_pdb_status(pdb(minAvailable=3), pods, None)
    assert status["disruptionsAllowed"] == 0
    assert status["conditions"][0]["reason"] == "InsufficientPods"


def test_percentages_and_max_unavailable_use_scale() -> None:
    pods = [ready_pod(n) for n in "abcd"]
    status, _ = compute_pdb_status(pdb(minAvailable="50%"), pods, 5)
    assert (status["desiredHealthy"], status["expectedPods"], status["disruptionsAllowed"]) == (3, 5, 1)
    status, _ = compute_pdb_status(pdb(maxUnavailable="25%"), pods, 5)  # ceil(1.25) = 2 -> desired 3
    assert (status["desiredHealthy"], status["disruptionsAllowed"]) == (3, 1)
    status, _ = compute_pdb_status(pdb(maxUnavailable=1), pods, 4)
    assert (status["desiredHealthy"], status["disruptionsAllowed"]) == (3, 1)
    status, _ = compute_pdb_status(pdb(maxUnavailable=1), [], 0)
    assert status["disruptionsAllowed"] == 0  # expectedPods 0 is never disruptable
    with pytest.raises(PdbError):
        compute_pdb_status(pdb(maxUnavailable=1), pods, None)


def test_disrupted_and_deleting_pods_are_not_healthy() -> None:
    now = time.time()
    recent = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 10))
    old = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 600))
    b = pdb(minAvailable=1)
    b["status"] = {"disruptedPods": {"a": recent, "b": old}}
    pods = [ready_pod("a"), ready_pod("b"), ready_pod("c", deletionTimestamp=recent)]
    status, recheck = compute_pdb_status(b, pods, None, now)
    assert status["currentHealthy"] == 1  # a is disrupted, c is terminating, b's entry expired
    assert status["disruptedPods"] == {"a": recent}
    assert recheck is not None and recheck > now


async def test_controller_computes_status(api: ApiClient) -> None:
    rs = await api.replicasets.create(
        {
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "replicas": 4,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "x"}]},
                },
            },
        }
    )
    owner = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": "web",
        "uid": rs["metadata"]["uid"],
        "controller": True,
    }
    for i in range(3):
        p = pod(f"web-{i}", labels={"app": "web"})
        p["metadata"]["ownerReferences"] = [owner]
        await api.pods.create(p)
        ready = {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
        await api.pods.patch(f"web-{i}", ready, namespace="default", subresource="status")
    for name, spec in (("by-int", {"minAvailable": 2}), ("by-pct", {"maxUnavailable": "50%"})):
        await api.poddisruptionbudgets.create(
            {
                "metadata": {"name": name, "namespace": "default"},
                "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec},
            }
        )
    async with running(api, [DisruptionController]):

        async def status(name: str) -> dict[str, Any]:
            return dict((await api.poddisruptionbudgets.get(name, namespace="default")).get("status") or {})

        async def has(name: str, **expected: Any) -> bool:
            st = await status(name)
            return all(st.get(k) == v for k, v in expected.items())

        await eventually(
            lambda: has("by-int", currentHealthy=3, desiredHealthy=2, expectedPods=3, disruptionsAllowed=1),
            what="by-int status",
        )
        # 4 replicas expected, 50% may be unavailable -> desired 2, healthy 3 -> 1 allowed
        await eventually(
            lambda: has("by-pct", currentHealthy=3, desiredHealthy=2, expectedPods=4, disruptionsAllowed=1),
            what="by-pct status",
        )
        st = await status("by-int")
        assert st["conditions"][0]["reason"] == "SufficientPods"
        assert st["observedGeneration"] == 1
        # a pod becomes unready -> no disruptions left
        await api.pods.patch(
            "web-0",
            {"status": {"conditions": [{"type": "Ready", "status": "False"}]}},
            namespace="default",
            subresource="status",
        )
        await eventually(
            lambda: has("by-int", currentHealthy=2, disruptionsAllowed=0), what="by-int after unready"
        )
        st = await status("by-int")
        assert (
            st["conditions"][0]["status"] == "False" and st["conditions"][0]["reason"] == "InsufficientPods"
        )
