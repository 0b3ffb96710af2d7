"""How many simulated nodes and pods one ``kyb agent --simulate N`` process sustains (kwok-style).

Usage::

    .venv/bin/python bench/simulated_scale.py [--quick] [--nodes 1000] [--pods 10000] [--rate 200]
        [--budget 600] [--backlog 1000] [--hold 30] [--json out.json]

It starts one ``kyb server --disable-agent`` (API server, scheduler and controller manager, including the
node lifecycle controller that marks nodes whose Lease is older than 40 s NotReady; SQLite store; 127.0.0.1
only) and one ``kyb agent --server URL --token <pki/node.token> --ca-file <pki/ca.crt> --simulate N
--node-name sim`` subprocess, the way a user would, and waits until the N nodes are Ready.

Then it creates pods directly, pre-bound (``spec.nodeName`` = ``sim-<i mod N>``, so the scheduler is not
involved: its throughput is ``bench/scheduler_perf.py``'s subject), open-loop at ``--rate`` pods/s with
at most ``--backlog`` pods created but not yet Running (creation pauses while the agent is behind), until
``--pods`` exist or ``--budget`` seconds have passed. A pod watch stamps when each pod becomes Running and
Ready (the agent's one status PATCH per pod). After the last create it waits (bounded) for the stragglers,
then holds ``--hold`` seconds with nothing happening but heartbeats (1 Lease renewal per node per 10 s).

Measured: registration time; pods created/Running and how long; create->Running latency; the agent's CPU
(utime + stime from /proc/<pid>/stat, as % of one core) during the pod phase and during the hold, its
RSS and peak RSS (VmRSS, VmHWM from /proc/<pid>/status); the same for the server; lease renewal lag
(now - spec.renewTime over all the agent's Leases, sampled every 10 s, max over samples and at the end);
and how many nodes are still Ready at the end. ``--quick``: 200 nodes, 2,000 pods, 120 s budget.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _node_common import PodWatch, Rate, count_ready_nodes, loadavg, pctl_ms, proc_stats, wait_nodes_ready
from _server import Api, ApiError, Kyb, _stop_group

PREFIX = "sim"
NS = "sim"


class Agent:
    """The ``kyb agent --simulate N`` subprocess, in its own process group, stopped by pid."""

    def __init__(self, kyb: Kyb, nodes: int) -> None:
        self.kyb = kyb
        self.nodes = nodes
        self.dir = Path(tempfile.mkdtemp(prefix="kyb-bench-agent-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> Agent:
        token = (self.kyb.data_dir / "pki" / "node.token").read_text().strip()
        cmd = [sys.executable, "-m", "kybernetes.cli.main", "agent", "--server", self.kyb.url]
        cmd += ["--ca-file", str(self.kyb.data_dir / "pki" / "ca.crt"), "--simulate", str(self.nodes)]
        cmd += ["--node-name", PREFIX, "--data-dir", str(self.dir / "data"), "--log-level", "WARNING"]
        env = {**os.environ, "KYB_TOKEN": token}  # not on the command line
        with open(self.dir / "agent.log", "ab") as log:
            self.proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        return self

    def log_tail(self, chars: int = 2000) -> str:
        with contextlib.suppress(OSError):
            return (self.dir / "agent.log").read_text(errors="replace")[-chars:]
        return ""

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        _stop_group(proc)
        shutil.rmtree(self.dir, ignore_errors=True)


async def lease_lag(api: Api) -> tuple[float, int]:
    """Max seconds since ``spec.renewTime`` over the simulated nodes' Leases, and how many there are."""
    _, body = await api.request("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases")
    now = time.time()
    lags = []
    for lease in orjson.loads(body).get("items") or []:
        if not str(lease["metadata"]["name"]).startswith(PREFIX + "-"):
            continue
        renew = (lease.get("spec") or {}).get("renewTime")
        if renew:
            lags.append(now - dt.datetime.fromisoformat(renew.replace("Z", "+00:00")).timestamp())
    return (round(max(lags), 1) if lags else float("nan")), len(lags)


def pod_body(i: int, nodes: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"p-{i:06d}", "labels": {"app": "sim-scale"}},
        "spec": {
            "nodeName": f"{PREFIX}-{i % nodes}",
            "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}],
        },
    }


class Sampler:
    """Every ``period`` s: agent/server CPU and RSS, Running count, lease lag (bounded by ``stop``)."""

    def __init__(self, api: Api, agent: Agent, kyb: Kyb, watch: PodWatch, period: float = 10.0) -> None:
        self.api, self.agent, self.kyb, self.watch, self.period = api, agent, kyb, watch, period
        self.samples: list[dict[str, Any]] = []
        self.max_lag = 0.0
        self.t0 = time.perf_counter()

    async def sample(self) -> dict[str, Any]:
        lag, leases = await lease_lag(self.api)
        a, s = proc_stats(self.agent.pid), proc_stats(self.kyb.pid)
        row = {
            "t_s": round(time.perf_counter() - self.t0, 1),
            "running": len(self.watch.running),
            "lease_lag_max_s": lag,
            "leases": leases,
            "agent_cpu_s": round(a.cpu_s, 1),
            "agent_rss_mb": round(a.rss_mb),
            "server_cpu_s": round(s.cpu_s, 1),
            "server_rss_mb": round(s.rss_mb),
            "load1": loadavg()[0],
        }
        if lag == lag:  # not nan
            self.max_lag = max(self.max_lag, lag)
        self.samples.append(row)
        return row

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                row = await self.sample()
                print(f"  {row}", flush=True)
            except (ApiError, OSError, TimeoutError) as exc:
                print(f"  sample failed: {exc}", flush=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.period)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    res: dict[str, Any] = {"nodes": args.nodes, "target_pods": args.pods, "rate": args.rate}
    res["loadavg_before"] = loadavg()
    kyb = Kyb("simscale", extra_args=["--disable-agent"])
    agent: Agent | None = None
    try:
        kyb.start()
        async with Api(kyb, pool=64) as api:
            await api.wait_ready(60)
            t = time.perf_counter()
            agent = Agent(kyb, args.nodes).start()
            ready = await wait_nodes_ready(api, args.nodes, args.register_deadline, PREFIX + "-")
            res["register_s"] = round(time.perf_counter() - t, 1)
            res["nodes_ready_after_register"] = ready
            a = proc_stats(agent.pid)
            res["agent_after_register"] = {"cpu_s": round(a.cpu_s, 1), "rss_mb": round(a.rss_mb)}
            print(f"{ready}/{args.nodes} nodes Ready after {res['register_s']} s; agent {a}", flush=True)
            if ready < args.nodes:
                res["error"] = f"only {ready} nodes Ready: {agent.log_tail()}"
                return res
            await api.ensure_namespace(NS)
            watch = PodWatch(api, NS)
            await watch.start()
            sampler = Sampler(api, agent, kyb, watch)
            stop = asyncio.Event()
            sampler_task = asyncio.create_task(sampler.run(stop))
            try:
                await pod_phase(api, args, agent, kyb, watch, res)
                await hold_phase(api, args, agent, kyb, sampler, res)
            finally:
                stop.set()
                await sampler_task
                await watch.stop()
            res["samples"] = sampler.samples
            res["lease_lag_max_sampled_s"] = sampler.max_lag
            res["watch_errors"] = watch.errors[:5]
    finally:
        if agent is not None:
            res["agent_log_tail"] = agent.log_tail(1500)
            agent.stop()
        kyb.cleanup()
        res["loadavg_after"] = loadavg()
    return res


async def pod_phase(
    api: Api, args: argparse.Namespace, agent: Agent, kyb: Kyb, watch: PodWatch, res: dict[str, Any]
) -> None:
    returned: dict[str, float] = {}
    errors: list[str] = []
    sem = asyncio.Semaphore(args.concurrency)
    pending: set[asyncio.Task[None]] = set()

    async def create(i: int) -> None:
        try:
            body = orjson.dumps(pod_body(i, args.nodes))
            await api.request("POST", f"/api/v1/namespaces/{NS}/pods", body=body)
            returned[f"{NS}/p-{i:06d}"] = time.perf_counter()
        except (ApiError, OSError, TimeoutError) as exc:
            errors.append(f"create {i}: {exc}"[:300])
        finally:
            sem.release()

    a0, s0 = proc_stats(agent.pid), proc_stats(kyb.pid)
    t0 = time.perf_counter()
    end = t0 + args.budget
    pacer = Rate(args.rate)
    paced = 0  # creates scheduled since the pacer (re)started
    stalled_s = 0.0
    i = 0
    while i < args.pods and time.perf_counter() < end and len(errors) < 50:
        if i - len(watch.running) >= args.backlog:  # the agent is behind: wait, do not pile up
            w = time.perf_counter()
            await watch.wait(lambda i=i: i - len(watch.running) < args.backlog, min(5.0, end - w))
            stalled_s += time.perf_counter() - w
            pacer, paced = Rate(args.rate), 0  # fresh schedule after a stall: no catch-up burst
            continue
        await pacer.next(paced)
        paced += 1
        await sem.acquire()
        task = asyncio.create_task(create(i))
        pending.add(task)
        task.add_done_callback(pending.discard)
        i += 1
    await asyncio.gather(*pending)
    created_end = time.perf_counter()
    keys = set(returned)
    all_running = await watch.wait(lambda: keys <= watch.running.keys(), args.drain)
    t_running = max((watch.running[k] for k in keys if k in watch.running), default=created_end)
    a1, s1 = proc_stats(agent.pid), proc_stats(kyb.pid)
    wall = t_running - t0
    lat = [watch.running[k] - returned[k] for k in keys if k in watch.running]
    res["pods"] = {
        "created": len(returned),
        "running": len(lat),
        "all_running": all_running,
        "create_errors": len(errors),
        "first_errors": errors[:3],
        "create_s": round(created_end - t0, 1),
        "until_all_running_s": round(wall, 1),
        "stalled_on_backlog_s": round(stalled_s, 1),
        "running_per_s": round(len(lat) / wall, 1) if wall > 0 else 0.0,
        "create_to_running_p50_ms": pctl_ms(lat, 50),
        "create_to_running_p99_ms": pctl_ms(lat, 99),
        "agent_cpu_pct": round(100 * (a1.cpu_s - a0.cpu_s) / wall, 1) if wall > 0 else 0.0,
        "agent_cpu_ms_per_pod": round(1000 * (a1.cpu_s - a0.cpu_s) / max(1, len(lat)), 2),
        "agent_rss_mb": round(a1.rss_mb),
        "server_cpu_pct": round(100 * (s1.cpu_s - s0.cpu_s) / wall, 1) if wall > 0 else 0.0,
        "server_rss_mb": round(s1.rss_mb),
    }
    print(f"pods: {res['pods']}", flush=True)


async def hold_phase(
    api: Api, args: argparse.Namespace, agent: Agent, kyb: Kyb, sampler: Sampler, res: dict[str, Any]
) -> None:
    a0, s0 = proc_stats(agent.pid), proc_stats(kyb.pid)
    t0 = time.perf_counter()
    await asyncio.sleep(args.hold)
    wall = time.perf_counter() - t0
    a1, s1 = proc_stats(agent.pid), proc_stats(kyb.pid)
    end = await sampler.sample()
    res["hold"] = {
        "seconds": round(wall, 1),
        "agent_cpu_pct": round(100 * (a1.cpu_s - a0.cpu_s) / wall, 1),
        "server_cpu_pct": round(100 * (s1.cpu_s - s0.cpu_s) / wall, 1),
        "agent_rss_mb": round(a1.rss_mb),
        "agent_peak_rss_mb": round(a1.hwm_mb),
        "server_rss_mb": round(s1.rss_mb),
        "server_peak_rss_mb": round(s1.hwm_mb),
        "lease_lag_end_s": end["lease_lag_max_s"],
        "leases": end["leases"],
        "nodes_ready_end": await count_ready_nodes(api, PREFIX + "-"),
        "agent_alive": agent.proc is not None and agent.proc.poll() is None,
    }
    print(f"hold: {res['hold']}", flush=True)


def report(res: dict[str, Any]) -> str:
    if "pods" not in res:
        return f"failed: {res.get('error')}"
    p, h = res["pods"], res["hold"]
    return "\n".join(
        [
            f"{res['date']}, {res['cpus']} cpus, load {res['loadavg_before']} -> {res['loadavg_after']}",
            f"nodes: {res['nodes']} registered and Ready in {res['register_s']} s "
            f"(agent {res['agent_after_register']['rss_mb']} MB RSS, {res['agent_after_register']['cpu_s']} s CPU)",
            f"pods: {p['running']}/{p['created']} Running of a target of {res['target_pods']} "
            f"(created in {p['create_s']} s at <= {res['rate']}/s, all Running after {p['until_all_running_s']} s, "
            f"{p['running_per_s']} pods/s; creation paused {p['stalled_on_backlog_s']} s on the backlog cap); "
            f"create->Running p50 {p['create_to_running_p50_ms']} ms, p99 {p['create_to_running_p99_ms']} ms",
            f"agent during pods: {p['agent_cpu_pct']}% of a core ({p['agent_cpu_ms_per_pod']} ms CPU/pod), "
            f"server {p['server_cpu_pct']}%",
            f"hold {h['seconds']} s: agent {h['agent_cpu_pct']}% of a core, RSS {h['agent_rss_mb']} MB "
            f"(peak {h['agent_peak_rss_mb']} MB); server {h['server_cpu_pct']}%, RSS {h['server_rss_mb']} MB",
            f"leases: max renewal lag {h['lease_lag_end_s']} s at the end over {h['leases']} leases, "
            f"{res['lease_lag_max_sampled_s']} s max over all samples (renew every 10 s, NotReady after 40 s); "
            f"nodes Ready at the end: {h['nodes_ready_end']}/{res['nodes']}; agent alive: {h['agent_alive']}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 nodes, 2,000 pods, 120 s budget")
    parser.add_argument("--nodes", type=int, default=None)
    parser.add_argument("--pods", type=int, default=None)
    parser.add_argument("--rate", type=float, default=200.0, help="pod creates per second (open loop)")
    parser.add_argument("--budget", type=float, default=None, help="seconds of pod creation at most")
    parser.add_argument("--backlog", type=int, default=1000, help="max pods created but not Running")
    parser.add_argument("--concurrency", type=int, default=32, help="max creates in flight")
    parser.add_argument("--drain", type=float, default=120.0, help="max wait for stragglers after creation")
    parser.add_argument("--hold", type=float, default=None, help="seconds of heartbeats only at the end")
    parser.add_argument("--register-deadline", type=float, default=300.0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    args.nodes = args.nodes or (200 if args.quick else 1000)
    args.pods = args.pods or (2000 if args.quick else 10_000)
    args.budget = args.budget or (120.0 if args.quick else 600.0)
    args.hold = args.hold if args.hold is not None else (15.0 if args.quick else 30.0)
    res = asyncio.run(run(args))
    res["date"] = dt.date.today().isoformat()
    res["cpus"] = os.cpu_count()
    print(report(res))
    if args.json:
        Path(args.json).write_bytes(orjson.dumps(res, option=orjson.OPT_INDENT_2))
    return 0 if "pods" in res and res["pods"]["all_running"] else 1


if __name__ == "__main__":
    sys.exit(main())
