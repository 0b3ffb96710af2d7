"""Exec, attach and port-forward through the PyPI client and raw websockets, on a real node.

One ``kyb server`` with its embedded agent per runtime for the module (``process`` everywhere, ``containerd``
when root; ``CI=true``: must run). The Python client's ``stream()`` drives an interactive ``/bin/sh``
(``write_stdin`` sends text messages), ``cat`` whose stdin ends with the v5 close signal, a terminal resize,
and the exit code on the error channel; attach feeds a shell that reads its stdin. Raw aiohttp websockets
negotiate each subprotocol upstream serves over websocket (v5, v4, their base64 variants, ``channel.k8s.io``,
``base64.channel.k8s.io`` and none) and check its framing and final status byte for byte.
``kubernetes.stream.portforward`` forwards to a TCP server in the pod (the channel protocol, two channels
per port, each opened with the port number). Classic SPDY/3.1 upgrades, kubectl's fallback: kubectl exec and
port-forward with websockets turned off, and a raw SPDY client per remotecommand protocol (v5..v2,
``channel.k8s.io``), resize from v3 on, attach with ``stdinOnce``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import ssl
import subprocess
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
import pytest

from tests.e2e._node_agent import (
    NODE_RUNTIMES,
    NodeServer,
    assert_port_forward_serves,
    free_port,
    node_namespace,
    serve_node,
    unique,
    wait_for,
)
from tests.e2e.conftest import KUBECTL, LineReader

pytestmark = [pytest.mark.kubectl, pytest.mark.timeout(240)]

TIMEOUT = 20.0


@pytest.fixture(scope="module", params=NODE_RUNTIMES)
def node(request: pytest.FixtureRequest) -> Iterator[NodeServer]:
    yield from serve_node(request.param)


@pytest.fixture(scope="module")
def ns(node: NodeServer) -> Iterator[str]:
    yield from node_namespace(node)


@pytest.fixture(scope="module")
def sleeper(node: NodeServer, ns: str) -> str:
    """A running pod to exec into (shared by the exec tests)."""
    node.create_pod(ns, "sleeper", {"containers": [node.flavor.container("c", "exec sleep 600")]})
    node.wait_running(ns, "sleeper")
    return "sleeper"


@pytest.fixture(scope="module")
def core(node: NodeServer) -> Iterator[Any]:
    from kubernetes import client

    with node.server.api_client() as api:
        yield client.CoreV1Api(api)


def _exec(core: Any, ns: str, pod: str, command: list[str], **kwargs: Any) -> Any:
    from kubernetes.stream import stream

    options = {"stdin": True, "stdout": True, "stderr": True, "tty": False, **kwargs}
    return stream(
        core.connect_get_namespaced_pod_exec, pod, ns, command=command, _preload_content=False, **options
    )


def _finish(resp: Any, timeout: float = TIMEOUT) -> None:
    """Read until the server closes the session (bounded)."""
    deadline = time.monotonic() + timeout
    while resp.is_open() and time.monotonic() < deadline:
        resp.update(timeout=1)
    assert not resp.is_open(), "the session did not end"


# --- the Python client's stream() ----------------------------------------------------------------------------
def test_interactive_shell_reads_text_stdin(core: Any, ns: str, sleeper: str) -> None:
    resp = _exec(core, ns, sleeper, ["/bin/sh"])
    try:
        assert resp.subprotocol == "v5.channel.k8s.io"
        resp.write_stdin("echo test string 1\n")
        assert resp.readline_stdout(timeout=5) == "test string 1"
        resp.write_stdin("echo test string 2 >&2\n")
        assert resp.readline_stderr(timeout=5) == "test string 2"
        resp.write_stdin(b"echo bytes too\n")  # a binary message this time
        assert resp.readline_stdout(timeout=5) == "bytes too"
        resp.write_stdin("exit 3\n")
        _finish(resp)
        status = json.loads(resp.peek_channel(3))  # returncode consumes the error channel
        assert resp.returncode == 3
        assert status["status"] == "Failure"
        assert status["reason"] == "NonZeroExitCode"
        assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    finally:
        resp.close()


def test_non_interactive_exec_returns_the_output(core: Any, ns: str, sleeper: str) -> None:
    from kubernetes.stream import stream

    out = stream(
        core.connect_get_namespaced_pod_exec,
        sleeper,
        ns,
        command=["sh", "-c", "echo out; sleep 0.2; echo err >&2"],
        stdin=False,
        stdout=True,
        stderr=True,
        tty=False,
    )
    assert out == "out\nerr\n"


def test_cat_sees_end_of_input_from_the_v5_close_signal(core: Any, ns: str, sleeper: str) -> None:
    resp = _exec(core, ns, sleeper, ["cat"])
    try:
        resp.write_stdin("line one\nline two\n")
        assert resp.readline_stdout(timeout=5) == "line one"
        resp.close_channel(0)
        _finish(resp)
        assert resp.read_stdout() == "line two\n"
        assert json.loads(resp.peek_channel(3)) == {"metadata": {}, "status": "Success"}
        assert resp.returncode == 0
    finally:
        resp.close()


def test_terminal_resize_reaches_the_command(core: Any, ns: str, sleeper: str) -> None:
    resp = _exec(core, ns, sleeper, ["/bin/sh"], tty=True, stderr=False)
    try:
        resp.write_channel(4, json.dumps({"Width": 123, "Height": 45}))
        # the resize and the command travel on different channels: ask until the size has been applied
        seen = ""
        deadline = time.monotonic() + TIMEOUT
        while "45 123" not in seen and time.monotonic() < deadline:
            resp.write_stdin("stty size\n")
            resp.update(timeout=1)
            seen += resp.read_stdout(timeout=1)
        assert "45 123" in seen, seen
        resp.write_stdin("exit\n")
        _finish(resp)
        assert resp.returncode == 0
    finally:
        resp.close()


def test_attach_feeds_stdin_of_a_shell(node: NodeServer, core: Any, ns: str) -> None:
    from kubernetes.stream import stream

    name = unique("attach")
    node.create_pod(
        ns,
        name,
        {"containers": [{**node.flavor.container("c", ""), "command": ["sh"], "stdin": True}]},
    )
    node.wait_running(ns, name)
    resp = stream(
        core.connect_get_namespaced_pod_attach,
        name,
        ns,
        stdin=True,
        stdout=True,
        stderr=True,
        tty=False,
        _preload_content=False,
    )
    try:
        resp.write_stdin("echo attached-$((40+2))\n")
        assert resp.readline_stdout(timeout=10) == "attached-42"
        resp.write_stdin("echo to-stderr >&2\n")
        assert resp.readline_stderr(timeout=10) == "to-stderr"
    finally:
        resp.close()
    assert node.logs(ns, name).split() == ["attached-42", "to-stderr"]


def test_attach_to_a_terminal_takes_resizes(node: NodeServer, core: Any, ns: str) -> None:
    from kubernetes.stream import stream

    name = unique("tty")
    container = {**node.flavor.container("c", ""), "command": ["sh"], "stdin": True, "tty": True}
    node.create_pod(ns, name, {"containers": [container]})
    node.wait_running(ns, name)
    resp = stream(
        core.connect_get_namespaced_pod_attach,
        name,
        ns,
        stdin=True,
        stdout=True,
        stderr=False,
        tty=True,
        _preload_content=False,
    )
    try:
        resp.write_channel(4, json.dumps({"Width": 91, "Height": 37}))
        seen = ""
        deadline = time.monotonic() + TIMEOUT
        while "37 91" not in seen and time.monotonic() < deadline:
            resp.write_stdin("stty size\n")
            resp.update(timeout=1)
            seen += resp.read_stdout(timeout=1)
        assert "37 91" in seen, seen
    finally:
        resp.close()


# --- every websocket subprotocol, byte for byte ------------------------------------------------------------
async def _raw_session(
    node: NodeServer, path: str, query: list[tuple[str, str]], protocols: tuple[str, ...], send: list[Any]
) -> tuple[str | None, list[tuple[int, bytes]], bool]:
    """Open a websocket to the API server offering ``protocols``, send ``send`` (bytes: binary
    messages, str: text), collect (channel, data) until the server closes. Returns the negotiated
    protocol, the messages and whether they all came in the message type the protocol mandates."""
    server, ca, token = node.server._kubeconfig_parts()
    ctx = ssl.create_default_context(cadata=ca.decode())
    url = f"{server}{path}?{urlencode(query)}"
    received: list[tuple[int, bytes]] = []
    typed = True
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        async with http.ws_connect(url, protocols=protocols, ssl=ctx, max_msg_size=0) as ws:
            b64 = (ws.protocol or "").endswith("base64.channel.k8s.io")
            for message in send:
                await (ws.send_str(message) if isinstance(message, str) else ws.send_bytes(message))
            async with asyncio.timeout(TIMEOUT):
                async for msg in ws:
                    if b64:
                        typed &= msg.type == aiohttp.WSMsgType.TEXT
                        text = msg.data if isinstance(msg.data, str) else msg.data.decode()
                        received.append((ord(text[0]) - ord("0"), base64.b64decode(text[1:])))
                    else:
                        typed &= msg.type == aiohttp.WSMsgType.BINARY
                        received.append((msg.data[0], bytes(msg.data[1:])))
            return ws.protocol, received, typed


@pytest.mark.parametrize(
    "offer",
    [
        "v5.channel.k8s.io",
        "v4.channel.k8s.io",
        "v5.base64.channel.k8s.io",
        "v4.base64.channel.k8s.io",
        "channel.k8s.io",
        "base64.channel.k8s.io",
        "",
    ],
)
def test_each_websocket_subprotocol(node: NodeServer, ns: str, sleeper: str, offer: str) -> None:
    b64 = offer.endswith("base64.channel.k8s.io")
    stdin = b"hello\n"
    message: Any = "0" + base64.b64encode(stdin).decode() if b64 else b"\x00" + stdin
    resize = json.dumps({"Width": 80, "Height": 24}).encode()
    resize_message: Any = "4" + base64.b64encode(resize).decode() if b64 else b"\x04" + resize
    script = "read line; echo got-$line; echo err >&2; exit 3"
    query = [("command", "sh"), ("command", "-c"), ("command", script)]
    query += [("stdin", "true"), ("stdout", "true"), ("stderr", "true")]
    protocol, received, typed = asyncio.run(
        _raw_session(
            node,
            f"/api/v1/namespaces/{ns}/pods/{sleeper}/exec",
            query,
            (offer,) if offer else (),
            [resize_message, message],
        )
    )
    assert protocol == (offer or None)
    assert typed, received
    # the session opens with an empty message on stdout
    assert received[0] == (1, b""), received[:3]
    by_channel: dict[int, bytes] = {}
    for channel, data in received[1:]:
        by_channel[channel] = by_channel.get(channel, b"") + data
    assert by_channel.get(1) == b"got-hello\n", received
    assert by_channel.get(2) == b"err\n", received
    error = by_channel.get(3, b"")
    if offer.startswith(("v4.", "v5.")):
        status = json.loads(error)
        assert status["status"] == "Failure" and status["reason"] == "NonZeroExitCode", status
        assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    else:  # v1: the error's message as plain text
        assert error.startswith(b"command terminated with non-zero exit code"), error
        assert b"3" in error


def test_v5_close_and_success_over_base64(node: NodeServer, ns: str, sleeper: str) -> None:
    query = [("command", "cat"), ("stdin", "true"), ("stdout", "true")]
    protocol, received, _ = asyncio.run(
        _raw_session(
            node,
            f"/api/v1/namespaces/{ns}/pods/{sleeper}/exec",
            query,
            ("v5.base64.channel.k8s.io",),
            ["0" + base64.b64encode(b"abc\n").decode(), "\xff0"],
        )
    )
    assert protocol == "v5.base64.channel.k8s.io"
    out = b"".join(data for channel, data in received if channel == 1)
    assert out == b"abc\n"
    assert json.loads(b"".join(d for c, d in received if c == 3)) == {"metadata": {}, "status": "Success"}


def test_v1_protocol_success_sends_no_status(node: NodeServer, ns: str, sleeper: str) -> None:
    protocol, received, _ = asyncio.run(
        _raw_session(
            node,
            f"/api/v1/namespaces/{ns}/pods/{sleeper}/exec",
            [("command", "echo"), ("command", "ok"), ("stdout", "true")],
            ("channel.k8s.io",),
            [],
        )
    )
    assert protocol == "channel.k8s.io"
    assert received == [(1, b""), (1, b"ok\n")]


async def _refused_upgrade(node: NodeServer, path: str, protocols: str) -> tuple[int, dict[str, Any]]:
    """A websocket handshake the server refuses: its HTTP status and Status body."""
    server, ca, token = node.server._kubeconfig_parts()
    ctx = ssl.create_default_context(cadata=ca.decode())
    headers = {
        "Authorization": f"Bearer {token}",
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": base64.b64encode(b"0123456789abcdef").decode(),
        "Sec-WebSocket-Protocol": protocols,
    }
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server}{path}", headers=headers, ssl=ctx) as resp:
            return resp.status, json.loads(await resp.read())


def test_spdy_only_protocols_are_refused_over_websocket(node: NodeServer, ns: str, sleeper: str) -> None:
    status, body = asyncio.run(
        _refused_upgrade(
            node,
            f"/api/v1/namespaces/{ns}/pods/{sleeper}/exec?command=true&stdout=true",
            "v3.channel.k8s.io, v2.channel.k8s.io",
        )
    )
    assert status == 400, body
    assert body["kind"] == "Status" and body["code"] == 400
    assert body["message"].startswith("requested protocol(s) are not supported"), body


# --- port-forward through kubernetes.stream.portforward ----------------------------------------------------
def _recv_all(sock: Any, timeout: float = TIMEOUT) -> bytes:
    sock.settimeout(timeout)
    chunks = []
    while True:
        try:
            data = sock.recv(65536)
        except TimeoutError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


@pytest.fixture(scope="module")
def web(node: NodeServer, ns: str) -> tuple[str, int, str]:
    """A pod serving a token over HTTP: (pod name, port, token)."""
    f = node.flavor
    port = 8080 if node.runtime == "containerd" else free_port()
    token = unique("served")
    node.create_pod(
        ns,
        "web",
        {"containers": [f.container("c", f.http_server(port, token), ports=[{"containerPort": port}])]},
    )
    node.wait_running(ns, "web")
    return "web", port, token


def test_python_client_port_forward(core: Any, ns: str, web: tuple[str, int, str]) -> None:
    from kubernetes.stream import portforward

    name, port, token = web

    def get() -> tuple[bytes, str | None]:
        pf = portforward(core.connect_get_namespaced_pod_portforward, name, ns, ports=str(port))
        try:
            sock = pf.socket(port)
            sock.setblocking(True)
            try:
                sock.sendall(b"GET /index.html HTTP/1.0\r\nHost: pod\r\n\r\n")
            except OSError:  # not listening yet: the error channel closed the forward already
                return b"", pf.error(port)
            return _recv_all(sock), pf.error(port)
        finally:
            pf.close()

    # the server in the pod may need a moment to listen after the container started
    def served() -> tuple[bytes, str | None] | None:
        answer = get()
        return answer if b" 200 " in answer[0] else None

    reply, error = wait_for(served, timeout=30, interval=0.5, what="a response through port-forward")
    assert error is None, error
    assert reply.split(b"\r\n\r\n", 1)[1].strip() == token.encode()
    # a second forward, right away
    again, error = get()
    assert error is None and again.endswith(token.encode() + b"\n"), again


def test_python_client_port_forward_to_a_closed_port_reports_the_error(
    node: NodeServer, core: Any, ns: str, sleeper: str
) -> None:
    from kubernetes.stream import portforward

    port = 8089 if node.runtime == "containerd" else free_port()
    pf = portforward(core.connect_get_namespaced_pod_portforward, sleeper, ns, ports=str(port))
    try:
        sock = pf.socket(port)
        sock.setblocking(True)
        with_timeout = _recv_all(sock)
        assert with_timeout == b""
        error = wait_for(lambda: pf.error(port), timeout=TIMEOUT, what="an error on the port's error channel")
        assert f"error forwarding port {port} to pod" in error, error
    finally:
        pf.close()


def test_port_forward_over_channels_needs_ports(node: NodeServer, ns: str, sleeper: str) -> None:
    path = f"/api/v1/namespaces/{ns}/pods/{sleeper}/portforward"
    for query, message in (
        ("", 'query parameter "ports" is required'),
        (
            "?ports=http",
            'unable to parse "http" as a port: strconv.ParseUint: parsing "http": invalid syntax',
        ),
        ("?ports=0", 'port "0" must be > 0'),
    ):
        status, body = asyncio.run(_refused_upgrade(node, path + query, "v4.channel.k8s.io"))
        assert (status, body["reason"], body["message"]) == (400, "BadRequest", message), body


# --- classic SPDY (kubectl's fallback; remotecommand v1-v5 and portforward.k8s.io) ------------------------
SPDY_ENV = {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false", "KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"}


def test_kubectl_exec_over_classic_spdy(node: NodeServer, ns: str, sleeper: str) -> None:
    res = node.server.kubectl(
        "exec", sleeper, "-n", ns, "-v=8", "--", "echo", "hi", env=SPDY_ENV, check=False
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout == "hi\n"
    assert "SPDY" in res.stderr  # the request really went the SPDY way
    res = node.server.kubectl(
        "exec", sleeper, "-n", ns, "--", "sh", "-c", "echo o; echo e >&2; exit 3", env=SPDY_ENV, check=False
    )
    assert (res.returncode, res.stdout, res.stderr.splitlines()[0]) == (3, "o\n", "e"), res.stderr
    res = node.server.kubectl("exec", "-i", sleeper, "-n", ns, "--", "cat", input="one\ntwo\n", env=SPDY_ENV)
    assert res.stdout == "one\ntwo\n"


def test_kubectl_port_forward_over_classic_spdy(node: NodeServer, ns: str, web: tuple[str, int, str]) -> None:
    name, port, token = web
    kyb = node.server
    env = {**os.environ, "KUBECONFIG": str(kyb.kubeconfig), "KUBECACHEDIR": str(kyb.cache_dir), **SPDY_ENV}
    env.pop("KUBERNETES_SERVICE_HOST", None)
    proc = subprocess.Popen(
        [KUBECTL, "--cache-dir", str(kyb.cache_dir), "port-forward", "-n", ns, f"pod/{name}", f":{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    reader = LineReader(proc)
    assert_port_forward_serves(reader, token)


async def _spdy_session(
    node: NodeServer,
    path: str,
    protocols: tuple[str, ...],
    streams: tuple[str, ...],
    *,
    stdin: bytes | None = None,
    resize: dict[str, int] | None = None,
) -> tuple[int, str, dict[str, bytes]]:
    """A raw remotecommand client over classic SPDY: upgrade, open ``streams``, send ``resize`` and
    ``stdin`` (then FIN), read until the server closes. Returns (HTTP status, negotiated protocol, bytes
    per stream type)."""
    from kybernetes.kubelet.streaming import spdy

    server, ca, token = node.server._kubeconfig_parts()
    parts = urlsplit(server)
    ctx = ssl.create_default_context(cadata=ca.decode())
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port, ssl=ctx)
    try:
        head = [
            f"POST {path} HTTP/1.1",
            f"Host: {parts.netloc}",
            f"Authorization: Bearer {token}",
            "Connection: Upgrade",
            "Upgrade: SPDY/3.1",
            "Content-Length: 0",
            *(f"X-Stream-Protocol-Version: {p}" for p in protocols),
        ]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        async with asyncio.timeout(TIMEOUT):
            response = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(response[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in response[1:] if h)}
        if status != 101:
            return status, "", {}
        fw, fr = spdy.FrameWriter(), spdy.FrameReader()
        ids = {kind: 1 + 2 * i for i, kind in enumerate(streams)}
        for kind, sid in ids.items():
            writer.write(fw.encode(spdy.SynStream(sid, {"streamtype": kind})))
        if resize is not None:
            writer.write(fw.encode(spdy.DataFrame(ids["resize"], json.dumps(resize).encode())))
        if stdin is not None:
            writer.write(fw.encode(spdy.DataFrame(ids["stdin"], stdin, spdy.FLAG_FIN)))
        await writer.drain()
        kinds = {sid: kind for kind, sid in ids.items()}
        got: dict[str, bytes] = {}
        async with asyncio.timeout(TIMEOUT):
            while data := await reader.read(65536):
                for frame in fr.feed(data):
                    if isinstance(frame, spdy.DataFrame) and frame.stream_id in kinds:
                        kind = kinds[frame.stream_id]
                        got[kind] = got.get(kind, b"") + frame.data
        return status, headers.get("x-stream-protocol-version", ""), got
    finally:
        writer.close()


@pytest.mark.parametrize(
    "protocol",
    ["v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"],
)
def test_each_spdy_remotecommand_protocol(node: NodeServer, ns: str, sleeper: str, protocol: str) -> None:
    script = "read line; echo got-$line; echo err >&2; exit 3"
    query = urlencode(
        [
            ("command", "sh"),
            ("command", "-c"),
            ("command", script),
            ("stdin", "true"),
            ("stdout", "true"),
            ("stderr", "true"),
        ]
    )
    status, chosen, got = asyncio.run(
        _spdy_session(
            node,
            f"/api/v1/namespaces/{ns}/pods/{sleeper}/exec?{query}",
            (protocol, "v9.channel.k8s.io"),
            ("error", "stdin", "stdout", "stderr"),
            stdin=b"hello\n",
        )
    )
    assert (status, chosen) == (101, protocol)
    assert got.get("stdout") == b"got-hello\n", got
    assert got.get("stderr") == b"err\n", got
    if protocol.startswith(("v4.", "v5.")):
        final = json.loads(got["error"])
        assert final["reason"] == "NonZeroExitCode"
        assert final["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    else:
        assert got["error"].startswith(b"command terminated with non-zero exit code"), got


def test_spdy_resize_from_v3_on(node: NodeServer, ns: str, sleeper: str) -> None:
    script = 'for i in 1 2 3 4 5 6 7 8 9 10; do s=$(stty size); [ "$s" = "45 123" ] && break; sleep 0.3; done; echo "size $s"'
    query = urlencode(
        [("command", "sh"), ("command", "-c"), ("command", script), ("stdout", "true"), ("tty", "true")]
    )
    status, chosen, got = asyncio.run(
        _spdy_session(
            node,
            f"/api/v1/namespaces/{ns}/pods/{sleeper}/exec?{query}",
            ("v3.channel.k8s.io",),
            ("error", "stdout", "resize"),
            resize={"Width": 123, "Height": 45},
        )
    )
    assert (status, chosen) == (101, "v3.channel.k8s.io")
    assert b"size 45 123" in got.get("stdout", b""), got
    assert got.get("error", b"") == b""  # v3: nothing on success


def test_spdy_unknown_protocol_is_refused(node: NodeServer, ns: str, sleeper: str) -> None:
    status, _, _ = asyncio.run(
        _spdy_session(
            node,
            f"/api/v1/namespaces/{ns}/pods/{sleeper}/exec?command=true&stdout=true",
            ("v9.channel.k8s.io",),
            (),
        )
    )
    assert status == 403


def test_spdy_attach_with_stdin_once(node: NodeServer, ns: str) -> None:
    name = unique("once")
    container = {**node.flavor.container("c", ""), "command": ["sh"], "stdin": True, "stdinOnce": True}
    node.create_pod(ns, name, {"containers": [container], "restartPolicy": "Never"})
    node.wait_running(ns, name)
    query = urlencode([("stdin", "true"), ("stdout", "true"), ("stderr", "true")])
    status, chosen, got = asyncio.run(
        _spdy_session(
            node,
            f"/api/v1/namespaces/{ns}/pods/{name}/attach?{query}",
            ("v5.channel.k8s.io", "v4.channel.k8s.io"),
            ("error", "stdin", "stdout", "stderr"),
            stdin=b"echo spdy-attach-$((2+3))\n",
        )
    )
    assert (status, chosen) == (101, "v5.channel.k8s.io")
    assert got.get("stdout") == b"spdy-attach-5\n", got
    # stdinOnce: the end of this attach's stdin is the end of the shell's, so it exited and attach ended
    assert json.loads(got["error"]) == {"metadata": {}, "status": "Success"}
    node.wait_pod(ns, name, lambda p: (p.get("status") or {}).get("phase") == "Succeeded", what="sh exited")
