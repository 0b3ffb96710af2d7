"""Leader election on Leases: one leader at a time, takeover on release, expiry and partition."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kybernetes.client import ApiClient, LeaderElectionRecord, LeaderElector
from tests.client.conftest import FAST_RETRY, TcpProxy, eventually

TIMING = dict(lease_duration=1.0, renew_deadline=0.5, retry_period=0.05)


class Timeline:
    """Who leads when: intervals per identity, to check leadership never overlaps."""

    def __init__(self) -> None:
        self.intervals: dict[str, list[list[float]]] = {}
        self.current: set[str] = set()

    def started(self, who: str) -> None:
        self.current.add(who)
        self.intervals.setdefault(who, []).append([time.monotonic(), float("inf")])

    def stopped(self, who: str) -> None:
        self.current.discard(who)
        self.intervals[who][-1][1] = time.monotonic()

    def assert_no_overlap(self) -> None:
        spans = sorted((s, e, who) for who, ivs in self.intervals.items() for s, e in ivs)
        for (_, end, a), (start, _, b) in itertools.pairwise(spans):
            assert end <= start, f"{a} and {b} led at the same time"


def elector(api: ApiClient, who: str, timeline: Timeline, **kw: Any) -> LeaderElector:
    async def lead() -> None:
        timeline.started(who)
        try:
            await asyncio.Event().wait()
        finally:
            timeline.stopped(who)

    return LeaderElector(api, "kube-system", "ctrl", who, on_started_leading=lead, **{**TIMING, **kw})


@contextlib.asynccontextmanager
async def running(*electors: LeaderElector) -> AsyncIterator[dict[str, asyncio.Task[None]]]:
    tasks = {e.identity: asyncio.create_task(e.run()) for e in electors}
    try:
        yield tasks
    finally:
        for t in tasks.values():
            t.cancel()
        for t in tasks.values():
            with contextlib.suppress(asyncio.CancelledError):
                await t


async def lease_record(api: ApiClient) -> LeaderElectionRecord:
    return LeaderElectionRecord.from_lease(await api.leases.get("ctrl", namespace="kube-system"))


async def test_only_one_leads_and_release_hands_over(api: ApiClient) -> None:
    timeline = Timeline()
    a, b = elector(api, "a", timeline), elector(api, "b", timeline)
    async with running(a, b) as tasks:
        await eventually(lambda: timeline.current, what="a leader")
        await asyncio.sleep(0.3)  # several renew rounds: still exactly one leader
        assert len(timeline.current) == 1
        first = next(iter(timeline.current))
        record = await lease_record(api)
        assert record.holder_identity == first and record.lease_duration_seconds == 1
        assert record.acquire_time and record.renew_time and record.renew_time >= record.acquire_time
        assert {a.is_leader(), b.is_leader()} == {True, False}

        tasks[first].cancel()  # clean stop: the lease is released
        with contextlib.suppress(asyncio.CancelledError):
            await tasks[first]
        released_at = time.monotonic()
        second = "b" if first == "a" else "a"
        await eventually(lambda: timeline.current == {second}, timeout=2, what="takeover")
        assert time.monotonic() - released_at < 0.5  # no need to wait for the lease to expire
        assert (await lease_record(api)).lease_transitions == 1
    timeline.assert_no_overlap()


async def test_killed_leader_is_replaced_within_lease_duration(api: ApiClient) -> None:
    timeline = Timeline()
    a = elector(api, "a", timeline, release_on_cancel=False)
    async with running(a) as tasks:
        await eventually(lambda: timeline.current == {"a"})
        b = elector(api, "b", timeline)
        b_task = asyncio.create_task(b.run())
        try:
            await asyncio.sleep(0.2)
            assert timeline.current == {"a"} and b.leader == "a"
            tasks["a"].cancel()  # "kill -9": no release
            with contextlib.suppress(asyncio.CancelledError):
                await tasks["a"]
            killed_at = time.monotonic()
            assert (await lease_record(api)).holder_identity == "a"
            await eventually(lambda: timeline.current == {"b"}, timeout=3, what="takeover")
            took = time.monotonic() - killed_at
            assert took <= TIMING["lease_duration"] + 0.3
        finally:
            b_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await b_task
    timeline.assert_no_overlap()


async def test_partitioned_leader_steps_down_before_takeover(api: ApiClient, proxy: TcpProxy) -> None:
    timeline = Timeline()
    stopped: list[str] = []
    async with ApiClient(proxy.url, retry=FAST_RETRY) as partitioned_api:
        a = elector(partitioned_api, "a", timeline, on_stopped_leading=lambda: stopped.append("a"))
        b = elector(api, "b", timeline)
        async with running(a) as tasks:
            await eventually(lambda: timeline.current == {"a"})
            b_task = asyncio.create_task(b.run())
            try:
                await asyncio.sleep(0.2)
                await proxy.cut()
                await eventually(lambda: timeline.current == {"b"}, timeout=3, what="takeover")
                await asyncio.wait_for(tasks["a"], 1)  # run() returns once leadership is lost
                assert stopped == ["a"] and not a.is_leader()
            finally:
                b_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await b_task
    timeline.assert_no_overlap()


async def test_many_candidates_single_leader(api: ApiClient) -> None:
    timeline = Timeline()
    electors = [elector(api, f"c{i}", timeline) for i in range(5)]
    async with running(*electors):
        await eventually(lambda: timeline.current)
        for _ in range(10):
            await asyncio.sleep(0.05)
            assert len(timeline.current) == 1
    timeline.assert_no_overlap()


async def test_stop_and_injected_clock(api: ApiClient) -> None:
    now = [1_000_000.0]
    e = LeaderElector(api, "default", "clocked", "x", clock=lambda: now[0], **TIMING)
    assert await e.try_acquire_or_renew()
    record = LeaderElectionRecord.from_lease(await api.leases.get("clocked", namespace="default"))
    assert record.acquire_time == pytest.approx(1_000_000.0)
    other = LeaderElector(api, "default", "clocked", "y", clock=lambda: now[0], **TIMING)
    assert not await other.try_acquire_or_renew()  # held and fresh
    now[0] += 0.5
    assert not await other.try_acquire_or_renew()
    now[0] += 1.0  # the record has not changed for a lease duration on y's clock
    assert await other.try_acquire_or_renew()
    assert (await api.leases.get("clocked", namespace="default"))["spec"]["leaseTransitions"] == 1

    task = asyncio.create_task(e.run())
    await asyncio.sleep(0.1)
    e.stop()
    await asyncio.wait_for(task, 1)  # returns without ever leading
    assert not e.is_leader()

    with pytest.raises(ValueError):
        LeaderElector(api, "default", "bad", "z", lease_duration=1, renew_deadline=2)
