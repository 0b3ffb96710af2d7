"""Node agent lifecycle end to end, on the ``process`` runtime and on ``containerd`` when root.

- Pods outlive a ``kyb server`` stop (SIGTERM or SIGKILL of its whole process group), as they outlive a
  kubelet restart upstream: the restarted server re-attaches to the same containerd, the kubelet adopts
  the pod (same container IDs, same process, no restart count bump) and the pod is Ready again.
- ``kyb killall --data-dir`` (the explicit stop, like ``k3s-killall.sh``) stops the server, every pod,
  containerd and its shims: no process of the test is left behind.
- The QoS class the API server sets on create and the one the kubelet reports agree (one function).
- A container started right after a ConfigMap update gets the new value in its environment
  (``configMapKeyRef`` / ``envFrom``), even though the kubelet had the old value cached.

The killall test stops the server, so it is the last test of the module.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e._node_agent import (
    NODE_RUNTIMES,
    NodeServer,
    condition,
    container_status,
    leftover_processes,
    node_namespace,
    serve_node,
    wait_for,
)

pytestmark = [pytest.mark.kubectl, pytest.mark.timeout(300)]


@pytest.fixture(scope="module", params=NODE_RUNTIMES)
def node(request: pytest.FixtureRequest) -> Iterator[NodeServer]:
    yield from serve_node(request.param, check_leftovers=True)


@pytest.fixture
def ns(node: NodeServer) -> Iterator[str]:
    yield from node_namespace(node)


def processes_with(cmdline: str) -> list[int]:
    """Pids (not zombies) whose whole command line is ``cmdline``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and raw.replace(b"\0", b" ").decode(errors="replace").strip() == cmdline:
            found.append(int(entry.name))
    return found


def lease_renewed_after(node: NodeServer, since: float) -> bool:
    res = node.kubectl("get", "lease", node.node_name, "-n", "kube-node-lease", "-o", "json", check=False)
    if res.returncode != 0:
        return False
    import json

    renew = (json.loads(res.stdout).get("spec") or {}).get("renewTime") or ""
    try:
        when = datetime.fromisoformat(renew.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return False
    return when >= since - 1.0  # RFC 3339 micro time; allow clock rounding


# --- QoS ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        ({"requests": {"ephemeral-storage": "64Mi"}}, "BestEffort"),
        ({"requests": {"cpu": "10m", "ephemeral-storage": "64Mi"}}, "Burstable"),
        ({"limits": {"cpu": "100m", "memory": "64Mi"}}, "Guaranteed"),
    ],
)
def test_api_server_and_kubelet_agree_on_qos_class(
    node: NodeServer, ns: str, resources: dict[str, Any], expected: str
) -> None:
    name = f"qos-{expected.lower()}"
    spec = {"containers": [node.flavor.container("c", "exec sleep 600", resources=resources)]}
    node.create_pod(ns, name, spec)
    created = node.pod(ns, name)
    assert created["status"]["qosClass"] == expected  # what the API server set on create
    running = node.wait_running(ns, name)
    assert running["status"]["qosClass"] == expected  # what the kubelet posted with the Running status
    ready = node.wait_pod(ns, name, lambda p: condition(p, "Ready").get("status") == "True")
    assert ready["status"]["qosClass"] == expected


# --- env from a just-updated ConfigMap -----------------------------------------------------------------
def test_new_container_gets_current_configmap_value(node: NodeServer, ns: str) -> None:
    node.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cfg", "namespace": ns},
            "data": {"x": "old"},
        }
    )
    env = [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "x"}}}]
    env_from = [{"configMapRef": {"name": "cfg"}, "prefix": "ALL_"}]

    def spec() -> dict[str, Any]:
        script = 'echo "X=$X ALL_x=$ALL_x"; exec sleep 600'
        return {"containers": [node.flavor.container("c", script, env=env, envFrom=env_from)]}

    # the kubelet reads (and caches) the configMap for the first pod
    node.create_pod(ns, "first", spec())
    node.wait_running(ns, "first")
    assert "X=old ALL_x=old" in node.wait_logs(ns, "first", "X=")
    # update, then create a pod within a second: its container must see the new value
    node.kubectl("patch", "configmap", "cfg", "-n", ns, "--type=merge", "-p", '{"data":{"x":"new"}}')
    t0 = time.monotonic()
    node.create_pod(ns, "second", spec())
    assert time.monotonic() - t0 < 1.0 + 5.0  # kubectl itself takes a moment on a busy machine
    node.wait_running(ns, "second")
    assert "X=new ALL_x=new" in node.wait_logs(ns, "second", "X=")


# --- pods survive a server restart ----------------------------------------------------------------------
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_pod_survives_server_restart_and_is_ready_again(node: NodeServer, ns: str, sig: int) -> None:
    seconds = random.randint(100_000, 999_999)  # a command line unique to this test
    probe = {"exec": {"command": ["true"]}, "periodSeconds": 1}
    spec = {
        "containers": [
            # "$$" is Kubernetes' escaped "$": the shell sees "echo pid=$$"
            node.flavor.container("plain", f"echo pid=$$$$; exec sleep {seconds}"),
            node.flavor.container("probed", f"exec sleep {seconds + 1}", readinessProbe=probe),
        ]
    }
    node.create_pod(ns, "survivor", spec)
    before = node.wait_pod(
        ns, "survivor", lambda p: condition(p, "Ready").get("status") == "True", what="survivor Ready"
    )
    ids = {c["name"]: c["containerID"] for c in before["status"]["containerStatuses"]}
    started = {c["name"]: c["state"]["running"]["startedAt"] for c in before["status"]["containerStatuses"]}
    host_pids = processes_with(f"sleep {seconds}")
    assert len(host_pids) == 1, host_pids
    if node.runtime == "process":
        assert f"pid={host_pids[0]}" in node.logs(ns, "survivor", "-c", "plain")

    restarted_at = time.time()
    node.restart(sig)
    wait_for(lambda: lease_renewed_after(node, restarted_at), timeout=60, what="the new kubelet's lease")

    # The adopted container without a probe is ready from the first status the new kubelet posts
    # (before the fix it became and stayed not ready: ContainersNotReady); the probed one is ready again
    # once its (restarted) readiness probe succeeds.
    snapshots: list[dict[str, Any]] = []
    deadline = time.monotonic() + 8.0
    while time.monotonic() < deadline:
        snapshots.append(node.pod(ns, "survivor"))
        time.sleep(0.5)
    for pod in snapshots:
        plain = container_status(pod, "plain")
        assert plain.get("ready") is True, (plain, pod["status"].get("conditions"))
    after = node.wait_pod(
        ns, "survivor", lambda p: condition(p, "Ready").get("status") == "True", what="survivor Ready again"
    )
    assert after["status"]["phase"] == "Running"
    for name in ("plain", "probed"):
        cs = container_status(after, name)
        assert cs["containerID"] == ids[name], "the container was replaced, not adopted"
        assert cs["restartCount"] == 0
        assert cs["ready"] is True and cs["started"] is True
        assert cs["state"]["running"]["startedAt"] == started[name]
    assert processes_with(f"sleep {seconds}") == host_pids  # the very same process
    if node.runtime == "containerd":
        assert len(leftover_processes(f"{node.data_dir}/agent/containerd/config.toml")) == 1, (
            "exactly one containerd: re-attached, not a second one"
        )
    node.kubectl("delete", "pod", "survivor", "-n", ns, "--grace-period=1", "--timeout=60s")
    assert not processes_with(f"sleep {seconds}")


# --- the explicit stop: last, it stops the server ---------------------------------------------------------
def test_killall_stops_server_pods_and_runtime(node: NodeServer, ns: str) -> None:
    seconds = random.randint(100_000, 999_999)
    node.create_pod(ns, "victim", {"containers": [node.flavor.container("c", f"exec sleep {seconds}")]})
    node.wait_running(ns, "victim")
    assert processes_with(f"sleep {seconds}")
    res = node.killall()
    assert res.returncode == 0, (res.stdout, res.stderr[-3000:])
    assert "stopping kyb" in res.stdout
    assert node.server.proc is not None and node.server.proc.poll() is not None, "the server still runs"
    assert not processes_with(f"sleep {seconds}"), "a pod process outlived kyb killall"
    left = leftover_processes(str(node.data_dir))
    assert not left, f"left behind: {left}"
    mounts = [
        line for line in Path("/proc/self/mounts").read_text().splitlines() if str(node.data_dir) in line
    ]
    assert not mounts, mounts
    # idempotent: nothing left to stop
    again = node.killall()
    assert again.returncode == 0, again.stderr[-2000:]
    assert os.path.isdir(node.data_dir)  # killall stops things; it does not delete state
