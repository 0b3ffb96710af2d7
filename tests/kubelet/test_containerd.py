"""The containerd runtime against a real, private containerd (root only).

Each test starts a supervised containerd in a short temporary directory with its own bridge and pod
CIDR, imports the locally built busybox image (``tests/kubelet/images.py``) and the pause image, and
always stops containerd (removing every pod and reaping shims, mounts and the bridge) at the end.
Without root, containerd, runc, umoci or busybox-static the tests are skipped, or fail when ``CI=true``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from kybernetes.kubelet.runtime import ContainerConfig, Resources, Runtime, SandboxConfig
from kybernetes.kubelet.runtimes.containerd import ContainerdRuntime
from kybernetes.kubelet.runtimes.containerd_supervisor import ContainerdSupervisor, containerd_available
from kybernetes.kubelet.runtimes.images import import_image_archive
from tests.kubelet.images import BUSYBOX_IMAGE, BUSYBOX_REPO, busybox_archive, image_tools_available

pytestmark = pytest.mark.timeout(90)


def _missing() -> str:
    if os.geteuid() != 0:
        return "containerd tests need root"
    if not containerd_available():
        return "containerd/runc not installed (make containerd-deps)"
    if not image_tools_available():
        return "umoci/busybox-static not installed (make containerd-deps)"
    if not os.path.exists("/usr/lib/cni/bridge"):
        return "CNI plugins not installed (make containerd-deps)"
    return ""


@pytest.fixture(autouse=True)
def _require_containerd() -> None:
    missing = _missing()
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(missing)
        pytest.skip(missing)


def _conforms(runtime: ContainerdRuntime) -> Runtime:
    return runtime  # a type checker verifies ContainerdRuntime implements the Runtime protocol


def _read_lines(path: str) -> list[str]:
    return Path(path).read_text().splitlines()


def _exists(path: str) -> bool:
    return Path(path).exists()


class Env:
    def __init__(self, supervisor: ContainerdSupervisor, runtime: ContainerdRuntime, root: Path, cidr: str):
        self.supervisor = supervisor
        self.runtime = runtime
        self.root = root
        self.cidr = cidr
        self._n = 0

    async def sandbox(self, *, default_logs: bool = False, **kw: object) -> tuple[str, SandboxConfig]:
        self._n += 1
        uid = f"uid-{os.getpid()}-{self._n}-{int(time.time() * 1000) % 100000}"
        config = SandboxConfig(
            name=f"pod{self._n}",
            namespace="default",
            uid=uid,
            log_directory="" if default_logs else str(self.root / "logs" / uid),
            **kw,  # type: ignore[arg-type]
        )
        return await self.runtime.run_sandbox(config), config

    async def container(
        self, sandbox_id: str, sandbox: SandboxConfig, name: str, command: Sequence[str], **kw: object
    ) -> str:
        kw.setdefault("image", BUSYBOX_IMAGE)
        config = ContainerConfig(
            name=name,
            command=tuple(command),
            log_path=f"{sandbox.log_directory}/{name}/0.log" if sandbox.log_directory else "",
            **kw,  # type: ignore[arg-type]
        )
        cid = await self.runtime.create_container(sandbox_id, config)
        await self.runtime.start_container(cid)
        return cid

    async def wait_exited(self, cid: str, limit: float = 30) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if (await self.runtime.container_status(cid)).state == "exited":
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"container {cid} did not exit in {limit}s")


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    root = Path(tempfile.mkdtemp(prefix="kyb-ctd-", dir="/tmp"))
    n = os.getpid() % 200
    cidr = f"10.{50 + n}.{n}.0/24"
    supervisor = ContainerdSupervisor(root / "c", pod_cidr=cidr, bridge=f"kybt{os.getpid() % 100000}")
    runtime = ContainerdRuntime(supervisor.endpoint, pod_cidr=cidr, log_root=root / "logs")
    try:
        await supervisor.start()
        names = await import_image_archive(supervisor.socket, await busybox_archive(), base_name=BUSYBOX_REPO)
        assert names == [BUSYBOX_IMAGE]
        await runtime.start()
        yield Env(supervisor, runtime, root, cidr)
    finally:
        await runtime.close()
        await supervisor.close(remove_pods=True)
        leftovers = supervisor.leftovers()
        shutil.rmtree(root, ignore_errors=True)
        assert supervisor.pid is None
        assert leftovers == {"shims": [], "mounts": []}, leftovers


async def test_status_and_images(env: Env) -> None:
    status = await env.runtime.status()
    assert status.name == "containerd" and status.ready and status.network_ready and status.isolates
    assert status.version.startswith("1.")
    assert await env.runtime.image_present(BUSYBOX_IMAGE)
    assert not await env.runtime.image_present("kybernetes.local/absent:1")


async def test_container_logs_and_exit_code(env: Env) -> None:
    sid, sandbox = await env.sandbox()
    cid = await env.container(
        sid, sandbox, "main", ["sh", "-c", "echo hello; echo oops >&2; sleep 1; exit 2"]
    )
    running = await env.runtime.container_status(cid)
    assert running.state in ("running", "exited") and running.name == "main"
    await env.wait_exited(cid)
    status = await env.runtime.container_status(cid)
    assert status.exit_code == 2 and status.reason == "Error"
    assert status.finished_at >= status.started_at > 0
    lines = _read_lines(status.log_path)
    assert status.log_path == f"{sandbox.log_directory}/main/0.log"
    assert any(line.endswith(" stdout F hello") for line in lines), lines
    assert any(line.endswith(" stderr F oops") for line in lines), lines
    listed = await env.runtime.list_containers(sid)
    assert [c.id for c in listed] == [cid]
    sandboxes = dict(await env.runtime.list_sandboxes())
    assert sandboxes[sid] == sandbox


async def test_pod_network_and_port_forward(env: Env) -> None:
    sid, sandbox = await env.sandbox()
    status = await env.runtime.sandbox_status(sid)
    assert status.state == "ready" and status.network_namespace
    assert ipaddress.ip_address(status.ip) in ipaddress.ip_network(env.cidr)
    script = "mkdir -p /www && echo pong > /www/index.html && exec httpd -f -p 8080 -h /www"
    await env.container(sid, sandbox, "web", ["sh", "-c", script])
    # the host reaches the pod's own address over the bridge (inside the netns this test created)
    body = b""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.open_connection(status.ip, 8080)
        except OSError:
            await asyncio.sleep(0.2)
            continue
        writer.write(b"GET /index.html HTTP/1.0\r\n\r\n")
        body = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        break
    assert b"200 OK" in body and body.endswith(b"pong\n"), body
    # and through CRI's port forwarding (SPDY, portforward.k8s.io)
    send, received, close = await env.runtime.port_forward(sid, 8080)
    await send(b"GET /index.html HTTP/1.0\r\n\r\n")
    chunks = []
    async with asyncio.timeout(10):
        async for chunk in received:
            chunks.append(chunk)
    await close()
    assert b"".join(chunks).endswith(b"pong\n")


async def test_memory_limit_oom_killed(env: Env) -> None:
    sid, sandbox = await env.sandbox()
    cid = await env.container(
        sid,
        sandbox,
        "hog",
        ["sh", "-c", "exec dd if=/dev/zero of=/dev/null bs=64M count=4"],
        resources=Resources(cpu_millis_request=100, cpu_millis_limit=500, memory_limit_bytes=16 << 20),
    )
    await env.wait_exited(cid)
    status = await env.runtime.container_status(cid)
    assert status.reason == "OOMKilled" and status.exit_code == 137, status


class _IO:
    def __init__(self, stdin: Sequence[bytes] = ()) -> None:
        self.stdin = list(stdin)
        self.out = bytearray()
        self.err = bytearray()

    async def read_stdin(self) -> bytes | None:
        await asyncio.sleep(0.05)
        return self.stdin.pop(0) if self.stdin else None

    async def write_stdout(self, data: bytes) -> None:
        self.out += data

    async def write_stderr(self, data: bytes) -> None:
        self.err += data

    async def resize_events(self) -> AsyncIterator[tuple[int, int]]:
        yield (100, 40)
        await asyncio.Event().wait()


async def test_exec(env: Env) -> None:
    sid, sandbox = await env.sandbox()
    cid = await env.container(sid, sandbox, "sleeper", ["sleep", "3600"], env=(("GREETING", "hi there"),))
    result = await env.runtime.exec_sync(cid, ["sh", "-c", 'echo "$GREETING"; echo err >&2; exit 3'], 10)
    assert (result.exit_code, result.stdout, result.stderr) == (3, b"hi there\n", b"err\n")
    with pytest.raises(TimeoutError):
        await env.runtime.exec_sync(cid, ["sleep", "30"], 1)
    # streamed exec: stdin to cat and EOF, separate stdout/stderr, exit codes
    io = _IO([b"line one\n", b"line two\n"])
    code = await env.runtime.exec(cid, ["sh", "-c", "cat; echo done >&2; exit 4"], io, tty=False)
    assert code == 4 and bytes(io.out) == b"line one\nline two\n" and bytes(io.err) == b"done\n"
    io = _IO()
    assert await env.runtime.exec(cid, ["true"], io, tty=False) == 0
    # with a terminal: output on stdout, and the resize reaches the terminal
    io = _IO()
    code = await env.runtime.exec(cid, ["sh", "-c", "sleep 0.5; stty size"], io, tty=True)
    assert code == 0 and b"40 100" in bytes(io.out), bytes(io.out)
    stats = await env.runtime.container_stats(cid)
    assert stats.id == cid and stats.memory_working_set_bytes > 0


async def test_stop_and_remove_clean_up(env: Env) -> None:
    sid, sandbox = await env.sandbox(default_logs=True)
    trap = "trap 'echo bye; exit 0' TERM; while :; do sleep 0.1; done"
    polite = await env.container(sid, sandbox, "polite", ["sh", "-c", trap])
    stubborn = await env.container(sid, sandbox, "stubborn", ["sh", "-c", "trap '' TERM; sleep 3600"])
    await asyncio.sleep(0.5)
    t0 = time.monotonic()
    await env.runtime.stop_container(polite, 10)
    assert time.monotonic() - t0 < 5
    status = await env.runtime.container_status(polite)
    assert status.state == "exited" and status.exit_code == 0
    # no log directory nor log path given: the kubelet's layout under log_root
    assert status.log_path == f"{env.root}/logs/default_{sandbox.name}_{sandbox.uid}/polite/0.log"
    assert any(line.endswith(" stdout F bye") for line in _read_lines(status.log_path))
    t0 = time.monotonic()
    await env.runtime.stop_container(stubborn, 1)
    assert time.monotonic() - t0 < 10
    assert (await env.runtime.container_status(stubborn)).exit_code == 137
    for cid in (polite, stubborn):
        await env.runtime.remove_container(cid)
    assert await env.runtime.list_containers(sid) == []
    await env.runtime.stop_sandbox(sid)
    assert (await env.runtime.sandbox_status(sid)).state == "notready"
    await env.runtime.remove_sandbox(sid)
    assert await env.runtime.list_sandboxes() == []
    # nothing of the pod is left: no shim, no mount, no pod cgroup
    assert env.supervisor.leftovers() == {"shims": [], "mounts": []}
    assert not _exists(f"/sys/fs/cgroup/memory/kybernetes/pod{sandbox.uid}")


async def test_supervisor_restarts_containerd(env: Env) -> None:
    pid = env.supervisor.pid
    assert pid is not None
    os.kill(pid, 9)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if env.supervisor.restarts and env.supervisor.pid not in (None, pid):
            break
        await asyncio.sleep(0.1)
    await env.supervisor.wait_ready(20)
    assert env.supervisor.restarts == 1
    assert (await env.runtime.status()).ready


async def test_attach(env: Env) -> None:
    sid, sandbox = await env.sandbox()
    cid = await env.container(
        sid,
        sandbox,
        "reader",
        ["sh", "-c", "read line; echo got $line; echo e >&2"],
        stdin=True,
        stdin_once=True,
    )
    io = _IO([b"x\n"])
    async with asyncio.timeout(20):
        await env.runtime.attach(cid, io, tty=False)
    assert b"got x" in bytes(io.out), (bytes(io.out), bytes(io.err))
    await env.wait_exited(cid)
    # a container without stdin: attach streams its output only
    cid = await env.container(sid, sandbox, "talker", ["sh", "-c", "sleep 1; echo later"])
    io = _IO()
    async with asyncio.timeout(20):
        await env.runtime.attach(cid, io, tty=False)
    assert b"later" in bytes(io.out)


async def test_errors(env: Env) -> None:
    from kybernetes.kubelet.runtime import CreateContainerError, RuntimeError_
    from kybernetes.kubelet.runtimes.containerd import NotFoundError

    with pytest.raises(NotFoundError):
        await env.runtime.container_status("0" * 64)
    sid, sandbox = await env.sandbox()
    with pytest.raises(CreateContainerError):
        await env.container(sid, sandbox, "ghost", ["true"], image="kybernetes.local/absent:1")
    with pytest.raises(RuntimeError_) as failed:
        await env.container(sid, sandbox, "nocmd", ["/no/such/binary"])
    assert failed.value.reason == "StartError"


async def test_detach_then_a_new_supervisor_reattaches_and_kill_all_cleans_up(env: Env) -> None:
    sid, sandbox = await env.sandbox()
    cid = await env.container(sid, sandbox, "sleeper", ["sleep", "3600"])
    pid = env.supervisor.pid
    assert pid is not None
    # what a `kyb server` stop does: containerd and the pod keep running
    await env.supervisor.detach()
    await env.runtime.close()
    assert _exists(f"/proc/{pid}")
    assert env.supervisor.running_pid() == pid  # found again through containerd.pid
    # the next start re-attaches (no second containerd on the same state)
    again = ContainerdSupervisor(
        env.supervisor.root_dir, pod_cidr=env.cidr, bridge=env.supervisor.bridge, import_pause_image=False
    )
    await again.start()
    try:
        assert again.pid == pid and again.restarts == 0
        await env.runtime.start()
        assert (await env.runtime.container_status(cid)).state == "running"
        # supervision covers the adopted containerd too: killed, it is restarted
        os.kill(pid, 9)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if again.restarts and again.pid not in (None, pid):
                break
            await asyncio.sleep(0.1)
        await again.wait_ready(20)
        assert again.restarts == 1 and again.pid not in (None, pid)
        assert (await env.runtime.container_status(cid)).state == "running"  # pods survive that too
    finally:
        await again.detach()
    # `kyb killall`: a fresh supervisor stops pods, containerd and shims, and unmounts
    killer = ContainerdSupervisor(
        env.supervisor.root_dir, bridge=env.supervisor.bridge, import_pause_image=False
    )
    await killer.kill_all()
    assert killer.running_pid() is None
    assert killer.leftovers() == {"shims": [], "mounts": []}
    assert not env.supervisor.pid_path.exists()
