"""A throw-away real etcd for tests: free 127.0.0.1 ports, a temporary data dir, health-checked start.

Usable as ``with EtcdServer() as srv:`` or ``async with EtcdServer() as srv:`` (the blocking start/stop
then run in a worker thread); ``srv.endpoint`` is ``"127.0.0.1:PORT"``. The process runs in its own
process group, which is terminated (then killed) and reaped on exit; the data dir is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from types import TracebackType

ETCD_BINARY = shutil.which("etcd") or "/usr/bin/etcd"


def etcd_available() -> bool:
    return os.access(ETCD_BINARY, os.X_OK)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EtcdServer:
    """One single-member etcd cluster bound to loopback."""

    def __init__(self, *, start_timeout: float = 30.0) -> None:
        self.start_timeout = start_timeout
        self.client_port = 0
        self.peer_port = 0
        self.data_dir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    def start(self) -> None:
        last_error = "no attempt made"
        for _ in range(3):  # ports are picked then released: retry if someone grabbed one meanwhile
            try:
                self._start_once()
                return
            except RuntimeError as exc:
                last_error = str(exc)
                self.stop()
        raise RuntimeError(f"etcd did not start: {last_error}")

    def _start_once(self) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="kyb-etcd-"))
        self._log = self.data_dir / "etcd.log"
        self.client_port, self.peer_port = _free_port(), _free_port()
        client = f"http://127.0.0.1:{self.client_port}"
        peer = f"http://127.0.0.1:{self.peer_port}"
        args = [
            ETCD_BINARY,
            "--name=kyb-test",
            f"--data-dir={self.data_dir / 'data'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=kyb-test={peer}",
            "--initial-cluster-state=new",
            "--log-level=error",
            "--logger=zap",
        ]
        with open(self._log, "wb") as log:
            self.process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"etcd exited with {self.process.returncode}: {self._tail()}")
            if self._healthy():
                return
            time.sleep(0.05)
        raise RuntimeError(f"etcd not healthy after {self.start_timeout}s: {self._tail()}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.endpoint}/health", timeout=1) as resp:
                return resp.status == 200 and b'"health":"true"' in resp.read()
        except OSError:
            return False

    def _tail(self) -> str:
        if self._log is None or not self._log.exists():
            return ""
        return self._log.read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        elif proc is not None:
            proc.wait()
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None

    def __enter__(self) -> EtcdServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> EtcdServer:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)
