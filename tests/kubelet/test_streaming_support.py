"""Fakes shared by the streaming tests: a runtime whose exec runs host commands, a provider, a CRI log
writer, a TCP echo server and a minimal SPDY port-forward client (the role kubectl plays).

Imported by ``tests/kubelet/test_streaming_*.py`` and ``tests/apiserver/test_node_proxy*.py``; the few
tests here check the fakes themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from kybernetes.kubelet.runtime import ContainerStatus, StreamIO
from kybernetes.kubelet.streaming import spdy

TIMEOUT = 20.0


def cri_line(
    text: str, *, stream: str = "stdout", partial: bool = False, when: dt.datetime | None = None
) -> str:
    when = when or dt.datetime.now(dt.UTC)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"  # nine fraction digits, as runtimes write
    return f"{stamp} {stream} {'P' if partial else 'F'} {text}\n"


def write_log(
    path: Path, lines: Sequence[str], *, start: dt.datetime | None = None, step: float = 1.0
) -> None:
    start = start or dt.datetime.now(dt.UTC) - dt.timedelta(seconds=step * len(lines))
    with path.open("a") as f:
        for i, line in enumerate(lines):
            f.write(cri_line(line, when=start + dt.timedelta(seconds=step * i)))


@dataclass
class FakeContainer:
    id: str
    log_path: str
    state: str = "running"
    attach_output: bytes = b"attached\n"


class FakeRuntime:
    """Only the stream half of ``Runtime``: exec runs the command on the host, attach echoes stdin."""

    def __init__(self) -> None:
        self.containers: dict[str, FakeContainer] = {}
        self.resizes: list[tuple[int, int]] = []
        self.forwarded: list[tuple[str, int]] = []
        self.exec_calls: list[tuple[str, list[str], bool]] = []

    async def container_status(self, container_id: str) -> ContainerStatus:
        c = self.containers[container_id]
        return ContainerStatus(id=c.id, name=c.id, state=c.state)  # type: ignore[arg-type]

    async def _resizes(self, io: StreamIO) -> None:
        async for size in io.resize_events():
            self.resizes.append(size)

    async def exec(self, container_id: str, command: Sequence[str], io: StreamIO, *, tty: bool) -> int:
        self.exec_calls.append((container_id, list(command), tty))
        if command and command[0] == "fail-to-start":
            raise RuntimeError("no such executable")
        proc = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdin and proc.stdout and proc.stderr

        async def feed() -> None:
            assert proc.stdin
            while (data := await io.read_stdin()) is not None:
                proc.stdin.write(data)
                with contextlib.suppress(ConnectionError):
                    await proc.stdin.drain()
            proc.stdin.close()

        async def pump(reader: asyncio.StreamReader, write: Callable[[bytes], Awaitable[None]]) -> None:
            while chunk := await reader.read(65536):
                await write(chunk)

        tasks = [asyncio.create_task(feed()), asyncio.create_task(self._resizes(io))]
        try:
            await asyncio.gather(pump(proc.stdout, io.write_stdout), pump(proc.stderr, io.write_stderr))
            return await proc.wait()
        finally:
            for t in tasks:
                t.cancel()
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    async def attach(self, container_id: str, io: StreamIO, *, tty: bool) -> None:
        c = self.containers[container_id]
        await io.write_stdout(c.attach_output)
        while (data := await io.read_stdin()) is not None:
            await io.write_stdout(data.upper())

    async def port_forward(
        self, sandbox_id: str, port: int
    ) -> tuple[Callable[[bytes], Awaitable[None]], AsyncIterator[bytes], Callable[[], Awaitable[None]]]:
        self.forwarded.append((sandbox_id, port))
        reader, writer = await asyncio.open_connection("127.0.0.1", port)

        async def send(data: bytes) -> None:
            writer.write(data)
            await writer.drain()

        async def chunks() -> AsyncIterator[bytes]:
            while data := await reader.read(65536):
                yield data

        async def close() -> None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

        return send, chunks(), close


@dataclass
class FakeProvider:
    runtime: FakeRuntime = field(default_factory=FakeRuntime)
    pods: dict[tuple[str, str], dict[str, FakeContainer]] = field(default_factory=dict)
    previous: dict[tuple[str, str, str], FakeContainer] = field(default_factory=dict)
    sandboxes: dict[tuple[str, str], str] = field(default_factory=dict)

    def add(self, namespace: str, pod: str, container: str, log_dir: Path, **kwargs: Any) -> FakeContainer:
        cid = f"{namespace}_{pod}_{container}"
        c = FakeContainer(cid, str(log_dir / f"{cid}.log"), **kwargs)
        self.runtime.containers[cid] = c
        self.pods.setdefault((namespace, pod), {})[container] = c
        self.sandboxes[(namespace, pod)] = f"sandbox-{namespace}-{pod}"
        return c

    async def find_container(
        self, namespace: str, pod: str, container: str, *, previous: bool = False
    ) -> tuple[Any, str, str]:
        if (namespace, pod) not in self.pods:
            raise LookupError(f'pod "{namespace}/{pod}" does not exist')
        if previous:
            prev = self.previous.get((namespace, pod, container))
            if prev is None:
                raise LookupError(f'previous terminated container "{container}" in pod "{pod}" not found')
            return self.runtime, prev.id, prev.log_path
        c = self.pods[(namespace, pod)].get(container)
        if c is None:
            raise LookupError(
                f'container "{container}" in pod "{pod}" is waiting to start: ContainerCreating'
            )
        return self.runtime, c.id, c.log_path

    def sandbox_of(self, namespace: str, pod: str) -> str:
        try:
            return self.sandboxes[(namespace, pod)]
        except KeyError:
            raise LookupError(f'pod "{namespace}/{pod}" does not exist') from None


@contextlib.asynccontextmanager
async def echo_server() -> AsyncIterator[int]:
    """A TCP echo server on 127.0.0.1; yields its port."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def until(check: Callable[[], object], seconds: float = TIMEOUT, interval: float = 0.02) -> None:
    """Poll ``check`` until it is truthy; AssertionError after ``seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        if check():
            return
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {seconds}s waiting for {check}")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SpdyPortForwardClient:
    """kubectl's side of port-forward over an aiohttp client websocket, for tests."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.writer = spdy.FrameWriter()
        self.reader = spdy.FrameReader()
        self.next_id = 1
        self.frames: asyncio.Queue[spdy.Frame] = asyncio.Queue()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                for frame in self.reader.feed(msg.data):
                    await self.frames.put(frame)

    async def send(self, frame: spdy.Frame) -> None:
        await self.ws.send_bytes(self.writer.encode(frame))

    async def open_pair(self, port: int, request_id: int) -> tuple[int, int]:
        error_id, data_id = self.next_id, self.next_id + 2
        self.next_id += 4
        headers = {"streamtype": "error", "port": str(port), "requestid": str(request_id)}
        await self.send(spdy.SynStream(error_id, headers))
        await self.send(spdy.DataFrame(error_id, b"", spdy.FLAG_FIN))
        await self.send(spdy.SynStream(data_id, {**headers, "streamtype": "data"}))
        return error_id, data_id

    async def next_frame(self, seconds: float = TIMEOUT) -> spdy.Frame:
        return await asyncio.wait_for(self.frames.get(), seconds)

    async def collect(self, stream_id: int, *, until_fin: bool = True, seconds: float = TIMEOUT) -> bytes:
        """Data received on ``stream_id`` until its FIN (other frames are kept aside)."""
        out = b""
        aside: list[spdy.Frame] = []
        try:
            while True:
                frame = await self.next_frame(seconds)
                if isinstance(frame, spdy.DataFrame) and frame.stream_id == stream_id:
                    out += frame.data
                    if frame.fin or not until_fin:
                        return out
                else:
                    aside.append(frame)
        finally:
            for f in aside:
                self.frames.put_nowait(f)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
        await self.ws.close()


def test_cri_line_shape() -> None:
    line = cri_line("hello", when=dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC))
    assert line == "2024-01-02T03:04:05.678000123Z stdout F hello\n"


async def test_echo_server_echoes() -> None:
    async with echo_server() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"ping")
        assert await asyncio.wait_for(reader.readexactly(4), TIMEOUT) == b"ping"
        writer.close()


async def test_fake_runtime_exec_runs_commands(tmp_path: Path) -> None:
    class IO:
        def __init__(self) -> None:
            self.out = b""

        async def read_stdin(self) -> bytes | None:
            return None

        async def write_stdout(self, data: bytes) -> None:
            self.out += data

        async def write_stderr(self, data: bytes) -> None:
            self.out += data

        async def resize_events(self) -> AsyncIterator[tuple[int, int]]:
            return
            yield  # pragma: no cover

    io = IO()
    code = await asyncio.wait_for(
        FakeRuntime().exec("c", ["sh", "-c", "echo hi; exit 4"], io, tty=False), TIMEOUT
    )
    assert (code, io.out) == (4, b"hi\n")
