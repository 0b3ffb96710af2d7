"""What a test needs from the machine, and what happens when it is missing: a skip on a developer's machine,
a failure when ``CI=true`` (CI must run every test, so a missing tool there is a broken job, not a pass).

``unavailable(message)`` is that rule; ``require_kubectl()`` applies it to ``/usr/bin/kubectl``. Tests marked
``kubectl`` get ``require_kubectl()`` before they run (``tests/conftest.py``), as the session etcd fixture
does for etcd.
"""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def unavailable(message: str) -> NoReturn:
    """Skip the running test because ``message`` is missing here; under ``CI=true`` fail it instead."""
    if in_ci():
        pytest.fail(f"{message} (CI=true: required)", pytrace=False)
    pytest.skip(message)


def kubectl_available() -> bool:
    return os.access(KUBECTL, os.X_OK)


def require_kubectl() -> None:
    if not kubectl_available():
        unavailable(f"kubectl not installed (looked for {KUBECTL})")


def require_root(what: str) -> None:
    if os.geteuid() != 0:
        unavailable(f"{what} need root")
