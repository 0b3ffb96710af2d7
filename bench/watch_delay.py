"""Watch event delay with many concurrent watchers, and a check that none of them lost an event.

Setup: ``watchers`` streaming ``GET /api/v1/namespaces/{ns}/pods?watch=true&resourceVersion=<rv>`` (rv
read just before, so no event can fall between the read and the watch), all connected before writing
starts. Then a paced writer issues ``rate`` writes per second for ``duration_s``: even steps create a pod
``w-<k>``, odd steps merge-patch the pod created one step earlier (ADDED and MODIFIED events). Every write
stamps the annotation ``bench.kybernetes.io/sent`` with ``time.time()`` taken just before sending, and its
acknowledged resourceVersion and acknowledge time are kept.

Watchers do nothing but record ``(time.time(), raw line)``; all parsing happens after the run so the
client's own work does not pile onto the delays. Reported per event and watcher: ``arrival - sent``
(what a controller experiences after a client's write) and ``arrival - acknowledged`` (how long after the
writer saw 201/200 the watcher had it; negative when the event beat the HTTP response). An event is
identified by its resourceVersion; every watcher must see every acknowledged write exactly once.

By default all watchers connect at once (the harder case for the server). ``prime=True`` connects one
watcher first and waits a second before the others, which sidesteps races in lazily started server-side
fan-out (see the Performance notes in README.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from _load import percentile
from _server import Api, ApiError, pod_body

STAMP = "bench.kybernetes.io/sent"


@dataclass
class _Write:
    name: str
    sent: float
    acked: float
    rv: str
    latency_s: float


@dataclass
class _Watcher:
    lines: list[tuple[float, bytes]] = field(default_factory=list)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    error: str = ""


async def _watch(session: aiohttp.ClientSession, url: str, w: _Watcher) -> None:
    try:
        async with session.get(url) as resp:
            if resp.status != 200:
                body = await resp.read()
                w.error = f"GET {url} -> {resp.status}: {body[:500].decode(errors='replace')}"
                return
            w.connected.set()
            async for line in resp.content:
                w.lines.append((time.time(), line))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        w.error = w.error or f"{type(exc).__name__}: {exc}"
    finally:
        w.connected.set()


async def _current_rv(api: Api, namespace: str) -> str:
    _, data = await api.request("GET", f"/api/v1/namespaces/{namespace}/pods?limit=1")
    return str(orjson.loads(data)["metadata"]["resourceVersion"])


def _stats_ms(values: list[float]) -> dict[str, float | None]:
    s = sorted(values)
    if not s:
        return {"p50_ms": None, "p90_ms": None, "p99_ms": None, "max_ms": None}
    return {
        "p50_ms": round(percentile(s, 50) * 1000, 2),
        "p90_ms": round(percentile(s, 90) * 1000, 2),
        "p99_ms": round(percentile(s, 99) * 1000, 2),
        "max_ms": round(s[-1] * 1000, 2),
    }


async def watch_delay(
    api: Api,
    namespace: str,
    *,
    watchers: int,
    rate: float,
    duration_s: float,
    grace_s: float = 20.0,
    connect_timeout_s: float = 60.0,
    prime: bool = False,
) -> dict[str, Any]:
    """Run the scenario once; returns delays, write latency and loss counts (see module docstring)."""
    total = max(2, int(rate * duration_s))
    path = f"/api/v1/namespaces/{namespace}/pods"
    rv0 = await _current_rv(api, namespace)
    watch_timeout = int(duration_s + grace_s + connect_timeout_s + 60)
    url = f"{api.base}{path}?watch=true&resourceVersion={rv0}&timeoutSeconds={watch_timeout}"
    wsession = api.new_session(
        pool=watchers + 4, timeout=aiohttp.ClientTimeout(total=None, connect=30, sock_read=None)
    )
    state = [_Watcher() for _ in range(watchers)]
    writes: list[_Write] = []
    write_errors: list[str] = []
    out: dict[str, Any] = {
        "watchers": watchers,
        "rate_per_s": rate,
        "duration_s": duration_s,
        "primed": prime,
    }
    async with wsession:
        tasks: list[asyncio.Task[None]] = []
        try:
            if prime:  # one watcher first, so the server's per-prefix fan-out exists before the rest arrive
                tasks.append(asyncio.create_task(_watch(wsession, url, state[0])))
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(connect_timeout_s):
                        await state[0].connected.wait()
                await asyncio.sleep(1.0)
            tasks += [asyncio.create_task(_watch(wsession, url, w)) for w in state[len(tasks) :]]
            connect_started = time.perf_counter()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(connect_timeout_s):
                    await asyncio.gather(*(w.connected.wait() for w in state))
            out["connect_all_s"] = round(time.perf_counter() - connect_started, 3)
            out["watchers_connected"] = sum(1 for w in state if w.connected.is_set() and not w.error)
            created: dict[int, asyncio.Future[bool]] = {}
            in_flight = asyncio.Semaphore(256)

            async def write(step: int) -> None:
                pod = step // 2
                name = f"w-{pod}"
                try:
                    if step % 2 == 0:
                        sent = time.time()
                        body = orjson.dumps(pod_body(name, {STAMP: repr(sent)}))
                        _, data = await api.request("POST", path, body=body, ok=(200, 201))
                    else:
                        if not await created[pod]:
                            return
                        sent = time.time()
                        patch = orjson.dumps({"metadata": {"annotations": {STAMP: repr(sent)}}})
                        headers = {"Content-Type": "application/merge-patch+json"}
                        async with api.s.patch(api.base + f"{path}/{name}", data=patch, headers=headers) as r:
                            data = await r.read()
                            if r.status != 200:
                                raise ApiError(
                                    "PATCH", f"{path}/{name}", r.status, data.decode(errors="replace")
                                )
                    acked = time.time()
                    rv = str(orjson.loads(data)["metadata"]["resourceVersion"])
                    writes.append(_Write(name, sent, acked, rv, acked - sent))
                    if step % 2 == 0:
                        created[pod].set_result(True)
                except Exception as exc:
                    write_errors.append(f"{type(exc).__name__}: {exc}"[:1500])
                    if step % 2 == 0 and not created[pod].done():
                        created[pod].set_result(False)
                finally:
                    in_flight.release()

            loop = asyncio.get_running_loop()
            write_tasks: list[asyncio.Task[None]] = []
            started = time.perf_counter()
            for step in range(total):
                target = started + step / rate
                delay = target - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                if time.perf_counter() - started > duration_s * 3 + 30:
                    write_errors.append(f"writer fell behind; stopped after {step} of {total} writes")
                    break
                if step % 2 == 0:
                    created[step // 2] = loop.create_future()
                await in_flight.acquire()
                write_tasks.append(asyncio.create_task(write(step)))
            if write_tasks:
                _, stuck = await asyncio.wait(write_tasks, timeout=60)
                for task in stuck:
                    task.cancel()
                await asyncio.gather(*stuck, return_exceptions=True)
                if stuck:
                    write_errors.append(f"{len(stuck)} writes still unanswered 60 s after the last was sent")
            out["write_elapsed_s"] = round(time.perf_counter() - started, 3)
            # Wait (bounded) until every watcher holds at least one line per acknowledged write.
            expected = len(writes)
            deadline = time.monotonic() + grace_s
            while time.monotonic() < deadline:
                if all(len(w.lines) >= expected or w.error for w in state):
                    break
                await asyncio.sleep(0.05)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    by_rv = {w.rv: w for w in writes}
    send_delays: list[float] = []
    ack_delays: list[float] = []
    lost_total = 0
    dup_total = 0
    unexpected = 0
    complete = 0
    watcher_errors = [w.error for w in state if w.error]
    for w in state:
        seen: set[str] = set()
        for arrival, line in w.lines:
            line = line.strip()
            if not line:
                continue
            event = orjson.loads(line)
            obj = event.get("object") or {}
            rv = str((obj.get("metadata") or {}).get("resourceVersion", ""))
            write = by_rv.get(rv)
            if write is None or event.get("type") not in ("ADDED", "MODIFIED"):
                unexpected += 1
                continue
            if rv in seen:
                dup_total += 1
                continue
            seen.add(rv)
            stamp = float(((obj.get("metadata") or {}).get("annotations") or {}).get(STAMP, write.sent))
            send_delays.append(arrival - stamp)
            ack_delays.append(arrival - write.acked)
        missing = len(by_rv) - len(seen)
        lost_total += missing
        complete += missing == 0
    out.update(
        {
            "writes_ok": len(writes),
            "writes_planned": total,
            "write_errors": len(write_errors),
            "first_write_error": write_errors[0] if write_errors else "",
            "achieved_rate_per_s": round(len(writes) / out["write_elapsed_s"], 1) if writes else 0.0,
            "events_expected_per_watcher": len(by_rv),
            "events_received": len(send_delays),
            "watchers_complete": complete,
            "events_lost": lost_total,
            "events_duplicated": dup_total,
            "unexpected_lines": unexpected,
            "watcher_errors": len(watcher_errors),
            "first_watcher_error": watcher_errors[0] if watcher_errors else "",
            "delay_since_send": _stats_ms(send_delays),
            "delay_since_ack": _stats_ms(ack_delays),
            "write_latency": _stats_ms([w.latency_s for w in writes]),
        }
    )
    return out
