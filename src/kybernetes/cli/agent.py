"""``kyb agent`` (and the agent ``kyb server`` embeds): a node agent joined to a cluster.

The runtime is picked like k3s picks: containerd when it is installed and we are root, else the
isolation-free process runtime; ``--runtime`` overrides it, and ``--simulate N`` runs N kwok-style
simulated nodes from this one process instead of a kubelet. Agents authenticate to the API server with
the cluster's node token, and the API server reaches each kubelet's streaming server (logs, exec,
attach, port-forward) with that same token.

Lifecycle (as upstream's kubelet and k3s): stopping ``kyb server`` / ``kyb agent`` (SIGTERM, or even
SIGKILL) leaves the pods running: the process runtime's pod processes, and the supervised containerd with
its shims and pods. The next start re-attaches to that containerd and the kubelet adopts the pods still
bound to the node (same container IDs, no restart) and removes the others. ``kyb killall`` (like
``k3s-killall.sh``) is the explicit stop: it stops a server/agent still running on the data dir, every pod
of both runtimes, containerd and its shims, and cleans up mounts, the bridge and ``ip_forward``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kybernetes._lib.procfs import start_time, stop_pid
from kybernetes._lib.tasks import log_task_failure
from kybernetes.apiserver.certs import ensure_pki
from kybernetes.cli.model import EmbedEnv
from kybernetes.client import ApiClient, ClientConfig
from kybernetes.kubelet import SimulatedNodes, load_simulated_stages
from kybernetes.kubelet.agent import Kubelet
from kybernetes.kubelet.options import KubeletOptions
from kybernetes.kubelet.runtimes.images import import_image_archive
from kybernetes.kubelet.runtimes.process import ProcessRuntime
from kybernetes.kubelet.server import KubeletServer

log = logging.getLogger("kyb.agent")

RUNTIMES = ("auto", "process", "containerd", "simulated")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """``kyb agent``'s flags."""
    p.add_argument("--server", required=True, help="API server URL, e.g. https://127.0.0.1:6443")
    p.add_argument("--token", default=os.environ.get("KYB_TOKEN"), help="the cluster's node token")
    p.add_argument("--ca-file", default=None, help="CA of the API server (default: do not verify)")
    p.add_argument("--node-name", default=socket.gethostname())
    p.add_argument("--data-dir", default=os.path.expanduser("~/.kybernetes/agent"), type=os.path.expanduser)
    add_agent_options(p)
    p.add_argument("--simulate", type=int, default=0, help="register N simulated nodes (kwok-style)")
    p.add_argument(
        "--stages",
        default=None,
        help="simulated nodes: a Stage file or a directory of them (default: the shipped pod and node profiles)",
    )
    p.add_argument("--log-level", default="INFO")


def add_embedded_arguments(p: argparse.ArgumentParser) -> None:
    """The agent's flags on ``kyb server``."""
    p.add_argument("--node-name", default=socket.gethostname(), help="name of the embedded agent's node")
    add_agent_options(p)


def add_images_arguments(images: argparse.ArgumentParser) -> None:
    """``kyb images import``."""
    images_sub = images.add_subparsers(dest="images_command", required=True)
    imp = images_sub.add_parser("import", help="load an OCI/docker image archive into containerd (k8s.io)")
    imp.add_argument("file")
    imp.add_argument(
        "--base-name",
        default="",
        help="image name for archives that carry only a tag (e.g. docker.io/library/busybox)",
    )
    imp.add_argument("--data-dir", default=os.path.expanduser("~/.kybernetes"), type=os.path.expanduser)
    imp.add_argument("--container-runtime-endpoint", default=None)
    imp.add_argument("--log-level", default="INFO")


def add_killall_arguments(kill: argparse.ArgumentParser) -> None:
    """``kyb killall``."""
    kill.add_argument(
        "--data-dir",
        default=None,
        type=os.path.expanduser,
        help="a `kyb server` data dir (default ~/.kybernetes unless --agent-data-dir is given)",
    )
    kill.add_argument(
        "--agent-data-dir",
        default=None,
        type=os.path.expanduser,
        help="a `kyb agent` data dir (default <data-dir>/agent, where `kyb server` keeps its agent)",
    )
    kill.add_argument("--log-level", default="INFO")


def add_agent_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runtime", choices=RUNTIMES, default="auto")
    p.add_argument("--container-runtime-endpoint", default=None, help="use an existing CRI socket")
    p.add_argument("--node-ip", default=None, help="InternalIP of the node (default 127.0.0.1)")
    p.add_argument("--kubelet-port", type=int, default=0, help="kubelet streaming port (0 picks one)")
    p.add_argument("--pod-manifest-path", default=None, help="directory of static pod manifests")
    p.add_argument("--node-label", action="append", default=[], help="key=value, repeatable")
    p.add_argument("--instance-type", default="")
    p.add_argument("--pod-cidr", default="10.88.0.0/16")


@dataclass
class AgentHandle:
    """What ``start_agent`` started, for an orderly stop."""

    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    closers: list[Any] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def close(self) -> None:
        self.stop.set()
        if self.tasks:
            # a kubelet stops its pod workers gracefully; failures were logged by the tasks' done-callbacks
            _, pending = await asyncio.wait(self.tasks, timeout=40)
            for task in pending:
                log.warning("%s did not stop within 40s; cancelling it", task.get_name())
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
        for closer in reversed(self.closers):
            try:
                await closer()
            except Exception:
                log.exception("stopping the agent: %r failed", closer)


def choose_runtime(requested: str) -> str:
    if requested != "auto":
        return requested
    # lazy on purpose: the containerd modules load grpcio and the CRI stubs, which a process-runtime node never needs
    from kybernetes.kubelet.runtimes.containerd_supervisor import containerd_available

    return "containerd" if os.geteuid() == 0 and containerd_available() else "process"


async def start_agent(
    api: Any,
    args: argparse.Namespace,
    *,
    node_name: str,
    root_dir: Path,
    token: str | None,
    ssl_files: tuple[Path, Path] | None = None,
) -> AgentHandle:
    """Start a kubelet (or simulated nodes) for this process; returns a handle to stop it."""
    handle = AgentHandle()
    simulate = int(getattr(args, "simulate", 0) or 0)
    runtime_kind = choose_runtime(args.runtime)
    if simulate or runtime_kind == "simulated":
        count = max(simulate, 1)
        names = [node_name] if count == 1 else [f"{node_name}-{i}" for i in range(count)]
        stages_path = getattr(args, "stages", None)
        try:
            stages = await asyncio.to_thread(load_simulated_stages, stages_path) if stages_path else None
        except ValueError as exc:  # StageError: a malformed stage file, named with its field
            raise SystemExit(f"kyb agent: --stages: {exc}") from None
        nodes = SimulatedNodes(api, names, stages=stages)
        task = asyncio.create_task(nodes.run(handle.stop), name="simulated-nodes")
        task.add_done_callback(lambda t: log_task_failure(t, log))
        handle.tasks.append(task)
        log.info("simulating %d node(s)", count)
        return handle

    await asyncio.to_thread(root_dir.mkdir, parents=True, exist_ok=True)
    node_ip = args.node_ip or "127.0.0.1"
    runtime: Any = None
    if runtime_kind == "containerd":
        try:
            runtime = await _containerd_runtime(args, root_dir, handle)
        except Exception as exc:
            if args.runtime != "auto":
                raise
            log.warning("containerd could not start (%s); using the process runtime", exc)
            runtime_kind = "process"
    if runtime is None:
        runtime = ProcessRuntime(root_dir / "process", node_ip=node_ip)
    labels = dict(item.split("=", 1) for item in args.node_label if "=" in item)
    port = args.kubelet_port or _free_port(node_ip)
    options = KubeletOptions(
        node_labels=labels,
        instance_type=args.instance_type,
        node_ip=node_ip,
        pod_cidr=args.pod_cidr,
        address=node_ip,
        port=port,
        pod_manifest_path=Path(args.pod_manifest_path) if args.pod_manifest_path else None,
    )
    kubelet = Kubelet(api, runtime, node_name, root_dir=root_dir, options=options)
    server_ctx = None
    if ssl_files is not None:
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_ctx.load_cert_chain(*ssl_files)
    server = KubeletServer(kubelet, host=node_ip, port=port, ssl_context=server_ctx, auth_token=token)
    await server.start()
    handle.closers.append(server.stop)
    task = asyncio.create_task(kubelet.run(handle.stop), name=f"kubelet:{node_name}")
    task.add_done_callback(lambda t: log_task_failure(t, log))
    handle.tasks.append(task)
    log.info("kubelet for node %s on %s runtime, streaming on %s:%d", node_name, runtime_kind, node_ip, port)
    return handle


async def _containerd_runtime(args: argparse.Namespace, root_dir: Path, handle: AgentHandle) -> Any:
    # lazy on purpose: the containerd modules load grpcio and the CRI stubs, which a process-runtime node never needs
    from kybernetes.kubelet.runtimes.containerd import ContainerdRuntime
    from kybernetes.kubelet.runtimes.containerd_supervisor import ContainerdSupervisor, endpoint_from_flag

    if args.container_runtime_endpoint:
        endpoint = endpoint_from_flag(args.container_runtime_endpoint)
    else:
        supervisor = ContainerdSupervisor(root_dir / "containerd", pod_cidr=args.pod_cidr)
        try:
            await supervisor.start()
        except Exception:
            if supervisor.reattached:
                await supervisor.detach()  # a containerd with pods that an earlier agent left: keep them
            else:
                await supervisor.close(remove_pods=True)
            raise
        # Pods outlive the agent (as they outlive a kubelet restart): leave containerd running; the next
        # start re-attaches to it, and `kyb killall` stops it with its pods.
        handle.closers.append(supervisor.detach)
        endpoint = supervisor.endpoint
    return ContainerdRuntime(endpoint, pod_cidr=args.pod_cidr, log_root=str(root_dir / "pod-logs"))


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


async def embed(env: EmbedEnv) -> AgentHandle:
    """The node agent ``kyb server`` runs for its own machine (``--node-name``, data in ``<data-dir>/agent``)."""
    agent_api = env.new_client()
    try:
        handle = await start_agent(
            agent_api,
            env.args,
            node_name=env.args.node_name,
            root_dir=env.data_dir / "agent",
            token=env.node_token,
            ssl_files=env.ssl_files,
        )
    except BaseException:
        await agent_api.close()
        raise
    handle.closers.append(agent_api.close)
    return handle


async def run_killall(args: argparse.Namespace) -> int:
    """``kyb killall``."""
    return await killall(*_killall_dirs(args))


async def run(args: argparse.Namespace) -> int:
    """``kyb agent``."""

    if not args.token:
        raise SystemExit("kyb agent: --token (or KYB_TOKEN) is required")
    config = ClientConfig(
        server=args.server, token=args.token, ca_file=args.ca_file, insecure=args.ca_file is None
    )
    api = ApiClient(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    root_dir = Path(args.data_dir)
    # The kubelet serves its streaming API over TLS with its own certificate (the API server presents
    # the node token, and does not verify kubelet certificates).
    node_ip = args.node_ip or "127.0.0.1"
    pki = await asyncio.to_thread(ensure_pki, root_dir / "kubelet-pki", hosts=[node_ip, args.node_name])
    handle = await start_agent(
        api,
        args,
        node_name=args.node_name,
        root_dir=root_dir,
        token=args.token,
        ssl_files=(pki.server_cert, pki.server_key),
    )
    pid_file = write_pid_file(root_dir / PID_FILE)
    await stop.wait()
    await handle.close()
    await api.close()
    remove_pid_file(pid_file)
    return 0


# --- pid files and killall ----------------------------------------------------------------------------
PID_FILE = "kyb.pid"  # in a server's data dir and in an agent's data dir: "<pid> <kernel start time>"


def write_pid_file(path: Path) -> Path:
    with contextlib.suppress(OSError):
        path.write_text(f"{os.getpid()} {start_time(os.getpid())}\n")
    return path


def remove_pid_file(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.read_text().split()[:1] == [str(os.getpid())]:
            path.unlink()


def _live_pid(path: Path) -> int | None:
    """The pid in a pid file when that process (same start time) still runs."""
    try:
        pid_text, start = path.read_text().split()[:2]
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    return pid if pid != os.getpid() and start_time(pid) == start else None


def _killall_dirs(args: argparse.Namespace) -> tuple[Path | None, Path | None]:
    agent_dir = Path(args.agent_data_dir) if args.agent_data_dir else None
    data_dir = Path(args.data_dir) if args.data_dir else None
    if data_dir is None and agent_dir is None:
        data_dir = Path(os.path.expanduser("~/.kybernetes"))
    return data_dir, agent_dir


async def killall(data_dir: Path | None, agent_dir: Path | None = None) -> int:
    """``kyb killall``: stop the server (``data_dir``) and/or agent (``agent_dir``, default
    ``<data_dir>/agent``) still running there, every pod they left, containerd and its shims; clean up."""
    if agent_dir is None:
        assert data_dir is not None
        agent_dir = data_dir / "agent"
    pid_paths = [agent_dir / PID_FILE] if data_dir is None else [data_dir / PID_FILE, agent_dir / PID_FILE]
    for pid_path in pid_paths:
        pid = _live_pid(pid_path)
        if pid is not None:
            print(f"stopping kyb (pid {pid})", flush=True)
            await stop_pid(pid, 45.0)
        with contextlib.suppress(OSError):
            pid_path.unlink()
    stopped = 0
    if (agent_dir / "process").is_dir():
        stopped += await _kill_process_pods(agent_dir / "process")
    containerd_dir = agent_dir / "containerd"
    if containerd_dir.is_dir():
        # lazy on purpose: the containerd modules load grpcio and the CRI stubs, which a process-runtime node never needs
        from kybernetes.kubelet.runtimes.containerd_supervisor import ContainerdSupervisor

        supervisor = ContainerdSupervisor(containerd_dir, import_pause_image=False)
        had = supervisor.running_pid() is not None or bool(supervisor.leftovers()["shims"])
        await supervisor.kill_all()
        left = supervisor.leftovers()
        if had:
            print("stopped containerd, its shims and pods", flush=True)
        if left["shims"] or left["mounts"]:
            print(f"left behind: {left}", flush=True)
            return 1
    print(f"stopped {stopped} process-runtime container(s)", flush=True)
    return 0


async def _kill_process_pods(root: Path) -> int:
    runtime = ProcessRuntime(root)
    await runtime.start()
    try:
        containers = await runtime.list_containers()
        running = [c for c in containers if c.state == "running"]
        await asyncio.gather(*(runtime.stop_container(c.id, 0) for c in running), return_exceptions=True)
        for sandbox_id, _config in await runtime.list_sandboxes():
            try:
                await runtime.stop_sandbox(sandbox_id)
                await runtime.remove_sandbox(sandbox_id)
            except Exception as exc:  # keep cleaning up the others; say which one is left
                log.warning("could not remove process-runtime sandbox %s: %s", sandbox_id, exc)
        return len(running)
    finally:
        await runtime.close()


async def images(args: argparse.Namespace) -> int:
    """``kyb images import``."""

    endpoint = args.container_runtime_endpoint
    if endpoint is None:
        endpoint = str(Path(args.data_dir) / "agent" / "containerd" / "containerd.sock")
    names = await import_image_archive(endpoint.removeprefix("unix://"), args.file, base_name=args.base_name)
    for name in names:
        print(f"imported {name}")
    return 0
