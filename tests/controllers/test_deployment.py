"""Deployment controller against a real API server, driven with real kubectl where users would.

A fake kubelet marks pods Running/Ready; the ReplicaSet controller and garbage collector run beside the
Deployment controller, as in kube-controller-manager.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from typing import Any

import pytest

from kybernetes.client import ApiClient
from kybernetes.controllers.util import deployment as du
from tests.controllers.conftest import (
    FakeKubelet,
    Kube,
    StartManager,
    deployment,
    eventually,
    is_ready,
    new_namespace,
)

CONTROLLERS = ["deployment", "replicaset", "garbagecollector"]


async def owned_rss(api: ApiClient, ns: str, name: str) -> list[dict[str, Any]]:
    d = await api.deployments.get(name, namespace=ns)
    items, _ = await api.replicasets.list_all(namespace=ns)
    uid = d["metadata"]["uid"]
    rss = [
        rs for rs in items if any(r.get("uid") == uid for r in rs["metadata"].get("ownerReferences") or [])
    ]
    return sorted(rss, key=du.revision)


async def live_pods(api: ApiClient, ns: str) -> list[dict[str, Any]]:
    items, _ = await api.pods.list_all(namespace=ns)
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


async def rollout_status(kube: Kube, ns: str, name: str = "web", limit: int = 30) -> str:
    res = await kube.kubectl(
        "-n", ns, "rollout", "status", f"deployment/{name}", f"--timeout={limit}s", timeout=limit + 10
    )
    return res.stdout


async def test_rollout_of_three_replicas(
    api: ApiClient, kube: Kube, start_manager: StartManager, kubelet: FakeKubelet
) -> None:
    await start_manager(controllers=CONTROLLERS)
    ns = await new_namespace(api)
    await kube.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps(deployment("web", ns, 3)))
    out = await rollout_status(kube, ns)
    assert 'deployment "web" successfully rolled out' in out
    d = await api.deployments.get("web", namespace=ns)
    st = d["status"]
    assert st["replicas"] == st["updatedReplicas"] == st["readyReplicas"] == st["availableReplicas"] == 3
    assert st["observedGeneration"] == d["metadata"]["generation"]
    conds = {c["type"]: c for c in st["conditions"]}
    assert conds["Available"]["reason"] == "MinimumReplicasAvailable"
    assert conds["Progressing"]["reason"] == "NewReplicaSetAvailable"
    assert d["metadata"]["annotations"][du.REVISION_ANNOTATION] == "1"
    (rs,) = await owned_rss(api, ns, "web")
    pod_hash = rs["metadata"]["labels"][du.DEFAULT_UNIQUE_LABEL]
    assert rs["metadata"]["name"] == f"web-{pod_hash}" and len(pod_hash) <= 10
    assert rs["metadata"]["annotations"][du.REVISION_ANNOTATION] == "1"
    assert rs["metadata"]["annotations"][du.DESIRED_REPLICAS_ANNOTATION] == "3"
    assert rs["metadata"]["annotations"][du.MAX_REPLICAS_ANNOTATION] == "4"  # 3 + ceil(25% of 3)
    pods = await live_pods(api, ns)
    assert len(pods) == 3 and all(p["metadata"]["labels"][du.DEFAULT_UNIQUE_LABEL] == pod_hash for p in pods)
    events, _ = await api.events.list_all(namespace=ns)
    messages = [e["message"] for e in events if e["reason"] == "ScalingReplicaSet"]
    assert f"Scaled up replica set {rs['metadata']['name']} to 3 from 0" in messages
    # scale through kubectl
    await kube.kubectl("-n", ns, "scale", "deployment/web", "--replicas=5")
    await rollout_status(kube, ns)
    assert len(await live_pods(api, ns)) == 5
    await kube.kubectl("-n", ns, "scale", "deployment/web", "--replicas=2")
    await eventually(lambda: _pod_count(api, ns, 2), what="2 pods")
    (rs,) = await owned_rss(api, ns, "web")
    assert rs["spec"]["replicas"] == 2


async def _pod_count(api: ApiClient, ns: str, want: int) -> bool:
    return len(await live_pods(api, ns)) == want


class BoundsMonitor:
    """Samples ReplicaSets and pods during a rollout and records every violation of the bounds."""

    def __init__(self, api: ApiClient, ns: str, replicas: int, surge: int, unavailable: int) -> None:
        self.api, self.ns = api, ns
        self.max_total = replicas + surge
        self.min_available = replicas - unavailable
        self.violations: list[str] = []
        self.samples = 0
        self.max_seen = 0
        self.min_ready_seen = replicas

    async def run(self) -> None:
        while True:
            items, _ = await self.api.replicasets.list_all(namespace=self.ns)
            total = sum(int(rs["spec"].get("replicas") or 0) for rs in items)
            pods = await live_pods(self.api, self.ns)
            ready = sum(1 for p in pods if is_ready(p))
            self.samples += 1
            self.max_seen = max(self.max_seen, total)
            self.min_ready_seen = min(self.min_ready_seen, ready)
            if total > self.max_total:
                self.violations.append(f"replica sets sum to {total} > {self.max_total}")
            if ready < self.min_available:
                self.violations.append(f"only {ready} ready pods < {self.min_available}")
            await asyncio.sleep(0.01)


async def test_rolling_update_within_bounds_undo_and_history(
    api: ApiClient, kube: Kube, start_manager: StartManager
) -> None:
    await start_manager(controllers=CONTROLLERS)
    ns = await new_namespace(api)
    kubelet = await FakeKubelet(api, namespace=ns, delay=0.05).start()
    try:
        strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}
        body = deployment("web", ns, 4, strategy=strategy)
        body["metadata"]["annotations"] = {"kubernetes.io/change-cause": "initial"}
        await api.deployments.create(body)
        await rollout_status(kube, ns)
        monitor = BoundsMonitor(api, ns, replicas=4, surge=1, unavailable=1)
        task = asyncio.create_task(monitor.run())
        try:
            await kube.kubectl("-n", ns, "set", "image", "deployment/web", "main=nginx:1.26")
            await kube.kubectl(
                "-n", ns, "annotate", "deployment/web", "kubernetes.io/change-cause=to 1.26", "--overwrite"
            )
            await rollout_status(kube, ns)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert monitor.samples > 5
        assert not monitor.violations, monitor.violations[:5]
        assert monitor.max_seen == 5  # it did surge
        rss = await owned_rss(api, ns, "web")
        assert [du.revision(rs) for rs in rss] == [1, 2]
        assert rss[0]["spec"]["replicas"] == 0 and rss[1]["spec"]["replicas"] == 4
        assert rss[1]["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
        pods = await live_pods(api, ns)
        assert {p["spec"]["containers"][0]["image"] for p in pods} == {"nginx:1.26"}
        d = await api.deployments.get("web", namespace=ns)
        assert d["metadata"]["annotations"][du.REVISION_ANNOTATION] == "2"

        history = (await kube.kubectl("-n", ns, "rollout", "history", "deployment/web")).stdout
        assert re.search(r"^1\s+initial$", history, re.MULTILINE), history
        assert "to 1.26" in history

        # undo: back to the first template; the first ReplicaSet becomes new with revision 3
        old_rs_name = rss[0]["metadata"]["name"]
        await kube.kubectl("-n", ns, "rollout", "undo", "deployment/web")
        await rollout_status(kube, ns)
        d = await api.deployments.get("web", namespace=ns)
        assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
        assert d["metadata"]["annotations"][du.REVISION_ANNOTATION] == "3"
        rss = await owned_rss(api, ns, "web")
        assert [du.revision(rs) for rs in rss] == [2, 3]
        assert rss[1]["metadata"]["name"] == old_rs_name
        assert rss[1]["metadata"]["annotations"][du.REVISION_HISTORY_ANNOTATION] == "1"
        history = (await kube.kubectl("-n", ns, "rollout", "history", "deployment/web")).stdout
        revs = [line.split()[0] for line in history.splitlines()[2:] if line.strip()]
        assert revs == ["2", "3"]
        pods = await live_pods(api, ns)
        assert {p["spec"]["containers"][0]["image"] for p in pods} == {"nginx:1.25"} and len(pods) == 4
    finally:
        await kubelet.stop()


async def test_pause_resume_and_restart(
    api: ApiClient, kube: Kube, start_manager: StartManager, kubelet: FakeKubelet
) -> None:
    await start_manager(controllers=CONTROLLERS)
    ns = await new_namespace(api)
    await api.deployments.create(deployment("web", ns, 2))
    await rollout_status(kube, ns)
    await kube.kubectl("-n", ns, "rollout", "pause", "deployment/web")
    await kube.kubectl("-n", ns, "set", "image", "deployment/web", "main=nginx:1.26")
    await kube.kubectl("-n", ns, "scale", "deployment/web", "--replicas=3")

    async def paused_and_scaled() -> bool:
        d = await api.deployments.get("web", namespace=ns)
        cond = du.get_condition(d.get("status"), "Progressing") or {}
        rss = await owned_rss(api, ns, "web")
        return (
            cond.get("reason") == "DeploymentPaused"
            and len(rss) == 1
            and rss[0]["spec"]["replicas"] == 3
            and d["status"].get("observedGeneration") == d["metadata"]["generation"]
        )

    await eventually(paused_and_scaled, what="paused deployment scaled, no rollout")
    await asyncio.sleep(0.3)
    assert len(await owned_rss(api, ns, "web")) == 1
    await kube.kubectl("-n", ns, "rollout", "resume", "deployment/web")
    await rollout_status(kube, ns)
    rss = await owned_rss(api, ns, "web")
    assert len(rss) == 2 and rss[-1]["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    # restart: a new template annotation -> a new ReplicaSet with the same image
    await kube.kubectl("-n", ns, "rollout", "restart", "deployment/web")
    await rollout_status(kube, ns)
    rss = await owned_rss(api, ns, "web")
    assert len(rss) == 3 and [du.revision(rs) for rs in rss] == [1, 2, 3]
    annotations = rss[-1]["spec"]["template"]["metadata"].get("annotations") or {}
    assert "kubectl.kubernetes.io/restartedAt" in annotations
    assert [rs["spec"]["replicas"] for rs in rss] == [0, 0, 3]


async def test_recreate_never_overlaps(api: ApiClient, kube: Kube, start_manager: StartManager) -> None:
    await start_manager(controllers=CONTROLLERS)
    ns = await new_namespace(api)
    kubelet = await FakeKubelet(api, namespace=ns, delay=0.05).start()
    try:
        await api.deployments.create(deployment("web", ns, 3, strategy={"type": "Recreate"}))
        await rollout_status(kube, ns)
        overlaps: list[set[str]] = []

        async def watch() -> None:
            while True:
                images = {p["spec"]["containers"][0]["image"] for p in await live_pods(api, ns)}
                if len(images) > 1:
                    overlaps.append(images)
                await asyncio.sleep(0.01)

        task = asyncio.create_task(watch())
        try:
            await kube.kubectl("-n", ns, "set", "image", "deployment/web", "main=nginx:1.26")
            await rollout_status(kube, ns)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert not overlaps
        pods = await live_pods(api, ns)
        assert len(pods) == 3 and {p["spec"]["containers"][0]["image"] for p in pods} == {"nginx:1.26"}
    finally:
        await kubelet.stop()


async def test_progress_deadline_and_history_limit(
    api: ApiClient, kube: Kube, start_manager: StartManager
) -> None:
    await start_manager(controllers=CONTROLLERS)
    ns = await new_namespace(api)
    # only pods of the first image get ready
    kubelet = await FakeKubelet(
        api, namespace=ns, select=lambda p: p["spec"]["containers"][0]["image"] != "broken:1"
    ).start()
    try:
        await api.deployments.create(
            deployment("web", ns, 2, progressDeadlineSeconds=2, revisionHistoryLimit=1)
        )
        await rollout_status(kube, ns)
        await kube.kubectl("-n", ns, "set", "image", "deployment/web", "main=broken:1")

        async def timed_out() -> bool:
            d = await api.deployments.get("web", namespace=ns)
            cond = du.get_condition(d.get("status"), "Progressing") or {}
            return cond.get("reason") == "ProgressDeadlineExceeded" and cond.get("status") == "False"

        await eventually(timed_out, timeout=10, what="ProgressDeadlineExceeded")
        res = await kube.kubectl("-n", ns, "rollout", "status", "deployment/web", "--timeout=5s", check=False)
        assert res.returncode != 0 and "exceeded its progress deadline" in res.stderr
        # fix it with two more rollouts; only revisionHistoryLimit=1 old ReplicaSet is kept
        await kube.kubectl("-n", ns, "set", "image", "deployment/web", "main=nginx:1.26")
        await rollout_status(kube, ns)
        await kube.kubectl("-n", ns, "set", "image", "deployment/web", "main=nginx:1.27")
        await rollout_status(kube, ns)
        rss = await eventually(lambda: _rs_count(api, ns, 2), what="history cleaned up to 1 old RS")
        assert rss[-1]["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
        d = await api.deployments.get("web", namespace=ns)
        assert du.get_condition(d["status"], "Progressing")["reason"] == "NewReplicaSetAvailable"
    finally:
        await kubelet.stop()


async def _rs_count(api: ApiClient, ns: str, want: int) -> list[dict[str, Any]] | None:
    rss = await owned_rss(api, ns, "web")
    return rss if len(rss) == want else None


# --- pure helpers ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("surge", "unavailable", "desired", "want"),
    [
        ("25%", "25%", 10, (3, 2)),
        ("25%", "25%", 3, (1, 0)),
        (0, 0, 5, (0, 1)),
        ("0%", "0%", 3, (0, 1)),
        (2, "50%", 5, (2, 2)),
        ("100%", 0, 3, (3, 0)),
    ],
)
def test_fenceposts(surge: Any, unavailable: Any, desired: int, want: tuple[int, int]) -> None:
    assert du.resolve_fenceposts(surge, unavailable, desired) == want


def test_hash_is_stable_and_safe() -> None:
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    h1 = du.compute_hash(template)
    assert h1 == du.compute_hash(json.loads(json.dumps(template)))
    assert h1 != du.compute_hash(template, 1)
    assert 1 <= len(h1) <= 10 and set(h1) <= set("bcdfghjklmnpqrstvwxz2456789")
    labelled = json.loads(json.dumps(template))
    labelled["metadata"]["labels"][du.DEFAULT_UNIQUE_LABEL] = h1
    assert du.equal_ignore_hash(template, labelled)


def test_rollback_revision_history() -> None:
    d = {"metadata": {"annotations": {"note": "x"}}, "spec": {"replicas": 3}}
    rs: dict[str, Any] = {"metadata": {"annotations": {du.REVISION_ANNOTATION: "1"}}}
    assert du.set_new_replica_set_annotations(d, rs, 3, exists=True)
    ann = rs["metadata"]["annotations"]
    assert ann[du.REVISION_ANNOTATION] == "3" and ann[du.REVISION_HISTORY_ANNOTATION] == "1"
    assert ann["note"] == "x"


def test_proportional_scaling_fraction() -> None:
    d = {
        "spec": {"replicas": 20, "strategy": {"rollingUpdate": {"maxSurge": 3, "maxUnavailable": 0}}},
        "status": {},
    }
    rs = {"metadata": {"annotations": {du.MAX_REPLICAS_ANNOTATION: "13"}}, "spec": {"replicas": 8}}
    # 8 * 23 / 13 = 14.15 -> 14: six more
    assert du.replica_set_fraction(rs, d) == 6
    assert du.proportion(rs, d, 10, 0) == 6
    assert du.proportion(rs, d, 10, 7) == 3
