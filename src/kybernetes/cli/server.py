"""``kyb server``: the API server on its store, with the scheduler and controller manager embedded.

Like k3s, one process is a whole control plane by default; ``--disable-scheduler`` and
``--disable-controller-manager`` leave those to separate ``kyb scheduler`` / ``kyb controller-manager``
processes. Embedded components still talk to the API server over HTTPS with the admin credential, exactly
as they would from another machine.
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
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from kybernetes.apiserver.app import make_app
from kybernetes.apiserver.certs import ensure_pki, kubeconfig
from kybernetes.apiserver.context import ApiContext
from kybernetes.apiserver.node_proxy import NodeProxy
from kybernetes.cli import agent as agent_cli
from kybernetes.client import ApiClient, ClientConfig
from kybernetes.controllers.base import ControllerOptions
from kybernetes.controllers.manager import ControllerManager
from kybernetes.scheduler import run_scheduler
from kybernetes.storage.factory import open_store

log = logging.getLogger("kyb.server")


def add_arguments(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("server", help="run the control plane (API server, scheduler, controllers)")
    p.add_argument("--data-dir", default=os.path.expanduser("~/.kybernetes"), help="state directory")
    p.add_argument("--port", type=int, default=6443, help="HTTPS port (0 picks a free one)")
    p.add_argument("--bind-address", default="127.0.0.1", help="address to listen on")
    p.add_argument("--write-kubeconfig", default=None, help="kubeconfig path (default <data-dir>/kubeconfig)")
    p.add_argument(
        "--datastore", default=None, help="sqlite://<path> (default) or etcd://host:port[,host:port][/prefix]"
    )
    p.add_argument("--insecure-http", action="store_true", help="plain HTTP without authentication (tests)")
    p.add_argument("--disable-scheduler", action="store_true", help="do not run the embedded scheduler")
    p.add_argument(
        "--disable-controller-manager", action="store_true", help="do not run the embedded controller manager"
    )
    p.add_argument("--node-monitor-grace-period", type=float, default=40.0, help="seconds (upstream: 40s)")
    p.add_argument("--disable-agent", action="store_true", help="do not run a node agent for this machine")
    p.add_argument(
        "--watch-bookmark-interval", type=float, default=60.0, help="seconds between watch BOOKMARK events"
    )
    p.add_argument("--node-name", default=socket.gethostname(), help="name of the embedded agent's node")
    agent_cli.add_agent_options(p)
    p.add_argument("--log-level", default="INFO")


def _prepare_paths(args: argparse.Namespace) -> tuple[Path, Path]:
    data_dir = Path(args.data_dir).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    return data_dir, Path(args.write_kubeconfig or data_dir / "kubeconfig").expanduser()


def _write_private_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


async def run(args: argparse.Namespace) -> int:
    data_dir, kubeconfig_path = _prepare_paths(args)
    datastore = args.datastore or f"sqlite://{data_dir / 'state.db'}"
    store = open_store(datastore)
    await store.start()
    ctx = ApiContext(store)
    ctx.watch_bookmark_interval = args.watch_bookmark_interval
    await ctx.start()
    tokens: set[str] | None = None
    ssl_ctx: ssl.SSLContext | None = None
    pki = None
    if not args.insecure_http:
        pki = ensure_pki(data_dir, hosts=[args.bind_address])
        tokens = {pki.admin_token, pki.node_token}
        ssl_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_ctx.load_cert_chain(pki.server_cert, pki.server_key)
        ssl_ctx.load_verify_locations(pki.ca_cert)
        ssl_ctx.verify_mode = ssl.CERT_OPTIONAL
    app = make_app(ctx, tokens=tokens)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, args.bind_address, args.port, ssl_context=ssl_ctx, reuse_address=True)
    await site.start()
    addresses = runner.addresses
    port = addresses[0][1] if addresses else args.port
    host = args.bind_address if ":" not in args.bind_address else f"[{args.bind_address}]"
    if host in ("0.0.0.0", "[::]"):
        host = "127.0.0.1"
    url = f"{'http' if args.insecure_http else 'https'}://{host}:{port}"
    kubeconfig_text = None
    if pki is not None:
        kubeconfig_text = kubeconfig(url, pki.ca_cert, pki.admin_token)
        _write_private_text(kubeconfig_path, kubeconfig_text)

    node_token = pki.node_token if pki is not None else None
    node_streams = ctx.node_streams = NodeProxy(
        ctx, token_for_node=lambda _node: node_token, verify_tls=False
    )
    components = await _start_components(args, ctx, url, kubeconfig_text)
    agent = None
    if not args.disable_agent:
        agent_api = _new_client(url, kubeconfig_text)
        ssl_files = (pki.server_cert, pki.server_key) if pki is not None else None
        agent = await agent_cli.start_agent(
            agent_api,
            args,
            node_name=args.node_name,
            root_dir=data_dir / "agent",
            token=node_token,
            ssl_files=ssl_files,
        )
        agent.closers.append(agent_api.close)
    pid_file = agent_cli.write_pid_file(data_dir / agent_cli.PID_FILE)  # for `kyb killall`
    print(f"kybernetes API server listening on {url}", flush=True)
    if pki is not None:
        print(f"  export KUBECONFIG={kubeconfig_path}\n  kubectl get namespaces", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    if agent is not None:
        await agent.close()
    await _stop_components(components)
    await node_streams.close()
    await runner.cleanup()
    await ctx.close()
    await store.close()
    agent_cli.remove_pid_file(pid_file)
    return 0


async def _start_components(
    args: argparse.Namespace, ctx: Any, url: str, kubeconfig_text: str | None
) -> list[tuple[asyncio.Task[Any], Any]]:
    """Start the embedded scheduler and controller manager as tasks with their own API clients."""

    started: list[tuple[asyncio.Task[Any], Any]] = []

    def new_client() -> ApiClient:
        return _new_client(url, kubeconfig_text)

    if not args.disable_controller_manager:
        api = new_client()
        options = ControllerOptions(node_monitor_grace_period=args.node_monitor_grace_period)
        manager = ControllerManager(api, options=options, leader_elect=True, recampaign=True)
        ctx.garbage_collector_running = True
        started.append((asyncio.create_task(manager.run(), name="controller-manager"), api))
    if not args.disable_scheduler:
        api = new_client()
        started.append((asyncio.create_task(run_scheduler(api, leader_elect=True), name="scheduler"), api))
    return started


def _new_client(url: str, kubeconfig_text: str | None) -> Any:
    if kubeconfig_text is None:
        return ApiClient(ClientConfig(server=url))
    return ApiClient(ClientConfig.from_kubeconfig_dict(yaml.safe_load(kubeconfig_text)))


async def _stop_components(components: list[tuple[asyncio.Task[Any], Any]]) -> None:
    for task, _ in components:
        task.cancel()
    for task, api in components:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, timeout=5)
        with contextlib.suppress(Exception):
            await api.close()
