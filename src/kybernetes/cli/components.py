"""The one list of ``kyb`` components and tools, and the scheduler and controller manager commands.

``COMPONENTS`` is every component, in the order ``kyb --help`` lists them and ``kyb server`` starts the
embedded ones: the API server (``kyb server``, the host of the others), the scheduler, the controller
manager and the node agent. ``TOOLS`` are the commands that are not components. Adding a component is
one ``Component`` declaration appended to ``COMPONENTS`` (see ``cli/model.py``): it becomes
``kyb <name>``, and when it declares an ``Embedding``, ``kyb server`` runs it and takes
``--disable-<name>`` (plus the embedding's flags).

``kyb scheduler`` and ``kyb controller-manager`` run one component per process, driven by a kubeconfig;
embedded in ``kyb server`` they run as tasks with their own API client, under the same leader election.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import uuid
from collections.abc import Awaitable, Callable

from kybernetes.cli import agent, server
from kybernetes.cli.model import Command, Component, Embedding, EmbedEnv, Running, RunningTask
from kybernetes.client import ApiClient
from kybernetes.controllers.base import ControllerOptions
from kybernetes.controllers.manager import ControllerLoadError, ControllerManager
from kybernetes.scheduler import run_scheduler

__all__ = ["COMMANDS", "COMPONENTS", "TOOLS", "embedded_components"]


# --- flags ---------------------------------------------------------------------------------------------
def _client_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"), help="kubeconfig of the server")
    p.add_argument(
        "--leader-elect",
        default=True,
        type=lambda v: str(v).lower() in ("1", "true", "yes"),
        help="take part in leader election on a Lease (default true)",
    )
    p.add_argument("--identity", default=None, help="leader election identity (default host_uuid)")


def _scheduler_flags(p: argparse.ArgumentParser) -> None:
    _client_flags(p)
    p.add_argument("--log-level", default="INFO")


def _node_monitor_grace_period(p: argparse.ArgumentParser, help_text: str | None = None) -> None:
    p.add_argument("--node-monitor-grace-period", type=float, default=40.0, help=help_text)


def _controller_manager_flags(p: argparse.ArgumentParser) -> None:
    _client_flags(p)
    p.add_argument("--log-level", default="INFO")
    p.add_argument("--controllers", default="*", help="comma-separated controller names, * for all")
    _node_monitor_grace_period(p)


# --- standalone: one component per process ---------------------------------------------------------------
async def _standalone(args: argparse.Namespace, body: Callable[..., Awaitable[None]]) -> int:
    """Run ``body(api, identity, stop)`` until SIGTERM/SIGINT, with an API client from ``--kubeconfig``."""
    api = ApiClient.from_kubeconfig(args.kubeconfig)
    identity = args.identity or f"{socket.gethostname()}_{uuid.uuid4()}"
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await body(api, identity, stop)
    finally:
        await api.close()
    return 0


async def run_scheduler_command(args: argparse.Namespace) -> int:
    """``kyb scheduler``."""

    async def body(api: ApiClient, identity: str, stop: asyncio.Event) -> None:
        await run_scheduler(api, leader_elect=args.leader_elect, identity=identity, stop=stop)

    return await _standalone(args, body)


def _controller_names(spec: str) -> list[str] | None:
    return None if spec in ("*", "") else [c.strip() for c in spec.split(",")]


async def run_controller_manager_command(args: argparse.Namespace) -> int:
    """``kyb controller-manager``: refuses to start (exit 1) when a controller is unknown or missing."""
    options = ControllerOptions(node_monitor_grace_period=args.node_monitor_grace_period)

    async def body(api: ApiClient, identity: str, stop: asyncio.Event) -> None:
        try:
            manager = ControllerManager(
                api,
                controllers=_controller_names(args.controllers),
                options=options,
                leader_elect=args.leader_elect,
                identity=identity,
            )
        except (ValueError, ControllerLoadError) as exc:
            raise SystemExit(f"kyb controller-manager: {exc}") from exc
        await manager.run(stop)

    return await _standalone(args, body)


# --- embedded in `kyb server` ----------------------------------------------------------------------------
async def _embed_scheduler(env: EmbedEnv) -> Running:
    api = env.new_client()
    return RunningTask(env.tasks.spawn(run_scheduler(api, leader_elect=True), name="scheduler"), api)


async def _embed_controller_manager(env: EmbedEnv) -> Running:
    api = env.new_client()
    options = ControllerOptions(node_monitor_grace_period=env.args.node_monitor_grace_period)
    try:
        # a controller that cannot be imported raises here: `kyb server` refuses to start
        manager = ControllerManager(api, options=options, leader_elect=True, recampaign=True)
    except BaseException:
        await api.close()
        raise
    return RunningTask(env.tasks.spawn(manager.run(), name="controller-manager"), api)


def _embedded_controller_manager_flags(p: argparse.ArgumentParser) -> None:
    _node_monitor_grace_period(p, "seconds (upstream: 40s)")


# --- the list ---------------------------------------------------------------------------------------------
def embedded_components() -> tuple[Component, ...]:
    """The components ``kyb server`` runs in its own process (each with ``--disable-<name>``)."""
    return tuple(c for c in COMPONENTS if c.embedded is not None)


COMPONENTS: tuple[Component, ...] = (
    Component(
        "server",
        "run the control plane (API server, scheduler, controllers)",
        flags=lambda p: server.add_arguments(p, embedded_components()),
        run=lambda args: server.run(args, embedded_components()),
    ),
    Component(
        "scheduler",
        "run kube-scheduler against a server",
        flags=_scheduler_flags,
        run=run_scheduler_command,
        embedded=Embedding("the embedded scheduler", _embed_scheduler),
    ),
    Component(
        "controller-manager",
        "run kube-controller-manager against a server",
        flags=_controller_manager_flags,
        run=run_controller_manager_command,
        embedded=Embedding(
            "the embedded controller manager",
            _embed_controller_manager,
            flags=_embedded_controller_manager_flags,
        ),
    ),
    Component(
        "agent",
        "run a node agent (kubelet) joined to a server",
        flags=agent.add_arguments,
        run=agent.run,
        embedded=Embedding("a node agent for this machine", agent.embed, flags=agent.add_embedded_arguments),
    ),
)

TOOLS: tuple[Command, ...] = (
    Command(
        "images",
        "manage images of the embedded containerd",
        flags=agent.add_images_arguments,
        run=agent.images,
    ),
    Command(
        "killall",
        "stop the server/agent on a data dir, every pod, containerd and its shims; clean up (k3s-killall)",
        flags=agent.add_killall_arguments,
        run=agent.run_killall,
    ),
)

COMMANDS: tuple[Command, ...] = (*COMPONENTS, *TOOLS)
