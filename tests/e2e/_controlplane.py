"""Fixtures for the control-plane e2e suite: a full ``kyb server`` (scheduler and controller manager
embedded) with kwok-style simulated nodes run by the test process.

``SimulatedCluster`` runs ``SimulatedNodes`` on an event loop of its own in a background thread (the tests
themselves are synchronous and drive the cluster through real kubectl). Every call into that loop is
bounded by a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from kybernetes.client import ApiClient
from kybernetes.kubelet.simulated import DEFAULT_STAGES, SimulatedNodes, Stage
from tests.e2e.conftest import KybServer, unique, wait_for

T = TypeVar("T")

NODE_NAMES = ("sim-a", "sim-b", "sim-c")
HEARTBEAT = 1.0
GRACE_PERIOD = "3"


def slow_start_stages(delay: float = 0.4, jitter: float = 0.4) -> tuple[Stage, ...]:
    """The default stages with containers taking ``delay``..``delay+jitter`` s to become ready, so a
    rolling update goes pod by pod at a pace the tests can watch."""
    return tuple(
        dataclasses.replace(s, delay=delay, jitter=jitter) if s.name == "pod-ready" else s
        for s in DEFAULT_STAGES
    )


class SimulatedCluster:
    """Groups of simulated nodes heartbeating against one server from a background event loop."""

    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = str(kubeconfig)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="simulated-nodes", daemon=True)
        self._thread.start()
        self.api: ApiClient = self.call(self._make_client())
        self.groups: list[tuple[SimulatedNodes, asyncio.Event, asyncio.Future[None]]] = []

    async def _make_client(self) -> ApiClient:
        return ApiClient.from_kubeconfig(self.kubeconfig)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run ``coro`` on the cluster's loop and wait (bounded) for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def add_nodes(
        self, names: Iterable[str], *, heartbeat: float = HEARTBEAT, **kwargs: Any
    ) -> SimulatedNodes:
        """Register ``names`` as simulated nodes and keep them alive until ``close``."""

        async def start() -> tuple[SimulatedNodes, asyncio.Event, asyncio.Future[None]]:
            sim = SimulatedNodes(self.api, names, heartbeat=heartbeat, **kwargs)
            stop = asyncio.Event()
            task = asyncio.ensure_future(sim.run(stop))
            waiter = asyncio.ensure_future(sim.registered.wait())
            await asyncio.wait([task, waiter], timeout=30, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                task.result()  # raises why registration failed
            if not waiter.done():
                waiter.cancel()
                raise TimeoutError(f"simulated nodes {names} did not register")
            return sim, stop, task

        group = self.call(start(), timeout=40)
        self.groups.append(group)
        return group[0]

    def stop_heartbeats(self, name: str) -> None:
        for sim, _, _ in self.groups:
            if name in sim.nodes:
                self.loop.call_soon_threadsafe(sim.stop_heartbeats, name)
                return
        raise KeyError(name)

    def resume_heartbeats(self, name: str) -> None:
        for sim, _, _ in self.groups:
            if name in sim.nodes:
                self.loop.call_soon_threadsafe(sim.resume_heartbeats, name)
                return
        raise KeyError(name)

    def close(self) -> None:
        async def shutdown() -> None:
            for _, stop, _ in self.groups:
                stop.set()
            for _, _, task in self.groups:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(task, 15)
            await self.api.close()

        try:
            self.call(shutdown(), timeout=40)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
            if not self._thread.is_alive():
                self.loop.close()


class Recorder:
    """Watches one resource (list, then watch from its resourceVersion) and records ``summarize(objs)``
    after every event, so a test sees every state the store went through, not only what polling caught."""

    def __init__(
        self,
        cluster: SimulatedCluster,
        resource: str,
        summarize: Callable[[dict[str, dict[str, Any]]], Any],
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
    ) -> None:
        self.cluster = cluster
        self.summarize = summarize
        self.states: list[Any] = []
        self.names_seen: set[str] = set()
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        client = getattr(cluster.api, resource)

        async def run() -> None:
            items, rv = await client.list_all(namespace=namespace, label_selector=label_selector)
            objs = {o["metadata"]["name"]: o for o in items}
            self._record(objs)
            while True:
                stream = client.watch(namespace=namespace, label_selector=label_selector, resource_version=rv)
                try:
                    async for event in stream:
                        if event.type == "BOOKMARK":
                            continue
                        obj = event.object
                        name = obj["metadata"]["name"]
                        if event.type == "DELETED":
                            objs.pop(name, None)
                        else:
                            objs[name] = obj
                        self._record(objs)
                    rv = stream.resource_version or rv
                finally:
                    await stream.close()

        async def guarded() -> None:
            try:
                await run()
            except asyncio.CancelledError:
                raise
            except BaseException as exc:
                self.error = exc

        async def start() -> asyncio.Task[None]:
            return asyncio.ensure_future(guarded())

        self._task = cluster.call(start())
        wait_for(lambda: self.states or self.error, timeout=15, what=f"{resource} recorder synced")

    def _record(self, objs: dict[str, dict[str, Any]]) -> None:
        with self._lock:
            self.names_seen.update(objs)
            self.states.append(self.summarize(objs))

    def snapshot(self) -> list[Any]:
        if self.error is not None:
            raise AssertionError(f"recorder failed: {self.error!r}")
        with self._lock:
            return list(self.states)

    def stop(self) -> list[Any]:
        self.cluster.loop.call_soon_threadsafe(self._task.cancel)
        time.sleep(0.05)
        return self.snapshot()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ControlPlane:
    """A full ``kyb server`` plus its simulated nodes."""

    def __init__(self, server: KybServer, cluster: SimulatedCluster) -> None:
        self.server = server
        self.cluster = cluster

    # delegation for brevity in tests
    def kubectl(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return self.server.kubectl(*args, **kwargs)

    def kubectl_json(self, *args: str) -> Any:
        return self.server.kubectl_json(*args)

    def get(self, *args: str) -> Any:
        """``kubectl get ... -o json`` that returns None instead of failing on NotFound."""
        result = self.server.kubectl("get", *args, "-o", "json", check=False)
        if result.returncode != 0:
            if "NotFound" in result.stderr or "not found" in result.stderr:
                return None
            raise AssertionError(f"kubectl get {' '.join(args)} failed: {result.stderr}")
        return json.loads(result.stdout)

    def items(self, *args: str) -> list[dict[str, Any]]:
        return list(self.server.kubectl_json("get", *args).get("items") or [])

    def log_tail(self, lines: int = 80, grep: str | None = None) -> str:
        try:
            text = self.server.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        if grep:
            text = [line for line in text if grep in line]
        return "\n".join(text[-lines:])

    def create_namespace(self) -> str:
        return self.server.create_namespace()


def start_server(extra_args: list[str] | None = None, *, components: bool = True) -> KybServer:
    """A full ``kyb server`` on SQLite; ``KYB_E2E_CONTROLPLANE_ETCD=host:port`` runs it on that etcd
    instead (a fresh key prefix per server) to compare the backends."""
    endpoint = os.environ.get("KYB_E2E_CONTROLPLANE_ETCD")
    return KybServer(
        f"etcd://{endpoint}/kyb-cp-{unique('s')}" if endpoint else None,
        components=components,
        extra_args=["--node-monitor-grace-period", GRACE_PERIOD, *(extra_args or [])],
    ).start()


@contextlib.contextmanager
def control_plane(
    nodes: Iterable[str] = NODE_NAMES, *, extra_args: list[str] | None = None, **node_kwargs: Any
) -> Iterator[ControlPlane]:
    server = start_server(extra_args)
    cluster: SimulatedCluster | None = None
    try:
        cluster = SimulatedCluster(server.kubeconfig)
        cluster.add_nodes(nodes, **node_kwargs)
        cp = ControlPlane(server, cluster)
        wait_for(
            lambda: _ready_nodes(cp) >= len(list(nodes)) or None, timeout=30, what="simulated nodes Ready"
        )
        yield cp
    finally:
        if cluster is not None:
            cluster.close()
        server.cleanup()


def _ready_nodes(cp: ControlPlane) -> int:
    count = 0
    for node in cp.items("nodes"):
        for cond in (node.get("status") or {}).get("conditions") or []:
            if cond.get("type") == "Ready" and cond.get("status") == "True":
                count += 1
    return count


@pytest.fixture(scope="module")
def cp() -> Iterator[ControlPlane]:
    """One full control plane with three simulated nodes (4 cpu, 32Gi each) per test module."""
    with control_plane(stages=slow_start_stages()) as plane:
        yield plane


@pytest.fixture
def cp_ns(cp: ControlPlane) -> str:
    return cp.create_namespace()


# --- pod helpers ----------------------------------------------------------------------------------------
def is_ready(pod: dict[str, Any]) -> bool:
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    if (pod.get("status") or {}).get("phase") != "Running":
        return False
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def pods_of(cp: ControlPlane, ns: str, selector: str) -> list[dict[str, Any]]:
    return cp.items("pods", "-n", ns, "-l", selector)


def condition(obj: dict[str, Any] | None, ctype: str) -> dict[str, Any]:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return dict(cond)
    return {}


# --- separate component processes ------------------------------------------------------------------------
class Component:
    """A ``kyb scheduler`` / ``kyb controller-manager`` subprocess with its log file."""

    def __init__(self, kubeconfig: Path, command: str, *args: str, log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kybernetes.cli.main", command, "--kubeconfig", str(kubeconfig), *args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def poll_during(
    fn: Callable[[], T], until: Callable[[], bool], *, timeout: float, interval: float = 0.2
) -> list[T]:
    """Call ``fn`` repeatedly until ``until()`` holds (bounded); return every observation."""
    seen: list[T] = []
    deadline = time.monotonic() + timeout
    while True:
        seen.append(fn())
        if until():
            seen.append(fn())
            return seen
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {timeout}s; last observation {seen[-1]!r}")
        time.sleep(interval)


__all__ = [
    "NODE_NAMES",
    "Component",
    "ControlPlane",
    "Recorder",
    "SimulatedCluster",
    "condition",
    "control_plane",
    "cp",
    "cp_ns",
    "is_ready",
    "pods_of",
    "poll_during",
    "start_server",
    "unique",
    "wait_for",
]
