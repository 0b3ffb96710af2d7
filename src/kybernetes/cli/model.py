"""The component model: what every ``kyb`` component declares, once.

A ``Component`` is a name, a one-line help, its flags and ``run``: ``kyb <name>`` is that component alone
in its own process (``run(args)`` returns the exit code). A component that ``kyb server`` can also run
inside its own process declares an ``Embedding``: the flags it adds to ``kyb server`` and ``start(env)``,
which starts it next to the API server (with its own API client over HTTPS, exactly as from another
machine) and returns something to ``close()``. ``kyb server`` derives ``--disable-<name>`` for each of
them. Tools that are not components (``kyb images``, ``kyb killall``) are ``Command``s: the same without
an embedding.

The one list of them is ``cli/components.py``; ``cli/main.py`` builds the subcommands from it and
``cli/server.py`` the embedded set. Adding a component is one declaration in that list.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

from kybernetes._lib.tasks import TaskOwner
from kybernetes.client import ApiClient, ClientConfig

__all__ = ["Command", "Component", "EmbedEnv", "Embedding", "Running", "RunningTask"]

Flags = Callable[[argparse.ArgumentParser], None]
Run = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


class Running(Protocol):
    """A component ``kyb server`` started; ``close()`` stops it and releases what it holds."""

    async def close(self) -> None: ...


@dataclass
class RunningTask:
    """A component running as one task of ``kyb server`` with its own API client."""

    task: asyncio.Task[Any]
    api: ApiClient
    stop_timeout: float = 5.0

    async def close(self) -> None:
        self.task.cancel()
        # the task's own failure (if any) was logged by the TaskOwner that started it
        await asyncio.wait([self.task], timeout=self.stop_timeout)
        await self.api.close()


@dataclass(frozen=True)
class EmbedEnv:
    """What ``kyb server`` hands a component it embeds."""

    args: argparse.Namespace  # the parsed ``kyb server`` flags (including every embedding's)
    url: str  # the API server's URL
    kubeconfig_text: str | None  # the admin kubeconfig (None with --insecure-http)
    data_dir: Path
    node_token: str | None  # the cluster's node token (None with --insecure-http)
    ssl_files: tuple[Path, Path] | None  # serving cert and key (None with --insecure-http)
    tasks: TaskOwner  # the server's owner of component tasks (kept, failures logged, cancelled on stop)

    def new_client(self) -> ApiClient:
        """A new API client for this server with the admin credential; the component closes it."""
        if self.kubeconfig_text is None:
            return ApiClient(ClientConfig(server=self.url))
        return ApiClient(ClientConfig.from_kubeconfig_dict(yaml.safe_load(self.kubeconfig_text)))


@dataclass(frozen=True)
class Embedding:
    """How ``kyb server`` runs a component in its own process."""

    what: str  # what ``--disable-<name>`` turns off, e.g. "the embedded scheduler"
    start: Callable[[EmbedEnv], Awaitable[Running]]
    flags: Flags | None = None  # the component's own flags on ``kyb server``


@dataclass(frozen=True)
class Command:
    """``kyb <name>``: ``flags(parser)`` declares its flags, ``run(args)`` runs it (the exit code)."""

    name: str
    help: str
    flags: Flags
    run: Run


@dataclass(frozen=True)
class Component(Command):
    """A command that is a cluster component; ``embedded`` when ``kyb server`` can run it in-process."""

    embedded: Embedding | None = None

    @property
    def disable_flag(self) -> str:
        return f"--disable-{self.name}"

    @property
    def disable_dest(self) -> str:
        return f"disable_{self.name.replace('-', '_')}"
