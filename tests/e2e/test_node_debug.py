"""``kubectl debug`` end to end: ephemeral containers run by the embedded node agent, on the ``process``
runtime everywhere and on ``containerd`` when root (``CI=true``: must run).

One server per runtime for the module. Covered: ``kubectl debug POD --image=... -c NAME -- cmd`` adds an
ephemeral container that runs once (never restarted) with its state in ``ephemeralContainerStatuses``
and its output in ``kubectl logs -c NAME``; ``kubectl debug -i`` attaches to it; ``--target`` shows the
target container's processes (containerd shares the target's pid namespace; the process runtime has no
pid namespaces, so every process of the host is visible anyway).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e._node_agent import NODE_RUNTIMES, NodeServer, node_namespace, serve_node, unique
from tests.e2e.conftest import KUBECTL, LineReader

pytestmark = [pytest.mark.kubectl, pytest.mark.timeout(240)]


@pytest.fixture(scope="module", params=NODE_RUNTIMES)
def node(request: pytest.FixtureRequest) -> Iterator[NodeServer]:
    yield from serve_node(request.param)


@pytest.fixture
def ns(node: NodeServer) -> Iterator[str]:
    yield from node_namespace(node)


def ephemeral_status(pod: dict[str, Any], name: str) -> dict[str, Any]:
    for status in (pod.get("status") or {}).get("ephemeralContainerStatuses") or []:
        if status.get("name") == name:
            return dict(status)
    return {}


def wait_ephemeral(node: NodeServer, ns: str, pod: str, name: str, state: str) -> dict[str, Any]:
    found = node.wait_pod(
        ns,
        pod,
        lambda p: state in (ephemeral_status(p, name).get("state") or {}),
        what=f"ephemeral container {name} of {ns}/{pod} {state}",
    )
    return dict(found)


def started_events(node: NodeServer, ns: str, pod: str, container: str) -> int:
    events = node.kubectl_json("get", "events", "-n", ns, "--field-selector", f"involvedObject.name={pod}")
    return sum(
        int(e.get("count") or 1)
        for e in events["items"]
        if e.get("reason") == "Started" and e.get("message") == f"Started container {container}"
    )


def app_pod(node: NodeServer, ns: str, name: str, marker: str) -> None:
    node.create_pod(
        ns, name, {"containers": [node.flavor.container("app", f"echo ready; exec sleep {marker}")]}
    )
    node.wait_running(ns, name)


def test_debug_runs_an_ephemeral_container_once(node: NodeServer, ns: str) -> None:
    f = node.flavor
    app_pod(node, ns, "web", "600")
    out = node.kubectl(
        "debug", "web", "-n", ns, f"--image={f.image}", "-c", "debugger", "--", "sh", "-c", "echo hi; sleep 1"
    )
    assert "error" not in out.stderr.lower(), out.stderr
    pod = wait_ephemeral(node, ns, "web", "debugger", "terminated")
    spec = {c["name"]: c for c in pod["spec"]["ephemeralContainers"]}
    assert spec["debugger"]["command"] == ["sh", "-c", "echo hi; sleep 1"]
    status = ephemeral_status(pod, "debugger")
    term = status["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (0, "Completed"), status
    assert status["restartCount"] == 0 and status["ready"] is False and "started" not in status
    assert status["image"] == f.image and status["containerID"].startswith(f"{node.runtime}://")
    assert term["containerID"] == status["containerID"]
    # the app container is untouched and the pod stays Running and Ready
    assert pod["status"]["phase"] == "Running"
    assert [c["name"] for c in pod["status"]["containerStatuses"]] == ["app"]
    assert all(c["status"] == "True" for c in pod["status"]["conditions"] if c["type"] == "Ready")
    assert node.logs(ns, "web", "-c", "debugger") == "hi\n"
    # a second one: by the time it finished the kubelet synced the pod again, and the first one was not
    # restarted (same container, still terminated, started exactly once)
    node.kubectl("debug", "web", "-n", ns, f"--image={f.image}", "-c", "second", "--", "sh", "-c", "exit 3")
    pod = wait_ephemeral(node, ns, "web", "second", "terminated")
    assert ephemeral_status(pod, "second")["state"]["terminated"]["exitCode"] == 3
    again = ephemeral_status(pod, "debugger")
    assert again["containerID"] == status["containerID"] and "terminated" in again["state"], again
    assert again["restartCount"] == 0
    assert started_events(node, ns, "web", "debugger") == 1
    # kubectl describe lists them
    described = node.kubectl("describe", "pod", "web", "-n", ns).stdout
    assert "Ephemeral Containers:" in described and "debugger:" in described, described


def kubectl_interactive(node: NodeServer, *args: str) -> tuple[subprocess.Popen[str], LineReader]:
    """A kubectl whose stdin the test writes (``kubectl debug -i``); the caller stops the reader."""
    server = node.server
    env = {**os.environ, "KUBECONFIG": str(server.kubeconfig), "KUBECACHEDIR": str(server.cache_dir)}
    env.pop("KUBERNETES_SERVICE_HOST", None)
    proc = subprocess.Popen(
        [KUBECTL, "--cache-dir", str(server.cache_dir), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    return proc, LineReader(proc)


def test_debug_interactive_attaches(node: NodeServer, ns: str) -> None:
    f = node.flavor
    app_pod(node, ns, "shell", "600")
    proc, reader = kubectl_interactive(
        node, "debug", "-i", "shell", "-n", ns, f"--image={f.image}", "-c", "sh", "--", "sh"
    )
    try:
        assert proc.stdin is not None
        # stdin stays open until the answer came back: containerd (as upstream) stops streaming an
        # attach session's output once its stdin closes, unless the container has stdinOnce
        proc.stdin.write("echo attached-$((40+2))\n")
        proc.stdin.flush()
        reader.wait_line(lambda line: line == "attached-42", timeout=60)
        proc.stdin.write("exit 0\n")
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
    finally:
        stderr = reader.stop()
    assert "If you don't see a command prompt, try pressing enter." in stderr, stderr
    pod = wait_ephemeral(node, ns, "shell", "sh", "terminated")
    assert ephemeral_status(pod, "sh")["state"]["terminated"]["exitCode"] == 0
    assert node.logs(ns, "shell", "-c", "sh") == "attached-42\n"
    # kubectl attach (and exec) reach a running ephemeral container by name
    ticker = "i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.2; done"
    node.kubectl("debug", "shell", "-n", ns, f"--image={f.image}", "-c", "ticker", "--", "sh", "-c", ticker)
    wait_ephemeral(node, ns, "shell", "ticker", "running")
    attach = node.server.kubectl_bg("attach", "shell", "-n", ns, "-c", "ticker")
    try:
        attach.wait_line(lambda line: line.startswith("tick-"), timeout=30)
    finally:
        attach.stop()
    exec_out = node.kubectl("exec", "shell", "-n", ns, "-c", "ticker", "--", "echo", "exec-ok").stdout
    assert exec_out == "exec-ok\n"


class Terminal:
    """kubectl on a pseudo-terminal (``kubectl debug -it`` wants one); reads are bounded in time."""

    def __init__(self, node: NodeServer, *args: str) -> None:
        server = node.server
        env = {**os.environ, "KUBECONFIG": str(server.kubeconfig), "KUBECACHEDIR": str(server.cache_dir)}
        env.pop("KUBERNETES_SERVICE_HOST", None)
        self.master, slave = os.openpty()
        try:
            self.proc = subprocess.Popen(
                [KUBECTL, "--cache-dir", str(server.cache_dir), *args],
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=env,
                start_new_session=True,
            )
        finally:
            os.close(slave)
        self.output = b""

    def read_until(self, needle: bytes, timeout: float = 30.0) -> bytes:
        deadline = time.monotonic() + timeout
        while needle not in self.output:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{needle!r} not seen within {timeout}s; got {self.output[-2000:]!r}")
            ready, _, _ = select.select([self.master], [], [], min(remaining, 0.5))
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # the other side closed
                chunk = b""
            if not chunk:
                raise AssertionError(f"kubectl ended before {needle!r}; got {self.output[-2000:]!r}")
            self.output += chunk
        return self.output

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        os.close(self.master)


def test_debug_it_with_target_on_a_terminal(node: NodeServer, ns: str) -> None:
    """The command of the issue: ``kubectl debug -it POD --image=busybox --target=app -- sh``."""
    f = node.flavor
    marker = str(3000 + int(unique("")[-4:], 16) % 5000)
    app_pod(node, ns, "tty", marker)
    term = Terminal(
        node, "debug", "-it", "tty", "-n", ns, f"--image={f.image}", "-c", "dbg", "--target=app", "--", "sh"
    )
    try:
        term.read_until(b"If you don't see a command prompt, try pressing enter.")
        ps = "ps -o args" if node.runtime == "containerd" else "ps -e -o args"
        term.type(f"echo tty-$((6*7)); {ps} | grep -c '^sleep {marker}'\r")
        out = term.read_until(b"tty-42\r\n1\r\n")  # the target's process, seen once
        term.type("exit\r")
        assert term.proc.wait(timeout=60) == 0, out
    finally:
        term.close()
    pod = wait_ephemeral(node, ns, "tty", "dbg", "terminated")
    spec = pod["spec"]["ephemeralContainers"][0]
    assert (spec["tty"], spec["stdin"], spec["targetContainerName"]) == (True, True, "app")
    assert ephemeral_status(pod, "dbg")["state"]["terminated"]["exitCode"] == 0


def test_debug_target_sees_the_target_processes(node: NodeServer, ns: str) -> None:
    f = node.flavor
    marker = str(3000 + int(unique("")[-4:], 16) % 5000)  # a sleep duration unique to this test
    app_pod(node, ns, "target", marker)
    # busybox ps lists every process of its pid namespace; on the host (process runtime) ask for all
    ps = "ps -o args" if node.runtime == "containerd" else "ps -e -o args"
    node.kubectl(
        "debug", "target", "-n", ns, f"--image={f.image}", "-c", "peek", "--target=app", "--", "sh", "-c", ps
    )
    pod = wait_ephemeral(node, ns, "target", "peek", "terminated")
    assert ephemeral_status(pod, "peek")["state"]["terminated"]["exitCode"] == 0
    assert pod["spec"]["ephemeralContainers"][0]["targetContainerName"] == "app"
    seen = node.logs(ns, "target", "-c", "peek")
    assert f"sleep {marker}" in seen, seen
    if node.runtime == "containerd":
        # without --target the debug container has a pid namespace of its own: the target is not in it
        node.kubectl("debug", "target", "-n", ns, f"--image={f.image}", "-c", "alone", "--", "sh", "-c", ps)
        wait_ephemeral(node, ns, "target", "alone", "terminated")
        alone = node.logs(ns, "target", "-c", "alone")
        assert "ps -o args" in alone and f"sleep {marker}" not in alone, alone


def test_debug_errors_reach_kubectl(node: NodeServer, ns: str) -> None:
    f = node.flavor
    app_pod(node, ns, "bad", "600")
    res = node.kubectl("debug", "bad", "-n", ns, f"--image={f.image}", "-c", "app", "--", "true", check=False)
    assert res.returncode != 0
    assert 'spec.ephemeralContainers[0].name: Duplicate value: "app"' in res.stderr, res.stderr
    res = node.kubectl(
        "debug", "bad", "-n", ns, f"--image={f.image}", "--target=nope", "-c", "x", "--", "true", check=False
    )
    assert res.returncode != 0
    assert "spec.ephemeralContainers[0].targetContainerName: Not found" in res.stderr, res.stderr
    # nothing was added
    pod = json.loads(node.kubectl("get", "pod", "bad", "-n", ns, "-o", "json").stdout)
    assert not pod["spec"].get("ephemeralContainers")
