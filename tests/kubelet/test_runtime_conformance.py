"""One conformance suite for every ``Runtime`` (``kybernetes.kubelet.runtime``), run against the process
runtime and the containerd runtime, as ``tests/storage`` runs one suite against SQLite and etcd.

Each test drives the CRI-shaped interface only: sandboxes (run, list with labels, stop, remove), the
container lifecycle (created -> running -> exited, exit codes and reasons, OOMKilled), CRI-format logs at
the log path, restart attempts, env and working directory, bind mounts, exec_sync, graceful stop
(SIGTERM, then SIGKILL after the grace period) and port forwarding. Where a runtime legitimately differs
(the process runtime isolates nothing: the pod IP is the node's, the default working directory is a host
directory, its default log layout is its own), the difference is an explicit per-runtime expectation in
``Expect``, asserted like everything else, never a skip.

One runtime per module and parameter (a module-scoped fixture: one private containerd for all the
containerd tests). Each test removes its sandboxes; the fixture then checks nothing is left (no
sandbox, container, shim, mount or cgroup). containerd needs root, containerd/runc, the CNI plugins and
the locally built busybox image (``tests/kubelet/images.py``); without them its tests are skipped, or
fail under ``CI=true``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio

from kybernetes.kubelet.runtime import (
    ContainerConfig,
    ContainerStatus,
    Mount,
    NotFoundError,
    Resources,
    Runtime,
    RuntimeError_,
    SandboxConfig,
)
from kybernetes.kubelet.runtimes.cgroups import CgroupV1
from kybernetes.kubelet.runtimes.crilog import read_log
from tests.kubelet.images import BUSYBOX_IMAGE, BUSYBOX_REPO, busybox_archive, image_tools_available
from tests.needs import unavailable

pytestmark = [pytest.mark.timeout(120), pytest.mark.asyncio(loop_scope="module")]


@dataclass
class Expect:
    """What a runtime is expected to do where runtimes legitimately differ."""

    name: str
    isolates: bool
    pod_ip: Callable[[str], bool]  # the sandbox's IP is acceptable
    default_workdir: Callable[
        [SandboxConfig, str], str
    ]  # (sandbox, container name) -> cwd without working_dir
    default_log_path: Callable[[SandboxConfig, str, int], str]  # (sandbox, name, attempt) -> log path
    # The command runs as its pid namespace's init, which the kernel shields from signals it does not
    # handle: an untrapped SIGTERM is ignored and the stop waits out the grace period (as upstream).
    command_is_pid1: bool = True
    # ``image_present`` of an image never pulled or imported (the process runtime pulls nothing).
    any_image_present: bool = False
    hostname_is_pod_hostname: bool = True  # the UTS hostname (``hostname``), not only ``$HOSTNAME``


@dataclass
class Harness:
    runtime: Runtime
    expect: Expect
    root: Path
    leftovers: Callable[[], dict[str, Sequence[object]]] = field(default=lambda: {})
    _n: int = 0

    async def sandbox(self, *, log_dir: bool = True, **kw: object) -> tuple[str, SandboxConfig]:
        self._n += 1
        uid = f"conf-{uuid.uuid4().hex[:10]}"
        config = SandboxConfig(
            name=f"pod{self._n}",
            namespace="default",
            uid=uid,
            hostname=f"host{self._n}",
            log_directory=str(self.root / "logs" / uid) if log_dir else "",
            **kw,  # type: ignore[arg-type]
        )
        return await self.runtime.run_sandbox(config), config

    def config(
        self, sandbox: SandboxConfig, name: str, command: Sequence[str], **kw: object
    ) -> ContainerConfig:
        attempt = int(kw.pop("attempt", 0))  # type: ignore[call-overload]
        log_path = f"{sandbox.log_directory}/{name}/{attempt}.log" if sandbox.log_directory else ""
        return ContainerConfig(
            name=name,
            image=BUSYBOX_IMAGE,
            command=tuple(command),
            log_path=str(kw.pop("log_path", log_path)),
            attempt=attempt,
            **kw,  # type: ignore[arg-type]
        )

    async def run(
        self, sid: str, sandbox: SandboxConfig, name: str, command: Sequence[str], **kw: object
    ) -> str:
        cid = await self.runtime.create_container(sid, self.config(sandbox, name, command, **kw))
        await self.runtime.start_container(cid)
        return cid

    async def wait_exited(self, cid: str, limit: float = 30) -> ContainerStatus:
        deadline = time.monotonic() + limit
        while True:
            status = await self.runtime.container_status(cid)
            if status.state == "exited":
                return status
            assert time.monotonic() < deadline, f"container {cid} still {status.state} after {limit}s"
            await asyncio.sleep(0.05)

    async def wait_log(self, path: str, content: bytes, limit: float = 20) -> None:
        """Until a record with ``content`` is in the log at ``path``."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if await asyncio.to_thread(os.path.exists, path) and content in [
                r.content async for r in read_log(path)
            ]:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{content!r} not logged to {path} in {limit}s")

    async def cleanup(self, sid: str) -> None:
        await self.runtime.stop_sandbox(sid)
        await self.runtime.remove_sandbox(sid)


async def log_records(path: str) -> list[tuple[str, bytes]]:
    return [(r.stream, r.content) async for r in read_log(path)]


# --- runtimes ------------------------------------------------------------------------------------------


def _containerd_missing() -> str:
    from kybernetes.kubelet.runtimes.containerd_supervisor import containerd_available

    if os.geteuid() != 0:
        return "the containerd runtime needs root"
    if not containerd_available():
        return "containerd/runc not installed (make containerd-deps)"
    if not image_tools_available():
        return "umoci/busybox-static not installed (make containerd-deps)"
    if not os.path.exists("/usr/lib/cni/bridge"):
        return "CNI plugins not installed (make containerd-deps)"
    return ""


async def _process_harness(root: Path) -> AsyncIterator[Harness]:
    from kybernetes.kubelet.runtimes import ProcessRuntime

    state = root / "rt"
    runtime = ProcessRuntime(state, cgroup_parent=f"kyb-conf-{uuid.uuid4().hex[:8]}")
    await runtime.start()
    cgroups = runtime.cgroups
    expect = Expect(
        name="process",
        isolates=False,
        pod_ip=lambda ip: ip == "127.0.0.1",  # host network: the node's address
        default_workdir=lambda sandbox, name: str(state / "pods" / sandbox.uid / name),
        command_is_pid1=False,  # a child of the runtime's monitor, in the host's pid namespace
        any_image_present=True,
        hostname_is_pod_hostname=False,  # no UTS namespace: only $HOSTNAME says the pod's hostname
        default_log_path=lambda sandbox, name, attempt: str(
            state / "pods" / sandbox.uid / "logs" / f"{name}_{attempt}.log"
        ),
    )
    harness = Harness(runtime, expect, root)
    try:
        yield harness
    finally:
        left = [s for s, _ in await runtime.list_sandboxes()]
        for sid in left:
            await runtime.remove_sandbox(sid)
        await runtime.close()
        dirs_left: list[str] = []
        if cgroups is not None:
            dirs_left = await asyncio.to_thread(
                CgroupV1.remove,
                [os.path.join(m, cgroups.parents[c].lstrip("/")) for c, m in cgroups.mounts.items()],
            )
        assert left == [], f"sandboxes left behind by the tests: {left}"
        assert dirs_left == []


async def _containerd_harness(root: Path) -> AsyncIterator[Harness]:
    from kybernetes.kubelet.runtimes.containerd import ContainerdRuntime
    from kybernetes.kubelet.runtimes.containerd_supervisor import ContainerdSupervisor
    from kybernetes.kubelet.runtimes.images import import_image_archive

    n = os.getpid() % 250
    cidr = f"10.{200 + n % 50}.{n}.0/24"
    supervisor = ContainerdSupervisor(root / "c", pod_cidr=cidr, bridge=f"kybc{os.getpid() % 100000}")
    runtime = ContainerdRuntime(supervisor.endpoint, pod_cidr=cidr, log_root=root / "default-logs")
    network = ipaddress.ip_network(cidr)
    expect = Expect(
        name="containerd",
        isolates=True,
        pod_ip=lambda ip: ipaddress.ip_address(ip) in network,  # its own address on the bridge
        default_workdir=lambda sandbox, name: "/",  # the image's (busybox sets none)
        default_log_path=lambda sandbox, name, attempt: str(
            root
            / "default-logs"
            / f"{sandbox.namespace}_{sandbox.name}_{sandbox.uid}"
            / name
            / f"{attempt}.log"
        ),
    )
    left: list[str] = []
    try:
        await supervisor.start()
        names = await import_image_archive(supervisor.socket, await busybox_archive(), base_name=BUSYBOX_REPO)
        assert names == [BUSYBOX_IMAGE]
        await runtime.start()
        yield Harness(runtime, expect, root, leftovers=supervisor.leftovers)
        left = [s for s, _ in await runtime.list_sandboxes()]
    finally:
        await runtime.close()
        await supervisor.close(remove_pods=True)
        leftovers = supervisor.leftovers()
        assert supervisor.pid is None
        assert leftovers == {"shims": [], "mounts": []}, leftovers
    assert left == [], f"sandboxes left behind by the tests: {left}"


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["process", "containerd"])
async def h(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "containerd":
        missing = _containerd_missing()
        if missing:
            unavailable(missing)
    root = Path(tempfile.mkdtemp(prefix="kyb-conf-", dir="/tmp"))
    make = _process_harness if request.param == "process" else _containerd_harness
    try:
        async for harness in make(root):
            yield harness
    finally:
        shutil.rmtree(root, ignore_errors=True)


# --- the suite -----------------------------------------------------------------------------------------


async def test_runtime_status(h: Harness) -> None:
    status = await h.runtime.status()
    assert (status.name, status.isolates, status.ready) == (h.expect.name, h.expect.isolates, True)
    assert await h.runtime.image_present(BUSYBOX_IMAGE)
    assert await h.runtime.image_present("kybernetes.local/absent:1") is h.expect.any_image_present


async def test_sandbox_lifecycle_and_listing_with_labels(h: Harness) -> None:
    labels = {"app": "web", "io.kubernetes.pod.name": "pod"}
    annotations = {"note": "conformance"}
    sid, config = await h.sandbox(labels=labels, annotations=annotations)
    try:
        status = await h.runtime.sandbox_status(sid)
        assert status.id == sid and status.state == "ready" and h.expect.pod_ip(status.ip), status
        assert status.created_at > time.time() - 120
        listed = dict(await h.runtime.list_sandboxes())
        assert listed[sid].labels == labels and listed[sid].annotations == annotations
        assert (listed[sid].name, listed[sid].namespace, listed[sid].uid) == (
            config.name,
            "default",
            config.uid,
        )
        other, _ = await h.sandbox()
        assert {sid, other} <= set(dict(await h.runtime.list_sandboxes()))
        await h.cleanup(other)
        await h.runtime.stop_sandbox(sid)
        assert (await h.runtime.sandbox_status(sid)).state == "notready"
        await h.runtime.stop_sandbox(sid)  # stopping twice is fine, as CRI says
    finally:
        await h.runtime.remove_sandbox(sid)
    assert sid not in dict(await h.runtime.list_sandboxes())
    with pytest.raises(NotFoundError):
        await h.runtime.sandbox_status(sid)
    await h.runtime.remove_sandbox(sid)  # removing a removed sandbox is fine too


async def test_container_transitions_exit_code_reason_and_cri_log(h: Harness) -> None:
    sid, sandbox = await h.sandbox()
    try:
        config = h.config(
            sandbox, "main", ["sh", "-c", "read x < /dev/null; echo hi; echo oops >&2; sleep 0.5; exit 3"]
        )
        cid = await h.runtime.create_container(sid, config)
        created = await h.runtime.container_status(cid)
        assert (created.id, created.name, created.state, created.attempt) == (cid, "main", "created", 0)
        assert created.started_at == 0 and created.created_at > 0
        await h.runtime.start_container(cid)
        running = await h.runtime.container_status(cid)
        assert running.state == "running" and running.started_at >= running.created_at
        done = await h.wait_exited(cid)
        assert (done.state, done.exit_code, done.reason) == ("exited", 3, "Error")
        assert done.finished_at >= done.started_at > 0
        assert done.log_path == f"{sandbox.log_directory}/main/0.log"
        assert await log_records(done.log_path) == [("stdout", b"hi"), ("stderr", b"oops")]
        raw = (await asyncio.to_thread(Path(done.log_path).read_text)).splitlines()
        # <RFC3339Nano> <stream> <F|P> <text>
        stamp, stream, tag, text = raw[0].split(" ", 3)
        assert (stream, tag, text) == ("stdout", "F", "hi") and stamp.endswith("Z") and "T" in stamp
        ok = await h.run(sid, sandbox, "ok", ["true"])
        assert ((s := await h.wait_exited(ok)).exit_code, s.reason) == (0, "Completed")
        assert {c.id for c in await h.runtime.list_containers(sid)} == {cid, ok}
        other, _ = await h.sandbox()
        assert await h.runtime.list_containers(other) == []
        assert {cid, ok} <= {c.id for c in await h.runtime.list_containers()}
        await h.cleanup(other)
        await h.runtime.remove_container(ok)
        with pytest.raises(NotFoundError):
            await h.runtime.container_status(ok)
        assert [c.id for c in await h.runtime.list_containers(sid)] == [cid]
    finally:
        await h.cleanup(sid)


async def test_default_log_path(h: Harness) -> None:
    sid, sandbox = await h.sandbox(log_dir=False)
    try:
        cid = await h.run(sid, sandbox, "main", ["echo", "default"], log_path="")
        status = await h.wait_exited(cid)
        assert status.log_path == h.expect.default_log_path(sandbox, "main", 0)
        assert await log_records(status.log_path) == [("stdout", b"default")]
    finally:
        await h.cleanup(sid)


async def test_restart_attempts_are_separate_containers_with_their_own_logs(h: Harness) -> None:
    sid, sandbox = await h.sandbox()
    try:
        first = await h.run(sid, sandbox, "app", ["sh", "-c", "echo run; exit 1"])
        assert (await h.wait_exited(first)).attempt == 0
        second = await h.run(sid, sandbox, "app", ["sh", "-c", "echo run again; exit 0"], attempt=1)
        status = await h.wait_exited(second)
        assert second != first and (status.attempt, status.exit_code, status.name) == (1, 0, "app")
        assert status.log_path == f"{sandbox.log_directory}/app/1.log"
        assert await log_records(status.log_path) == [("stdout", b"run again")]
        previous = await h.runtime.container_status(first)  # the previous attempt is kept (kubectl logs -p)
        assert (previous.attempt, previous.exit_code) == (0, 1)
        assert await log_records(previous.log_path) == [("stdout", b"run")]
        attempts = sorted((c.name, c.attempt) for c in await h.runtime.list_containers(sid))
        assert attempts == [("app", 0), ("app", 1)]
    finally:
        await h.cleanup(sid)


async def test_env_working_dir_and_hostname(h: Harness) -> None:
    sid, sandbox = await h.sandbox()
    workdir = f"/tmp/kyb-conf-wd-{uuid.uuid4().hex[:8]}"
    try:
        env = (("GREETING", "hello world"), ("EMPTY", ""), ("PATH", "/usr/bin:/bin"))
        script = 'echo "g=$GREETING"; echo "e=[$EMPTY]"; echo "p=$PATH"; echo "h=$HOSTNAME"; echo "u=$(hostname)"; echo "d=$(pwd)"'
        cid = await h.run(sid, sandbox, "env", ["sh", "-c", script], env=env)
        await h.wait_exited(cid)
        lines = [c.decode() for _, c in await log_records((await h.runtime.container_status(cid)).log_path)]
        assert lines == [
            "g=hello world",
            "e=[]",
            "p=/usr/bin:/bin",
            f"h={sandbox.hostname}",
            # the UTS name: the pod's own with isolation, the node's without
            f"u={sandbox.hostname if h.expect.hostname_is_pod_hostname else socket.gethostname()}",
            f"d={h.expect.default_workdir(sandbox, 'env')}",
        ]
        cid = await h.run(sid, sandbox, "wd", ["pwd"], working_dir=workdir)
        status = await h.wait_exited(cid)
        assert (status.exit_code, await log_records(status.log_path)) == (0, [("stdout", workdir.encode())])
        # args without a command are the command line (the process runtime has no image entrypoint)
        config = h.config(sandbox, "args", [], args=("echo", "from", "args"))
        cid = await h.runtime.create_container(sid, config)
        await h.runtime.start_container(cid)
        status = await h.wait_exited(cid)
        assert await log_records(status.log_path) == [("stdout", b"from args")]
        both = await h.run(sid, sandbox, "both", ["echo"], args=("x", "y"))
        assert await log_records((await h.wait_exited(both)).log_path) == [("stdout", b"x y")]
    finally:
        await h.cleanup(sid)
        shutil.rmtree(workdir, ignore_errors=True)


async def test_exec_sync(h: Harness) -> None:
    sid, sandbox = await h.sandbox()
    try:
        cid = await h.run(sid, sandbox, "sleeper", ["sleep", "3600"], env=(("WHO", "container"),))
        result = await h.runtime.exec_sync(cid, ["sh", "-c", "echo $WHO; echo oops >&2; exit 4"], 10)
        assert (result.exit_code, result.stdout, result.stderr) == (4, b"container\n", b"oops\n")
        ok = await h.runtime.exec_sync(cid, ["echo", "plain"], 10)
        assert (ok.exit_code, ok.stdout, ok.stderr) == (0, b"plain\n", b"")
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await h.runtime.exec_sync(cid, ["sleep", "30"], 1)
        assert time.monotonic() - started < 10
        # exec'd processes do not become the container's: it still runs
        assert (await h.runtime.container_status(cid)).state == "running"
    finally:
        await h.cleanup(sid)


async def test_stop_sends_sigterm_then_sigkill_after_the_grace_period(h: Harness) -> None:
    sid, sandbox = await h.sandbox()
    try:
        polite = await h.run(
            sid,
            sandbox,
            "polite",
            ["sh", "-c", "trap 'echo got-term; exit 7' TERM; echo up; while :; do sleep 0.1; done"],
        )
        stubborn = await h.run(
            sid, sandbox, "stubborn", ["sh", "-c", "trap '' TERM; echo up; while :; do sleep 0.1; done"]
        )
        for name in ("polite", "stubborn"):  # until the traps are installed
            await h.wait_log(f"{sandbox.log_directory}/{name}/0.log", b"up")
        started = time.monotonic()
        await h.runtime.stop_container(polite, 10)
        assert time.monotonic() - started < 5  # the trap exits at once: no waiting out the grace period
        status = await h.runtime.container_status(polite)
        assert (status.state, status.exit_code, status.reason) == ("exited", 7, "Error")
        assert ("stdout", b"got-term") in await log_records(status.log_path)
        started = time.monotonic()
        await h.runtime.stop_container(stubborn, 1)
        elapsed = time.monotonic() - started
        assert 1 <= elapsed < 8, elapsed  # SIGTERM ignored: SIGKILL once the grace period is over
        status = await h.runtime.container_status(stubborn)
        assert (status.state, status.exit_code, status.reason) == ("exited", 137, "Error")
        await h.runtime.stop_container(stubborn, 1)  # stopping an exited container is a no-op
        # without a trap: SIGTERM ends a plain process (128 + 15); init of a pid namespace ignores it
        plain = await h.run(sid, sandbox, "plain", ["sleep", "3600"])
        started = time.monotonic()
        await h.runtime.stop_container(plain, 2)
        elapsed = time.monotonic() - started
        code = (await h.runtime.container_status(plain)).exit_code
        if h.expect.command_is_pid1:
            assert (code, elapsed >= 2) == (137, True), (code, elapsed)
        else:
            assert (code, elapsed < 2) == (143, True), (code, elapsed)
        # grace 0: killed at once
        now = await h.run(sid, sandbox, "now", ["sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"])
        started = time.monotonic()
        await h.runtime.stop_container(now, 0)
        assert time.monotonic() - started < 5
        assert (await h.runtime.container_status(now)).exit_code == 137
    finally:
        await h.cleanup(sid)


async def test_stop_sandbox_stops_its_containers(h: Harness) -> None:
    sid, sandbox = await h.sandbox()
    try:
        cids = [await h.run(sid, sandbox, f"c{i}", ["sleep", "3600"]) for i in range(2)]
        assert {(await h.runtime.container_status(c)).state for c in cids} == {"running"}
        await h.runtime.stop_sandbox(sid)
        assert {(await h.runtime.container_status(c)).state for c in cids} == {"exited"}
        await h.runtime.remove_sandbox(sid)
        assert [c for c in await h.runtime.list_containers() if c.id in cids] == []
    finally:
        await h.runtime.remove_sandbox(sid)


async def test_bind_mounts_read_write_and_read_only(h: Harness, tmp_path: Path) -> None:
    source = tmp_path / "vol"
    source.mkdir()
    (source / "data.txt").write_text("from the host")
    shared = tmp_path / "shared"
    shared.mkdir()
    target = f"/tmp/kyb-conf-mnt-{uuid.uuid4().hex[:8]}"
    mounts = (Mount(str(source), f"{target}/ro", read_only=True), Mount(str(shared), f"{target}/rw"))
    sid, sandbox = await h.sandbox()
    try:
        cid = await h.run(sid, sandbox, "m", ["sleep", "3600"], mounts=mounts)
        read = await h.runtime.exec_sync(cid, ["cat", f"{target}/ro/data.txt"], 10)
        assert (read.exit_code, read.stdout) == (0, b"from the host"), read.stderr
        refused = await h.runtime.exec_sync(cid, ["touch", f"{target}/ro/new"], 10)
        assert refused.exit_code != 0 and b"Read-only file system" in refused.stderr
        wrote = await h.runtime.exec_sync(cid, ["sh", "-c", f"echo inside > {target}/rw/out.txt"], 10)
        assert wrote.exit_code == 0, wrote.stderr
        assert (shared / "out.txt").read_text() == "inside\n"  # the write reached the host directory
        assert not (source / "new").exists()
    finally:
        await h.cleanup(sid)


async def test_memory_limit_oom_killed(h: Harness) -> None:
    sid, sandbox = await h.sandbox()
    try:
        limits = Resources(cpu_millis_request=100, cpu_millis_limit=1000, memory_limit_bytes=16 << 20)
        hog = await h.run(
            sid,
            sandbox,
            "hog",
            ["sh", "-c", "exec dd if=/dev/zero of=/dev/null bs=64M count=4"],
            resources=limits,
        )
        status = await h.wait_exited(hog)
        assert (status.reason, status.exit_code) == ("OOMKilled", 137), status
        fits = await h.run(sid, sandbox, "fits", ["true"], resources=limits)
        assert ((s := await h.wait_exited(fits)).reason, s.exit_code) == ("Completed", 0)
    finally:
        await h.cleanup(sid)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_port_forward_reaches_a_server_in_the_pod(h: Harness) -> None:
    sid, sandbox = await h.sandbox()
    port = _free_port()
    www = f"/tmp/kyb-conf-www-{uuid.uuid4().hex[:8]}"
    script = f"mkdir -p {www} && echo pong > {www}/index.html && echo ready && exec busybox httpd -f -p 127.0.0.1:{port} -h {www}"
    try:
        await h.run(sid, sandbox, "web", ["sh", "-c", script])
        await h.wait_log(f"{sandbox.log_directory}/web/0.log", b"ready")
        body = b""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not body.endswith(b"pong\n"):
            send, received, close = await h.runtime.port_forward(sid, port)
            try:
                await send(b"GET /index.html HTTP/1.0\r\n\r\n")
                async with asyncio.timeout(10):
                    body = b"".join([chunk async for chunk in received])
            finally:
                await close()
            if not body.endswith(b"pong\n"):
                await asyncio.sleep(0.2)  # httpd not listening yet
        assert b"200 OK" in body and body.endswith(b"pong\n"), body
    finally:
        await h.cleanup(sid)
        shutil.rmtree(www, ignore_errors=True)


class ScriptedIO:
    """A ``StreamIO``: stdin chunks handed out one by one (then EOF), collected output, one resize."""

    def __init__(self, stdin: Sequence[bytes] = (), size: tuple[int, int] | None = None) -> None:
        self.stdin = list(stdin)
        self.size = size
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
        if self.size is not None:
            yield self.size
        await asyncio.Event().wait()


async def test_streamed_exec_with_stdin_and_a_terminal(h: Harness) -> None:
    sid, sandbox = await h.sandbox()
    try:
        cid = await h.run(sid, sandbox, "sleeper", ["sleep", "3600"])
        io = ScriptedIO([b"line one\n", b"line two\n"])
        async with asyncio.timeout(20):
            code = await h.runtime.exec(cid, ["sh", "-c", "cat; echo done >&2; exit 4"], io, tty=False)
        assert (code, bytes(io.out), bytes(io.err)) == (4, b"line one\nline two\n", b"done\n")
        io = ScriptedIO(size=(100, 40))
        async with asyncio.timeout(20):
            code = await h.runtime.exec(
                cid, ["sh", "-c", "sleep 0.5; stty size; test -t 1 && echo tty"], io, tty=True
            )
        out = bytes(io.out).replace(b"\r\n", b"\n")
        assert code == 0 and b"40 100\n" in out and b"tty\n" in out, out
    finally:
        await h.cleanup(sid)


async def test_attach_to_a_stdin_once_container(h: Harness) -> None:
    sid, sandbox = await h.sandbox()
    try:
        script = "while read line; do echo got $line; done; echo bye"
        cid = await h.run(sid, sandbox, "reader", ["sh", "-c", script], stdin=True, stdin_once=True)
        io = ScriptedIO([b"a\n", b"b\n"])
        async with asyncio.timeout(20):
            await h.runtime.attach(cid, io, tty=False)  # returns once the container is done
        status = await h.wait_exited(cid)
        assert b"got a\ngot b\n" in bytes(io.out) and status.exit_code == 0
        assert await log_records(status.log_path) == [
            ("stdout", b"got a"),
            ("stdout", b"got b"),
            ("stdout", b"bye"),
        ]
    finally:
        await h.cleanup(sid)


async def test_stats_of_a_running_container(h: Harness) -> None:
    sid, sandbox = await h.sandbox()
    try:
        cid = await h.run(
            sid,
            sandbox,
            "busy",
            ["sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; sleep 3600"],
        )
        deadline = time.monotonic() + 20
        stats = await h.runtime.container_stats(cid)
        while stats.cpu_usage_core_nanoseconds < 10_000_000 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            stats = await h.runtime.container_stats(cid)
        assert stats.id == cid and stats.memory_working_set_bytes > 0 and stats.timestamp > 0
        assert stats.cpu_usage_core_nanoseconds >= 10_000_000, stats
    finally:
        await h.cleanup(sid)


async def test_errors(h: Harness) -> None:
    with pytest.raises(NotFoundError):
        await h.runtime.container_status("0" * 64)
    with pytest.raises(NotFoundError):
        await h.runtime.sandbox_status("0" * 64)
    sid, sandbox = await h.sandbox()
    try:
        # a command that does not exist: the start fails, the container is exited with StartError
        with pytest.raises(RuntimeError_) as failed:
            await h.run(sid, sandbox, "nocmd", ["/no/such/binary"])
        assert failed.value.reason == "StartError"
        nocmd = [c for c in await h.runtime.list_containers(sid) if c.name == "nocmd"]
        assert [(c.state, c.reason) for c in nocmd] == [("exited", "StartError")]
        await h.runtime.stop_sandbox(sid)
        with pytest.raises(RuntimeError_):
            await h.run(sid, sandbox, "late", ["true"])  # no new containers in a stopped sandbox
    finally:
        await h.cleanup(sid)
