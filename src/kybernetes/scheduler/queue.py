"""The scheduling queue (upstream's ``PriorityQueue``): activeQ, backoffQ, unschedulable pods, the pods in
flight, and the nominator (which pods wait for preemption victims to leave which node).

- **activeQ**: a heap ordered by priority (higher first), then by the time the pod was queued
  (PrioritySort); ``pop`` waits for work and marks the pod in flight (one cycle at a time per pod).
- **backoffQ**: pods that failed, until their backoff expires: ``initial_backoff * 2**(attempts-1)``,
  capped at ``max_backoff`` (1 s → 10 s by default), per pod.
- **unschedulable**: pods no node fits. A cluster event (``move_all``) moves those whose rejecting
  plugins registered that event (their ``EnqueueExtensions``) back to activeQ or, still backing off, to
  backoffQ; pods rejected for no plugin's reason (errors) move on any event. Pods unschedulable for
  longer than ``max_unschedulable`` (5 min) are retried anyway (checked every ``flush_interval``).
- If an event arrived while a pod was in flight (``move_request_cycle`` ≥ its cycle), a failure puts
  it in backoffQ rather than unschedulable, so the event is not lost.

``run()`` is the flusher task; everything else is synchronous and called on the event loop.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from kybernetes._lib.backoff import exponential
from kybernetes.scheduler.framework.nodeinfo import PodInfo
from kybernetes.scheduler.framework.types import UNSCHEDULABLE_TIMEOUT, ClusterEvent

__all__ = ["QueueClosed", "QueuedPodInfo", "SchedulingQueue"]


class QueueClosed(Exception):
    """``pop`` on a closed queue."""


@dataclass(eq=False)
class QueuedPodInfo:
    pod: PodInfo
    timestamp: float
    initial_attempt: float
    attempts: int = 0
    unschedulable_plugins: set[str] = field(default_factory=set)
    seq: int = 0
    cycle: int = 0
    updated_in_flight: bool = False

    @property
    def key(self) -> str:
        return self.pod.key


class SchedulingQueue:
    def __init__(
        self,
        events: Mapping[str, Iterable[ClusterEvent]] | None = None,
        *,
        initial_backoff: float = 1.0,
        max_backoff: float = 10.0,
        max_unschedulable: float = 300.0,
        flush_interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.events = {name: list(evs) for name, evs in (events or {}).items()}
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.max_unschedulable = max_unschedulable
        self.flush_interval = flush_interval
        self.clock = clock
        self._seq = itertools.count()
        self._active: dict[str, QueuedPodInfo] = {}
        self._active_heap: list[tuple[int, float, int, str]] = []
        self._backoff: dict[str, QueuedPodInfo] = {}
        self._backoff_heap: list[tuple[float, int, str]] = []
        self.unschedulable: dict[str, QueuedPodInfo] = {}
        self.in_flight: dict[str, QueuedPodInfo] = {}
        self.scheduling_cycle = 0
        self.move_request_cycle = -1
        self._ready = asyncio.Event()
        self._wake = asyncio.Event()
        self._closed = False
        self.nominated: dict[str, list[PodInfo]] = {}
        self._nominated_node: dict[str, str] = {}

    # --- sizes ------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._active) + len(self._backoff) + len(self.unschedulable)

    def __contains__(self, key: object) -> bool:
        return key in self._active or key in self._backoff or key in self.unschedulable

    @property
    def active_keys(self) -> list[str]:
        return list(self._active)

    @property
    def backoff_keys(self) -> list[str]:
        return list(self._backoff)

    # --- internals --------------------------------------------------------------------------------
    def _push_active(self, q: QueuedPodInfo) -> None:
        q.seq = next(self._seq)
        self._active[q.key] = q
        heapq.heappush(self._active_heap, (-q.pod.priority, q.timestamp, q.seq, q.key))
        self._ready.set()

    def backoff_duration(self, q: QueuedPodInfo) -> float:
        return exponential(self.initial_backoff, self.max_backoff, max(q.attempts - 1, 0))

    def _backoff_expiry(self, q: QueuedPodInfo) -> float:
        return q.timestamp + self.backoff_duration(q)

    def _push_backoff(self, q: QueuedPodInfo) -> None:
        q.seq = next(self._seq)
        self._backoff[q.key] = q
        heapq.heappush(self._backoff_heap, (self._backoff_expiry(q), q.seq, q.key))
        self._wake.set()

    def _remove(self, key: str) -> QueuedPodInfo | None:
        return (
            self._active.pop(key, None) or self._backoff.pop(key, None) or self.unschedulable.pop(key, None)
        )

    def _move(self, q: QueuedPodInfo) -> None:
        """Out of unschedulable: to backoffQ while still backing off, else activeQ."""
        if q.attempts and self._backoff_expiry(q) > self.clock():
            self._push_backoff(q)
        else:
            self._push_active(q)

    # --- pod events -------------------------------------------------------------------------------
    def add(self, pod: PodInfo) -> None:
        """A new pending pod (or one seen again): straight to activeQ unless already known."""
        if pod.key in self.in_flight:
            self.in_flight[pod.key].pod = pod
            return
        if self._remove(pod.key) is not None:
            self.update(pod)
            return
        now = self.clock()
        self._push_active(QueuedPodInfo(pod, now, now))
        self._nominate_from_status(pod)

    def update(self, pod: PodInfo, *, spec_changed: bool = True) -> None:
        key = pod.key
        self._nominate_from_status(pod)
        if key in self.in_flight:
            q = self.in_flight[key]
            q.pod = pod
            q.updated_in_flight = q.updated_in_flight or spec_changed
            return
        if key in self._active:
            q = self._active[key]
            q.pod = pod
            self._push_active(q)  # priority may have changed; the old heap entry is now stale
        elif key in self._backoff:
            self._backoff[key].pod = pod
        elif key in self.unschedulable:
            q = self.unschedulable[key]
            q.pod = pod
            if spec_changed:
                del self.unschedulable[key]
                self._move(q)
        else:
            self.add(pod)

    def delete(self, key: str) -> None:
        self._remove(key)
        self.in_flight.pop(key, None)
        self.delete_nominated(key)

    # --- scheduling -------------------------------------------------------------------------------
    async def pop(self) -> QueuedPodInfo:
        while True:
            if self._closed:
                raise QueueClosed
            while self._active_heap:
                _, _, seq, key = heapq.heappop(self._active_heap)
                q = self._active.get(key)
                if q is None or q.seq != seq:
                    continue
                del self._active[key]
                self.in_flight[key] = q
                q.attempts += 1
                self.scheduling_cycle += 1
                q.cycle = self.scheduling_cycle
                q.updated_in_flight = False
                return q
            self._ready.clear()
            await self._ready.wait()

    def done(self, key: str) -> None:
        self.in_flight.pop(key, None)

    def add_unschedulable(self, q: QueuedPodInfo, *, backoff: bool = False) -> None:
        """Requeue a pod after a failed attempt (unschedulable, or ``backoff`` for errors)."""
        if self.in_flight.pop(q.key, None) is None or q.key in self:
            return  # deleted meanwhile, or re-added by an update
        q.timestamp = self.clock()
        if (
            backoff
            or not q.unschedulable_plugins
            or q.updated_in_flight
            or self.move_request_cycle >= q.cycle
        ):
            self._push_backoff(q)
        else:
            self.unschedulable[q.key] = q

    def activate(self, keys: Iterable[str]) -> None:
        for key in keys:
            q = self._backoff.pop(key, None) or self.unschedulable.pop(key, None)
            if q is not None:
                self._push_active(q)

    # --- cluster events ---------------------------------------------------------------------------
    def interested(self, q: QueuedPodInfo, event: ClusterEvent) -> bool:
        if not q.unschedulable_plugins or event is UNSCHEDULABLE_TIMEOUT:
            return True
        return any(reg.matches(event) for p in q.unschedulable_plugins for reg in self.events.get(p, ()))

    def move_all(self, event: ClusterEvent, accept: Callable[[QueuedPodInfo], bool] | None = None) -> int:
        moved = 0
        for key, q in list(self.unschedulable.items()):
            if self.interested(q, event) and (accept is None or accept(q)):
                del self.unschedulable[key]
                self._move(q)
                moved += 1
        self.move_request_cycle = self.scheduling_cycle
        return moved

    def flush_backoff(self) -> float | None:
        """Move expired backoffs to activeQ; the delay until the next expiry (None: none left)."""
        now = self.clock()
        while self._backoff_heap:
            expiry, seq, key = self._backoff_heap[0]
            q = self._backoff.get(key)
            if q is None or q.seq != seq:
                heapq.heappop(self._backoff_heap)
                continue
            if expiry > now:
                return expiry - now
            heapq.heappop(self._backoff_heap)
            del self._backoff[key]
            self._push_active(q)
        return None

    def flush_unschedulable(self) -> None:
        now = self.clock()
        old = [q for q in self.unschedulable.values() if now - q.timestamp >= self.max_unschedulable]
        for q in old:
            del self.unschedulable[q.key]
            self._move(q)

    async def run(self) -> None:
        """The flusher: backoffQ as entries expire (at least every second), unschedulable periodically."""
        last_unsched = self.clock()
        while not self._closed:
            delay = self.flush_backoff()
            if self.clock() - last_unsched >= self.flush_interval:
                self.flush_unschedulable()
                last_unsched = self.clock()
            self._wake.clear()
            timeout = min(1.0, delay if delay is not None else 1.0)
            try:
                await asyncio.wait_for(self._wake.wait(), max(timeout, 0.01))
            except TimeoutError:
                pass

    def close(self) -> None:
        self._closed = True
        self._ready.set()
        self._wake.set()

    # --- nominator --------------------------------------------------------------------------------
    def _nominate_from_status(self, pod: PodInfo) -> None:
        node = (pod.pod.get("status") or {}).get("nominatedNodeName")
        if node:
            self.add_nominated(pod, str(node))
        elif pod.key in self._nominated_node:
            self.delete_nominated(pod.key)

    def add_nominated(self, pod: PodInfo, node: str) -> None:
        self.delete_nominated(pod.key)
        self._nominated_node[pod.key] = node
        self.nominated.setdefault(node, []).append(pod)

    def delete_nominated(self, key: str) -> None:
        node = self._nominated_node.pop(key, None)
        if node is None:
            return
        pods = [p for p in self.nominated.get(node, ()) if p.key != key]
        if pods:
            self.nominated[node] = pods
        else:
            self.nominated.pop(node, None)
