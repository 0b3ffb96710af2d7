"""Pod startup latency on the real runtimes: create -> Running and Ready, then deletion, for 100 pods.

Usage::

    .venv/bin/python bench/pod_startup.py [--quick] [--runtimes process,containerd] [--pods 100]
        [--rate 20] [--reps 3] [--json out.json]

Per runtime it starts one ``kyb server --runtime <r> --node-name kyb-bench-node`` (API server, scheduler,
controller manager and the embedded agent for one node, SQLite store, 127.0.0.1 only) and waits for the
node to be Ready. For ``containerd`` (root only, tools installed) it first builds the busybox OCI image
locally (``build_busybox_image``: busybox-static + umoci) and loads it with ``kyb images import`` into the
server's own containerd, so no image is pulled during the measurement (pods use ``imagePullPolicy:
IfNotPresent`` on an image already present; the pause image is built and imported by the agent at start;
the archive's index is annotated with the full image name, see ``build_image``).
One warm-up pod is created, run and deleted before measuring (not counted).

Then, per repetition (a fresh namespace each), ``--pods`` pods are created open-loop at a fixed rate
(``--rate`` pods/s, 20 by default, like upstream's density test creates at a fixed QPS), going through the
scheduler like any pod. A pod watch stamps the arrival of the first event where the pod is phase Running
with condition Ready=True; latency = that arrival - the time its POST returned (the "POST sent" variant is
reported too). Then all pods are deleted at the same rate (default grace period) and deletion latency is
DELETE returned -> DELETED event (the kubelet stops the containers, then the pod object goes away).
Commands: process runtime ``sleep 3600`` (a real host process); containerd
``sh -c 'trap "exit 0" TERM; sleep 3600 & wait'`` in busybox, because a bare ``sleep`` as PID 1 of its
pid namespace ignores SIGTERM and every deletion would wait out the 30 s grace period.

The report gives per runtime the median over repetitions of p50/p99/max, and the server's CPU seconds.
``--quick``: 1 repetition of 30 pods.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _node_common import PodWatch, Rate, loadavg, pctl_ms, proc_stats, wait_nodes_ready
from _server import Api, ApiError, Kyb

NODE = "kyb-bench-node"
BUSYBOX_REPO = "kybernetes.local/busybox"
BUSYBOX_TAG = "bench"
CONTAINERD_CMD = ["sh", "-c", 'trap "exit 0" TERM; sleep 3600 & wait']
SLO_P99_S = 5.0


def pod_body(name: str, runtime: str) -> dict[str, Any]:
    if runtime == "containerd":
        container = {
            "name": "c",
            "image": f"{BUSYBOX_REPO}:{BUSYBOX_TAG}",
            "imagePullPolicy": "IfNotPresent",
            "command": CONTAINERD_CMD,
        }
    else:
        container = {"name": "c", "image": "busybox", "command": ["sleep", "3600"]}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "pod-startup"}},
        "spec": {"containers": [container]},
    }


def containerd_usable() -> str:
    """Empty when the containerd runtime can run here, else why not."""
    from kybernetes.kubelet.runtimes.containerd_supervisor import containerd_available
    from kybernetes.kubelet.runtimes.images import image_tools_available

    if os.geteuid() != 0:
        return "not root"
    if not containerd_available():
        return "containerd/runc/CNI plugins not installed"
    if not image_tools_available():
        return "busybox-static or umoci missing"
    return ""


async def build_image(tmp: Path) -> Path:
    """The busybox OCI archive, its index annotated with the full image name.

    ``build_busybox_image`` names the image by tag only; ``kyb images import`` has no base-name option,
    so the annotations ``org.opencontainers.image.ref.name`` / ``io.containerd.image.name`` are set to
    ``BUSYBOX_REPO:BUSYBOX_TAG`` (as tests/e2e does) for ctr to keep that name.
    """
    from kybernetes.kubelet.runtimes.images import build_busybox_image

    built = await build_busybox_image(tmp / "busybox-tag-only.tar", tag=BUSYBOX_TAG, cmd=("/bin/sh",))

    def annotate() -> Path:
        layout = tmp / "layout"
        layout.mkdir()
        with tarfile.open(built) as tar:
            tar.extractall(layout, filter="tar")
        index = json.loads((layout / "index.json").read_text())
        for manifest in index["manifests"]:
            annotations = manifest.setdefault("annotations", {})
            annotations["org.opencontainers.image.ref.name"] = f"{BUSYBOX_REPO}:{BUSYBOX_TAG}"
            annotations["io.containerd.image.name"] = f"{BUSYBOX_REPO}:{BUSYBOX_TAG}"
        (layout / "index.json").write_text(json.dumps(index))
        out = tmp / "busybox.tar"
        with tarfile.open(out, "w") as tar:
            for child in sorted(layout.iterdir()):
                tar.add(child, arcname=child.name)
        return out

    return await asyncio.to_thread(annotate)


async def import_image(kyb: Kyb, archive: Path, notes: list[str]) -> None:
    """``kyb images import FILE --data-dir D`` into the server's own containerd (``k8s.io`` namespace).

    Only with the annotated archive of ``build_image``: given the tag-only archive ``build_busybox_image``
    writes, the command imports ``import-<date>:<tag>`` (ctr's default base name), and once that name
    exists the CRI plugin resolves the digest to ``docker.io/library/import-<date>:<tag>``, which does
    not exist, so every CreateContainer of that image fails with NOT_FOUND (see the README).
    """
    cmd = [sys.executable, "-m", "kybernetes.cli.main", "images", "import", str(archive)]
    cmd += ["--data-dir", str(kyb.data_dir)]
    proc = await asyncio.to_thread(subprocess.run, cmd, capture_output=True, text=True, timeout=300)
    want = f"{BUSYBOX_REPO}:{BUSYBOX_TAG}"
    if proc.returncode != 0 or f"imported {want}" not in proc.stdout:
        raise RuntimeError(
            f"kyb images import: exit {proc.returncode}, {proc.stdout!r} {proc.stderr[-500:]!r}"
        )
    notes.append(f"image {want} loaded with `kyb images import busybox.tar --data-dir <server data dir>`")


async def run_batch(
    api: Api, runtime: str, ns: str, n: int, rate: float, deadline_s: float
) -> dict[str, Any]:
    """Create ``n`` pods in ``ns`` at ``rate``/s, wait for Running+Ready, delete them, wait for DELETED."""
    await api.ensure_namespace(ns)
    watch = PodWatch(api, ns)
    await watch.start()
    names = [f"p-{i:04d}" for i in range(n)]
    sent: dict[str, float] = {}
    returned: dict[str, float] = {}
    errors: list[str] = []

    async def create(name: str) -> None:
        sent[name] = time.perf_counter()
        try:
            await api.request(
                "POST", f"/api/v1/namespaces/{ns}/pods", body=orjson.dumps(pod_body(name, runtime))
            )
        except (ApiError, OSError, TimeoutError) as exc:
            errors.append(f"create {name}: {exc}"[:300])
            return
        returned[name] = time.perf_counter()

    try:
        pacer = Rate(rate)
        tasks = []
        for i, name in enumerate(names):
            await pacer.next(i)
            tasks.append(asyncio.create_task(create(name)))
        await asyncio.gather(*tasks)
        created_all = time.perf_counter()
        keys = {f"{ns}/{name}": name for name in returned}
        all_running = await watch.wait(lambda: all(k in watch.running for k in keys), deadline_s)
        last_running = max((watch.running[k] for k in keys if k in watch.running), default=created_all)
        startup = [watch.running[k] - returned[name] for k, name in keys.items() if k in watch.running]
        startup_sent = [watch.running[k] - sent[name] for k, name in keys.items() if k in watch.running]

        del_sent: dict[str, float] = {}
        del_returned: dict[str, float] = {}

        async def delete(name: str) -> None:
            del_sent[name] = time.perf_counter()
            try:
                await api.request("DELETE", f"/api/v1/namespaces/{ns}/pods/{name}", ok=(200, 202))
            except (ApiError, OSError, TimeoutError) as exc:
                errors.append(f"delete {name}: {exc}"[:300])
                return
            del_returned[name] = time.perf_counter()

        pacer = Rate(rate)
        tasks = []
        for i, name in enumerate(returned):
            await pacer.next(i)
            tasks.append(asyncio.create_task(delete(name)))
        await asyncio.gather(*tasks)
        all_deleted = await watch.wait(lambda: all(k in watch.deleted for k in keys), deadline_s)
        deletion = [
            watch.deleted[k] - del_returned[n]
            for k, n in keys.items()
            if k in watch.deleted and n in del_returned
        ]
        first_del = min(del_sent.values(), default=0.0)
        last_del = max((watch.deleted[k] for k in keys if k in watch.deleted), default=first_del)
    finally:
        await watch.stop()
    return {
        "pods": n,
        "created": len(returned),
        "running": len(startup),
        "all_running": all_running,
        "startup_p50_ms": pctl_ms(startup, 50),
        "startup_p99_ms": pctl_ms(startup, 99),
        "startup_max_ms": pctl_ms(startup, 100),
        "startup_from_sent_p99_ms": pctl_ms(startup_sent, 99),
        "first_create_to_last_running_s": round(last_running - min(sent.values()), 2),
        "deleted": len(deletion),
        "all_deleted": all_deleted,
        "delete_p50_ms": pctl_ms(deletion, 50),
        "delete_p99_ms": pctl_ms(deletion, 99),
        "delete_max_ms": pctl_ms(deletion, 100),
        "first_delete_to_last_gone_s": round(last_del - first_del, 2),
        "watch_errors": watch.errors[:5],
        "errors": errors[:5],
    }


async def bench_runtime(runtime: str, args: argparse.Namespace, image: Path | None) -> dict[str, Any]:
    notes: list[str] = args.notes.setdefault(runtime, [])
    kyb = Kyb(f"pods-{runtime}", extra_args=["--runtime", runtime, "--node-name", NODE])
    try:
        t = time.perf_counter()
        kyb.start()
        async with Api(kyb) as api:
            await api.wait_ready(60)
            if await wait_nodes_ready(api, 1, 180, NODE) < 1:
                raise RuntimeError(f"node {NODE} not Ready after 180 s: {kyb.log_tail()}")
            notes.append(f"server start to node Ready: {time.perf_counter() - t:.1f} s")
            if runtime == "containerd":
                assert image is not None
                await import_image(kyb, image, notes)
            warm = await run_batch(api, runtime, "warmup", 1, 1.0, args.deadline)
            if not warm["all_running"]:
                raise RuntimeError(f"warm-up pod did not run: {warm} {kyb.log_tail()}")
            reps = []
            cpu0 = proc_stats(kyb.pid).cpu_s
            for rep in range(args.reps):
                result = await run_batch(api, runtime, f"bench-{rep}", args.pods, args.rate, args.deadline)
                result["loadavg"] = loadavg()
                reps.append(result)
                print(f"  {runtime} rep {rep + 1}: {fmt_rep(result)}", flush=True)
            stats = proc_stats(kyb.pid)
        return {
            "runtime": runtime,
            "reps": reps,
            "server_cpu_s_per_rep": round((stats.cpu_s - cpu0) / max(1, args.reps), 1),
            "server_rss_mb": round(stats.rss_mb),
            "notes": notes,
        }
    finally:
        if args.keep:
            print(f"  kept {kyb.data_dir}")
            kyb.stop()
        else:
            kyb.cleanup()


def fmt_rep(r: dict[str, Any]) -> str:
    return (
        f"{r['running']}/{r['pods']} Running, create->Running p50 {r['startup_p50_ms']:.0f} ms, "
        f"p99 {r['startup_p99_ms']:.0f} ms, max {r['startup_max_ms']:.0f} ms "
        f"(all Running {r['first_create_to_last_running_s']} s after the first create); "
        f"delete->gone p50 {r['delete_p50_ms']:.0f} ms, p99 {r['delete_p99_ms']:.0f} ms "
        f"(all gone {r['first_delete_to_last_gone_s']} s after the first delete)"
        + (f"; errors {r['errors']}" if r["errors"] else "")
        + (f"; watch errors {r['watch_errors']}" if r["watch_errors"] else "")
    )


def med(reps: list[dict[str, Any]], key: str) -> float:
    values = [float(r[key]) for r in reps]
    return round(statistics.median(values), 1) if values else float("nan")


def report(results: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        f"pod startup, {meta['pods']} pods at {meta['rate']} pods/s, median of {meta['reps']} rep(s); "
        f"{meta['date']}, {meta['cpus']} cpus, load {meta['loadavg_before']} -> {meta['loadavg_after']}",
        "| runtime | create->Running p50 | p99 | max | all Running after | delete->gone p50 | p99 | all gone "
        "after | server CPU/rep |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for res in results:
        if "error" in res:
            lines.append(f"| {res['runtime']} | failed: {res['error'][:300]} |")
            continue
        reps = res["reps"]
        lines.append(
            f"| {res['runtime']} | {med(reps, 'startup_p50_ms'):.0f} ms | {med(reps, 'startup_p99_ms'):.0f} ms "
            f"| {med(reps, 'startup_max_ms'):.0f} ms | {med(reps, 'first_create_to_last_running_s')} s "
            f"| {med(reps, 'delete_p50_ms'):.0f} ms | {med(reps, 'delete_p99_ms'):.0f} ms "
            f"| {med(reps, 'first_delete_to_last_gone_s')} s | {res['server_cpu_s_per_rep']} s |"
        )
    for res in results:
        for note in res.get("notes", []):
            lines.append(f"note ({res['runtime']}): {note}")
        if "reps" in res:
            p99 = med(res["reps"], "startup_p99_ms") / 1000
            verdict = "within" if p99 <= SLO_P99_S else "OVER"
            lines.append(
                f"{res['runtime']}: p99 {p99:.2f} s is {verdict} the upstream SLO of {SLO_P99_S:.0f} s"
            )
    return "\n".join(lines)


async def amain(args: argparse.Namespace) -> int:
    runtimes = [r.strip() for r in args.runtimes.split(",") if r.strip()]
    meta: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "cpus": os.cpu_count(),
        "pods": args.pods,
        "rate": args.rate,
        "reps": args.reps,
        "loadavg_before": loadavg(),
    }
    results: list[dict[str, Any]] = []
    tmp = Path(tempfile.mkdtemp(prefix="kyb-bench-images-"))
    try:
        for runtime in runtimes:
            image = None
            if runtime == "containerd":
                why = containerd_usable()
                if why:
                    results.append({"runtime": runtime, "error": f"skipped: {why}"})
                    continue
                image = await build_image(tmp)
            print(f"runtime {runtime}:", flush=True)
            try:
                results.append(await bench_runtime(runtime, args, image))
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                results.append({"runtime": runtime, "error": error, "notes": args.notes.get(runtime, [])})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    meta["loadavg_after"] = loadavg()
    print(report(results, meta))
    args.results = {"meta": meta, "results": results}
    return 0 if all("error" not in r for r in results) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 repetition of 30 pods")
    parser.add_argument("--runtimes", default="process,containerd")
    parser.add_argument("--pods", type=int, default=None)
    parser.add_argument("--rate", type=float, default=20.0, help="pods created (and deleted) per second")
    parser.add_argument("--reps", type=int, default=None)
    parser.add_argument("--deadline", type=float, default=300.0, help="max seconds to wait per batch")
    parser.add_argument("--keep", action="store_true", help="keep the servers' data dirs (logs)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    args.pods = args.pods or (30 if args.quick else 100)
    args.reps = args.reps or (1 if args.quick else 3)
    args.notes = {}
    code = asyncio.run(amain(args))
    if args.json:
        Path(args.json).write_bytes(orjson.dumps(args.results, option=orjson.OPT_INDENT_2))
    return code


if __name__ == "__main__":
    sys.exit(main())
