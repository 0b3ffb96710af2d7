"""``kyb agent --simulate N --stages FILE`` end to end: a real ``kyb server``, the agent subprocess as a
user starts it, and kubectl watching pods follow the stages of the given file (not the shipped ones)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import KybServer, wait_for

pytestmark = pytest.mark.kubectl

STAGES = """
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata: {name: pod-start}
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - {key: .metadata.deletionTimestamp, operator: DoesNotExist}
    - {key: .status.phase, operator: In, values: [Pending]}
  next:
    statusTemplate:
      phase: Running
      podIP: ${podIP}
      hostIP: ${nodeIP}
      conditions:
      - {type: Ready, status: "False", reason: WarmingUp}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata: {name: pod-finish}
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - {key: .status.phase, operator: In, values: [Running]}
    - {key: '.status.conditions.[] | select(.type == "Ready") | .reason', operator: In, values: [WarmingUp]}
  delay: {durationMilliseconds: 300}
  next:
    statusTemplate:
      phase: Succeeded
      conditions:
      - {type: Ready, status: "False", reason: PodCompleted}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata: {name: pod-delete}
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - {key: .metadata.deletionTimestamp, operator: Exists}
  next: {delete: true}
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KybServer]:
    server = KybServer().start()
    work = tmp_path_factory.mktemp("stages")
    (work / "stages.yaml").write_text(STAGES)
    token = (server.data_dir / "pki" / "node.token").read_text().strip()
    cmd = [sys.executable, "-m", "kybernetes.cli.main", "agent", "--server", server.url]
    cmd += ["--ca-file", str(server.data_dir / "pki" / "ca.crt"), "--simulate", "2", "--node-name", "stg"]
    cmd += ["--stages", str(work / "stages.yaml"), "--data-dir", str(work / "agent")]
    log = (work / "agent.log").open("a")
    agent = subprocess.Popen(
        cmd,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "KYB_TOKEN": token},
        start_new_session=True,
    )
    try:
        yield server
    finally:
        if agent.poll() is None:
            os.killpg(agent.pid, signal.SIGTERM)
            try:
                agent.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(agent.pid, signal.SIGKILL)
                agent.wait(timeout=10)
        log.close()
        with contextlib.suppress(Exception):
            server.cleanup()


def _ready_nodes(server: KybServer) -> set[str]:
    nodes = server.kubectl_json("get", "nodes").get("items") or []
    return {
        n["metadata"]["name"]
        for n in nodes
        if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions") or [])
    }


def test_agent_runs_pods_through_the_given_stages(cluster: KybServer) -> None:
    wait_for(lambda: _ready_nodes(cluster) == {"stg-0", "stg-1"}, timeout=60, what="2 simulated nodes Ready")
    manifest = """
apiVersion: v1
kind: Pod
metadata: {name: staged, namespace: default}
spec:
  nodeName: stg-1
  containers: [{name: c, image: busybox}]
"""
    cluster.kubectl("apply", "-f", "-", input=manifest)

    def phases() -> str:
        return cluster.kubectl("get", "pod", "staged", "-o", "jsonpath={.status.phase}").stdout

    wait_for(lambda: phases() == "Succeeded", timeout=30, what="pod Running then Succeeded by the stage file")
    pod = cluster.kubectl_json("get", "pod", "staged")
    assert pod["status"]["hostIP"] == "172.16.0.3"  # stg-1's InternalIP
    assert pod["status"]["podIP"].startswith("10.128.1.")  # from stg-1's pod CIDR
    ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "PodCompleted"
    # none of the shipped stages ran: no containerStatuses were invented
    assert "containerStatuses" not in pod["status"]
    cluster.kubectl("delete", "pod", "staged", "--wait=true", "--timeout=30s")
    assert cluster.kubectl("get", "pods", "-o", "name").stdout.strip() == ""
