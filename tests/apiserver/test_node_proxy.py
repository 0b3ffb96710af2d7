"""``NodeProxy``: the API server's pods/{log,exec,attach,portforward} proxied to a kubelet.

An in-process API server (aiohttp app on SQLite, loopback HTTP) with ``ApiContext(node_streams=NodeProxy)``
and an in-process ``KubeletServer`` (fake provider and runtime) registered as the Node ``node-1`` whose
InternalIP is 127.0.0.1 and whose kubeletEndpoint is the fake server's port. The first half drives it
with aiohttp; the second half with the real kubectl (``logs``, ``logs -f``, ``exec``, ``exec -i``,
``attach``, ``port-forward``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from kybernetes.apiserver.app import make_app
from kybernetes.apiserver.context import ApiContext
from kybernetes.apiserver.node_proxy import NodeProxy, log_params, resolve_container
from kybernetes.kubelet.server import KubeletServer
from kybernetes.kubelet.streaming import channels
from kybernetes.storage.sqlite import SQLiteStore
from tests.kubelet.test_streaming_support import (
    TIMEOUT,
    FakeProvider,
    echo_server,
    free_port,
    until,
    write_log,
)

KUBELET_TOKEN = "node-secret"
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
needs_kubectl = pytest.mark.kubectl  # skipped without kubectl, failed under CI=true (tests/conftest.py)


@dataclass
class Cluster:
    url: str
    ctx: ApiContext
    kubelet: KubeletServer
    provider: FakeProvider
    http: aiohttp.ClientSession
    tmp: Path
    kubeconfig: Path
    cache: Path

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.http.request(method, self.url + path, json=body) as resp:
            text = await resp.text()
            try:
                return resp.status, json.loads(text)
            except ValueError:
                return resp.status, text

    async def create_node(
        self, name: str, *, port: int, addresses: list[dict[str, str]] | None = None
    ) -> None:
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name},
            "status": {
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}]
                if addresses is None
                else addresses,
                "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
            },
        }
        code, body = await self.call("POST", "/api/v1/nodes", node)
        assert code == 201, body

    async def create_pod(self, name: str, containers: list[str], *, node: str = "node-1") -> None:
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "nodeName": node,
                "containers": [{"name": c, "image": "busybox", "stdin": True} for c in containers],
            },
        }
        code, body = await self.call("POST", "/api/v1/namespaces/default/pods", pod)
        assert code == 201, body
        body["status"] = {"phase": "Running"}
        code, body = await self.call("PUT", f"/api/v1/namespaces/default/pods/{name}/status", body)
        assert code == 200, body
        for c in containers:
            if c != "not-started":
                self.provider.add("default", name, c, self.tmp)


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    store = SQLiteStore(tmp_path / "state.db")
    await store.start()
    ctx = ApiContext(
        store,
        compaction_interval=0,
        node_streams=lambda c: NodeProxy(c, token_for_node=lambda node: KUBELET_TOKEN, scheme="http"),
    )
    await ctx.start()
    runner = web.AppRunner(make_app(ctx), handle_signals=False, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    provider = FakeProvider()
    kubelet = KubeletServer(
        provider, host="127.0.0.1", port=0, auth_token=KUBELET_TOKEN, log_poll_seconds=0.05
    )
    await kubelet.start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: kyb\n  cluster: {{server: '{url}'}}\n"
        "users:\n- name: kyb\n  user: {}\n"
        "contexts:\n- name: kyb\n  context: {cluster: kyb, user: kyb, namespace: default}\n"
        "current-context: kyb\n"
    )
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as http:
        c = Cluster(url, ctx, kubelet, provider, http, tmp_path, kubeconfig, tmp_path / "kubecache")
        await c.create_node("node-1", port=kubelet.port)
        try:
            yield c
        finally:
            await kubelet.stop()
            await runner.cleanup()
            await ctx.close()  # closes its node streams
            await store.close()


def container_log(c: Cluster, pod: str, container: str) -> Path:
    return Path(c.provider.pods[("default", pod)][container].log_path)


# --- pure helpers --------------------------------------------------------------------------------------
def test_resolve_container_like_upstream() -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]}}
    assert resolve_container(pod, None) == "a"
    pod["spec"] = {"containers": [{"name": "a"}, {"name": "b"}], "initContainers": [{"name": "i"}]}
    with pytest.raises(Exception) as info:
        resolve_container(pod, "")
    assert str(info.value) == (
        "a container name must be specified for pod p, choose one of: [a b] or one of the init containers: [i]"
    )
    assert resolve_container(pod, "i") == "i"
    with pytest.raises(Exception, match="container z is not valid for pod p"):
        resolve_container(pod, "z")


def test_log_params_translation() -> None:
    q = {"follow": "true", "tailLines": "3", "timestamps": "true", "previous": "false", "sinceSeconds": "10"}
    assert log_params(q) == {"follow": "true", "timestamps": "true", "tailLines": "3", "sinceSeconds": "10"}
    with pytest.raises(Exception, match="must be greater than or equal to 0"):
        log_params({"tailLines": "-2"})
    with pytest.raises(Exception, match="at most one of"):
        log_params({"sinceSeconds": "5", "sinceTime": "2024-01-01T00:00:00Z"})


# --- through the API server with aiohttp -----------------------------------------------------------------
async def test_logs_proxied(cluster: Cluster) -> None:
    await cluster.create_pod("web", ["app"])
    write_log(container_log(cluster, "web", "app"), ["one", "two", "three"])
    code, body = await cluster.call("GET", "/api/v1/namespaces/default/pods/web/log")
    assert (code, body) == (200, "one\ntwo\nthree\n")
    code, body = await cluster.call("GET", "/api/v1/namespaces/default/pods/web/log?tailLines=1")
    assert (code, body) == (200, "three\n")


async def test_multi_container_pod_needs_a_container_name(cluster: Cluster) -> None:
    await cluster.create_pod("two", ["a", "b"])
    code, body = await cluster.call("GET", "/api/v1/namespaces/default/pods/two/log")
    assert code == 400
    assert body["message"] == "a container name must be specified for pod two, choose one of: [a b]"
    assert body["reason"] == "BadRequest"


async def test_kubelet_errors_are_relayed(cluster: Cluster) -> None:
    await cluster.create_pod("lazy", ["not-started"])
    code, body = await cluster.call("GET", "/api/v1/namespaces/default/pods/lazy/log")
    assert code == 400
    assert body["message"] == 'pod "default/lazy" does not exist'


async def test_unreachable_kubelet_is_502(cluster: Cluster) -> None:
    await cluster.create_node("node-2", port=free_port())
    await cluster.create_pod("far", ["app"], node="node-2")
    code, body = await cluster.call("GET", "/api/v1/namespaces/default/pods/far/log")
    assert code == 502
    assert body["message"].startswith("error dialing backend:")
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await cluster.http.ws_connect(
            cluster.url + "/api/v1/namespaces/default/pods/far/exec?command=ls&stdout=true",
            protocols=(channels.V5,),
        )
    assert info.value.status == 502


async def test_node_without_address(cluster: Cluster) -> None:
    await cluster.create_node("node-3", port=1, addresses=[])
    await cluster.create_pod("nowhere", ["app"], node="node-3")
    code, body = await cluster.call("GET", "/api/v1/namespaces/default/pods/nowhere/log")
    assert code == 500
    assert "no preferred addresses found" in body["message"]


async def test_missing_node_is_404(cluster: Cluster) -> None:
    await cluster.create_pod("orphan", ["app"], node="ghost")
    code, _ = await cluster.call("GET", "/api/v1/namespaces/default/pods/orphan/log")
    assert code == 404


async def test_exec_websocket_proxied(cluster: Cluster) -> None:
    await cluster.create_pod("web", ["app"])
    path = (
        "/api/v1/namespaces/default/pods/web/exec?command=sh&command=-c&command=echo hi; exit 5&stdout=true"
    )
    ws = await cluster.http.ws_connect(cluster.url + path, protocols=(channels.V5, channels.V4))
    assert ws.protocol == channels.V5
    out = b""
    status: Any = None
    async with asyncio.timeout(TIMEOUT):
        async for msg in ws:
            channel, data = channels.decode(channels.V5, msg.data)
            if channel == channels.STDOUT:
                out += data
            elif channel == channels.ERROR:
                status = json.loads(data)
    assert out == b"hi\n"
    assert channels.parse_exit_code(status) == 5
    assert ws.close_code == 1000


async def test_spdy_fallback_gets_the_websocket_error(cluster: Cluster) -> None:
    await cluster.create_pod("web", ["app", "not-started"])
    path = "/api/v1/namespaces/default/pods/web/exec?command=ls&container=not-started&stdout=true"
    headers = {"Kubectl-Session": "s1"}
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await cluster.http.ws_connect(cluster.url + path, protocols=(channels.V5,), headers=headers)
    assert info.value.status == 400
    async with cluster.http.post(cluster.url + path, headers={**headers, "Upgrade": "SPDY/3.1"}) as resp:
        assert resp.status == 400
        assert "waiting to start" in (await resp.json())["message"]
    async with cluster.http.post(cluster.url + path, headers={"Upgrade": "SPDY/3.1"}) as resp:
        assert (await resp.json())["message"] == "Upgrade request required"


# --- real kubectl --------------------------------------------------------------------------------------
@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def kubectl_env(c: Cluster) -> dict[str, str]:
    return {**os.environ, "KUBECONFIG": str(c.kubeconfig), "KUBECACHEDIR": str(c.cache)}


async def kubectl(c: Cluster, *args: str, stdin: bytes | None = None, seconds: float = 60.0) -> Result:
    proc = await asyncio.create_subprocess_exec(
        KUBECTL,
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=kubectl_env(c),
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), seconds)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


@contextlib.asynccontextmanager
async def kubectl_bg(c: Cluster, *args: str) -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await asyncio.create_subprocess_exec(
        KUBECTL,
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=kubectl_env(c),
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()


@needs_kubectl
async def test_kubectl_logs(cluster: Cluster) -> None:
    await cluster.create_pod("web", ["app"])
    write_log(container_log(cluster, "web", "app"), ["one", "two", "three"])
    r = await kubectl(cluster, "logs", "web")
    assert (r.code, r.stdout) == (0, "one\ntwo\nthree\n"), r.stderr
    r = await kubectl(cluster, "logs", "web", "--tail=1")
    assert (r.code, r.stdout) == (0, "three\n"), r.stderr
    r = await kubectl(cluster, "logs", "web", "--timestamps")
    assert r.code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == ["one", "two", "three"]
    assert all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$", line.split(" ")[0]) for line in lines)
    r = await kubectl(cluster, "logs", "web", "--since=1h")
    assert (r.code, r.stdout) == (0, "one\ntwo\nthree\n"), r.stderr


@needs_kubectl
async def test_kubectl_logs_errors(cluster: Cluster) -> None:
    await cluster.create_pod("web", ["app"])
    r = await kubectl(cluster, "logs", "web", "-c", "nope")
    assert r.code != 0
    assert "container nope is not valid for pod web" in r.stderr
    r = await kubectl(cluster, "logs", "web", "--previous")
    assert r.code != 0
    assert 'previous terminated container "app" in pod "web" not found' in r.stderr


@needs_kubectl
async def test_kubectl_logs_follow(cluster: Cluster) -> None:
    await cluster.create_pod("web", ["app"])
    log_file = container_log(cluster, "web", "app")
    write_log(log_file, ["before"])
    async with kubectl_bg(cluster, "logs", "-f", "web") as proc:
        assert proc.stdout is not None
        assert await asyncio.wait_for(proc.stdout.readline(), 30) == b"before\n"
        write_log(log_file, ["after"])
        assert await asyncio.wait_for(proc.stdout.readline(), 30) == b"after\n"
        # the container stops: the stream (and kubectl) ends
        cluster.provider.pods[("default", "web")]["app"].state = "exited"
        assert await asyncio.wait_for(proc.wait(), 30) == 0


@needs_kubectl
async def test_kubectl_exec(cluster: Cluster) -> None:
    await cluster.create_pod("web", ["app"])
    r = await kubectl(cluster, "exec", "web", "--", "echo", "hi")
    assert (r.code, r.stdout) == (0, "hi\n"), r.stderr
    r = await kubectl(cluster, "exec", "web", "--", "sh", "-c", "exit 3")
    assert r.code == 3, r.stderr
    assert "command terminated with exit code 3" in r.stderr
    r = await kubectl(cluster, "exec", "web", "--", "sh", "-c", "echo to-stderr >&2")
    assert (r.code, r.stdout, r.stderr) == (0, "", "to-stderr\n")
    r = await kubectl(cluster, "exec", "-i", "web", "--", "cat", stdin=b"hello from stdin\n")
    assert (r.code, r.stdout) == (0, "hello from stdin\n"), r.stderr


@needs_kubectl
async def test_kubectl_exec_errors(cluster: Cluster) -> None:
    await cluster.create_pod("web", ["app", "not-started"])
    r = await kubectl(cluster, "exec", "web", "-c", "not-started", "--", "true")
    assert r.code != 0
    assert 'container "not-started" in pod "web" is waiting to start' in r.stderr
    r = await kubectl(cluster, "exec", "web", "-c", "app", "--", "fail-to-start")
    assert r.code != 0
    assert "no such executable" in r.stderr


@needs_kubectl
async def test_kubectl_attach(cluster: Cluster) -> None:
    await cluster.create_pod("web", ["app"])
    r = await kubectl(cluster, "attach", "-i", "web", stdin=b"shout\n")
    assert r.code == 0, r.stderr
    assert "attached\nSHOUT\n" in r.stdout


@needs_kubectl
async def test_kubectl_port_forward(cluster: Cluster) -> None:
    await cluster.create_pod("web", ["app"])
    async with echo_server() as port, kubectl_bg(cluster, "port-forward", "pod/web", f":{port}") as proc:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        m = re.match(r"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)", line)
        assert m, line
        assert int(m.group(2)) == port
        local = int(m.group(1))
        for i in range(3):  # several connections over the one websocket
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", local), 10)
            payload = f"hello {i}\n".encode() * 1000
            writer.write(payload)
            await writer.drain()
            assert await asyncio.wait_for(reader.readexactly(len(payload)), 30) == payload
            writer.close()
            await writer.wait_closed()
        assert proc.returncode is None  # still forwarding
    assert cluster.provider.runtime.forwarded == [("sandbox-default-web", port)] * 3


@needs_kubectl
async def test_kubectl_logs_follow_interrupted_frees_the_kubelet(cluster: Cluster) -> None:
    await cluster.create_pod("web", ["app"])
    write_log(container_log(cluster, "web", "app"), ["line"])
    async with kubectl_bg(cluster, "logs", "-f", "web") as proc:
        assert proc.stdout is not None
        assert await asyncio.wait_for(proc.stdout.readline(), 30) == b"line\n"
        assert cluster.kubelet._sessions
    # kubectl is gone while the container still runs: proxy and kubelet both let go
    await until(lambda: not cluster.kubelet._sessions)


@needs_kubectl
async def test_kubectl_port_forward_to_a_closed_port(cluster: Cluster) -> None:
    await cluster.create_pod("web", ["app"])
    port = free_port()
    async with kubectl_bg(cluster, "port-forward", "pod/web", f":{port}") as proc:
        assert proc.stdout is not None and proc.stderr is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        local = int(line.split(":")[1].split(" ")[0])
        reader, writer = await asyncio.open_connection("127.0.0.1", local)
        assert await asyncio.wait_for(reader.read(), 30) == b""
        writer.close()
        err = await asyncio.wait_for(proc.stderr.readline(), 30)
        assert b"error forwarding port" in err, err


async def test_kubelet_over_tls(cluster: Cluster) -> None:
    """Kubelets serve HTTPS in real clusters: verified against a CA, or unverified (verify_tls=False)."""
    import ssl

    from kybernetes.apiserver.certs import ensure_pki

    pki = ensure_pki(cluster.tmp / "kubelet-pki", hosts=["127.0.0.1"])
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(pki.server_cert, pki.server_key)
    kubelet = KubeletServer(cluster.provider, host="127.0.0.1", port=0, ssl_context=server_ctx)
    await kubelet.start()
    try:
        assert kubelet.url.startswith("https://127.0.0.1:")
        await cluster.create_node("tls-node", port=kubelet.port)
        await cluster.create_pod("secure", ["app"], node="tls-node")
        write_log(container_log(cluster, "secure", "app"), ["over tls"])
        verified = ssl.create_default_context(cafile=str(pki.ca_cert))
        for proxy in (NodeProxy(cluster.ctx), NodeProxy(cluster.ctx, verify_tls=True, ssl_context=verified)):
            cluster.ctx.node_streams = proxy  # this test's TLS settings
            try:
                code, body = await cluster.call("GET", "/api/v1/namespaces/default/pods/secure/log")
                assert (code, body) == (200, "over tls\n")
                ws = await cluster.http.ws_connect(
                    cluster.url
                    + "/api/v1/namespaces/default/pods/secure/exec?command=echo&command=ok&stdout=1",
                    protocols=(channels.V5,),
                )
                messages = [msg.data async for msg in ws]
                assert b"\x01ok\n" in messages
            finally:
                await proxy.close()
        # verifying against the wrong CA fails the dial
        wrong = ssl.create_default_context()
        proxy = NodeProxy(cluster.ctx, verify_tls=True, ssl_context=wrong)
        cluster.ctx.node_streams = proxy  # this test's TLS settings
        try:
            code, body = await cluster.call("GET", "/api/v1/namespaces/default/pods/secure/log")
            assert code == 502
            assert "certificate" in body["message"].lower()
        finally:
            await proxy.close()
    finally:
        await kubelet.stop()
