"""Scheduling and node lifecycle end to end: real kubectl against a full ``kyb server`` with simulated
nodes, a fresh control plane per test (each test changes the set or health of the nodes).

A dead node goes Unknown, is tainted and its pods are evicted and replaced elsewhere; a pod that fits
nowhere stays Pending with upstream's FailedScheduling message until a node that fits is added; a
high-priority pod preempts lower-priority ones.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e._controlplane import (
    NODE_NAMES,
    ControlPlane,
    condition,
    control_plane,
    is_ready,
    pods_of,
    unique,
    wait_for,
)

pytestmark = pytest.mark.kubectl


@pytest.fixture
def fresh() -> Iterator[ControlPlane]:
    with control_plane() as plane:
        yield plane


def live(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]


# --- 6. a dead node -------------------------------------------------------------------------------------
def test_dead_node_pods_are_evicted_and_replaced_elsewhere(fresh: ControlPlane) -> None:
    cp = fresh
    ns = cp.create_namespace()
    manifest = f"""
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {ns}
spec:
  replicas: 6
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      tolerations:
      - {{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}}
      - {{key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 2}}
      containers:
      - name: nginx
        image: nginx
"""
    cp.kubectl("apply", "-f", "-", input=manifest)
    cp.kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s", timeout=75)
    pods = pods_of(cp, ns, "app=web")
    by_node: dict[str, list[str]] = {}
    for p in pods:
        by_node.setdefault(p["spec"]["nodeName"], []).append(p["metadata"]["name"])
    victim = max(by_node, key=lambda n: len(by_node[n]))
    doomed = set(by_node[victim])
    assert doomed, by_node

    cp.cluster.stop_heartbeats(victim)
    started = time.monotonic()

    def unknown() -> dict[str, Any] | None:
        node = cp.kubectl_json("get", "node", victim)
        return node if condition(node, "Ready").get("status") == "Unknown" else None

    node = wait_for(unknown, timeout=30, interval=0.5, what=f"{victim} Ready=Unknown")
    ready = condition(node, "Ready")
    assert ready.get("reason") == "NodeStatusUnknown", ready
    assert ready.get("message") == "Kubelet stopped posting node status.", ready
    out = cp.kubectl("get", "nodes").stdout
    assert any(line.split()[:2] == [victim, "NotReady"] for line in out.splitlines()), out

    def tainted() -> list[dict[str, Any]] | None:
        taints = (cp.kubectl_json("get", "node", victim).get("spec") or {}).get("taints") or []
        keys = {(t.get("key"), t.get("effect")) for t in taints}
        want = {
            ("node.kubernetes.io/unreachable", "NoSchedule"),
            ("node.kubernetes.io/unreachable", "NoExecute"),
        }
        return taints if want <= keys else None

    taints = wait_for(tainted, timeout=20, interval=0.5, what=f"unreachable taints on {victim}")
    noexec = [t for t in taints if t.get("effect") == "NoExecute"]
    assert noexec and noexec[0].get("timeAdded"), taints

    # evicted after tolerationSeconds=2 (the pods stay Terminating: nobody on the dead node confirms)
    def evicted() -> bool:
        current = {p["metadata"]["name"]: p for p in pods_of(cp, ns, "app=web")}
        return all(
            name not in current or current[name]["metadata"].get("deletionTimestamp") for name in doomed
        )

    wait_for(evicted, timeout=30, interval=0.5, what=f"pods on {victim} evicted")
    for p in pods_of(cp, ns, "app=web"):
        if p["metadata"]["name"] in doomed:
            # upstream marks the pods of an unreachable node not ready, and the taint manager records why
            assert condition(p, "Ready").get("status") == "False", (p["metadata"]["name"], p["status"])
            target = condition(p, "DisruptionTarget")
            assert target.get("status") == "True" and target.get("reason") == "DeletionByTaintManager", p[
                "status"
            ]

    def replaced() -> list[dict[str, Any]] | None:
        pods = live(pods_of(cp, ns, "app=web"))
        ok = len(pods) == 6 and all(is_ready(p) and p["spec"]["nodeName"] != victim for p in pods)
        return pods if ok else None

    pods = wait_for(replaced, timeout=30, interval=0.5, what="6 ready replacements on live nodes")
    assert {p["spec"]["nodeName"] for p in pods} <= set(NODE_NAMES) - {victim}
    assert not doomed & {p["metadata"]["name"] for p in pods}
    assert time.monotonic() - started < 60
    dep = cp.kubectl_json("get", "deployment", "web", "-n", ns)
    assert dep["status"].get("availableReplicas") == 6, dep["status"]

    # a new pod does not go to the tainted node
    cp.kubectl("scale", "deployment/web", "--replicas=8", "-n", ns)
    cp.kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=30s", timeout=45)
    assert all(p["spec"]["nodeName"] != victim for p in live(pods_of(cp, ns, "app=web")))

    # the node comes back: Ready again, the unreachable taints go, its evicted pods finish terminating
    cp.cluster.resume_heartbeats(victim)

    def healthy() -> bool:
        node = cp.kubectl_json("get", "node", victim)
        taints = (node.get("spec") or {}).get("taints") or []
        return condition(node, "Ready").get("status") == "True" and not [
            t for t in taints if str(t.get("key", "")).startswith("node.kubernetes.io/")
        ]

    wait_for(healthy, timeout=30, interval=0.5, what=f"{victim} Ready and untainted")
    wait_for(
        lambda: not doomed & {p["metadata"]["name"] for p in pods_of(cp, ns, "app=web")},
        timeout=30,
        what="evicted pods gone once the node is back",
    )
    assert len(live(pods_of(cp, ns, "app=web"))) == 8


# --- 7. fits nowhere, then a node is added --------------------------------------------------------------
def test_pod_that_fits_nowhere_stays_pending_until_a_node_is_added(fresh: ControlPlane) -> None:
    cp = fresh
    ns = cp.create_namespace()
    cp.kubectl(
        "run",
        "big",
        "--image=nginx",
        "-n",
        ns,
        "--overrides",
        '{"spec":{"containers":[{"name":"big","image":"nginx","resources":{"requests":{"cpu":"8"}}}]}}',
    )

    expected = "0/3 nodes are available: 3 Insufficient cpu."

    def reported() -> str | None:
        pod = cp.kubectl_json("get", "pod", "big", "-n", ns)
        cond = condition(pod, "PodScheduled")
        if cond.get("status") == "False" and cond.get("reason") == "Unschedulable":
            return str(cond.get("message") or "")
        return None

    message = wait_for(reported, timeout=20, interval=0.5, what="PodScheduled=False")
    assert message.startswith(expected), message
    pod = cp.kubectl_json("get", "pod", "big", "-n", ns)
    assert pod["status"]["phase"] == "Pending" and not pod["spec"].get("nodeName"), pod["status"]

    def described() -> str | None:
        text = cp.kubectl("describe", "pod", "big", "-n", ns).stdout
        return text if "FailedScheduling" in text else None

    text = wait_for(described, timeout=20, interval=0.5, what="FailedScheduling event in describe")
    events = text[text.index("Events:") :]
    line = next(line for line in events.splitlines() if "FailedScheduling" in line)
    assert "Warning" in line and "default-scheduler" in line, events
    assert expected in line, events
    time.sleep(2)
    assert not cp.kubectl_json("get", "pod", "big", "-n", ns)["spec"].get("nodeName")

    cp.cluster.add_nodes(["sim-big"], cpu="16")
    added = time.monotonic()
    node_of = wait_for(
        lambda: cp.kubectl_json("get", "pod", "big", "-n", ns)["spec"].get("nodeName"),
        timeout=20,
        interval=0.2,
        what="big pod scheduled after a node was added",
    )
    latency = time.monotonic() - added
    assert node_of == "sim-big"
    wait_for(lambda: is_ready(cp.kubectl_json("get", "pod", "big", "-n", ns)), timeout=20, what="big Running")
    text = cp.kubectl("describe", "pod", "big", "-n", ns).stdout
    assert "Successfully assigned" in text and "sim-big" in text, text
    # "as soon as": the node add event requeues the pod, it does not wait out a long backoff
    assert latency < 10, latency


# --- 8. preemption --------------------------------------------------------------------------------------
def test_high_priority_pod_preempts(fresh: ControlPlane) -> None:
    cp = fresh
    ns = cp.create_namespace()
    low = unique("low")
    high = unique("high")
    cp.kubectl(
        "create", "priorityclass", low, "--value=100", "--description=victims", "--preemption-policy=Never"
    )
    cp.kubectl("create", "priorityclass", high, "--value=1000000", "--description=preemptor")
    try:
        victims = []
        for i in range(6):  # 2 cpu each on three 4-cpu nodes: full
            name = f"filler-{i}"
            victims.append(name)
            cp.kubectl("create", "-f", "-", input=_pod(ns, name, "2", low))
        wait_for(
            lambda: sum(1 for p in cp.items("pods", "-n", ns) if is_ready(p)) == 6,
            timeout=30,
            what="6 fillers running",
        )
        placed = {p["metadata"]["name"]: p["spec"]["nodeName"] for p in cp.items("pods", "-n", ns)}
        assert sorted(placed.values()) == sorted(NODE_NAMES * 2), placed

        cp.kubectl("create", "-f", "-", input=_pod(ns, "vip", "2", high))

        def vip_running() -> dict[str, Any] | None:
            pod = cp.kubectl_json("get", "pod", "vip", "-n", ns)
            return pod if is_ready(pod) else None

        vip = wait_for(vip_running, timeout=45, interval=0.5, what="high-priority pod running")
        node = vip["spec"]["nodeName"]
        assert vip["spec"].get("priority") == 1000000
        remaining = {p["metadata"]["name"]: p for p in cp.items("pods", "-n", ns)}
        gone = [v for v in victims if v not in remaining]
        assert len(gone) == 1, f"exactly one victim should be evicted: gone={gone}"
        assert placed[gone[0]] == node, (placed, node)
        assert all(is_ready(remaining[v]) for v in victims if v in remaining)

        events = cp.kubectl(
            "get", "events", "-n", ns, "--field-selector", f"involvedObject.name={gone[0]}"
        ).stdout
        assert "Preempted" in events, events
    finally:
        cp.kubectl("delete", "priorityclass", low, high, check=False)


def _pod(
    ns: str, name: str, cpu: str, priority_class: str, *, labels: str = "{}", node_selector: str = "{}"
) -> str:
    return f"""
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: {ns}
  labels: {labels}
spec:
  priorityClassName: {priority_class}
  nodeSelector: {node_selector}
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: nginx
    resources:
      requests: {{cpu: "{cpu}"}}
"""


def test_failed_scheduling_message_counts_each_reason(fresh: ControlPlane) -> None:
    cp = fresh
    ns = cp.create_namespace()
    cp.kubectl("taint", "nodes", "sim-a", "dedicated=db:NoSchedule")
    cp.kubectl("cordon", "sim-b")
    cp.kubectl(
        "run",
        "big",
        "--image=nginx",
        "-n",
        ns,
        "--overrides",
        '{"spec":{"containers":[{"name":"big","image":"nginx","resources":{"requests":{"cpu":"8"}}}]}}',
    )

    def reported() -> str | None:
        cond = condition(cp.kubectl_json("get", "pod", "big", "-n", ns), "PodScheduled")
        return str(cond.get("message") or "") if cond.get("reason") == "Unschedulable" else None

    message = wait_for(reported, timeout=20, interval=0.5, what="PodScheduled=False")
    # upstream: one reason per node (the first failing filter), "<count> <reason>" sorted as strings
    assert message.startswith(
        "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {dedicated: db}, "
        "1 node(s) were unschedulable."
    ), message
    cp.kubectl(
        "run", "picky", "--image=nginx", "-n", ns, "--overrides", '{"spec":{"nodeSelector":{"disk":"ssd"}}}'
    )

    def picky() -> str | None:
        cond = condition(cp.kubectl_json("get", "pod", "picky", "-n", ns), "PodScheduled")
        return str(cond.get("message") or "") if cond.get("reason") == "Unschedulable" else None

    message = wait_for(picky, timeout=20, interval=0.5, what="PodScheduled=False")
    assert message.startswith(
        "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
        "1 node(s) had untolerated taint {dedicated: db}, 1 node(s) were unschedulable."
    ), message
    # labelling a node is a cluster change that makes the pod schedulable: it is retried at once
    cp.kubectl("label", "node", "sim-c", "disk=ssd")
    node = wait_for(
        lambda: cp.kubectl_json("get", "pod", "picky", "-n", ns)["spec"].get("nodeName"),
        timeout=15,
        interval=0.2,
        what="picky scheduled after the label",
    )
    assert node == "sim-c"


def test_preemption_respects_pod_disruption_budget(fresh: ControlPlane) -> None:
    cp = fresh
    ns = cp.create_namespace()
    low, high = unique("low"), unique("high")
    cp.kubectl("create", "priorityclass", low, "--value=100")
    cp.kubectl("create", "priorityclass", high, "--value=1000000")
    try:
        names: dict[str, str] = {}
        for node in NODE_NAMES:
            app = "free" if node == "sim-c" else "guarded"
            for i in range(2):
                name = f"{node}-{i}"
                names[name] = node
                cp.kubectl(
                    "create",
                    "-f",
                    "-",
                    input=_pod(
                        ns,
                        name,
                        "2",
                        low,
                        labels=f"{{app: {app}}}",
                        node_selector=f"{{kubernetes.io/hostname: {node}}}",
                    ),
                )
        wait_for(
            lambda: sum(1 for p in cp.items("pods", "-n", ns) if is_ready(p)) == 6,
            timeout=30,
            what="6 fillers running",
        )
        cp.kubectl(
            "create", "poddisruptionbudget", "guard", "-n", ns, "--selector=app=guarded", "--min-available=4"
        )
        wait_for(
            lambda: (
                (st := cp.kubectl_json("get", "pdb", "guard", "-n", ns).get("status") or {}).get(
                    "currentHealthy"
                )
                == 4
                and st.get("disruptionsAllowed") == 0
            ),
            timeout=20,
            what="PDB status: 4 healthy, 0 disruptions allowed",
        )
        cp.kubectl("create", "-f", "-", input=_pod(ns, "vip", "2", high))
        vip = wait_for(
            lambda: p if is_ready(p := cp.kubectl_json("get", "pod", "vip", "-n", ns)) else None,
            timeout=45,
            interval=0.5,
            what="high-priority pod running",
        )
        assert vip["spec"]["nodeName"] == "sim-c", "preemption should pick the node whose victims have no PDB"
        remaining = {p["metadata"]["name"] for p in cp.items("pods", "-n", ns)}
        gone = sorted(set(names) - remaining)
        assert gone in (["sim-c-0"], ["sim-c-1"]), gone
    finally:
        cp.kubectl("delete", "priorityclass", low, high, check=False)
