"""The container runtime interface the kubelet drives, shaped like CRI (sandbox, container, streams).

Every runtime (``runtimes/process.py``, ``runtimes/containerd.py``) implements ``Runtime``. Simulated
nodes (``simulated.py``) run no runtime: their pods are moved by stage files (``stages/``).
The kubelet never branches on the runtime's kind: what a runtime cannot do
(e.g. network isolation in the process runtime) it documents and reports through ``RuntimeStatus``.

Identifiers are opaque strings chosen by the runtime. Times are epoch seconds (float). A container's
log is a file the runtime writes in the CRI log format (``<RFC3339Nano> <stdout|stderr> <F|P> <text>``),
so ``kubectl logs`` (incl. ``--timestamps``, ``--since``, ``--tail``, ``--previous``) is served the
same way for every runtime.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

ContainerState = Literal["created", "running", "exited", "unknown"]
SandboxState = Literal["ready", "notready"]


@dataclass(frozen=True)
class Mount:
    host_path: str
    container_path: str
    read_only: bool = False


@dataclass(frozen=True)
class PortMapping:
    container_port: int
    host_port: int = 0
    protocol: str = "TCP"
    host_ip: str = ""


@dataclass(frozen=True)
class SandboxConfig:
    """What CRI's PodSandboxConfig carries: pod identity, hostname, DNS, ports, cgroup parent."""

    name: str
    namespace: str
    uid: str
    attempt: int = 0
    hostname: str = ""
    log_directory: str = ""
    dns_servers: tuple[str, ...] = ()
    dns_searches: tuple[str, ...] = ()
    dns_options: tuple[str, ...] = ()
    port_mappings: tuple[PortMapping, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    host_network: bool = False
    cgroup_parent: str = ""


@dataclass(frozen=True)
class Resources:
    cpu_millis_request: int = 0
    cpu_millis_limit: int = 0  # 0: unlimited
    memory_limit_bytes: int = 0  # 0: unlimited


@dataclass(frozen=True)
class ContainerConfig:
    name: str
    image: str
    command: tuple[str, ...] = ()  # entrypoint (Kubernetes ``command``); empty: the image's
    args: tuple[str, ...] = ()
    working_dir: str = ""
    env: tuple[tuple[str, str], ...] = ()
    mounts: tuple[Mount, ...] = ()
    log_path: str = ""  # absolute path of the CRI-format log file
    stdin: bool = False
    stdin_once: bool = False
    tty: bool = False
    resources: Resources = Resources()
    attempt: int = 0  # restart count
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    # An ephemeral container's ``targetContainerName``, resolved: join that container's process namespace
    # where the runtime has them (containerd: CRI ``NamespaceMode.TARGET``); "" for a container's own.
    target_container_id: str = ""


@dataclass(frozen=True)
class SandboxStatus:
    id: str
    state: SandboxState
    ip: str = ""
    created_at: float = 0.0
    network_namespace: str = ""


@dataclass(frozen=True)
class ContainerStatus:
    id: str
    name: str
    state: ContainerState
    image: str = ""
    image_id: str = ""
    created_at: float = 0.0
    started_at: float = 0.0
    finished_at: float = 0.0
    exit_code: int = 0
    reason: str = ""  # "Completed", "Error", "OOMKilled", ...
    message: str = ""
    log_path: str = ""
    attempt: int = 0


@dataclass(frozen=True)
class ContainerStats:
    id: str
    cpu_usage_nano_cores: int = 0
    cpu_usage_core_nanoseconds: int = 0
    memory_working_set_bytes: int = 0
    timestamp: float = 0.0


@dataclass(frozen=True)
class RuntimeStatus:
    name: str  # "process", "containerd"; "simulated" in the node status of simulated nodes
    version: str
    ready: bool = True
    network_ready: bool = True
    isolates: bool = False  # the runtime isolates containers (namespaces, own rootfs)


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: bytes = b""
    stderr: bytes = b""


class StreamIO(Protocol):
    """The client side of an exec/attach session, as the kubelet's streaming server sees it."""

    async def read_stdin(self) -> bytes | None:  # None: stdin closed
        ...

    async def write_stdout(self, data: bytes) -> None: ...

    async def write_stderr(self, data: bytes) -> None: ...

    def resize_events(self) -> AsyncIterator[tuple[int, int]]:  # (width, height)
        ...


class Runtime(Protocol):
    """A CRI-shaped container runtime. Every method is a coroutine; none blocks the event loop."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def status(self) -> RuntimeStatus: ...

    # --- images --------------------------------------------------------------------------------------
    async def pull_image(self, image: str) -> str:
        """Make ``image`` available; returns its id. Raises ``ImagePullError``."""
        ...

    async def image_present(self, image: str) -> bool: ...

    # --- sandboxes -----------------------------------------------------------------------------------
    async def run_sandbox(self, config: SandboxConfig) -> str: ...

    async def stop_sandbox(self, sandbox_id: str) -> None: ...

    async def remove_sandbox(self, sandbox_id: str) -> None: ...

    async def sandbox_status(self, sandbox_id: str) -> SandboxStatus: ...

    async def list_sandboxes(self) -> Sequence[tuple[str, SandboxConfig]]: ...

    # --- containers ----------------------------------------------------------------------------------
    async def create_container(self, sandbox_id: str, config: ContainerConfig) -> str: ...

    async def start_container(self, container_id: str) -> None: ...

    async def stop_container(self, container_id: str, grace_seconds: float) -> None:
        """SIGTERM, then SIGKILL after ``grace_seconds`` (0: kill at once)."""
        ...

    async def remove_container(self, container_id: str) -> None: ...

    async def container_status(self, container_id: str) -> ContainerStatus: ...

    async def list_containers(self, sandbox_id: str | None = None) -> Sequence[ContainerStatus]: ...

    async def container_stats(self, container_id: str) -> ContainerStats: ...

    # --- streams -------------------------------------------------------------------------------------
    async def exec_sync(self, container_id: str, command: Sequence[str], limit_seconds: float) -> ExecResult:
        """Run ``command`` to completion; past ``limit_seconds`` it is killed and ``TimeoutError`` raised."""
        ...

    async def exec(self, container_id: str, command: Sequence[str], io: StreamIO, *, tty: bool) -> int:
        """Run ``command`` in the container wired to ``io``; returns the exit code."""
        ...

    async def attach(self, container_id: str, io: StreamIO, *, tty: bool) -> None: ...

    async def port_forward(
        self, sandbox_id: str, port: int
    ) -> tuple[Callable[[bytes], Awaitable[None]], AsyncIterator[bytes], Callable[[], Awaitable[None]]]:
        """Open a TCP connection to ``port`` in the pod: (send, received chunks, close)."""
        ...


class RuntimeError_(Exception):
    """Base of runtime failures the kubelet reports in container states."""

    reason = "RuntimeError"


class ImagePullError(RuntimeError_):
    reason = "ErrImagePull"


class CreateContainerError(RuntimeError_):
    reason = "CreateContainerError"


class NotFoundError(RuntimeError_, LookupError):
    """No sandbox or container with this id (CRI ``NOT_FOUND``)."""

    reason = "NotFound"


class StartContainerError(RuntimeError_):
    """The container was created but could not start (bad command, mount, ...)."""

    reason = "StartError"
