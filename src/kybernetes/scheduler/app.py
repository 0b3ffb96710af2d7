"""``run_scheduler``: the scheduler as a component, as ``kyb scheduler`` and ``kyb server`` run it.

With ``leader_elect`` (the default) it campaigns for the Lease ``kube-system/kube-scheduler`` and only
the leader schedules; a leader that loses its lease drops its state and campaigns again, so a fresh
cache is built from the API on every term. Without it, it schedules at once. It returns when ``stop``
is set (or the task is cancelled), releasing the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from typing import Any

from kybernetes.client import ApiClient, LeaderElector
from kybernetes.scheduler.scheduler import Scheduler

__all__ = ["LEASE_NAME", "LEASE_NAMESPACE", "run_scheduler"]

log = logging.getLogger(__name__)

LEASE_NAMESPACE = "kube-system"
LEASE_NAME = "kube-scheduler"
_ELECTION_OPTIONS = ("lease_duration", "renew_deadline", "retry_period")


async def run_scheduler(
    api: ApiClient,
    *,
    scheduler_name: str = "default-scheduler",
    leader_elect: bool = True,
    identity: str | None = None,
    stop: asyncio.Event | None = None,
    **options: Any,
) -> None:
    """Schedule pods whose ``spec.schedulerName`` is ``scheduler_name`` until ``stop`` is set.

    ``options`` go to ``Scheduler`` (``percentage_of_nodes_to_score``, ``pod_initial_backoff``,
    ``pod_max_backoff``, ``pod_max_in_unschedulable``, ``bind_concurrency``,
    ``record_scheduled_events``, ``informer_factory``, ``recorder``), except ``lease_duration``,
    ``renew_deadline`` and ``retry_period`` (seconds, defaults 15/10/2) for the leader election, and
    ``on_scheduler`` (a callback receiving each ``Scheduler`` started, for tests and metrics).
    """
    stop = stop or asyncio.Event()
    on_scheduler = options.pop("on_scheduler", None)
    election: dict[str, float] = {k: float(options.pop(k)) for k in _ELECTION_OPTIONS if k in options}

    async def lead() -> None:
        sched = Scheduler(api, scheduler_name=scheduler_name, **options)
        if on_scheduler is not None:
            on_scheduler(sched)
        await sched.run(stop)

    if not leader_elect:
        await lead()
        return
    identity = identity or f"{socket.gethostname()}_{uuid.uuid4()}"
    while not stop.is_set():
        elector = LeaderElector(
            api,
            LEASE_NAMESPACE,
            LEASE_NAME,
            identity,
            on_started_leading=lead,
            lease_duration=election.get("lease_duration", 15.0),
            renew_deadline=election.get("renew_deadline", 10.0),
            retry_period=election.get("retry_period", 2.0),
        )
        run = asyncio.create_task(elector.run(), name="scheduler-leader-election")
        waiter = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({run, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not run.done():
                elector.stop()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(run), timeout=10.0)
                run.cancel()
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await run
        if not stop.is_set():
            log.warning("%s lost the %s/%s lease; campaigning again", identity, LEASE_NAMESPACE, LEASE_NAME)
            await asyncio.sleep(1.0)
