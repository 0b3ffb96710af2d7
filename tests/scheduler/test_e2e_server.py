"""Against a real ``kyb server`` subprocess (HTTPS + kubeconfig): its embedded scheduler holds the
``kube-system/kube-scheduler`` Lease and binds pods; a second ``run_scheduler`` with leader election
from the kubeconfig stays a follower, and reports an unschedulable pod as upstream does."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import pytest

from kybernetes.client import ApiClient
from kybernetes.scheduler import Scheduler, run_scheduler
from tests.e2e.conftest import KybServer
from tests.scheduler.conftest import eventually, node, node_of, pod, scheduled_condition


@pytest.fixture(scope="module")
def server() -> Iterator[KybServer]:
    srv = KybServer(components=True).start()
    try:
        yield srv
    finally:
        srv.stop()


async def test_embedded_scheduler_leads_and_binds(server: KybServer) -> None:
    async with ApiClient.from_kubeconfig(str(server.kubeconfig)) as api:
        await api.nodes.create(node("e2e-n1", cpu="2"))
        stop = asyncio.Event()
        started: list[Scheduler] = []
        follower = asyncio.create_task(
            run_scheduler(
                api,
                identity="follower",
                stop=stop,
                on_scheduler=started.append,
                retry_period=0.5,
                renew_deadline=2.0,
                lease_duration=3.0,
            )
        )
        try:
            await api.pods.create(pod("e2e-p", cpu="500m"))
            assert await eventually(lambda: node_of(api, "e2e-p"), timeout=20) == "e2e-n1"
            lease = await eventually(lambda: api.leases.get("kube-scheduler", namespace="kube-system"))
            assert lease["spec"]["holderIdentity"] != "follower"
            assert started == []  # the follower never started scheduling

            await api.pods.create(pod("e2e-big", cpu="3"))

            async def reported() -> str:
                cond = await scheduled_condition(api, "e2e-big")
                return str(cond.get("message") or "") if cond.get("status") == "False" else ""

            message = await eventually(reported, timeout=20)
            assert message == (
                "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
                "1 No preemption victims found for incoming pod."
            )
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(follower, 15)
