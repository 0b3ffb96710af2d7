"""``kyb``: the command line. The one place that wires components together.

Subcommands: ``server`` (control plane, ``cli/server.py``), ``scheduler`` and ``controller-manager``
(each a separate process talking to a server through a kubeconfig, ``cli/components.py``), ``agent``,
``images`` and ``killall`` (``cli/agent.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from kybernetes.cli import agent, components, server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kyb", description="kybernetes: a small Kubernetes")
    sub = parser.add_subparsers(dest="command", required=True)
    server.add_arguments(sub)
    components.add_arguments(sub)
    agent.add_arguments(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(getattr(args, "log_level", "INFO")).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "server":
        return asyncio.run(server.run(args))
    if args.command in ("agent", "images", "killall"):
        return asyncio.run(agent.run(args))
    return asyncio.run(components.run(args))


if __name__ == "__main__":
    sys.exit(main())
