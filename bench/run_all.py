"""Run every benchmark side by side in ONE run and print one report: ``make bench`` (never part of tests).

Usage::

    .venv/bin/python bench/run_all.py [--quick] [--json out.json] [--only writes,list,watch]

What it starts (all on 127.0.0.1, all stopped by pid at the end): one etcd (``_server.Etcd``) and two
``kyb server`` processes, one on its embedded SQLite store and one on that etcd (key prefix
``/kyb-bench``). Then, in order:

1. writes — Pod creates/s through the API on both servers, next to the ceilings measured from the same
   client process at the same concurrency: raw etcd puts (aetcd gRPC, JSON gateway), ``EtcdStore.create``
   and ``SQLiteStore.create`` (``api_writes``, ``etcd_raw``). The variants are interleaved within each
   repetition so the shared machine's noise hits them alike; the report shows medians of the repetitions
   and the ratios API/raw.
2. list — LIST latency of a namespace holding many pods as JSON, as kubectl's Table and paginated by 500
   (``list_latency``), median of several repetitions, on both servers.
3. watch — event delay to many concurrent watchers under a steady write rate, and lost-event check
   (``watch_delay``), on both servers.

Each phase catches its own failures and reports them (with the request and response when the server
answered badly) so one broken endpoint does not hide the other figures. ``--json`` writes the raw numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

import api_writes
import etcd_raw
import list_latency
import watch_delay
from _load import LoadResult, median
from _server import ETCD_BINARY, Api, Etcd, Kyb, cpu_seconds, etcd_version

REPO = Path(__file__).resolve().parent.parent
FALLBACK_VALUE = orjson.dumps(
    {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": "p-0",
            "namespace": "bench",
            "uid": "00000000-0000-0000-0000-000000000000",
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "Always"},
        "status": {"phase": "Pending"},
    }
)


@dataclass(frozen=True)
class Config:
    writes_n: int
    writes_reps: int
    concurrency: int
    list_pods: int
    list_reps: int
    watchers: int
    watch_rate: float
    watch_duration_s: float
    deadline_s: float

    @classmethod
    def full(cls, concurrency: int) -> Config:
        return cls(2000, 5, concurrency, 10_000, 5, 100, 50.0, 10.0, 600.0)

    @classmethod
    def quick(cls, concurrency: int) -> Config:
        return cls(400, 3, concurrency, 1000, 3, 20, 50.0, 3.0, 120.0)


class Bench:
    """Owns the processes and the results of one run."""

    def __init__(self, cfg: Config, phases: set[str], use_etcd: bool, *, watch_prime: bool = False) -> None:
        self.cfg = cfg
        self.watch_prime = watch_prime
        self.phases = phases
        self.use_etcd = use_etcd
        self.etcd: Etcd | None = None
        self.servers: dict[str, Kyb] = {}
        self.results: dict[str, Any] = {"writes": {}, "list": {}, "watch": {}, "errors": []}
        self.value = FALLBACK_VALUE

    # --- processes -----------------------------------------------------------------------------------
    def start(self) -> None:
        if self.use_etcd:
            self.etcd = Etcd().start()
        self.servers["sqlite"] = Kyb("sqlite").start()
        if self.etcd is not None:
            self.servers["etcd"] = Kyb("etcd", f"etcd://{self.etcd.endpoint}/kyb-bench").start()

    def stop(self) -> None:
        for kyb in self.servers.values():
            kyb.cleanup()
        if self.etcd is not None:
            self.etcd.stop()

    def error(self, where: str, exc: BaseException | str, server: str | None = None) -> None:
        text = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        if server in self.servers and ("-> 5" in text or "InternalError" in text):
            text += f" [server log: {self._last_exception(server)}]"
        self.results["errors"].append({"where": where, "error": text[:2000]})
        print(f"  !! {where}: {text[:600]}", flush=True)

    def _last_exception(self, server: str) -> str:
        """The last exception line of a server's log (what a 500 hides from the client)."""
        lines = self.servers[server].log_tail(20_000).splitlines()
        for line in reversed(lines):
            if (
                line
                and not line.startswith((" ", "Traceback", "2"))
                and ("Error" in line or "Exception" in line)
            ):
                return line.strip()[:400]
        return "no exception in log"

    # --- phases --------------------------------------------------------------------------------------
    async def run(self) -> None:
        apis = {name: Api(kyb, pool=self.cfg.concurrency + 8) for name, kyb in self.servers.items()}
        async with contextlib.AsyncExitStack() as stack:
            for api in apis.values():
                await stack.enter_async_context(api)
            for name, api in apis.items():
                await api.wait_ready()
                await self._warm_up(name, api)
            if "writes" in self.phases:
                await self.writes(apis)
            if "list" in self.phases:
                for name, api in apis.items():
                    await self.list_phase(name, api)
            if "watch" in self.phases:
                for name, api in apis.items():
                    await self.watch_phase(name, api)

    async def _warm_up(self, name: str, api: Api) -> None:
        """Untimed: namespaces and a few creates (TLS sessions, lazy imports, schema loading)."""
        try:
            await api.ensure_namespace("bench-warmup")
            result, extra = await api_writes.create_pods(
                api, "bench-warmup", prefix="p-", n=64, concurrency=self.cfg.concurrency, deadline_s=60
            )
            if result.errors:
                self.error(f"warm-up creates on {name}", result.first_error, name)
            if extra.get("sample"):
                self.value = extra["sample"]
        except Exception as exc:
            self.error(f"warm-up on {name}", exc, name)

    async def writes(self, apis: dict[str, Api]) -> None:
        cfg = self.cfg
        print(f"\n== writes: {cfg.writes_n} creates x {cfg.writes_reps} reps, concurrency {cfg.concurrency}")
        runs: dict[str, list[dict[str, Any]]] = {}
        stamp = int(time.time())
        for rep in range(cfg.writes_reps):
            for variant, coro_factory in self._write_variants(apis, rep, stamp):
                try:
                    result, extra = await coro_factory()
                except Exception as exc:
                    self.error(f"writes/{variant} rep {rep}", exc, variant.removeprefix("api-"))
                    continue
                if result.errors or result.timed_out:
                    self.error(
                        f"writes/{variant} rep {rep} ({result.errors} errors)",
                        result.first_error or "timed out",
                        variant.removeprefix("api-"),
                    )
                row = {**result.summary(), **extra}
                row.pop("sample", None)
                runs.setdefault(variant, []).append(row)
                print(
                    f"  rep {rep} {variant:<22} {result.rate:9.1f}/s  ok={result.ok} err={result.errors}",
                    flush=True,
                )
        for variant, rows in runs.items():
            rates = [r["rate_per_s"] for r in rows if r["ok"] and not r["errors"]]
            self.results["writes"][variant] = {
                "median_per_s": round(median(rates), 1) if rates else None,
                "runs": rows,
            }

    def _write_variants(self, apis: dict[str, Api], rep: int, stamp: int) -> list[tuple[str, Any]]:
        """The interleaved write variants of one repetition, as (name, zero-argument coroutine factory)."""
        cfg = self.cfg
        n, c, deadline = cfg.writes_n, cfg.concurrency, cfg.deadline_s
        me = os.getpid()
        etcd_pid = self.etcd.pid if self.etcd is not None else None
        out: list[tuple[str, Any]] = []
        for name, api in apis.items():
            pids = {"server": self.servers[name].pid, "client": me}
            if name == "etcd":
                pids["etcd"] = etcd_pid

            async def api_run(api: Api = api, pids: dict[str, int | None] = pids) -> tuple[LoadResult, Any]:
                ns = f"bench-w{rep}"
                await api.ensure_namespace(ns)
                return await api_writes.create_pods(
                    api, ns, prefix="p-", n=n, concurrency=c, deadline_s=deadline, cpu_pids=pids
                )

            out.append((f"api-{name}", api_run))

        async def sampled(coro: Any, pids: dict[str, int | None]) -> tuple[LoadResult, Any]:
            before = {k: cpu_seconds(pid) for k, pid in pids.items()}
            result = await coro
            return result, {"cpu_s": {k: round(cpu_seconds(pid) - before[k], 3) for k, pid in pids.items()}}

        def sqlite_raw() -> Any:
            coro = etcd_raw.sqlite_store_creates(value=self.value, n=n, concurrency=c, deadline_s=deadline)
            return sampled(coro, {"client": me})

        out.append(("sqlite-store-create", sqlite_raw))
        if self.etcd is not None:
            endpoint = self.etcd.endpoint
            for variant, fn in (
                ("etcd-store-create", etcd_raw.etcd_store_creates),
                ("etcd-put-aetcd", etcd_raw.etcd_aetcd_puts),
                ("etcd-put-gateway", etcd_raw.etcd_gateway_puts),
            ):

                def raw(fn: Any = fn, variant: str = variant) -> Any:
                    prefix = f"/raw-{stamp}/{variant}/{rep}/"
                    coro = fn(
                        endpoint, prefix=prefix, value=self.value, n=n, concurrency=c, deadline_s=deadline
                    )
                    return sampled(coro, {"client": me, "etcd": etcd_pid})

                out.append((variant, raw))
        return out

    async def list_phase(self, name: str, api: Api) -> None:
        cfg = self.cfg
        ns = "bench-list"
        print(f"\n== list on {name}: {cfg.list_pods} pods, {cfg.list_reps} reps", flush=True)
        entry: dict[str, Any] = {"pods": cfg.list_pods}
        self.results["list"][name] = entry
        try:
            await api.ensure_namespace(ns)
            fill = await api_writes.populate(
                api, ns, count=cfg.list_pods, concurrency=cfg.concurrency, deadline_s=cfg.deadline_s
            )
            entry["populate"] = fill.summary()
            print(f"  populated: {fill.ok} ok, {fill.errors} errors, {fill.rate:.1f} creates/s", flush=True)
            if fill.errors or fill.timed_out:
                self.error(f"list/{name} populate", fill.first_error or "timed out", name)
                return
            timings = await list_latency.list_timings(api, ns, expected=cfg.list_pods, reps=cfg.list_reps)
            entry.update(timings)
            for mode in list_latency.MODES:
                t = timings[mode]
                if t["error"]:
                    self.error(f"list/{name}/{mode}", t["error"], name)
                else:
                    print(
                        f"  {mode:<6} median {t['median_s'] * 1000:8.1f} ms  runs {t['runs_s']}", flush=True
                    )
        except Exception as exc:
            self.error(f"list/{name}", exc, name)

    async def watch_phase(self, name: str, api: Api) -> None:
        cfg = self.cfg
        ns = "bench-watch"
        print(
            f"\n== watch on {name}: {cfg.watchers} watchers, {cfg.watch_rate:g} writes/s for "
            f"{cfg.watch_duration_s:g} s",
            flush=True,
        )
        try:
            await api.ensure_namespace(ns)
            out = await watch_delay.watch_delay(
                api,
                ns,
                watchers=cfg.watchers,
                rate=cfg.watch_rate,
                duration_s=cfg.watch_duration_s,
                prime=self.watch_prime,
            )
        except Exception as exc:
            self.error(f"watch/{name}", exc, name)
            return
        self.results["watch"][name] = out
        if out["events_lost"] or out["events_duplicated"]:
            self.error(
                f"watch/{name}",
                f"{out['events_lost']} events lost and {out['events_duplicated']} delivered twice or more over "
                f"{cfg.watchers} watchers ({out['watchers_complete']} complete)",
            )
        for key in ("first_write_error", "first_watcher_error"):
            if out.get(key):
                self.error(f"watch/{name} {key}", out[key], name)
        d = out["delay_since_send"]
        print(
            f"  writes {out['writes_ok']}/{out['writes_planned']}, complete watchers "
            f"{out['watchers_complete']}/{cfg.watchers}, lost {out['events_lost']}, "
            f"delay p50 {d['p50_ms']} ms p99 {d['p99_ms']} ms",
            flush=True,
        )


# --- report --------------------------------------------------------------------------------------------
def _fmt(value: float | None, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def ratios(results: dict[str, Any]) -> dict[str, float | None]:
    w = {k: v.get("median_per_s") for k, v in results["writes"].items()}
    return {
        "api_etcd / etcd_put_aetcd": _ratio(w.get("api-etcd"), w.get("etcd-put-aetcd")),
        "api_etcd / etcd_put_gateway": _ratio(w.get("api-etcd"), w.get("etcd-put-gateway")),
        "api_etcd / etcd_store_create": _ratio(w.get("api-etcd"), w.get("etcd-store-create")),
        "api_sqlite / sqlite_store_create": _ratio(w.get("api-sqlite"), w.get("sqlite-store-create")),
        "api_sqlite / api_etcd": _ratio(w.get("api-sqlite"), w.get("api-etcd")),
    }


def report(results: dict[str, Any]) -> str:
    lines: list[str] = []
    meta = results["meta"]
    lines.append("")
    lines.append(
        f"kybernetes benchmarks — {meta['date']} — {meta['cpus']} CPUs (shared), load before "
        f"{meta['loadavg_before']}, python {meta['python']}, etcd {meta['etcd']}, commit {meta['commit']}"
        + (" — QUICK" if meta["quick"] else "")
    )
    cfg = meta["config"]
    if results["writes"]:
        lines.append("")
        lines.append(
            f"Writes: {cfg['writes_n']} per run, concurrency {cfg['concurrency']}, "
            f"median of {cfg['writes_reps']} (value {meta['value_bytes']} B)"
        )
        lines.append(
            f"  {'variant':<22}{'median/s':>10}  {'runs/s':<34}{'p50 ms':>8}{'p99 ms':>8}  CPU ms per op (median)"
        )
        for variant, entry in results["writes"].items():
            rows = entry["runs"]
            runs = ", ".join(f"{r['rate_per_s']:.0f}" for r in rows)
            p50 = median([r["latency_p50_ms"] for r in rows])
            p99 = median([r["latency_p99_ms"] for r in rows])
            cpu: dict[str, list[float]] = {}
            for r in rows:
                for proc, secs in (r.get("cpu_s") or {}).items():
                    if r["ok"]:
                        cpu.setdefault(proc, []).append(secs * 1000 / r["ok"])
            cpu_text = " ".join(f"{p}={median(v):.2f}" for p, v in cpu.items())
            errors = sum(r["errors"] for r in rows)
            lines.append(
                f"  {variant:<22}{_fmt(entry['median_per_s']):>10}  {runs:<34}{p50:>8.1f}{p99:>8.1f}  "
                f"{cpu_text}" + (f" errors={errors}" if errors else "")
            )
        lines.append("  ratios (medians):")
        for name, value in results["ratios"].items():
            lines.append(f"    {name:<36}{_fmt(value, '.3f'):>8}")
    if results["list"]:
        lines.append("")
        lines.append(f"LIST of {cfg['list_pods']} pods, median of {cfg['list_reps']} (ms; body MB)")
        lines.append(f"  {'backend':<8}{'mode':<8}{'median ms':>10}  {'MB':>6}  runs ms")
        for backend, entry in results["list"].items():
            for mode in list_latency.MODES:
                t = entry.get(mode)
                if not t:
                    continue
                med = t.get("median_s")
                runs = ", ".join(f"{r * 1000:.0f}" for r in t["runs_s"])
                lines.append(
                    f"  {backend:<8}{mode:<8}{_fmt(med * 1000 if med else None):>10}  "
                    f"{t['bytes'] / 1e6:6.2f}  {runs}" + (f"  ERROR {t['error'][:200]}" if t["error"] else "")
                )
            pop = entry.get("populate")
            if pop:
                lines.append(
                    f"  {backend:<8}(populate: {pop['rate_per_s']:.0f} creates/s, {pop['errors']} errors)"
                )
    if results["watch"]:
        lines.append("")
        lines.append(
            f"Watch: {cfg['watchers']} watchers, {cfg['watch_rate']:g} writes/s (create+patch) for "
            f"{cfg['watch_duration_s']:g} s; delay = arrival - send stamp (ms)"
            + ("; primed (one watcher first)" if cfg.get("watch_prime") else "; all watchers at once")
        )
        lines.append(
            f"  {'backend':<8}{'writes':>8}{'events':>9}{'lost':>8}{'dup':>8}{'complete':>10}"
            f"{'p50':>8}{'p90':>8}{'p99':>8}{'max':>8}{'ack p50':>9}{'ack p99':>9}{'write p50':>10}"
        )
        for backend, w in results["watch"].items():
            d, a, wl = w["delay_since_send"], w["delay_since_ack"], w["write_latency"]
            lines.append(
                f"  {backend:<8}{w['writes_ok']:>8}{w['events_received']:>9}{w['events_lost']:>8}"
                f"{w['events_duplicated']:>8}{w['watchers_complete']:>6}/{w['watchers']:<3}"
                f"{_fmt(d['p50_ms']):>8}{_fmt(d['p90_ms']):>8}{_fmt(d['p99_ms']):>8}{_fmt(d['max_ms']):>8}"
                f"{_fmt(a['p50_ms']):>9}{_fmt(a['p99_ms']):>9}{_fmt(wl['p50_ms']):>10}"
            )
    if results["errors"]:
        lines.append("")
        lines.append("Problems:")
        for e in results["errors"]:
            lines.append(f"  - {e['where']}: {e['error'][:800]}")
    return "\n".join(lines)


def _commit() -> str:
    try:  # read-only query
        out = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a fast, smaller run (minutes, not tens)")
    parser.add_argument("--json", type=Path, default=None, help="write the raw numbers here")
    parser.add_argument("--only", default="writes,list,watch", help="comma-separated phases to run")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent writers (default 32)")
    parser.add_argument("--no-etcd", action="store_true", help="skip everything that needs etcd")
    parser.add_argument(
        "--watch-prime",
        action="store_true",
        help="connect one watcher first, then the others (see watch_delay)",
    )
    args = parser.parse_args(argv)
    cfg = Config.quick(args.concurrency) if args.quick else Config.full(args.concurrency)
    phases = {p.strip() for p in args.only.split(",") if p.strip()}
    use_etcd = not args.no_etcd and os.access(ETCD_BINARY, os.X_OK)
    bench = Bench(cfg, phases, use_etcd, watch_prime=args.watch_prime)
    results = bench.results
    results["meta"] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "etcd": etcd_version() if use_etcd else "not used",
        "commit": _commit(),
        "quick": args.quick,
        "config": {**cfg.__dict__, "watch_prime": args.watch_prime},
    }
    started = time.perf_counter()
    try:
        bench.start()
        asyncio.run(bench.run())
    except KeyboardInterrupt:
        bench.error("run", "interrupted")
    except Exception as exc:
        bench.error("run", exc)
        for name, kyb in bench.servers.items():
            tail = kyb.log_tail(1500)
            if tail:
                print(f"--- {name} server log tail ---\n{tail}", file=sys.stderr)
    finally:
        bench.stop()
    results["meta"]["value_bytes"] = len(bench.value)
    results["meta"]["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    results["meta"]["elapsed_s"] = round(time.perf_counter() - started, 1)
    results["ratios"] = ratios(results)
    print(report(results))
    if args.json:
        args.json.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
        print(f"\nraw numbers written to {args.json}")
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
