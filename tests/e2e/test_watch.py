"""Watch: ``kubectl get -w``, replay from a resourceVersion, selectors, bookmarks, raw chunked events."""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from tests.e2e.conftest import KybServer


def _collect(stream: Any, count: int, *, timeout: float, watcher: Any) -> list[dict]:
    """Take ``count`` events from a kubernetes.watch stream, stopping it after ``timeout`` at the latest."""
    events: list[dict] = []
    timer = threading.Timer(timeout, watcher.stop)
    timer.start()
    try:
        for event in stream:
            events.append(event)
            if len(events) >= count:
                watcher.stop()
                break
    finally:
        timer.cancel()
    return events


def test_kubectl_get_watch_sees_new_object(kyb: KybServer, ns: str) -> None:
    kyb.kubectl("create", "configmap", "before", "-n", ns)
    reader = kyb.kubectl_bg("get", "configmaps", "-n", ns, "-w")
    try:
        reader.wait_line(lambda line: line.startswith("before "), timeout=15)
        header = reader.lines[0].split()
        assert header == ["NAME", "DATA", "AGE"]
        kyb.kubectl("create", "configmap", "after", "-n", ns, "--from-literal=a=1")
        line = reader.wait_line(lambda line: line.startswith("after "), timeout=15)
        assert line.split()[1] == "1"
        kyb.kubectl("label", "configmap", "after", "-n", ns, "x=y")
        start = reader.lines.index(line) + 1
        reader.wait_line(lambda line: line.startswith("after "), timeout=15, start=start)
    finally:
        stderr = reader.stop()
    assert "error" not in stderr.lower(), stderr


def test_kubectl_get_watch_output_watch_events(kyb: KybServer, ns: str) -> None:
    reader = kyb.kubectl_bg("get", "pods", "-n", ns, "-w", "--output-watch-events")
    try:
        kyb.kubectl("run", "w1", "-n", ns, "--image=nginx")
        added = reader.wait_line(lambda line: line.split()[:2] == ["ADDED", "w1"], timeout=15)
        assert added.split()[2:5] == ["0/1", "Pending", "0"]
        assert reader.lines[0].split()[:2] == ["EVENT", "NAME"]
        kyb.kubectl("delete", "pod", "w1", "-n", ns, "--wait=false")
        reader.wait_line(lambda line: line.split()[:2] == ["DELETED", "w1"], timeout=15)
    finally:
        reader.stop()


def test_watch_replays_from_resource_version(kyb: KybServer, ns: str) -> None:
    from kubernetes import client, watch

    with kyb.api_client() as api:
        core = client.CoreV1Api(api)
        rv = core.list_namespaced_config_map(ns).metadata.resource_version
        core.create_namespaced_config_map(
            ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="r"), data={"n": "0"})
        )
        for i in range(1, 4):
            core.patch_namespaced_config_map("r", ns, {"data": {"n": str(i)}})
        core.delete_namespaced_config_map("r", ns)
        w = watch.Watch()
        stream = w.stream(core.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=2)
        events = _collect(stream, 6, timeout=8, watcher=w)
    types = [e["type"] for e in events]
    assert types == ["ADDED", "MODIFIED", "MODIFIED", "MODIFIED", "DELETED"], types
    assert [e["raw_object"]["data"]["n"] for e in events] == ["0", "1", "2", "3", "3"]
    rvs = [int(e["raw_object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs) and len(set(rvs)) == 5
    assert rvs[0] > int(rv)
    for event in events:
        assert event["raw_object"]["kind"] == "ConfigMap"
        assert event["raw_object"]["apiVersion"] == "v1"


def test_watch_rv_zero_starts_with_current_state(kyb: KybServer, ns: str) -> None:
    from kubernetes import client, watch

    with kyb.api_client() as api:
        core = client.CoreV1Api(api)
        for name in ("s1", "s2"):
            core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name)))
        w = watch.Watch()
        # no resourceVersion: synthetic ADDED events for everything that exists, then changes
        stream = w.stream(core.list_namespaced_config_map, ns, timeout_seconds=2)
        events = _collect(stream, 2, timeout=8, watcher=w)
    assert sorted((e["type"], e["raw_object"]["metadata"]["name"]) for e in events) == [
        ("ADDED", "s1"),
        ("ADDED", "s2"),
    ]


def test_watch_label_selector(kyb: KybServer, ns: str) -> None:
    from kubernetes import client, watch

    with kyb.api_client() as api:
        core = client.CoreV1Api(api)
        rv = core.list_namespaced_config_map(ns).metadata.resource_version
        core.create_namespaced_config_map(
            ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="in", labels={"pick": "yes"}))
        )
        core.create_namespaced_config_map(
            ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="out", labels={"pick": "no"}))
        )
        core.patch_namespaced_config_map("out", ns, {"data": {"x": "1"}})
        core.patch_namespaced_config_map("in", ns, {"data": {"x": "1"}})
        # leaving the selector is a DELETED event for this watcher, entering it an ADDED
        core.patch_namespaced_config_map("in", ns, {"metadata": {"labels": {"pick": "no"}}})
        core.patch_namespaced_config_map("out", ns, {"metadata": {"labels": {"pick": "yes"}}})
        w = watch.Watch()
        stream = w.stream(
            core.list_namespaced_config_map,
            ns,
            resource_version=rv,
            label_selector="pick=yes",
            timeout_seconds=2,
        )
        events = _collect(stream, 5, timeout=8, watcher=w)
    seen = [(e["type"], e["raw_object"]["metadata"]["name"]) for e in events]
    assert seen == [("ADDED", "in"), ("MODIFIED", "in"), ("DELETED", "in"), ("ADDED", "out")], seen


def test_watch_field_selector_by_name(kyb: KybServer, ns: str) -> None:
    from kubernetes import client, watch

    with kyb.api_client() as api:
        core = client.CoreV1Api(api)
        rv = core.list_namespaced_config_map(ns).metadata.resource_version
        for name in ("one", "two"):
            core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name)))
        core.delete_namespaced_config_map("two", ns)
        w = watch.Watch()
        stream = w.stream(
            core.list_namespaced_config_map,
            ns,
            resource_version=rv,
            field_selector="metadata.name=two",
            timeout_seconds=2,
        )
        events = _collect(stream, 3, timeout=8, watcher=w)
    assert [(e["type"], e["raw_object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "two"),
        ("DELETED", "two"),
    ]


def test_watch_across_namespaces_sees_new_events_live(kyb: KybServer, ns: str) -> None:
    from kubernetes import client, watch

    with kyb.api_client() as api:
        core = client.CoreV1Api(api)
        rv = core.list_config_map_for_all_namespaces().metadata.resource_version
        w = watch.Watch()
        stream = w.stream(core.list_config_map_for_all_namespaces, resource_version=rv, timeout_seconds=10)

        def later() -> None:
            time.sleep(0.3)
            with kyb.api_client() as api2:
                client.CoreV1Api(api2).create_namespaced_config_map(
                    ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="live"))
                )

        thread = threading.Thread(target=later)
        thread.start()
        try:
            events = []
            timer = threading.Timer(10, w.stop)
            timer.start()
            for event in stream:
                if event["raw_object"]["metadata"].get("name") == "live":
                    events.append(event)
                    w.stop()
                    break
            timer.cancel()
        finally:
            thread.join(timeout=10)
    assert [e["type"] for e in events] == ["ADDED"]
    assert events[0]["raw_object"]["metadata"]["namespace"] == ns


def _raw_watch(kyb: KybServer, path: str, query: dict[str, str], *, accept: str = "application/json") -> Any:
    server, ca, token = kyb._kubeconfig_parts()
    parts = urlsplit(server)
    conn = http.client.HTTPSConnection(
        parts.hostname or "", parts.port, context=ssl.create_default_context(cadata=ca.decode()), timeout=15
    )
    conn.request(
        "GET", f"{path}?{urlencode(query)}", headers={"Authorization": f"Bearer {token}", "Accept": accept}
    )
    return conn, conn.getresponse()


def test_raw_watch_is_chunked_json_lines(kyb: KybServer, ns: str) -> None:
    rv = kyb.request("GET", f"/api/v1/namespaces/{ns}/configmaps").json()["metadata"]["resourceVersion"]
    kyb.kubectl("create", "configmap", "raw", "-n", ns)
    conn, resp = _raw_watch(
        kyb,
        f"/api/v1/namespaces/{ns}/configmaps",
        {"watch": "true", "resourceVersion": rv, "timeoutSeconds": "2"},
    )
    try:
        assert resp.status == 200
        assert resp.getheader("Content-Type", "").startswith("application/json")
        assert resp.getheader("Transfer-Encoding") == "chunked"
        started = time.monotonic()
        body = resp.read().decode()
        # timeoutSeconds ends the stream server-side
        assert time.monotonic() - started < 10
    finally:
        conn.close()
    lines = [json.loads(line) for line in body.splitlines() if line.strip()]
    assert lines[0]["type"] == "ADDED"
    assert lines[0]["object"]["metadata"]["name"] == "raw"


def test_raw_watch_table_events(kyb: KybServer, ns: str) -> None:
    rv = kyb.request("GET", f"/api/v1/namespaces/{ns}/configmaps").json()["metadata"]["resourceVersion"]
    kyb.kubectl("create", "configmap", "tabled", "-n", ns)
    conn, resp = _raw_watch(
        kyb,
        f"/api/v1/namespaces/{ns}/configmaps",
        {"watch": "true", "resourceVersion": rv, "timeoutSeconds": "1"},
        accept="application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
    )
    try:
        body = resp.read().decode()
    finally:
        conn.close()
    event = json.loads(body.splitlines()[0])
    assert event["type"] == "ADDED"
    obj = event["object"]
    assert obj["kind"] == "Table" and obj["apiVersion"] == "meta.k8s.io/v1"
    assert len(obj["rows"]) == 1
    assert obj["rows"][0]["cells"][0] == "tabled"


@pytest.fixture(scope="module")
def kyb_bookmarks() -> Iterator[KybServer]:
    """A server sending bookmarks every second (upstream's default period is about a minute)."""
    server = KybServer(extra_args=["--watch-bookmark-interval", "1"]).start()
    try:
        yield server
    finally:
        server.cleanup()


def test_watch_bookmarks(kyb_bookmarks: KybServer) -> None:
    kyb = kyb_bookmarks
    ns = kyb.create_namespace()
    rv = kyb.request("GET", f"/api/v1/namespaces/{ns}/configmaps").json()["metadata"]["resourceVersion"]
    conn, resp = _raw_watch(
        kyb,
        f"/api/v1/namespaces/{ns}/configmaps",
        {"watch": "true", "resourceVersion": rv, "allowWatchBookmarks": "true", "timeoutSeconds": "4"},
    )
    try:
        assert resp.status == 200
        body = resp.read().decode()
    finally:
        conn.close()
    events = [json.loads(line) for line in body.splitlines() if line.strip()]
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert len(bookmarks) >= 2, events  # one a second over a 4 s watch
    obj = bookmarks[0]["object"]
    assert obj["kind"] == "ConfigMap" and obj["apiVersion"] == "v1"
    assert int(obj["metadata"]["resourceVersion"]) >= int(rv)


def test_watch_list_initial_events_end_bookmark(kyb: KybServer, ns: str) -> None:
    """sendInitialEvents=true (WatchList, served by default in v1.32): the current state as ADDED events, a
    BOOKMARK annotated ``k8s.io/initial-events-end`` at the list's resourceVersion, then live events."""
    kyb.kubectl("create", "configmap", "init-a", "-n", ns)
    kyb.kubectl("create", "configmap", "init-b", "-n", ns)
    listed = kyb.request("GET", f"/api/v1/namespaces/{ns}/configmaps").json()
    list_rv = int(listed["metadata"]["resourceVersion"])
    conn, resp = _raw_watch(
        kyb,
        f"/api/v1/namespaces/{ns}/configmaps",
        {
            "watch": "true",
            "sendInitialEvents": "true",
            "resourceVersionMatch": "NotOlderThan",
            "allowWatchBookmarks": "true",
            "timeoutSeconds": "10",
        },
    )
    try:
        assert resp.status == 200, resp.read()
        assert resp.getheader("Content-Type", "").startswith("application/json")
        initial = [json.loads(resp.readline()), json.loads(resp.readline())]
        assert [e["type"] for e in initial] == ["ADDED", "ADDED"], initial
        assert sorted(e["object"]["metadata"]["name"] for e in initial) == ["init-a", "init-b"]
        assert all(e["object"]["kind"] == "ConfigMap" for e in initial)
        end = json.loads(resp.readline())
        assert end["type"] == "BOOKMARK", end
        assert end["object"]["kind"] == "ConfigMap" and end["object"]["apiVersion"] == "v1"
        assert end["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
        end_rv = int(end["object"]["metadata"]["resourceVersion"])
        assert end_rv >= list_rv
        # the stream goes on from the bookmark's revision: a change after it arrives once, as MODIFIED
        kyb.kubectl("label", "configmap", "init-a", "-n", ns, "after=bookmark")
        while True:  # bounded by the watch's timeoutSeconds and the socket timeout
            line = resp.readline()
            assert line, "the watch ended before the change arrived"
            event = json.loads(line)
            if event["type"] != "BOOKMARK":
                break
        assert event["type"] == "MODIFIED", event
        assert event["object"]["metadata"]["name"] == "init-a"
        assert event["object"]["metadata"]["labels"] == {"after": "bookmark"}
        assert int(event["object"]["metadata"]["resourceVersion"]) > end_rv
    finally:
        conn.close()


def test_watch_list_requires_resource_version_match(kyb: KybServer, ns: str) -> None:
    """sendInitialEvents without resourceVersionMatch=NotOlderThan is refused (422), not silently ignored."""
    resp = kyb.request(
        "GET",
        f"/api/v1/namespaces/{ns}/configmaps",
        query={"watch": "true", "sendInitialEvents": "true", "allowWatchBookmarks": "true"},
    )
    assert resp.status == 422, resp.body
    body = resp.json()
    assert body["reason"] == "Invalid" and body["code"] == 422
    # upstream's validateWatchOptions (apimachinery meta/internalversion/validation)
    assert body["message"] == (
        'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: '
        "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"
    )
    assert body["details"]["causes"] == [
        {
            "reason": "FieldValueForbidden",
            "message": "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            "field": "resourceVersionMatch",
        }
    ]
