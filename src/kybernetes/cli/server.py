"""``kyb server``: the API server on its store, with the embedded components next to it.

Like k3s, one process is a whole control plane by default: the API server plus every component of the
list (``cli/components.py``) that declares an ``Embedding`` (the scheduler, the controller manager, a
node agent for this machine), started in list order and stopped in reverse. ``--disable-<name>`` leaves
one out (to a separate ``kyb <name>`` process, or to nobody). Embedded components still talk to the API
server over HTTPS with the admin credential, exactly as they would from another machine; their tasks
belong to one ``TaskOwner``, so a component that dies is logged at once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from kybernetes._lib.tasks import TaskOwner
from kybernetes.apiserver.app import make_app
from kybernetes.apiserver.certs import ensure_pki, kubeconfig
from kybernetes.apiserver.context import ApiContext, NodeStreams
from kybernetes.apiserver.node_proxy import NodeProxy
from kybernetes.cli import agent as agent_cli
from kybernetes.cli.model import Component, EmbedEnv
from kybernetes.storage.factory import open_store

log = logging.getLogger("kyb.server")


def add_arguments(p: argparse.ArgumentParser, embedded: Sequence[Component]) -> None:
    """The API server's flags, then ``--disable-<name>`` and the flags of each embedded component."""
    p.add_argument("--data-dir", default=os.path.expanduser("~/.kybernetes"), help="state directory")
    p.add_argument("--port", type=int, default=6443, help="HTTPS port (0 picks a free one)")
    p.add_argument("--bind-address", default="127.0.0.1", help="address to listen on")
    p.add_argument("--write-kubeconfig", default=None, help="kubeconfig path (default <data-dir>/kubeconfig)")
    p.add_argument(
        "--datastore", default=None, help="sqlite://<path> (default) or etcd://host:port[,host:port][/prefix]"
    )
    p.add_argument("--insecure-http", action="store_true", help="plain HTTP without authentication (tests)")
    p.add_argument(
        "--watch-bookmark-interval", type=float, default=60.0, help="seconds between watch BOOKMARK events"
    )
    for component in embedded:
        assert component.embedded is not None
        p.add_argument(
            component.disable_flag,
            dest=component.disable_dest,
            action="store_true",
            help=f"do not run {component.embedded.what}",
        )
        if component.embedded.flags is not None:
            component.embedded.flags(p)
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


async def run(
    args: argparse.Namespace, embedded: Sequence[Component], *, stop: asyncio.Event | None = None
) -> int:
    """Serve until SIGTERM/SIGINT (or ``stop``, for running a server in-process); the exit code.

    A component that cannot start stops everything started before it, and the server exits 1."""
    data_dir, kubeconfig_path = _prepare_paths(args)
    datastore = args.datastore or f"sqlite://{data_dir / 'state.db'}"
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
    node_token = pki.node_token if pki is not None else None

    def node_streams(ctx: ApiContext) -> NodeStreams:
        # kubelets serve their streaming API with the node token; their certificates are not verified
        return NodeProxy(ctx, token_for_node=lambda _node: node_token, verify_tls=False)

    async with contextlib.AsyncExitStack() as stack_bottom, contextlib.AsyncExitStack() as stack:
        store = open_store(datastore)
        await store.start()
        stack.push_async_callback(store.close)
        ctx = ApiContext(
            store, watch_bookmark_interval=args.watch_bookmark_interval, node_streams=node_streams
        )
        stack.push_async_callback(ctx.close)
        await ctx.start()
        app = make_app(ctx, tokens=tokens)
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=2.0)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
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
        tasks = TaskOwner("kyb-server", logger=log)
        stack.push_async_callback(tasks.close)
        env = EmbedEnv(
            args=args,
            url=url,
            kubeconfig_text=kubeconfig_text,
            data_dir=data_dir,
            node_token=node_token,
            ssl_files=(pki.server_cert, pki.server_key) if pki is not None else None,
            tasks=tasks,
        )
        started = []
        for component in embedded:
            assert component.embedded is not None
            if vars(args)[component.disable_dest]:
                continue
            try:
                running = await component.embedded.start(env)
            except Exception as exc:
                log.exception("cannot start %s", component.name)
                print(f"kyb server: cannot start {component.name}: {exc}", file=sys.stderr, flush=True)
                return 1  # leaving the stacks stops what started before it
            stack.push_async_callback(running.close)  # stopped in reverse order of start
            started.append(component.name)
        log.info("embedded components: %s", ", ".join(started) or "none")
        # for `kyb killall`; removed last, once everything above has stopped
        stack_bottom.callback(
            agent_cli.remove_pid_file, agent_cli.write_pid_file(data_dir / agent_cli.PID_FILE)
        )
        print(f"kybernetes API server listening on {url}", flush=True)
        if pki is not None:
            print(f"  export KUBECONFIG={kubeconfig_path}\n  kubectl get namespaces", flush=True)
        if stop is None:  # a process of its own: the signals stop it
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError):
                    loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("shutting down")
    return 0
