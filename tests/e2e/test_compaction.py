"""Reads and watches below the compacted revision (etcd only: the test compacts the etcd itself)."""

from __future__ import annotations

import json
import subprocess
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import KybServer

# only the etcd backend (no skipped sqlite twin): the module's server is always on the session etcd
pytestmark = pytest.mark.parametrize(
    "kyb", [pytest.param("etcd", marks=pytest.mark.etcd)], indirect=True, scope="module"
)


def _etcd_endpoint(kyb: KybServer) -> str:
    assert kyb.datastore and kyb.datastore.startswith("etcd://"), kyb.datastore
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
    kyb.kubectl("create", "configmap", "q-later", "-n", ns)  # sorts after the first page
    _compact_now(endpoint)
    resp = kyb.request("GET", f"/api/v1/namespaces/{ns}/configmaps", query={"limit": "2", "continue": token})
    assert resp.status == 410, resp.body
    body = resp.json()
    assert body["reason"] == "Expired" and body["code"] == 410
    # upstream (etcd3 handleCompactedErrorForPaging) offers a token for an inconsistent continuation
    assert body["message"].startswith(
        "The provided continue parameter is too old to display a consistent list result. You can start a new "
        "list without the continue parameter, or use the continue token in this response"
    ), body
    fresh = body["metadata"]["continue"]
    rest: list[str] = []
    for _ in range(10):  # the remaining 3 objects, 2 a page
        page = kyb.request(
            "GET", f"/api/v1/namespaces/{ns}/configmaps", query={"limit": "2", "continue": fresh}
        )
        assert page.status == 200, page.body
        listed = page.json()
        rest += [item["metadata"]["name"] for item in listed["items"]]
        fresh = listed["metadata"].get("continue")
        if not fresh:
            break
    # the continuation resumes after the first page, at the latest revision (so "q-later" shows up)
    assert [item["metadata"]["name"] for item in first["items"]] == ["p0", "p1"]
    assert rest == ["p2", "p3", "q-later"]


def test_watch_below_compaction_expires(kyb: KybServer, ns: str) -> None:
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
    # a watch is always a 200 stream; the expiry arrives as an ERROR event (upstream's etcd watcher does
    # the same; upstream's watch cache would instead replay from its event window, which kyb has not got)
    assert resp.status == 200, resp.body
    events = [json.loads(line) for line in resp.body.decode().splitlines() if line.strip()]
    assert [e["type"] for e in events] == ["ERROR"], events
    status = events[0]["object"]
    assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired"), status
    assert status["message"].startswith("The resourceVersion for the provided watch is too old"), status
