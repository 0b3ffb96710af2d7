"""Shared load driver and statistics for the benchmarks (no I/O of its own).

``drive`` runs ``n`` operations with ``concurrency`` closed-loop workers (each worker takes the next index
and awaits its operation, so at most ``concurrency`` are in flight) under an overall deadline, counting
failures instead of stopping at the first one, and keeps the first error message so a failing server can
be reported precisely. ``median`` and ``percentile`` are the only statistics the report uses.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    """One closed-loop run: how many operations finished, how long it took, what went wrong."""

    n: int
    concurrency: int
    elapsed_s: float = 0.0
    ok: int = 0
    errors: int = 0
    first_error: str = ""
    timed_out: bool = False
    latencies_s: list[float] = field(default_factory=list, repr=False)

    @property
    def rate(self) -> float:
        """Successful operations per second (0 when nothing succeeded)."""
        return self.ok / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def summary(self) -> dict[str, float | int | str | bool]:
        lat = sorted(self.latencies_s)
        return {
            "n": self.n,
            "concurrency": self.concurrency,
            "ok": self.ok,
            "errors": self.errors,
            "elapsed_s": round(self.elapsed_s, 4),
            "rate_per_s": round(self.rate, 1),
            "latency_p50_ms": round(percentile(lat, 50) * 1000, 2) if lat else 0.0,
            "latency_p99_ms": round(percentile(lat, 99) * 1000, 2) if lat else 0.0,
            "timed_out": self.timed_out,
            "first_error": self.first_error,
        }


async def drive(
    n: int,
    concurrency: int,
    op: Callable[[int], Awaitable[object]],
    *,
    deadline_s: float,
    max_errors: int = 50,
) -> LoadResult:
    """Run ``op(0..n-1)`` with ``concurrency`` workers; stop early after ``max_errors`` or ``deadline_s``."""
    result = LoadResult(n=n, concurrency=concurrency)
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < n and result.errors < max_errors:
            i = next_index
            next_index += 1
            started = time.perf_counter()
            try:
                await op(i)
            except Exception as exc:
                result.errors += 1
                if not result.first_error:
                    result.first_error = f"{type(exc).__name__}: {exc}"[:1500]
            else:
                result.ok += 1
                result.latencies_s.append(time.perf_counter() - started)

    started = time.perf_counter()
    tasks = [asyncio.create_task(worker()) for _ in range(max(1, min(concurrency, n)))]
    done, pending = await asyncio.wait(tasks, timeout=deadline_s)
    result.elapsed_s = time.perf_counter() - started
    if pending:
        result.timed_out = True
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        if task.exception() is not None and not result.first_error:
            result.first_error = repr(task.exception())
    return result


def median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else math.nan


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted list (nan when empty)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]
