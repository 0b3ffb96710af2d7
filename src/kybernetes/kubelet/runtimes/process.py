"""The ``process`` runtime: containers as plain host processes. **It does not isolate anything.**

The embedded default where containerd is not available (no root, a quick try). It implements the
CRI-shaped ``kybernetes.kubelet.runtime.Runtime``; what it cannot do is documented here and reported by
``status()`` (``isolates=False``).

What a container is
    ``command + args`` run as a host process (Kubernetes semantics: ``command`` replaces the image's
    entrypoint; with no ``command`` the ``args`` are the command line; with neither, creation fails
    with ``CreateContainerError``, as there is no image to take an entrypoint from: the image name is
    recorded, never pulled). Same filesystem, users, pid and network namespaces as the node agent. The
    pod IP is the node's (``node_ip``): host-network semantics, so two pods cannot listen on one port.
    ``ContainerConfig.target_container_id`` (an ephemeral container's ``--target``) needs nothing: there is
    no process namespace to share, every container already sees every process of the host, its
    target's included (and more than upstream would show).

    Environment: only the container's ``env`` on top of the defaults ``PATH`` (the usual
    ``/usr/local/sbin:...:/bin``), ``HOME`` (the default working directory), ``HOSTNAME`` (the pod's
    hostname) and, with a tty, ``TERM=xterm``. Nothing of the kubelet's own environment leaks in.
    Working directory: ``working_dir`` (created if missing) or ``<root_dir>/pods/<pod uid>/<name>``.

Supervision
    Each container is started through a small ``/bin/sh`` monitor, in its own session (process group):
    the monitor puts itself into the container's cgroups, performs the bind mounts, traps SIGTERM,
    then runs the command as its child (``env -- command...``, so shell builtins are never taken for
    the command), records the exit status in ``<root_dir>/containers/<id>/exit`` and exits with it.
    ``start_container`` returns once the monitor reports (through a FIFO) that its setup is done and
    the command is starting, so a SIGTERM or an exec right after the start reaches the command and
    sees the mounts; a setup failure (exit 125 before the command ran) fails the start with
    ``StartContainerError`` carrying the monitor's stderr. Because the exit status is on disk, a
    restarted runtime learns how a container ended even if that happened while nothing was watching.
    When the command exits, whatever it left behind in its process group and cgroup is killed (a
    container ends with its main process, as in a pid namespace). ``stop_container`` sends SIGTERM to
    the process group, SIGKILL after the grace period (also to every pid still in the cgroup) and
    waits for the exit. The monitor is spawned with ``subprocess.Popen`` and awaited through a pidfd:
    an asyncio subprocess transport would kill it when closed or collected.

    stdout/stderr are pipes the runtime reads (asyncio) and writes to ``log_path`` in the CRI log
    format (``crilog.py``; default ``<root_dir>/pods/<uid>/logs/<name>_<attempt>.log``). With ``tty`` a
    pty replaces the three pipes and everything is logged as stdout. ``stdin`` containers get a pipe
    that ``attach`` feeds (``stdin_once``: closed when the first attach session's stdin ends).

Persistence and restarts
    Sandboxes (``<root_dir>/sandboxes/<id>.json``) and containers (``<root_dir>/containers/<id>/
    state.json``) are JSON files. ``start()`` re-lists them; a container whose monitor still runs (pid
    and kernel start time match) is adopted: it can be listed, signalled, stopped, exec'd into and its
    exit is noticed (on the next status or list call). Its output pipes, however, died with the old
    runtime: later output is lost (the process gets EPIPE, or SIGPIPE if it does not ignore it) and it
    cannot be attached to. The runtime never kills containers on ``close()``.

Limits (cgroup v1, when root; ``cgroups.py``)
    With ``use_cgroups`` None (auto) or True, each container gets ``<ctrl>/<cgroup_parent>/<pod uid>/
    <container id>`` in the memory, cpu and cpuacct hierarchies with ``memory.limit_in_bytes`` (and
    ``memory.memsw.limit_in_bytes``), ``cpu.cfs_quota_us``/``cpu.cfs_period_us`` and ``cpu.shares``.
    The monitor joins the cgroup before the command starts. An OOM kill (the memory cgroup's
    ``oom_kill`` counter) gives reason ``OOMKilled``; the exit code stays what the process gave (137).
    cgroups are removed with the container. ``cgroup_parent`` (default ``"kybernetes"``) is relative to
    the agent's own cgroup unless it starts with ``/``. Without cgroups, limits are not enforced (a
    container that has limits gets one line on its stderr log saying so).

Volumes
    When root (``unshare`` and ``nsenter`` present), a container with mounts runs in a private mount
    namespace (``unshare --mount --propagation private``): each ``Mount.host_path`` is bind-mounted onto
    ``container_path`` (read-only remount when asked). Without a root filesystem of its own the
    container path is a *host* path: missing targets (directories, or empty files for file sources)
    are created on the host before the start and removed with the container when they are still
    empty and no other container uses them; the mounts themselves are visible only to the container.
    ``exec`` joins that namespace with ``nsenter --mount --target <monitor pid>``.
    **Without root, mounts are not performed**: the container still starts, and one line on its stderr
    log says which mounts are missing (pods that need their volumes should use containerd).

Streams
    ``exec_sync``/``exec`` run a command with the container's env and working directory, in its cgroup
    and mount namespace; ``exec_sync`` raises ``TimeoutError`` after ``limit_seconds`` (the command's
    process group is killed). ``exec`` with ``tty`` uses a pty with ``TIOCSWINSZ`` resizes. ``attach``
    tees the container's output (from the moment of attaching) and feeds its stdin. ``port_forward``
    connects to ``127.0.0.1:<port>`` (the pod's network is the node's).

Errors: unknown ids raise ``NotFoundError`` (a ``RuntimeError_`` and ``LookupError``); a command that
cannot be found on ``PATH`` fails ``start_container`` with ``StartContainerError`` (reason
``StartError``, exit code 128, as containerd reports it) and leaves the container exited.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kybernetes
from kybernetes.kubelet.runtime import (
    ContainerConfig,
    ContainerState,
    ContainerStats,
    ContainerStatus,
    CreateContainerError,
    ExecResult,
    NotFoundError,
    RuntimeError_,
    RuntimeStatus,
    SandboxConfig,
    SandboxState,
    SandboxStatus,
    StartContainerError,
    StreamIO,
)
from kybernetes.kubelet.runtimes import process_state as state_io
from kybernetes.kubelet.runtimes.cgroups import CgroupV1, ContainerCgroup
from kybernetes.kubelet.runtimes.crilog import CriLogWriter, Stream, read_log
from kybernetes.kubelet.runtimes.process_streams import (
    Pty,
    open_read_pipe,
    open_write_pipe,
    pump_resize,
    pump_stdin,
    read_chunk,
    wait_popen,
)

__all__ = ["DEFAULT_PATH", "NotFoundError", "ProcessRuntime", "StartContainerError"]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_SH = "/bin/sh"
_DRAIN_SECONDS = 2.0  # how long output may keep flowing after the main process exited
_KILL_WAIT_SECONDS = 10.0
_READY_SECONDS = 30.0  # bound on the monitor's setup (cgroup join, bind mounts)


@dataclass
class _Sandbox:
    id: str
    config: SandboxConfig
    created_at: float
    state: SandboxState = "ready"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "config": state_io.config_to_dict(self.config),
            "created_at": self.created_at,
            "state": self.state,
        }


@dataclass(eq=False)
class _Subscriber:
    """An attach session's view of the container's output; ``None`` ends it."""

    queue: asyncio.Queue[tuple[Stream, bytes] | None] = field(default_factory=lambda: asyncio.Queue(1024))


@dataclass
class _Container:
    id: str
    sandbox_id: str
    pod_uid: str
    config: ContainerConfig
    created_at: float
    log_path: str
    workdir: str
    env: dict[str, str]
    state: ContainerState = "created"
    started_at: float = 0.0
    finished_at: float = 0.0
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    pid: int = 0
    pid_start: int = 0
    cgroup: ContainerCgroup | None = None
    mount_ns: bool = False
    created_paths: list[str] = field(default_factory=list)
    # live only
    proc: subprocess.Popen[bytes] | None = None
    pty: Pty | None = None
    transports: list[asyncio.BaseTransport] = field(default_factory=list)
    stdin: asyncio.StreamWriter | None = None
    stdin_claimed: bool = False
    writer: CriLogWriter | None = None
    subscribers: set[_Subscriber] = field(default_factory=set)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    exited: asyncio.Event = field(default_factory=asyncio.Event)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    save_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    killed: bool = False
    last_cpu: tuple[float, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sandbox_id": self.sandbox_id,
            "pod_uid": self.pod_uid,
            "config": state_io.config_to_dict(self.config),
            "created_at": self.created_at,
            "log_path": self.log_path,
            "workdir": self.workdir,
            "env": self.env,
            "state": self.state,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "exit_code": self.exit_code,
            "reason": self.reason,
            "message": self.message,
            "pid": self.pid,
            "pid_start": self.pid_start,
            "cgroup": None
            if self.cgroup is None
            else [self.cgroup.memory, self.cgroup.cpu, self.cgroup.cpuacct],
            "mount_ns": self.mount_ns,
            "created_paths": self.created_paths,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> _Container:
        cgroup = data.get("cgroup")
        return cls(
            id=data["id"],
            sandbox_id=data["sandbox_id"],
            pod_uid=data["pod_uid"],
            config=state_io.container_config_from_dict(data["config"]),
            created_at=data["created_at"],
            log_path=data["log_path"],
            workdir=data["workdir"],
            env=dict(data["env"]),
            state=data["state"],
            started_at=data.get("started_at", 0.0),
            finished_at=data.get("finished_at", 0.0),
            exit_code=data.get("exit_code", 0),
            reason=data.get("reason", ""),
            message=data.get("message", ""),
            pid=data.get("pid", 0),
            pid_start=data.get("pid_start", 0),
            cgroup=None if not cgroup else ContainerCgroup(*cgroup),
            mount_ns=data.get("mount_ns", False),
            created_paths=list(data.get("created_paths", [])),
        )

    def status(self) -> ContainerStatus:
        return ContainerStatus(
            id=self.id,
            name=self.config.name,
            state=self.state,
            image=self.config.image,
            image_id=_image_id(self.config.image),
            created_at=self.created_at,
            started_at=self.started_at,
            finished_at=self.finished_at,
            exit_code=self.exit_code,
            reason=self.reason,
            message=self.message,
            log_path=self.log_path,
            attempt=self.config.attempt,
        )


def _image_id(image: str) -> str:
    return f"process:{image}"


def _exit_code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def _monitor_script(
    procs_files: Sequence[str],
    binds: Sequence[tuple[str, str, bool]],
    workdir: str,
    exit_file: str,
    ready_fifo: str,
) -> str:
    """The ``sh -c`` program that becomes the container's supervisor; the command is ``"$@"``.

    Setup errors (cgroup, mounts) go to the container's stderr and exit 125 before the command runs.
    Once the TERM trap is set, the monitor sends its own stdout/stderr to /dev/null (a message of its
    must never hit a pipe whose reader is gone: SIGPIPE would kill it before it records the exit),
    runs the command with the saved descriptors in a subshell, which first says "ok" on the ready FIFO
    (opened read-write, so it never blocks). The subshell matters twice: dash applies a simple command's
    redirections in the parent, so its "Terminated" notice would otherwise go to the container's stderr
    pipe; and "ok" comes only once the subshell has reset the TERM trap, so a SIGTERM sent right after
    ``start_container`` returns reaches the command instead of being swallowed."""
    q = shlex.quote
    lines = [f"echo $$ > {q(path)} || exit 125" for path in procs_files]
    for source, target, read_only in binds:
        lines.append(f"mount --bind {q(source)} {q(target)} || exit 125")
        if read_only:
            lines.append(f"mount -o remount,bind,ro {q(target)} || exit 125")
    if binds:
        lines.append(f"cd {q(workdir)} || exit 125")
    lines += [
        "trap : TERM INT HUP",
        "exec 3>&1 4>&2 >/dev/null 2>&1",
        f'(echo ok 1<>{q(ready_fifo)}; exec env -- "$@" 1>&3 2>&4 3>&- 4>&-)',
        "rc=$?",
        f"echo $rc > {q(exit_file)}",
        "exit $rc",
    ]
    return "\n".join(lines)


def _open_fifo(path: str) -> tuple[int, int]:
    """A fresh FIFO opened for reading (non-blocking) and, so it never reports EOF, for writing."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    os.mkfifo(path, 0o600)
    read_fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    write_fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    return read_fd, write_fd


def _which(command: str, path: str) -> str | None:
    if "/" in command:
        # an absolute path that is no executable fails the start, as runc's exec does (a relative one
        # depends on the working directory, which the monitor enters)
        if os.path.isabs(command) and not (os.path.isfile(command) and os.access(command, os.X_OK)):
            return None
        return command
    return shutil.which(command, path=path)


def _not_found_message(command: str) -> str:
    """Why ``_which`` found no ``command``, in runc's words."""
    if not os.path.isabs(command):
        return f'exec: "{command}": executable file not found in $PATH'
    if os.path.exists(command):
        return f'exec: "{command}": permission denied'
    return f'exec: "{command}": stat {command}: no such file or directory'


class ProcessRuntime:
    """See the module docstring. ``root_dir`` holds state, default working dirs and default logs."""

    def __init__(
        self,
        root_dir: Path,
        *,
        node_ip: str = "127.0.0.1",
        use_cgroups: bool | None = None,
        cgroup_parent: str = "kybernetes",
    ) -> None:
        self.root_dir = Path(root_dir)
        self.node_ip = node_ip
        self._use_cgroups = use_cgroups
        self._cgroup_parent = cgroup_parent
        self.cgroups: CgroupV1 | None = None
        self.mount_namespaces = False
        self._sandboxes: dict[str, _Sandbox] = {}
        self._containers: dict[str, _Container] = {}
        self._started = False

    # --- lifecycle -----------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._started:
            return
        if self._use_cgroups is not False:
            self.cgroups = await asyncio.to_thread(CgroupV1.detect, self._cgroup_parent)
            if self.cgroups is None and self._use_cgroups:
                raise RuntimeError_("cgroups requested but unavailable (needs root and cgroup v1 memory+cpu)")
        self.mount_namespaces = (
            os.geteuid() == 0 and shutil.which("unshare") is not None and shutil.which("nsenter") is not None
        )
        sandboxes, containers = await asyncio.to_thread(self._load)
        self._sandboxes = {s.id: s for s in sandboxes}
        self._containers = {c.id: c for c in containers}
        for container in containers:
            if container.state == "running":
                await self._refresh(container)
        self._started = True

    async def close(self) -> None:
        """Stop watching; containers keep running (a restarted runtime adopts them)."""
        for container in self._containers.values():
            for task in container.tasks:
                task.cancel()
            for task in container.tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            container.tasks = []
            for sub in container.subscribers:
                with contextlib.suppress(asyncio.QueueFull):
                    sub.queue.put_nowait(None)
            if container.writer is not None:
                container.writer.close()
            if container.pty is not None:
                container.pty.close()
            for transport in container.transports:  # the pipes (never the process)
                transport.close()
            container.transports = []
        self._started = False

    async def status(self) -> RuntimeStatus:
        return RuntimeStatus(name="process", version=kybernetes.__version__, ready=True, isolates=False)

    def _load(self) -> tuple[list[_Sandbox], list[_Container]]:
        sandboxes: list[_Sandbox] = []
        containers: list[_Container] = []
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.root_dir / "sandboxes"):
                if entry.name.endswith(".json") and (data := state_io.read_json(entry.path)):
                    with contextlib.suppress(KeyError, TypeError, ValueError):
                        sandboxes.append(
                            _Sandbox(
                                id=data["id"],
                                config=state_io.sandbox_config_from_dict(data["config"]),
                                created_at=data["created_at"],
                                state=data["state"],
                            )
                        )
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.root_dir / "containers"):
                data = state_io.read_json(os.path.join(entry.path, "state.json"))
                if data:
                    with contextlib.suppress(KeyError, TypeError, ValueError):
                        containers.append(_Container.from_dict(data))
        return sandboxes, containers

    def _container_dir(self, container_id: str) -> str:
        return str(self.root_dir / "containers" / container_id)

    def _exit_file(self, container_id: str) -> str:
        return os.path.join(self._container_dir(container_id), "exit")

    async def _save_sandbox(self, sandbox: _Sandbox) -> None:
        path = str(self.root_dir / "sandboxes" / f"{sandbox.id}.json")
        await asyncio.to_thread(state_io.write_json, path, sandbox.to_dict())

    async def _save(self, container: _Container) -> None:
        """Persist the container's current state; saves are serialised per container, and each writes
        the state as of when it got its turn, so the file never goes back in time."""
        async with container.save_lock:
            if container.id not in self._containers:
                return  # removed meanwhile
            path = os.path.join(self._container_dir(container.id), "state.json")
            await asyncio.to_thread(state_io.write_json, path, container.to_dict())

    # --- images --------------------------------------------------------------------------------------
    async def pull_image(self, image: str) -> str:
        """Nothing to pull: the image name is only recorded."""
        return _image_id(image)

    async def image_present(self, image: str) -> bool:
        return True

    # --- sandboxes -----------------------------------------------------------------------------------
    def _sandbox(self, sandbox_id: str) -> _Sandbox:
        try:
            return self._sandboxes[sandbox_id]
        except KeyError:
            raise NotFoundError(f"pod sandbox {sandbox_id} not found") from None

    def _pod_dir(self, uid: str) -> Path:
        return self.root_dir / "pods" / uid

    async def run_sandbox(self, config: SandboxConfig) -> str:
        sandbox = _Sandbox(id=uuid.uuid4().hex, config=config, created_at=time.time())
        await asyncio.to_thread(self._pod_dir(config.uid).mkdir, parents=True, exist_ok=True)
        self._sandboxes[sandbox.id] = sandbox
        await self._save_sandbox(sandbox)
        return sandbox.id

    async def stop_sandbox(self, sandbox_id: str) -> None:
        """Kill the sandbox's containers that still run (the kubelet stops them gracefully first)."""
        sandbox = self._sandbox(sandbox_id)
        containers = [c for c in self._containers.values() if c.sandbox_id == sandbox_id]
        await asyncio.gather(*(self.stop_container(c.id, 0) for c in containers))
        if sandbox.state != "notready":
            sandbox.state = "notready"
            await self._save_sandbox(sandbox)

    async def remove_sandbox(self, sandbox_id: str) -> None:
        """Stop and remove the sandbox's containers, its cgroups, state and (when no other sandbox of
        the pod remains) the pod's directory with the default working directories and default logs.
        Logs at a ``log_path`` the kubelet chose stay (the kubelet owns them)."""
        sandbox = self._sandboxes.get(sandbox_id)
        if sandbox is None:
            return
        for container in [c for c in self._containers.values() if c.sandbox_id == sandbox_id]:
            await self.remove_container(container.id)
        del self._sandboxes[sandbox_id]
        uid = sandbox.config.uid
        last = not any(s.config.uid == uid for s in self._sandboxes.values())

        def cleanup() -> None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.root_dir / "sandboxes" / f"{sandbox_id}.json")
            if last:
                if self.cgroups is not None:
                    CgroupV1.remove(self.cgroups.pod_dirs(uid))
                shutil.rmtree(self._pod_dir(uid), ignore_errors=True)

        await asyncio.to_thread(cleanup)

    async def sandbox_status(self, sandbox_id: str) -> SandboxStatus:
        sandbox = self._sandbox(sandbox_id)
        return SandboxStatus(
            id=sandbox.id,
            state=sandbox.state,
            ip=self.node_ip,
            created_at=sandbox.created_at,
            network_namespace="",
        )

    async def list_sandboxes(self) -> Sequence[tuple[str, SandboxConfig]]:
        return [(s.id, s.config) for s in self._sandboxes.values()]

    # --- containers ----------------------------------------------------------------------------------
    def _container(self, container_id: str) -> _Container:
        try:
            return self._containers[container_id]
        except KeyError:
            raise NotFoundError(f"container {container_id} not found") from None

    async def create_container(self, sandbox_id: str, config: ContainerConfig) -> str:
        sandbox = self._sandbox(sandbox_id)
        if sandbox.state != "ready":
            raise CreateContainerError(f"pod sandbox {sandbox_id} is not ready")
        if not config.command and not config.args:
            raise CreateContainerError(
                f"process runtime needs a command for image {config.image}: it runs no images, so set "
                "the container's command (or args)"
            )
        uid = sandbox.config.uid
        default_dir = str(self._pod_dir(uid) / config.name)
        env = {
            "PATH": DEFAULT_PATH,
            "HOME": default_dir,
            "HOSTNAME": sandbox.config.hostname or sandbox.config.name,
        }
        if config.tty:
            env["TERM"] = "xterm"
        env.update(dict(config.env))
        log_path = config.log_path or str(self._pod_dir(uid) / "logs" / f"{config.name}_{config.attempt}.log")
        container = _Container(
            id=uuid.uuid4().hex,
            sandbox_id=sandbox_id,
            pod_uid=uid,
            config=config,
            created_at=time.time(),
            log_path=log_path,
            workdir=config.working_dir or default_dir,
            env=env,
        )
        self._containers[container.id] = container
        await self._save(container)
        return container.id

    def _prepare(self, container: _Container) -> tuple[CriLogWriter, list[tuple[str, str, bool]], list[str]]:
        """Blocking preparation (runs in a thread): dirs, log file, cgroup, mount targets.
        Returns the log writer, the bind mounts to perform and the mounts skipped (no root)."""
        config = container.config
        os.makedirs(self._pod_dir(container.pod_uid) / config.name, exist_ok=True)  # default dir and HOME
        os.makedirs(self._container_dir(container.id), exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._exit_file(container.id))
        try:
            os.makedirs(container.workdir, exist_ok=True)
        except OSError as e:
            raise StartContainerError(f"working directory {container.workdir}: {e.strerror}") from None
        writer = CriLogWriter(container.log_path)
        binds: list[tuple[str, str, bool]] = []
        skipped: list[str] = []
        try:
            if self.cgroups is not None:
                cgroup = self.cgroups.container(container.pod_uid, container.id)
                container.cgroup = cgroup
                resources = config.resources
                CgroupV1.create(
                    cgroup,
                    memory_limit=resources.memory_limit_bytes,
                    cpu_limit_millis=resources.cpu_millis_limit,
                    cpu_request_millis=resources.cpu_millis_request,
                )
            for mount in config.mounts:
                if not self.mount_namespaces:
                    skipped.append(mount.container_path)
                    continue
                if not os.path.exists(mount.host_path):
                    raise StartContainerError(f"mount source {mount.host_path} does not exist")
                if not os.path.isabs(mount.container_path):
                    raise StartContainerError(f"mount target {mount.container_path} is not absolute")
                self._make_target(container, mount.container_path, is_dir=os.path.isdir(mount.host_path))
                binds.append((mount.host_path, mount.container_path, mount.read_only))
        except OSError as e:
            writer.close()
            raise StartContainerError(f"preparing the container: {e}") from None
        except BaseException:
            writer.close()
            raise
        return writer, binds, skipped

    def _make_target(self, container: _Container, target: str, *, is_dir: bool) -> None:
        missing: list[str] = []
        parent = target if is_dir else os.path.dirname(target)
        while parent and parent != "/" and not os.path.exists(parent):
            missing.append(parent)
            parent = os.path.dirname(parent)
        os.makedirs(target if is_dir else os.path.dirname(target), exist_ok=True)
        if not is_dir and not os.path.exists(target):
            with open(target, "a"):
                pass
            missing.insert(0, target)
        container.created_paths.extend(missing)  # deepest first

    async def start_container(self, container_id: str) -> None:
        container = self._container(container_id)
        async with container.lock:
            if container.state != "created":
                raise RuntimeError_(f"container {container_id} is {container.state}, not created")
            config = container.config
            argv = list(config.command) + list(config.args) if config.command else list(config.args)
            if not container.config.mounts and _which(argv[0], container.env.get("PATH", "")) is None:
                message = _not_found_message(argv[0])
                await self._fail_start(container, message)
                raise StartContainerError(message)
            try:
                writer, binds, skipped = await asyncio.to_thread(self._prepare, container)
            except StartContainerError as e:
                await self._fail_start(container, str(e))
                raise
            container.writer = writer
            limits = config.resources.memory_limit_bytes or config.resources.cpu_millis_limit
            if limits and container.cgroup is None:
                writer.write_message(
                    "stderr",
                    "kybernetes process runtime: no cgroups (needs root): resource limits not enforced",
                )
            if skipped:
                writer.write_message(
                    "stderr",
                    "kybernetes process runtime: volume mounts need root; not mounted: " + ", ".join(skipped),
                )
            container.mount_ns = bool(binds)
            procs = container.cgroup.procs_files if container.cgroup else []
            ready_fifo = os.path.join(self._container_dir(container.id), "ready")
            exit_file = self._exit_file(container.id)
            script = _monitor_script(procs, binds, container.workdir, exit_file, ready_fifo)
            command = [_SH, "-c", script, "kyb-monitor", *argv]
            if binds:
                command = ["unshare", "--mount", "--propagation", "private", *command]
            read_fd, write_fd = await asyncio.to_thread(_open_fifo, ready_fifo)
            try:
                try:
                    await self._spawn(container, command)
                except OSError as e:
                    os.close(read_fd)
                    writer.close()
                    await self._fail_start(container, f"starting the monitor: {e}")
                    raise StartContainerError(str(e)) from None
                await self._await_ready(container, read_fd)
            finally:
                os.close(write_fd)
                with contextlib.suppress(OSError):
                    os.unlink(ready_fifo)
            await self._save(container)

    async def _await_ready(self, container: _Container, read_fd: int) -> None:
        """Wait for the monitor's "ok" (its setup is done, the command starts now) or its exit."""
        reader, transport = await open_read_pipe(os.fdopen(read_fd, "rb", buffering=0))
        line = asyncio.ensure_future(reader.readline())
        exited = asyncio.ensure_future(container.exited.wait())
        try:
            done, _ = await asyncio.wait(
                {line, exited}, timeout=_READY_SECONDS, return_when="FIRST_COMPLETED"
            )
        finally:
            line.cancel()
            exited.cancel()
            transport.close()
        if line in done and not line.cancelled() and line.result() == b"ok\n":
            return
        if container.state == "exited" and await asyncio.to_thread(
            os.path.exists, self._exit_file(container.id)
        ):
            return  # the command ran (and ended) before "ok" was read: only a started command has an exit file
        if container.state == "running":  # stuck in setup
            self._kill_group(container, signal.SIGKILL)
            await self._wait_exit(container, _KILL_WAIT_SECONDS)
        errors = [
            r.content.decode(errors="replace").strip()
            async for r in read_log(container.log_path, tail=5, streams=("stderr",))
        ]
        message = f"container setup failed with exit code {container.exit_code}"
        if errors:
            message += ": " + " ".join(e for e in errors if e)
        container.reason = "StartError"
        container.message = message
        await self._save(container)
        raise StartContainerError(message)

    async def _spawn(self, container: _Container, command: list[str]) -> None:
        """Start the monitor with ``Popen`` (see ``wait_popen`` for why not an asyncio subprocess)."""
        config = container.config
        kwargs: dict[str, Any] = {"cwd": container.workdir, "env": container.env, "close_fds": True}
        if config.tty:
            container.pty = pty_ = Pty()
            command = ["setsid", "--ctty", *command]
            kwargs.update(stdin=pty_.slave, stdout=pty_.slave, stderr=pty_.slave, start_new_session=False)
        else:
            kwargs.update(
                stdin=subprocess.PIPE if config.stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        try:
            # Like asyncio's own subprocess transport, spawn on the loop: vfork+exec takes ~1 ms.
            proc = subprocess.Popen(command, **kwargs)  # noqa: ASYNC220
        finally:
            if container.pty is not None:
                container.pty.close_slave()
        container.proc = proc
        container.pid = proc.pid
        container.pid_start = state_io.proc_start_ticks(proc.pid) or 0
        container.started_at = time.time()
        container.state = "running"
        container.exited.clear()
        pumps: list[asyncio.Task[Any]] = []
        if container.pty is not None:
            await container.pty.open()
            assert container.pty.reader is not None
            container.stdin = container.pty.writer if config.stdin else None
            pumps.append(asyncio.create_task(self._pump(container, "stdout", container.pty.reader)))
        else:
            assert proc.stdout is not None and proc.stderr is not None
            streams: tuple[Stream, Stream] = ("stdout", "stderr")
            for stream, pipe in zip(streams, (proc.stdout, proc.stderr), strict=True):
                reader, transport = await open_read_pipe(pipe)
                container.transports.append(transport)
                pumps.append(asyncio.create_task(self._pump(container, stream, reader)))
            if proc.stdin is not None:
                container.stdin = await open_write_pipe(proc.stdin)
                container.transports.append(container.stdin.transport)
        container.tasks = [*pumps, asyncio.create_task(self._watch(container, proc, pumps))]

    async def _fail_start(self, container: _Container, message: str) -> None:
        container.state = "exited"
        container.exit_code = 128
        container.reason = "StartError"
        container.message = message
        container.started_at = 0.0
        container.finished_at = time.time()
        container.exited.set()
        await self._save(container)

    async def _pump(self, container: _Container, stream: Stream, reader: asyncio.StreamReader) -> None:
        writer = container.writer
        while True:
            data = await read_chunk(reader)
            if not data:
                break
            if writer is not None and not writer.closed:
                writer.write(stream, data)
            for sub in list(container.subscribers):
                with contextlib.suppress(asyncio.QueueFull):  # a stalled attach client loses output
                    sub.queue.put_nowait((stream, data))
        if writer is not None and not writer.closed:
            writer.flush(stream)

    async def _watch(
        self, container: _Container, proc: subprocess.Popen[bytes], pumps: list[asyncio.Task[Any]]
    ) -> None:
        returncode = await wait_popen(proc)
        self._kill_group(container, signal.SIGKILL)  # whatever the command left behind
        if container.cgroup is not None:
            await asyncio.to_thread(CgroupV1.kill_all, container.cgroup)
        _done, pending = await asyncio.wait(pumps, timeout=_DRAIN_SECONDS)
        for task in pending:
            task.cancel()
        await self._finish(container, _exit_code(returncode), time.time())

    async def _finish(self, container: _Container, exit_code: int, finished_at: float) -> None:
        if container.state == "exited":
            return
        oom = False
        if container.cgroup is not None:
            oom = await asyncio.to_thread(CgroupV1.oom_killed, container.cgroup, exit_code)
        container.exit_code = exit_code
        container.finished_at = finished_at
        container.reason = "OOMKilled" if oom else ("Completed" if exit_code == 0 else "Error")
        container.state = "exited"
        if container.writer is not None:
            container.writer.close()
        if container.pty is not None:
            container.pty.close()
            container.pty = None
        container.stdin = None
        for transport in container.transports:
            transport.close()
        container.transports = []
        for sub in list(container.subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                sub.queue.put_nowait(None)
        container.exited.set()
        await self._save(container)

    def _kill_group(self, container: _Container, sig: int) -> bool:
        """Signal the container's process group; False when nothing was there."""
        if container.pid <= 0:
            return False
        if container.proc is None and not state_io.proc_alive(container.pid, container.pid_start):
            return False  # adopted and gone: the pid may belong to someone else by now
        try:
            os.killpg(container.pid, sig)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    async def _refresh(self, container: _Container) -> None:
        """For an adopted container (no pipes, not our child): notice its exit."""
        if container.state != "running" or container.proc is not None:
            return
        if state_io.proc_alive(container.pid, container.pid_start):
            return
        exit_file = self._exit_file(container.id)

        def read_exit() -> tuple[int | None, float]:
            try:
                text = Path(exit_file).read_text().strip()
                return int(text), os.stat(exit_file).st_mtime
            except (OSError, ValueError):
                return None, time.time()

        code, finished_at = await asyncio.to_thread(read_exit)
        if code is None:
            code = 137
            container.message = "exit status unknown: the process ended while the runtime was not watching"
        if container.cgroup is not None:
            await asyncio.to_thread(CgroupV1.kill_all, container.cgroup)
        await self._finish(container, code, finished_at)

    async def _wait_exit(self, container: _Container, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while container.state == "running":
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if container.proc is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(container.exited.wait(), remaining)
            else:
                await asyncio.sleep(min(0.05, remaining))
                await self._refresh(container)
        return True

    async def stop_container(self, container_id: str, grace_seconds: float) -> None:
        container = self._container(container_id)
        await self._refresh(container)
        if container.state != "running":
            return
        if grace_seconds > 0 and self._kill_group(container, signal.SIGTERM):
            if await self._wait_exit(container, grace_seconds):
                return
        container.killed = True
        self._kill_group(container, signal.SIGKILL)
        if container.cgroup is not None:
            await asyncio.to_thread(CgroupV1.kill_all, container.cgroup)
        if not await self._wait_exit(container, _KILL_WAIT_SECONDS):
            raise RuntimeError_(f"container {container_id} did not exit after SIGKILL")

    async def remove_container(self, container_id: str) -> None:
        """Remove a container (killing it first if it still runs), its cgroup and the mount targets it
        created. The log file stays (the kubelet owns logs)."""
        container = self._containers.get(container_id)
        if container is None:
            return
        if container.state == "running":
            await self.stop_container(container_id, 0)
        for task in container.tasks:
            task.cancel()
        container.tasks = []
        if container.writer is not None:
            container.writer.close()
        del self._containers[container_id]
        in_use = {m.container_path for c in self._containers.values() for m in c.config.mounts}
        # Paths this container created that others still mount pass to one of those others, so that
        # the last container using a mount target removes it.
        for path in container.created_paths:
            prefix = path.rstrip("/") + "/"
            for other in self._containers.values():
                if any(
                    m.container_path == path or m.container_path.startswith(prefix)
                    for m in other.config.mounts
                ):
                    if path not in other.created_paths:
                        other.created_paths.append(path)
                    break

        def cleanup() -> None:
            if container.cgroup is not None:
                CgroupV1.remove(container.cgroup.dirs)
            for path in sorted(container.created_paths, key=lambda p: p.count("/"), reverse=True):
                if any(u == path or u.startswith(path.rstrip("/") + "/") for u in in_use):
                    continue
                with contextlib.suppress(OSError):
                    if os.path.isdir(path):
                        os.rmdir(path)
                    elif os.path.getsize(path) == 0:
                        os.unlink(path)
            shutil.rmtree(self._container_dir(container_id), ignore_errors=True)

        async with container.save_lock:
            await asyncio.to_thread(cleanup)

    async def container_status(self, container_id: str) -> ContainerStatus:
        container = self._container(container_id)
        await self._refresh(container)
        return container.status()

    async def list_containers(self, sandbox_id: str | None = None) -> Sequence[ContainerStatus]:
        result = []
        for container in list(self._containers.values()):
            if sandbox_id is None or container.sandbox_id == sandbox_id:
                await self._refresh(container)
                result.append(container.status())
        return result

    async def container_stats(self, container_id: str) -> ContainerStats:
        container = self._container(container_id)
        now = time.time()
        if container.state != "running":
            return ContainerStats(id=container_id, timestamp=now)
        cpu: int | None = None
        memory: int | None = None
        if container.cgroup is not None:
            cpu, memory = await asyncio.to_thread(CgroupV1.usage, container.cgroup)
        if cpu is None or memory is None:
            session_cpu, session_rss = await asyncio.to_thread(state_io.session_usage, container.pid)
            cpu = session_cpu if cpu is None else cpu
            memory = session_rss if memory is None else memory
        nano_cores = 0
        if container.last_cpu is not None:
            then, previous = container.last_cpu
            if now > then and cpu >= previous:
                nano_cores = int((cpu - previous) / (now - then))
        container.last_cpu = (now, cpu)
        return ContainerStats(
            id=container_id,
            cpu_usage_nano_cores=nano_cores,
            cpu_usage_core_nanoseconds=cpu,
            memory_working_set_bytes=memory,
            timestamp=now,
        )

    # --- streams -------------------------------------------------------------------------------------
    def _running(self, container_id: str) -> _Container:
        container = self._container(container_id)
        if container.state != "running":
            raise RuntimeError_(f"container {container_id} is not running")
        return container

    def _exec_command(self, container: _Container, command: Sequence[str]) -> list[str]:
        argv = list(command)
        if not argv:
            raise RuntimeError_("exec needs a command")
        if container.mount_ns:
            argv = [
                "nsenter",
                f"--target={container.pid}",
                "--mount",
                f"--wdns={container.workdir}",
                "--",
                *argv,
            ]
        if container.cgroup is not None:
            q = shlex.quote
            joins = " && ".join(f"echo $$ > {q(p)}" for p in container.cgroup.procs_files)
            argv = [_SH, "-c", f'{joins} && exec "$@"', "kyb-exec", *argv]
        return argv

    async def _spawn_exec(
        self, container: _Container, argv: list[str], **kwargs: Any
    ) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(*argv, cwd=container.workdir, env=container.env, **kwargs)

    async def exec_sync(self, container_id: str, command: Sequence[str], limit_seconds: float) -> ExecResult:
        """Run ``command`` to completion; ``TimeoutError`` (after killing it) past ``limit_seconds``
        (0 or less: no limit). A command that cannot be found gives exit code 127."""
        container = await self._checked_running(container_id)
        argv = self._exec_command(container, command)
        try:
            proc = await self._spawn_exec(
                container,
                argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except FileNotFoundError:
            return ExecResult(
                127, b"", f'exec: "{command[0]}": executable file not found in $PATH\n'.encode()
            )
        try:
            stdout, stderr = await asyncio.wait_for(
                proc.communicate(), limit_seconds if limit_seconds > 0 else None
            )
        except TimeoutError:
            _killpg(proc.pid)
            await proc.wait()
            raise TimeoutError(f"command {list(command)!r} timed out after {limit_seconds}s") from None
        except asyncio.CancelledError:
            _killpg(proc.pid)
            raise
        return ExecResult(_exit_code(proc.returncode or 0), stdout, stderr)

    async def _checked_running(self, container_id: str) -> _Container:
        container = self._container(container_id)
        await self._refresh(container)
        return self._running(container_id)

    async def exec(self, container_id: str, command: Sequence[str], io: StreamIO, *, tty: bool) -> int:
        container = await self._checked_running(container_id)
        argv = self._exec_command(container, command)
        pty_: Pty | None = None
        try:
            if tty:
                pty_ = Pty()
                try:
                    proc = await self._spawn_exec(
                        container,
                        ["setsid", "--ctty", *argv],
                        stdin=pty_.slave,
                        stdout=pty_.slave,
                        stderr=pty_.slave,
                    )
                finally:
                    pty_.close_slave()
                await pty_.open()
                assert pty_.reader is not None
                outputs = [asyncio.create_task(_copy(pty_.reader, io.write_stdout))]
                inputs = [
                    asyncio.create_task(pump_stdin(io, pty_.writer, close_at_eof=True, tty=True)),
                    asyncio.create_task(pump_resize(io, pty_)),
                ]
            else:
                try:
                    proc = await self._spawn_exec(
                        container,
                        argv,
                        stdin=asyncio.subprocess.PIPE,
                        stdout=asyncio.subprocess.PIPE,
                        stderr=asyncio.subprocess.PIPE,
                        start_new_session=True,
                    )
                except FileNotFoundError:
                    await io.write_stderr(
                        f'exec: "{command[0]}": executable file not found in $PATH\n'.encode()
                    )
                    return 127
                assert proc.stdout is not None and proc.stderr is not None
                outputs = [
                    asyncio.create_task(_copy(proc.stdout, io.write_stdout)),
                    asyncio.create_task(_copy(proc.stderr, io.write_stderr)),
                ]
                inputs = [asyncio.create_task(pump_stdin(io, proc.stdin, close_at_eof=True))]
            try:
                returncode = await proc.wait()
                await asyncio.wait(outputs, timeout=_DRAIN_SECONDS)
            except asyncio.CancelledError:
                _killpg(proc.pid)
                raise
            finally:
                for task in [*outputs, *inputs]:
                    task.cancel()
                for task in [*outputs, *inputs]:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            return _exit_code(returncode)
        finally:
            if pty_ is not None:
                pty_.close()

    async def attach(self, container_id: str, io: StreamIO, *, tty: bool) -> None:
        """Tee the container's output to ``io`` and feed its stdin, until the container exits (or the
        caller cancels). Output written before attaching is in the log, not replayed here."""
        container = await self._checked_running(container_id)
        if container.proc is None:
            raise RuntimeError_(
                f"container {container_id} was adopted after a runtime restart: its output is not captured"
            )
        sub = _Subscriber()
        container.subscribers.add(sub)
        inputs: list[asyncio.Task[Any]] = []
        if container.config.stdin and container.stdin is not None:
            once = container.config.stdin_once and not container.stdin_claimed
            container.stdin_claimed = True
            inputs.append(
                asyncio.create_task(
                    pump_stdin(io, container.stdin, close_at_eof=once, tty=container.config.tty)
                )
            )
        if container.pty is not None:
            inputs.append(asyncio.create_task(pump_resize(io, container.pty)))
        try:
            while True:
                item = await sub.queue.get()
                if item is None:
                    break
                stream, data = item
                await (io.write_stderr(data) if stream == "stderr" else io.write_stdout(data))
        finally:
            container.subscribers.discard(sub)
            for task in inputs:
                task.cancel()
            for task in inputs:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def port_forward(
        self, sandbox_id: str, port: int
    ) -> tuple[Callable[[bytes], Awaitable[None]], AsyncIterator[bytes], Callable[[], Awaitable[None]]]:
        """Connect to ``127.0.0.1:port``: pods share the node's network in this runtime."""
        self._sandbox(sandbox_id)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)

        async def send(data: bytes) -> None:
            writer.write(data)
            await writer.drain()

        async def received() -> AsyncIterator[bytes]:
            while data := await reader.read(64 * 1024):
                yield data

        async def close() -> None:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

        return send, received(), close


async def _copy(reader: asyncio.StreamReader, write: Callable[[bytes], Awaitable[None]]) -> None:
    while data := await read_chunk(reader):
        await write(data)


def _killpg(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
