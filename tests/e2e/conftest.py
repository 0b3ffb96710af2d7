"""A running ``kyb server`` (a real subprocess over HTTPS) driven by real kubectl and the official client.

``kyb`` is started exactly as a user starts it (``kyb server --data-dir ... --port 0``) on SQLite or on a
real etcd (a key prefix per server on the session etcd). ``kubectl`` runs with its own cache dir so
discovery and /version caches never leak between servers.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import pytest

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
START_TIMEOUT = 60.0

T = TypeVar("T")


def wait_for(check: Callable[[], T], *, timeout: float = 15.0, interval: float = 0.1, what: str = "") -> T:
    """Poll ``check`` until it returns a truthy value (returned) or ``timeout`` passes (AssertionError)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check}: last={last!r}")
        time.sleep(interval)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    warnings: list[str] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.body)


class LineReader:
    """Reads a subprocess's stdout on a thread so tests can wait for lines with a bound."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_line(self, predicate: Callable[[str], bool], *, timeout: float = 15.0, start: int = 0) -> str:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines[start:]:
                    if predicate(line):
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no matching line within {timeout}s; got {self.lines!r}")
                self._cond.wait(remaining)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._thread.join(timeout=5)
        stderr = self.proc.stderr.read() if self.proc.stderr else ""
        return stderr


class KybServer:
    """One ``kyb server`` process with its data dir, kubeconfig and a kubectl bound to it."""

    def __init__(
        self,
        datastore: str | None = None,
        *,
        data_dir: Path | None = None,
        components: bool = False,
        agent: bool = False,
        extra_args: list[str] | None = None,
    ) -> None:
        """``components=False`` runs the API server alone (the API suite asserts what the server itself
        does, like upstream's apiserver integration tests); True adds the embedded scheduler and
        controller manager, as ``kyb server`` runs by default; ``agent=True`` also runs the embedded node
        agent (kubelet) for this machine."""
        self.components = components
        self.agent = agent
        self.extra_args = list(extra_args or [])
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="kyb-e2e-"))
        self.datastore = datastore
        self.kubeconfig = self.data_dir / "kubeconfig"
        self.cache_dir = self.data_dir / "kubectl-cache"
        self.url = ""
        self.proc: subprocess.Popen[str] | None = None
        self.log_path = self.data_dir / "server.log"

    def start(self) -> KybServer:
        cmd = [
            sys.executable,
            "-m",
            "kybernetes.cli.main",
            "server",
            "--data-dir",
            str(self.data_dir),
            "--port",
            "0",
        ]
        if self.datastore:
            cmd += ["--datastore", self.datastore]
        if not self.components:
            cmd += ["--disable-scheduler", "--disable-controller-manager"]
        if not self.agent:
            cmd += ["--disable-agent"]
        cmd += self.extra_args
        log = self.log_path.open("a")
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True
        )
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
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        timeout: float = 60.0,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "KUBECACHEDIR": str(self.cache_dir),
            **(env or {}),
        }
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

    def kubectl_bg(self, *args: str) -> LineReader:
        """Start a long-running kubectl (``get -w``); the caller must ``stop()`` the returned reader."""
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "KUBECACHEDIR": str(self.cache_dir)}
        env.pop("KUBERNETES_SERVICE_HOST", None)
        proc = subprocess.Popen(
            [KUBECTL, "--cache-dir", str(self.cache_dir), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        return LineReader(proc)

    def _kubeconfig_parts(self) -> tuple[str, bytes, str]:
        import yaml

        cfg = yaml.safe_load(self.kubeconfig.read_text())
        cluster = cfg["clusters"][0]["cluster"]
        user = cfg["users"][0]["user"]
        return cluster["server"], base64.b64decode(cluster["certificate-authority-data"]), user["token"]

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, Any] | None = None,
        content_type: str = "application/json",
        accept: str = "application/json",
        timeout: float = 30.0,
    ) -> RawResponse:
        """One raw HTTPS request with the admin token; ``body`` may be bytes, str or a JSON-able value."""
        server, ca, token = self._kubeconfig_parts()
        parts = urlsplit(server)
        ctx = ssl.create_default_context(cadata=ca.decode())
        conn = http.client.HTTPSConnection(
            parts.hostname or "127.0.0.1", parts.port, context=ctx, timeout=timeout
        )
        if query:
            path = f"{path}?{urlencode(query)}"
        data: bytes | None
        if body is None:
            data = None
        elif isinstance(body, bytes):
            data = body
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {token}", "Accept": accept}
        if data is not None and content_type:
            headers["Content-Type"] = content_type
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
            warnings = [v for k, v in resp.getheaders() if k.lower() == "warning"]
            return RawResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, payload, warnings)
        finally:
            conn.close()

    def create_namespace(self, name: str | None = None) -> str:
        name = name or unique("e2e")
        resp = self.request(
            "POST",
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
        )
        assert resp.status == 201, (resp.status, resp.body[:500])
        return name

    def api_client(self) -> Any:
        from kubernetes import client, config

        configuration = client.Configuration()
        config.load_kube_config(config_file=str(self.kubeconfig), client_configuration=configuration)
        api = client.ApiClient(configuration)
        if os.environ.get("KYB_E2E_CLIENT_CONTENT_TYPE"):
            # Diagnostic switch only (off by default): the official client sends POST/PUT bodies without a
            # Content-Type; upstream treats that as JSON. Set this to look past a server that does not.
            rest = api.rest_client
            original = rest.request

            def request(method: str, url: str, headers: dict | None = None, *args: Any, **kwargs: Any) -> Any:
                headers = dict(headers or {})
                if method in ("POST", "PUT") and not any(k.lower() == "content-type" for k in headers):
                    headers["Content-Type"] = "application/json"
                return original(method, url, headers, *args, **kwargs)

            rest.request = request
        return api

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


@pytest.fixture
def ns(request: pytest.FixtureRequest) -> str:
    """A fresh namespace on the module's server (``kyb`` or ``kyb_sqlite``, whichever the test uses)."""
    server: KybServer
    if "kyb_sqlite" in request.fixturenames:
        server = request.getfixturevalue("kyb_sqlite")
    else:
        server = request.getfixturevalue("kyb")
    return server.create_namespace()
