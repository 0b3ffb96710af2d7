"""One home per kind: the generic store, handlers, operations and subresource routing name no kind, and
every built-in kind has its strategy registered (``apiserver/strategies``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import kybernetes.apiserver as apiserver_pkg
from kybernetes.api.registry import BUILTIN_RESOURCES, Registry
from kybernetes.apiserver.strategies import STRATEGIES, strategy_for
from kybernetes.apiserver.strategies.base import Strategy

GENERIC = ("resource_store.py", "handlers.py", "operations.py", "subresources.py")
# Every kind, plural and group a built-in row names: none may appear as a literal in the generic path.
KIND_WORDS = (
    {r.kind for r in BUILTIN_RESOURCES}
    | {r.plural for r in BUILTIN_RESOURCES}
    | {r.group for r in BUILTIN_RESOURCES if r.group}
)


@pytest.mark.parametrize("module", GENERIC)
def test_generic_path_names_no_kind(module: str) -> None:
    source = (Path(apiserver_pkg.__file__).parent / module).read_text()
    found = [
        (node.lineno, node.value)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in KIND_WORDS
    ]
    assert found == []


def test_every_builtin_kind_has_its_strategy() -> None:
    for res in BUILTIN_RESOURCES:
        cls = STRATEGIES.get((res.group, res.kind))
        assert cls is not None and issubclass(cls, Strategy), res.kind
        assert type(strategy_for(res)) is cls


def test_behaviour_is_bound_by_the_strategy() -> None:
    reg = Registry.builtin()
    pods = reg.get("", "v1", "pods")
    namespaces = reg.get("", "v1", "namespaces")
    deployments = reg.get("apps", "v1", "deployments")
    bindings = reg.get("", "v1", "bindings")
    assert pods and namespaces and deployments and bindings
    assert strategy_for(deployments).tracks_generation and not strategy_for(pods).tracks_generation
    assert strategy_for(namespaces).deletion_always_pending and not strategy_for(pods).deletion_always_pending
    assert strategy_for(bindings).create_as_subresource == ("pods", "binding")
    assert [c["name"] for c in strategy_for(pods).to_table([])["columnDefinitions"]][:3] == [
        "Name",
        "Ready",
        "Status",
    ]
