"""ControllerManager: controller selection, lazy loading, and leader election between two managers."""

from __future__ import annotations

import asyncio
import time

import pytest

from kybernetes.client import ApiClient
from kybernetes.controllers.manager import (
    CONTROLLERS,
    ControllerLoadError,
    ControllerManager,
    enabled_controllers,
    load_controller,
)
from kybernetes.controllers.replicaset import ReplicaSetController
from tests.controllers.conftest import FakeKubelet, Kube, StartManager, deployment, eventually, new_namespace

LEASE = {"lease_duration": 3.0, "renew_deadline": 2.0, "retry_period": 0.5}


def test_controller_selection() -> None:
    assert enabled_controllers(None) == list(CONTROLLERS)
    assert enabled_controllers(["*", "-garbagecollector"]) == [
        n for n in CONTROLLERS if n != "garbagecollector"
    ]
    assert enabled_controllers(["deployment", "replicaset"]) == ["replicaset", "deployment"]
    with pytest.raises(ValueError, match="unknown controllers: nope"):
        enabled_controllers(["nope"])


def test_loading_fails_loudly() -> None:
    assert load_controller("replicaset", CONTROLLERS["replicaset"]) is ReplicaSetController
    with pytest.raises(ControllerLoadError, match="controller x: cannot import"):
        load_controller("x", "kybernetes.controllers.does_not_exist:X")
    with pytest.raises(ControllerLoadError, match="has no Controller class 'Wrong'"):
        load_controller("replicaset", "kybernetes.controllers.replicaset:Wrong")
    # a class that is not a Controller is refused too
    with pytest.raises(ControllerLoadError, match="has no Controller class 'ControllerOptions'"):
        load_controller("opts", "kybernetes.controllers.base:ControllerOptions")


def test_manager_refuses_to_start_without_a_requested_controller() -> None:
    """A requested controller that cannot be imported stops the manager at creation, not later in silence."""
    api = ApiClient("http://127.0.0.1:1")  # never contacted: creation fails first
    registry = {**CONTROLLERS, "broken": "kybernetes.controllers.does_not_exist:Broken"}
    with pytest.raises(ControllerLoadError, match="controller broken"):
        ControllerManager(api, registry=registry, leader_elect=False)
    # not requested: not imported, no error
    manager = ControllerManager(api, controllers=["*", "-broken"], registry=registry, leader_elect=False)
    assert "broken" not in manager.classes and manager.classes["replicaset"] is ReplicaSetController


async def _pods(api: ApiClient, ns: str) -> int:
    items, _ = await api.pods.list_all(namespace=ns)
    return len(items)


async def test_leader_failover_without_double_creation(
    api: ApiClient, kube: Kube, start_manager: StartManager, kubelet: FakeKubelet
) -> None:
    names = ["deployment", "replicaset", "garbagecollector"]
    first = await start_manager(
        controllers=names, leader_elect=True, identity="first", release_on_cancel=False, **LEASE
    )
    second = await start_manager(controllers=names, leader_elect=True, identity="second", wait=False, **LEASE)
    await asyncio.sleep(1.0)
    assert first.leading.is_set() and not second.leading.is_set() and not second.controllers
    lease = await api.leases.get("kube-controller-manager", namespace="kube-system")
    assert lease["spec"]["holderIdentity"] == "first"

    ns = await new_namespace(api)
    await api.deployments.create(deployment("web", ns, 3))
    await kube.kubectl("-n", ns, "rollout", "status", "deployment/web", "--timeout=20s", timeout=30)
    assert await _pods(api, ns) == 3

    # crash the leader (no lease release): the other takes over once the lease expires
    killed_at = time.monotonic()
    first.task.cancel()  # type: ignore[attr-defined]
    await eventually(lambda: second.leading.is_set(), timeout=LEASE["lease_duration"] + 3, what="takeover")
    took = time.monotonic() - killed_at
    assert took <= LEASE["lease_duration"] + 2 * LEASE["retry_period"] * 2.2 + 0.5, took
    lease = await api.leases.get("kube-controller-manager", namespace="kube-system")
    assert lease["spec"]["holderIdentity"] == "second" and lease["spec"]["leaseTransitions"] >= 1
    await asyncio.sleep(1.0)
    rss, _ = await api.replicasets.list_all(namespace=ns)
    assert len(rss) == 1 and await _pods(api, ns) == 3  # nothing double-created
    # and the new leader acts
    await api.deployments.scale("web", 5, namespace=ns)
    await eventually(lambda: _is_count(api, ns, 5), what="5 pods under the new leader")
    await asyncio.sleep(0.5)
    assert await _pods(api, ns) == 5


async def _is_count(api: ApiClient, ns: str, want: int) -> bool:
    return await _pods(api, ns) == want


async def test_clean_stop_hands_over_quickly(api: ApiClient, kube: Kube) -> None:
    clients = [ApiClient(kube.url) for _ in range(2)]
    stops = [asyncio.Event(), asyncio.Event()]
    managers = [
        ControllerManager(c, controllers=["serviceaccount"], identity=f"m{i}", **LEASE)
        for i, c in enumerate(clients)
    ]
    tasks = [asyncio.create_task(m.run(s)) for m, s in zip(managers, stops, strict=True)]
    try:
        await eventually(lambda: managers[0].leading.is_set() or managers[1].leading.is_set(), timeout=5)
        leader = 0 if managers[0].leading.is_set() else 1
        other = 1 - leader
        started = time.monotonic()
        stops[leader].set()
        await asyncio.wait_for(tasks[leader], 10)  # returns after releasing the lease
        await eventually(lambda: managers[other].leading.is_set(), timeout=3, what="handover")
        assert time.monotonic() - started < LEASE["lease_duration"]
    finally:
        for s in stops:
            s.set()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 15)
        for c in clients:
            await c.close()
