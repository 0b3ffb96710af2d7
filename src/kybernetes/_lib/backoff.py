"""Exponential back-off, one copy for every component: the formula, a single retry sequence, and per key.

- ``exponential(base, cap, steps)``: ``base * 2**steps`` capped at ``cap`` (client-go's
  ``ItemExponentialFailureRateLimiter``, the scheduler's pod back-off, the Job controller's pod-failure delay).
- ``Backoff``: one retry sequence with jitter that starts again after a quiet period (client-go's
  ``wait.Backoff`` as the reflector uses it: 0.8 s doubling to 30 s, jitter 1.0, reset after 2 minutes).
- ``KeyedBackoff``: a delay per key, ``base`` doubling to ``max``, forgotten after ``reset_after``
  (upstream's ``flowcontrol.Backoff``: the kubelet's crash-loop and image-pull back-offs).

Stdlib only (``_lib`` is the bottom layer); times are passed in or read from an injected clock.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Backoff", "KeyedBackoff", "exponential"]

_MAX_STEPS = 64  # 2**64 overflows any sane cap


def exponential(base: float, cap: float, steps: int) -> float:
    """``base * 2**steps``, at most ``cap``."""
    if steps > _MAX_STEPS:
        return cap
    return min(cap, base * (2**steps))


class Backoff:
    """Exponential backoff with jitter, reset after a quiet period (client-go's reflector defaults:
    0.8 s doubling to 30 s, jitter 1.0, reset after 2 minutes without failures)."""

    def __init__(
        self,
        initial: float = 0.8,
        maximum: float = 30.0,
        factor: float = 2.0,
        jitter: float = 1.0,
        reset_after: float = 120.0,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self.reset_after = reset_after
        self._rng = rng or random.Random()
        self._clock = clock
        self._current = 0.0
        self._last = 0.0

    def _now(self) -> float:
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()

    def next_delay(self) -> float:
        now = self._now()
        if self._current == 0.0 or now - self._last > self.reset_after:
            self._current = self.initial
        else:
            self._current = min(self.maximum, self._current * self.factor)
        self._last = now
        return self._current * (1.0 + self._rng.random() * self.jitter)

    def reset(self) -> None:
        self._current = 0.0

    async def sleep(self) -> None:
        await asyncio.sleep(self.next_delay())


@dataclass
class _Entry:
    delay: float
    last_update: float


class KeyedBackoff:
    """Exponential back-off per key: ``base`` doubling to ``max``, forgotten after ``reset_after``.

    ``next(key, event_time)`` records an event (a restart): the first delay is ``base``, each further one
    doubles up to ``max``; a key whose last event is more than ``reset_after`` before ``event_time`` starts
    again at ``base`` (a container that ran long enough restarts promptly, as the kubelet does after 10
    minutes). ``in_backoff_since(key, event_time, now)`` is upstream's ``IsInBackOffSince``: the window opened
    by the event (a container's finish time) is still open; ``remaining`` says how long.
    """

    def __init__(self, base: float, max_delay: float, reset_after: float | None = None) -> None:
        self.base = base
        self.max = max_delay
        self.reset_after = reset_after if reset_after is not None else 2 * max_delay
        self._entries: dict[str, _Entry] = {}

    def next(self, key: str, event_time: float) -> float:
        """Record an event at ``event_time``; returns the new delay."""
        entry = self._entries.get(key)
        if entry is None or event_time - entry.last_update > self.reset_after:
            entry = self._entries[key] = _Entry(self.base, event_time)
        else:
            entry.delay = min(entry.delay * 2, self.max)
            entry.last_update = event_time
        return entry.delay

    def last_update(self, key: str) -> float | None:
        entry = self._entries.get(key)
        return entry.last_update if entry else None

    def get(self, key: str) -> float:
        entry = self._entries.get(key)
        return entry.delay if entry else 0.0

    def remaining(self, key: str, event_time: float, now: float) -> float:
        entry = self._entries.get(key)
        if entry is None or event_time - entry.last_update > self.reset_after:
            return 0.0
        return max(0.0, event_time + entry.delay - now)

    def in_backoff_since(self, key: str, event_time: float, now: float) -> bool:
        return self.remaining(key, event_time, now) > 0

    def reset(self, key: str) -> None:
        self._entries.pop(key, None)

    def forget_prefix(self, prefix: str) -> None:
        for key in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[key]
