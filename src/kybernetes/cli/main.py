"""``kyb``: the command line. The one place that wires components together.

Every subcommand comes from the one list in ``cli/components.py`` (``COMMANDS``: the components
``server``, ``scheduler``, ``controller-manager``, ``agent``, then the tools ``images`` and ``killall``):
each declares its name, help, flags and ``run``; ``main`` parses and runs the chosen one.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from kybernetes.cli.components import COMMANDS
from kybernetes.cli.model import Command


def build_parser(commands: Sequence[Command] = COMMANDS) -> argparse.ArgumentParser:
    """``kyb``'s parser: one subcommand per command of the list."""
    parser = argparse.ArgumentParser(prog="kyb", description="kybernetes: a small Kubernetes")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in commands:
        p = sub.add_parser(command.name, help=command.help)
        command.flags(p)
        p.set_defaults(kyb_command=command)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(vars(args).get("log_level", "INFO")).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    command: Command = args.kyb_command
    return asyncio.run(command.run(args))


if __name__ == "__main__":
    sys.exit(main())
