"""Pod lifecycle on the process runtime: graceful deletion (preStop, SIGTERM, SIGKILL after the grace
period, the pod disappears only after its containers stopped), postStart, static pods and their mirror."""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from kybernetes.client import ApiClient, StatusError
from kybernetes.kubelet.static_pods import ANNOTATION_MIRROR
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


async def test_graceful_deletion_prestop_then_term_then_kill(api: ApiClient, tmp_path: Path) -> None:
    log = tmp_path / "log"
    script = f"trap 'echo TERM >> {log}' TERM; echo started >> {log}; while true; do sleep 0.1; done"
    container = sh(
        "c",
        script,
        lifecycle={
            "preStop": {"exec": {"command": ["/bin/sh", "-c", f"echo prestop >> {log}"]}},
            "postStart": {"exec": {"command": ["/bin/sh", "-c", f"echo poststart >> {tmp_path / 'post'}"]}},
        },
    )
    async with running_kubelet(api, tmp_path) as kubelet:
        await api.pods.create(pod_spec("graceful", [container], grace=2))
        await wait_pod(api, "graceful", lambda p: conditions(p).get("Ready") == "True")
        assert (tmp_path / "post").read_text() == "poststart\n"
        _, cid, _ = kubelet.find_container("default", "graceful", "c")
        started = time.monotonic()
        await api.pods.delete("graceful", namespace="default", grace_period_seconds=2)
        pod = await api.pods.get("graceful", namespace="default")
        assert pod["metadata"]["deletionTimestamp"]

        async def gone() -> bool:
            try:
                await api.pods.get("graceful", namespace="default")
            except StatusError as exc:
                return exc.code == 404
            return False

        await eventually(gone, timeout=15, what="pod deleted")
        elapsed = time.monotonic() - started
        assert elapsed >= 1.5, elapsed  # SIGTERM was ignored: SIGKILL came at the end of the grace period
        status = await kubelet.runtime.list_containers()
        assert all(s.state != "running" for s in status)
        lines = log.read_text().split()
        assert lines[0] == "started"
        assert lines.index("prestop") < lines.index("TERM"), lines
        assert cid not in {s.id for s in status}  # removed after it stopped


async def test_quick_exit_on_sigterm_deletes_promptly(api: ApiClient, tmp_path: Path) -> None:
    async with running_kubelet(api, tmp_path):
        await api.pods.create(pod_spec("quick", [sh("c", "exec sleep 300")], grace=30))
        await wait_pod(api, "quick", lambda p: p["status"].get("phase") == "Running")
        started = time.monotonic()
        await api.pods.delete("quick", namespace="default")

        async def gone() -> bool:
            try:
                await api.pods.get("quick", namespace="default")
            except StatusError as exc:
                return exc.code == 404
            return False

        await eventually(gone, timeout=10, what="pod deleted")
        assert time.monotonic() - started < 10


async def test_static_pod_runs_and_is_mirrored(api: ApiClient, tmp_path: Path) -> None:
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    marker = tmp_path / "static-ran"
    manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "etcd", "namespace": "kube-system"},
        "spec": {"containers": [sh("c", f"echo ran > {marker}; exec sleep 300")]},
    }
    (manifests / "etcd.yaml").write_text(yaml.safe_dump(manifest))
    async with running_kubelet(api, tmp_path, pod_manifest_path=manifests, file_check_frequency=0.3):
        name = f"etcd-{NODE}"

        async def mirrored() -> dict | None:
            try:
                pod = await api.pods.get(name, namespace="kube-system")
            except StatusError:
                return None
            return pod if pod["status"].get("phase") == "Running" else None

        mirror = await eventually(mirrored, timeout=15, what="mirror pod Running")
        assert ANNOTATION_MIRROR in mirror["metadata"]["annotations"]
        assert mirror["spec"]["nodeName"] == NODE
        assert mirror["metadata"]["ownerReferences"][0]["kind"] == "Node"
        await eventually(lambda: marker.exists() and marker.read_text() == "ran\n", timeout=5, what="marker")
        assert container_status(mirror)["ready"] is True
        # deleting the mirror pod does not stop the static pod: the mirror comes back
        await api.pods.delete(name, namespace="kube-system", grace_period_seconds=0)
        await eventually(mirrored, timeout=15, what="mirror pod recreated")
        # removing the manifest stops the pod and deletes its mirror
        (manifests / "etcd.yaml").unlink()

        async def mirror_gone() -> bool:
            try:
                await api.pods.get(name, namespace="kube-system")
            except StatusError as exc:
                return exc.code == 404
            return False

        await eventually(mirror_gone, timeout=15, what="mirror pod deleted")


async def test_sidecar_init_container_keeps_running(api: ApiClient, tmp_path: Path) -> None:
    order = tmp_path / "order"
    sidecar = sh("proxy", f"echo sidecar >> {order}; exec sleep 300", restartPolicy="Always")
    init = sh("setup", f"echo setup >> {order}")
    app = sh("c", f"echo app >> {order}; exec sleep 300")
    async with running_kubelet(api, tmp_path):
        await api.pods.create(pod_spec("sidecar", [app], init=[sidecar, init]))
        pod = await wait_pod(api, "sidecar", lambda p: conditions(p).get("Ready") == "True")
        await eventually(lambda: order.read_text().count("\n") == 3, timeout=5, what="app output")
        assert order.read_text() == "sidecar\nsetup\napp\n"
        proxy = container_status(pod, "proxy", init=True)
        assert "running" in proxy["state"] and proxy["started"] is True
        assert container_status(pod, "setup", init=True)["state"]["terminated"]["reason"] == "Completed"
        assert conditions(pod)["Initialized"] == "True"
