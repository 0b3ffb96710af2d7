"""Probes on the process runtime: a failing liveness exec probe restarts the container (Unhealthy and
Killing events), a readiness probe flips Ready both ways, httpGet and tcpSocket handlers."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from kybernetes.client import ApiClient
from kybernetes.kubelet.probe_handlers import HandlerTarget, resolve_port, run_handler
from tests.controllers._node_fixtures import api, server
from tests.kubelet.test_agent_fixtures import (
    conditions,
    container_status,
    pod_spec,
    running_kubelet,
    sh,
    wait_pod,
)

__all__ = ["api", "server"]


def _exec_probe(command: str, **extra: int) -> dict:
    return {"exec": {"command": ["/bin/sh", "-c", command]}, "periodSeconds": 1, **extra}


async def test_liveness_failure_restarts_container(api: ApiClient, tmp_path: Path) -> None:
    healthy = tmp_path / "healthy"
    container = sh(
        "c",
        "exec sleep 300",
        livenessProbe=_exec_probe(f"test -f {healthy}", failureThreshold=2),
    )
    async with running_kubelet(api, tmp_path, probe_time_scale=0.2):
        await api.pods.create(pod_spec("live", [container], grace=1))
        pod = await wait_pod(
            api, "live", lambda p: container_status(p).get("restartCount", 0) >= 1, timeout=20
        )
        assert pod["status"]["phase"] == "Running"
        last = container_status(pod)["lastState"]["terminated"]
        assert last["exitCode"] != 0
        events = (await api.events.list(namespace="default"))["items"]
        messages = {(e["reason"], e["message"]) for e in events if e["involvedObject"]["name"] == "live"}
        assert ("Killing", "Container c failed liveness probe, will be restarted") in messages
        assert any(r == "Unhealthy" and m.startswith("Liveness probe failed") for r, m in messages)


async def test_readiness_probe_flips_ready(api: ApiClient, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    container = sh("c", "exec sleep 300", readinessProbe=_exec_probe(f"test -f {ready}", failureThreshold=1))
    async with running_kubelet(api, tmp_path, probe_time_scale=0.2):
        await api.pods.create(pod_spec("ready", [container]))
        pod = await wait_pod(api, "ready", lambda p: p["status"].get("phase") == "Running")
        assert conditions(pod)["Ready"] == "False"
        assert container_status(pod)["ready"] is False
        ready.touch()
        pod = await wait_pod(api, "ready", lambda p: conditions(p).get("Ready") == "True", what="Ready")
        assert conditions(pod)["ContainersReady"] == "True"
        ready.unlink()
        pod = await wait_pod(api, "ready", lambda p: conditions(p).get("Ready") == "False", what="unready")
        assert container_status(pod)["restartCount"] == 0


async def test_startup_probe_gates_readiness(api: ApiClient, tmp_path: Path) -> None:
    started = tmp_path / "started"
    container = sh(
        "c",
        "exec sleep 300",
        startupProbe=_exec_probe(f"test -f {started}", failureThreshold=100),
        readinessProbe=_exec_probe("true"),
    )
    async with running_kubelet(api, tmp_path, probe_time_scale=0.2):
        await api.pods.create(pod_spec("startup", [container]))
        pod = await wait_pod(api, "startup", lambda p: p["status"].get("phase") == "Running")
        await asyncio.sleep(0.6)
        pod = await api.pods.get("startup", namespace="default")
        assert container_status(pod)["started"] is False
        assert conditions(pod)["Ready"] == "False"
        started.touch()
        pod = await wait_pod(api, "startup", lambda p: conditions(p).get("Ready") == "True")
        assert container_status(pod)["started"] is True


async def test_http_and_tcp_handlers() -> None:
    async def handler(request: web.Request) -> web.Response:
        if request.headers.get("X-Probe") != "yes":
            return web.Response(status=500)
        return web.Response(text="fine")

    app = web.Application()
    app.router.add_get("/healthz", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    container = {"name": "c", "ports": [{"name": "http", "containerPort": port}]}
    target = HandlerTarget(None, "", container, "127.0.0.1")  # type: ignore[arg-type]
    try:
        assert resolve_port("http", container) == port
        get = {
            "httpGet": {
                "path": "/healthz",
                "port": "http",
                "httpHeaders": [{"name": "X-Probe", "value": "yes"}],
            }
        }
        assert await run_handler(get, target, 2) == (True, "fine")
        bad = {"httpGet": {"path": "/healthz", "port": port}}
        assert await run_handler(bad, target, 2) == (False, "HTTP probe failed with statuscode: 500")
        assert (await run_handler({"tcpSocket": {"port": port}}, target, 2))[0] is True
    finally:
        await runner.cleanup()
    ok, message = await run_handler({"tcpSocket": {"port": port}}, target, 2)
    assert not ok and "connect" in message
