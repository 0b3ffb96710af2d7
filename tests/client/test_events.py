"""EventRecorder: Events written in the background, deduplicated into counts, aggregated like upstream."""

from __future__ import annotations

import re
from typing import Any

from kybernetes.client import ApiClient, EventRecorder, object_reference
from tests.client.conftest import pod


async def events_about(api: ApiClient, name: str, namespace: str = "default") -> list[dict[str, Any]]:
    listed = await api.events.list(namespace=namespace)
    return [e for e in listed["items"] if e["involvedObject"]["name"] == name]


async def test_same_event_increments_count(api: ApiClient) -> None:
    obj = await api.pods.create(pod("web"))
    now = [1_700_000_000.0]
    rec = EventRecorder(api, "test-controller", host="node-1", clock=lambda: now[0])
    rec.normal(obj, "Scheduled", "Successfully assigned default/web to node-1")
    assert await rec.flush(5)
    for _ in range(2):
        now[0] += 5
        rec.normal(obj, "Scheduled", "Successfully assigned default/web to node-1")
    rec.warning(obj, "BackOff", "Back-off restarting failed container")
    assert await rec.flush(5)

    events = await events_about(api, "web")
    assert len(events) == 2
    scheduled = next(e for e in events if e["reason"] == "Scheduled")
    assert scheduled["count"] == 3
    assert scheduled["firstTimestamp"] == "2023-11-14T22:13:20Z"
    assert scheduled["lastTimestamp"] == "2023-11-14T22:13:30Z"
    assert scheduled["type"] == "Normal"
    assert scheduled["source"] == {"component": "test-controller", "host": "node-1"}
    assert scheduled["reportingComponent"] == "test-controller"
    assert scheduled["reportingInstance"] == "node-1"
    assert scheduled["involvedObject"] == {
        "kind": "Pod",
        "namespace": "default",
        "name": "web",
        "uid": obj["metadata"]["uid"],
        "apiVersion": "v1",
        "resourceVersion": obj["metadata"]["resourceVersion"],
    }
    assert re.fullmatch(r"web\.[0-9a-f]{16}", scheduled["metadata"]["name"])
    backoff = next(e for e in events if e["reason"] == "BackOff")
    assert backoff["count"] == 1 and backoff["type"] == "Warning"

    now[0] += 3600  # outside the window: a new Event
    rec.normal(obj, "Scheduled", "Successfully assigned default/web to node-1")
    await rec.stop()
    assert len([e for e in await events_about(api, "web") if e["reason"] == "Scheduled"]) == 2


async def test_deleted_event_is_recreated(api: ApiClient) -> None:
    obj = await api.pods.create(pod("p"))
    rec = EventRecorder(api, "c")
    rec.normal(obj, "Pulled", "pulled")
    await rec.flush(5)
    (event,) = await events_about(api, "p")
    await api.events.delete(event["metadata"]["name"], namespace="default")
    rec.normal(obj, "Pulled", "pulled")
    await rec.stop()
    (again,) = await events_about(api, "p")
    assert again["count"] == 1 and again["metadata"]["name"] != event["metadata"]["name"]


async def test_cluster_scoped_objects_and_similar_events(api: ApiClient) -> None:
    node = await api.nodes.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
    rec = EventRecorder(api, "kubelet", max_similar=3)
    for i in range(5):
        rec.eventf(node, "Warning", "Rebooted", "node rebooted %d", i)
    await rec.stop()
    events = await events_about(api, "n1")  # cluster-scoped: recorded in "default"
    combined = [e for e in events if e["message"].startswith("(combined from similar events): ")]
    single = sorted(e["message"] for e in events if e not in combined)
    assert single == ["node rebooted 0", "node rebooted 1"]
    assert len(combined) == 1 and combined[0]["count"] == 3
    assert combined[0]["message"].endswith("node rebooted 4")


async def test_recording_never_blocks(api: ApiClient) -> None:
    obj = await api.pods.create(pod("busy"))
    rec = EventRecorder(api, "c", queue_size=2)
    for i in range(10):
        rec.normal(obj, "R", f"m{i}")  # synchronous, returns at once; overflow is dropped and counted
    assert rec.dropped == 8
    rec.event(obj, "Bogus", "R", "ignored")
    await rec.stop()
    assert len(await events_about(api, "busy")) == 2


def test_object_reference() -> None:
    ref = object_reference(
        {"kind": "Node", "apiVersion": "v1", "metadata": {"name": "n", "uid": "u"}}, "spec"
    )
    assert ref == {"kind": "Node", "name": "n", "uid": "u", "apiVersion": "v1", "fieldPath": "spec"}
    assert object_reference({"kind": "Pod", "name": "p", "namespace": "ns"}) == {
        "kind": "Pod",
        "name": "p",
        "namespace": "ns",
    }
