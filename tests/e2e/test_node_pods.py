"""The pod lifecycle end to end on a real node: real kubectl against ``kyb server`` with its embedded agent,
on the ``process`` runtime everywhere and on ``containerd`` when root (``CI=true``: must run).

One server per runtime for the module; each test gets its own namespace and deletes its pods at the end.
Covered: logs (``-f``, ``--tail``, ``--timestamps``, ``-c``, ``--previous``), exec (output, exit codes,
stdin), liveness restarts and CrashLoopBackOff with growing back-off, init containers in order, readiness
flipping Ready, OOMKilled, graceful deletion (preStop, SIGTERM, SIGKILL after the grace period), configMap
and secret volumes and env, port-forward.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e._node_agent import (
    NODE_RUNTIMES,
    RFC3339,
    NodeServer,
    assert_port_forward_serves,
    condition,
    container_status,
    free_port,
    iter_lines,
    node_namespace,
    serve_node,
    unique,
    wait_for,
)
from tests.needs import require_root

pytestmark = [pytest.mark.kubectl, pytest.mark.timeout(240)]


@pytest.fixture(scope="module", params=NODE_RUNTIMES)
def node(request: pytest.FixtureRequest) -> Iterator[NodeServer]:
    yield from serve_node(request.param)


@pytest.fixture
def ns(node: NodeServer) -> Iterator[str]:
    yield from node_namespace(node)
    remove_mount_targets()


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A host directory for hostPath mounts (the same path inside the container)."""
    path = Path(f"/tmp/{unique('kyb-e2e-host')}")
    path.mkdir(mode=0o777)
    try:
        yield path
    finally:
        import shutil

        shutil.rmtree(path, ignore_errors=True)


_vol_paths: list[str] = []


def vol_path() -> str:
    """A mount path unique to the test (on the process runtime, mount targets are host paths)."""
    path = f"/tmp/{unique('kyb-e2e-vol')}"
    _vol_paths.append(path)
    return path


def remove_mount_targets() -> None:
    """Remove the (empty) mount targets the process runtime left on the host once the pods are gone
    (``test_process_runtime_removes_mount_targets`` is the test for that)."""
    while _vol_paths:
        path = _vol_paths.pop()
        for root, dirs, _files in os.walk(path, topdown=False):
            for d in dirs:
                with contextlib.suppress(OSError):
                    os.rmdir(os.path.join(root, d))
        with contextlib.suppress(OSError):
            os.rmdir(path)


# --- 1. logs ------------------------------------------------------------------------------------------------
def test_logs_containers_tail_timestamps_follow(node: NodeServer, ns: str) -> None:
    f = node.flavor
    node.create_pod(
        ns,
        "logs",
        {
            "containers": [
                f.container("first", "for i in 1 2 3; do echo first-$i; done; exec sleep 600"),
                f.container("second", "i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.5; done"),
            ]
        },
    )
    node.wait_running(ns, "logs")
    assert node.wait_logs(ns, "logs", "first-3", "-c", "first").split() == ["first-1", "first-2", "first-3"]
    node.wait_logs(ns, "logs", "tick-3", "-c", "second")
    # --tail
    assert node.logs(ns, "logs", "-c", "first", "--tail", "1").split() == ["first-3"]
    assert node.logs(ns, "logs", "-c", "first", "--tail=2").split() == ["first-2", "first-3"]
    # --timestamps: RFC 3339 prefix on every line
    stamped = list(iter_lines(node.logs(ns, "logs", "-c", "first", "--timestamps")))
    assert len(stamped) == 3, stamped
    for line, want in zip(stamped, ["first-1", "first-2", "first-3"], strict=True):
        assert RFC3339.match(line), line
        assert line.endswith(" " + want), line
    # without -c on a two-container pod: upstream kubectl picks the default (first) container
    default = node.kubectl("logs", "logs", "-n", ns)
    assert "first-1" in default.stdout and "tick-" not in default.stdout, default
    # --all-containers
    both = node.logs(ns, "logs", "--all-containers")
    assert "first-1" in both and "tick-1" in both, both
    # -f follows new output
    reader = node.server.kubectl_bg("logs", "-f", "logs", "-n", ns, "-c", "second", "--tail", "1")
    try:
        first = reader.wait_line(lambda line: line.startswith("tick-"), timeout=20)
        seen = int(first.split("-")[1])
        reader.wait_line(
            lambda line: line.startswith("tick-") and int(line.split("-")[1]) >= seen + 3, timeout=20
        )
    finally:
        reader.stop()


def test_logs_previous_after_restart(node: NodeServer, ns: str) -> None:
    f = node.flavor
    vol = vol_path()
    # the first attempt exits quickly; the second one keeps running, so --previous is the first one
    script = (
        f"n=$(cat {vol}/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > {vol}/n; echo attempt-$n; "
        'if [ "$n" = 1 ]; then sleep 1; exit 1; fi; exec sleep 600'
    )
    node.create_pod(
        ns,
        "prev",
        {
            "containers": [f.container("c", script, volumeMounts=[{"name": "state", "mountPath": vol}])],
            "volumes": [{"name": "state", "emptyDir": {}}],
        },
    )
    pod = node.wait_pod(
        ns,
        "prev",
        lambda p: (
            container_status(p, "c").get("restartCount", 0) >= 1
            and (container_status(p, "c").get("state") or {}).get("running")
        ),
        timeout=60,
        what="restarted and running",
    )
    last = container_status(pod, "c")["lastState"]["terminated"]
    assert last["exitCode"] == 1 and last["reason"] == "Error", last
    assert node.wait_logs(ns, "prev", "attempt-2").split() == ["attempt-2"]
    assert node.logs(ns, "prev", "--previous").split() == ["attempt-1"]
    assert node.logs(ns, "prev", "-p", "-c", "c").split() == ["attempt-1"]


# --- 2. exec ------------------------------------------------------------------------------------------------
def test_exec_output_exit_code_and_stdin(node: NodeServer, ns: str) -> None:
    node.create_pod(ns, "ex", {"containers": [node.flavor.container("c", "exec sleep 600")]})
    node.wait_running(ns, "ex")
    res = node.kubectl("exec", "ex", "-n", ns, "--", "echo", "hi")
    assert res.stdout == "hi\n", res
    res = node.kubectl("exec", "ex", "-n", ns, "-c", "c", "--", "sh", "-c", "exit 3", check=False)
    assert res.returncode == 3, (res.returncode, res.stdout, res.stderr)
    assert "command terminated with exit code 3" in res.stderr, res.stderr
    res = node.kubectl("exec", "ex", "-n", ns, "--", "sh", "-c", "echo out; echo err >&2")
    assert res.stdout == "out\n" and "err" in res.stderr, res
    res = node.kubectl("exec", "-i", "ex", "-n", ns, "--", "cat", input="line one\nline two\n")
    assert res.stdout == "line one\nline two\n", res
    res = node.kubectl(
        "exec", "-i", "ex", "-n", ns, "--", "sh", "-c", "wc -l; exit 7", input="a\nb\nc\n", check=False
    )
    assert res.returncode == 7 and res.stdout.strip() == "3", (res.returncode, res.stdout, res.stderr)
    res = node.kubectl("exec", "ex", "-n", ns, "--", "no-such-command-kyb", check=False)
    assert res.returncode != 0, res


# --- 3. liveness and CrashLoopBackOff ----------------------------------------------------------------------
def test_liveness_restart_and_crashloop_backoff_grows(node: NodeServer, ns: str) -> None:
    f = node.flavor
    node.create_pod(
        ns,
        "crash",
        {"containers": [f.container("c", "echo crashing; exit 2")]},
    )
    node.create_pod(
        ns,
        "live",
        {
            "containers": [
                f.container(
                    "c",
                    "echo up; exec sleep 600",
                    livenessProbe={
                        "exec": {"command": ["cat", "/nonexistent-kyb-e2e-file"]},
                        "periodSeconds": 1,
                        "failureThreshold": 1,
                    },
                )
            ]
        },
    )
    # watch restartCount of the crashing pod and when each restart happened
    seen: dict[int, float] = {}
    reasons: set[str] = set()
    live_restarted: dict[str, Any] = {}
    start = time.monotonic()
    deadline = start + 120
    while time.monotonic() < deadline and (len(seen) < 4 or not live_restarted):
        pod = node.pod(ns, "crash")
        st = container_status(pod, "c")
        count = st.get("restartCount", 0)
        seen.setdefault(count, time.monotonic())
        waiting = (st.get("state") or {}).get("waiting") or {}
        if waiting.get("reason"):
            reasons.add(waiting["reason"])
        if not live_restarted:
            lst = container_status(node.pod(ns, "live"), "c")
            if lst.get("restartCount", 0) >= 1:
                live_restarted = lst
        if 3 in seen and "CrashLoopBackOff" in reasons and live_restarted:
            break
        time.sleep(0.25)
    assert live_restarted, f"liveness failure did not restart the container\n{node.server_log(30)}"
    assert (live_restarted.get("lastState") or {}).get("terminated"), live_restarted
    assert "CrashLoopBackOff" in reasons, (reasons, seen)
    assert {1, 2, 3} <= set(seen), f"restartCount did not reach 3 in 120s: {seen}"
    gap12 = seen[2] - seen[1]
    gap23 = seen[3] - seen[2]
    # upstream: 10 s back-off doubling (the first restart is immediate)
    assert gap12 >= 7, (gap12, gap23)
    assert gap23 > gap12 + 5, (gap12, gap23)
    pod = node.pod(ns, "crash")
    last = container_status(pod, "c")["lastState"]["terminated"]
    assert last["exitCode"] == 2 and last["reason"] == "Error", last
    events = node.kubectl("get", "events", "-n", ns, "-o", "jsonpath={.items[*].reason}").stdout.split()
    assert "BackOff" in events, events
    assert "Unhealthy" in events, events


# --- 4. init containers -------------------------------------------------------------------------------------
def test_init_containers_run_first_in_order(node: NodeServer, ns: str) -> None:
    f = node.flavor
    vol = vol_path()
    mount = [{"name": "work", "mountPath": vol}]
    node.create_pod(
        ns,
        "init",
        {
            "initContainers": [
                f.container("one", f"sleep 1; echo one > {vol}/order", volumeMounts=mount),
                f.container("two", f"test -f {vol}/order && echo two >> {vol}/order", volumeMounts=mount),
            ],
            "containers": [
                f.container("main", f"echo main; cat {vol}/order; exec sleep 600", volumeMounts=mount),
            ],
            "volumes": [{"name": "work", "emptyDir": {}}],
        },
    )
    pod = node.wait_running(ns, "init")
    assert node.wait_logs(ns, "init", "two").split() == ["main", "one", "two"]
    assert condition(pod, "Initialized").get("status") == "True", pod["status"]
    for name in ("one", "two"):
        term = (container_status(pod, name, init=True).get("state") or {}).get("terminated") or {}
        assert term.get("reason") == "Completed" and term.get("exitCode") == 0, term
    one = container_status(pod, "one", init=True)["state"]["terminated"]
    two = container_status(pod, "two", init=True)["state"]["terminated"]
    assert one["finishedAt"] <= two["startedAt"], (one, two)
    main_started = container_status(pod, "main")["state"]["running"]["startedAt"]
    assert two["finishedAt"] <= main_started, (two, main_started)


def test_failing_init_container_blocks_main(node: NodeServer, ns: str) -> None:
    f = node.flavor
    node.create_pod(
        ns,
        "initfail",
        {
            "restartPolicy": "Never",
            "initContainers": [f.container("bad", "exit 4")],
            "containers": [f.container("main", "echo should-not-run")],
        },
    )
    pod = node.wait_pod(ns, "initfail", lambda p: p["status"].get("phase") == "Failed", timeout=60)
    term = container_status(pod, "bad", init=True)["state"]["terminated"]
    assert term["exitCode"] == 4, term
    assert not (container_status(pod, "main").get("state") or {}).get("running"), pod["status"]


# --- 5. readiness -------------------------------------------------------------------------------------------
def test_readiness_probe_flips_ready(node: NodeServer, ns: str) -> None:
    f = node.flavor
    vol = vol_path()
    node.create_pod(
        ns,
        "ready",
        {
            "containers": [
                f.container(
                    "c",
                    "exec sleep 600",
                    volumeMounts=[{"name": "flag", "mountPath": vol}],
                    readinessProbe={
                        "exec": {"command": ["cat", f"{vol}/ready"]},
                        "periodSeconds": 1,
                        "failureThreshold": 1,
                    },
                )
            ],
            "volumes": [{"name": "flag", "emptyDir": {}}],
        },
    )
    pod = node.wait_running(ns, "ready")
    time.sleep(2)
    pod = node.pod(ns, "ready")
    assert condition(pod, "Ready").get("status") == "False", pod["status"]
    assert container_status(pod, "c")["ready"] is False

    def ready_is(value: str) -> Any:
        return lambda p: (
            condition(p, "Ready").get("status") == value
            and condition(p, "ContainersReady").get("status") == value
        )

    node.kubectl("exec", "ready", "-n", ns, "--", "touch", f"{vol}/ready")
    pod = node.wait_pod(ns, "ready", ready_is("True"), timeout=20, what="Ready=True")
    assert container_status(pod, "c")["ready"] is True
    node.kubectl("exec", "ready", "-n", ns, "--", "rm", f"{vol}/ready")
    pod = node.wait_pod(ns, "ready", ready_is("False"), timeout=20, what="Ready=False")
    assert container_status(pod, "c")["restartCount"] == 0, pod["status"]


# --- 6. OOM -------------------------------------------------------------------------------------------------
def test_memory_hog_is_oomkilled(node: NodeServer, ns: str) -> None:
    require_root("memory limits (cgroups)")
    f = node.flavor
    node.create_pod(
        ns,
        "hog",
        {
            "restartPolicy": "Never",
            "containers": [
                f.container(
                    "c",
                    "echo allocating; exec dd if=/dev/zero of=/dev/null bs=256M count=4",
                    resources={"limits": {"memory": "32Mi", "cpu": "500m"}},
                )
            ],
        },
    )
    pod = node.wait_pod(
        ns,
        "hog",
        lambda p: (container_status(p, "c").get("state") or {}).get("terminated"),
        timeout=60,
        what="hog terminated",
    )
    term = container_status(pod, "c")["state"]["terminated"]
    assert term["reason"] == "OOMKilled", term
    assert term["exitCode"] == 137, term
    pod = node.wait_pod(ns, "hog", lambda p: p["status"].get("phase") == "Failed", timeout=20)
    # limits only: requests default to the limits, so every container is Guaranteed
    assert pod["status"].get("qosClass") == "Guaranteed", pod["status"]
    assert "allocating" in node.logs(ns, "hog")


# --- 7. graceful deletion -----------------------------------------------------------------------------------
def test_delete_runs_prestop_then_sigterm_then_sigkill(node: NodeServer, ns: str, scratch: Path) -> None:
    f = node.flavor
    marks = f"{scratch}/marks"
    grace = 5
    # TERM is trapped and ignored: only SIGKILL after the grace period ends the container
    script = f"trap 'echo term >> {marks}' TERM; echo started >> {marks}; while true; do sleep 0.2; done"
    node.create_pod(
        ns,
        "grace",
        {
            "terminationGracePeriodSeconds": grace,
            "containers": [
                f.container(
                    "c",
                    script,
                    volumeMounts=[{"name": "host", "mountPath": str(scratch)}],
                    lifecycle={"preStop": {"exec": {"command": ["sh", "-c", f"echo prestop >> {marks}"]}}},
                )
            ],
            "volumes": [{"name": "host", "hostPath": {"path": str(scratch), "type": "Directory"}}],
        },
    )
    node.wait_running(ns, "grace")
    wait_for(
        lambda: Path(marks).exists() and "started" in Path(marks).read_text(), timeout=20, what="started"
    )
    t0 = time.monotonic()
    node.kubectl("delete", "pod", "grace", "-n", ns, "--wait=true", "--timeout=60s", timeout=90)
    took = time.monotonic() - t0
    lines = Path(marks).read_text().split()
    assert lines[:3] == ["started", "prestop", "term"], lines
    assert "term" in lines and lines.index("prestop") < lines.index("term"), lines
    # SIGKILL comes only after the grace period (the container ignores TERM)
    assert grace - 0.5 <= took <= grace + 10, f"deletion took {took:.1f}s, grace period {grace}s"
    # gone from the API and the runtime
    res = node.kubectl("get", "pod", "grace", "-n", ns, check=False)
    assert res.returncode != 0 and "NotFound" in res.stderr, res


def test_delete_of_cooperative_container_is_quick(node: NodeServer, ns: str) -> None:
    f = node.flavor
    node.create_pod(
        ns,
        "quick",
        {
            "terminationGracePeriodSeconds": 30,
            # a shell as PID 1 (containerd) ignores SIGTERM without a handler: exit on it explicitly
            "containers": [f.container("c", "trap 'exit 0' TERM; while true; do sleep 0.2; done")],
        },
    )
    node.wait_running(ns, "quick")
    t0 = time.monotonic()
    node.kubectl("delete", "pod", "quick", "-n", ns, "--wait=true", "--timeout=60s", timeout=90)
    took = time.monotonic() - t0
    assert took < 15, f"a container exiting on SIGTERM took {took:.1f}s to delete (grace 30s)"


# --- 8. configMap and secret ----------------------------------------------------------------------------
def test_configmap_and_secret_volumes_and_env(node: NodeServer, ns: str) -> None:
    f = node.flavor
    node.kubectl(
        "create",
        "configmap",
        "cfg",
        "-n",
        ns,
        "--from-literal=greeting=hello-cm",
        "--from-literal=color=blue",
    )
    node.kubectl("create", "secret", "generic", "sec", "-n", ns, "--from-literal=password=s3cret-pw")
    base = vol_path()
    script = (
        f"echo file-greeting=$(cat {base}/cm/greeting); echo file-password=$(cat {base}/sec/password); "
        "echo env-greeting=$GREETING; echo env-password=$PASSWORD; echo env-color=$color; exec sleep 600"
    )
    node.create_pod(
        ns,
        "cfg",
        {
            "containers": [
                f.container(
                    "c",
                    script,
                    env=[
                        {
                            "name": "GREETING",
                            "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "greeting"}},
                        },
                        {
                            "name": "PASSWORD",
                            "valueFrom": {"secretKeyRef": {"name": "sec", "key": "password"}},
                        },
                    ],
                    envFrom=[{"configMapRef": {"name": "cfg"}}],
                    volumeMounts=[
                        {"name": "cm", "mountPath": f"{base}/cm", "readOnly": True},
                        {"name": "sec", "mountPath": f"{base}/sec", "readOnly": True},
                    ],
                )
            ],
            "volumes": [
                {"name": "cm", "configMap": {"name": "cfg"}},
                {"name": "sec", "secret": {"secretName": "sec"}},
            ],
        },
    )
    node.wait_running(ns, "cfg")
    out = node.wait_logs(ns, "cfg", "env-color").split()
    assert out == [
        "file-greeting=hello-cm",
        "file-password=s3cret-pw",
        "env-greeting=hello-cm",
        "env-password=s3cret-pw",
        "env-color=blue",
    ], out
    res = node.kubectl("exec", "cfg", "-n", ns, "--", "cat", f"{base}/cm/color", f"{base}/sec/password")
    assert res.stdout == "blues3cret-pw", res
    listing = node.kubectl("exec", "cfg", "-n", ns, "--", "ls", f"{base}/cm").stdout.split()
    assert sorted(listing) == ["color", "greeting"], listing
    res = node.kubectl("exec", "cfg", "-n", ns, "--", "sh", "-c", f"echo x > {base}/cm/new", check=False)
    assert res.returncode != 0, "configMap volume mounted readOnly accepted a write"


# --- 9. port-forward ----------------------------------------------------------------------------------------
def test_port_forward_reaches_server_in_pod(node: NodeServer, ns: str) -> None:
    f = node.flavor
    port = 8080 if node.runtime == "containerd" else free_port()
    token = unique("served")
    node.create_pod(
        ns,
        "web",
        {"containers": [f.container("c", f.http_server(port, token), ports=[{"containerPort": port}])]},
    )
    node.wait_running(ns, "web")
    reader = node.server.kubectl_bg("port-forward", "-n", ns, "pod/web", f":{port}")
    assert_port_forward_serves(reader, token)


# --- hygiene of the process runtime --------------------------------------------------------------------------
def test_process_runtime_removes_mount_targets(node: NodeServer, ns: str) -> None:
    """Mount targets the process runtime creates on the host go away with the pod, also when several
    containers of the pod (an init container and the main one) share the target."""
    if node.runtime != "process":
        pytest.skip("the process runtime creates mount targets on the host")
    f = node.flavor
    vol = vol_path()
    mount = [{"name": "work", "mountPath": vol}]
    node.create_pod(
        ns,
        "targets",
        {
            "initContainers": [f.container("init", f"echo x > {vol}/x", volumeMounts=mount)],
            "containers": [f.container("main", "exec sleep 600", volumeMounts=mount)],
            "volumes": [{"name": "work", "emptyDir": {}}],
        },
    )
    node.wait_running(ns, "targets")
    assert os.path.isdir(vol)
    node.kubectl("delete", "pod", "targets", "-n", ns, "--wait=true", "--timeout=60s", timeout=90)
    try:
        wait_for(lambda: not os.path.exists(vol), timeout=20, what=f"{vol} removed from the host")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; contents: {os.listdir(vol) if os.path.isdir(vol) else '?'}") from None
