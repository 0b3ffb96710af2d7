"""Work queues with client-go's semantics, for asyncio controllers.

Contract (``k8s.io/client-go/util/workqueue``):

- **dedupe**: an item added while it is waiting in the queue is queued once (the ``dirty`` set);
- **one worker per item**: an item handed out by ``get()`` is *processing*; added again meanwhile it is
  only marked dirty, and re-queued when the worker calls ``done(item)``. So no item is ever worked on by
  two workers at once, and no add is lost;
- **delays**: ``add_after(item, delay)`` adds it later (the earliest pending time wins);
- **rate limiting**: ``add_rate_limited(item)`` waits ``rate_limiter.when(item)``: per-item exponential
  backoff (5 ms doubling up to 1000 s by default, like ``DefaultControllerRateLimiter``'s per-item part);
  ``forget(item)`` resets it after a success, ``num_requeues(item)`` tells how many retries so far;
- **shutdown**: ``shut_down()`` stops accepting adds; ``get()`` still hands out what is queued and then
  raises ``QueueShutDown``. ``shut_down_with_drain()`` also waits for in-flight items to be ``done``.

Items must be hashable (controllers use ``namespace/name`` strings). ``run_worker`` is the standard
worker loop: get, reconcile, forget on success or re-add rate-limited on failure, done.
Informers (``informer.py``) call ``add`` from their event handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, Protocol, TypeVar

from kybernetes._lib.backoff import exponential

__all__ = [
    "BucketRateLimiter",
    "ExponentialFailureRateLimiter",
    "MaxOfRateLimiter",
    "QueueShutDown",
    "RateLimiter",
    "WorkQueue",
    "default_controller_rate_limiter",
    "run_worker",
]

log = logging.getLogger(__name__)

T = TypeVar("T", bound=Hashable)


class QueueShutDown(Exception):
    """``get()`` on a queue that is shut down and empty."""


# --- rate limiters ------------------------------------------------------------------------------------
# items are only passed in, so a limiter of a wider item type serves a narrower queue
T_contra = TypeVar("T_contra", bound=Hashable, contravariant=True)


class RateLimiter(Protocol[T_contra]):
    def when(self, item: T_contra) -> float: ...
    def forget(self, item: T_contra) -> None: ...
    def num_requeues(self, item: T_contra) -> int: ...


class ExponentialFailureRateLimiter(Generic[T]):
    """``base_delay * 2**failures`` capped at ``max_delay``, per item."""

    def __init__(self, base_delay: float = 0.005, max_delay: float = 1000.0) -> None:
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._failures: dict[T, int] = {}

    def when(self, item: T) -> float:
        exp = self._failures.get(item, 0)
        self._failures[item] = exp + 1
        return exponential(self.base_delay, self.max_delay, exp)

    def forget(self, item: T) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: T) -> int:
        return self._failures.get(item, 0)


class BucketRateLimiter(Generic[T]):
    """An overall token bucket (``qps`` refill, ``burst`` size): the delay until a token is free."""

    def __init__(self, qps: float = 10.0, burst: int = 100, clock: Callable[[], float] | None = None) -> None:
        self.qps = qps
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last: float | None = None

    def _now(self) -> float:
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()

    def when(self, item: T) -> float:
        now = self._now()
        if self._last is not None:
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1.0  # reserve, possibly into debt, like rate.Limiter.Reserve
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def forget(self, item: T) -> None:
        return None

    def num_requeues(self, item: T) -> int:
        return 0


class MaxOfRateLimiter(Generic[T]):
    """The longest delay of several limiters (requeues counted by the first that counts)."""

    def __init__(self, *limiters: RateLimiter[T]) -> None:
        self.limiters = limiters

    def when(self, item: T) -> float:
        return max(limiter.when(item) for limiter in self.limiters)

    def forget(self, item: T) -> None:
        for limiter in self.limiters:
            limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        return max(limiter.num_requeues(item) for limiter in self.limiters)


def default_controller_rate_limiter() -> MaxOfRateLimiter[Hashable]:
    """client-go's ``DefaultControllerRateLimiter``: per-item 5 ms..1000 s and overall 10 qps / 100 burst."""
    return MaxOfRateLimiter(ExponentialFailureRateLimiter(0.005, 1000.0), BucketRateLimiter(10.0, 100))


# --- the queue ----------------------------------------------------------------------------------------
class WorkQueue(Generic[T]):
    """A deduplicating, delaying, rate-limited work queue. See the module docstring for the contract."""

    def __init__(self, *, name: str = "", rate_limiter: RateLimiter[T] | None = None) -> None:
        self.name = name
        self.rate_limiter: RateLimiter[T] = rate_limiter or ExponentialFailureRateLimiter()
        self._queue: deque[T] = deque()
        self._dirty: set[T] = set()
        self._processing: set[T] = set()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._shutting_down = False
        self._drained: asyncio.Event | None = None
        # delayed adds: heap of (ready_at, seq, item); _waiting holds each item's earliest ready_at
        self._heap: list[tuple[float, int, T]] = []
        self._waiting: dict[T, float] = {}
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    # --- basic queue ----------------------------------------------------------------------------------
    def add(self, item: T) -> None:
        """Queue ``item`` unless it is already queued; if it is processing, queue it after ``done``."""
        if self._shutting_down or item in self._dirty:
            return
        self._dirty.add(item)
        if item in self._processing:
            return
        self._queue.append(item)
        self._wake_one()

    async def get(self) -> T:
        """The next item (now processing). Raises ``QueueShutDown`` once shut down and empty."""
        while not self._queue:
            if self._shutting_down:
                raise QueueShutDown(self.name)
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(fut)
                if fut.done() and not fut.cancelled() and self._queue:
                    self._wake_one()  # we were woken for an item we will not take: pass it on
                raise
        item = self._queue.popleft()
        self._processing.add(item)
        self._dirty.discard(item)
        return item

    def get_nowait(self) -> T:
        """Like ``get`` without waiting; raises ``asyncio.QueueEmpty`` when nothing is queued."""
        if not self._queue:
            if self._shutting_down:
                raise QueueShutDown(self.name)
            raise asyncio.QueueEmpty
        item = self._queue.popleft()
        self._processing.add(item)
        self._dirty.discard(item)
        return item

    def done(self, item: T) -> None:
        """Mark ``item`` finished; if it was added while processing, it is queued again now."""
        self._processing.discard(item)
        if item in self._dirty:
            self._queue.append(item)
            self._wake_one()
        elif not self._processing and self._drained is not None:
            self._drained.set()

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def processing(self) -> frozenset[T]:
        return frozenset(self._processing)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def _wake_one(self) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    # --- shutdown -------------------------------------------------------------------------------------
    def shut_down(self) -> None:
        """Stop accepting adds, drop pending delayed adds, wake every waiting ``get``."""
        self._shutting_down = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._heap.clear()
        self._waiting.clear()
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)

    async def shut_down_with_drain(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109
        """``shut_down`` and wait until no item is processing; False if ``timeout`` passed first."""
        self.shut_down()
        if not self._processing:
            return True
        self._drained = asyncio.Event()
        try:
            async with asyncio.timeout(timeout):
                await self._drained.wait()
        except TimeoutError:
            return False
        return True

    # --- delays ---------------------------------------------------------------------------------------
    def add_after(self, item: T, delay: float) -> None:
        """Add ``item`` after ``delay`` seconds (at once if ``delay <= 0``)."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(item)
            return
        loop = asyncio.get_running_loop()
        ready_at = loop.time() + delay
        current = self._waiting.get(item)
        if current is not None and current <= ready_at:
            return
        self._waiting[item] = ready_at
        heapq.heappush(self._heap, (ready_at, next(self._seq), item))
        self._arm(loop)

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._heap:
            return
        first = self._heap[0][0]
        if self._timer is not None:
            if self._timer_at <= first:
                return
            self._timer.cancel()
        self._timer_at = first
        self._timer = loop.call_at(first, self._fire)

    def _fire(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        while self._heap and self._heap[0][0] <= now:
            ready_at, _, item = heapq.heappop(self._heap)
            if self._waiting.get(item) == ready_at:  # else superseded by an earlier time
                del self._waiting[item]
                self.add(item)
        self._arm(loop)

    # --- rate limiting --------------------------------------------------------------------------------
    def add_rate_limited(self, item: T) -> None:
        """Add ``item`` after the rate limiter's delay (per-item exponential backoff by default)."""
        self.add_after(item, self.rate_limiter.when(item))

    def forget(self, item: T) -> None:
        """Reset ``item``'s backoff (call after it was processed successfully)."""
        self.rate_limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        return self.rate_limiter.num_requeues(item)


async def run_worker(
    queue: WorkQueue[T], reconcile: Callable[[T], Awaitable[None]], *, max_retries: int | None = None
) -> None:
    """Process items until the queue shuts down: success -> ``forget``; exception -> ``add_rate_limited``
    (dropped after ``max_retries`` retries when given); always ``done``. Run several for concurrency."""
    while True:
        try:
            item = await queue.get()
        except QueueShutDown:
            return
        try:
            await reconcile(item)
        except asyncio.CancelledError:
            raise
        except Exception:
            if max_retries is not None and queue.num_requeues(item) >= max_retries:
                log.exception("%s: dropping %r after %d retries", queue.name, item, max_retries)
                queue.forget(item)
            else:
                log.warning("%s: error processing %r; requeueing", queue.name, item, exc_info=True)
                queue.add_rate_limited(item)
        else:
            queue.forget(item)
        finally:
            queue.done(item)
