"""A missing tool skips a test on a developer's machine and fails it under ``CI=true`` (``tests/needs.py``)."""

from __future__ import annotations

import pytest

from tests import needs


def test_unavailable_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="frobnicator"):
        needs.unavailable("frobnicator not installed")


@pytest.mark.parametrize("value", ["true", "TRUE", "True"])
def test_unavailable_fails_under_ci(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="frobnicator"):
        needs.unavailable("frobnicator not installed")


def test_missing_kubectl_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(needs, "KUBECTL", "/nonexistent/kubectl")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="kubectl not installed"):
        needs.require_kubectl()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="kubectl not installed"):
        needs.require_kubectl()


@pytest.mark.kubectl
def test_kubectl_marker_runs_with_kubectl_present() -> None:
    """On this machine kubectl is installed, so a ``kubectl``-marked test runs (the hook neither skips nor
    fails it)."""
    assert needs.kubectl_available()
