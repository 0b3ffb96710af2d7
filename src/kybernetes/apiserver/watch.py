"""Watch fan-out: one store watch per resource prefix, shared by every client watcher.

A ``WatchHub`` lazily opens a single ``Store.watch`` for its prefix, decodes each event once and hands
it to every subscriber's queue. It keeps a ring buffer of recent events so a watcher that starts from a
recent resourceVersion is replayed from memory; older starting points fall back to a direct store watch
(which answers ``CompactedError`` -> 410 Expired when the history is gone).

Registration and replay happen synchronously on the event loop, between two dispatches, so a subscriber
sees every event after its starting revision exactly once and in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from kybernetes.storage import Store, WatchEvent

log = logging.getLogger(__name__)

BUFFER_EVENTS = 4096
SUBSCRIBER_QUEUE_LIMIT = 20000


@dataclass(frozen=True, slots=True)
class ObjectEvent:
    """A decoded store event: ``type`` ADDED/MODIFIED/DELETED, the object, and its previous state."""

    type: str
    obj: dict[str, Any]
    prev: dict[str, Any] | None
    revision: int


def decode_event(event: WatchEvent) -> ObjectEvent:
    obj = orjson.loads(event.kv.value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(event.kv.mod_revision)
    prev = None
    if event.prev_kv is not None:
        prev = orjson.loads(event.prev_kv.value)
        prev.setdefault("metadata", {})["resourceVersion"] = str(event.prev_kv.mod_revision)
    if event.type == "DELETE":
        return ObjectEvent("DELETED", obj, prev, event.kv.mod_revision)
    kind = "ADDED" if event.kv.create_revision == event.kv.mod_revision else "MODIFIED"
    return ObjectEvent(kind, obj, prev, event.kv.mod_revision)


class WatchClosed(Exception):
    """The subscriber fell too far behind and was dropped; the client should re-watch."""


class _Subscriber:
    __slots__ = ("closed", "queue")

    def __init__(self) -> None:
        self.queue: asyncio.Queue[ObjectEvent | None] = asyncio.Queue()
        self.closed = False

    def push(self, event: ObjectEvent) -> None:
        if self.closed:
            return
        if self.queue.qsize() >= SUBSCRIBER_QUEUE_LIMIT:
            self.closed = True
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(event)


class WatchHub:
    """The fan-out for one key prefix."""

    def __init__(self, store: Store, prefix: str) -> None:
        self._store = store
        self._prefix = prefix
        self._buffer: deque[ObjectEvent] = deque(maxlen=BUFFER_EVENTS)
        self._subscribers: set[_Subscriber] = set()
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._start_lock = asyncio.Lock()
        # Every event with revision > _start_rev has been (or will be) seen by the hub.
        self._start_rev = 0
        self._last_rev = 0

    async def _ensure_started(self) -> None:
        # The lock makes concurrent first watchers share one store watch (never one each).
        async with self._start_lock:
            if self._task is None:
                self._start_rev = await self._store.current_revision()
                self._last_rev = self._start_rev
                self._task = asyncio.create_task(self._run(), name=f"watch-hub:{self._prefix}")
        await self._ready.wait()

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            try:
                stream = self._store.watch(self._prefix, after_revision=self._last_rev)
                self._ready.set()
                async for raw in stream:
                    event = decode_event(raw)
                    self._last_rev = event.revision
                    self._buffer.append(event)
                    for sub in tuple(self._subscribers):
                        sub.push(event)
                    backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception:
                # History the hub missed cannot be replayed: drop every subscriber so clients re-list.
                log.exception("watch hub %s failed; restarting", self._prefix)
                self._ready.set()
                self._buffer.clear()
                for sub in tuple(self._subscribers):
                    sub.closed = True
                    sub.queue.put_nowait(None)
                self._subscribers.clear()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                self._start_rev = self._last_rev = await self._store.current_revision()

    def _oldest_replayable(self) -> int:
        """Smallest ``after`` revision the hub can serve from memory."""
        if len(self._buffer) == self._buffer.maxlen and self._buffer:
            return self._buffer[0].revision - 1
        return self._start_rev

    async def events(self, after_revision: int) -> AsyncIterator[ObjectEvent]:
        """Every event with revision > ``after_revision``, in order, until the caller stops."""
        await self._ensure_started()
        if after_revision < self._oldest_replayable():
            async for raw in self._direct(after_revision):
                yield raw
            return
        sub = _Subscriber()
        for event in self._buffer:
            if event.revision > after_revision:
                sub.queue.put_nowait(event)
        self._subscribers.add(sub)
        try:
            while True:
                item = await sub.queue.get()
                if item is None:
                    raise WatchClosed(self._prefix)
                yield item
        finally:
            self._subscribers.discard(sub)

    async def _direct(self, after_revision: int) -> AsyncIterator[ObjectEvent]:
        stream = self._store.watch(self._prefix, after_revision=after_revision)
        try:
            async for raw in stream:
                yield decode_event(raw)
        finally:
            aclose: Callable[[], Any] | None = getattr(stream, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        for sub in tuple(self._subscribers):
            sub.closed = True
            sub.queue.put_nowait(None)
        self._subscribers.clear()


class WatchHubs:
    """One hub per prefix, created on first use."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._hubs: dict[str, WatchHub] = {}

    def hub(self, prefix: str) -> WatchHub:
        hub = self._hubs.get(prefix)
        if hub is None:
            hub = self._hubs[prefix] = WatchHub(self._store, prefix)
        return hub

    async def close(self) -> None:
        for hub in self._hubs.values():
            await hub.close()
        self._hubs.clear()
