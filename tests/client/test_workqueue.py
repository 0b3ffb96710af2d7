"""WorkQueue semantics (client-go's contract): dedupe, dirty/processing, delays, rate limits, shutdown."""

from __future__ import annotations

import asyncio

import pytest

from kybernetes.client import (
    BucketRateLimiter,
    ExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    QueueShutDown,
    WorkQueue,
    default_controller_rate_limiter,
    run_worker,
)
from tests.client.conftest import eventually


async def test_dedupe_while_queued() -> None:
    q: WorkQueue[str] = WorkQueue()
    for key in ("a", "b", "a", "a", "c", "b"):
        q.add(key)
    assert len(q) == 3
    assert [await q.get() for _ in range(3)] == ["a", "b", "c"]


async def test_readded_while_processing_waits_for_done() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("k")
    item = await q.get()
    assert item == "k" and q.processing == {"k"}
    q.add("k")
    q.add("k")
    assert len(q) == 0  # not handed to a second worker while processing
    with pytest.raises(asyncio.QueueEmpty):
        q.get_nowait()
    q.done("k")
    assert len(q) == 1  # queued once, after done
    assert await q.get() == "k"
    q.done("k")
    assert len(q) == 0 and q.processing == frozenset()


async def test_get_blocks_until_add_and_cancel_is_safe() -> None:
    q: WorkQueue[str] = WorkQueue()
    waiter = asyncio.create_task(q.get())
    cancelled = asyncio.create_task(q.get())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    cancelled.cancel()
    q.add("x")
    assert await asyncio.wait_for(waiter, 1) == "x"
    q.add("y")
    assert await asyncio.wait_for(q.get(), 1) == "y"


async def test_never_two_workers_on_one_key() -> None:
    q: WorkQueue[str] = WorkQueue()
    active: set[str] = set()
    processed: list[str] = []
    overlaps = 0

    async def reconcile(key: str) -> None:
        nonlocal overlaps
        if key in active:
            overlaps += 1
        active.add(key)
        await asyncio.sleep(0.005)
        if len(processed) < 40:
            q.add(key)  # re-added while processing
        active.discard(key)
        processed.append(key)

    workers = [asyncio.create_task(run_worker(q, reconcile)) for _ in range(4)]
    for key in ("a", "b", "a", "c"):
        q.add(key)
    await eventually(lambda: not len(q) and not q.processing, what="queue idle")
    assert await q.shut_down_with_drain(1)
    await asyncio.wait_for(asyncio.gather(*workers), 1)
    assert overlaps == 0
    assert set(processed) == {"a", "b", "c"} and len(processed) >= 40


async def test_add_after_keeps_earliest_and_fires() -> None:
    q: WorkQueue[str] = WorkQueue()
    loop = asyncio.get_running_loop()
    start = loop.time()
    q.add_after("late", 0.15)
    q.add_after("x", 0.2)
    q.add_after("x", 0.05)  # earlier wins
    q.add_after("x", 0.3)  # later is ignored
    q.add_after("now", 0)
    assert await q.get() == "now"
    assert await asyncio.wait_for(q.get(), 1) == "x"
    assert 0.04 <= loop.time() - start < 0.14
    assert await asyncio.wait_for(q.get(), 1) == "late"
    q.done("x")
    await asyncio.sleep(0.3)
    assert len(q) == 0  # the superseded 0.2/0.3 s timers did not re-add x


async def test_rate_limited_backoff_and_forget() -> None:
    limiter: ExponentialFailureRateLimiter[str] = ExponentialFailureRateLimiter(
        base_delay=0.01, max_delay=0.08
    )
    q: WorkQueue[str] = WorkQueue(rate_limiter=limiter)
    loop = asyncio.get_running_loop()
    waits = []
    for _ in range(5):
        start = loop.time()
        q.add_rate_limited("k")
        assert await asyncio.wait_for(q.get(), 1) == "k"
        waits.append(loop.time() - start)
        q.done("k")
    assert q.num_requeues("k") == 5
    assert waits[0] >= 0.009 and waits[1] >= 0.019 and waits[2] >= 0.039
    assert all(w < 0.2 for w in waits)  # capped at max_delay
    q.forget("k")
    assert q.num_requeues("k") == 0
    assert limiter.when("k") == 0.01

    default: ExponentialFailureRateLimiter[str] = ExponentialFailureRateLimiter()
    assert [default.when("z") for _ in range(3)] == [0.005, 0.01, 0.02]
    for _ in range(100):
        last = default.when("z")
    assert last == 1000.0


async def test_bucket_and_max_of_limiters() -> None:
    now = [0.0]
    bucket: BucketRateLimiter[str] = BucketRateLimiter(qps=10, burst=2, clock=lambda: now[0])
    assert [bucket.when("a"), bucket.when("b")] == [0.0, 0.0]
    assert bucket.when("c") == pytest.approx(0.1)
    now[0] = 1.0
    assert bucket.when("d") == 0.0
    combined: MaxOfRateLimiter[str] = MaxOfRateLimiter(ExponentialFailureRateLimiter(1.0, 10.0), bucket)
    assert combined.when("x") == 1.0 and combined.num_requeues("x") == 1
    combined.forget("x")
    assert combined.num_requeues("x") == 0
    assert default_controller_rate_limiter().when("k") == 0.005


async def test_shutdown_hands_out_remaining_then_raises() -> None:
    q: WorkQueue[str] = WorkQueue(name="t")
    blocked = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.add("a")
    assert await blocked == "a"
    q.add("b")
    q.add_after("later", 0.01)
    q.shut_down()
    q.add("c")  # ignored
    assert q.shutting_down
    assert await q.get() == "b"
    with pytest.raises(QueueShutDown):
        await q.get()
    waiting = asyncio.create_task(q.get())
    with pytest.raises(QueueShutDown):
        await asyncio.wait_for(waiting, 1)
    await asyncio.sleep(0.03)
    assert len(q) == 0  # delayed adds were dropped


async def test_drain_waits_for_in_flight() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    await q.get()
    assert not await q.shut_down_with_drain(0.05)
    asyncio.get_running_loop().call_later(0.02, q.done, "a")
    q2: WorkQueue[str] = WorkQueue()
    q2.add("b")
    await q2.get()
    asyncio.get_running_loop().call_later(0.02, q2.done, "b")
    assert await q2.shut_down_with_drain(1)


async def test_run_worker_retries_then_forgets() -> None:
    q: WorkQueue[str] = WorkQueue(rate_limiter=ExponentialFailureRateLimiter(0.001, 0.01))
    attempts: dict[str, int] = {}
    done = asyncio.Event()

    async def flaky(key: str) -> None:
        attempts[key] = attempts.get(key, 0) + 1
        if attempts[key] < 3:
            raise RuntimeError("transient")
        done.set()

    worker = asyncio.create_task(run_worker(q, flaky))
    q.add("k")
    await asyncio.wait_for(done.wait(), 2)
    await asyncio.sleep(0.01)
    assert attempts == {"k": 3} and q.num_requeues("k") == 0  # forgotten after success
    q.shut_down()
    await asyncio.wait_for(worker, 1)

    q2: WorkQueue[str] = WorkQueue(rate_limiter=ExponentialFailureRateLimiter(0.001, 0.01))
    calls = 0

    async def broken(key: str) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("permanent")

    worker = asyncio.create_task(run_worker(q2, broken, max_retries=2))
    q2.add("k")
    await asyncio.sleep(0.2)
    assert calls == 3 and len(q2) == 0  # first try + 2 retries, then dropped
    q2.shut_down()
    await asyncio.wait_for(worker, 1)
