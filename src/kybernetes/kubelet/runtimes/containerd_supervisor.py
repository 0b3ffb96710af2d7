"""Run and supervise a private containerd for the kubelet (or use an existing one).

``ContainerdSupervisor(root_dir)`` writes a containerd 1.6 configuration (version 2) that keeps everything
it can under ``root_dir``:

- ``root``, ``state``, the gRPC socket ``containerd.sock`` (and its ttrpc twin), the runc ``Root`` option
  (runc's state), the CRI plugin's network namespaces (``netns_mounts_under_state_dir``), CNI
  configuration ``cni/net.d`` and host-local IPAM state ``cni/ipam``, and containerd's log ``containerd.log``;
- the cgroupfs driver (``SystemdCgroup = false``: these machines have no systemd);
- the CRI plugin with ``restrict_oom_score_adj = true`` (without CAP_SYS_RESOURCE every sandbox fails
  otherwise), ``sandbox_image`` = the locally built pause image (``images.PAUSE_IMAGE``), its streaming
  server on 127.0.0.1 (random port), CNI binaries from ``/usr/lib/cni`` (Debian's
  ``containernetworking-plugins``);
- a CNI conflist: ``bridge`` (``isGateway``, no masquerade: pod traffic stays on the machine's own bridge)
  + ``host-local`` IPAM over the pod CIDR + ``portmap`` (hostPort). The loopback interface of every pod is
  brought up by the CRI plugin itself with CNI's ``loopback`` plugin from the same directory;
- plugins it does not need disabled (btrfs, zfs, devmapper, aufs, tracing, opt).

``await start()`` writes that configuration, starts ``containerd --config`` in its own session, records
its pid (and kernel start time, against pid reuse) in ``containerd.pid``, waits for the CRI service to
answer and imports the pause image (built with umoci from busybox-static and cached in ``root_dir``).
If containerd exits unexpectedly it is restarted with exponential back-off (0.5 s doubling to 30 s,
reset after 60 s of running); ``restarts`` counts them. Pods keep running across a containerd restart,
as with a system containerd.

Lifecycle across agent restarts (upstream runs containerd as a long-lived system service; k3s keeps its
containerd and pods across a k3s restart and offers ``k3s-killall.sh``; so do we):

- ``detach()`` (what a ``kyb server`` / ``kyb agent`` stop does) stops supervising and leaves containerd,
  its shims and the pods running;
- ``start()`` first looks for a containerd already serving this ``root_dir`` (the pid file, else a
  ``containerd --config <our config>`` process) and re-attaches to it instead of spawning a second one;
  the kubelet then adopts the pods it finds (``agent.Kubelet``);
- ``close()`` stops containerd (SIGTERM, then SIGKILL; pods keep running in their shims);
  ``close(remove_pods=True)`` and ``kill_all()`` (``kyb killall``) first stop and remove every pod
  sandbox (and its pod cgroup), then reap leftover shims, mounts and the bridge, and turn
  ``net.ipv4.ip_forward`` back off if it was off before containerd was first started here (recorded in
  ``ip_forward.before``).

Things containerd 1.6 still writes outside ``root_dir``: shim sockets and fifos in ``/run/containerd``
and libcni's result cache in ``/var/lib/cni`` (emptied when sandboxes are removed). The bridge plugin
with ``isGateway`` turns on ``net.ipv4.ip_forward``.

To use an existing containerd (``--container-runtime-endpoint``) skip the supervisor and give its socket
to ``ContainerdRuntime``; ``endpoint_from_flag`` normalises the flag's value.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc

from kybernetes._lib.procfs import alive, start_time, stop_pid, wait_pid
from kybernetes.kubelet.cri import api_pb2, api_pb2_grpc
from kybernetes.kubelet.runtimes.containerd import remove_cgroup
from kybernetes.kubelet.runtimes.images import PAUSE_IMAGE, ImageToolError, ensure_pause_image

__all__ = [
    "ContainerdStartError",
    "ContainerdSupervisor",
    "containerd_available",
    "endpoint_from_flag",
    "wait_pid",
]

log = logging.getLogger(__name__)

_DISABLED_PLUGINS = (
    "io.containerd.internal.v1.opt",
    "io.containerd.snapshotter.v1.aufs",
    "io.containerd.snapshotter.v1.btrfs",
    "io.containerd.snapshotter.v1.devmapper",
    "io.containerd.snapshotter.v1.zfs",
    "io.containerd.tracing.processor.v1.otlp",
    "io.containerd.internal.v1.tracing",
)
_IP_FORWARD = "/proc/sys/net/ipv4/ip_forward"
_MAX_SOCKET_PATH = 100  # sun_path is 108 bytes; containerd adds ".ttrpc"


class ContainerdStartError(Exception):
    """containerd did not come up (missing binary, bad config, crashed at start)."""


def containerd_available() -> bool:
    """containerd, ctr and runc are installed (Debian ``containerd`` + ``runc``)."""
    return all(shutil.which(tool) for tool in ("containerd", "ctr", "runc"))


def endpoint_from_flag(value: str) -> str:
    """``--container-runtime-endpoint`` value (``unix:///path`` or ``/path``) -> gRPC target."""
    if value.startswith("unix://"):
        return value
    if value.startswith("/"):
        return "unix://" + value
    raise ValueError(f"unsupported container runtime endpoint {value!r} (want unix:///path)")


def _toml_str(value: str) -> str:
    return json.dumps(value)  # TOML basic strings use JSON's escapes for everything we write


class ContainerdSupervisor:
    """A containerd child process with a generated configuration; see the module docstring."""

    def __init__(
        self,
        root_dir: Path,
        *,
        pod_cidr: str = "10.88.0.0/16",
        bridge: str = "kyb0",
        network_name: str = "kybernetes",
        cni_bin_dir: str = "/usr/lib/cni",
        containerd_bin: str = "containerd",
        runc_bin: str = "",
        sandbox_image: str = PAUSE_IMAGE,
        import_pause_image: bool = True,
        log_level: str = "info",
        startup_timeout: float = 30.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
    ) -> None:
        self.root_dir = Path(root_dir).absolute()
        self.pod_cidr = str(ipaddress.ip_network(pod_cidr))
        if len(bridge) > 15:
            raise ValueError(f"bridge name {bridge!r} is longer than 15 characters")
        self.bridge = bridge
        self.network_name = network_name
        self.cni_bin_dir = cni_bin_dir
        self.containerd_bin = containerd_bin
        self.runc_bin = runc_bin or shutil.which("runc") or "runc"
        self.sandbox_image = sandbox_image
        self.import_pause_image = import_pause_image
        self.log_level = log_level
        self.startup_timeout = startup_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.restarts = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._adopted: int | None = None  # pid of a containerd started by an earlier supervisor
        self.reattached = False  # the last start() re-attached to a running containerd
        self._monitor: asyncio.Task[None] | None = None
        self._closing = False
        self._started_at = 0.0
        self._ip_forward_before: str | None = None
        if len(str(self.socket)) > _MAX_SOCKET_PATH:
            raise ValueError(f"socket path {self.socket} too long for a unix socket; use a shorter root_dir")

    # --- paths ---------------------------------------------------------------------------------------
    @property
    def socket(self) -> Path:
        return self.root_dir / "containerd.sock"

    @property
    def endpoint(self) -> str:
        """The gRPC target for ``ContainerdRuntime``: ``unix:///.../containerd.sock``."""
        return "unix://" + str(self.socket)

    @property
    def config_path(self) -> Path:
        return self.root_dir / "config.toml"

    @property
    def log_path(self) -> Path:
        return self.root_dir / "containerd.log"

    @property
    def cni_conf_dir(self) -> Path:
        return self.root_dir / "cni" / "net.d"

    @property
    def pid_path(self) -> Path:
        return self.root_dir / "containerd.pid"

    @property
    def pid(self) -> int | None:
        if self._adopted is not None:
            return self._adopted if alive(self._adopted) else None
        return self._proc.pid if self._proc is not None and self._proc.returncode is None else None

    def running_pid(self) -> int | None:
        """The pid of a containerd serving this ``root_dir`` (started by any supervisor), or None."""
        try:
            pid_text, start_text = self.pid_path.read_text().split()[:2]
            pid = int(pid_text)
            if start_time(pid) == start_text and self._is_ours(pid):
                return pid
        except (OSError, ValueError):
            pass
        for entry in os.listdir("/proc"):
            if entry.isdigit() and self._is_ours(int(entry)):
                return int(entry)
        return None

    def _is_ours(self, pid: int) -> bool:
        try:
            argv = Path("/proc", str(pid), "cmdline").read_bytes().split(b"\0")
            state = Path("/proc", str(pid), "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return False
        return (
            state != "Z"
            and os.path.basename(argv[0]) == os.path.basename(self.containerd_bin).encode()
            and str(self.config_path).encode() in argv
        )

    def _write_pid(self, pid: int) -> None:
        with contextlib.suppress(OSError):
            self.pid_path.write_text(f"{pid} {start_time(pid)}\n")

    # --- configuration -------------------------------------------------------------------------------
    def cni_conflist(self) -> dict[str, object]:
        return {
            "cniVersion": "0.4.0",
            "name": self.network_name,
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": self.bridge,
                    "isGateway": True,
                    "ipMasq": False,
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": self.pod_cidr}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": str(self.root_dir / "cni" / "ipam"),
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        }

    def config_toml(self) -> str:
        r = self.root_dir
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        lines = [
            "version = 2",
            f"root = {_toml_str(str(r / 'root'))}",
            f"state = {_toml_str(str(r / 'state'))}",
            "disabled_plugins = [" + ", ".join(_toml_str(p) for p in _DISABLED_PLUGINS) + "]",
            "",
            "[grpc]",
            f"  address = {_toml_str(str(self.socket))}",
            "[ttrpc]",
            f"  address = {_toml_str(str(self.socket) + '.ttrpc')}",
            "[debug]",
            '  address = ""',
            f"  level = {_toml_str(self.log_level)}",
            "[metrics]",
            '  address = ""',
            "",
            f"[{cri}]",
            f"  sandbox_image = {_toml_str(self.sandbox_image)}",
            "  restrict_oom_score_adj = true",
            "  netns_mounts_under_state_dir = true",
            "  disable_apparmor = true",
            "  enable_selinux = false",
            '  stream_server_address = "127.0.0.1"',
            '  stream_server_port = "0"',
            "  systemd_cgroup = false",
            "  disable_hugetlb_controller = true",
            "  tolerate_missing_hugetlb_controller = true",
            f"[{cri}.containerd]",
            '  snapshotter = "overlayfs"',
            '  default_runtime_name = "runc"',
            f"[{cri}.containerd.runtimes.runc]",
            '  runtime_type = "io.containerd.runc.v2"',
            f"[{cri}.containerd.runtimes.runc.options]",
            "  SystemdCgroup = false",
            f"  BinaryName = {_toml_str(self.runc_bin)}",
            f"  Root = {_toml_str(str(r / 'runc'))}",
            f"[{cri}.cni]",
            f"  bin_dir = {_toml_str(self.cni_bin_dir)}",
            f"  conf_dir = {_toml_str(str(self.cni_conf_dir))}",
            "  max_conf_num = 1",
            "",
        ]
        return "\n".join(lines)

    def write_config(self) -> Path:
        """Write config.toml and the CNI conflist; returns the config path."""
        for sub in ("root", "state", "runc", "cni/net.d", "cni/ipam", "images"):
            (self.root_dir / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.root_dir, 0o711)
        self.config_path.write_text(self.config_toml())
        conflist = self.cni_conf_dir / f"10-{self.network_name}.conflist"
        conflist.write_text(json.dumps(self.cni_conflist(), indent=2) + "\n")
        return self.config_path

    # --- lifecycle -----------------------------------------------------------------------------------
    async def start(self) -> None:
        if shutil.which(self.containerd_bin) is None:
            raise ContainerdStartError(f"{self.containerd_bin} not found (apt-get install containerd runc)")
        self._closing = False
        self._remember_ip_forward()
        running = await asyncio.to_thread(self.running_pid)
        self.reattached = running is not None
        if running is not None:
            # Left running by an earlier agent (``detach``): re-attach, keeping its pods.
            self._adopted = running
            self._started_at = time.monotonic()
            log.info("re-attached to running containerd (pid %s, socket %s)", running, self.socket)
            with contextlib.suppress(OSError):
                if self.config_path.read_text() != self.config_toml():
                    log.warning(
                        "containerd runs with an older configuration; `kyb killall` and restart to apply it"
                    )
        else:
            self.write_config()
            await self._spawn()
        try:
            await self._wait_ready(self.startup_timeout)
            if self.import_pause_image:
                try:
                    await ensure_pause_image(self.socket, self.root_dir / "images")
                except ImageToolError as e:
                    raise ContainerdStartError(f"could not provide the pause image: {e}") from e
        except BaseException:
            if self.reattached:
                self._adopted = None  # not ours to stop: its pods keep running
            else:
                await self._terminate()
            raise
        self._monitor = asyncio.create_task(self._supervise(), name="containerd-supervisor")

    async def _spawn(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()
        logfile = self._open_log()
        try:
            self._proc = await asyncio.create_subprocess_exec(
                self.containerd_bin,
                "--config",
                str(self.config_path),
                stdin=subprocess.DEVNULL,
                stdout=logfile,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            logfile.close()
        self._adopted = None
        self._started_at = time.monotonic()
        self._write_pid(self._proc.pid)
        log.info("containerd started (pid %s, socket %s)", self._proc.pid, self.socket)

    def _remember_ip_forward(self) -> None:
        """What ``net.ipv4.ip_forward`` was before the first containerd here (the bridge turns it on)."""
        path = self.root_dir / "ip_forward.before"
        if self._ip_forward_before is None:
            with contextlib.suppress(OSError):
                self._ip_forward_before = path.read_text().strip() or None
        if self._ip_forward_before is None:
            self._ip_forward_before = _read(_IP_FORWARD)
            with contextlib.suppress(OSError):
                self.root_dir.mkdir(parents=True, exist_ok=True)
                path.write_text(self._ip_forward_before + "\n")

    def _open_log(self) -> Any:
        return open(self.log_path, "ab")  # handed to the child; the caller closes it

    def _bridge_exists(self) -> bool:
        return Path("/sys/class/net", self.bridge).exists()

    def _log_tail(self, limit: int = 4000) -> str:
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return ""
        return data[-limit:].decode(errors="replace")

    async def _wait_ready(self, limit: float) -> None:
        deadline = time.monotonic() + limit
        last_error = ""
        while time.monotonic() < deadline:
            if self.pid is None:
                raise ContainerdStartError(f"containerd exited during start-up:\n{self._log_tail()}")
            if self.socket.exists():
                try:
                    async with grpc.aio.insecure_channel(self.endpoint) as channel:
                        stub = api_pb2_grpc.RuntimeServiceStub(channel)
                        await stub.Version(api_pb2.VersionRequest(version="v1"), timeout=2)
                        status = await stub.Status(api_pb2.StatusRequest(), timeout=2)
                    ready = {c.type: c.status for c in status.status.conditions}
                    if ready.get("RuntimeReady", False):
                        return
                    last_error = f"conditions {ready}"
                except grpc.aio.AioRpcError as e:
                    if e.code() == grpc.StatusCode.UNIMPLEMENTED:  # the CRI plugin failed to load
                        raise ContainerdStartError(
                            f"containerd runs without its CRI plugin ({e.details()}):\n{self._log_tail()}"
                        ) from e
                    last_error = f"{e.code().name}: {e.details()}"
            await asyncio.sleep(0.1)
        raise ContainerdStartError(
            f"containerd's CRI service not ready after {limit}s ({last_error}):\n{self._log_tail()}"
        )

    async def _supervise(self) -> None:
        delay = self.backoff_initial
        while not self._closing:
            if self._adopted is not None:
                code: int | None = await wait_pid(self._adopted)
            else:
                proc = self._proc
                assert proc is not None
                code = await proc.wait()
            if self._closing:
                return
            ran = time.monotonic() - self._started_at
            if ran > 60:
                delay = self.backoff_initial
            log.warning("containerd exited with %s after %.1fs; restarting in %.1fs", code, ran, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.backoff_max)
            if self._closing:
                return
            try:
                await self._spawn()
                self.restarts += 1
                await self._wait_ready(self.startup_timeout)
            except (ContainerdStartError, OSError) as e:
                log.error("containerd restart failed: %s", e)

    async def wait_ready(self, limit: float = 30.0) -> None:
        """Wait until the (possibly restarted) containerd answers CRI again."""
        await self._wait_ready(limit)

    async def _terminate(self, grace: float = 10.0) -> None:
        if self._adopted is not None:
            pid, self._adopted = self._adopted, None
            await stop_pid(pid, grace)
            with contextlib.suppress(OSError):
                self.pid_path.unlink()
            return
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        with contextlib.suppress(OSError):
            self.pid_path.unlink()

    async def _stop_supervising(self) -> None:
        self._closing = True
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
            self._monitor = None

    async def detach(self) -> None:
        """Stop supervising and leave containerd, its shims and pods running (a later ``start`` re-attaches)."""
        await self._stop_supervising()
        if self.pid is not None:
            log.info("leaving containerd running (pid %s); `kyb killall` stops it and its pods", self.pid)
        self._proc = None
        self._adopted = None

    async def kill_all(self) -> None:
        """Stop every pod, containerd and its shims, and clean up mounts and network state (``kyb killall``).

        Works whether or not containerd is running: when only shims are left (containerd died), a
        containerd is started on the same state to stop and remove the pods properly first.
        """
        if self.pid is None:
            running = await asyncio.to_thread(self.running_pid)
            if running is not None:
                self._adopted = running
            elif self._our_shims() and self.config_path.exists() and shutil.which(self.containerd_bin):
                self._closing = False
                self._remember_ip_forward()
                await self._spawn()
                try:
                    await self._wait_ready(self.startup_timeout)
                except ContainerdStartError as e:
                    log.warning("could not start containerd to remove its pods: %s", e)
        self._remember_ip_forward()
        await self.close(remove_pods=True)

    async def close(self, *, remove_pods: bool = False) -> None:
        """Stop containerd. With ``remove_pods``, first remove every pod and then reap what is left."""
        await self._stop_supervising()
        if remove_pods and self.pid is not None:
            try:
                await self.remove_all_pods()
            except Exception as e:  # containerd may be broken; the reaping below still runs
                log.warning("could not remove pods through CRI: %s", e)
        await self._terminate()
        if remove_pods:
            await self.reap_leftovers()

    async def remove_all_pods(self, rpc_seconds: float = 30.0) -> None:
        async with grpc.aio.insecure_channel(self.endpoint) as channel:
            stub = api_pb2_grpc.RuntimeServiceStub(channel)
            pods = await stub.ListPodSandbox(api_pb2.ListPodSandboxRequest(), timeout=rpc_seconds)
            for pod in pods.items:
                cgroup_parent = ""
                with contextlib.suppress(grpc.aio.AioRpcError, ValueError, AttributeError):
                    status = await stub.PodSandboxStatus(
                        api_pb2.PodSandboxStatusRequest(pod_sandbox_id=pod.id, verbose=True),
                        timeout=rpc_seconds,
                    )
                    info = json.loads(status.info.get("info", "{}"))
                    cgroup_parent = info.get("config", {}).get("linux", {}).get("cgroup_parent", "")
                await stub.StopPodSandbox(
                    api_pb2.StopPodSandboxRequest(pod_sandbox_id=pod.id), timeout=rpc_seconds
                )
                await stub.RemovePodSandbox(
                    api_pb2.RemovePodSandboxRequest(pod_sandbox_id=pod.id), timeout=rpc_seconds
                )
                if cgroup_parent:
                    remove_cgroup(cgroup_parent)

    def _our_shims(self) -> list[int]:
        """Pids of containerd shims started for this containerd (their command line names our socket)."""
        needle = str(self.socket).encode()
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                cmdline = Path("/proc", entry, "cmdline").read_bytes()
            except OSError:
                continue
            if b"containerd-shim" in cmdline.split(b"\0", 1)[0] and needle in cmdline:
                pids.append(int(entry))
        return pids

    def _our_mounts(self) -> list[str]:
        prefix = str(self.root_dir) + "/"
        found = []
        try:
            lines = Path("/proc/self/mountinfo").read_text().splitlines()
        except OSError:
            return []
        for line in lines:
            fields = line.split()
            if len(fields) > 4:
                target = fields[4].replace("\\040", " ")
                if target.startswith(prefix):
                    found.append(target)
        return sorted(found, key=len, reverse=True)

    async def reap_leftovers(self) -> None:
        """Kill our shims, unmount what is left under root_dir, delete our bridge."""
        for pid in self._our_shims():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for target in self._our_mounts():
            await _quiet("umount", "-l", target)
        if self._bridge_exists():
            await _quiet("ip", "link", "delete", self.bridge)
        for d in ("/run/containerd/s", "/run/containerd/fifo", "/run/containerd"):
            with contextlib.suppress(OSError):
                os.rmdir(d)  # only when empty: another containerd may be using it
        if self._ip_forward_before == "0" and _read(_IP_FORWARD) == "1":
            _write(_IP_FORWARD, "0\n")  # the bridge plugin turned it on for us

    def leftovers(self) -> dict[str, Sequence[object]]:
        """What a clean shutdown should not leave: live shims, mounts under root_dir."""
        return {"shims": self._our_shims(), "mounts": self._our_mounts()}


def _write(path: str, text: str) -> None:
    with contextlib.suppress(OSError):
        Path(path).write_text(text)


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


async def _quiet(*argv: str) -> int:
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    except FileNotFoundError:
        return 127
    return await proc.wait()
