"""The kubelet HTTP API (``KubeletServer``) on loopback with a fake provider and runtime, driven by an
aiohttp client speaking the same protocols kubectl does: logs, exec/attach over the websocket channel
protocol, port-forward as SPDY/3.1 inside websocket messages, bearer-token auth.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from kybernetes.kubelet.server import STATUS_HEADER, KubeletServer
from kybernetes.kubelet.streaming import channels, spdy
from tests.kubelet.test_streaming_support import (
    TIMEOUT,
    FakeProvider,
    SpdyPortForwardClient,
    echo_server,
    until,
    write_log,
)

TOKEN = "s3cret"


@dataclass
class Kubelet:
    server: KubeletServer
    provider: FakeProvider
    http: aiohttp.ClientSession
    log_dir: Path

    @property
    def url(self) -> str:
        return self.server.url

    async def ws(
        self, path: str, protocols: tuple[str, ...] = (channels.V5,)
    ) -> aiohttp.ClientWebSocketResponse:
        return await self.http.ws_connect(
            self.url + path, protocols=protocols, timeout=aiohttp.ClientWSTimeout(ws_close=5)
        )


@pytest.fixture
async def kubelet(tmp_path: Path) -> AsyncIterator[Kubelet]:
    provider = FakeProvider()
    provider.add("default", "web", "app", tmp_path)
    server = KubeletServer(provider, host="127.0.0.1", port=0, auth_token=TOKEN, log_poll_seconds=0.02)
    await server.start()
    async with aiohttp.ClientSession(
        headers={"Authorization": f"Bearer {TOKEN}"}, timeout=aiohttp.ClientTimeout(total=TIMEOUT)
    ) as http:
        try:
            yield Kubelet(server, provider, http, tmp_path)
        finally:
            await server.stop()


async def run_session(
    ws: aiohttp.ClientWebSocketResponse, stdin: bytes | None = None
) -> tuple[dict[int, bytes], Any]:
    """Collect channel output until the server closes; returns (channel -> bytes, final status)."""
    if stdin is not None:
        await ws.send_bytes(b"\x00" + stdin)
        await ws.send_bytes(bytes((channels.CLOSE, channels.STDIN)))
    out: dict[int, bytes] = {}
    status = None
    async with asyncio.timeout(TIMEOUT):
        async for msg in ws:
            assert msg.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT)
            channel, data = channels.decode(ws.protocol or channels.V5, msg.data)
            if not data:
                continue  # the "session established" message
            if channel == channels.ERROR:
                status = json.loads(data)
            else:
                out[channel] = out.get(channel, b"") + data
    assert ws.close_code == 1000
    return out, status


# --- basics --------------------------------------------------------------------------------------------
async def test_healthz_needs_no_token_but_the_api_does(kubelet: Kubelet) -> None:
    async with aiohttp.ClientSession() as anon:
        async with anon.get(kubelet.url + "/healthz") as resp:
            assert (resp.status, await resp.text()) == (200, "ok")
        async with anon.get(kubelet.url + "/containerLogs/default/web/app") as resp:
            assert resp.status == 401
            assert (await resp.json())["reason"] == "Unauthorized"
        async with anon.get(
            kubelet.url + "/containerLogs/default/web/app", headers={"Authorization": "Bearer wrong"}
        ) as resp:
            assert resp.status == 401


async def test_unknown_path_is_a_status_404(kubelet: Kubelet) -> None:
    async with kubelet.http.get(kubelet.url + "/nothing/here") as resp:
        assert resp.status == 404
        assert (await resp.json())["kind"] == "Status"


# --- logs ----------------------------------------------------------------------------------------------
async def test_logs_strip_the_cri_prefix(kubelet: Kubelet) -> None:
    c = kubelet.provider.pods[("default", "web")]["app"]
    write_log(Path(c.log_path), ["one", "two", "three"])
    async with kubelet.http.get(kubelet.url + "/containerLogs/default/web/app") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        assert await resp.text() == "one\ntwo\nthree\n"
    async with kubelet.http.get(
        kubelet.url + "/containerLogs/default/web/app?tailLines=2&timestamps=true"
    ) as resp:
        lines = (await resp.text()).splitlines()
        assert [line.split(" ", 1)[1] for line in lines] == ["two", "three"]
        assert all(len(line.split(" ", 1)[0]) == len("2024-01-02T03:04:05.123456789Z") for line in lines)
    async with kubelet.http.get(kubelet.url + "/containerLogs/default/web/app?limitBytes=5") as resp:
        assert await resp.text() == "one\nt"


async def test_logs_follow_streams_new_lines_until_the_container_stops(kubelet: Kubelet) -> None:
    c = kubelet.provider.pods[("default", "web")]["app"]
    write_log(Path(c.log_path), ["first"])
    async with kubelet.http.get(kubelet.url + "/containerLogs/default/web/app?follow=true") as resp:
        assert await asyncio.wait_for(resp.content.readline(), TIMEOUT) == b"first\n"
        write_log(Path(c.log_path), ["second"])
        assert await asyncio.wait_for(resp.content.readline(), TIMEOUT) == b"second\n"
        c.state = "exited"
        assert await asyncio.wait_for(resp.content.read(), TIMEOUT) == b""


async def test_log_errors_are_status_responses(kubelet: Kubelet) -> None:
    async with kubelet.http.get(kubelet.url + "/containerLogs/default/web/nope") as resp:
        assert resp.status == 400
        body = await resp.json()
        assert body["message"] == 'container "nope" in pod "web" is waiting to start: ContainerCreating'
    async with kubelet.http.get(kubelet.url + "/containerLogs/default/web/app?previous=true") as resp:
        assert resp.status == 400
        assert "previous terminated container" in (await resp.json())["message"]
    async with kubelet.http.get(kubelet.url + "/containerLogs/default/web/app?tailLines=x") as resp:
        assert resp.status == 400


async def test_missing_log_file_is_empty(kubelet: Kubelet) -> None:
    async with kubelet.http.get(kubelet.url + "/containerLogs/default/web/app") as resp:
        assert (resp.status, await resp.text()) == (200, "")


# --- exec / attach -------------------------------------------------------------------------------------
async def test_exec_echo_over_v5(kubelet: Kubelet) -> None:
    ws = await kubelet.ws("/exec/default/web/app?command=echo&command=hi&stdout=1&stderr=1")
    assert ws.protocol == channels.V5
    out, status = await run_session(ws)
    assert out == {channels.STDOUT: b"hi\n"}
    assert status == {"metadata": {}, "status": "Success"}


async def test_exec_exit_code_and_stderr(kubelet: Kubelet) -> None:
    ws = await kubelet.ws(
        "/exec/default/web/app?command=sh&command=-c&command=echo oops >%262; exit 3&stdout=1&stderr=1"
    )
    out, status = await run_session(ws)
    assert out == {channels.STDERR: b"oops\n"}
    assert status["reason"] == "NonZeroExitCode"
    assert channels.parse_exit_code(status) == 3


async def test_exec_stdin_is_closed_by_the_v5_close_signal(kubelet: Kubelet) -> None:
    ws = await kubelet.ws("/exec/default/web/app?command=cat&stdin=1&stdout=1")
    out, status = await run_session(ws, stdin=b"hello\n")
    assert out == {channels.STDOUT: b"hello\n"}
    assert status["status"] == "Success"


async def test_exec_resize_events_reach_the_runtime(kubelet: Kubelet) -> None:
    ws = await kubelet.ws("/exec/default/web/app?command=cat&stdin=1&stdout=1&tty=1")
    await ws.send_bytes(b"\x04" + json.dumps({"Width": 100, "Height": 40}).encode())
    _, status = await run_session(ws, stdin=b"x")
    assert status["status"] == "Success"
    assert (100, 40) in kubelet.provider.runtime.resizes


async def test_exec_over_v4_and_base64(kubelet: Kubelet) -> None:
    ws = await kubelet.ws("/exec/default/web/app?command=echo&command=v4&stdout=1", protocols=(channels.V4,))
    assert ws.protocol == channels.V4
    out, status = await run_session(ws)
    assert (out, status["status"]) == ({channels.STDOUT: b"v4\n"}, "Success")
    ws = await kubelet.ws(
        "/exec/default/web/app?command=echo&command=b64&stdout=1", protocols=(channels.V5_BASE64,)
    )
    out, status = await run_session(ws)
    assert (out, status["status"]) == ({channels.STDOUT: b"b64\n"}, "Success")


async def test_exec_failure_to_start_is_an_error_status(kubelet: Kubelet) -> None:
    ws = await kubelet.ws("/exec/default/web/app?command=fail-to-start&stdout=1")
    _, status = await run_session(ws)
    assert status["status"] == "Failure"
    assert "no such executable" in status["message"]
    assert channels.parse_exit_code(status) is None


async def test_exec_errors_before_the_upgrade_carry_the_status_header(kubelet: Kubelet) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await kubelet.ws("/exec/default/web/missing?command=echo&stdout=1")
    assert info.value.status == 400
    assert info.value.headers is not None
    status = json.loads(info.value.headers[STATUS_HEADER])
    assert status["message"] == 'container "missing" in pod "web" is waiting to start: ContainerCreating'
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await kubelet.ws("/exec/default/web/app?command=echo&stdout=1", protocols=("v9.channel.k8s.io",))
    assert info.value.status == 400
    async with kubelet.http.get(kubelet.url + "/exec/default/web/app?command=echo&stdout=1") as resp:
        assert resp.status == 400
        assert (await resp.json())["message"] == "Upgrade request required"
    async with kubelet.http.get(kubelet.url + "/exec/default/web/app?command=echo") as resp:
        assert resp.status == 400


async def test_attach_echoes_until_stdin_closes(kubelet: Kubelet) -> None:
    ws = await kubelet.ws("/attach/default/web/app?stdin=1&stdout=1&stderr=1")
    out, status = await run_session(ws, stdin=b"shout\n")
    assert out == {channels.STDOUT: b"attached\nSHOUT\n"}
    assert status["status"] == "Success"


async def test_client_going_away_cancels_the_exec(kubelet: Kubelet) -> None:
    ws = await kubelet.ws("/exec/default/web/app?command=sleep&command=30&stdout=1")
    await asyncio.sleep(0.2)
    await ws.close()
    await until(lambda: not kubelet.server._sessions)
    assert kubelet.provider.runtime.exec_calls[-1][1] == ["sleep", "30"]


# --- port-forward --------------------------------------------------------------------------------------
async def test_port_forward_echo(kubelet: Kubelet) -> None:
    async with echo_server() as port:
        ws = await kubelet.ws("/portForward/default/web", protocols=(channels.PORT_FORWARD_SPDY_WEBSOCKET,))
        assert ws.protocol == channels.PORT_FORWARD_SPDY_WEBSOCKET
        client = SpdyPortForwardClient(ws)
        try:
            error_id, data_id = await client.open_pair(port, 0)
            replies = {(await client.next_frame()).stream_id for _ in range(2)}  # type: ignore[union-attr]
            assert replies == {error_id, data_id}
            await client.send(spdy.DataFrame(data_id, b"hello"))
            assert await client.collect(data_id, until_fin=False) == b"hello"
            await client.send(spdy.Ping(1))
            assert await client.next_frame() == spdy.Ping(1)
            # a second connection over the same websocket
            error2, data2 = await client.open_pair(port, 1)
            await client.send(spdy.DataFrame(data2, b"again", spdy.FLAG_FIN))
            got = await client.collect(data2)
            assert got in (b"again", b"")  # FIN tears the forward down (as containerd does)
            assert await client.collect(error2) == b""
            # kubectl resets the data stream when its local connection ends; the error stream then ends
            await client.send(spdy.RstStream(data_id, spdy.CANCEL))
            assert await client.collect(error_id) == b""
        finally:
            await client.close()
    assert kubelet.provider.runtime.forwarded == [("sandbox-default-web", port)] * 2


async def test_port_forward_to_a_closed_port_reports_on_the_error_stream(kubelet: Kubelet) -> None:
    from tests.kubelet.test_streaming_support import free_port

    ws = await kubelet.ws("/portForward/default/web", protocols=(channels.PORT_FORWARD_SPDY_WEBSOCKET,))
    client = SpdyPortForwardClient(ws)
    try:
        error_id, data_id = await client.open_pair(free_port(), 7)
        message = await client.collect(error_id)
        assert message.startswith(b"error forwarding port")
        assert await client.collect(data_id) == b""
    finally:
        await client.close()


async def test_port_forward_unknown_pod_fails_before_the_upgrade(kubelet: Kubelet) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await kubelet.ws("/portForward/default/ghost", protocols=(channels.PORT_FORWARD_SPDY_WEBSOCKET,))
    assert info.value.status == 400


# --- port-forward over the websocket channel protocol (the Python client's way) ------------------------
async def _next_channel(ws: aiohttp.ClientWebSocketResponse) -> tuple[int, bytes]:
    async with asyncio.timeout(TIMEOUT):
        msg = await ws.receive()
    assert msg.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT), msg
    return channels.decode(ws.protocol or channels.V4, msg.data)


async def test_channel_port_forward_two_ports(kubelet: Kubelet) -> None:
    from tests.kubelet.test_streaming_support import free_port

    closed = free_port()
    async with echo_server() as port:
        ws = await kubelet.ws(
            f"/portForward/default/web?ports={port},{closed}", protocols=(channels.V5, channels.V4)
        )
        assert ws.protocol == channels.V4  # port-forward has no v5
        # every channel opens with its port, little-endian
        first = [await _next_channel(ws) for _ in range(4)]
        prefixes = [port.to_bytes(2, "little")] * 2 + [closed.to_bytes(2, "little")] * 2
        assert sorted(first) == list(enumerate(prefixes))
        # the closed port reports on its error channel; the open one echoes
        await ws.send_str("\x00text ")  # text messages count on the binary protocol too
        await ws.send_bytes(b"\x00and bytes")
        got: dict[int, bytes] = {}
        async with asyncio.timeout(TIMEOUT):
            while got.get(0, b"") != b"text and bytes" or 3 not in got:
                channel, data = await _next_channel(ws)
                got[channel] = got.get(channel, b"") + data
        assert got[3].startswith(f"error forwarding port {closed} to pod default/web: ".encode()), got
        assert 2 not in got
        await ws.close()
    await until(lambda: not kubelet.server._sessions)


async def test_channel_port_forward_over_base64_ends_when_the_pod_side_closes(kubelet: Kubelet) -> None:
    async def answer_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.readline()
        writer.write(b"got " + data)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer_once, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        ws = await kubelet.ws(f"/portForward/default/web?ports={port}", protocols=(channels.V4_BASE64,))
        assert ws.protocol == channels.V4_BASE64
        prefix = port.to_bytes(2, "little")
        assert sorted([await _next_channel(ws), await _next_channel(ws)]) == [(0, prefix), (1, prefix)]
        await ws.send_str(channels.encode(channels.V4_BASE64, 0, b"ping\n"))  # type: ignore[arg-type]
        data = b""
        async with asyncio.timeout(TIMEOUT):
            async for msg in ws:
                assert msg.type == aiohttp.WSMsgType.TEXT
                channel, chunk = channels.decode(channels.V4_BASE64, msg.data)
                assert channel == 0, (channel, chunk)
                data += chunk
        assert data == b"got ping\n"
        assert ws.close_code == 1000  # the server closed once the only port was done
    finally:
        server.close()
        await server.wait_closed()


async def test_channel_port_forward_bad_ports_fail_before_the_upgrade(kubelet: Kubelet) -> None:
    for query, message in (
        ("", 'query parameter "ports" is required'),
        ("?ports=1,x", 'unable to parse "1,x" as a port: strconv.ParseUint: parsing "x": invalid syntax'),
    ):
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await kubelet.ws("/portForward/default/web" + query, protocols=(channels.V4,))
        assert info.value.status == 400
        assert info.value.headers is not None
        assert json.loads(info.value.headers[STATUS_HEADER])["message"] == message


# --- legacy channel protocols --------------------------------------------------------------------------
async def test_exec_over_v1_protocols_and_no_protocol(kubelet: Kubelet) -> None:
    for offer in ((channels.V1,), (channels.V1_BASE64,), ()):
        ws = await kubelet.ws(
            "/exec/default/web/app?command=sh&command=-c&command=read x; echo $x; exit 2&stdin=1&stdout=1",
            protocols=offer,
        )
        assert ws.protocol == (offer[0] if offer else None)
        first = await _next_channel(ws)
        assert first == (channels.STDOUT, b"")  # the session-established message
        await ws.send_bytes(b"\x00" if offer != (channels.V1_BASE64,) else b"0")  # empty stdin is fine
        line = channels.encode(offer[0] if offer else channels.NONE, channels.STDIN, b"legacy\n")
        await (ws.send_str(line) if isinstance(line, str) else ws.send_bytes(line))
        got: dict[int, bytes] = {}
        async with asyncio.timeout(TIMEOUT):
            async for msg in ws:
                channel, data = channels.decode(offer[0] if offer else channels.NONE, msg.data)
                got[channel] = got.get(channel, b"") + data
        assert got[channels.STDOUT] == b"legacy\n"
        # v1 statuses are the bare message
        assert got[channels.ERROR].decode().startswith("command terminated with non-zero exit code"), got


# --- classic SPDY (Upgrade: SPDY/3.1) --------------------------------------------------------------------
class ClassicSpdy:
    """A raw client of the classic SPDY upgrade: the HTTP request, then SPDY frames on the socket."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: list[str]) -> None:
        self.reader, self.writer = reader, writer
        self.status = int(head[0].split()[1])
        self.headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:] if h)}
        self.fw, self.fr = spdy.FrameWriter(), spdy.FrameReader()
        self.frames: list[spdy.Frame] = []
        self.body = b""

    @classmethod
    async def open(cls, url: str, path: str, protocols: tuple[str, ...], token: str = TOKEN) -> ClassicSpdy:
        host, port = url.split("//")[1].split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        lines = [
            f"POST {quote(path, safe='/?&=%')} HTTP/1.1",
            f"Host: {host}",
            f"Authorization: Bearer {token}",
            "Connection: Upgrade",
            "Upgrade: SPDY/3.1",
            "Content-Length: 0",
            *(f"X-Stream-Protocol-Version: {p}" for p in protocols),
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        async with asyncio.timeout(TIMEOUT):
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        client = cls(reader, writer, head)
        if client.status != 101:
            length = int(client.headers.get("content-length", "0"))
            client.body = await reader.readexactly(length)
        return client

    def send(self, *frames: spdy.Frame) -> None:
        for frame in frames:
            self.writer.write(self.fw.encode(frame))

    async def until_closed(self) -> dict[int, bytes]:
        """Read frames until the server closes the connection; data per stream id."""
        data: dict[int, bytes] = {}
        async with asyncio.timeout(TIMEOUT):
            while chunk := await self.reader.read(65536):
                for frame in self.fr.feed(chunk):
                    self.frames.append(frame)
                    if isinstance(frame, spdy.DataFrame):
                        data[frame.stream_id] = data.get(frame.stream_id, b"") + frame.data
        self.writer.close()
        return data


async def test_classic_spdy_exec_v4(kubelet: Kubelet) -> None:
    client = await ClassicSpdy.open(
        kubelet.url,
        "/exec/default/web/app?command=sh&command=-c&command=cat; echo e >%262; exit 4&stdin=1&stdout=1&stderr=1",
        ("v4.channel.k8s.io", "v3.channel.k8s.io"),
    )
    assert (client.status, client.headers["x-stream-protocol-version"]) == (101, "v4.channel.k8s.io")
    assert client.headers["upgrade"] == "SPDY/3.1"
    client.send(
        spdy.SynStream(1, {"streamtype": "error"}),
        spdy.SynStream(3, {"streamtype": "stdin"}),
        spdy.SynStream(5, {"streamtype": "stdout"}),
        spdy.SynStream(7, {"streamtype": "stderr"}),
        spdy.Ping(1),
        spdy.DataFrame(3, b"in\n"),
        spdy.DataFrame(3, b"", spdy.FLAG_FIN),  # end of stdin
    )
    data = await client.until_closed()
    assert (data[5], data[7]) == (b"in\n", b"e\n")
    status = json.loads(data[1])
    assert status["reason"] == "NonZeroExitCode" and channels.parse_exit_code(status) == 4
    replies = {f.stream_id for f in client.frames if isinstance(f, spdy.SynReply)}
    assert replies == {1, 3, 5, 7}
    assert spdy.Ping(1) in client.frames
    # every stream the server wrote on ends with FIN
    fins = {f.stream_id for f in client.frames if isinstance(f, spdy.DataFrame) and f.fin}
    assert fins == {1, 5, 7}


async def test_classic_spdy_v2_status_is_text_and_reset_closes_stdin(kubelet: Kubelet) -> None:
    client = await ClassicSpdy.open(
        kubelet.url,
        "/exec/default/web/app?command=sh&command=-c&command=cat; exit 1&stdin=1&stdout=1",
        ("v2.channel.k8s.io",),
    )
    assert client.headers["x-stream-protocol-version"] == "v2.channel.k8s.io"
    client.send(
        spdy.SynStream(1, {"streamtype": "error"}),
        spdy.SynStream(3, {"streamtype": "stdin"}),
        spdy.SynStream(5, {"streamtype": "stdout"}),
        spdy.DataFrame(3, b"x"),
        spdy.RstStream(3, spdy.CANCEL),
    )
    data = await client.until_closed()
    assert data[5] == b"x"
    assert data[1].decode().startswith("command terminated with non-zero exit code")


async def test_classic_spdy_refusals(kubelet: Kubelet) -> None:
    client = await ClassicSpdy.open(
        kubelet.url, "/exec/default/web/app?command=true&stdout=1", ("v9.channel.k8s.io",)
    )
    assert client.status == 403
    assert json.loads(client.body)["message"].startswith("unable to upgrade: unable to negotiate protocol")
    client.writer.close()
    client = await ClassicSpdy.open(
        kubelet.url, "/exec/default/web/missing?command=true&stdout=1", ("v4.channel.k8s.io",)
    )
    assert client.status == 400
    assert json.loads(client.headers[STATUS_HEADER.lower()])["message"].startswith('container "missing"')
    client.writer.close()


async def test_classic_spdy_streams_not_opened_in_time(kubelet: Kubelet) -> None:
    kubelet.server.stream_creation_timeout = 0.2
    calls = len(kubelet.provider.runtime.exec_calls)
    client = await ClassicSpdy.open(
        kubelet.url, "/exec/default/web/app?command=true&stdout=1", ("v4.channel.k8s.io",)
    )
    client.send(spdy.SynStream(1, {"streamtype": "error"}))  # no stdout stream
    await client.until_closed()
    assert len(kubelet.provider.runtime.exec_calls) == calls  # the command never ran


async def test_classic_spdy_port_forward(kubelet: Kubelet) -> None:
    async with echo_server() as port:
        client = await ClassicSpdy.open(kubelet.url, "/portForward/default/web", ("portforward.k8s.io",))
        assert (client.status, client.headers["x-stream-protocol-version"]) == (101, "portforward.k8s.io")
        headers = {"port": str(port), "requestid": "0"}
        client.send(
            spdy.SynStream(1, {"streamtype": "error", **headers}, spdy.FLAG_FIN),
            spdy.SynStream(3, {"streamtype": "data", **headers}),
            spdy.DataFrame(3, b"echo me"),
        )
        await client.writer.drain()
        got = b""
        async with asyncio.timeout(TIMEOUT):
            while got != b"echo me":
                for frame in client.fr.feed(await client.reader.read(65536)):
                    if isinstance(frame, spdy.DataFrame) and frame.stream_id == 3:
                        got += frame.data
        client.send(spdy.RstStream(3, spdy.CANCEL), spdy.GoAway(3))
        await client.until_closed()
    assert kubelet.provider.runtime.forwarded == [("sandbox-default-web", port)]
