"""The kubelet on the process runtime: node registration and lease, a pod running with its init container,
status fields, CrashLoopBackOff with growing back-off, restartPolicy Never, find_container."""

from __future__ import annotations

import os
from pathlib import Path

from kybernetes.client import ApiClient
from kybernetes.kubelet.options import KUBELET_VERSION
from tests.controllers._node_fixtures import api, eventually, server
from tests.kubelet.test_agent_fixtures import (
    NODE,
    conditions,
    container_status,
    pod_spec,
    running_kubelet,
    sh,
    wait_pod,
)

__all__ = ["api", "server"]


async def test_node_registered_with_capacity_and_lease(api: ApiClient, tmp_path: Path) -> None:
    async with running_kubelet(api, tmp_path, instance_type="m5.large", node_labels={"zone": "a"}):
        node = await api.nodes.get(NODE)
        status = node["status"]
        assert status["capacity"]["cpu"] == str(os.cpu_count())
        assert status["capacity"]["pods"] == "110"
        assert status["allocatable"]["cpu"] == f"{os.cpu_count() * 1000 - 100}m"
        assert status["capacity"]["memory"].endswith("Ki")
        assert "ephemeral-storage" in status["allocatable"]
        labels = node["metadata"]["labels"]
        assert labels["kubernetes.io/hostname"] == NODE
        assert labels["node.kubernetes.io/instance-type"] == "m5.large"
        assert labels["zone"] == "a"
        assert labels["kubernetes.io/os"] == "linux"
        info = status["nodeInfo"]
        assert info["containerRuntimeVersion"].startswith("process://")
        assert info["kubeletVersion"] == KUBELET_VERSION
        assert {a["type"] for a in status["addresses"]} == {"InternalIP", "Hostname"}
        assert status["daemonEndpoints"]["kubeletEndpoint"]["Port"] == 10250
        ready = {c["type"]: c for c in status["conditions"]}
        assert ready["Ready"]["status"] == "True"
        assert ready["Ready"]["reason"] == "KubeletReady"
        assert ready["MemoryPressure"]["status"] == "False"
        assert ready["DiskPressure"]["reason"] == "KubeletHasNoDiskPressure"
        lease = await api.leases.get(NODE, namespace="kube-node-lease")
        first = lease["spec"]["renewTime"]
        assert lease["metadata"]["ownerReferences"][0]["uid"] == node["metadata"]["uid"]

        async def renewed() -> bool:
            current = await api.leases.get(NODE, namespace="kube-node-lease")
            return bool(current["spec"]["renewTime"] != first)

        await eventually(renewed, timeout=5, what="lease renewal")


async def test_pod_runs_after_its_init_container(api: ApiClient, tmp_path: Path) -> None:
    order = tmp_path / "order"
    pod = pod_spec(
        "web",
        [sh("c", f"echo app >> {order}; exec sleep 300", resources={"requests": {"cpu": "10m"}})],
        init=[sh("init", f"sleep 0.3; echo init >> {order}")],
    )
    async with running_kubelet(api, tmp_path) as kubelet:
        await api.pods.create(pod)
        running = await wait_pod(
            api, "web", lambda p: conditions(p).get("Ready") == "True", what="pod Running and Ready"
        )
        st = running["status"]
        assert st["phase"] == "Running"
        await eventually(lambda: order.read_text().count("\n") == 2, timeout=5, what="app output")
        assert order.read_text() == "init\napp\n"
        cs = container_status(running)
        assert "running" in cs["state"] and cs["ready"] is True and cs["started"] is True
        assert cs["containerID"].startswith("process://")
        assert cs["restartCount"] == 0
        ics = container_status(running, "init", init=True)
        assert ics["state"]["terminated"]["reason"] == "Completed"
        assert ics["state"]["terminated"]["exitCode"] == 0
        conds = conditions(running)
        assert conds["Initialized"] == "True" and conds["ContainersReady"] == "True"
        assert conds["PodReadyToStartContainers"] == "True"
        assert st["podIP"] == st["hostIP"] == "127.0.0.1"
        assert st["qosClass"] == "Burstable"
        assert st["startTime"]
        _runtime, cid, log_path = kubelet.find_container("default", "web", None)
        assert cs["containerID"] == f"process://{cid}"
        assert log_path
        try:
            kubelet.find_container("default", "web", "nope")
        except LookupError as exc:
            assert "not valid" in str(exc)
        else:
            raise AssertionError("LookupError expected")
        assert kubelet.sandbox_of("default", "web")
        events = (await api.events.list(namespace="default"))["items"]
        reasons = {e["reason"] for e in events if e["involvedObject"]["name"] == "web"}
        assert {"Created", "Started"} <= reasons


async def test_crash_loop_backoff_grows(api: ApiClient, tmp_path: Path) -> None:
    async with running_kubelet(api, tmp_path):
        created = await api.pods.create(pod_spec("crash", [sh("c", "exit 3")]))
        uid = created["metadata"]["uid"]
        messages: set[str] = set()

        async def seen_growth() -> bool:
            pod = await api.pods.get("crash", namespace="default")
            waiting = container_status(pod).get("state", {}).get("waiting") or {}
            if waiting.get("reason") == "CrashLoopBackOff":
                messages.add(waiting["message"])
            return {"back-off 400ms", "back-off 800ms"} <= {m.split(" restarting")[0] for m in messages}

        await eventually(seen_growth, timeout=15, interval=0.05, what="growing CrashLoopBackOff")
        assert f"back-off 800ms restarting failed container=c pod=crash_default({uid})" in messages
        pod = await api.pods.get("crash", namespace="default")
        cs = container_status(pod)
        assert cs["restartCount"] >= 2
        assert cs["lastState"]["terminated"]["exitCode"] == 3
        assert cs["lastState"]["terminated"]["reason"] == "Error"
        assert pod["status"]["phase"] == "Running"
        assert conditions(pod)["Ready"] == "False"


async def test_restart_never_succeeds_and_fails(api: ApiClient, tmp_path: Path) -> None:
    async with running_kubelet(api, tmp_path):
        await api.pods.create(pod_spec("ok", [sh("c", "echo done")], restart_policy="Never"))
        await api.pods.create(pod_spec("bad", [sh("c", "exit 2")], restart_policy="OnFailure"))
        await api.pods.create(pod_spec("never", [sh("c", "exit 5")], restart_policy="Never"))
        ok = await wait_pod(api, "ok", lambda p: p["status"].get("phase") == "Succeeded")
        term = container_status(ok)["state"]["terminated"]
        assert term["reason"] == "Completed" and term["exitCode"] == 0
        assert conditions(ok)["Ready"] == "False"
        never = await wait_pod(api, "never", lambda p: p["status"].get("phase") == "Failed")
        assert container_status(never)["state"]["terminated"]["exitCode"] == 5
        bad = await wait_pod(api, "bad", lambda p: container_status(p).get("restartCount", 0) >= 1)
        assert bad["status"]["phase"] == "Running"


async def test_new_pod_starts_at_once_with_default_sync_frequency(api: ApiClient, tmp_path: Path) -> None:
    """A pod arriving bound must start right away, not on the next periodic resync (60 s by default)."""
    async with running_kubelet(api, tmp_path, sync_frequency=60.0):
        await api.pods.create(pod_spec("prompt", [sh("c", "echo hi")], restart_policy="Never"))
        pod = await wait_pod(api, "prompt", lambda p: p["status"].get("phase") == "Succeeded", timeout=10)
        assert container_status(pod)["state"]["terminated"]["exitCode"] == 0


async def test_restarted_container_reads_the_current_configmap(api: ApiClient, tmp_path: Path) -> None:
    """A container being (re)started gets current configMap values in its env, although the kubelet's
    object cache (10 s here) still holds the old one; cached reads are for volume refreshes only."""
    out = tmp_path / "seen"
    await api.configmaps.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cfg", "namespace": "default"},
            "data": {"x": "v1"},
        }
    )
    env = [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "x"}}}]
    async with running_kubelet(api, tmp_path, sync_frequency=20.0) as kubelet:
        assert kubelet.objects.ttl == 10.0
        await api.pods.create(
            pod_spec("reader", [sh("c", f"echo X=$X >> {out}; sleep 0.3; exit 1", env=env)])
        )

        def seen() -> list[str]:
            try:
                return out.read_text().split()
            except OSError:
                return []

        await eventually(lambda: "X=v1" in seen(), timeout=15, what="the first value")
        await api.configmaps.patch("cfg", {"data": {"x": "v2"}}, namespace="default")
        # the next restarts come after 0.4 s, 0.8 s, 1.6 s of back-off: well within the cache's 10 s
        await eventually(lambda: "X=v2" in seen(), timeout=6, what="the new value after a restart")


async def test_restarted_kubelet_adopts_running_pod_and_it_stays_ready(
    api: ApiClient, tmp_path: Path
) -> None:
    """A new kubelet on the same runtime state adopts the running container (same ID, no restart) and
    reports it ready again: probe workers are restarted for adopted containers (no ContainersNotReady)."""
    import asyncio
    import contextlib

    from kybernetes.kubelet.agent import Kubelet
    from kybernetes.kubelet.runtimes import ProcessRuntime
    from tests.kubelet.test_agent_fixtures import fast_options

    probe = {"exec": {"command": ["true"]}, "periodSeconds": 1}
    spec = pod_spec(
        "kept", [sh("plain", "exec sleep 600"), sh("probed", "exec sleep 601", readinessProbe=probe)]
    )
    uid = (await api.pods.create(spec))["metadata"]["uid"]
    runtime = ProcessRuntime(tmp_path / "runtime", node_ip="127.0.0.1", use_cgroups=False)
    ids: dict[str, str] = {}
    try:
        for generation in (1, 2):
            if generation == 2:  # a fresh runtime object on the same state, as after a process restart
                runtime = ProcessRuntime(tmp_path / "runtime", node_ip="127.0.0.1", use_cgroups=False)
            await runtime.start()
            kubelet = Kubelet(api, runtime, NODE, root_dir=tmp_path / "kubelet", options=fast_options())
            stop = asyncio.Event()
            task = asyncio.create_task(kubelet.run(stop))
            try:
                await asyncio.wait_for(kubelet.ready.wait(), 20)
                if generation == 2:
                    # the first status the new kubelet posts has the adopted probe-less container ready
                    first = await eventually(lambda: kubelet.status.last(uid), timeout=10, what="a status")  # noqa: B023
                    plain = [c for c in first["containerStatuses"] if c["name"] == "plain"]
                    assert plain and plain[0]["ready"] is True, first
                pod = await wait_pod(api, "kept", lambda p: conditions(p).get("Ready") == "True")
                now = {c["name"]: c["containerID"] for c in pod["status"]["containerStatuses"]}
                if generation == 1:
                    ids = now
                else:
                    assert now == ids, "not adopted: the containers were replaced"
                    assert all(c["restartCount"] == 0 for c in pod["status"]["containerStatuses"])
                    assert container_status(pod, "probed")["ready"] is True
            finally:
                stop.set()
                await asyncio.wait_for(task, 20)
                await runtime.close()
    finally:
        await runtime.start()
        for status in await runtime.list_containers():
            if status.state == "running":
                with contextlib.suppress(Exception):
                    await runtime.stop_container(status.id, 0)
        await runtime.close()
