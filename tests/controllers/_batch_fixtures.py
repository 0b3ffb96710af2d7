"""Fixtures for the StatefulSet, DaemonSet, Job and CronJob tests.

- ``server`` / ``api``: a real API server in process (the aiohttp app on a fresh SQLite store, served on a
  loopback port, no authentication) and an ``ApiClient`` over HTTP;
- ``running(api, factories, options)``: builds a ``ControllerContext``, constructs the controllers, starts
  and syncs the informers and runs the controllers as tasks (cancelled on exit);
- ``FakeKubelet``: moves pods through ``pods/status`` as a kubelet would: Pending -> Running + Ready,
  then, when the pod asks for it with annotations (``kyb.test/outcome: Succeeded|Failed``,
  ``kyb.test/exit-code``, ``kyb.test/run-seconds``) or a ``decide`` callback says so, to a terminal phase
  with container exit codes. Pods being deleted gracefully are deleted with grace 0. With
  ``bind=True`` it also plays the scheduler for DaemonSet pods (binds the node named by their
  ``matchFields metadata.name`` affinity);
- ``FakeClock``: a settable epoch clock whose ``advance`` notifies subscribed controllers;
- ``kubectl(server, kubeconfig, *args)``: real kubectl against the in-process server (asyncio subprocess,
  so the server keeps serving while it runs);
- ``eventually``: poll a sync or async check with a bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kybernetes.api.errors import StatusError
from kybernetes.api.meta import now_rfc3339 as _now
from kybernetes.apiserver.context import ApiContext
from kybernetes.client import ApiClient, SharedInformerFactory, object_key
from kybernetes.controllers.base import Controller, ControllerContext, ControllerOptions
from tests.controllers._harness import running as _running
from tests.inprocess import FAST_RETRY, serve, write_kubeconfig
from tests.inprocess import eventually as eventually  # re-exported for the tests
from tests.needs import KUBECTL, require_kubectl

OUTCOME = "kyb.test/outcome"
EXIT_CODE = "kyb.test/exit-code"
RUN_SECONDS = "kyb.test/run-seconds"


@dataclass
class Server:
    url: str
    ctx: ApiContext
    kubeconfig: Path


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    async with serve(tmp_path) as srv:
        yield Server(srv.url, srv.ctx, write_kubeconfig(tmp_path / "kubeconfig", srv.url))


@pytest.fixture
async def api(server: Server) -> AsyncIterator[ApiClient]:
    async with ApiClient(server.url, retry=FAST_RETRY) as client:
        yield client


def fast_options(**extra: Any) -> ControllerOptions:
    return ControllerOptions(job_backoff_base_seconds=0.05, job_backoff_max_seconds=0.2, extra=dict(extra))


def running(
    api: ApiClient,
    factories: list[Callable[[ControllerContext], Controller]],
    options: ControllerOptions | None = None,
    workers: int = 2,
) -> contextlib.AbstractAsyncContextManager[list[Controller]]:
    """``_harness.running`` with ``fast_options()`` by default."""
    return _running(api, factories, options or fast_options(), workers)


async def kubectl(server: Server, *args: str, timeout: float = 30.0) -> tuple[int, str, str]:  # noqa: ASYNC109
    """Run kubectl against the in-process server; (returncode, stdout, stderr)."""
    require_kubectl()
    cache = server.kubeconfig.parent / "kubectl-cache"
    proc = await asyncio.create_subprocess_exec(
        KUBECTL,
        "--kubeconfig",
        str(server.kubeconfig),
        "--cache-dir",
        str(cache),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return proc.returncode or 0, out.decode(), err.decode()


# --- clock --------------------------------------------------------------------------------------------
class FakeClock:
    """Epoch seconds that only move when told; ``advance``/``set`` notify subscribers."""

    def __init__(self, start: float | dt.datetime) -> None:
        self.t = start.timestamp() if isinstance(start, dt.datetime) else float(start)
        self._subscribers: list[Callable[[], None]] = []

    def __call__(self) -> float:
        return self.t

    def subscribe(self, callback: Callable[[], None]) -> None:
        self._subscribers.append(callback)

    def set(self, when: float | dt.datetime) -> None:
        self.t = when.timestamp() if isinstance(when, dt.datetime) else float(when)
        for cb in list(self._subscribers):
            cb()

    def advance(self, seconds: float) -> None:
        self.set(self.t + seconds)


# --- kubelet ------------------------------------------------------------------------------------------
Decision = tuple[str, int] | None  # (terminal phase, exit code), or None: keep running


def annotation_decision(pod: dict[str, Any]) -> Decision:
    ann = (pod.get("metadata") or {}).get("annotations") or {}
    outcome = ann.get(OUTCOME)
    if outcome not in ("Succeeded", "Failed"):
        return None
    code = int(ann.get(EXIT_CODE) or (0 if outcome == "Succeeded" else 1))
    return outcome, code


class FakeKubelet:
    """Drives pods of one namespace through their lifecycle via ``pods/status`` (see module docstring)."""

    def __init__(
        self,
        api: ApiClient,
        namespace: str,
        *,
        decide: Callable[[dict[str, Any]], Decision] = annotation_decision,
        ready: Callable[[dict[str, Any]], bool] | None = None,
        bind: bool = False,
        run_seconds: float = 0.0,
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.decide = decide
        self.ready = ready or (lambda pod: True)
        self.bind = bind
        self.run_seconds = run_seconds
        self.paused = False
        self.factory = SharedInformerFactory(api)
        self.informer = self.factory.informer(api.pods, namespace=namespace)
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._timers: set[asyncio.TimerHandle] = set()
        self._busy: set[str] = set()
        self.informer.add_event_handler(self._on, lambda old, new: self._on(new), None)

    def _on(self, pod: Any) -> None:
        self.queue.put_nowait(object_key(pod))

    def poke(self) -> None:
        for pod in self.informer.list():
            self._on(pod)

    async def __aenter__(self) -> FakeKubelet:
        self.factory.start()
        await self.factory.wait_for_cache_sync(10.0)
        self._tasks = [asyncio.create_task(self._work()) for _ in range(4)]
        return self

    async def __aexit__(self, *exc: Any) -> None:
        for timer in self._timers:
            timer.cancel()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.factory.stop()

    async def _work(self) -> None:
        busy = self._busy
        while True:
            key = await self.queue.get()
            if key in busy:
                continue
            busy.add(key)
            try:
                await self._handle(key)
            except StatusError as exc:
                if exc.code not in (404, 409):
                    raise
                if exc.code == 409:
                    self.queue.put_nowait(key)
            finally:
                busy.discard(key)

    def _later(self, key: str, delay: float) -> None:
        loop = asyncio.get_running_loop()
        handle = loop.call_later(delay, self.queue.put_nowait, key)
        self._timers.add(handle)

    async def _handle(self, key: str) -> None:
        ns, _, name = key.partition("/")
        pod = self.informer.get(name, ns)
        if pod is None or self.paused:
            return
        md = pod["metadata"]
        spec = pod.get("spec") or {}
        status = pod.get("status") or {}
        phase = status.get("phase")
        if md.get("deletionTimestamp"):
            if md.get("deletionGracePeriodSeconds"):
                await self.api.pods.delete(name, namespace=ns, grace_period_seconds=0)
            return
        if not spec.get("nodeName"):
            if not self.bind:
                pass  # no scheduler in these tests: run the pod anyway
            else:
                node = _affinity_node(pod)
                if node is None:
                    return
                await self.api.pods.create_subresource(
                    name,
                    "binding",
                    {
                        "apiVersion": "v1",
                        "kind": "Binding",
                        "metadata": {"name": name, "namespace": ns},
                        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
                    },
                    namespace=ns,
                )
                return
        if phase in ("Succeeded", "Failed"):
            return
        containers = [c["name"] for c in spec.get("containers") or []]
        if phase != "Running":
            is_ready = self.ready(pod)
            await self.api.pods.patch(
                name,
                {"status": _running_status(containers, is_ready)},
                namespace=ns,
                subresource="status",
            )
            decision = self.decide(pod)
            if decision is not None:
                delay = float((md.get("annotations") or {}).get(RUN_SECONDS) or self.run_seconds)
                self._later(key, delay)
            return
        decision = self.decide(pod)
        if decision is not None:
            await self.api.pods.patch(
                name,
                {"status": _terminal_status(containers, decision[0], decision[1])},
                namespace=ns,
                subresource="status",
            )
        elif self.ready(pod) != _is_ready(pod):
            await self.api.pods.patch(
                name,
                {"status": _running_status(containers, self.ready(pod))},
                namespace=ns,
                subresource="status",
            )


def _is_ready(pod: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def _affinity_node(pod: dict[str, Any]) -> str | None:
    affinity = ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    for term in required.get("nodeSelectorTerms") or []:
        for req in term.get("matchFields") or []:
            if req.get("key") == "metadata.name" and req.get("operator") == "In" and req.get("values"):
                return str(req["values"][0])
    return None


def _running_status(containers: list[str], ready: bool) -> dict[str, Any]:
    now = _now()
    flag = "True" if ready else "False"
    return {
        "phase": "Running",
        "startTime": now,
        "podIP": "10.0.0.10",
        "conditions": [
            {"type": "Initialized", "status": "True", "lastTransitionTime": now},
            {"type": "Ready", "status": flag, "lastTransitionTime": now},
            {"type": "ContainersReady", "status": flag, "lastTransitionTime": now},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
        ],
        "containerStatuses": [
            {
                "name": c,
                "ready": ready,
                "restartCount": 0,
                "image": "busybox",
                "imageID": "",
                "started": True,
                "state": {"running": {"startedAt": now}},
            }
            for c in containers
        ],
    }


def _terminal_status(containers: list[str], phase: str, code: int) -> dict[str, Any]:
    now = _now()
    return {
        "phase": phase,
        "conditions": [
            {"type": "Initialized", "status": "True", "lastTransitionTime": now},
            {"type": "Ready", "status": "False", "lastTransitionTime": now, "reason": "PodCompleted"},
            {
                "type": "ContainersReady",
                "status": "False",
                "lastTransitionTime": now,
                "reason": "PodCompleted",
            },
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
        ],
        "containerStatuses": [
            {
                "name": c,
                "ready": False,
                "restartCount": 0,
                "image": "busybox",
                "imageID": "",
                "started": False,
                "state": {
                    "terminated": {
                        "exitCode": code,
                        "reason": "Completed" if code == 0 else "Error",
                        "startedAt": now,
                        "finishedAt": now,
                    }
                },
            }
            for c in containers
        ],
    }


# --- object builders ----------------------------------------------------------------------------------
async def make_namespace(api: ApiClient, name: str) -> str:
    await api.namespaces.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


def pod_template(
    labels: dict[str, str], *, annotations: dict[str, str] | None = None, image: str = "busybox"
) -> dict[str, Any]:
    return {
        "metadata": {"labels": dict(labels), "annotations": dict(annotations or {})},
        "spec": {"containers": [{"name": "main", "image": image}], "restartPolicy": "Always"},
    }


def job_manifest(
    name: str,
    namespace: str,
    *,
    outcome: str = "Succeeded",
    exit_code: int | None = None,
    run_seconds: float = 0.0,
    **spec: Any,
) -> dict[str, Any]:
    annotations = {OUTCOME: outcome, RUN_SECONDS: str(run_seconds)}
    if exit_code is not None:
        annotations[EXIT_CODE] = str(exit_code)
    template = pod_template({"app": name}, annotations=annotations)
    template["spec"]["restartPolicy"] = "Never"
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"template": template, **spec},
    }


def condition(obj: dict[str, Any], ctype: str) -> dict[str, Any] | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return cond  # type: ignore[no-any-return]
    return None


def condition_true(obj: dict[str, Any], ctype: str) -> bool:
    cond = condition(obj, ctype)
    return cond is not None and cond.get("status") == "True"
