"""Pod semantics that need no node: Pending phase, QoS class, binding, graceful deletion."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import KybServer


def _pod(name: str, resources: dict | None = None) -> dict:
    container: dict = {"name": "main", "image": "nginx:1.25"}
    if resources is not None:
        container["resources"] = resources
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [container]},
    }


def test_new_pod_is_pending_with_qos_class(kyb: KybServer, ns: str) -> None:
    from kubernetes import client

    with kyb.api_client() as api:
        core = client.CoreV1Api(api)
        best = core.create_namespaced_pod(ns, _pod("best"))
        assert best.status.phase == "Pending"
        assert best.status.qos_class == "BestEffort"
        assert best.spec.node_name is None
        burst = core.create_namespaced_pod(ns, _pod("burst", {"requests": {"cpu": "100m"}}))
        assert burst.status.qos_class == "Burstable"
        guaranteed = core.create_namespaced_pod(
            ns, _pod("guar", {"limits": {"cpu": "500m", "memory": "64Mi"}})
        )
        # limits only: requests default to limits, so the pod is Guaranteed
        assert guaranteed.status.qos_class == "Guaranteed"
        assert guaranteed.spec.containers[0].resources.requests == {"cpu": "500m", "memory": "64Mi"}


def test_pod_spec_is_mostly_immutable(kyb: KybServer, ns: str) -> None:
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    with kyb.api_client() as api:
        core = client.CoreV1Api(api)
        core.create_namespaced_pod(ns, _pod("fixed"))
        # the image may change
        pod = core.patch_namespaced_pod(
            "fixed", ns, {"spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}}
        )
        assert pod.spec.containers[0].image == "nginx:1.27"
        # other container fields may not
        with pytest.raises(ApiException) as info:
            core.patch_namespaced_pod(
                "fixed", ns, {"spec": {"containers": [{"name": "main", "command": ["sleep", "1"]}]}}
            )
        assert info.value.status == 422
        assert "pod updates may not change fields other than" in json.loads(info.value.body)["message"]


def test_binding_then_graceful_delete(kyb: KybServer, ns: str) -> None:
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    with kyb.api_client() as api:
        core = client.CoreV1Api(api)
        core.create_namespaced_pod(ns, _pod("bound"))
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": "bound"},
            "target": {"apiVersion": "v1", "kind": "Node", "name": "node-a"},
        }
        resp = kyb.request("POST", f"/api/v1/namespaces/{ns}/pods/bound/binding", binding)
        assert resp.status == 201, resp.body
        assert resp.json()["status"] == "Success"
        pod = core.read_namespaced_pod("bound", ns)
        assert pod.spec.node_name == "node-a"
        scheduled = [c for c in pod.status.conditions or [] if c.type == "PodScheduled"]
        assert scheduled and scheduled[0].status == "True"

        # a second binding conflicts
        again = kyb.request(
            "POST",
            f"/api/v1/namespaces/{ns}/pods/bound/binding",
            {**binding, "target": {"kind": "Node", "name": "node-b"}},
        )
        assert again.status == 409
        assert again.json()["reason"] == "Conflict"
        assert core.read_namespaced_pod("bound", ns).spec.node_name == "node-a"

        # a bound pod is deleted gracefully: marked, still readable
        deleted = core.delete_namespaced_pod("bound", ns)
        assert deleted.metadata.deletion_timestamp is not None
        assert deleted.metadata.deletion_grace_period_seconds == 30
        pod = core.read_namespaced_pod("bound", ns)
        assert pod.metadata.deletion_timestamp is not None
        assert pod.metadata.deletion_grace_period_seconds == 30
        # a shorter grace period is allowed, a longer one is not taken
        core.delete_namespaced_pod("bound", ns, grace_period_seconds=60)
        assert core.read_namespaced_pod("bound", ns).metadata.deletion_grace_period_seconds == 30
        core.delete_namespaced_pod("bound", ns, grace_period_seconds=0)
        with pytest.raises(ApiException) as info:
            core.read_namespaced_pod("bound", ns)
        assert info.value.status == 404


def test_binding_through_python_client(kyb: KybServer, ns: str) -> None:
    from kubernetes import client

    with kyb.api_client() as api:
        core = client.CoreV1Api(api)
        core.create_namespaced_pod(ns, _pod("pybound"))
        body = client.V1Binding(
            metadata=client.V1ObjectMeta(name="pybound"),
            target=client.V1ObjectReference(api_version="v1", kind="Node", name="node-py"),
        )
        # the response is a Status, which this client cannot turn into a V1Binding: read it raw
        resp = core.create_namespaced_binding(ns, body, _preload_content=False)
        assert resp.status == 201
        assert core.read_namespaced_pod("pybound", ns).spec.node_name == "node-py"


def test_pod_binding_name_mismatch(kyb: KybServer, ns: str) -> None:
    from kubernetes import client

    with kyb.api_client() as api:
        client.CoreV1Api(api).create_namespaced_pod(ns, _pod("mism"))
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "other"},
        "target": {"kind": "Node", "name": "n"},
    }
    resp = kyb.request("POST", f"/api/v1/namespaces/{ns}/pods/mism/binding", binding)
    assert resp.status == 400
    assert resp.json()["reason"] == "BadRequest"


def test_kubectl_delete_bound_pod_grace_zero(kyb: KybServer, ns: str) -> None:
    kyb.kubectl("run", "kb", "-n", ns, "--image=nginx")
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "kb"},
        "target": {"kind": "Node", "name": "n1"},
    }
    assert kyb.request("POST", f"/api/v1/namespaces/{ns}/pods/kb/binding", binding).status == 201
    out = kyb.kubectl("delete", "pod", "kb", "-n", ns, "--wait=false").stdout
    assert out.strip() == 'pod "kb" deleted'
    pod = kyb.kubectl_json("get", "pod", "kb", "-n", ns)
    assert pod["metadata"]["deletionTimestamp"]
    table = kyb.kubectl("get", "pod", "kb", "-n", ns).stdout
    assert "Terminating" in table
    out = kyb.kubectl("delete", "pod", "kb", "-n", ns, "--grace-period=0", "--force", timeout=30)
    assert 'pod "kb" force deleted' in out.stdout
    assert kyb.kubectl("get", "pod", "kb", "-n", ns, check=False).returncode != 0


def test_pod_status_subresource(kyb: KybServer, ns: str) -> None:
    from kubernetes import client

    with kyb.api_client() as api:
        core = client.CoreV1Api(api)
        core.create_namespaced_pod(ns, _pod("st"))
        pod = core.patch_namespaced_pod_status(
            "st", ns, {"status": {"phase": "Running", "podIP": "10.244.0.9"}}
        )
        assert pod.status.phase == "Running"
        assert pod.status.pod_ip == "10.244.0.9"
        row = kyb.kubectl("get", "pod", "st", "-n", ns, "-o", "wide", "--no-headers").stdout.split()
        assert row[2] == "Running"
        assert "10.244.0.9" in row
