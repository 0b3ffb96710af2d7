"""``TaskOwner``: background tasks are kept until done, failures are logged at once, close cancels and waits."""

from __future__ import annotations

import asyncio
import gc
import logging
import time

import pytest

from kybernetes._lib.tasks import TaskOwner, log_task_failure


async def test_keeps_tasks_until_done_even_without_other_references() -> None:
    owner = TaskOwner("t")
    finished = asyncio.Event()

    async def work() -> None:
        await asyncio.sleep(0.05)
        finished.set()

    owner.spawn(work(), name="work")  # the caller keeps nothing
    gc.collect()
    assert [t.get_name() for t in owner.tasks] == ["work"] and len(owner) == 1
    await asyncio.wait_for(finished.wait(), 5)
    await asyncio.sleep(0)  # the done-callback runs on the next loop turn
    assert len(owner) == 0 and owner.failures == 0


async def test_failure_is_logged_at_once_and_others_keep_running(caplog: pytest.LogCaptureFixture) -> None:
    owner = TaskOwner("t", logger=logging.getLogger("test.owner"))
    gate = asyncio.Event()

    async def boom() -> None:
        raise RuntimeError("kaput")

    async def survivor() -> str:
        await gate.wait()
        return "ok"

    with caplog.at_level(logging.ERROR, logger="test.owner"):
        failing = owner.spawn(boom(), name="boom")
        alive = owner.spawn(survivor(), name="survivor")
        await asyncio.wait([failing], timeout=5)
        await asyncio.sleep(0)
    assert owner.failures == 1
    records = [r for r in caplog.records if r.name == "test.owner"]
    assert len(records) == 1 and "task boom failed" in records[0].getMessage()
    assert records[0].exc_info is not None and "kaput" in str(records[0].exc_info[1])
    assert not alive.done()  # one failure does not cancel the rest
    gate.set()
    assert await asyncio.wait_for(alive, 5) == "ok"
    await owner.close()


async def test_cancelled_task_is_not_a_failure(caplog: pytest.LogCaptureFixture) -> None:
    owner = TaskOwner("t", logger=logging.getLogger("test.cancel"))
    task = owner.spawn(asyncio.sleep(30), name="sleeper")
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.wait([task], timeout=5)
    await asyncio.sleep(0)
    assert owner.failures == 0 and not [r for r in caplog.records if r.name == "test.cancel"]


async def test_close_cancels_and_waits_then_refuses_new_tasks() -> None:
    owner = TaskOwner("t")
    cleaned = asyncio.Event()

    async def long_running() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            await asyncio.sleep(0.01)  # cleanup that needs the loop: close must wait for it
            cleaned.set()

    tasks = [owner.spawn(long_running(), name=f"l{i}") for i in range(3)]
    await asyncio.sleep(0)
    started = time.monotonic()
    await owner.close(timeout=5)
    assert time.monotonic() - started < 2
    assert all(t.cancelled() for t in tasks) and cleaned.is_set() and owner.closed

    coro = asyncio.sleep(1)
    with pytest.raises(RuntimeError, match="closed"):
        owner.spawn(coro, name="late")
    assert coro.cr_frame is None  # closed, so never reported as "never awaited"


async def test_close_is_bounded_for_a_task_that_ignores_cancellation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    owner = TaskOwner("t", logger=logging.getLogger("test.stubborn"))
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                continue  # refuses to stop

    task = owner.spawn(stubborn(), name="stubborn")
    await asyncio.sleep(0)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="test.stubborn"):
        await owner.close(timeout=0.2)
    assert 0.15 <= time.monotonic() - started < 2
    assert any("did not stop within" in r.getMessage() for r in caplog.records if r.name == "test.stubborn")
    release.set()
    task.cancel()
    await asyncio.wait([task], timeout=5)
    assert task.done()


async def test_context_manager_and_log_task_failure(caplog: pytest.LogCaptureFixture) -> None:
    async with TaskOwner("cm") as owner:
        task = owner.spawn(asyncio.sleep(30))
        await asyncio.sleep(0)
    assert task.cancelled() and owner.closed

    async def fails() -> None:
        raise ValueError("bad")

    other = asyncio.get_running_loop().create_task(fails(), name="other")
    await asyncio.wait([other], timeout=5)
    logger = logging.getLogger("test.callback")
    with caplog.at_level(logging.ERROR, logger="test.callback"):
        log_task_failure(other, logger)
    assert any("task other failed" in r.getMessage() for r in caplog.records if r.name == "test.callback")
