"""LIST latency of a namespace holding many pods, three ways, median of several repetitions.

* ``json``  — ``GET /api/v1/namespaces/{ns}/pods`` (one PodList body).
* ``table`` — the same with kubectl's ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io``.
* ``paged`` — ``?limit=500`` then ``&continue=<token>`` until the server stops returning a token.

A timing runs from sending the request to having read the whole body (all pages for ``paged``); parsing
and checking the answer (item / row count) happen after the clock stops, so a wrong or truncated answer
is reported, not silently timed. The three modes are interleaved within each repetition so that the
machine's noise hits them alike.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

from _load import median
from _server import Api, ApiError

TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io"
PAGE_LIMIT = 500
MODES = ("json", "table", "paged")


async def _get(session: aiohttp.ClientSession, url: str, accept: str) -> bytes:
    async with session.get(url, headers={"Accept": accept}) as resp:
        data = await resp.read()
        if resp.status != 200:
            raise ApiError("GET", url, resp.status, data.decode(errors="replace"))
        return data


async def _one(session: aiohttp.ClientSession, base: str, mode: str, expected: int) -> tuple[float, int, int]:
    """Time one LIST; returns (seconds, items seen, bytes read). Raises on a wrong answer."""
    if mode == "paged":
        pages: list[bytes] = []
        token = ""
        started = time.perf_counter()
        for _ in range(expected // PAGE_LIMIT + 20):  # bounded: a few pages more than needed
            url = f"{base}?limit={PAGE_LIMIT}" + (f"&continue={quote(token)}" if token else "")
            page = await _get(session, url, "application/json")
            pages.append(page)
            token = orjson.loads(page).get("metadata", {}).get("continue", "")  # needed for the next call
            if not token:
                break
        elapsed = time.perf_counter() - started
        items = sum(len(orjson.loads(p).get("items") or []) for p in pages)
        size = sum(len(p) for p in pages)
    else:
        accept = TABLE_ACCEPT if mode == "table" else "application/json"
        started = time.perf_counter()
        data = await _get(session, base, accept)
        elapsed = time.perf_counter() - started
        doc = orjson.loads(data)
        if mode == "table":
            if doc.get("kind") != "Table":
                raise RuntimeError(f"Table requested, got kind={doc.get('kind')!r}")
            items = len(doc.get("rows") or [])
        else:
            items = len(doc.get("items") or [])
        size = len(data)
    if items != expected:
        raise RuntimeError(f"LIST ({mode}) returned {items} items, expected {expected}")
    return elapsed, items, size


async def list_timings(api: Api, namespace: str, *, expected: int, reps: int) -> dict[str, Any]:
    """``reps`` interleaved repetitions of every mode; per mode the runs, the median and the body size."""
    base = f"{api.base}/api/v1/namespaces/{namespace}/pods"
    out: dict[str, Any] = {m: {"runs_s": [], "bytes": 0, "error": ""} for m in MODES}
    session = api.new_session(pool=4, timeout=aiohttp.ClientTimeout(total=180))
    async with session:
        for mode in MODES:  # one untimed warm-up each (connection, caches, lazy imports)
            try:
                await _one(session, base, mode, expected)
            except Exception as exc:
                out[mode]["error"] = f"{type(exc).__name__}: {exc}"[:1500]
        for _ in range(reps):
            for mode in MODES:
                if out[mode]["error"]:
                    continue
                try:
                    elapsed, _, size = await _one(session, base, mode, expected)
                except Exception as exc:
                    out[mode]["error"] = f"{type(exc).__name__}: {exc}"[:1500]
                    continue
                out[mode]["runs_s"].append(round(elapsed, 4))
                out[mode]["bytes"] = size
    for mode in MODES:
        runs = out[mode]["runs_s"]
        out[mode]["median_s"] = round(median(runs), 4) if runs else None
    return out
