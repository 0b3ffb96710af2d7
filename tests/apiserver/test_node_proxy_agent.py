"""End to end on the real node agent: ``Kubelet`` on the process runtime, its ``KubeletServer`` and the
API server's ``NodeProxy``, driven by real kubectl (logs, exec, attach, port-forward).

This is the wiring ``kyb server``/``kyb agent`` use: the kubelet's server listens on
``KubeletOptions.port`` (published as ``daemonEndpoints.kubeletEndpoint.Port``) with a bearer token, and
the API server's ``ctx.node_streams`` is a ``NodeProxy`` that presents that token.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kybernetes.apiserver.node_proxy import NodeProxy
from kybernetes.client import ApiClient
from kybernetes.kubelet.agent import Kubelet
from kybernetes.kubelet.server import KubeletServer
from tests.controllers._node_fixtures import Server, api, server
from tests.kubelet.test_agent_fixtures import fast_options, pod_spec, sh, wait_pod
from tests.kubelet.test_streaming_support import free_port

__all__ = ["api", "server"]

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
TOKEN = "agent-token"
pytestmark = pytest.mark.kubectl  # skipped without kubectl, failed under CI=true (tests/conftest.py)

ECHO_SERVER = (
    "import socket,sys\n"
    "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(8); print('listening', flush=True)\n"
    "while True:\n"
    "    c,_=s.accept()\n"
    "    while (d:=c.recv(65536)): c.sendall(d)\n"
    "    c.close()\n"
)


@dataclass
class Node:
    kubelet: Kubelet
    server: KubeletServer
    kubeconfig: Path
    cache: Path


@pytest.fixture
async def node(server: Server, api: ApiClient, tmp_path: Path) -> AsyncIterator[Node]:
    from kybernetes.kubelet.runtimes import ProcessRuntime

    proxy = NodeProxy(server.ctx, token_for_node=lambda name: TOKEN, scheme="http")
    server.ctx.node_streams = proxy
    runtime = ProcessRuntime(tmp_path / "runtime", node_ip="127.0.0.1", use_cgroups=False)
    await runtime.start()
    port = free_port()
    kubelet = Kubelet(
        api,
        runtime,
        "node-1",
        root_dir=tmp_path / "kubelet",
        options=fast_options(port=port, address="127.0.0.1"),
        manage_runtime=False,
    )
    kubelet_server = KubeletServer(kubelet, host="127.0.0.1", port=port, auth_token=TOKEN)
    await kubelet_server.start()
    stop = asyncio.Event()
    task = asyncio.create_task(kubelet.run(stop))
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: kyb\n  cluster: {{server: '{server.url}'}}\n"
        "users:\n- name: kyb\n  user: {}\n"
        "contexts:\n- name: kyb\n  context: {cluster: kyb, user: kyb, namespace: default}\n"
        "current-context: kyb\n"
    )
    try:
        await asyncio.wait_for(kubelet.ready.wait(), 20)
        yield Node(kubelet, kubelet_server, kubeconfig, tmp_path / "cache")
    finally:
        stop.set()
        await kubelet_server.stop()
        await asyncio.wait_for(task, 20)
        for status in await runtime.list_containers():
            if status.state == "running":
                with contextlib.suppress(Exception):
                    await runtime.stop_container(status.id, 0)
        await runtime.close()
        await proxy.close()


async def kubectl(node: Node, *args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        KUBECTL,
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "KUBECONFIG": str(node.kubeconfig), "KUBECACHEDIR": str(node.cache)},
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), 60)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def running(pod: dict) -> bool:  # type: ignore[type-arg]
    return (pod.get("status") or {}).get("phase") == "Running"


async def test_logs_exec_attach_port_forward_on_the_process_runtime(node: Node, api: ApiClient) -> None:
    echo_port = free_port()
    pod = pod_spec(
        "streams",
        [
            sh("main", "echo started; while read line; do echo got $line; done", stdin=True),
            {
                "name": "echo",
                "image": "python",
                "command": [sys.executable, "-c", ECHO_SERVER, str(echo_port)],
            },
        ],
    )
    await api.pods.create(pod, namespace="default")
    await wait_pod(api, "streams", running, timeout=30)

    code, out, err = await kubectl(node, "logs", "streams", "-c", "main")
    assert (code, out) == (0, "started\n"), err
    code, out, err = await kubectl(node, "logs", "streams", "-c", "echo", "--timestamps")
    assert code == 0, err
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z listening$", out.strip()), out

    code, out, err = await kubectl(node, "exec", "streams", "-c", "main", "--", "echo", "hi")
    assert (code, out) == (0, "hi\n"), err
    code, out, err = await kubectl(node, "exec", "streams", "-c", "main", "--", "sh", "-c", "exit 3")
    assert code == 3, err
    code, out, err = await kubectl(node, "exec", "-i", "streams", "-c", "main", "--", "cat", stdin=b"piped\n")
    assert (code, out) == (0, "piped\n"), err

    # attach (stdinOnce: our EOF closes the container's stdin, it exits, and attach returns)
    attach = pod_spec(
        "attached",
        [sh("main", "while read line; do echo got $line; done", stdin=True, stdinOnce=True)],
        restart_policy="Never",
    )
    await api.pods.create(attach, namespace="default")
    await wait_pod(api, "attached", running, timeout=30)
    code, out, err = await kubectl(node, "attach", "-i", "attached", stdin=b"ping\n")
    assert (code, out) == (0, "got ping\n"), err

    proc = await asyncio.create_subprocess_exec(
        KUBECTL,
        "port-forward",
        "pod/streams",
        f":{echo_port}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "KUBECONFIG": str(node.kubeconfig), "KUBECACHEDIR": str(node.cache)},
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        m = re.match(r"Forwarding from 127\.0\.0\.1:(\d+) ->", line)
        assert m, line
        reader, writer = await asyncio.open_connection("127.0.0.1", int(m.group(1)))
        writer.write(b"through the pod\n")
        assert await asyncio.wait_for(reader.readline(), 30) == b"through the pod\n"
        writer.close()
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)
