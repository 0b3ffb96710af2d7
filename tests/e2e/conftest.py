"""A running ``kyb server`` (a real subprocess over HTTPS) driven by real kubectl and the official client.

``kyb`` is started exactly as a user starts it (``kyb server --data-dir ... --port 0``) on SQLite or on a
real etcd (a key prefix per server on the session etcd). ``kubectl`` runs with its own cache dir so
discovery and /version caches never leak between servers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
START_TIMEOUT = 60.0


class KybServer:
    """One ``kyb server`` process with its data dir, kubeconfig and a kubectl bound to it."""

    def __init__(self, datastore: str | None = None, *, data_dir: Path | None = None) -> None:
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="kyb-e2e-"))
        self.datastore = datastore
        self.kubeconfig = self.data_dir / "kubeconfig"
        self.cache_dir = self.data_dir / "kubectl-cache"
        self.url = ""
        self.proc: subprocess.Popen[str] | None = None
        self.log_path = self.data_dir / "server.log"

    def start(self) -> KybServer:
        cmd = [sys.executable, "-m", "kybernetes.cli.main", "server", "--data-dir", str(self.data_dir), "--port", "0"]
        if self.datastore:
            cmd += ["--datastore", self.datastore]
        log = self.log_path.open("a")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"kyb server exited: {self.log_path.read_text()[-3000:]}")
                continue
            match = re.search(r"listening on (\S+)", line)
            if match:
                self.url = match.group(1)
                break
        else:
            raise RuntimeError("kyb server did not start in time")
        return self

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        code = self.proc.returncode
        self.proc = None
        return code

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "KUBECACHEDIR": str(self.cache_dir)}
        env.pop("KUBERNETES_SERVICE_HOST", None)
        result = subprocess.run(
            [KUBECTL, "--cache-dir", str(self.cache_dir), *args],
            input=input,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def api_client(self) -> Any:
        from kubernetes import client, config

        configuration = client.Configuration()
        config.load_kube_config(config_file=str(self.kubeconfig), client_configuration=configuration)
        return client.ApiClient(configuration)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("etcd", marks=pytest.mark.etcd)])
def kyb(request: pytest.FixtureRequest) -> Iterator[KybServer]:
    """A running server per test module, on each backend."""
    datastore = None
    if request.param == "etcd":
        endpoint = request.getfixturevalue("etcd_endpoint")
        datastore = f"etcd://{endpoint}/kyb-{uuid.uuid4().hex[:10]}"
    server = KybServer(datastore).start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="module")
def kyb_sqlite() -> Iterator[KybServer]:
    """A running server on the embedded store only (for tests that are about the server, not the store)."""
    server = KybServer().start()
    try:
        yield server
    finally:
        server.cleanup()
