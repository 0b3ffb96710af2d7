"""Workload controllers end to end: real kubectl against a full ``kyb server`` (embedded scheduler and
controller manager) whose three nodes are simulated by the test process.

Deployments roll out and roll back within maxSurge/maxUnavailable, Jobs and CronJobs complete,
deletion cascades (background, orphan, foreground) and deleting a namespace empties it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e._controlplane import (
    NODE_NAMES,
    ControlPlane,
    Recorder,
    condition,
    cp,
    cp_ns,
    is_ready,
    pods_of,
    unique,
    wait_for,
)

__all__ = ["cp", "cp_ns"]  # fixtures re-exported for pytest

pytestmark = pytest.mark.kubectl

EXIT_CODE = "kybernetes.io/simulate-exit-code"
DURATION = "kybernetes.io/simulate-duration"


def live(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]


def rollout(cp: ControlPlane, ns: str, name: str, timeout: int = 60) -> str:
    out = cp.kubectl(
        "rollout", "status", f"deployment/{name}", "-n", ns, f"--timeout={timeout}s", timeout=timeout + 15
    )
    return out.stdout


# --- a CronJob started with the module so its first minute overlaps the other tests ---------------------
@pytest.fixture(scope="module", autouse=True)
def cronjob(cp: ControlPlane) -> Iterator[tuple[str, str, float]]:
    ns = cp.create_namespace()
    manifest = f"""
apiVersion: batch/v1
kind: CronJob
metadata:
  name: tick
  namespace: {ns}
spec:
  schedule: "* * * * *"
  successfulJobsHistoryLimit: 3
  jobTemplate:
    spec:
      template:
        metadata:
          annotations:
            {EXIT_CODE}: "0"
            {DURATION}: "500ms"
        spec:
          restartPolicy: Never
          containers:
          - name: tick
            image: busybox
"""
    cp.kubectl("apply", "-f", "-", input=manifest)
    yield ns, "tick", time.monotonic()


# --- 1. rollout -----------------------------------------------------------------------------------------
def test_deployment_rollout_reaches_status_success(cp: ControlPlane, cp_ns: str) -> None:
    ns = cp_ns
    cp.kubectl("create", "deployment", "web", "--image=nginx", "--replicas=3", "-n", ns)
    out = rollout(cp, ns, "web")
    assert 'deployment "web" successfully rolled out' in out

    pods = pods_of(cp, ns, "app=web")
    assert len(pods) == 3, [p["metadata"]["name"] for p in pods]
    assert all(is_ready(p) for p in pods)
    assert {p["spec"]["nodeName"] for p in pods} <= set(NODE_NAMES)

    wide = cp.kubectl("get", "pods", "-n", ns, "-l", "app=web", "-o", "wide").stdout.splitlines()
    header = wide[0].split()
    assert "NODE" in header and "IP" in header, wide
    node_col = header.index("NODE")
    rows = [line.split() for line in wide[1:]]
    assert len(rows) == 3
    for row in rows:
        assert row[2] == "Running", wide
        assert row[node_col] in NODE_NAMES, wide

    dep = cp.kubectl_json("get", "deployment", "web", "-n", ns)
    status = dep["status"]
    assert status.get("readyReplicas") == 3 and status.get("availableReplicas") == 3, status
    assert status.get("updatedReplicas") == 3, status
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"


# --- 2. rolling update, history, undo -------------------------------------------------------------------
def pod_summary(objs: dict[str, dict[str, Any]]) -> tuple[int, int, frozenset[str]]:
    """(live pods, available pods, images of live pods) of one state of the store."""
    pods = live(list(objs.values()))
    return (
        len(pods),
        sum(1 for p in pods if is_ready(p)),
        frozenset(c["spec"]["containers"][0]["image"] for c in pods),
    )


def rs_summary(objs: dict[str, dict[str, Any]]) -> int:
    """Sum of the ReplicaSets' desired replicas."""
    return sum(int((rs.get("spec") or {}).get("replicas") or 0) for rs in objs.values())


def roll_and_check(cp: ControlPlane, ns: str, action: list[str], image: str) -> str:
    """Run ``kubectl <action>`` while watching pods and ReplicaSets; check every state of the roll."""
    # 25% of 3: maxSurge rounds up to 1, maxUnavailable rounds down to 0
    max_total, min_available = 3 + 1, 3 - 0
    with (
        Recorder(cp.cluster, "pods", pod_summary, namespace=ns, label_selector="app=web") as pods,
        Recorder(cp.cluster, "replicasets", rs_summary, namespace=ns, label_selector="app=web") as rss,
    ):
        action_out = cp.kubectl(*action, "-n", ns).stdout
        out = rollout(cp, ns, "web")
        assert "successfully rolled out" in out, out
        wait_for(
            lambda: (s := pods.snapshot()[-1]) and s[0] == 3 and s[1] == 3 and s[2] == {image},
            timeout=30,
            what=f"3 available pods of {image}",
        )
        pod_states, rs_states = pods.snapshot(), rss.snapshot()
    over = [s for s in pod_states if s[0] > max_total]
    under = [s for s in pod_states if s[1] < min_available]
    assert not over, f"more than replicas+maxSurge={max_total} pods at once: {over}"
    assert not under, f"fewer than replicas-maxUnavailable={min_available} available pods: {under}"
    assert max(rs_states) <= max_total, f"ReplicaSets' replicas summed above {max_total}: {rs_states}"
    # pod by pod: the old and new templates coexisted, never more than one surge pod at a time
    mixed = [s for s in pod_states if len(s[2]) == 2]
    assert mixed, f"no intermediate state with both templates: {pod_states}"
    return action_out


def test_image_change_rolls_within_surge_and_unavailable_then_undo(cp: ControlPlane, cp_ns: str) -> None:
    ns = cp_ns
    cp.kubectl("create", "deployment", "web", "--image=nginx", "--replicas=3", "-n", ns)
    rollout(cp, ns, "web")
    dep = cp.kubectl_json("get", "deployment", "web", "-n", ns)
    strategy = dep["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": "25%"}

    roll_and_check(cp, ns, ["set", "image", "deployment/web", "nginx=nginx:1.27"], "nginx:1.27")
    dep = cp.kubectl_json("get", "deployment", "web", "-n", ns)
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    history = cp.kubectl("rollout", "history", "deployment/web", "-n", ns).stdout
    revisions = [line.split()[0] for line in history.splitlines()[1:] if line.strip()[:1].isdigit()]
    assert revisions == ["1", "2"], history
    rev1 = cp.kubectl("rollout", "history", "deployment/web", "-n", ns, "--revision=1").stdout
    assert re.search(r"Image:\s+nginx\n", rev1), rev1
    assert len(cp.items("replicasets", "-n", ns, "-l", "app=web")) == 2

    out = roll_and_check(cp, ns, ["rollout", "undo", "deployment/web"], "nginx")
    assert "rolled back" in out, out
    dep = cp.kubectl_json("get", "deployment", "web", "-n", ns)
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx"
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    # the undo reuses the first ReplicaSet (same pod-template-hash): still two, now revisions 2 and 3
    assert len(cp.items("replicasets", "-n", ns, "-l", "app=web")) == 2
    history = cp.kubectl("rollout", "history", "deployment/web", "-n", ns).stdout
    revisions = [line.split()[0] for line in history.splitlines()[1:] if line.strip()[:1].isdigit()]
    assert revisions == ["2", "3"], history


# --- 3. Job and CronJob ---------------------------------------------------------------------------------
def test_job_completes(cp: ControlPlane, cp_ns: str) -> None:
    ns = cp_ns
    manifest = f"""
apiVersion: batch/v1
kind: Job
metadata:
  name: x
  namespace: {ns}
spec:
  completions: 2
  parallelism: 1
  template:
    metadata:
      annotations:
        {EXIT_CODE}: "0"
        {DURATION}: "1s"
    spec:
      restartPolicy: Never
      containers:
      - name: work
        image: busybox
"""
    cp.kubectl("create", "-f", "-", input=manifest)
    cp.kubectl("wait", "--for=condition=complete", "job/x", "-n", ns, "--timeout=60s", timeout=75)
    job = cp.kubectl_json("get", "job", "x", "-n", ns)
    assert job["status"].get("succeeded") == 2, job["status"]
    assert job["status"].get("completionTime"), job["status"]
    pods = pods_of(cp, ns, "job-name=x")
    assert len(pods) == 2 and all(p["status"]["phase"] == "Succeeded" for p in pods), [
        (p["metadata"]["name"], p["status"].get("phase")) for p in pods
    ]
    out = cp.kubectl("get", "job", "x", "-n", ns).stdout
    assert "2/2" in out and "Complete" in out, out


def test_failing_job_reaches_backoff_limit(cp: ControlPlane, cp_ns: str) -> None:
    ns = cp_ns
    manifest = f"""
apiVersion: batch/v1
kind: Job
metadata:
  name: bad
  namespace: {ns}
spec:
  backoffLimit: 0
  template:
    metadata:
      annotations:
        {EXIT_CODE}: "3"
    spec:
      restartPolicy: Never
      containers:
      - name: work
        image: busybox
"""
    cp.kubectl("create", "-f", "-", input=manifest)
    cp.kubectl("wait", "--for=condition=failed", "job/bad", "-n", ns, "--timeout=60s", timeout=75)
    job = cp.kubectl_json("get", "job", "bad", "-n", ns)
    failed = [c for c in job["status"].get("conditions") or [] if c["type"] == "Failed"]
    assert failed and failed[0].get("reason") == "BackoffLimitExceeded", job["status"]


# --- 4. cascading deletion ------------------------------------------------------------------------------
def _deploy(cp: ControlPlane, ns: str, name: str, replicas: int = 2) -> None:
    cp.kubectl("create", "deployment", name, "--image=nginx", f"--replicas={replicas}", "-n", ns)
    rollout(cp, ns, name)


def test_delete_deployment_cascades_in_background(cp: ControlPlane, cp_ns: str) -> None:
    ns = cp_ns
    _deploy(cp, ns, "web", 3)
    assert len(cp.items("replicasets", "-n", ns, "-l", "app=web")) == 1
    cp.kubectl("delete", "deployment", "web", "-n", ns, "--timeout=30s", timeout=45)
    wait_for(
        lambda: not cp.items("replicasets", "-n", ns, "-l", "app=web"),
        timeout=30,
        what="ReplicaSet garbage-collected",
    )
    wait_for(lambda: not pods_of(cp, ns, "app=web"), timeout=30, what="pods garbage-collected")


def test_delete_deployment_orphan_leaves_replicaset(cp: ControlPlane, cp_ns: str) -> None:
    ns = cp_ns
    _deploy(cp, ns, "keep", 2)
    rs_name = cp.items("replicasets", "-n", ns, "-l", "app=keep")[0]["metadata"]["name"]
    cp.kubectl("delete", "deployment", "keep", "-n", ns, "--cascade=orphan", "--timeout=30s", timeout=45)
    assert cp.get("deployment", "keep", "-n", ns) is None
    time.sleep(3)  # give a (wrong) garbage collector time to act
    rs = cp.get("replicaset", rs_name, "-n", ns)
    assert rs is not None, "orphaned ReplicaSet was deleted"
    assert not rs["metadata"].get("ownerReferences"), rs["metadata"].get("ownerReferences")
    assert not rs["metadata"].get("deletionTimestamp")
    pods = live(pods_of(cp, ns, "app=keep"))
    assert len(pods) == 2 and all(is_ready(p) for p in pods)


def test_delete_deployment_foreground(cp: ControlPlane, cp_ns: str) -> None:
    ns = cp_ns
    _deploy(cp, ns, "fg", 2)
    cp.kubectl("delete", "deployment", "fg", "-n", ns, "--cascade=foreground", "--timeout=45s", timeout=60)
    # foreground: the owner goes only after its blocking dependents (ReplicaSet, then its pods) are gone
    assert cp.get("deployment", "fg", "-n", ns) is None
    assert not cp.items("replicasets", "-n", ns, "-l", "app=fg")
    assert not pods_of(cp, ns, "app=fg")


def test_foreground_deletion_shows_finalizer_while_dependents_remain(cp: ControlPlane, cp_ns: str) -> None:
    """A dependent with a finalizer holds the owner in foreground deletion, with ``foregroundDeletion``."""
    ns = cp_ns
    cp.kubectl("create", "configmap", "owner", "-n", ns, "--from-literal=a=b")
    owner = cp.kubectl_json("get", "configmap", "owner", "-n", ns)
    dependent = f"""
apiVersion: v1
kind: ConfigMap
metadata:
  name: dependent
  namespace: {ns}
  finalizers: ["example.com/hold"]
  ownerReferences:
  - apiVersion: v1
    kind: ConfigMap
    name: owner
    uid: {owner["metadata"]["uid"]}
    blockOwnerDeletion: true
"""
    cp.kubectl("create", "-f", "-", input=dependent)
    cp.kubectl("delete", "configmap", "owner", "-n", ns, "--cascade=foreground", "--wait=false")
    held = wait_for(
        lambda: (
            (o := cp.get("configmap", "owner", "-n", ns)) and o["metadata"].get("deletionTimestamp") and o
        ),
        timeout=10,
        what="owner marked for deletion",
    )
    assert "foregroundDeletion" in held["metadata"].get("finalizers", []), held["metadata"]
    wait_for(
        lambda: (d := cp.get("configmap", "dependent", "-n", ns)) and d["metadata"].get("deletionTimestamp"),
        timeout=20,
        what="dependent deleted by the garbage collector",
    )
    time.sleep(2)
    assert cp.get("configmap", "owner", "-n", ns) is not None, "owner deleted before its blocking dependent"
    cp.kubectl(
        "patch", "configmap", "dependent", "-n", ns, "--type=merge", "-p", '{"metadata":{"finalizers":null}}'
    )
    wait_for(lambda: cp.get("configmap", "owner", "-n", ns) is None, timeout=20, what="owner deleted")


# --- 5. namespace deletion ------------------------------------------------------------------------------
def test_delete_namespace_empties_it(cp: ControlPlane) -> None:
    ns = unique("doomed")
    cp.kubectl("create", "namespace", ns)
    _deploy(cp, ns, "web", 2)
    cp.kubectl("create", "configmap", "c1", "-n", ns, "--from-literal=a=1")
    cp.kubectl("create", "configmap", "c2", "-n", ns, "--from-literal=b=2")
    cp.kubectl("create", "service", "clusterip", "web", "--tcp=80:80", "-n", ns)
    wait_for(lambda: cp.get("serviceaccount", "default", "-n", ns), timeout=15, what="default SA")

    start = time.monotonic()
    out = cp.kubectl("delete", "namespace", ns, "--timeout=90s", timeout=100)
    assert f'namespace "{ns}" deleted' in out.stdout, out.stdout
    assert time.monotonic() - start < 90
    assert cp.get("namespace", ns) is None
    for kind in ("deployments", "replicasets", "pods", "configmaps", "services", "serviceaccounts"):
        leftovers = cp.items(kind, "-n", ns)
        assert not leftovers, (kind, [o["metadata"]["name"] for o in leftovers])


# --- more of the Deployment surface kubectl drives -------------------------------------------------------
def test_deployment_status_conditions_and_scaling_events(cp: ControlPlane, cp_ns: str) -> None:
    ns = cp_ns
    _deploy(cp, ns, "web", 3)
    dep = cp.kubectl_json("get", "deployment", "web", "-n", ns)
    progressing, available = condition(dep, "Progressing"), condition(dep, "Available")
    assert progressing.get("status") == "True" and progressing.get("reason") == "NewReplicaSetAvailable", dep
    assert available.get("status") == "True" and available.get("reason") == "MinimumReplicasAvailable", dep
    assert dep["status"].get("observedGeneration") == dep["metadata"]["generation"], dep["status"]
    row = cp.kubectl("get", "deployment", "web", "-n", ns).stdout.splitlines()[1].split()
    assert row[:4] == ["web", "3/3", "3", "3"], row
    rs = cp.items("replicasets", "-n", ns, "-l", "app=web")[0]["metadata"]["name"]
    text = cp.kubectl("describe", "deployment", "web", "-n", ns).stdout
    assert "ScalingReplicaSet" in text, text
    assert re.search(rf"Scaled up replica set {rs} (from 0 to 3|to 3)", text), text
    rs_text = cp.kubectl("describe", "replicaset", rs, "-n", ns).stdout
    assert "SuccessfulCreate" in rs_text and "Created pod: web-" in rs_text, rs_text


def test_pause_resume_restart_and_undo_to_revision(cp: ControlPlane, cp_ns: str) -> None:
    ns = cp_ns
    _deploy(cp, ns, "web", 2)
    cp.kubectl("rollout", "pause", "deployment/web", "-n", ns)
    cp.kubectl("set", "image", "deployment/web", "nginx=nginx:1.26", "-n", ns)
    time.sleep(2)
    rss = cp.items("replicasets", "-n", ns, "-l", "app=web")
    assert len(rss) == 1, "a paused Deployment must not roll"
    dep = cp.kubectl_json("get", "deployment", "web", "-n", ns)
    assert condition(dep, "Progressing").get("reason") == "DeploymentPaused", dep["status"]
    cp.kubectl("rollout", "resume", "deployment/web", "-n", ns)
    rollout(cp, ns, "web")
    wait_for(
        lambda: (
            {p["spec"]["containers"][0]["image"] for p in live(pods_of(cp, ns, "app=web"))} == {"nginx:1.26"}
        ),
        timeout=30,
        what="resumed rollout",
    )

    cp.kubectl("rollout", "restart", "deployment/web", "-n", ns)
    rollout(cp, ns, "web")
    dep = cp.kubectl_json("get", "deployment", "web", "-n", ns)
    assert "kubectl.kubernetes.io/restartedAt" in dep["spec"]["template"]["metadata"].get("annotations", {})
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    wait_for(lambda: len(live(pods_of(cp, ns, "app=web"))) == 2, timeout=30, what="2 pods after restart")

    cp.kubectl("rollout", "undo", "deployment/web", "-n", ns, "--to-revision=1")
    rollout(cp, ns, "web")
    dep = cp.kubectl_json("get", "deployment", "web", "-n", ns)
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx"
    assert "kubectl.kubernetes.io/restartedAt" not in (
        dep["spec"]["template"]["metadata"].get("annotations") or {}
    )
    wait_for(
        lambda: {p["spec"]["containers"][0]["image"] for p in live(pods_of(cp, ns, "app=web"))} == {"nginx"},
        timeout=30,
        what="pods back on revision 1's template",
    )


def test_recreate_strategy_stops_old_pods_before_starting_new(cp: ControlPlane, cp_ns: str) -> None:
    ns = cp_ns
    manifest = f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: rec, namespace: {ns}}}
spec:
  replicas: 3
  strategy: {{type: Recreate}}
  selector: {{matchLabels: {{app: rec}}}}
  template:
    metadata: {{labels: {{app: rec}}}}
    spec:
      containers: [{{name: nginx, image: nginx}}]
"""
    cp.kubectl("apply", "-f", "-", input=manifest)
    rollout(cp, ns, "rec")

    def images(objs: dict[str, dict[str, Any]]) -> frozenset[str]:
        return frozenset(p["spec"]["containers"][0]["image"] for p in objs.values())

    with Recorder(cp.cluster, "pods", images, namespace=ns, label_selector="app=rec") as rec:
        cp.kubectl("set", "image", "deployment/rec", "nginx=nginx:1.27", "-n", ns)
        rollout(cp, ns, "rec")
        wait_for(lambda: rec.snapshot()[-1] == {"nginx:1.27"}, timeout=30, what="new pods")
        states = rec.snapshot()
    assert not [s for s in states if len(s) > 1], f"old and new pods coexisted under Recreate: {states}"
    assert frozenset() in states, states


def test_progress_deadline_exceeded_fails_rollout_status(cp: ControlPlane, cp_ns: str) -> None:
    ns = cp_ns
    manifest = f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: stuck, namespace: {ns}}}
spec:
  replicas: 1
  progressDeadlineSeconds: 3
  selector: {{matchLabels: {{app: stuck}}}}
  template:
    metadata: {{labels: {{app: stuck}}}}
    spec:
      containers:
      - name: c
        image: nginx
        resources: {{requests: {{cpu: "100"}}}}
"""
    cp.kubectl("apply", "-f", "-", input=manifest)
    result = cp.kubectl(
        "rollout", "status", "deployment/stuck", "-n", ns, "--timeout=40s", check=False, timeout=55
    )
    assert result.returncode != 0, result.stdout
    assert 'deployment "stuck" exceeded its progress deadline' in result.stderr, (
        result.stdout,
        result.stderr,
    )
    dep = cp.kubectl_json("get", "deployment", "stuck", "-n", ns)
    progressing = condition(dep, "Progressing")
    assert progressing.get("status") == "False" and progressing.get("reason") == "ProgressDeadlineExceeded", (
        dep
    )
    cp.kubectl("delete", "deployment", "stuck", "-n", ns, "--wait=false")


# --- more workload controllers --------------------------------------------------------------------------
def test_indexed_job_completes_every_index(cp: ControlPlane, cp_ns: str) -> None:
    ns = cp_ns
    manifest = f"""
apiVersion: batch/v1
kind: Job
metadata: {{name: idx, namespace: {ns}}}
spec:
  completions: 3
  parallelism: 3
  completionMode: Indexed
  template:
    metadata:
      annotations: {{{EXIT_CODE}: "0", {DURATION}: "500ms"}}
    spec:
      restartPolicy: Never
      containers: [{{name: c, image: busybox}}]
"""
    cp.kubectl("create", "-f", "-", input=manifest)
    cp.kubectl("wait", "--for=condition=complete", "job/idx", "-n", ns, "--timeout=60s", timeout=75)
    job = cp.kubectl_json("get", "job", "idx", "-n", ns)
    assert job["status"].get("completedIndexes") == "0-2", job["status"]
    indexes = sorted(
        p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
        for p in pods_of(cp, ns, "job-name=idx")
    )
    assert indexes == ["0", "1", "2"], indexes


def test_daemonset_runs_one_pod_per_node(cp: ControlPlane, cp_ns: str) -> None:
    ns = cp_ns
    manifest = f"""
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: agent, namespace: {ns}}}
spec:
  selector: {{matchLabels: {{app: agent}}}}
  template:
    metadata: {{labels: {{app: agent}}}}
    spec:
      containers: [{{name: c, image: busybox}}]
"""
    cp.kubectl("apply", "-f", "-", input=manifest)
    out = cp.kubectl("rollout", "status", "daemonset/agent", "-n", ns, "--timeout=60s", timeout=75).stdout
    assert 'daemon set "agent" successfully rolled out' in out, out
    pods = pods_of(cp, ns, "app=agent")
    assert sorted(p["spec"]["nodeName"] for p in pods) == sorted(NODE_NAMES), pods
    ds = cp.kubectl_json("get", "daemonset", "agent", "-n", ns)["status"]
    assert ds.get("desiredNumberScheduled") == 3 and ds.get("numberReady") == 3, ds


def test_statefulset_creates_ordered_stable_pods(cp: ControlPlane, cp_ns: str) -> None:
    ns = cp_ns
    manifest = f"""
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: db, namespace: {ns}}}
spec:
  serviceName: db
  replicas: 3
  selector: {{matchLabels: {{app: db}}}}
  template:
    metadata: {{labels: {{app: db}}}}
    spec:
      containers: [{{name: c, image: postgres}}]
"""

    def summary(objs: dict[str, dict[str, Any]]) -> frozenset[str]:
        return frozenset(objs)

    with Recorder(cp.cluster, "pods", summary, namespace=ns, label_selector="app=db") as rec:
        cp.kubectl("apply", "-f", "-", input=manifest)
        out = cp.kubectl("rollout", "status", "statefulset/db", "-n", ns, "--timeout=60s", timeout=75).stdout
        # updateStrategy defaults to RollingUpdate with partition 0, so kubectl reports a partitioned roll out
        assert "partitioned roll out complete: 3 new pods have been updated..." in out, out
        wait_for(lambda: len(rec.snapshot()[-1]) == 3, timeout=30, what="3 pods")
        states = rec.snapshot()
    assert sorted(states[-1]) == ["db-0", "db-1", "db-2"], states[-1]
    # OrderedReady: db-1 appears only after db-0, db-2 only after db-1
    appeared = [next(i for i, s in enumerate(states) if n in s) for n in ("db-0", "db-1", "db-2")]
    assert appeared == sorted(appeared) and len(set(appeared)) == 3, (appeared, states)


# --- 3b. CronJob (last: its first run is due within a minute of the module's start) ---------------------
def test_cronjob_creates_a_job_that_completes(cp: ControlPlane, cronjob: tuple[str, str, float]) -> None:
    ns, name, created = cronjob
    remaining = max(5.0, 75.0 - (time.monotonic() - created))

    def owned_jobs() -> list[dict[str, Any]]:
        return [
            j
            for j in cp.items("jobs", "-n", ns)
            if any(
                o.get("kind") == "CronJob" and o.get("name") == name
                for o in j["metadata"].get("ownerReferences") or []
            )
        ]

    jobs = wait_for(owned_jobs, timeout=remaining, interval=1.0, what="a Job from the CronJob")
    job = jobs[0]["metadata"]["name"]
    suffix = job.removeprefix(f"{name}-")
    # upstream names a scheduled Job <cronjob>-<scheduled time in minutes since the epoch>
    assert suffix.isdigit() and abs(int(suffix) - time.time() / 60) < 3, job
    cp.kubectl("wait", "--for=condition=complete", f"job/{job}", "-n", ns, "--timeout=60s", timeout=75)
    cj = wait_for(
        lambda: (
            (c := cp.kubectl_json("get", "cronjob", name, "-n", ns))["status"].get("lastSuccessfulTime") and c
        ),
        timeout=20,
        what="CronJob status.lastSuccessfulTime",
    )
    assert cj["status"].get("lastScheduleTime"), cj["status"]
