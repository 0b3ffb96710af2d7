"""Per-key exponential back-off for container restarts and image pulls (upstream's ``flowcontrol.Backoff``).

``next(key, event_time)`` records a restart: the first delay is ``base``, each further one doubles up to
``max``; a key whose last restart is more than ``reset_after`` before ``event_time`` starts again at ``base``
(a container that ran long enough restarts promptly, as the kubelet does after 10 minutes).
``in_backoff_since(key, event_time, now)`` is upstream's ``IsInBackOffSince``: the window opened by the
event (a container's finish time) is still open; ``remaining`` says how long. Times are passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Backoff"]


@dataclass
class _Entry:
    delay: float
    last_update: float


class Backoff:
    """Exponential back-off per key: ``base`` doubling to ``max``, forgotten after ``reset_after``."""

    def __init__(self, base: float, max_delay: float, reset_after: float | None = None) -> None:
        self.base = base
        self.max = max_delay
        self.reset_after = reset_after if reset_after is not None else 2 * max_delay
        self._entries: dict[str, _Entry] = {}

    def next(self, key: str, event_time: float) -> float:
        """Record a restart caused by the event at ``event_time``; returns the new delay."""
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
