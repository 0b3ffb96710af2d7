"""``kyb agent`` (and the agent ``kyb server`` embeds): a node agent joined to a cluster.

The runtime is picked like k3s picks: containerd when it is installed and we are root, else the
isolation-free process runtime; ``--runtime`` overrides it, and ``--simulate N`` runs N kwok-style
simulated nodes from this one process instead of a kubelet. Agents authenticate to the API server with
the cluster's node token, and the API server reaches each kubelet's streaming server (logs, exec,
attach, port-forward) with that same token.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("kyb.agent")

RUNTIMES = ("auto", "process", "containerd", "simulated")


def add_arguments(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("agent", help="run a node agent (kubelet) joined to a server")
    p.add_argument("--server", required=True, help="API server URL, e.g. https://127.0.0.1:6443")
    p.add_argument("--token", default=os.environ.get("KYB_TOKEN"), help="the cluster's node token")
    p.add_argument("--ca-file", default=None, help="CA of the API server (default: do not verify)")
    p.add_argument("--node-name", default=socket.gethostname())
    p.add_argument("--data-dir", default=os.path.expanduser("~/.kybernetes/agent"), type=os.path.expanduser)
    add_agent_options(p)
    p.add_argument("--simulate", type=int, default=0, help="register N simulated nodes (kwok-style)")
    p.add_argument("--log-level", default="INFO")
    images = sub.add_parser("images", help="manage images of the embedded containerd")
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
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=40)
        for task in self.tasks:
            task.cancel()
        for closer in reversed(self.closers):
            with contextlib.suppress(Exception):
                await closer()


def choose_runtime(requested: str) -> str:
    if requested != "auto":
        return requested
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
        from kybernetes.kubelet import SimulatedNodes

        count = max(simulate, 1)
        names = [node_name] if count == 1 else [f"{node_name}-{i}" for i in range(count)]
        nodes = SimulatedNodes(api, names)
        handle.tasks.append(asyncio.create_task(nodes.run(handle.stop), name="simulated-nodes"))
        log.info("simulating %d node(s)", count)
        return handle

    import ssl

    from kybernetes.kubelet.agent import Kubelet
    from kybernetes.kubelet.options import KubeletOptions
    from kybernetes.kubelet.server import KubeletServer

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
        from kybernetes.kubelet.runtimes.process import ProcessRuntime

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
    task.add_done_callback(_log_failure)
    handle.tasks.append(task)
    log.info("kubelet for node %s on %s runtime, streaming on %s:%d", node_name, runtime_kind, node_ip, port)
    return handle


async def _containerd_runtime(args: argparse.Namespace, root_dir: Path, handle: AgentHandle) -> Any:
    from kybernetes.kubelet.runtimes.containerd import ContainerdRuntime
    from kybernetes.kubelet.runtimes.containerd_supervisor import ContainerdSupervisor, endpoint_from_flag

    if args.container_runtime_endpoint:
        endpoint = endpoint_from_flag(args.container_runtime_endpoint)
    else:
        supervisor = ContainerdSupervisor(root_dir / "containerd", pod_cidr=args.pod_cidr)
        try:
            await supervisor.start()
        except Exception:
            await supervisor.close(remove_pods=True)
            raise
        handle.closers.append(lambda: supervisor.close(remove_pods=True))
        endpoint = supervisor.endpoint
    return ContainerdRuntime(endpoint, pod_cidr=args.pod_cidr, log_root=str(root_dir / "pod-logs"))


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("%s stopped", task.get_name(), exc_info=task.exception())


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


async def run(args: argparse.Namespace) -> int:
    """``kyb agent`` and ``kyb images import``."""
    if args.command == "images":
        return await _images(args)
    from kybernetes.client import ApiClient, ClientConfig

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
    from kybernetes.apiserver.certs import ensure_pki

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
    await stop.wait()
    await handle.close()
    await api.close()
    return 0


async def _images(args: argparse.Namespace) -> int:
    from kybernetes.kubelet.runtimes.images import import_image_archive

    endpoint = args.container_runtime_endpoint
    if endpoint is None:
        endpoint = str(Path(args.data_dir) / "agent" / "containerd" / "containerd.sock")
    names = await import_image_archive(endpoint.removeprefix("unix://"), args.file, base_name=args.base_name)
    for name in names:
        print(f"imported {name}")
    return 0
