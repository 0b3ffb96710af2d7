"""Ephemeral containers in the kubelet on the process runtime: started even while initialization blocks,
never restarted (also across a kubelet restart, which adopts them), a start failure kept as terminated
``StartError``, a target that has no instance yet reported as ``CreateContainerConfigError``, killed with
the pod."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from kybernetes.api.meta import Obj
from kybernetes.client import ApiClient
from kybernetes.kubelet.agent import Kubelet
from kybernetes.kubelet.runtimes import ProcessRuntime
from tests.controllers._node_fixtures import api, eventually, server
from tests.kubelet.test_agent_fixtures import NODE, fast_options, pod_spec, running_kubelet, sh, wait_pod

__all__ = ["api", "server"]


def ephemeral(pod: Obj, name: str) -> Obj:
    for status in (pod.get("status") or {}).get("ephemeralContainerStatuses") or []:
        if status.get("name") == name:
            return dict(status)
    return {}


def state_of(pod: Obj, name: str) -> str:
    return next(iter(ephemeral(pod, name).get("state") or {"": None}))


async def add(api: ApiClient, pod: str, *containers: Obj) -> Obj:
    current = await api.pods.get(pod, namespace="default")
    existing = list((current.get("spec") or {}).get("ephemeralContainers") or [])
    result: Obj = await api.pods.patch(
        pod,
        {"spec": {"ephemeralContainers": [*existing, *containers]}},
        namespace="default",
        subresource="ephemeralcontainers",
    )
    return result


async def test_started_while_init_blocks_and_never_restarted(api: ApiClient, tmp_path: Path) -> None:
    marker = tmp_path / "runs"
    pod = pod_spec(
        "blocked",
        [sh("app", "exec sleep 300")],
        init=[sh("init", "exec sleep 300")],  # initialization never completes
    )
    async with running_kubelet(api, tmp_path):
        await api.pods.create(pod)
        await wait_pod(
            api,
            "blocked",
            lambda p: "running" in (p["status"].get("initContainerStatuses") or [{}])[0].get("state", {}),
            what="init container running",
        )
        await add(api, "blocked", sh("once", f"echo run >> {marker}; exit 0"))
        done = await wait_pod(
            api, "blocked", lambda p: state_of(p, "once") == "terminated", what="ephemeral container done"
        )
        status = ephemeral(done, "once")
        assert status["state"]["terminated"]["exitCode"] == 0
        assert status["restartCount"] == 0 and status["ready"] is False
        assert done["status"]["phase"] == "Pending"  # ephemeral containers count for nothing
        # a second one, and a sync for each: the first never runs again
        await add(api, "blocked", sh("twice", "exit 0"))
        later = await wait_pod(api, "blocked", lambda p: state_of(p, "twice") == "terminated")
        assert ephemeral(later, "once")["containerID"] == status["containerID"]
        assert marker.read_text() == "run\n"


async def test_start_failure_is_terminated_not_retried(api: ApiClient, tmp_path: Path) -> None:
    async with running_kubelet(api, tmp_path):
        await api.pods.create(pod_spec("web", [sh("app", "exec sleep 300")]))
        await wait_pod(api, "web", lambda p: p["status"].get("phase") == "Running")
        await add(api, "web", {"name": "broken", "image": "busybox", "command": ["no-such-command-xyz"]})
        failed = await wait_pod(api, "web", lambda p: state_of(p, "broken") == "terminated")
        term = ephemeral(failed, "broken")["state"]["terminated"]
        assert (term["reason"], term["exitCode"]) == ("StartError", 128), term
        first_id = ephemeral(failed, "broken")["containerID"]
        await add(api, "web", sh("after", "exit 0"))
        later = await wait_pod(api, "web", lambda p: state_of(p, "after") == "terminated")
        assert ephemeral(later, "broken")["containerID"] == first_id


async def test_target_without_an_instance_waits(api: ApiClient, tmp_path: Path) -> None:
    pod = pod_spec("gated", [sh("app", "exec sleep 300")], init=[sh("init", "exec sleep 300")])
    async with running_kubelet(api, tmp_path):
        await api.pods.create(pod)
        await add(api, "gated", sh("peek", "exit 0", targetContainerName="app"))
        waiting = await wait_pod(
            api,
            "gated",
            lambda p: (
                (ephemeral(p, "peek").get("state") or {}).get("waiting", {}).get("reason")
                == "CreateContainerConfigError"
            ),
            what="peek waiting on its target",
        )
        assert (
            ephemeral(waiting, "peek")["state"]["waiting"]["message"] == "unable to find target container app"
        )


@contextlib.asynccontextmanager
async def kubelet_on(api: ApiClient, root: Path) -> AsyncIterator[Kubelet]:
    """A kubelet whose containers outlive it (unlike ``running_kubelet``): for restart tests."""
    runtime = ProcessRuntime(root / "runtime", node_ip="127.0.0.1", use_cgroups=False)
    await runtime.start()
    kubelet = Kubelet(
        api, runtime, NODE, root_dir=root / "kubelet", options=fast_options(), manage_runtime=False
    )
    stop = asyncio.Event()
    task = asyncio.create_task(kubelet.run(stop))
    try:
        await asyncio.wait_for(kubelet.ready.wait(), 20)
        yield kubelet
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        await runtime.close()


async def test_kubelet_restart_adopts_ephemeral_container(api: ApiClient, tmp_path: Path) -> None:
    marker = tmp_path / "starts"
    stop_file = tmp_path / "stop"
    script = f"echo start >> {marker}; while [ ! -e {stop_file} ]; do sleep 0.1; done"
    try:
        async with kubelet_on(api, tmp_path):
            await api.pods.create(pod_spec("adopt", [sh("app", "exec sleep 300")]))
            await wait_pod(api, "adopt", lambda p: p["status"].get("phase") == "Running")
            await add(api, "adopt", sh("dbg", script))
            running = await wait_pod(api, "adopt", lambda p: state_of(p, "dbg") == "running")
            cid = ephemeral(running, "dbg")["containerID"]
        async with kubelet_on(api, tmp_path) as kubelet:
            st = next(w.state for w in kubelet.workers.values() if w.state.name == "adopt")
            rec = st.containers["dbg"]
            assert rec.ephemeral and "process://" + rec.container_id == cid
            stop_file.touch()
            done = await wait_pod(api, "adopt", lambda p: state_of(p, "dbg") == "terminated")
            assert ephemeral(done, "dbg")["containerID"] == cid
            assert marker.read_text() == "start\n"
            await api.pods.delete("adopt", namespace="default", grace_period_seconds=1)

            async def gone() -> bool:
                return not [w for w in kubelet.workers.values() if w.state.name == "adopt"]

            await eventually(gone, timeout=20, what="pod worker done")
    finally:
        stop_file.touch()
