"""Processes the benchmarks drive: a throw-away etcd and ``kyb server`` subprocesses, plus an HTTPS client.

Owns process lifetimes only: ``Etcd`` (one single-member etcd on free 127.0.0.1 ports, data dir in a temp
dir) and ``Kyb`` (``python -m kybernetes.cli.main server --data-dir DIR --port 0 [--datastore URL]``, the
way a user starts it, URL read from its stdout, bearer token and CA read from the kubeconfig it writes).
Both run in their own process group and are stopped by pid (SIGTERM, then SIGKILL) — never by name.
Pods (and the embedded agent's containerd with its shims) outlive a ``kyb server`` stop by design, so
``Kyb.stop`` then runs ``kyb killall --data-dir DIR``, which stops exactly what that data dir started.
``Api`` is a small aiohttp wrapper (one pooled session, bearer token, the server's CA pinned) that the
benchmark modules (``api_writes``, ``list_latency``, ``watch_delay``) share; ``etcd_raw`` talks to etcd
directly. Everything binds and connects to 127.0.0.1 only; every wait is bounded by a deadline.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml

ETCD_BINARY = shutil.which("etcd") or "/usr/bin/etcd"
START_TIMEOUT_S = 60.0
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only, never a proxy


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop_group(proc: subprocess.Popen[Any] | None) -> None:
    """SIGTERM the process group of ``proc`` (started with start_new_session), SIGKILL after 15 s."""
    if proc is None:
        return
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds consumed so far by ``pid`` (0.0 if unknown or gone)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (fields 14, 15 of stat)


def etcd_version() -> str:
    try:
        out = subprocess.run([ETCD_BINARY, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    match = re.search(r"etcd Version:\s*(\S+)", out)
    return match.group(1) if match else "unknown"


class Etcd:
    """One single-member etcd bound to loopback, on fresh ports and a fresh data dir."""

    def __init__(self) -> None:
        self.client_port = 0
        self.data_dir: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> Etcd:
        last = "no attempt"
        for _ in range(3):  # a port picked then released may be taken meanwhile: retry a few times
            try:
                self._start_once()
                return self
            except RuntimeError as exc:
                last = str(exc)
                self.stop()
        raise RuntimeError(f"etcd did not start: {last}")

    def _start_once(self) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="kyb-bench-etcd-"))
        self.client_port, peer_port = _free_port(), _free_port()
        client, peer = f"http://127.0.0.1:{self.client_port}", f"http://127.0.0.1:{peer_port}"
        args = [
            ETCD_BINARY,
            "--name=kyb-bench",
            f"--data-dir={self.data_dir / 'data'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=kyb-bench={peer}",
            "--initial-cluster-state=new",
            "--quota-backend-bytes=4294967296",
            "--log-level=error",
            "--logger=zap",
        ]
        with open(self.data_dir / "etcd.log", "wb") as log:
            self.proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"etcd exited with {self.proc.returncode}")
            try:
                with _NO_PROXY.open(f"http://{self.endpoint}/health", timeout=1) as resp:
                    if resp.status == 200 and b'"health":"true"' in resp.read():
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("etcd not healthy after 30 s")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        _stop_group(proc)
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None


class Kyb:
    """One ``kyb server`` subprocess (HTTPS, bearer token) on SQLite (default) or ``datastore``."""

    def __init__(self, name: str, datastore: str | None = None, extra_args: list[str] | None = None) -> None:
        self.name = name
        self.datastore = datastore
        self.extra_args = list(extra_args or [])  # more ``kyb server`` flags
        self.data_dir = Path(tempfile.mkdtemp(prefix=f"kyb-bench-{name}-"))
        self.url = ""
        self.token = ""
        self.ca_pem = ""
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    def log_tail(self, chars: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""

    def start(self) -> Kyb:
        cmd = [sys.executable, "-m", "kybernetes.cli.main", "server", "--data-dir", str(self.data_dir)]
        cmd += ["--port", "0", "--bind-address", "127.0.0.1", "--log-level", "WARNING"]
        if self.datastore:
            cmd += ["--datastore", self.datastore]
        cmd += self.extra_args
        out_path = self.data_dir / "stdout.txt"
        with open(out_path, "wb") as out, open(self.log_path, "ab") as err:
            self.proc = subprocess.Popen(
                cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            match = re.search(r"listening on (\S+)", out_path.read_text(errors="replace"))
            if match:
                self.url = match.group(1)
                break
            if self.proc.poll() is not None:
                raise RuntimeError(f"kyb server ({self.name}) exited: {self.log_tail()}")
            time.sleep(0.05)
        else:
            raise RuntimeError(f"kyb server ({self.name}) did not print its URL within {START_TIMEOUT_S} s")
        self._read_kubeconfig()
        return self

    def _read_kubeconfig(self) -> None:
        path = self.data_dir / "kubeconfig"
        deadline = time.monotonic() + 10
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        config = yaml.safe_load(path.read_text())
        cluster = config["clusters"][0]["cluster"]
        self.token = config["users"][0]["user"]["token"]
        self.ca_pem = base64.b64decode(cluster["certificate-authority-data"]).decode()
        if not self.url.startswith("https://127.0.0.1:"):
            raise RuntimeError(f"refusing a non-loopback server URL {self.url!r}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        _stop_group(proc)
        if proc is not None:
            self.killall()

    def killall(self) -> None:
        """Stop the pods, containerd and shims this server's agent left running (they outlive the server)."""
        cmd = [sys.executable, "-m", "kybernetes.cli.main", "killall", "--data-dir", str(self.data_dir)]
        with open(self.log_path, "ab") as err:
            res = subprocess.run(
                cmd, stdout=err, stderr=err, stdin=subprocess.DEVNULL, timeout=120, check=False
            )
        if res.returncode != 0:
            print(f"  kyb killall ({self.name}) exited {res.returncode}: {self.log_tail(1000)}", flush=True)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


class ApiError(Exception):
    """A request answered with an unexpected status: carries what is needed to report it precisely."""

    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{method} {path} -> {status}: {body[:500]}")
        self.method, self.path, self.status, self.body = method, path, status, body


class Api:
    """A pooled HTTPS session to one ``Kyb`` (token + pinned CA). Use as ``async with Api(kyb) as api``."""

    def __init__(self, kyb: Kyb, *, pool: int = 64, timeout_s: float = 60.0) -> None:
        self.kyb = kyb
        self.base = kyb.url
        self.pool = pool
        self.timeout_s = timeout_s
        self.ssl = ssl.create_default_context(cadata=kyb.ca_pem)
        self.headers = {"Authorization": f"Bearer {kyb.token}"}
        self.session: aiohttp.ClientSession | None = None

    def new_session(
        self, *, pool: int, timeout: aiohttp.ClientTimeout | None = None
    ) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(ssl=self.ssl, limit=pool, limit_per_host=pool)
        return aiohttp.ClientSession(
            connector=connector,
            headers=self.headers,
            timeout=timeout or aiohttp.ClientTimeout(total=self.timeout_s),
            json_serialize=lambda obj: orjson.dumps(obj).decode(),
        )

    async def __aenter__(self) -> Api:
        self.session = self.new_session(pool=self.pool)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None

    @property
    def s(self) -> aiohttp.ClientSession:
        assert self.session is not None, "use Api as an async context manager"
        return self.session

    async def request(
        self, method: str, path: str, *, body: bytes | None = None, ok: tuple[int, ...] = (200, 201)
    ) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"} if body is not None else None
        async with self.s.request(method, self.base + path, data=body, headers=headers) as resp:
            data = await resp.read()
            if resp.status not in ok:
                raise ApiError(method, path, resp.status, data.decode(errors="replace"))
            return resp.status, data

    async def ensure_namespace(self, name: str) -> None:
        body = orjson.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        await self.request("POST", "/api/v1/namespaces", body=body, ok=(200, 201, 409))

    async def wait_ready(self, deadline_s: float = 30.0) -> None:
        """Wait (bounded) until the server answers an authenticated GET of a namespace list."""
        deadline = time.monotonic() + deadline_s
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                await self.request("GET", "/api/v1/namespaces")
                return
            except (aiohttp.ClientError, ApiError, TimeoutError) as exc:
                last = exc
                await asyncio.sleep(0.2)
        raise RuntimeError(f"server {self.base} not ready: {last}")


def pod_body(name: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """The minimal valid Pod every benchmark writes."""
    meta: dict[str, Any] = {"name": name}
    if annotations:
        meta["annotations"] = annotations
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
