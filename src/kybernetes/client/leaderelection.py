"""Leader election on ``coordination.k8s.io/v1`` Leases, with client-go's algorithm.

Candidates share one Lease (``namespace/name``). Its spec is the election record: ``holderIdentity``,
``leaseDurationSeconds``, ``acquireTime``, ``renewTime`` and ``leaseTransitions``. Each candidate, every
``retry_period`` (jittered), reads the Lease and:

- takes it if it does not exist (create: the loser of a create race gets 409 and waits), if it has no
  holder (released), or if the record has not changed for ``leaseDurationSeconds`` *as observed on this
  candidate's own clock* (so clock skew between hosts does not matter, as upstream);
- renews it if it already holds it.

Every write is an update carrying the Lease's resourceVersion, so when two candidates race only one
compare-and-swap succeeds: two candidates never both believe they acquired the same record. A leader that
cannot renew within ``renew_deadline`` of its last successful renewal steps down (its
``on_started_leading`` task is cancelled and ``on_stopped_leading`` is called). Since
``renew_deadline < lease_duration``, it steps down before anyone else may take over. On a clean stop
(``stop()`` or cancelling ``run()``) with ``release_on_cancel`` the leader empties ``holderIdentity`` so a
follower takes over at its next retry instead of waiting for the lease to expire.

All decisions read time from ``clock`` (seconds; default ``time.time``), injectable for tests; pacing
uses the event loop. Bounded waits use ``asyncio.timeout`` rather than ``wait_for``, whose 3.11 version
can swallow a cancellation that races with completion (an elector that ignores ``cancel()`` would never
release). Uses ``rest.py``'s ``ApiClient``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kybernetes.api.errors import StatusError
from kybernetes.api.meta import format_micro_time, parse_time
from kybernetes.client.rest import ApiClient, ApiConnectionError

__all__ = ["LeaderElectionRecord", "LeaderElector"]

log = logging.getLogger(__name__)

JITTER_FACTOR = 1.2


@dataclass(frozen=True)
class LeaderElectionRecord:
    holder_identity: str = ""
    lease_duration_seconds: int = 0
    acquire_time: float | None = None
    renew_time: float | None = None
    lease_transitions: int = 0

    @classmethod
    def from_lease(cls, lease: dict[str, Any]) -> LeaderElectionRecord:
        spec = lease.get("spec") or {}
        return cls(
            holder_identity=str(spec.get("holderIdentity") or ""),
            lease_duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
            acquire_time=parse_time(spec.get("acquireTime")),
            renew_time=parse_time(spec.get("renewTime")),
            lease_transitions=int(spec.get("leaseTransitions") or 0),
        )

    def to_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "holderIdentity": self.holder_identity,
            "leaseDurationSeconds": self.lease_duration_seconds,
            "leaseTransitions": self.lease_transitions,
        }
        if self.acquire_time is not None:
            spec["acquireTime"] = format_micro_time(self.acquire_time)
        if self.renew_time is not None:
            spec["renewTime"] = format_micro_time(self.renew_time)
        return spec


Callback = Callable[..., Any]


class LeaderElector:
    """One candidate. ``await run()`` campaigns, leads, and returns once leadership is lost or ``stop()``
    was called; cancelling ``run()`` also stops it (releasing the lease when ``release_on_cancel``)."""

    def __init__(
        self,
        api: ApiClient,
        namespace: str,
        name: str,
        identity: str,
        *,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        on_started_leading: Callable[[], Awaitable[Any]] | None = None,
        on_stopped_leading: Callback | None = None,
        on_new_leader: Callback | None = None,
        release_on_cancel: bool = True,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        if not identity:
            raise ValueError("identity must not be empty")
        if lease_duration <= renew_deadline:
            raise ValueError("lease_duration must be greater than renew_deadline")
        if renew_deadline <= JITTER_FACTOR * retry_period:
            raise ValueError("renew_deadline must be greater than retry_period * 1.2")
        self.leases = api.leases
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.on_started_leading = on_started_leading
        self.on_stopped_leading = on_stopped_leading
        self.on_new_leader = on_new_leader
        self.release_on_cancel = release_on_cancel
        self.clock = clock
        self._rng = rng or random.Random()
        self._observed_lease: dict[str, Any] | None = None
        self._observed_record: LeaderElectionRecord | None = None
        self._observed_time = 0.0
        self._reported_leader: str | None = None
        self._leading = False
        self._stop = asyncio.Event()
        self._callback_tasks: set[asyncio.Future[Any]] = set()

    # --- state ----------------------------------------------------------------------------------------
    def is_leader(self) -> bool:
        return self._leading

    @property
    def leader(self) -> str:
        """The holder this candidate last observed ("" if none)."""
        return self._observed_record.holder_identity if self._observed_record else ""

    def stop(self) -> None:
        """Ask ``run()`` to finish (releasing the lease when leading and ``release_on_cancel``)."""
        self._stop.set()

    # --- main loop ------------------------------------------------------------------------------------
    async def run(self) -> None:
        lead_task: asyncio.Task[Any] | None = None
        lost = False
        try:
            if not await self._acquire():
                return
            self._leading = True
            log.info("%s became leader of lease %s/%s", self.identity, self.namespace, self.name)
            if self.on_started_leading is not None:
                lead_task = asyncio.ensure_future(self.on_started_leading())
            lost = not await self._renew_loop()
        finally:
            if lead_task is not None and not lead_task.done():
                lead_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await lead_task
            if self._leading:
                if self.release_on_cancel and not lost:
                    with contextlib.suppress(Exception):
                        async with asyncio.timeout(self.renew_deadline):
                            await self._release()
                self._leading = False
                log.info("%s stopped leading lease %s/%s", self.identity, self.namespace, self.name)
                await self._callback(self.on_stopped_leading)

    async def _sleep_or_stop(self, delay: float) -> bool:
        """Sleep ``delay``; True if ``stop()`` was called meanwhile."""
        if self._stop.is_set():
            return True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._stop.wait()
        return self._stop.is_set()

    async def _acquire(self) -> bool:
        while True:
            if self._stop.is_set():
                return False
            if await self._attempt(self.renew_deadline):
                return True
            jittered = self.retry_period * (1.0 + self._rng.random() * JITTER_FACTOR)
            if await self._sleep_or_stop(jittered):
                return False

    async def _renew_loop(self) -> bool:
        """Renew until stopped (True) or leadership is lost (False)."""
        last_renew = self.clock()
        while True:
            if await self._sleep_or_stop(self.retry_period):
                return True
            while True:
                remaining = last_renew + self.renew_deadline - self.clock()
                if remaining <= 0:
                    log.warning(
                        "%s failed to renew lease %s/%s in time", self.identity, self.namespace, self.name
                    )
                    return False
                if await self._attempt(remaining):
                    last_renew = self.clock()
                    break
                if not self._holds_or_unknown():
                    log.warning(
                        "%s lost lease %s/%s to %s", self.identity, self.namespace, self.name, self.leader
                    )
                    return False
                if await self._sleep_or_stop(min(self.retry_period, max(remaining, 0.0))):
                    return True

    def _holds_or_unknown(self) -> bool:
        record = self._observed_record
        return record is None or record.holder_identity == self.identity

    async def _attempt(self, budget: float) -> bool:
        try:
            async with asyncio.timeout(max(budget, 0.001)):
                return await self.try_acquire_or_renew()
        except (StatusError, ApiConnectionError, TimeoutError) as exc:
            log.info("%s: error on lease %s/%s: %s", self.identity, self.namespace, self.name, exc)
            return False

    # --- one round ------------------------------------------------------------------------------------
    async def try_acquire_or_renew(self) -> bool:
        """One read-and-CAS round; True if this candidate holds the lease afterwards."""
        now = self.clock()
        duration = max(1, math.ceil(self.lease_duration))
        try:
            lease = await self.leases.get(self.name, namespace=self.namespace)
        except StatusError as exc:
            if exc.code != 404:
                raise
            record = LeaderElectionRecord(self.identity, duration, now, now, 0)
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": record.to_spec(),
            }
            try:
                created = await self.leases.create(body)
            except StatusError as err:
                if err.code == 409:
                    return False
                raise
            self._observe(created, now)
            return True

        record = LeaderElectionRecord.from_lease(lease)
        if self._observed_record != record:
            self._observe(lease, now)
        holder = record.holder_identity
        if holder and holder != self.identity and self._observed_time + record.lease_duration_seconds > now:
            return False
        if holder == self.identity:
            acquire_time, transitions = record.acquire_time or now, record.lease_transitions
        else:
            acquire_time, transitions = now, record.lease_transitions + 1
        new = LeaderElectionRecord(self.identity, duration, acquire_time, now, transitions)
        body = dict(lease)
        body["spec"] = {**(lease.get("spec") or {}), **new.to_spec()}
        try:
            updated = await self.leases.update(body)
        except StatusError as err:
            if err.code in (409, 404):
                return False
            raise
        self._observe(updated, now)
        return True

    def _observe(self, lease: dict[str, Any], now: float) -> None:
        self._observed_lease = lease
        self._observed_record = LeaderElectionRecord.from_lease(lease)
        self._observed_time = now
        holder = self._observed_record.holder_identity
        if holder != self._reported_leader:
            self._reported_leader = holder
            if holder and self.on_new_leader is not None:
                try:
                    result = self.on_new_leader(holder)
                    if inspect.isawaitable(result):
                        task = asyncio.ensure_future(result)
                        self._callback_tasks.add(task)
                        task.add_done_callback(self._callback_tasks.discard)
                except Exception:
                    log.exception("on_new_leader failed")

    async def _release(self) -> None:
        """Empty ``holderIdentity`` if we still hold the lease (re-reading it after a conflict: a renewal
        interrupted by the cancellation may have landed after our last observation)."""
        lease = self._observed_lease
        for _ in range(3):
            if lease is None or LeaderElectionRecord.from_lease(lease).holder_identity != self.identity:
                return
            now = self.clock()
            record = LeaderElectionRecord.from_lease(lease)
            released = LeaderElectionRecord("", 1, now, now, record.lease_transitions)
            body = dict(lease)
            body["spec"] = {**(lease.get("spec") or {}), **released.to_spec()}
            try:
                updated = await self.leases.update(body)
            except StatusError as exc:
                if exc.code != 409:
                    log.info(
                        "%s: could not release lease %s/%s: %s", self.identity, self.namespace, self.name, exc
                    )
                    return
                lease = await self.leases.get(self.name, namespace=self.namespace)
                continue
            self._observe(updated, now)
            return

    @staticmethod
    async def _callback(fn: Callback | None) -> None:
        if fn is None:
            return
        try:
            result = fn()
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("leader election callback failed")
