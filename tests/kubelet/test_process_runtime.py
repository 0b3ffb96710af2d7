"""ProcessRuntime with real processes: exit status and logs, env and working dir, graceful stop,
exec/exec_sync/attach/port-forward, restart adoption, and (as root) cgroup limits, OOM and bind mounts.

Root-only tests skip without root or cgroup v1 controllers, and fail instead when ``CI=true``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kybernetes.kubelet.runtime import (
    ContainerConfig,
    ContainerStatus,
    CreateContainerError,
    Mount,
    Resources,
    SandboxConfig,
)
from kybernetes.kubelet.runtimes import NotFoundError, ProcessRuntime, StartContainerError
from kybernetes.kubelet.runtimes.cgroups import CgroupV1
from kybernetes.kubelet.runtimes.crilog import read_log

pytestmark = pytest.mark.timeout(30)
CI = os.environ.get("CI", "").lower() == "true"


def need_root_cgroups(rt: ProcessRuntime) -> None:
    if rt.cgroups is not None and rt.mount_namespaces:
        return
    message = "needs root with cgroup v1 memory+cpu controllers, unshare and nsenter"
    if CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
async def rt(tmp_path: Path) -> AsyncIterator[ProcessRuntime]:
    parent = f"kyb-test-{uuid.uuid4().hex[:8]}"
    runtime = ProcessRuntime(tmp_path / "rt", cgroup_parent=parent)
    await runtime.start()
    cgroups = runtime.cgroups
    try:
        yield runtime
    finally:
        await runtime.start()  # a test may have closed it
        for sandbox_id, _ in await runtime.list_sandboxes():
            await runtime.remove_sandbox(sandbox_id)
        await runtime.close()
        if cgroups is not None:
            left = await asyncio.to_thread(
                CgroupV1.remove,
                [os.path.join(m, cgroups.parents[c].lstrip("/")) for c, m in cgroups.mounts.items()],
            )
            assert left == []


async def sandbox(rt: ProcessRuntime, uid: str = "pod-1") -> str:
    return await rt.run_sandbox(SandboxConfig(name="web", namespace="default", uid=uid, hostname="web-host"))


async def run(rt: ProcessRuntime, sandbox_id: str, *command: str, **kwargs: object) -> str:
    container_id = await rt.create_container(
        sandbox_id,
        ContainerConfig(name=str(kwargs.pop("name", "main")), image="busybox", command=command, **kwargs),  # type: ignore[arg-type]
    )
    await rt.start_container(container_id)
    return container_id


async def wait_exited(rt: ProcessRuntime, container_id: str, seconds: float = 10) -> ContainerStatus:
    deadline = time.monotonic() + seconds
    while True:
        status = await rt.container_status(container_id)
        if status.state == "exited":
            return status
        assert time.monotonic() < deadline, f"container still {status.state}"
        await asyncio.sleep(0.02)


def read(path: str | Path) -> str:
    return Path(path).read_text()


def exists(path: str | Path) -> bool:
    return os.path.exists(path)


def gone(pid: int) -> bool:
    """The process has exited (a lingering zombie counts as gone)."""
    try:
        return read(f"/proc/{pid}/stat").rsplit(") ", 1)[1].startswith(("Z", "X"))
    except (FileNotFoundError, ProcessLookupError):
        return True


async def log_lines(path: str) -> list[tuple[str, bytes]]:
    return [(r.stream, r.content) async for r in read_log(path)]


class FakeIO:
    """A StreamIO: scripted stdin chunks (each after an optional event), collected output, resizes."""

    def __init__(self, stdin: list[bytes] | None = None, resize: list[tuple[int, int]] | None = None) -> None:
        self.stdin = list(stdin or [])
        self.resizes = list(resize or [])
        self.resized = asyncio.Event()
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.wrote = asyncio.Event()

    async def read_stdin(self) -> bytes | None:
        if self.resizes:
            await self.resized.wait()
        if not self.stdin:
            await asyncio.sleep(0.05)
            return None
        return self.stdin.pop(0)

    async def write_stdout(self, data: bytes) -> None:
        self.stdout += data
        self.wrote.set()

    async def write_stderr(self, data: bytes) -> None:
        self.stderr += data

    async def resize_events(self) -> AsyncIterator[tuple[int, int]]:
        for size in self.resizes:
            yield size
        self.resized.set()
        await asyncio.Event().wait()


async def test_status_and_images(rt: ProcessRuntime) -> None:
    status = await rt.status()
    assert status.name == "process" and not status.isolates and status.ready
    assert await rt.image_present("anything:latest")
    assert await rt.pull_image("busybox") == "process:busybox"


async def test_exit_code_reason_and_cri_log(rt: ProcessRuntime) -> None:
    sid = await sandbox(rt)
    cid = await run(rt, sid, "sh", "-c", "echo hi; echo err >&2; exit 3")
    status = await wait_exited(rt, cid)
    assert (status.exit_code, status.reason, status.image) == (3, "Error", "busybox")
    assert status.started_at >= status.created_at and status.finished_at >= status.started_at
    assert await log_lines(status.log_path) == [("stdout", b"hi"), ("stderr", b"err")]
    raw = read(status.log_path).splitlines()
    assert any(line.endswith(" stdout F hi") for line in raw) and any(" stderr F err" in line for line in raw)

    ok = await run(rt, sid, "true", name="ok")
    assert ((await wait_exited(rt, ok)).exit_code, (await rt.container_status(ok)).reason) == (0, "Completed")
    assert {c.id for c in await rt.list_containers(sid)} == {cid, ok}
    assert await rt.list_containers("other") == []


async def test_long_lines_become_partial_records(rt: ProcessRuntime) -> None:
    sid = await sandbox(rt)
    cid = await run(rt, sid, "sh", "-c", "head -c 40000 /dev/zero | tr '\\0' a; echo; printf end")
    status = await wait_exited(rt, cid)
    records = [r async for r in read_log(status.log_path)]
    assert [(r.partial, len(r.content)) for r in records] == [
        (True, 16384),
        (True, 16384),
        (False, 40000 - 2 * 16384),
        (True, 3),  # "end" without a newline at EOF
    ]


async def test_command_args_semantics_and_create_errors(rt: ProcessRuntime, tmp_path: Path) -> None:
    sid = await sandbox(rt)
    log = str(tmp_path / "logs" / "args.log")
    only_args = await rt.create_container(
        sid, ContainerConfig(name="a", image="img", args=("echo", "from", "args"), log_path=log)
    )
    await rt.start_container(only_args)
    assert (await wait_exited(rt, only_args)).exit_code == 0
    assert await log_lines(log) == [("stdout", b"from args")]

    both = await run(rt, sid, "echo", name="b", args=("x", "y"))
    status = await wait_exited(rt, both)
    assert await log_lines(status.log_path) == [("stdout", b"x y")]

    with pytest.raises(StartContainerError):  # a shell builtin is no command
        await run(rt, sid, "exit", "3", name="builtin")

    with pytest.raises(CreateContainerError, match="process runtime needs a command for image nginx"):
        await rt.create_container(sid, ContainerConfig(name="c", image="nginx"))
    missing = await rt.create_container(
        sid, ContainerConfig(name="d", image="i", command=("no-such-binary-xyz",))
    )
    with pytest.raises(StartContainerError, match="executable file not found"):
        await rt.start_container(missing)
    status = await rt.container_status(missing)
    assert (status.state, status.reason, status.exit_code) == ("exited", "StartError", 128)
    with pytest.raises(NotFoundError):
        await rt.container_status("nope")
    with pytest.raises(NotFoundError):
        await rt.create_container("nope", ContainerConfig(name="e", image="i", command=("true",)))


async def test_env_and_working_dir(
    rt: ProcessRuntime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBELET_SECRET", "leaked")
    sid = await sandbox(rt)
    cid = await run(
        rt, sid, "sh", "-c", "env; pwd", env=(("GREETING", "hello world"), ("PATH", "/usr/bin:/bin"))
    )
    status = await wait_exited(rt, cid)
    out = dict(
        line.decode().split("=", 1) if b"=" in line else ("pwd", line.decode())
        for stream, line in await log_lines(status.log_path)
    )
    assert out["GREETING"] == "hello world" and out["PATH"] == "/usr/bin:/bin"
    assert "KUBELET_SECRET" not in out
    default_dir = str(rt.root_dir / "pods" / "pod-1" / "main")
    assert out["pwd"] == default_dir and out["HOME"] == default_dir and out["HOSTNAME"] == "web-host"
    assert set(out) <= {"GREETING", "PATH", "HOME", "HOSTNAME", "PWD", "pwd", "SHLVL", "_", "OLDPWD"}

    home = await run(
        rt, sid, "sh", "-c", "echo $HOME; pwd", name="home", env=(("HOME", "/nonexistent-home"),)
    )
    status = await wait_exited(rt, home)
    assert await log_lines(status.log_path) == [
        ("stdout", b"/nonexistent-home"),
        ("stdout", str(rt.root_dir / "pods" / "pod-1" / "home").encode()),
    ]

    workdir = tmp_path / "work" / "here"
    cid = await run(rt, sid, "pwd", name="wd", working_dir=str(workdir))
    status = await wait_exited(rt, cid)
    assert await log_lines(status.log_path) == [("stdout", str(workdir).encode())]


async def test_stop_sends_term_then_kill_after_grace(rt: ProcessRuntime) -> None:
    sid = await sandbox(rt)
    polite = await run(
        rt, sid, "sh", "-c", "trap 'echo got-term; exit 7' TERM; echo up; while :; do sleep 0.05; done"
    )
    stubborn = await run(rt, sid, "sh", "-c", "trap '' TERM; echo up; while :; do sleep 0.05; done", name="s")
    for cid in (polite, stubborn):  # wait until the traps are installed
        path = (await rt.container_status(cid)).log_path
        async for record in read_log(path, follow=True, poll_interval=0.02):
            if record.content == b"up":
                break

    started = time.monotonic()
    await rt.stop_container(polite, 10)
    assert time.monotonic() - started < 5
    status = await rt.container_status(polite)
    assert (status.state, status.exit_code, status.reason) == ("exited", 7, "Error")
    assert ("stdout", b"got-term") in await log_lines(status.log_path)

    started = time.monotonic()
    await rt.stop_container(stubborn, 0.5)
    elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 5
    status = await rt.container_status(stubborn)
    assert (status.state, status.exit_code, status.reason) == ("exited", 137, "Error")
    await rt.stop_container(stubborn, 1)  # stopping an exited container is a no-op

    fresh = await run(rt, sid, "sleep", "30", name="fresh")  # SIGTERM right after the start is not lost
    started = time.monotonic()
    await rt.stop_container(fresh, 10)
    assert time.monotonic() - started < 5
    assert (await rt.container_status(fresh)).exit_code == 143


async def test_leftover_processes_die_with_the_main_process(rt: ProcessRuntime, tmp_path: Path) -> None:
    sid = await sandbox(rt)
    pidfile = tmp_path / "bg.pid"
    cid = await run(rt, sid, "sh", "-c", f"sleep 30 & echo $! > {pidfile}; exit 0")
    status = await wait_exited(rt, cid, seconds=5)
    assert status.exit_code == 0
    pid = int(read(pidfile))
    deadline = time.monotonic() + 5
    while not gone(pid):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)


async def test_exec_sync(rt: ProcessRuntime) -> None:
    sid = await sandbox(rt)
    cid = await run(rt, sid, "sleep", "30", env=(("WHO", "container"),))
    result = await rt.exec_sync(cid, ["sh", "-c", "echo $WHO; pwd; echo oops >&2; exit 4"], 5)
    assert result.exit_code == 4
    assert result.stdout == f"container\n{rt.root_dir / 'pods' / 'pod-1' / 'main'}\n".encode()
    assert result.stderr == b"oops\n"
    missing = await rt.exec_sync(cid, ["no-such-binary-xyz"], 5)
    assert missing.exit_code == 127
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await rt.exec_sync(cid, ["sleep", "10"], 0.3)
    assert time.monotonic() - started < 3
    await rt.stop_container(cid, 0)
    with pytest.raises(Exception, match="not running"):
        await rt.exec_sync(cid, ["true"], 1)


async def test_exec_with_stdin_and_tty(rt: ProcessRuntime) -> None:
    sid = await sandbox(rt)
    cid = await run(rt, sid, "sleep", "30")
    io = FakeIO(stdin=[b"hello\n", b"world\n"])
    code = await asyncio.wait_for(rt.exec(cid, ["sh", "-c", "cat; echo done >&2; exit 5"], io, tty=False), 10)
    assert code == 5 and bytes(io.stdout) == b"hello\nworld\n" and bytes(io.stderr) == b"done\n"

    io = FakeIO(stdin=[b"go\n"], resize=[(100, 30)])
    script = "read x; stty size; test -t 0 && echo is-a-tty; echo got $x"
    code = await asyncio.wait_for(rt.exec(cid, ["sh", "-c", script], io, tty=True), 10)
    out = bytes(io.stdout).replace(b"\r\n", b"\n")
    assert code == 0 and b"30 100\n" in out and b"is-a-tty\n" in out and b"got go\n" in out


async def test_attach_with_stdin_once(rt: ProcessRuntime) -> None:
    sid = await sandbox(rt)
    cid = await run(
        rt, sid, "sh", "-c", "while read line; do echo got $line; done; echo bye", stdin=True, stdin_once=True
    )
    io = FakeIO(stdin=[b"a\n", b"b\n"])
    await asyncio.wait_for(rt.attach(cid, io, tty=False), 10)  # returns when the container exits
    assert bytes(io.stdout) == b"got a\ngot b\nbye\n"
    status = await wait_exited(rt, cid)
    assert status.exit_code == 0
    assert await log_lines(status.log_path) == [
        ("stdout", b"got a"),
        ("stdout", b"got b"),
        ("stdout", b"bye"),
    ]


async def test_tty_container_attach(rt: ProcessRuntime) -> None:
    sid = await sandbox(rt)
    cid = await run(rt, sid, "sh", "-c", "read x; test -t 1 && echo tty $x", stdin=True, tty=True)
    io = FakeIO(stdin=[b"yes\n"])
    await asyncio.wait_for(rt.attach(cid, io, tty=True), 10)
    status = await wait_exited(rt, cid)
    assert status.exit_code == 0
    assert b"tty yes" in bytes(io.stdout)
    assert any(c.startswith(b"tty yes") for _, c in await log_lines(status.log_path))


async def test_port_forward_reaches_the_node_loopback(rt: ProcessRuntime) -> None:
    sid = await sandbox(rt)

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"echo:" + await reader.readline())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        send, received, close = await rt.port_forward(sid, port)
        await send(b"ping\n")
        data = b"".join([chunk async for chunk in received])
        await close()
    assert data == b"echo:ping\n"
    assert (await rt.sandbox_status(sid)).ip == "127.0.0.1"


async def test_stats(rt: ProcessRuntime) -> None:
    sid = await sandbox(rt)
    cid = await run(
        rt,
        sid,
        sys.executable,
        "-c",
        "import time\nt=time.time()\nwhile time.time()-t<0.3: pass\ntime.sleep(30)",
    )
    await asyncio.sleep(0.4)
    first = await rt.container_stats(cid)
    await asyncio.sleep(0.1)
    second = await rt.container_stats(cid)
    assert first.cpu_usage_core_nanoseconds > 50_000_000 and first.memory_working_set_bytes > 1_000_000
    assert second.cpu_usage_core_nanoseconds >= first.cpu_usage_core_nanoseconds
    await rt.stop_container(cid, 0)
    assert (await rt.container_stats(cid)).cpu_usage_core_nanoseconds == 0


async def test_restart_adopts_running_and_learns_exit_codes(tmp_path: Path, rt: ProcessRuntime) -> None:
    sid = await sandbox(rt)
    long = await run(rt, sid, "sleep", "30", name="long")
    short = await run(rt, sid, "sh", "-c", "sleep 0.3; exit 5", name="short")
    done = await run(rt, sid, "true", name="done")
    await wait_exited(rt, done)
    pid = rt._containers[long].pid
    await rt.close()

    again = ProcessRuntime(rt.root_dir, cgroup_parent=rt._cgroup_parent)
    await again.start()
    try:
        assert [s for s, _ in await again.list_sandboxes()] == [sid]
        states = {c.id: c.state for c in await again.list_containers(sid)}
        assert states == {long: "running", short: "running", done: "exited"}
        assert (await again.container_status(done)).reason == "Completed"
        status = await wait_exited(again, short)  # exited while nothing watched it: the monitor recorded it
        assert (status.exit_code, status.reason) == (5, "Error")
        result = await again.exec_sync(long, ["echo", "still here"], 5)
        assert result.stdout == b"still here\n"
        await again.stop_container(long, 5)
        status = await again.container_status(long)
        assert status.state == "exited" and status.exit_code == 143
        assert gone(pid)
    finally:
        await again.close()


async def test_stop_and_remove_sandbox(rt: ProcessRuntime) -> None:
    sid = await sandbox(rt)
    cid = await run(rt, sid, "sleep", "30")
    await rt.stop_sandbox(sid)
    assert (await rt.sandbox_status(sid)).state == "notready"
    assert (await rt.container_status(cid)).state == "exited"
    with pytest.raises(CreateContainerError):
        await rt.create_container(sid, ContainerConfig(name="x", image="i", command=("true",)))
    cgroup_dirs = rt.cgroups.container("pod-1", cid).dirs if rt.cgroups else []
    await rt.remove_sandbox(sid)
    assert await rt.list_sandboxes() == [] and await rt.list_containers() == []
    assert not (rt.root_dir / "pods" / "pod-1").exists()
    assert not any(exists(d) for d in cgroup_dirs)
    with pytest.raises(NotFoundError):
        await rt.sandbox_status(sid)


async def test_mounts_are_skipped_and_reported_without_root(rt: ProcessRuntime, tmp_path: Path) -> None:
    rt.mount_namespaces = False  # as without root
    sid = await sandbox(rt)
    cid = await run(rt, sid, "true", mounts=(Mount(str(tmp_path), "/kyb-test-never-mounted"),))
    status = await wait_exited(rt, cid)
    assert status.exit_code == 0
    lines = await log_lines(status.log_path)
    assert lines and lines[0][0] == "stderr" and b"not mounted: /kyb-test-never-mounted" in lines[0][1]
    assert not exists("/kyb-test-never-mounted")


# --- root only -------------------------------------------------------------------------------------


async def test_memory_limit_oom_killed(rt: ProcessRuntime) -> None:
    need_root_cgroups(rt)
    sid = await sandbox(rt)
    hog = "x = bytearray(256 * 1024 * 1024)\nprint('survived')"
    cid = await run(
        rt, sid, sys.executable, "-c", hog, resources=Resources(memory_limit_bytes=48 * 1024 * 1024)
    )
    status = await wait_exited(rt, cid, seconds=20)
    assert (status.reason, status.exit_code) == ("OOMKilled", 137)

    ok = await run(rt, sid, "true", name="ok", resources=Resources(memory_limit_bytes=48 * 1024 * 1024))
    assert (await wait_exited(rt, ok)).reason == "Completed"


async def test_cgroup_limits_applied_and_removed(rt: ProcessRuntime) -> None:
    need_root_cgroups(rt)
    sid = await sandbox(rt)
    resources = Resources(cpu_millis_request=250, cpu_millis_limit=500, memory_limit_bytes=64 * 1024 * 1024)
    cid = await run(rt, sid, "sh", "-c", "cat /proc/self/cgroup; sleep 30", resources=resources)
    cgroup = rt.cgroups.container("pod-1", cid)  # type: ignore[union-attr]
    assert read(Path(cgroup.memory, "memory.limit_in_bytes")).strip() == str(64 * 1024 * 1024)
    assert read(Path(cgroup.cpu, "cpu.cfs_quota_us")).strip() == "50000"
    assert read(Path(cgroup.cpu, "cpu.cfs_period_us")).strip() == "100000"
    assert read(Path(cgroup.cpu, "cpu.shares")).strip() == "256"
    monitor = rt._containers[cid].pid
    assert monitor in CgroupV1.pids(cgroup)  # joined before the command ran
    result = await rt.exec_sync(cid, ["cat", "/proc/self/cgroup"], 5)
    assert f"/pod-1/{cid}" in result.stdout.decode()  # exec'd processes join the cgroup too
    stats = await rt.container_stats(cid)
    assert stats.memory_working_set_bytes > 0
    await rt.remove_container(cid)
    assert not any(exists(d) for d in cgroup.dirs)
    with pytest.raises(NotFoundError):
        await rt.container_status(cid)


async def test_bind_mounts_visible_inside_only(rt: ProcessRuntime, tmp_path: Path) -> None:
    need_root_cgroups(rt)
    source = tmp_path / "vol"
    source.mkdir()
    (source / "data.txt").write_text("from the host")
    config_file = tmp_path / "config.ini"
    config_file.write_text("key=value")
    target = f"/tmp/kyb-test-mount-{uuid.uuid4().hex[:8]}"
    mounts = (
        Mount(str(source), f"{target}/data", read_only=True),
        Mount(str(config_file), f"{target}/etc/config.ini"),
    )
    sid = await sandbox(rt)
    cid = await run(rt, sid, "sleep", "30", mounts=mounts)
    result = await rt.exec_sync(
        cid, ["sh", "-c", f"cat {target}/data/data.txt; echo; cat {target}/etc/config.ini"], 5
    )
    assert result.stdout == b"from the host\nkey=value", result.stderr
    readonly = await rt.exec_sync(cid, ["touch", f"{target}/data/new"], 5)
    assert readonly.exit_code != 0 and b"Read-only" in readonly.stderr
    assert os.listdir(f"{target}/data") == []  # on the host the target is an empty directory
    assert read(f"{target}/etc/config.ini") == ""
    await rt.remove_container(cid)
    assert not exists(target)  # targets the runtime created are removed with the container

    broken = await rt.create_container(
        sid,
        ContainerConfig(name="broken", image="i", command=("true",), mounts=(Mount(f"{target}-nope", "/x"),)),
    )
    with pytest.raises(StartContainerError, match="does not exist"):
        await rt.start_container(broken)
    assert (await rt.container_status(broken)).reason == "StartError"

    # A mount the monitor cannot perform (a file onto a directory): the start fails with its message.
    (tmp_path / "a-dir").mkdir()
    bad = Mount(str(config_file), str(tmp_path / "a-dir"))
    failing = await rt.create_container(
        sid, ContainerConfig(name="bad", image="i", command=("true",), mounts=(bad,))
    )
    with pytest.raises(StartContainerError, match="setup failed with exit code 125: mount: "):
        await rt.start_container(failing)
    status = await rt.container_status(failing)
    assert (status.state, status.reason, status.exit_code) == ("exited", "StartError", 125)
