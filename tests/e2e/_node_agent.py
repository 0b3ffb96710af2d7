"""Helpers for the node agent e2e suite: ``kyb server`` with its embedded agent on a real runtime.

``NodeServer`` wraps a ``KybServer`` (scheduler, controller manager and embedded kubelet) on the
``process`` or ``containerd`` runtime; for containerd it imports a locally built busybox image
(``kyb images import``). Pods, containerd and its shims outlive a ``kyb server`` stop by design (they are
re-attached and adopted at the next start: ``restart``); ``stop`` therefore ends with ``kyb killall
--data-dir`` (the explicit stop) and then checks that nothing mentioning the data dir is left running. ``Flavor`` holds what differs between runtimes in the pods the tests create (image,
commands). Containerd needs root, containerd, runc, CNI plugins, umoci and busybox-static: without them
the containerd tests are skipped, or fail when ``CI=true``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import KybServer, LineReader, unique, wait_for

__all__ = [
    "BUSYBOX_IMAGE",
    "Flavor",
    "NodeServer",
    "condition",
    "container_status",
    "free_port",
    "leftover_processes",
    "require_containerd",
    "unique",
    "wait_for",
]

BUSYBOX_IMAGE = "kybernetes.local/busybox:e2e"
CMD_TIMEOUT = 60.0
_archive_cache: dict[str, Path] = {}


# --- containerd prerequisites -------------------------------------------------------------------------------
def containerd_missing() -> str:
    """Why the containerd tests cannot run here ("" when they can)."""
    from kybernetes.kubelet.runtimes.containerd_supervisor import containerd_available
    from kybernetes.kubelet.runtimes.images import image_tools_available

    if os.geteuid() != 0:
        return "containerd tests need root"
    if not containerd_available():
        return "containerd/runc not installed (make containerd-deps)"
    if not image_tools_available():
        return "umoci/busybox-static not installed (make containerd-deps)"
    if not os.path.exists("/usr/lib/cni/bridge"):
        return "CNI plugins not installed (make containerd-deps)"
    if shutil.which("ctr") is None:
        return "ctr not installed (make containerd-deps)"
    return ""


def require_containerd() -> None:
    """Skip when containerd cannot run here; under ``CI=true`` fail instead."""
    missing = containerd_missing()
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(missing)
        pytest.skip(missing)


def busybox_archive() -> Path:
    """An OCI archive of busybox whose index names it ``BUSYBOX_IMAGE`` in full (built once per session),
    so ``kyb images import`` gives it that name without a base name."""
    cached = _archive_cache.get("busybox")
    if cached is not None and cached.exists():
        return cached
    from kybernetes.kubelet.runtimes.images import build_busybox_image

    tmp = Path(tempfile.mkdtemp(prefix="kyb-e2e-image-"))
    import atexit

    atexit.register(shutil.rmtree, tmp, True)
    built = asyncio.run(
        asyncio.wait_for(
            build_busybox_image(tmp / "busybox.tar", tag="e2e", cmd=("/bin/sh",)),
            timeout=CMD_TIMEOUT * 2,
        )
    )
    layout = tmp / "layout"
    layout.mkdir()
    with tarfile.open(built) as tar:
        tar.extractall(layout, filter="tar")
    index = json.loads((layout / "index.json").read_text())
    for manifest in index["manifests"]:
        annotations = manifest.setdefault("annotations", {})
        annotations["org.opencontainers.image.ref.name"] = BUSYBOX_IMAGE
        annotations["io.containerd.image.name"] = BUSYBOX_IMAGE
    (layout / "index.json").write_text(json.dumps(index))
    out = tmp / "busybox-named.tar"
    with tarfile.open(out, "w") as tar:
        for child in sorted(layout.iterdir()):
            tar.add(child, arcname=child.name)
    _archive_cache["busybox"] = out
    return out


# --- processes ----------------------------------------------------------------------------------------------
def leftover_processes(marker: str) -> list[tuple[int, str]]:
    """Processes (pid, command line) whose command line mentions ``marker`` (a data directory)."""
    found: list[tuple[int, str]] = []
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            raw = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state == "Z":
            continue  # zombies of shims reaped late by PID 1 (host-facts.md)
        cmdline = raw.replace(b"\0", b" ").decode(errors="replace").strip()
        if marker in cmdline:
            found.append((int(entry.name), cmdline))
    return found


def kill_pids(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def kyb_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "kybernetes.cli.main", *args]


# --- pods ---------------------------------------------------------------------------------------------------
def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond
    return {}


def container_status(pod: dict[str, Any], name: str, *, init: bool = False) -> dict[str, Any]:
    key = "initContainerStatuses" if init else "containerStatuses"
    for status in (pod.get("status") or {}).get(key) or []:
        if status.get("name") == name:
            return status
    return {}


@dataclass(frozen=True)
class Flavor:
    """What differs between runtimes in the pods the tests create."""

    runtime: str

    @property
    def image(self) -> str:
        # the process runtime records the image name and never pulls; containerd has it imported
        return BUSYBOX_IMAGE if self.runtime == "containerd" else "busybox"

    def container(self, name: str, script: str, **extra: Any) -> dict[str, Any]:
        return {
            "name": name,
            "image": self.image,
            "imagePullPolicy": "Never",
            "command": ["sh", "-c", script],
            **extra,
        }

    def http_server(self, port: int, body: str) -> str:
        """A shell script serving ``body`` as ``/index.html`` on ``port`` (busybox httpd in a container,
        the host's python3 on the process runtime, which shares the host network: loopback only)."""
        if self.runtime == "containerd":
            return f"mkdir -p /www && echo {body} > /www/index.html && exec httpd -f -p {port} -h /www"
        return (
            f"mkdir -p www && echo {body} > www/index.html && "
            f"exec python3 -m http.server {port} --bind 127.0.0.1 --directory www"
        )


class NodeServer:
    """``kyb server`` with the embedded agent on one runtime, driven through real kubectl."""

    def __init__(self, runtime: str, *, extra_args: list[str] | None = None) -> None:
        self.runtime = runtime
        self.flavor = Flavor(runtime)
        self.node_name = unique("node")
        # a short data dir: containerd's socket path must stay under the unix socket length limit
        data_dir = Path(tempfile.mkdtemp(prefix="kybn-", dir="/tmp"))
        self.server = KybServer(
            components=True,
            agent=True,
            data_dir=data_dir,
            extra_args=["--runtime", runtime, "--node-name", self.node_name, *(extra_args or [])],
        )
        self.data_dir = data_dir
        self.leftovers: list[tuple[int, str]] = []

    # delegation
    def kubectl(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        kwargs.setdefault("timeout", CMD_TIMEOUT)
        return self.server.kubectl(*args, **kwargs)

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def server_log(self, lines: int = 60) -> str:
        try:
            text = self.server.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def start(self) -> NodeServer:
        if self.runtime == "containerd":
            archive = busybox_archive()
        self.server.start()
        wait_for(self._node_ready, timeout=60, interval=0.5, what=f"node {self.node_name} Ready")
        if self.runtime == "containerd":
            out = subprocess.run(
                kyb_cmd("images", "import", str(archive), "--data-dir", str(self.data_dir)),
                capture_output=True,
                text=True,
                timeout=CMD_TIMEOUT * 2,
            )
            assert out.returncode == 0, (out.stdout, out.stderr)
            assert f"imported {BUSYBOX_IMAGE}" in out.stdout, out.stdout
        return self

    def _node_ready(self) -> bool:
        res = self.kubectl("get", "node", self.node_name, "-o", "json", check=False)
        if res.returncode != 0:
            return False
        return condition(json.loads(res.stdout), "Ready").get("status") == "True"

    def containerd_processes(self) -> list[tuple[int, str]]:
        return leftover_processes(str(self.data_dir))

    def restart(self, sig: int = signal.SIGTERM) -> None:
        """Stop the server with ``sig`` (its whole process group) and start it again on the same data dir."""
        self.server.stop(sig)
        self.server.start()
        wait_for(self._node_ready, timeout=60, interval=0.5, what=f"node {self.node_name} Ready again")

    def killall(self) -> subprocess.CompletedProcess[str]:
        """``kyb killall --data-dir``: the explicit stop of the server, its pods, containerd and shims."""
        return subprocess.run(
            kyb_cmd("killall", "--data-dir", str(self.data_dir)),
            capture_output=True,
            text=True,
            timeout=CMD_TIMEOUT * 2,
            check=False,
        )

    def stop(self) -> None:
        """Delete every pod, stop the server, ``kyb killall`` what outlives it by design (containerd and
        its shims), then make sure nothing that mentions the data dir is still running (killed by pid and
        recorded in ``leftovers``)."""
        if self.server.proc is not None and self.server.proc.poll() is None:
            self.kubectl(
                "delete", "pods", "--all", "-A", "--grace-period=1", "--timeout=60s", check=False, timeout=90
            )
        self.server.stop()
        killed = self.killall()
        if killed.returncode != 0:
            print(f"kyb killall: rc={killed.returncode} {killed.stdout} {killed.stderr[-2000:]}")
        deadline = time.monotonic() + 15
        left = self.containerd_processes()
        while left and time.monotonic() < deadline:
            time.sleep(0.5)
            left = self.containerd_processes()
        self.leftovers = left
        kill_pids([pid for pid, _ in left])

    def cleanup(self) -> None:
        self.stop()
        self._unmount_all()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def _unmount_all(self) -> None:
        """Unmount anything left under the data dir (containerd's rootfs/shm mounts if it died badly)."""
        try:
            mounts = Path("/proc/self/mounts").read_text().splitlines()
        except OSError:
            return
        targets = [line.split()[1] for line in mounts if len(line.split()) > 1]
        prefix = str(self.data_dir)
        for target in sorted((t for t in targets if t.startswith(prefix)), key=len, reverse=True):
            subprocess.run(["umount", "-l", target], capture_output=True, timeout=10, check=False)

    # --- namespaces and pods ------------------------------------------------------------------------------
    def namespace(self) -> str:
        name = self.server.create_namespace()
        wait_for(
            lambda: self.kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode == 0,
            timeout=30,
            what=f"default service account in {name}",
        )
        return name

    def apply(self, obj: dict[str, Any]) -> None:
        self.kubectl("apply", "-f", "-", input=json.dumps(obj))

    def pod(self, ns: str, name: str) -> dict[str, Any]:
        return self.kubectl_json("get", "pod", name, "-n", ns)

    def create_pod(
        self, ns: str, name: str, spec: dict[str, Any], labels: dict[str, str] | None = None
    ) -> None:
        spec = {"terminationGracePeriodSeconds": 2, **spec}
        self.apply(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
                "spec": spec,
            }
        )

    def wait_pod(self, ns: str, name: str, predicate: Any, *, timeout: float = 60, what: str = "") -> Any:
        last: dict[str, Any] = {}

        def check() -> Any:
            nonlocal last
            res = self.kubectl("get", "pod", name, "-n", ns, "-o", "json", check=False)
            if res.returncode != 0:
                return None
            last = json.loads(res.stdout)
            return predicate(last) and last

        try:
            return wait_for(check, timeout=timeout, interval=0.3, what=what or f"pod {ns}/{name}")
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}\npod status: {json.dumps(last.get('status'), indent=1)[:3000]}\n"
                f"server.log tail:\n{self.server_log(40)}"
            ) from None

    def wait_running(self, ns: str, name: str, *, timeout: float = 60) -> dict[str, Any]:
        return self.wait_pod(
            ns,
            name,
            lambda p: (
                (p.get("status") or {}).get("phase") == "Running"
                and all(
                    (s.get("state") or {}).get("running")
                    for s in p["status"].get("containerStatuses") or [{}]
                )
            ),
            timeout=timeout,
            what=f"pod {ns}/{name} Running",
        )

    def logs(self, ns: str, name: str, *args: str, check: bool = True) -> str:
        return self.kubectl("logs", name, "-n", ns, *args, check=check).stdout

    def wait_logs(self, ns: str, name: str, needle: str, *args: str, timeout: float = 30) -> str:
        last: list[subprocess.CompletedProcess[str]] = []

        def check() -> str:
            res = self.kubectl("logs", name, "-n", ns, *args, check=False)
            last[:] = [res]
            return res.stdout if res.returncode == 0 and needle in res.stdout else ""

        try:
            return wait_for(
                check, timeout=timeout, interval=0.3, what=f"{needle!r} in logs of {ns}/{name} {args}"
            )
        except AssertionError as exc:
            res = last[0] if last else None
            detail = (
                f"rc={res.returncode} stdout={res.stdout[-500:]!r} stderr={res.stderr[-1000:]!r}"
                if res
                else ""
            )
            raise AssertionError(
                f"{exc}\nlast kubectl logs: {detail}\nserver.log:\n{self.server_log(30)}"
            ) from None


def iter_lines(text: str) -> Iterator[str]:
    yield from (line for line in text.splitlines() if line.strip())


RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}) ")


# --- shared fixtures bodies -------------------------------------------------------------------------------
# Each test module declares its own ``node``/``ns`` fixtures (scope and params are the module's choice) and
# delegates the body here, so the set-up and the leftover checks are one piece of code.
NODE_RUNTIMES = ["process", "containerd"]


def serve_node(runtime: str, *, check_leftovers: bool = False) -> Iterator[NodeServer]:
    """Start a ``NodeServer`` on ``runtime`` (skipping containerd where it cannot run), yield it, clean up,
    then assert no process outlived it: always for containerd, for every runtime with ``check_leftovers``."""
    if runtime == "containerd":
        require_containerd()
    server = NodeServer(runtime)
    try:
        server.start()
        yield server
    finally:
        server.cleanup()
    if check_leftovers or runtime == "containerd":
        assert not server.leftovers, f"processes outlived kyb server and killall: {server.leftovers}"


def node_namespace(node: NodeServer) -> Iterator[str]:
    """A fresh namespace for a test; its pods are deleted afterwards while the server still runs."""
    name = node.namespace()
    yield name
    if node.server.proc is not None and node.server.proc.poll() is None:
        node.kubectl("delete", "pods", "--all", "-n", name, "--timeout=60s", check=False, timeout=90)


def assert_port_forward_serves(reader: LineReader, token: str) -> None:
    """Through a running ``kubectl port-forward`` (its output read by ``reader``), the pod's /index.html
    holds ``token`` on a first and a second connection, and kubectl reports no error; stops the forward."""
    try:
        line = reader.wait_line(lambda s: s.startswith("Forwarding from 127.0.0.1:"), timeout=30)
        local = int(line.split("127.0.0.1:")[1].split()[0])

        def fetch() -> str:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{local}/index.html", timeout=5) as resp:
                    return resp.read().decode()
            except OSError:
                return ""

        body = wait_for(fetch, timeout=30, interval=0.5, what="a response through port-forward")
        assert body.strip() == token, body
        # a second connection through the same forward
        assert fetch().strip() == token
    finally:
        stderr = reader.stop()
    assert "error" not in stderr.lower(), stderr
