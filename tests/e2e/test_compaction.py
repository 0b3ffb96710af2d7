"""Reads and watches below the compacted revision (etcd only: the test compacts the etcd itself)."""

from __future__ import annotations

import json
import subprocess
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import KybServer


def _etcd_endpoint(kyb: KybServer) -> str:
    if not kyb.datastore or not kyb.datastore.startswith("etcd://"):
        pytest.skip("needs the etcd backend to compact history from outside")
    return urlsplit(kyb.datastore).netloc


def _etcdctl(endpoint: str, *args: str) -> str:
    result = subprocess.run(
        ["etcdctl", f"--endpoints={endpoint}", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={"ETCDCTL_API": "3", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _compact_now(endpoint: str) -> int:
    status = json.loads(_etcdctl(endpoint, "endpoint", "status", "-w", "json"))
    revision = int(status[0]["Status"]["header"]["revision"])
    _etcdctl(endpoint, "compact", str(revision))
    return revision


def _rv(kyb: KybServer, ns: str) -> str:
    return kyb.request("GET", f"/api/v1/namespaces/{ns}/configmaps").json()["metadata"]["resourceVersion"]


def test_exact_list_below_compaction_is_expired(kyb: KybServer, ns: str) -> None:
    endpoint = _etcd_endpoint(kyb)
    kyb.kubectl("create", "configmap", "c0", "-n", ns)
    old = _rv(kyb, ns)
    for i in range(3):
        kyb.kubectl("create", "configmap", f"c{i + 1}", "-n", ns)
    _compact_now(endpoint)
    resp = kyb.request(
        "GET",
        f"/api/v1/namespaces/{ns}/configmaps",
        query={"resourceVersion": old, "resourceVersionMatch": "Exact"},
    )
    assert resp.status == 410, resp.body
    body = resp.json()
    assert body["kind"] == "Status" and body["reason"] == "Expired"
    current = kyb.request("GET", f"/api/v1/namespaces/{ns}/configmaps").json()
    assert {i["metadata"]["name"] for i in current["items"]} >= {"c0", "c1", "c2", "c3"}


def test_continue_token_after_compaction_is_expired(kyb: KybServer, ns: str) -> None:
    endpoint = _etcd_endpoint(kyb)
    for i in range(4):
        kyb.kubectl("create", "configmap", f"p{i}", "-n", ns)
    first = kyb.request("GET", f"/api/v1/namespaces/{ns}/configmaps", query={"limit": "2"}).json()
    token = first["metadata"]["continue"]
    kyb.kubectl("create", "configmap", "later", "-n", ns)
    _compact_now(endpoint)
    resp = kyb.request("GET", f"/api/v1/namespaces/{ns}/configmaps", query={"limit": "2", "continue": token})
    assert resp.status == 410, resp.body
    body = resp.json()
    assert body["reason"] == "Expired"
    # upstream offers a continue token for an inconsistent continuation
    assert "continue" in body["message"].lower() or body["metadata"].get("continue")


def test_watch_below_compaction_replays_or_expires(kyb: KybServer, ns: str) -> None:
    endpoint = _etcd_endpoint(kyb)
    old = _rv(kyb, ns)
    kyb.kubectl("create", "configmap", "w0", "-n", ns)
    kyb.kubectl("create", "configmap", "w1", "-n", ns)
    _compact_now(endpoint)
    resp = kyb.request(
        "GET",
        f"/api/v1/namespaces/{ns}/configmaps",
        query={"watch": "true", "resourceVersion": old, "timeoutSeconds": "1"},
    )
    if resp.status == 410:
        assert resp.json()["reason"] == "Expired"
        return
    assert resp.status == 200, resp.body
    events = [json.loads(line) for line in resp.body.decode().splitlines() if line.strip()]
    assert events, "a watch below compaction must either replay or end with a 410 ERROR event"
    if events[0]["type"] == "ERROR":
        assert events[0]["object"]["code"] == 410
        assert events[0]["object"]["reason"] == "Expired"
    else:
        # served from a cache that still holds the window: it must be the exact history, no gap
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
            ("ADDED", "w0"),
            ("ADDED", "w1"),
        ]
