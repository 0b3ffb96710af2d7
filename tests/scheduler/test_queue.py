"""Scheduling queue semantics: priority order, backoff, event-driven moves, timeouts, nominator."""

from __future__ import annotations

import asyncio

import pytest

from kybernetes.scheduler.framework import ActionType, ClusterEvent, PodInfo
from kybernetes.scheduler.queue import QueueClosed, SchedulingQueue
from tests.scheduler.conftest import pod


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


EVENTS = {
    "NodeResourcesFit": [ClusterEvent("Pod", ActionType.DELETE), ClusterEvent("Node", ActionType.ADD)],
    "TaintToleration": [ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE_NODE_TAINT)],
}


def q_with_clock() -> tuple[SchedulingQueue, Clock]:
    clock = Clock()
    return SchedulingQueue(EVENTS, clock=clock), clock


async def test_pop_by_priority_then_fifo() -> None:
    q, clock = q_with_clock()
    q.add(PodInfo(pod("low1", priority=1)))
    clock.now += 1
    q.add(PodInfo(pod("high", priority=10)))
    clock.now += 1
    q.add(PodInfo(pod("low2", priority=1)))
    order = [(await q.pop()).pod.name for _ in range(3)]
    assert order == ["high", "low1", "low2"]
    assert set(q.in_flight) == {"default/high", "default/low1", "default/low2"}


async def test_pop_waits_and_close() -> None:
    q, _ = q_with_clock()
    getter = asyncio.create_task(q.pop())
    await asyncio.sleep(0)
    assert not getter.done()
    q.add(PodInfo(pod("p")))
    assert (await asyncio.wait_for(getter, 1)).pod.name == "p"
    q.close()
    with pytest.raises(QueueClosed):
        await q.pop()


async def test_backoff_doubles_up_to_max() -> None:
    q, clock = q_with_clock()
    q.add(PodInfo(pod("p")))
    durations = []
    for _ in range(6):
        item = await q.pop()
        durations.append(q.backoff_duration(item))
        q.add_unschedulable(item, backoff=True)
        assert q.backoff_keys == ["default/p"]
        assert q.flush_backoff() == pytest.approx(durations[-1])
        clock.now += durations[-1]
        assert q.flush_backoff() is None
        assert q.active_keys == ["default/p"]
    assert durations == [1, 2, 4, 8, 10, 10]


async def test_unschedulable_moves_only_on_relevant_events() -> None:
    q, clock = q_with_clock()
    q.add(PodInfo(pod("p")))
    item = await q.pop()
    item.unschedulable_plugins = {"TaintToleration"}
    q.add_unschedulable(item)
    assert list(q.unschedulable) == ["default/p"]
    assert q.move_all(ClusterEvent("Pod", ActionType.DELETE)) == 0
    assert q.move_all(ClusterEvent("Node", ActionType.UPDATE_NODE_LABEL)) == 0
    clock.now += 5  # past its 1 s backoff: straight to activeQ
    assert q.move_all(ClusterEvent("Node", ActionType.UPDATE_NODE_TAINT)) == 1
    assert q.active_keys == ["default/p"]


async def test_move_while_backing_off_goes_to_backoffq() -> None:
    q, _ = q_with_clock()
    q.add(PodInfo(pod("p")))
    item = await q.pop()
    item.unschedulable_plugins = {"NodeResourcesFit"}
    q.add_unschedulable(item)
    assert q.move_all(ClusterEvent("Node", ActionType.ADD)) == 1
    assert q.backoff_keys == ["default/p"]


async def test_event_during_cycle_sends_failure_to_backoff() -> None:
    q, _ = q_with_clock()
    q.add(PodInfo(pod("p")))
    item = await q.pop()
    q.move_all(ClusterEvent("Node", ActionType.ADD))  # arrives while p is in flight
    item.unschedulable_plugins = {"NodeResourcesFit"}
    q.add_unschedulable(item)
    assert q.backoff_keys == ["default/p"] and not q.unschedulable


async def test_unschedulable_timeout_flush() -> None:
    q, clock = q_with_clock()
    q.add(PodInfo(pod("p")))
    item = await q.pop()
    item.unschedulable_plugins = {"TaintToleration"}
    q.add_unschedulable(item)
    clock.now += 299
    q.flush_unschedulable()
    assert q.unschedulable
    clock.now += 2
    q.flush_unschedulable()
    assert q.active_keys == ["default/p"]


async def test_update_and_delete() -> None:
    q, clock = q_with_clock()
    q.add(PodInfo(pod("p")))
    item = await q.pop()
    item.unschedulable_plugins = {"TaintToleration"}
    q.add_unschedulable(item)
    q.update(PodInfo(pod("p", labels={"x": "y"})), spec_changed=False)
    assert q.unschedulable  # a status-only update does not retry it
    clock.now += 5
    q.update(PodInfo(pod("p", labels={"x": "z"})), spec_changed=True)
    assert q.active_keys == ["default/p"]
    q.delete("default/p")
    assert len(q) == 0


def test_nominator() -> None:
    q, _ = q_with_clock()
    p = PodInfo(pod("p"))
    q.add_nominated(p, "n1")
    assert [x.name for x in q.nominated["n1"]] == ["p"]
    q.add_nominated(p, "n2")
    assert "n1" not in q.nominated and q.nominated["n2"]
    q.delete_nominated(p.key)
    assert not q.nominated
