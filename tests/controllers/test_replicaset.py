"""ReplicaSet controller against a real API server: counts, adoption/release, no double creation, status."""

from __future__ import annotations

import asyncio
from typing import Any

from kybernetes.client import ApiClient
from kybernetes.controllers.replicaset import Expectations, pod_deletion_key, slow_start_batch
from tests.controllers.conftest import (
    FakeKubelet,
    StartManager,
    eventually,
    mark_ready,
    new_namespace,
    pod,
    replicaset,
)


async def owned_pods(api: ApiClient, ns: str, rs: dict[str, Any]) -> list[dict[str, Any]]:
    items, _ = await api.pods.list_all(namespace=ns)
    uid = rs["metadata"]["uid"]
    return [
        p
        for p in items
        if any(
            r.get("uid") == uid and r.get("controller") for r in p["metadata"].get("ownerReferences") or []
        )
        and not p["metadata"].get("deletionTimestamp")
    ]


async def test_creates_scales_and_reports_status(
    api: ApiClient, start_manager: StartManager, kubelet: FakeKubelet
) -> None:
    await start_manager(controllers=["replicaset"])
    ns = await new_namespace(api)
    rs = await api.replicasets.create(replicaset("web", ns, replicas=3))

    async def status_ok(want: int) -> bool:
        cur = await api.replicasets.get("web", namespace=ns)
        st = cur.get("status") or {}
        return (
            st.get("replicas", 0) == want
            and st.get("readyReplicas", 0) == want
            and st.get("availableReplicas", 0) == want
            and st.get("fullyLabeledReplicas", 0) == want
            and st.get("observedGeneration") == cur["metadata"]["generation"]
        )

    await eventually(lambda: status_ok(3), what="3 ready replicas")
    pods = await owned_pods(api, ns, rs)
    assert len(pods) == 3
    for p in pods:
        assert p["metadata"]["name"].startswith("web-") and len(p["metadata"]["name"]) == len("web-") + 5
        ref = p["metadata"]["ownerReferences"][0]
        assert ref["kind"] == "ReplicaSet" and ref["blockOwnerDeletion"] is True
    # scale up and down
    await api.replicasets.scale("web", 5, namespace=ns)
    await eventually(lambda: status_ok(5), what="5 ready replicas")
    await api.replicasets.scale("web", 1, namespace=ns)
    await eventually(lambda: status_ok(1), what="1 ready replica")
    assert len(await owned_pods(api, ns, rs)) == 1
    # a deleted pod is replaced
    victim = (await owned_pods(api, ns, rs))[0]
    await api.pods.delete(victim["metadata"]["name"], namespace=ns)
    await eventually(lambda: _names_differ(api, ns, rs, victim["metadata"]["name"]), what="replacement pod")
    events, _ = await api.events.list_all(namespace=ns)
    reasons = {e["reason"] for e in events if e["involvedObject"].get("name") == "web"}
    assert {"SuccessfulCreate", "SuccessfulDelete"} <= reasons


async def _names_differ(api: ApiClient, ns: str, rs: dict[str, Any], old: str) -> bool:
    pods = await owned_pods(api, ns, rs)
    return len(pods) == 1 and pods[0]["metadata"]["name"] != old


async def test_adopts_orphans_and_releases_non_matching(api: ApiClient, start_manager: StartManager) -> None:
    ns = await new_namespace(api)
    for i in range(2):
        await api.pods.create(pod(f"orphan-{i}", ns, {"app": "web"}))
    await api.pods.create(pod("other", ns, {"app": "other"}))
    await start_manager(controllers=["replicaset"])
    rs = await api.replicasets.create(replicaset("web", ns, replicas=3))
    await eventually(lambda: _count(api, ns, rs, 3), what="3 owned pods")
    names = {p["metadata"]["name"] for p in await owned_pods(api, ns, rs)}
    assert {"orphan-0", "orphan-1"} <= names  # adopted rather than replaced
    other = await api.pods.get("other", namespace=ns)
    assert not other["metadata"].get("ownerReferences")
    # relabel an owned pod: it is released and replaced
    await api.pods.patch("orphan-0", {"metadata": {"labels": {"app": "gone"}}}, namespace=ns)
    await eventually(lambda: _released(api, ns), what="orphan-0 released")
    await eventually(lambda: _count(api, ns, rs, 3), what="3 owned pods again")
    assert "orphan-0" not in {p["metadata"]["name"] for p in await owned_pods(api, ns, rs)}


async def _released(api: ApiClient, ns: str) -> bool:
    p = await api.pods.get("orphan-0", namespace=ns)
    return not p["metadata"].get("ownerReferences")


async def _count(api: ApiClient, ns: str, rs: dict[str, Any], want: int) -> bool:
    return len(await owned_pods(api, ns, rs)) == want


async def test_never_double_creates(api: ApiClient, start_manager: StartManager) -> None:
    """Repeated syncs while the informer has not seen the creations yet must not create more pods."""
    mgr = await start_manager(controllers=["replicaset"])
    ns = await new_namespace(api)
    rs = await api.replicasets.create(replicaset("burst", ns, replicas=20))
    controller = mgr.controllers["replicaset"]
    for _ in range(20):  # hammer the key while creations are in flight
        controller.enqueue(f"{ns}/burst")
        await asyncio.sleep(0.01)
    await eventually(lambda: _count(api, ns, rs, 20), timeout=15, what="20 pods")
    await asyncio.sleep(0.5)
    items, _ = await api.pods.list_all(namespace=ns)
    assert len(items) == 20


async def test_min_ready_seconds(api: ApiClient, start_manager: StartManager) -> None:
    await start_manager(controllers=["replicaset"])
    ns = await new_namespace(api)
    body = replicaset("slow", ns, replicas=1)
    body["spec"]["minReadySeconds"] = 1
    rs = await api.replicasets.create(body)
    pods = await eventually(lambda: owned_pods(api, ns, rs), what="pod")
    await mark_ready(api, pods[0])
    cur = await eventually(lambda: _status_field(api, ns, "slow", "readyReplicas", 1), what="ready")
    assert (cur.get("status") or {}).get("availableReplicas", 0) == 0
    await eventually(
        lambda: _status_field(api, ns, "slow", "availableReplicas", 1), timeout=5, what="available"
    )


async def test_replica_failure_condition_while_quota_refuses_pods(
    api: ApiClient, start_manager: StartManager
) -> None:
    """Pod creations refused by a ResourceQuota (403) set ``ReplicaFailure`` (reason ``FailedCreate``,
    message the API error) as upstream's ``calculateStatus`` does; once creations succeed it is removed."""
    await start_manager(controllers=["replicaset", "resourcequota"])
    ns = await new_namespace(api)
    await api.resourcequotas.create(
        {"metadata": {"name": "no-pods", "namespace": ns}, "spec": {"hard": {"pods": "0"}}}
    )

    async def quota_enforced() -> bool:
        q = await api.resourcequotas.get("no-pods", namespace=ns)
        st = q.get("status") or {}
        return (st.get("hard") or {}).get("pods") == "0" and (st.get("used") or {}).get("pods") == "0"

    await eventually(quota_enforced, what="quota status")
    rs = await api.replicasets.create(replicaset("bad", ns, replicas=1, labels={"app": "bad"}))
    cond = await eventually(lambda: _failure(api, ns), what="ReplicaFailure")
    assert cond["status"] == "True" and cond["reason"] == "FailedCreate"
    assert "is forbidden: exceeded quota: no-pods" in cond["message"], cond
    assert cond.get("lastTransitionTime")
    assert await owned_pods(api, ns, rs) == []
    events, _ = await api.events.list_all(namespace=ns)
    failed = [e for e in events if e["involvedObject"].get("name") == "bad" and e["reason"] == "FailedCreate"]
    assert failed and failed[0]["type"] == "Warning" and "exceeded quota" in failed[0]["message"]
    # lift the quota: the retried sync creates the pod and drops the condition
    await api.resourcequotas.delete("no-pods", namespace=ns)
    await eventually(lambda: owned_pods(api, ns, rs), timeout=30, what="pod after quota removal")
    await eventually(lambda: _no_failure(api, ns), timeout=30, what="ReplicaFailure removed")


async def _status_field(api: ApiClient, ns: str, name: str, field: str, want: int) -> dict[str, Any] | None:
    cur = await api.replicasets.get(name, namespace=ns)
    return cur if (cur.get("status") or {}).get(field, 0) == want else None


async def _failure(api: ApiClient, ns: str) -> dict[str, Any] | None:
    cur = await api.replicasets.get("bad", namespace=ns)
    conditions = (cur.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == "ReplicaFailure"), None)


async def _no_failure(api: ApiClient, ns: str) -> bool:
    return await _failure(api, ns) is None


# --- pure helpers ---------------------------------------------------------------------------------------
async def test_slow_start_batches() -> None:
    calls: list[int] = []
    counter = 0

    async def fn() -> None:
        nonlocal counter
        counter += 1
        calls.append(counter)
        if counter == 5:
            raise RuntimeError("boom")

    successes, err = await slow_start_batch(10, 1, fn)
    # batches 1, 2, 4: the third batch (calls 4..7) contains the failure; nothing after it
    assert len(calls) == 7 and successes == 6 and isinstance(err, RuntimeError)


def test_expectations() -> None:
    now = [0.0]
    exp = Expectations(ttl=10, clock=lambda: now[0])
    assert exp.satisfied("k")
    exp.expect_creations("k", 2)
    assert not exp.satisfied("k")
    exp.creation_observed("k")
    exp.creation_observed("k")
    assert exp.satisfied("k")
    exp.expect_deletions("k", ["ns/a", "ns/b"])
    exp.deletion_observed("k", "ns/a")
    exp.deletion_observed("k", "ns/a")  # twice (graceful then final delete) counts once
    assert not exp.satisfied("k")
    now[0] = 11
    assert exp.satisfied("k")  # expired


def test_deletion_ranking() -> None:
    def p(
        name: str, node: str = "", phase: str = "Pending", ready: bool = False, created: str = ""
    ) -> dict[str, Any]:
        conds = [{"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": created}]
        return {
            "metadata": {"name": name, "creationTimestamp": created},
            "spec": {"nodeName": node},
            "status": {"phase": phase, "conditions": conds},
        }

    pods = [
        p("ready-old", "n1", "Running", True, "2024-01-01T00:00:00Z"),
        p("ready-new", "n1", "Running", True, "2024-01-02T00:00:00Z"),
        p("running-notready", "n1", "Running", False, "2024-01-01T00:00:00Z"),
        p("pending", "n1", "Pending", False, "2024-01-01T00:00:00Z"),
        p("unassigned", "", "Pending", False, "2024-01-01T00:00:00Z"),
    ]
    order = [x["metadata"]["name"] for x in sorted(pods, key=lambda x: pod_deletion_key(x, 0, 0.0))]
    assert order == ["unassigned", "pending", "running-notready", "ready-new", "ready-old"]
