"""The component list: every ``kyb`` subcommand and ``kyb server``'s embedded set come from it.

What users type keeps working: the subcommands and flags that existed before the list are asserted by
name, and a component added to the list shows up as a subcommand and as ``--disable-<name>`` without
any other edit.
"""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from kybernetes.cli import components
from kybernetes.cli.components import COMMANDS, COMPONENTS, TOOLS, embedded_components
from kybernetes.cli.main import build_parser
from kybernetes.cli.model import Component, Embedding, EmbedEnv, Running


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {opt for a in parser._actions for opt in a.option_strings}


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)
    assert exc.value.code == 0
    return capsys.readouterr().out


def test_every_command_is_a_subcommand_listed_by_help(capsys: pytest.CaptureFixture[str]) -> None:
    names = [c.name for c in COMMANDS]
    assert len(names) == len(set(names))
    assert names == ["server", "scheduler", "controller-manager", "agent", "images", "killall"]
    assert list(_subparsers(build_parser())) == names
    out = " ".join(_help(["--help"], capsys).split())  # argparse wraps lines
    for command in COMMANDS:
        assert f" {command.name} {' '.join(command.help.split())}" in out, command.name


def test_embedded_components_each_have_a_disable_flag(capsys: pytest.CaptureFixture[str]) -> None:
    embedded = embedded_components()
    assert [c.name for c in embedded] == ["scheduler", "controller-manager", "agent"]
    assert [c.name for c in COMPONENTS if c.embedded is None] == ["server"]  # the host of the others
    server = _subparsers(build_parser())["server"]
    out = _help(["server", "--help"], capsys)
    for component in embedded:
        assert component.disable_flag in _options(server)
        assert component.disable_flag in out
        args = build_parser().parse_args(["server", component.disable_flag])
        disabled = {c.name for c in embedded if vars(args)[c.disable_dest]}
        assert disabled == {component.name}
    # no --disable-server, no disable flags for tools
    assert not {o for o in _options(server) if o.startswith("--disable-")} - {
        c.disable_flag for c in embedded
    }


def test_existing_flags_and_defaults_are_kept() -> None:
    """The flags every subcommand had before the component list, with the same destinations."""
    subs = _subparsers(build_parser())
    expected = {
        "server": {
            "--data-dir", "--port", "--bind-address", "--write-kubeconfig", "--datastore", "--insecure-http",
            "--disable-scheduler", "--disable-controller-manager", "--node-monitor-grace-period",
            "--disable-agent", "--watch-bookmark-interval", "--node-name", "--runtime",
            "--container-runtime-endpoint", "--node-ip", "--kubelet-port", "--pod-manifest-path",
            "--node-label", "--instance-type", "--pod-cidr", "--log-level",
        },
        "scheduler": {"--kubeconfig", "--leader-elect", "--identity", "--log-level"},
        "controller-manager": {
            "--kubeconfig", "--leader-elect", "--identity", "--log-level", "--controllers",
            "--node-monitor-grace-period",
        },
        "agent": {
            "--server", "--token", "--ca-file", "--node-name", "--data-dir", "--runtime",
            "--container-runtime-endpoint", "--node-ip", "--kubelet-port", "--pod-manifest-path",
            "--node-label", "--instance-type", "--pod-cidr", "--simulate", "--stages", "--log-level",
        },
        "killall": {"--data-dir", "--agent-data-dir", "--log-level"},
    }  # fmt: skip
    for name, flags in expected.items():
        assert _options(subs[name]) - {"-h", "--help"} == flags, name
    images = _subparsers(subs["images"])
    assert list(images) == ["import"]
    assert _options(images["import"]) - {"-h", "--help"} == {
        "--base-name",
        "--data-dir",
        "--container-runtime-endpoint",
        "--log-level",
    }
    args = build_parser().parse_args(["server"])
    assert (args.disable_scheduler, args.disable_controller_manager, args.disable_agent) == (False,) * 3
    assert (args.port, args.node_monitor_grace_period, args.watch_bookmark_interval) == (6443, 40.0, 60.0)
    assert args.runtime == "auto" and args.pod_cidr == "10.88.0.0/16"
    args = build_parser().parse_args(
        ["controller-manager", "--controllers", "*,-job", "--leader-elect=false"]
    )
    assert args.controllers == "*,-job" and args.leader_elect is False
    args = build_parser().parse_args(["images", "import", "x.tar", "--base-name", "docker.io/library/b"])
    assert (args.images_command, args.file, args.base_name) == ("import", "x.tar", "docker.io/library/b")
    args = build_parser().parse_args(["agent", "--server", "https://127.0.0.1:6443", "--simulate", "3"])
    assert args.simulate == 3 and args.runtime == "auto"


def test_each_command_runs_its_own_entry_point() -> None:
    for command in COMMANDS:
        argv = {
            "agent": ["agent", "--server", "https://127.0.0.1:1"],
            "images": ["images", "import", "x.tar"],
        }.get(command.name, [command.name])
        args = build_parser().parse_args(argv)
        assert args.kyb_command is command
    assert {c.name for c in TOOLS} == {"images", "killall"}
    assert all(not isinstance(t, Component) for t in TOOLS)


def test_a_new_component_is_one_declaration(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Appending one Component to the list gives `kyb <name>` and `kyb server --disable-<name>`."""
    started: list[EmbedEnv] = []

    async def start(env: EmbedEnv) -> Running:
        started.append(env)
        raise NotImplementedError

    async def run(args: argparse.Namespace) -> int:
        return 0

    def flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("--upstream-dns", default="1.1.1.1")

    dns = Component(
        "dns",
        "run cluster DNS",
        flags=flags,
        run=run,
        embedded=Embedding(
            "the embedded cluster DNS", start, flags=lambda p: p.add_argument("--cluster-domain")
        ),
    )
    monkeypatch.setattr(components, "COMPONENTS", (*COMPONENTS, dns))
    parser = build_parser((*components.COMPONENTS, *TOOLS))
    subs = _subparsers(parser)
    assert "dns" in subs and "--upstream-dns" in _options(subs["dns"])
    assert {"--disable-dns", "--cluster-domain"} <= _options(subs["server"])
    args = parser.parse_args(["server", "--disable-dns", "--disable-agent"])
    assert args.disable_dns and args.disable_agent and not args.disable_scheduler
    assert [c.name for c in embedded_components()][-1] == "dns"
    assert dataclasses.replace(dns, name="x-y").disable_dest == "disable_x_y"
