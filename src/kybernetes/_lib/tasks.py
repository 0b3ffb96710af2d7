"""Guarded background tasks: every task has an owner that keeps it, logs its failure and stops it.

asyncio keeps only a weak reference to a running task, so a ``create_task`` whose result nobody keeps can
be garbage-collected mid-flight, and its exception is reported (if ever) only as "Task exception was never
retrieved" at interpreter exit. ``TaskOwner`` is the one place background work is started from:

- ``spawn(coro, name=...)`` starts the task and keeps it until it finishes;
- a task that ends with an exception is logged at once (with its traceback) on the owner's logger;
  a cancelled task is not a failure;
- ``close(timeout)`` cancels whatever still runs and waits for it (bounded), so shutdown leaves nothing
  behind; spawning on a closed owner is refused (the coroutine is closed, not leaked).

``log_task_failure`` is the same failure report as a done-callback, for tasks someone else keeps.
Like an ``asyncio.TaskGroup`` without its all-or-nothing rule: one failed task does not cancel the others,
which suits long-lived components whose helpers come and go.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["TaskOwner", "log_task_failure"]

T = TypeVar("T")

_log = logging.getLogger(__name__)


def log_task_failure(task: asyncio.Task[Any], logger: logging.Logger | None = None) -> None:
    """Log ``task``'s exception (done-callback); nothing for a task that succeeded or was cancelled."""
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        (logger or _log).error("task %s failed", task.get_name(), exc_info=exc)


class TaskOwner:
    """Keeps background tasks alive, logs the ones that fail, cancels the rest on ``close``."""

    def __init__(self, name: str, *, logger: logging.Logger | None = None) -> None:
        self.name = name
        self._log = logger or _log
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False
        self.failures = 0  # tasks that ended with an exception (for tests and health)

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str | None = None) -> asyncio.Task[T]:
        """Start ``coro`` as a task this owner keeps; refused (RuntimeError) once closed."""
        if self._closed:
            coro.close()  # never started: close it so it is not reported as "never awaited"
            raise RuntimeError(f"{self.name}: closed; cannot start {name or coro!r}")
        task = asyncio.get_running_loop().create_task(coro, name=name or f"{self.name}:{len(self._tasks)}")
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.failures += 1
            log_task_failure(task, self._log)

    @property
    def tasks(self) -> frozenset[asyncio.Task[Any]]:
        """The tasks still running."""
        return frozenset(self._tasks)

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return len(self._tasks)

    async def close(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - a bound on shutdown, not an API timeout
        """Cancel every running task and wait up to ``timeout`` seconds for them to end."""
        self._closed = True
        pending = set(self._tasks)
        for task in pending:
            task.cancel()
        if not pending:
            return
        done, still = await asyncio.wait(pending, timeout=timeout)
        for task in done:
            # retrieve the outcome so nothing is reported later as "never retrieved"; failures were logged
            with contextlib.suppress(asyncio.CancelledError, Exception):
                task.result()
        for task in still:
            self._log.warning("%s: task %s did not stop within %ss", self.name, task.get_name(), timeout)

    async def __aenter__(self) -> TaskOwner:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
