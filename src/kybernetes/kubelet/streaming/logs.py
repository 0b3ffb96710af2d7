"""Serving a container's CRI-format log file the way ``kubectl logs`` expects it.

The file format and its reader live in ``kubelet/runtimes/crilog.py`` (``read_log``: tail, since,
follow across rotation; ``format_record``: the CRI prefix stripped, the timestamp first with
``timestamps=true``). This module adds what the HTTP endpoint needs on top: parsing the
``/containerLogs`` query (``PodLogOptions`` names), ``limitBytes``, batching records into few writes,
and ending a ``follow`` once the container is no longer running (as the kubelet does).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kybernetes.kubelet.runtimes.crilog import LogRecord, format_record, parse_timestamp, read_log

POLL_SECONDS = 0.1
STATUS_EVERY_SECONDS = 0.5
BATCH_BYTES = 64 * 1024


class LogOptionsError(ValueError):
    """A query parameter of a log request is invalid (answered 400)."""


@dataclass(frozen=True)
class LogOptions:
    follow: bool = False
    previous: bool = False
    timestamps: bool = False
    tail_lines: int | None = None  # None: the whole file
    since_ns: int | None = None  # epoch nanoseconds
    limit_bytes: int | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, str], *, now: float | None = None) -> LogOptions:
        """Parse the kubelet's ``/containerLogs`` query (the same names as ``PodLogOptions``)."""

        def flag(name: str) -> bool:
            return query.get(name, "").lower() in ("true", "1")

        def number(name: str, minimum: int) -> int | None:
            raw = query.get(name)
            if raw is None or raw == "":
                return None
            try:
                value = int(raw)
            except ValueError:
                raise LogOptionsError(f"{name}: invalid value {raw!r}: must be an integer") from None
            if value < minimum:
                raise LogOptionsError(f"{name}: Invalid value: {value}: must be at least {minimum}")
            return value

        tail = number("tailLines", -1)
        since_seconds = number("sinceSeconds", 1)
        since_time = query.get("sinceTime")
        if since_seconds is not None and since_time:
            raise LogOptionsError("at most one of `sinceTime` or `sinceSeconds` may be specified")
        since_ns: int | None = None
        if since_seconds is not None:
            since_ns = int(((now if now is not None else time.time()) - since_seconds) * 1_000_000_000)
        elif since_time:
            try:
                since_ns = parse_timestamp(since_time)
            except ValueError as exc:
                raise LogOptionsError(f"sinceTime: {exc}") from None
        return cls(
            follow=flag("follow"),
            previous=flag("previous"),
            timestamps=flag("timestamps"),
            tail_lines=None if tail is None or tail < 0 else tail,
            since_ns=since_ns,
            limit_bytes=number("limitBytes", 1),
        )


async def stream_log(
    path: str | Path,
    write: Callable[[bytes], Awaitable[None]],
    options: LogOptions,
    *,
    still_running: Callable[[], Awaitable[bool]] | None = None,
    poll: float = POLL_SECONDS,
) -> None:
    """Write the log at ``path`` through ``write`` as ``options`` asks.

    With ``options.follow``, keep reading until ``still_running()`` turns False or raises (then what is
    left is drained) or, without ``still_running``, until cancelled.
    """
    stop = asyncio.Event()
    records: asyncio.Queue[LogRecord | None] = asyncio.Queue(maxsize=4096)

    async def produce() -> None:
        try:
            async for record in read_log(
                path,
                since=None if options.since_ns is None else options.since_ns / 1e9,
                tail=options.tail_lines,
                follow=options.follow,
                stop=stop if still_running is not None else None,
                poll_interval=poll,
            ):
                await records.put(record)
        finally:
            await records.put(None)

    async def watch() -> None:
        assert still_running is not None
        try:
            while True:
                if not await still_running():
                    return
                await asyncio.sleep(STATUS_EVERY_SECONDS)
        finally:
            stop.set()

    tasks = [asyncio.create_task(produce())]
    if options.follow and still_running is not None:
        tasks.append(asyncio.create_task(watch()))
    remaining = options.limit_bytes
    try:
        done = False
        while not done:
            batch: list[bytes] = []
            size = 0
            item = await records.get()
            while True:
                if item is None:
                    done = True
                    break
                piece = format_record(item, timestamps=options.timestamps)
                if remaining is not None:
                    piece = piece[:remaining]
                    remaining -= len(piece)
                batch.append(piece)
                size += len(piece)
                if (remaining is not None and remaining <= 0) or size >= BATCH_BYTES or records.empty():
                    break
                item = records.get_nowait()
            if batch:
                await write(b"".join(batch))
            if remaining is not None and remaining <= 0:
                break
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
