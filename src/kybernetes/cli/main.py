"""``kyb``: the command line. The one place that wires components together."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import ssl
import sys
from pathlib import Path

from aiohttp import web

log = logging.getLogger("kyb")


def _server_args(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("server", help="run the control plane (API server on the embedded store)")
    p.add_argument("--data-dir", default=os.path.expanduser("~/.kybernetes"), help="state directory")
    p.add_argument("--port", type=int, default=6443, help="HTTPS port (0 picks a free one)")
    p.add_argument("--bind-address", default="127.0.0.1", help="address to listen on")
    p.add_argument("--write-kubeconfig", default=None, help="kubeconfig path (default <data-dir>/kubeconfig)")
    p.add_argument(
        "--datastore", default=None, help="sqlite://<path> (default) or etcd://host:port[,host:port]"
    )
    p.add_argument(
        "--insecure-http", action="store_true", help="serve plain HTTP without authentication (tests)"
    )
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


async def run_server(args: argparse.Namespace) -> int:
    from kybernetes.apiserver.app import make_app
    from kybernetes.apiserver.certs import ensure_pki, kubeconfig
    from kybernetes.apiserver.context import ApiContext
    from kybernetes.storage.factory import open_store

    data_dir, kubeconfig_path = _prepare_paths(args)
    datastore = args.datastore or f"sqlite://{data_dir / 'state.db'}"
    store = open_store(datastore)
    await store.start()
    ctx = ApiContext(store)
    await ctx.start()
    tokens: set[str] | None = None
    ssl_ctx: ssl.SSLContext | None = None
    pki = None
    if not args.insecure_http:
        pki = ensure_pki(data_dir, hosts=[args.bind_address])
        tokens = {pki.admin_token}
        ssl_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_ctx.load_cert_chain(pki.server_cert, pki.server_key)
        ssl_ctx.load_verify_locations(pki.ca_cert)
        ssl_ctx.verify_mode = ssl.CERT_OPTIONAL
    app = make_app(ctx, tokens=tokens)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, args.bind_address, args.port, ssl_context=ssl_ctx, reuse_address=True)
    await site.start()
    sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
    port = sockets[0].getsockname()[1] if sockets else args.port
    host = args.bind_address if ":" not in args.bind_address else f"[{args.bind_address}]"
    if host in ("0.0.0.0", "[::]"):
        host = "127.0.0.1"
    scheme = "http" if args.insecure_http else "https"
    url = f"{scheme}://{host}:{port}"
    if pki is not None:
        _write_private_text(kubeconfig_path, kubeconfig(url, pki.ca_cert, pki.admin_token))
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
    await runner.cleanup()
    await ctx.close()
    await store.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kyb", description="kybernetes: a small Kubernetes")
    sub = parser.add_subparsers(dest="command", required=True)
    _server_args(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(getattr(args, "log_level", "INFO")).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "server":
        return asyncio.run(run_server(args))
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
