"""``kyb server`` runs every embedded component of the list, and each ``--disable-<name>`` leaves exactly
that one out.

Each component leaves a mark a real client can see: the scheduler and the controller manager hold their
leader Leases in ``kube-system`` (and ``kubectl get componentstatuses`` says Healthy), the node agent
registers its Node and makes it Ready. The server logs the set it started. Servers run the agent on the
process runtime (no pods are created) and every one is stopped with SIGTERM (exit 0), then ``kyb
killall`` on its data dir.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import KybServer, unique, wait_for

pytestmark = pytest.mark.kubectl

EMBEDDED = ("scheduler", "controller-manager", "agent")
LEASES = {"scheduler": "kube-scheduler", "controller-manager": "kube-controller-manager"}


def _lease_holder(server: KybServer, name: str) -> str:
    resp = server.request("GET", f"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/{name}")
    if resp.status != 200:
        return ""
    return str((resp.json().get("spec") or {}).get("holderIdentity") or "")


def _node_ready(server: KybServer, node: str) -> bool:
    resp = server.request("GET", f"/api/v1/nodes/{node}")
    if resp.status != 200:
        return False
    conditions = (resp.json().get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _running(server: KybServer, component: str, node: str) -> bool:
    if component == "agent":
        return _node_ready(server, node)
    return bool(_lease_holder(server, LEASES[component]))


def _started_line(server: KybServer) -> str:
    for line in server.log_path.read_text().splitlines():
        if "embedded components:" in line:
            return line.split("embedded components:", 1)[1].strip()
    return ""


def _start(*extra: str) -> tuple[KybServer, str]:
    node = unique("comp-node")
    server = KybServer(
        components=True,
        agent=True,
        extra_args=["--node-name", node, "--runtime", "process", *extra],
    )
    server.start()
    return server, node


def _finish(server: KybServer) -> None:
    try:
        assert server.stop() == 0, server.log_path.read_text()[-3000:]
    finally:
        subprocess.run(
            [sys.executable, "-m", "kybernetes.cli.main", "killall", "--data-dir", str(server.data_dir)],
            capture_output=True,
            timeout=120,
            check=False,
        )
        server.cleanup()


@pytest.fixture(scope="module")
def full() -> Iterator[tuple[KybServer, str]]:
    server, node = _start()
    try:
        yield server, node
    finally:
        _finish(server)


def test_server_starts_every_embedded_component(full: tuple[KybServer, str]) -> None:
    server, node = full
    for component in EMBEDDED:
        wait_for(lambda c=component: _running(server, c, node), timeout=60, what=f"{component} running")
    assert _started_line(server) == ", ".join(EMBEDDED)
    statuses: dict[str, Any] = {
        item["metadata"]["name"]: item
        for item in server.kubectl_json("get", "componentstatuses")["items"]  # deprecated, still served
    }
    for name in ("scheduler", "controller-manager"):
        assert statuses[name]["conditions"][0]["status"] == "True", statuses[name]


@pytest.mark.parametrize("disabled", EMBEDDED)
def test_each_disable_flag_leaves_out_that_component(disabled: str) -> None:
    server, node = _start(f"--disable-{disabled}")
    try:
        others = [c for c in EMBEDDED if c != disabled]
        for component in others:
            wait_for(lambda c=component: _running(server, c, node), timeout=60, what=f"{component} running")
        assert _started_line(server) == ", ".join(others)
        # the others are up and held their marks; the disabled one, started alongside them, would have too
        assert not _running(server, disabled, node), disabled
        if disabled == "agent":
            assert server.request("GET", f"/api/v1/nodes/{node}").status == 404
        else:
            assert _lease_holder(server, LEASES[disabled]) == ""
        if disabled == "controller-manager":
            _foreground_deletion_waits_for_a_separate_garbage_collector(server)
    finally:
        _finish(server)


def _foreground_deletion_waits_for_a_separate_garbage_collector(server: KybServer) -> None:
    """No garbage collector in the server: a foreground delete still gets its finalizer (upstream), and
    a ``kyb controller-manager`` started afterwards in its own process completes the deletion."""
    ns = server.create_namespace()
    server.kubectl("create", "configmap", "owner", "-n", ns)
    server.kubectl("delete", "configmap", "owner", "-n", ns, "--cascade=foreground", "--wait=false")
    held = server.kubectl_json("get", "configmap", "owner", "-n", ns)
    assert held["metadata"].get("finalizers") == ["foregroundDeletion"], held["metadata"]
    assert held["metadata"].get("deletionTimestamp")
    log = (server.data_dir / "cm.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "kybernetes.cli.main", "controller-manager",
            "--kubeconfig", str(server.kubeconfig), "--controllers", "garbagecollector",
        ],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        gone = server.kubectl("get", "configmap", "owner", "-n", ns, "--ignore-not-found", "-o", "name")
        assert gone.stdout.strip(), "deleted before any garbage collector ran"
        wait_for(
            lambda: not server.kubectl("get", "configmap", "owner", "-n", ns, "--ignore-not-found").stdout,
            timeout=60,
            what="the separate controller manager's garbage collector to finish the deletion",
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()
    assert proc.returncode == 0, (server.data_dir / "cm.log").read_text()[-2000:]


def test_controller_manager_refuses_unknown_controllers(full: tuple[KybServer, str]) -> None:
    server, _ = full
    result = subprocess.run(
        [
            sys.executable, "-m", "kybernetes.cli.main", "controller-manager",
            "--kubeconfig", str(server.kubeconfig), "--controllers", "replicaset,nope",
        ],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result
    assert result.stderr.strip().splitlines()[-1] == "kyb controller-manager: unknown controllers: nope"
