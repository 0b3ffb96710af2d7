"""Shared fixtures for controller tests: a real API server, a client, a running ControllerManager, kubectl.

- ``kube``: an in-process API server (aiohttp app on a fresh SQLite store) listening on a loopback TCP
  port over plain HTTP, and a kubeconfig pointing at it. ``kube.kubectl(...)`` runs real kubectl
  asynchronously (the server lives on the test's event loop, so a blocking subprocess would deadlock it).
- ``api``: an ``ApiClient`` to that server with fast retries.
- ``start_manager(**kwargs)``: start a ``ControllerManager`` as a task (stopped at teardown); by default
  without leader election and with every registered controller; returns the manager once its
  controllers run. ``manager`` is that with the defaults.
- ``FakeKubelet``: no node agent exists yet; this marks pods Running and Ready (phase, Ready /
  ContainersReady / PodScheduled conditions, ready containerStatuses) through ``pods/status``, for
  every pod it sees (optionally only those matching a predicate, after a delay). ``kubelet`` is one
  started on all namespaces. Pods are left unbound, so they are deleted at once (grace 0).
- ``eventually(check, timeout=...)``: poll a sync/async predicate with a bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kybernetes.api.meta import now_rfc3339 as _now
from kybernetes.apiserver.context import ApiContext
from kybernetes.client import ApiClient, Informer, StatusError
from kybernetes.controllers.base import ControllerOptions
from kybernetes.controllers.manager import ControllerManager
from tests.inprocess import FAST_RETRY, eventually, serve, write_kubeconfig

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
log = logging.getLogger(__name__)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@dataclass
class KubectlResult:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Kube:
    url: str
    ctx: ApiContext
    kubeconfig: Path
    cache_dir: Path

    async def kubectl(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        timeout: float = 30.0,  # noqa: ASYNC109
    ) -> KubectlResult:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "KUBECACHEDIR": str(self.cache_dir)}
        env.pop("KUBERNETES_SERVICE_HOST", None)
        proc = await asyncio.create_subprocess_exec(
            KUBECTL,
            "--cache-dir",
            str(self.cache_dir),
            *args,
            stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(input.encode() if input else None), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise AssertionError(f"kubectl {' '.join(args)} timed out after {timeout}s") from None
        result = KubectlResult(proc.returncode or 0, out.decode(), err.decode())
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result

    async def kubectl_json(self, *args: str) -> Any:
        return json.loads((await self.kubectl(*args, "-o", "json")).stdout)


@pytest.fixture
async def kube(tmp_path: Path) -> AsyncIterator[Kube]:
    async with serve(tmp_path) as srv:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", srv.url)
        yield Kube(srv.url, srv.ctx, kubeconfig, tmp_path / "kubectl-cache")


@pytest.fixture
async def api(kube: Kube) -> AsyncIterator[ApiClient]:
    async with ApiClient(kube.url, retry=FAST_RETRY) as client:
        yield client


StartManager = Callable[..., Awaitable[ControllerManager]]


@pytest.fixture
async def start_manager(kube: Kube) -> AsyncIterator[StartManager]:
    """Factory: ``await start_manager(controllers=[...], leader_elect=False, wait=True, **kwargs)``.

    Each manager gets its own ApiClient; all are stopped at teardown."""
    running: list[tuple[asyncio.Task[None], ApiClient]] = []

    async def start(*, wait: bool = True, **kwargs: Any) -> ControllerManager:
        client = ApiClient(kube.url, retry=FAST_RETRY)
        kwargs.setdefault("leader_elect", False)
        kwargs.setdefault("options", ControllerOptions(extra={"gc_discovery_period": 2.0}))
        mgr = ControllerManager(client, **kwargs)
        task = asyncio.create_task(mgr.run(), name=f"manager:{mgr.identity}")
        running.append((task, client))
        mgr.task = task  # type: ignore[attr-defined]
        if wait:
            await eventually(
                lambda: mgr.leading.is_set() or task.done(), timeout=20, what="controllers running"
            )
            if task.done():
                task.result()
        return mgr

    try:
        yield start
    finally:
        for task, _ in running:
            task.cancel()
        for task, client in running:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 10)
            await client.close()


@pytest.fixture
async def manager(start_manager: StartManager) -> ControllerManager:
    return await start_manager()


# --- a stand-in for the kubelet -----------------------------------------------------------------------


def running_ready_status(pod: dict[str, Any], ready: bool = True) -> dict[str, Any]:
    now = _now()
    flag = "True" if ready else "False"
    containers = (pod.get("spec") or {}).get("containers") or []
    return {
        "phase": "Running",
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
            {"type": "Initialized", "status": "True", "lastTransitionTime": now},
            {"type": "ContainersReady", "status": flag, "lastTransitionTime": now},
            {"type": "Ready", "status": flag, "lastTransitionTime": now},
        ],
        "hostIP": "10.0.0.1",
        "podIP": f"10.244.0.{(abs(hash(pod['metadata']['name'])) % 250) + 2}",
        "startTime": now,
        "containerStatuses": [
            {
                "name": c.get("name"),
                "image": c.get("image"),
                "imageID": f"docker.io/{c.get('image')}@sha256:{'0' * 64}",
                "ready": ready,
                "started": True,
                "restartCount": 0,
                "state": {"running": {"startedAt": now}},
            }
            for c in containers
        ],
    }


def is_ready(pod: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


@dataclass
class FakeKubelet:
    """Marks pods Running + Ready through ``pods/status`` as soon as (``delay`` after) they appear.

    ``select(pod)`` limits which pods; ``paused`` stops acting (pods stay Pending) until resumed."""

    api: ApiClient
    namespace: str | None = None
    delay: float = 0.0
    select: Callable[[dict[str, Any]], bool] | None = None
    paused: bool = False
    marked: set[str] = field(default_factory=set)
    _informer: Informer | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> FakeKubelet:
        self._informer = Informer(self.api.pods, namespace=self.namespace)
        self._informer.add_event_handler(self._seen, lambda old, new: self._seen(new))
        self._informer.start()
        await self._informer.wait_synced(10)
        return self

    def _seen(self, pod: dict[str, Any]) -> None:
        md = pod.get("metadata") or {}
        if self.paused or md.get("deletionTimestamp") or is_ready(pod) or md.get("uid") in self.marked:
            return
        if self.select is not None and not self.select(pod):
            return
        self.marked.add(md["uid"])
        task = asyncio.create_task(self._mark(pod))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _mark(self, pod: dict[str, Any]) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        await mark_ready(self.api, pod)

    def resume(self) -> None:
        self.paused = False
        if self._informer is not None:
            for pod in self._informer.list():
                self._seen(pod)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._informer is not None:
            await self._informer.stop()


async def mark_ready(api: ApiClient, pod: dict[str, Any], ready: bool = True) -> None:
    md = pod["metadata"]
    with contextlib.suppress(StatusError):
        await api.pods.patch_subresource(
            md["name"], "status", {"status": running_ready_status(pod, ready)}, namespace=md["namespace"]
        )


@pytest.fixture
async def kubelet(api: ApiClient) -> AsyncIterator[FakeKubelet]:
    k = await FakeKubelet(api).start()
    try:
        yield k
    finally:
        await k.stop()


async def new_namespace(api: ApiClient, prefix: str = "t") -> str:
    name = unique(prefix)
    await api.namespaces.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


def deployment(
    name: str,
    namespace: str,
    replicas: int = 3,
    image: str = "nginx:1.25",
    *,
    strategy: dict[str, Any] | None = None,
    labels: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    labels = labels or {"app": name}
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
            **spec,
        },
    }
    if strategy is not None:
        body["spec"]["strategy"] = strategy
    return body


def replicaset(
    name: str, namespace: str, replicas: int = 3, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    return {**deployment(name, namespace, replicas, labels=labels), "kind": "ReplicaSet"}


def pod(name: str, namespace: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {"containers": [{"name": "main", "image": "nginx:1.25"}]},
    }
