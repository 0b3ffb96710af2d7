"""``kyb scheduler`` and ``kyb controller-manager``: one component per process, driven by a kubeconfig."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import uuid

from kybernetes.client import ApiClient
from kybernetes.controllers.base import ControllerOptions
from kybernetes.controllers.manager import ControllerManager
from kybernetes.scheduler import run_scheduler


def add_arguments(sub: argparse._SubParsersAction) -> None:
    for name, help_text in (
        ("scheduler", "run kube-scheduler against a server"),
        ("controller-manager", "run kube-controller-manager against a server"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"), help="kubeconfig of the server")
        p.add_argument(
            "--leader-elect",
            default=True,
            type=lambda v: str(v).lower() in ("1", "true", "yes"),
            help="take part in leader election on a Lease (default true)",
        )
        p.add_argument("--identity", default=None, help="leader election identity (default host_uuid)")
        p.add_argument("--log-level", default="INFO")
        if name == "controller-manager":
            p.add_argument("--controllers", default="*", help="comma-separated controller names, * for all")
            p.add_argument("--node-monitor-grace-period", type=float, default=40.0)


async def run(args: argparse.Namespace) -> int:
    api = ApiClient.from_kubeconfig(args.kubeconfig)
    identity = args.identity or f"{socket.gethostname()}_{uuid.uuid4()}"
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        if args.command == "scheduler":
            await run_scheduler(api, leader_elect=args.leader_elect, identity=identity, stop=stop)
        else:
            names = (
                None if args.controllers in ("*", "") else [c.strip() for c in args.controllers.split(",")]
            )
            options = ControllerOptions(node_monitor_grace_period=args.node_monitor_grace_period)
            manager = ControllerManager(
                api, controllers=names, options=options, leader_elect=args.leader_elect, identity=identity
            )
            await manager.run(stop)
    finally:
        await api.close()
    return 0
