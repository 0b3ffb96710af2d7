"""Shared helpers of the kubelet tests: a ``Kubelet`` on the process runtime against the in-process API
server (``tests/controllers/_node_fixtures.py``), with test timings set through ``KubeletOptions``.

No tests live here; the other ``test_agent*``/``test_lifecycle*``/``test_probes*``/``test_volumes*``
modules import ``running_kubelet``, ``wait_pod`` and ``pod_spec``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from kybernetes.api.meta import Obj
from kybernetes.client import ApiClient
from kybernetes.kubelet.agent import Kubelet
from kybernetes.kubelet.options import KubeletOptions
from kybernetes.kubelet.runtimes import ProcessRuntime
from tests.controllers._node_fixtures import eventually

NODE = "node-1"


def fast_options(**overrides: Any) -> KubeletOptions:
    values: dict[str, Any] = {
        "node_ip": "127.0.0.1",
        "heartbeat_interval": 0.3,
        "node_status_update_frequency": 0.3,
        "pleg_relist_period": 0.1,
        "sync_frequency": 0.5,
        "restart_backoff_base": 0.4,
        "restart_backoff_max": 3.2,
        "image_pull_backoff_base": 0.4,
        "image_pull_backoff_max": 3.2,
        "eviction_hard": {},
        "system_reserved": {"cpu": "100m", "memory": "100Mi"},
    }
    values.update(overrides)
    return KubeletOptions(**values)


@contextlib.asynccontextmanager
async def running_kubelet(api: ApiClient, tmp_path: Path, **overrides: Any) -> AsyncIterator[Kubelet]:
    runtime = ProcessRuntime(tmp_path / "runtime", node_ip="127.0.0.1", use_cgroups=False)
    await runtime.start()
    kubelet = Kubelet(
        api,
        runtime,
        NODE,
        root_dir=tmp_path / "kubelet",
        options=fast_options(**overrides),
        manage_runtime=False,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(kubelet.run(stop))
    try:
        await asyncio.wait_for(kubelet.ready.wait(), 20)
        yield kubelet
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        for status in await runtime.list_containers():
            if status.state == "running":
                with contextlib.suppress(Exception):
                    await runtime.stop_container(status.id, 0)
        await runtime.close()


def pod_spec(
    name: str,
    containers: list[Obj],
    *,
    init: list[Obj] | None = None,
    restart_policy: str = "Always",
    volumes: list[Obj] | None = None,
    grace: int | None = None,
) -> Obj:
    spec: Obj = {"nodeName": NODE, "containers": containers, "restartPolicy": restart_policy}
    if init:
        spec["initContainers"] = init
    if volumes:
        spec["volumes"] = volumes
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }


def sh(name: str, script: str, **extra: Any) -> Obj:
    return {"name": name, "image": "busybox:1.36", "command": ["/bin/sh", "-c", script], **extra}


async def wait_pod(
    api: ApiClient,
    name: str,
    check: Callable[[Obj], bool],
    *,
    timeout: float = 15.0,  # noqa: ASYNC109
    what: str = "",
) -> Obj:
    async def probe() -> Obj | None:
        pod = await api.pods.get(name, namespace="default")
        return pod if check(pod) else None

    result: Obj = await eventually(probe, timeout=timeout, interval=0.1, what=what or f"pod {name}")
    return result


def conditions(pod: Obj) -> dict[str, str]:
    return {c["type"]: c["status"] for c in (pod.get("status") or {}).get("conditions") or []}


def container_status(pod: Obj, name: str = "c", *, init: bool = False) -> Obj:
    key = "initContainerStatuses" if init else "containerStatuses"
    for cs in (pod.get("status") or {}).get(key) or []:
        if cs["name"] == name:
            result: Obj = cs
            return result
    return {}
