"""``kyb server`` in process with made-up embedded components: started in list order with an ``EmbedEnv``
for this server, stopped in reverse, and a component that cannot start stops the server (exit 1)
after closing everything started before it."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import aiohttp
import pytest

from kybernetes.cli import server
from kybernetes.cli.main import build_parser
from kybernetes.cli.model import Component, Embedding, EmbedEnv, Running


class _Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.envs: list[EmbedEnv] = []


def _component(name: str, rec: _Recorder, *, fail: bool = False) -> Component:
    class _Handle:
        async def close(self) -> None:
            rec.events.append(f"close {name}")

    async def start(env: EmbedEnv) -> Running:
        rec.events.append(f"start {name}")
        rec.envs.append(env)
        if fail:
            raise RuntimeError("no such thing")
        return _Handle()

    async def run(args: argparse.Namespace) -> int:
        return 0

    return Component(name, f"run {name}", flags=lambda p: None, run=run, embedded=Embedding(name, start))


def _args(tmp_path: Path, *extra: str, embedded: tuple[Component, ...]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    server.add_arguments(parser, embedded)
    return parser.parse_args(
        ["--data-dir", str(tmp_path.resolve()), "--port", "0", "--insecure-http", *extra]
    )


async def test_embedded_components_start_in_order_and_stop_in_reverse(tmp_path: Path) -> None:
    rec = _Recorder()
    embedded = (_component("alpha", rec), _component("beta", rec), _component("gamma", rec))
    args = _args(tmp_path, "--disable-beta", embedded=embedded)
    stop = asyncio.Event()
    task = asyncio.create_task(server.run(args, embedded, stop=stop))
    try:
        for _ in range(200):  # bounded: 10 s
            if len(rec.events) == 2 or task.done():
                break
            await asyncio.sleep(0.05)
        assert rec.events == ["start alpha", "start gamma"]
        env = rec.envs[0]
        assert env.url.startswith("http://127.0.0.1:") and str(env.data_dir) == args.data_dir
        async with env.new_client() as api:  # the component's client reaches this server
            namespaces, _ = await api.namespaces.list_all()
            assert "kube-system" in {n["metadata"]["name"] for n in namespaces}
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 20) == 0
    assert rec.events == ["start alpha", "start gamma", "close gamma", "close alpha"]
    assert not (tmp_path / "kyb.pid").exists()
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession() as http, http.get(f"{env.url}/readyz"):
            pass


async def test_a_component_that_cannot_start_stops_the_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rec = _Recorder()
    embedded = (_component("alpha", rec), _component("broken", rec, fail=True), _component("late", rec))
    assert await asyncio.wait_for(server.run(_args(tmp_path, embedded=embedded), embedded), 20) == 1
    assert "kyb server: cannot start broken: no such thing" in capsys.readouterr().err
    assert "listening on" not in capsys.readouterr().out
    assert rec.events == ["start alpha", "start broken", "close alpha"]
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession() as http, http.get(f"{rec.envs[0].url}/readyz"):
            pass


def test_real_server_parser_derives_disable_flags() -> None:
    args = build_parser().parse_args(["server", "--disable-agent", "--disable-scheduler"])
    assert (args.disable_agent, args.disable_scheduler, args.disable_controller_manager) == (
        True,
        True,
        False,
    )
