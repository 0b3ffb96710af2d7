"""The ``containerd`` runtime: ``Runtime`` over CRI (runtime.v1) gRPC to containerd.

``ContainerdRuntime(endpoint, pod_cidr=..., log_root=...)`` talks to containerd's CRI plugin through
``grpc.aio`` with the hand-written CRI subset in ``kybernetes.kubelet.cri``. The endpoint is a socket
path or ``unix:///path`` (``ContainerdSupervisor.endpoint`` for a private containerd, or the value of
``--container-runtime-endpoint``). ``pod_cidr`` is informational: the CNI configuration (the
supervisor's, or the system containerd's) decides the addresses.

Mapping to CRI:

- sandboxes: ``SandboxConfig`` -> ``PodSandboxConfig`` (metadata, hostname, DNS, port mappings, labels,
  annotations, host network as ``NamespaceMode.NODE``, one pid namespace per container as the kubelet
  does; an ephemeral container with ``target_container_id`` joins its target's: ``NamespaceMode.TARGET``). The cgroup parent defaults to ``/kybernetes/pod<uid>`` (cgroupfs driver); it is removed with the
  sandbox. The whole ``SandboxConfig`` is kept, as JSON, in the sandbox annotation
  ``kybernetes.io/sandbox-config``, so ``list_sandboxes`` gives back what the kubelet asked for even
  after a restart. The pod IP is the sandbox's CNI address (``PodSandboxStatus.network.ip``).
- containers: command/args/working dir/env/mounts/tty/stdin; ``Resources`` -> ``LinuxContainerResources``
  (cpu shares = request millis * 1024 / 1000 with a minimum of 2, CFS quota = limit millis * 100 over a
  100 ms period, memory limit). Logs: the sandbox's log directory defaults to
  ``<log_root>/<namespace>_<name>_<uid>`` and a container's ``log_path`` to ``<that>/<name>/<attempt>.log``
  (the kubelet's layout); an absolute ``log_path`` is passed relative to the sandbox's log directory
  (CRI joins the two) and containerd writes the CRI-format log itself. ``reason`` comes from
  containerd (``Completed``, ``Error``, ``OOMKilled``).
- images: ``pull_image`` is CRI ``PullImage`` (needs a registry; ``ImagePullError`` otherwise),
  ``image_present`` is ``ImageStatus``: the kubelet applies ``imagePullPolicy`` with the two. Images
  imported with ``images.import_image_archive`` (namespace ``k8s.io``) are present.
- ``exec_sync`` is CRI ``ExecSync``. ``exec``, ``attach`` and ``port_forward`` ask CRI for a streaming URL
  (``Exec``/``Attach``/``PortForward``) and speak containerd's streaming server's protocol to it: an HTTP
  upgrade to SPDY/3.1 with Kubernetes' stream protocols (``v4.channel.k8s.io`` for exec/attach with
  exit codes from the error stream, ``portforward.k8s.io`` for port forwarding), implemented in
  ``SpdyConnection`` below. SPDY header blocks are sent zlib-compressed without the SPDY dictionary
  (which the zlib format allows) and the server's header blocks are not decoded (nothing in them is
  needed); containerd's SPDY implementation does no flow control, so neither does this client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import struct
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import grpc

from kybernetes.kubelet.cri import api_pb2 as cri
from kybernetes.kubelet.cri import api_pb2_grpc as cri_grpc
from kybernetes.kubelet.runtime import (
    ContainerConfig,
    ContainerState,
    ContainerStats,
    ContainerStatus,
    CreateContainerError,
    ExecResult,
    ImagePullError,
    NotFoundError,
    PortMapping,
    RuntimeError_,
    RuntimeStatus,
    SandboxConfig,
    SandboxStatus,
    StartContainerError,
    StreamIO,
)

__all__ = [
    "SANDBOX_CONFIG_ANNOTATION",
    "ContainerdRuntime",
    "NotFoundError",
    "SpdyConnection",
    "SpdyStream",
    "StartContainerError",
    "StreamingError",
    "remove_cgroup",
]

log = logging.getLogger(__name__)

SANDBOX_CONFIG_ANNOTATION = "kybernetes.io/sandbox-config"
_CGROUP_ROOT = "/kybernetes"
_CPU_PERIOD = 100_000
_STATES: dict[int, ContainerState] = {
    cri.CONTAINER_CREATED: "created",
    cri.CONTAINER_RUNNING: "running",
    cri.CONTAINER_EXITED: "exited",
    cri.CONTAINER_UNKNOWN: "unknown",
}
_PROTOCOLS = {"TCP": cri.TCP, "UDP": cri.UDP, "SCTP": cri.SCTP}


def _target(endpoint: str) -> str:
    if endpoint.startswith("unix://"):
        return endpoint
    if endpoint.startswith("/"):
        return "unix://" + endpoint
    raise ValueError(f"unsupported CRI endpoint {endpoint!r}: want a socket path or unix:///path")


def _seconds(ns: int) -> float:
    return ns / 1e9 if ns > 0 else 0.0


def _rpc_error(e: grpc.aio.AioRpcError) -> str:
    return f"{e.code().name}: {e.details()}"


class ContainerdRuntime:
    """``Runtime`` backed by containerd's CRI plugin; see the module docstring."""

    name = "containerd"

    def __init__(
        self,
        endpoint: str,
        *,
        pod_cidr: str = "",
        log_root: str | Path = "/var/log/pods",
        cgroup_root: str = _CGROUP_ROOT,
        rpc_timeout: float = 120.0,
    ) -> None:
        self.endpoint = _target(endpoint)
        self.pod_cidr = pod_cidr
        self.log_root = Path(log_root)
        self.cgroup_root = cgroup_root.rstrip("/") or _CGROUP_ROOT
        self.rpc_timeout = rpc_timeout
        self._channel: grpc.aio.Channel | None = None
        self._rt: cri_grpc.RuntimeServiceStub | None = None
        self._img: cri_grpc.ImageServiceStub | None = None
        self._sandboxes: dict[str, tuple[SandboxConfig, cri.PodSandboxConfig]] = {}

    # --- lifecycle -----------------------------------------------------------------------------------
    async def start(self) -> None:
        self._channel = grpc.aio.insecure_channel(
            self.endpoint,
            options=[("grpc.max_receive_message_length", 16 << 20), ("grpc.enable_http_proxy", 0)],
        )
        self._rt = cri_grpc.RuntimeServiceStub(self._channel)
        self._img = cri_grpc.ImageServiceStub(self._channel)
        deadline = time.monotonic() + 30
        while True:
            try:
                await self._rt.Version(cri.VersionRequest(version="v1"), timeout=5)
                return
            except grpc.aio.AioRpcError as e:
                if time.monotonic() > deadline or e.code() == grpc.StatusCode.UNIMPLEMENTED:
                    raise RuntimeError_(
                        f"containerd CRI at {self.endpoint} not reachable: {_rpc_error(e)}"
                    ) from e
                await asyncio.sleep(0.2)

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close(None)
        self._channel = self._rt = self._img = None

    @property
    def rt(self) -> cri_grpc.RuntimeServiceStub:
        if self._rt is None:
            raise RuntimeError_("ContainerdRuntime not started")
        return self._rt

    @property
    def img(self) -> cri_grpc.ImageServiceStub:
        if self._img is None:
            raise RuntimeError_("ContainerdRuntime not started")
        return self._img

    async def _call(
        self, method: Callable[..., Awaitable[Any]], request: Any, seconds: float | None = None
    ) -> Any:
        try:
            return await method(request, timeout=seconds or self.rpc_timeout)
        except grpc.aio.AioRpcError as e:
            if e.code() == grpc.StatusCode.NOT_FOUND:
                raise NotFoundError(_rpc_error(e)) from e
            raise RuntimeError_(_rpc_error(e)) from e

    async def status(self) -> RuntimeStatus:
        try:
            version = await self.rt.Version(cri.VersionRequest(version="v1"), timeout=10)
            status = await self.rt.Status(cri.StatusRequest(), timeout=10)
        except grpc.aio.AioRpcError:
            return RuntimeStatus(name=self.name, version="", ready=False, network_ready=False, isolates=True)
        conditions = {c.type: c.status for c in status.status.conditions}
        return RuntimeStatus(
            name=self.name,
            version=version.runtime_version,
            ready=conditions.get("RuntimeReady", False),
            network_ready=conditions.get("NetworkReady", False),
            isolates=True,
        )

    async def version(self) -> cri.VersionResponse:
        return await self._call(self.rt.Version, cri.VersionRequest(version="v1"))

    # --- images --------------------------------------------------------------------------------------
    async def pull_image(self, image: str) -> str:
        try:
            reply = await self.img.PullImage(
                cri.PullImageRequest(image=cri.ImageSpec(image=image)), timeout=600
            )
        except grpc.aio.AioRpcError as e:
            raise ImagePullError(f"pulling {image}: {_rpc_error(e)}") from e
        return reply.image_ref

    async def image_present(self, image: str) -> bool:
        return bool(await self.image_id(image))

    async def image_id(self, image: str) -> str:
        """The image's id (``sha256:...``) or "" when it is not present."""
        reply = await self._call(
            self.img.ImageStatus, cri.ImageStatusRequest(image=cri.ImageSpec(image=image))
        )
        return reply.image.id if reply.HasField("image") else ""

    async def remove_image(self, image: str) -> None:
        await self._call(self.img.RemoveImage, cri.RemoveImageRequest(image=cri.ImageSpec(image=image)))

    # --- sandboxes -----------------------------------------------------------------------------------
    def _log_directory(self, config: SandboxConfig) -> str:
        return config.log_directory or str(self.log_root / f"{config.namespace}_{config.name}_{config.uid}")

    def _cgroup_parent(self, config: SandboxConfig) -> str:
        return config.cgroup_parent or f"{self.cgroup_root}/pod{config.uid}"

    def _sandbox_proto(self, config: SandboxConfig) -> cri.PodSandboxConfig:
        network = cri.NODE if config.host_network else cri.POD
        annotations = dict(config.annotations)
        stored = asdict(config)
        stored["labels"] = dict(config.labels)
        stored["annotations"] = dict(config.annotations)
        annotations[SANDBOX_CONFIG_ANNOTATION] = json.dumps(stored, separators=(",", ":"))
        return cri.PodSandboxConfig(
            metadata=cri.PodSandboxMetadata(
                name=config.name, uid=config.uid, namespace=config.namespace, attempt=config.attempt
            ),
            hostname=config.hostname or config.name,
            log_directory=self._log_directory(config),
            dns_config=cri.DNSConfig(
                servers=list(config.dns_servers),
                searches=list(config.dns_searches),
                options=list(config.dns_options),
            )
            if (config.dns_servers or config.dns_searches or config.dns_options)
            else None,
            port_mappings=[
                cri.PortMapping(
                    protocol=_PROTOCOLS.get(p.protocol.upper(), cri.TCP),
                    container_port=p.container_port,
                    host_port=p.host_port,
                    host_ip=p.host_ip,
                )
                for p in config.port_mappings
            ],
            labels=dict(config.labels),
            annotations=annotations,
            linux=cri.LinuxPodSandboxConfig(
                cgroup_parent=self._cgroup_parent(config),
                security_context=cri.LinuxSandboxSecurityContext(
                    namespace_options=cri.NamespaceOption(network=network, pid=cri.CONTAINER, ipc=cri.POD)
                ),
            ),
        )

    async def run_sandbox(self, config: SandboxConfig) -> str:
        proto = self._sandbox_proto(config)
        os.makedirs(self._log_directory(config), exist_ok=True)
        reply = await self._call(self.rt.RunPodSandbox, cri.RunPodSandboxRequest(config=proto))
        self._sandboxes[reply.pod_sandbox_id] = (config, proto)
        return reply.pod_sandbox_id

    async def stop_sandbox(self, sandbox_id: str) -> None:
        await self._call(self.rt.StopPodSandbox, cri.StopPodSandboxRequest(pod_sandbox_id=sandbox_id))

    async def remove_sandbox(self, sandbox_id: str) -> None:
        config: SandboxConfig | None = None
        with contextlib.suppress(RuntimeError_):
            config = (await self._sandbox_config(sandbox_id))[0]
        await self._call(self.rt.RemovePodSandbox, cri.RemovePodSandboxRequest(pod_sandbox_id=sandbox_id))
        self._sandboxes.pop(sandbox_id, None)
        if config is not None and not config.cgroup_parent:
            remove_cgroup(self._cgroup_parent(config))

    async def _sandbox_config(self, sandbox_id: str) -> tuple[SandboxConfig, cri.PodSandboxConfig]:
        cached = self._sandboxes.get(sandbox_id)
        if cached is not None:
            return cached
        reply = await self._call(
            self.rt.PodSandboxStatus, cri.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id)
        )
        config = _config_from(reply.status.metadata, reply.status.labels, reply.status.annotations)
        entry = (config, self._sandbox_proto(config))
        self._sandboxes[sandbox_id] = entry
        return entry

    async def sandbox_status(self, sandbox_id: str) -> SandboxStatus:
        reply = await self._call(
            self.rt.PodSandboxStatus, cri.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id, verbose=True)
        )
        st = reply.status
        return SandboxStatus(
            id=st.id,
            state="ready" if st.state == cri.SANDBOX_READY else "notready",
            ip=st.network.ip,
            created_at=_seconds(st.created_at),
            network_namespace=_netns_from_info(reply.info),
        )

    async def list_sandboxes(self) -> Sequence[tuple[str, SandboxConfig]]:
        reply = await self._call(self.rt.ListPodSandbox, cri.ListPodSandboxRequest())
        return [(item.id, _config_from(item.metadata, item.labels, item.annotations)) for item in reply.items]

    # --- containers ----------------------------------------------------------------------------------
    def _container_proto(self, config: ContainerConfig, sandbox: SandboxConfig) -> cri.ContainerConfig:
        res = config.resources
        resources = cri.LinuxContainerResources(cpu_period=_CPU_PERIOD)
        resources.cpu_shares = max(2, res.cpu_millis_request * 1024 // 1000) if res.cpu_millis_request else 2
        if res.cpu_millis_limit:
            resources.cpu_quota = max(1000, res.cpu_millis_limit * _CPU_PERIOD // 1000)
            if not res.cpu_millis_request:
                resources.cpu_shares = max(2, res.cpu_millis_limit * 1024 // 1000)
        if res.memory_limit_bytes:
            resources.memory_limit_in_bytes = res.memory_limit_bytes
        # CRI joins the sandbox's log directory and the container's (relative) log path
        base = self._log_directory(sandbox)
        log_path = os.path.relpath(self._log_path(config, sandbox), base)
        return cri.ContainerConfig(
            metadata=cri.ContainerMetadata(name=config.name, attempt=config.attempt),
            image=cri.ImageSpec(image=config.image),
            command=list(config.command),
            args=list(config.args),
            working_dir=config.working_dir,
            envs=[cri.KeyValue(key=k, value=v) for k, v in config.env],
            mounts=[
                cri.Mount(container_path=m.container_path, host_path=m.host_path, readonly=m.read_only)
                for m in config.mounts
            ],
            labels=dict(config.labels),
            annotations=dict(config.annotations),
            log_path=log_path,
            stdin=config.stdin,
            stdin_once=config.stdin_once,
            tty=config.tty,
            linux=cri.LinuxContainerConfig(
                resources=resources,
                security_context=cri.LinuxContainerSecurityContext(
                    namespace_options=_namespaces(config, sandbox)
                ),
            ),
        )

    def _log_path(self, config: ContainerConfig, sandbox: SandboxConfig) -> str:
        """Absolute log path: the given one, else ``<log dir>/<name>/<attempt>.log`` as the kubelet lays out."""
        if config.log_path:
            return os.path.join(self._log_directory(sandbox), config.log_path)  # keeps an absolute path
        return os.path.join(self._log_directory(sandbox), config.name, f"{config.attempt}.log")

    async def create_container(self, sandbox_id: str, config: ContainerConfig) -> str:
        sandbox, sandbox_proto = await self._sandbox_config(sandbox_id)
        os.makedirs(os.path.dirname(self._log_path(config, sandbox)), exist_ok=True)
        request = cri.CreateContainerRequest(
            pod_sandbox_id=sandbox_id,
            config=self._container_proto(config, sandbox),
            sandbox_config=sandbox_proto,
        )
        try:
            reply = await self.rt.CreateContainer(request, timeout=self.rpc_timeout)
        except grpc.aio.AioRpcError as e:
            raise CreateContainerError(_rpc_error(e)) from e
        return reply.container_id

    async def start_container(self, container_id: str) -> None:
        try:
            await self.rt.StartContainer(
                cri.StartContainerRequest(container_id=container_id), timeout=self.rpc_timeout
            )
        except grpc.aio.AioRpcError as e:
            if e.code() == grpc.StatusCode.NOT_FOUND:
                raise NotFoundError(_rpc_error(e)) from e
            raise StartContainerError(_rpc_error(e)) from e

    async def stop_container(self, container_id: str, grace_seconds: float) -> None:
        timeout = max(0, math.ceil(grace_seconds))
        await self._call(
            self.rt.StopContainer,
            cri.StopContainerRequest(container_id=container_id, timeout=timeout),
            seconds=timeout + self.rpc_timeout,
        )

    async def remove_container(self, container_id: str) -> None:
        await self._call(self.rt.RemoveContainer, cri.RemoveContainerRequest(container_id=container_id))

    async def container_status(self, container_id: str) -> ContainerStatus:
        reply = await self._call(
            self.rt.ContainerStatus, cri.ContainerStatusRequest(container_id=container_id)
        )
        st = reply.status
        return ContainerStatus(
            id=st.id,
            name=st.metadata.name,
            state=_STATES.get(st.state, "unknown"),
            image=st.image.image,
            image_id=st.image_ref,
            created_at=_seconds(st.created_at),
            started_at=_seconds(st.started_at),
            finished_at=_seconds(st.finished_at),
            exit_code=st.exit_code,
            reason=st.reason,
            message=st.message,
            log_path=st.log_path,
            attempt=st.metadata.attempt,
        )

    async def list_containers(self, sandbox_id: str | None = None) -> Sequence[ContainerStatus]:
        request = cri.ListContainersRequest(filter=cri.ContainerFilter(pod_sandbox_id=sandbox_id or ""))
        reply = await self._call(self.rt.ListContainers, request)
        statuses = []
        for item in reply.containers:
            try:
                statuses.append(await self.container_status(item.id))
            except RuntimeError_:  # removed in between
                continue
        return statuses

    async def container_stats(self, container_id: str) -> ContainerStats:
        reply = await self._call(self.rt.ContainerStats, cri.ContainerStatsRequest(container_id=container_id))
        stats = reply.stats
        return ContainerStats(
            id=container_id,
            cpu_usage_nano_cores=stats.cpu.usage_nano_cores.value,
            cpu_usage_core_nanoseconds=stats.cpu.usage_core_nano_seconds.value,
            memory_working_set_bytes=stats.memory.working_set_bytes.value,
            timestamp=_seconds(stats.cpu.timestamp or stats.memory.timestamp) or time.time(),
        )

    # --- streams -------------------------------------------------------------------------------------
    async def exec_sync(self, container_id: str, command: Sequence[str], limit_seconds: float) -> ExecResult:
        """Run ``command`` to completion. Past ``limit_seconds`` raises ``TimeoutError`` (0: no limit)."""
        timeout = max(0, math.ceil(limit_seconds))
        request = cri.ExecSyncRequest(container_id=container_id, cmd=list(command), timeout=timeout)
        try:
            reply = await self.rt.ExecSync(request, timeout=(timeout + 10) if timeout else None)
        except grpc.aio.AioRpcError as e:
            if e.code() == grpc.StatusCode.DEADLINE_EXCEEDED or "timeout" in (e.details() or "").lower():
                raise TimeoutError(f"exec in {container_id} exceeded {limit_seconds}s") from e
            raise RuntimeError_(_rpc_error(e)) from e
        return ExecResult(exit_code=reply.exit_code, stdout=reply.stdout, stderr=reply.stderr)

    async def exec(self, container_id: str, command: Sequence[str], io: StreamIO, *, tty: bool) -> int:
        request = cri.ExecRequest(
            container_id=container_id, cmd=list(command), tty=tty, stdin=True, stdout=True, stderr=not tty
        )
        reply = await self._call(self.rt.Exec, request)
        return await _remote_command(reply.url, io, tty=tty, stdin=True)

    async def attach(self, container_id: str, io: StreamIO, *, tty: bool) -> None:
        stdin = True
        try:
            reply = await self.rt.Attach(
                cri.AttachRequest(
                    container_id=container_id, stdin=True, tty=tty, stdout=True, stderr=not tty
                ),
                timeout=self.rpc_timeout,
            )
        except grpc.aio.AioRpcError as e:  # a container without stdin: attach to its output only
            if e.code() != grpc.StatusCode.INVALID_ARGUMENT:
                raise RuntimeError_(_rpc_error(e)) from e
            stdin = False
            reply = await self._call(
                self.rt.Attach,
                cri.AttachRequest(
                    container_id=container_id, stdin=False, tty=tty, stdout=True, stderr=not tty
                ),
            )
        await _remote_command(reply.url, io, tty=tty, stdin=stdin)

    async def port_forward(
        self, sandbox_id: str, port: int
    ) -> tuple[Callable[[bytes], Awaitable[None]], AsyncIterator[bytes], Callable[[], Awaitable[None]]]:
        reply = await self._call(
            self.rt.PortForward, cri.PortForwardRequest(pod_sandbox_id=sandbox_id, port=[port])
        )
        conn = await SpdyConnection.connect(reply.url, ["portforward.k8s.io"])
        headers = {"port": str(port), "requestid": "0"}
        error = await conn.open_stream({"streamtype": "error", **headers})
        await error.close_write()
        data = await conn.open_stream({"streamtype": "data", **headers})

        async def send(chunk: bytes) -> None:
            await data.write(chunk)

        async def received() -> AsyncIterator[bytes]:
            try:
                async for chunk in data:
                    yield chunk
                problem = b"".join([c async for c in error])
                if problem:
                    raise StreamingError(problem.decode(errors="replace"))
            finally:
                await conn.close()

        async def close() -> None:
            with contextlib.suppress(OSError, StreamingError):
                await data.close_write()
            await conn.close()

        return send, received(), close


# --- helpers ------------------------------------------------------------------------------------------
def _namespaces(config: ContainerConfig, sandbox: SandboxConfig) -> cri.NamespaceOption:
    """The pod's network and ipc namespaces; a pid namespace of the container's own, or, for an ephemeral
    container with a target, the target container's (CRI ``NamespaceMode.TARGET``), as the kubelet asks."""
    network = cri.NODE if sandbox.host_network else cri.POD
    if config.target_container_id:
        return cri.NamespaceOption(
            network=network, pid=cri.TARGET, ipc=cri.POD, target_id=config.target_container_id
        )
    return cri.NamespaceOption(network=network, pid=cri.CONTAINER, ipc=cri.POD)


def _config_from(
    metadata: cri.PodSandboxMetadata, labels: Mapping[str, str], annotations: Mapping[str, str]
) -> SandboxConfig:
    stored = annotations.get(SANDBOX_CONFIG_ANNOTATION)
    if stored:
        try:
            data = json.loads(stored)
            data["port_mappings"] = tuple(PortMapping(**p) for p in data.get("port_mappings", ()))
            for key in ("dns_servers", "dns_searches", "dns_options"):
                data[key] = tuple(data.get(key, ()))
            return SandboxConfig(**data)
        except (TypeError, ValueError):
            log.warning("unreadable %s annotation; rebuilding from metadata", SANDBOX_CONFIG_ANNOTATION)
    return SandboxConfig(
        name=metadata.name,
        namespace=metadata.namespace,
        uid=metadata.uid,
        attempt=metadata.attempt,
        labels=dict(labels),
        annotations={k: v for k, v in annotations.items() if k != SANDBOX_CONFIG_ANNOTATION},
    )


def _netns_from_info(info: Mapping[str, str]) -> str:
    raw = info.get("info")
    if not raw:
        return ""
    try:
        spec = json.loads(raw).get("runtimeSpec", {})
        for ns in spec.get("linux", {}).get("namespaces", []):
            if ns.get("type") == "network":
                return str(ns.get("path", ""))
    except (ValueError, AttributeError):
        pass
    return ""


def remove_cgroup(parent: str) -> None:
    """rmdir the (empty) pod cgroup in every v1 hierarchy and the v2 tree; ignore what is not there."""
    base = Path("/sys/fs/cgroup")
    rel = parent.strip("/")
    if not rel:
        return
    candidates = [base / rel]
    with contextlib.suppress(OSError):
        candidates += [d / rel for d in base.iterdir() if d.is_dir() and not d.is_symlink()]
    for path in candidates:
        with contextlib.suppress(OSError):
            path.rmdir()


# --- SPDY/3.1 client for the CRI streaming server ------------------------------------------------------
class StreamingError(Exception):
    """The streaming server refused the request or reported an error."""


_SYN_STREAM, _SYN_REPLY, _RST_STREAM, _SETTINGS, _PING, _GOAWAY, _HEADERS, _WINDOW_UPDATE = (
    1,
    2,
    3,
    4,
    6,
    7,
    8,
    9,
)
_FLAG_FIN = 0x01


class SpdyStream:
    """One SPDY stream: ``write``/``close_write`` and async iteration over the data the peer sends."""

    def __init__(self, conn: SpdyConnection, stream_id: int) -> None:
        self.conn = conn
        self.id = stream_id
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._closed_write = False
        self.replied = asyncio.Event()

    def _feed(self, data: bytes | None) -> None:
        self._queue.put_nowait(data)

    async def write(self, data: bytes) -> None:
        if self._closed_write:
            raise StreamingError("stream closed for writing")
        for i in range(0, len(data), 0xFFFF):
            await self.conn._send(_data_frame(self.id, 0, data[i : i + 0xFFFF]))

    async def close_write(self) -> None:
        if not self._closed_write:
            self._closed_write = True
            await self.conn._send(_data_frame(self.id, _FLAG_FIN, b""))

    async def read(self) -> bytes | None:
        """The next chunk, or None at the end of the stream."""
        chunk = await self._queue.get()
        if chunk is None:
            self._queue.put_nowait(None)  # stay at EOF
        return chunk

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[bytes]:
        while (chunk := await self.read()) is not None:
            yield chunk


def _data_frame(stream_id: int, flags: int, data: bytes) -> bytes:
    return struct.pack(">II", stream_id & 0x7FFFFFFF, (flags << 24) | len(data)) + data


def _control_frame(kind: int, flags: int, payload: bytes) -> bytes:
    return struct.pack(">HHI", 0x8000 | 3, kind, (flags << 24) | len(payload)) + payload


class SpdyConnection:
    """A client SPDY/3.1 connection after an HTTP/1.1 upgrade (what ``kubectl`` does against a kubelet)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, protocol: str) -> None:
        self.reader = reader
        self.writer = writer
        self.protocol = protocol
        self._next_id = 1
        self._streams: dict[int, SpdyStream] = {}
        self._compress = zlib.compressobj()
        self._lock = asyncio.Lock()
        self._reader_task = asyncio.create_task(self._read_loop(), name="spdy-reader")
        self.closed = asyncio.Event()

    @classmethod
    async def connect(
        cls, url: str, protocols: Sequence[str], connect_seconds: float = 30.0
    ) -> SpdyConnection:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise StreamingError(f"unsupported streaming URL {url!r}")
        port = parts.port or 80
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(parts.hostname, port), connect_seconds
        )
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        lines = [
            f"POST {path} HTTP/1.1",
            f"Host: {parts.hostname}:{port}",
            "Connection: Upgrade",
            "Upgrade: SPDY/3.1",
            *(f"X-Stream-Protocol-Version: {p}" for p in protocols),
            "Content-Length: 0",
            "",
            "",
        ]
        writer.write("\r\n".join(lines).encode())
        await writer.drain()
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), connect_seconds)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
            writer.close()
            raise StreamingError(f"no upgrade from {url}") from e
        status_line, *header_lines = head.decode(errors="replace").split("\r\n")
        if " 101 " not in status_line + " ":
            body = b""
            with contextlib.suppress(Exception):
                body = await asyncio.wait_for(reader.read(4096), 2)
            writer.close()
            raise StreamingError(f"{status_line}: {body.decode(errors='replace').strip()}")
        negotiated = ""
        for line in header_lines:
            name, _, value = line.partition(":")
            if name.strip().lower() == "x-stream-protocol-version":
                negotiated = value.strip()
        return cls(reader, writer, negotiated)

    async def _send(self, frame: bytes) -> None:
        async with self._lock:
            self.writer.write(frame)
            await self.writer.drain()

    def _header_block(self, headers: Mapping[str, str]) -> bytes:
        block = struct.pack(">I", len(headers))
        for name, value in headers.items():
            n, v = name.lower().encode(), value.encode()
            block += struct.pack(">I", len(n)) + n + struct.pack(">I", len(v)) + v
        return self._compress.compress(block) + self._compress.flush(zlib.Z_SYNC_FLUSH)

    async def open_stream(self, headers: Mapping[str, str]) -> SpdyStream:
        async with self._lock:  # ids must reach the wire in increasing order
            stream_id = self._next_id
            self._next_id += 2
            stream = SpdyStream(self, stream_id)
            self._streams[stream_id] = stream
            payload = struct.pack(">IIH", stream_id, 0, 0) + self._header_block(headers)
            self.writer.write(_control_frame(_SYN_STREAM, 0, payload))
            await self.writer.drain()
        return stream

    async def _read_loop(self) -> None:
        try:
            while True:
                head = await self.reader.readexactly(8)
                first, second = struct.unpack(">II", head)
                flags, length = second >> 24, second & 0xFFFFFF
                payload = await self.reader.readexactly(length) if length else b""
                if first & 0x80000000:
                    kind = first & 0xFFFF
                    if kind == _PING:
                        await self._send(_control_frame(_PING, 0, payload))
                    elif kind in (_SYN_REPLY, _RST_STREAM):
                        stream = self._streams.get(struct.unpack(">I", payload[:4])[0] & 0x7FFFFFFF)
                        if stream is not None:
                            stream.replied.set()
                            if kind == _RST_STREAM or flags & _FLAG_FIN:
                                stream._feed(None)
                    elif kind == _GOAWAY:
                        break
                    # SETTINGS, HEADERS, WINDOW_UPDATE, SYN_STREAM: nothing to do for a client like this
                else:
                    stream = self._streams.get(first & 0x7FFFFFFF)
                    if stream is not None:
                        if payload:
                            stream._feed(payload)
                        if flags & _FLAG_FIN:
                            stream._feed(None)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            for stream in self._streams.values():
                stream._feed(None)
            self.closed.set()

    async def close(self) -> None:
        if not self._reader_task.done():
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()
        self.closed.set()


def _exit_code_from_status(raw: bytes) -> int:
    """Exit code from the error stream of remote command v4 (a ``metav1.Status`` or a plain message)."""
    text = raw.decode(errors="replace").strip()
    if not text:
        return 0
    try:
        status = json.loads(text)
    except ValueError:
        raise StreamingError(text) from None
    if status.get("status") == "Success":
        return 0
    if status.get("reason") == "NonZeroExitCode":
        for cause in status.get("details", {}).get("causes", []):
            if cause.get("reason") == "ExitCode":
                return int(cause.get("message", "1"))
        return 1
    raise StreamingError(status.get("message") or text)


async def _remote_command(url: str, io: StreamIO, *, tty: bool, stdin: bool) -> int:
    """Run an exec or attach session at ``url`` (remote command v4 over SPDY), wired to ``io``."""
    conn = await SpdyConnection.connect(url, ["v4.channel.k8s.io"])
    try:
        if conn.protocol and conn.protocol != "v4.channel.k8s.io":
            raise StreamingError(f"streaming server chose unsupported protocol {conn.protocol!r}")
        error = await conn.open_stream({"streamtype": "error"})
        in_stream = await conn.open_stream({"streamtype": "stdin"}) if stdin else None
        out_stream = await conn.open_stream({"streamtype": "stdout"})
        err_stream = None if tty else await conn.open_stream({"streamtype": "stderr"})
        resize = await conn.open_stream({"streamtype": "resize"}) if tty else None

        async def pump_out(stream: SpdyStream, write: Callable[[bytes], Awaitable[None]]) -> None:
            async for chunk in stream:
                await write(chunk)

        async def pump_in() -> None:
            assert in_stream is not None
            while (data := await io.read_stdin()) is not None:
                if data:
                    await in_stream.write(data)
            if not tty:  # closing a terminal's input makes containerd drop its output; EOF there is ^D
                await in_stream.close_write()

        async def pump_resize() -> None:
            assert resize is not None
            async for width, height in io.resize_events():
                await resize.write(json.dumps({"Width": width, "Height": height}).encode())

        outputs = [asyncio.create_task(pump_out(out_stream, io.write_stdout))]
        if err_stream is not None:
            outputs.append(asyncio.create_task(pump_out(err_stream, io.write_stderr)))
        side = []
        if in_stream is not None:
            side.append(asyncio.create_task(pump_in()))
        if resize is not None:
            side.append(asyncio.create_task(pump_resize()))
        try:
            status = b"".join([chunk async for chunk in error])
            # the error stream ends when the command has exited; let the output drain
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*outputs, return_exceptions=True), 5)
        finally:
            for task in side + outputs:
                task.cancel()
            await asyncio.gather(*side, *outputs, return_exceptions=True)
        return _exit_code_from_status(status)
    finally:
        await conn.close()
