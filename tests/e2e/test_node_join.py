"""``kyb agent`` joining a ``kyb server`` from another process: from a network namespace of its own (the
API server reaches its kubelet through the veth for logs and exec), and killed with SIGKILL (the node
goes NotReady after the node monitor grace period).

Network rules (host-facts.md): the only non-loopback traffic is between the host end of a veth pair and
the network namespace the test creates; both are removed at the end.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e._node_agent import (
    NodeServer,
    condition,
    kill_pids,
    kyb_cmd,
    leftover_processes,
    unique,
    wait_for,
)
from tests.needs import require_root, unavailable

pytestmark = [pytest.mark.kubectl, pytest.mark.timeout(240)]


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(list(argv), capture_output=True, text=True, timeout=30)
    if check and res.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({res.returncode}): {res.stdout}{res.stderr}")
    return res


class Agent:
    """A ``kyb agent`` subprocess (optionally inside a network namespace) with its own data dir."""

    def __init__(self, argv: list[str], data_dir: Path) -> None:
        self.data_dir = data_dir
        self.log_path = data_dir / "agent.log"
        self._log = self.log_path.open("a")
        self.proc = subprocess.Popen(
            argv, stdout=self._log, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )

    def log(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        self.proc.wait(timeout=30)

    def stop(self) -> list[tuple[int, str]]:
        """SIGTERM (SIGKILL after 30 s); returns (and kills) processes still mentioning the data dir."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()
        # pods outlive their agent by design; the explicit stop ends them
        subprocess.run(
            kyb_cmd("killall", "--agent-data-dir", str(self.data_dir)),
            capture_output=True,
            timeout=120,
            check=False,
        )
        left = leftover_processes(str(self.data_dir))
        kill_pids([pid for pid, _ in left])
        return left


def agent_argv(
    server: NodeServer, node_name: str, data_dir: Path, *, api_host: str, node_ip: str
) -> list[str]:
    port = server.server.url.rsplit(":", 1)[1]
    token = (server.data_dir / "pki" / "node.token").read_text().strip()
    return kyb_cmd(
        "agent",
        "--server",
        f"https://{api_host}:{port}",
        "--token",
        token,
        "--node-name",
        node_name,
        "--runtime",
        "process",
        "--node-ip",
        node_ip,
        "--data-dir",
        str(data_dir),
    )


def node_ready(server: NodeServer, name: str) -> str:
    res = server.kubectl("get", "node", name, "-o", "json", check=False)
    if res.returncode != 0:
        return ""
    return condition(json.loads(res.stdout), "Ready").get("status", "")


# --- a network namespace with a veth pair --------------------------------------------------------------------
class Netns:
    def __init__(self) -> None:
        tag = unique("x").split("-")[1][:6]
        self.name = f"kybe2e-{tag}"
        self.host_if = f"kyv{tag}h"
        self.ns_if = f"kyv{tag}n"
        used = _run("ip", "-o", "-4", "addr").stdout + _run("ip", "-4", "route").stdout
        octet = next(n for n in random.sample(range(1, 250), 249) if f"10.200.{n}." not in used)
        self.host_ip = f"10.200.{octet}.1"
        self.ns_ip = f"10.200.{octet}.2"

    def create(self) -> None:
        _run("ip", "netns", "add", self.name)
        _run("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
        _run("ip", "link", "set", self.ns_if, "netns", self.name)
        _run("ip", "addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
        _run("ip", "link", "set", self.host_if, "up")
        self.exec("ip", "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if)
        self.exec("ip", "link", "set", self.ns_if, "up")
        self.exec("ip", "link", "set", "lo", "up")

    def exec(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return _run("ip", "netns", "exec", self.name, *argv)

    def delete(self) -> None:
        _run("ip", "link", "del", self.host_if, check=False)
        _run("ip", "netns", "del", self.name, check=False)


@pytest.fixture
def netns() -> Iterator[Netns]:
    require_root("network namespaces")
    if shutil.which("ip") is None:
        unavailable("iproute2 not installed")
    ns = Netns()
    try:
        ns.create()
        yield ns
    finally:
        ns.delete()
    assert ns.name not in _run("ip", "netns", "list").stdout
    assert ns.host_if not in _run("ip", "-o", "link").stdout


def test_agent_in_its_own_network_namespace_runs_pods(netns: Netns) -> None:
    # kubectl talks to 127.0.0.1; the agent in the netns reaches the server through the veth's host end
    server = NodeServer("process", extra_args=["--bind-address", "0.0.0.0"])
    agent: Agent | None = None
    agent_dir = Path(tempfile.mkdtemp(prefix="kybj-", dir="/tmp"))
    left: list[tuple[int, str]] = []
    try:
        server.start()
        argv = agent_argv(server, "netns-node", agent_dir, api_host=netns.host_ip, node_ip=netns.ns_ip)
        agent = Agent(["ip", "netns", "exec", netns.name, *argv], agent_dir)
        try:
            wait_for(
                lambda: node_ready(server, "netns-node") == "True", timeout=60, interval=0.5, what="Ready"
            )
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}\nagent log:\n{agent.log()}\nserver log:\n{server.server_log()}"
            ) from None
        node = server.kubectl_json("get", "node", "netns-node")
        addresses = {a["type"]: a["address"] for a in node["status"]["addresses"]}
        assert addresses.get("InternalIP") == netns.ns_ip, node["status"]["addresses"]
        assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "netns-node"

        ns = server.namespace()
        f = server.flavor
        server.create_pod(
            ns,
            "there",
            {
                "nodeSelector": {"kubernetes.io/hostname": "netns-node"},
                "containers": [
                    f.container("c", "echo hello-from-netns; cat /proc/net/fib_trie; exec sleep 600")
                ],
            },
        )
        try:
            pod = server.wait_running(ns, "there")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nagent log:\n{agent.log()}") from None
        assert pod["spec"]["nodeName"] == "netns-node"
        assert pod["status"]["podIP"] == netns.ns_ip, pod["status"]
        assert pod["status"]["hostIP"] == netns.ns_ip, pod["status"]
        # logs and exec go API server -> kubelet streaming server inside the netns
        logs = server.wait_logs(ns, "there", "hello-from-netns")
        assert netns.ns_ip in logs, "the container does not run in the agent's network namespace"
        res = server.kubectl(
            "exec", "there", "-n", ns, "--", "sh", "-c", "cat /proc/net/fib_trie; exit 5", check=False
        )
        assert res.returncode == 5 and netns.ns_ip in res.stdout, (
            res.returncode,
            res.stdout[-500:],
            res.stderr,
        )
        server.kubectl("delete", "pod", "there", "-n", ns, "--timeout=60s", timeout=90)
    finally:
        if agent is not None:
            if agent.proc.poll() is None and server.server.proc is not None:
                # while the agent still runs, so its kubelet can stop the containers
                server.kubectl(
                    "delete",
                    "pods",
                    "--all",
                    "-A",
                    "--grace-period=1",
                    "--timeout=30s",
                    check=False,
                    timeout=60,
                )
            left = agent.stop()
        server.cleanup()
        shutil.rmtree(agent_dir, ignore_errors=True)
    assert not left, f"processes outlived the agent: {left}"


def test_killed_agent_makes_node_not_ready() -> None:
    server = NodeServer("process", extra_args=["--node-monitor-grace-period", "4", "--disable-agent"])
    agent: Agent | None = None
    agent_dir = Path(tempfile.mkdtemp(prefix="kybk-", dir="/tmp"))
    try:
        server.server.start()
        argv = agent_argv(server, "doomed", agent_dir, api_host="127.0.0.1", node_ip="127.0.0.1")
        agent = Agent(argv, agent_dir)
        try:
            wait_for(lambda: node_ready(server, "doomed") == "True", timeout=60, interval=0.3, what="Ready")
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}\nagent log:\n{agent.log()}\nserver log:\n{server.server_log()}"
            ) from None
        agent.kill(signal.SIGKILL)
        t0 = time.monotonic()

        def not_ready() -> dict[str, Any]:
            node = server.kubectl_json("get", "node", "doomed")
            cond = condition(node, "Ready")
            return node if cond.get("status") not in ("True", None) else {}

        try:
            node = wait_for(not_ready, timeout=60, interval=0.3, what="NotReady after kill -9")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nserver log:\n{server.server_log()}") from None
        took = time.monotonic() - t0
        ready = condition(node, "Ready")
        assert ready["status"] == "Unknown", ready
        assert ready.get("reason") == "NodeStatusUnknown", ready
        assert took <= 4 + 20, f"NotReady only after {took:.1f}s (grace period 4s)"
        table = server.kubectl("get", "node", "doomed").stdout
        assert "NotReady" in table, table

        def tainted() -> bool:
            spec = server.kubectl_json("get", "node", "doomed")["spec"]
            return "node.kubernetes.io/unreachable" in {t["key"] for t in spec.get("taints") or []}

        wait_for(tainted, timeout=20, interval=0.3, what="node.kubernetes.io/unreachable taint")
        # it stays NotReady (nothing heartbeats any more)
        time.sleep(12)
        assert node_ready(server, "doomed") == "Unknown"
    finally:
        if agent is not None:
            agent.stop()
        server.cleanup()
        shutil.rmtree(agent_dir, ignore_errors=True)
