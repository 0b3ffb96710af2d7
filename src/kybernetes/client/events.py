"""The event recorder: core/v1 Events about objects, written in the background and aggregated.

``EventRecorder.event(obj, type, reason, message)`` never blocks and never raises: it puts the event on a
bounded queue (dropping, and counting, when full) that one background task drains. The writer applies
upstream's correlator (``client-go/tools/record/events_cache.go``):

- **aggregation of similar events**: once ``max_similar`` (10) events with the same source,
  involved object, type and reason but different messages arrive within ``window`` (10 min), further ones
  are folded into one event whose message is ``(combined from similar events): <latest message>``;
- **deduplication**: an event identical to one already written (same involved object, reason, message,
  type and source) within ``window`` is not created again: the existing Event's ``count`` is incremented
  and ``lastTimestamp`` (and ``message``) updated with a merge PATCH. If that Event is gone (404), a new
  one is created.

New Events are named ``<object name>.<16 hex digits of the time in ns>`` in the object's namespace (or
``default`` for cluster-scoped objects), with ``involvedObject``, ``source`` (component, host),
``firstTimestamp``/``lastTimestamp``, ``count``, ``reportingComponent``/``reportingInstance``. The cache of
written events is an LRU of ``cache_size`` entries. Uses ``rest.py``'s ``ApiClient``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from kybernetes.api.errors import StatusError
from kybernetes.api.meta import format_time
from kybernetes.client.rest import ApiClient, ApiConnectionError

__all__ = ["EVENT_NORMAL", "EVENT_WARNING", "EventRecorder", "object_reference"]

log = logging.getLogger(__name__)

EVENT_NORMAL = "Normal"
EVENT_WARNING = "Warning"
EventType = Literal["Normal", "Warning"]
COMBINED_PREFIX = "(combined from similar events): "


def object_reference(obj: Mapping[str, Any], field_path: str | None = None) -> dict[str, Any]:
    """A core/v1 ObjectReference to ``obj`` (an object with metadata, or already a reference)."""
    md = obj.get("metadata")
    if not isinstance(md, Mapping):  # already a reference
        ref = {
            k: obj[k]
            for k in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion")
            if obj.get(k)
        }
    else:
        ref = {
            "kind": obj.get("kind", ""),
            "namespace": md.get("namespace"),
            "name": md.get("name", ""),
            "uid": md.get("uid"),
            "apiVersion": obj.get("apiVersion", ""),
            "resourceVersion": md.get("resourceVersion"),
        }
    if field_path:
        ref["fieldPath"] = field_path
    return {k: v for k, v in ref.items() if v}


@dataclass
class _Pending:
    ref: dict[str, Any]
    type: str
    reason: str
    message: str
    timestamp: float


@dataclass
class _Written:
    name: str
    namespace: str
    count: int
    first_timestamp: str
    last_seen: float


@dataclass
class _Similar:
    messages: set[str] = field(default_factory=set)
    last_seen: float = 0.0


class EventRecorder:
    """Records Events for one component (``source.component``) on one host (``source.host``)."""

    def __init__(
        self,
        api: ApiClient,
        component: str,
        host: str | None = None,
        *,
        instance: str | None = None,
        clock: Callable[[], float] = time.time,
        queue_size: int = 1000,
        window: float = 600.0,
        max_similar: int = 10,
        cache_size: int = 4096,
        write_attempts: int = 3,
    ) -> None:
        self.events = api.events
        self.component = component
        self.host = host
        self.instance = instance or host or socket.gethostname()
        self.clock = clock
        self.window = window
        self.max_similar = max_similar
        self.cache_size = cache_size
        self.write_attempts = write_attempts
        self.dropped = 0
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(maxsize=queue_size)
        self._written: OrderedDict[tuple[Any, ...], _Written] = OrderedDict()
        self._similar: OrderedDict[tuple[Any, ...], _Similar] = OrderedDict()
        self._task: asyncio.Task[None] | None = None
        self._last_name_ns = 0

    # --- recording (non-blocking) ---------------------------------------------------------------------
    def event(
        self,
        obj: Mapping[str, Any],
        type: EventType | str,
        reason: str,
        message: str,
        *,
        field_path: str | None = None,
    ) -> None:
        """Queue an Event about ``obj``; returns at once (drops it if the queue is full)."""
        if type not in (EVENT_NORMAL, EVENT_WARNING):
            log.warning("unsupported event type %r (reason %s)", type, reason)
            return
        pending = _Pending(object_reference(obj, field_path), type, reason, message, self.clock())
        try:
            self._queue.put_nowait(pending)
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("event queue full; dropping %s event %s: %s", type, reason, message)
            return
        self._ensure_started()

    def eventf(
        self, obj: Mapping[str, Any], type: EventType | str, reason: str, fmt: str, *args: Any
    ) -> None:
        self.event(obj, type, reason, fmt % args if args else fmt)

    def normal(self, obj: Mapping[str, Any], reason: str, message: str) -> None:
        self.event(obj, EVENT_NORMAL, reason, message)

    def warning(self, obj: Mapping[str, Any], reason: str, message: str) -> None:
        self.event(obj, EVENT_WARNING, reason, message)

    # --- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        self._ensure_started()

    def _ensure_started(self) -> None:
        if self._task is None or self._task.done():
            with contextlib.suppress(RuntimeError):  # no running loop: started by the next call that has one
                self._task = asyncio.get_running_loop().create_task(
                    self._run(), name=f"events:{self.component}"
                )

    async def flush(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109
        """Wait until every queued event was written (or given up); False on timeout."""
        if not self._queue.empty():
            self._ensure_started()
        try:
            async with asyncio.timeout(timeout):
                await self._queue.join()
        except TimeoutError:
            return False
        return True

    async def stop(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Write what is queued (up to ``timeout``), then stop the writer."""
        if self._task is None:
            return
        await self.flush(timeout)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
        self._task = None

    async def _run(self) -> None:
        while True:
            pending = await self._queue.get()
            try:
                await self._write(pending)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("writing event %s failed", pending.reason)
            finally:
                self._queue.task_done()

    # --- correlation ----------------------------------------------------------------------------------
    def _source_key(self, p: _Pending) -> tuple[Any, ...]:
        ref = p.ref
        return (
            self.component,
            self.host or "",
            ref.get("kind", ""),
            ref.get("namespace", ""),
            ref.get("name", ""),
            ref.get("uid", ""),
            ref.get("apiVersion", ""),
            ref.get("fieldPath", ""),
            p.type,
            p.reason,
        )

    def _aggregate(self, p: _Pending) -> str:
        """The message to record: ``p.message`` or the combined message once similar events pile up."""
        key = self._source_key(p)
        entry = self._similar.get(key)
        if entry is None or p.timestamp - entry.last_seen > self.window:
            entry = _Similar()
        entry.messages.add(p.message)
        entry.last_seen = p.timestamp
        self._similar[key] = entry
        self._similar.move_to_end(key)
        while len(self._similar) > self.cache_size:
            self._similar.popitem(last=False)
        if len(entry.messages) >= self.max_similar:
            return COMBINED_PREFIX + p.message
        return p.message

    async def _write(self, p: _Pending) -> None:
        message = self._aggregate(p)
        # dedupe on the combined message's prefix so all combined events land on one Event
        dedupe_message = COMBINED_PREFIX if message.startswith(COMBINED_PREFIX) else message
        key = (*self._source_key(p), dedupe_message)
        written = self._written.get(key)
        if written is not None and p.timestamp - written.last_seen <= self.window:
            patch = {
                "count": written.count + 1,
                "lastTimestamp": format_time(p.timestamp),
                "message": message,
            }
            try:
                await self._with_attempts(
                    lambda: self.events.patch(written.name, patch, namespace=written.namespace)
                )
            except StatusError as exc:
                if exc.code != 404:
                    raise
            else:
                written.count += 1
                written.last_seen = p.timestamp
                self._written.move_to_end(key)
                return
        created = await self._create(p, message)
        self._written[key] = _Written(
            name=created["metadata"]["name"],
            namespace=created["metadata"]["namespace"],
            count=int(created.get("count") or 1),
            first_timestamp=str(created.get("firstTimestamp") or ""),
            last_seen=p.timestamp,
        )
        self._written.move_to_end(key)
        while len(self._written) > self.cache_size:
            self._written.popitem(last=False)

    def _event_name(self, object_name: str) -> str:
        ns = max(time.time_ns(), self._last_name_ns + 1)
        self._last_name_ns = ns
        return f"{object_name}.{ns:016x}"

    async def _create(self, p: _Pending, message: str) -> dict[str, Any]:
        namespace = p.ref.get("namespace") or "default"
        ts = format_time(p.timestamp)
        source: dict[str, str] = {"component": self.component}
        if self.host:
            source["host"] = self.host
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "", "namespace": namespace},
            "involvedObject": p.ref,
            "reason": p.reason,
            "message": message,
            "type": p.type,
            "source": source,
            "firstTimestamp": ts,
            "lastTimestamp": ts,
            "count": 1,
            "reportingComponent": self.component,
            "reportingInstance": self.instance,
        }
        for _ in range(3):
            body["metadata"]["name"] = self._event_name(p.ref.get("name") or "unknown")
            try:
                result: dict[str, Any] = await self._with_attempts(lambda: self.events.create(body))
                return result
            except StatusError as exc:
                if exc.code != 409:
                    raise
        raise StatusError(409, "AlreadyExists", "could not find a free event name")

    async def _with_attempts(self, call: Callable[[], Any]) -> Any:
        delay = 0.1
        for attempt in range(1, self.write_attempts + 1):
            try:
                return await call()
            except ApiConnectionError:
                if attempt == self.write_attempts:
                    raise
            except StatusError as exc:
                if exc.code < 500 or attempt == self.write_attempts:
                    raise
            await asyncio.sleep(delay)
            delay *= 2
        return None
