"""``pods/ephemeralcontainers`` through the official client and raw HTTP, against the API server alone.

What upstream's ``podEphemeralContainersStrategy`` and ``ValidatePodEphemeralContainersUpdate`` say: the
subresource reads and writes the whole Pod but changes only ``spec.ephemeralContainers``; existing
ephemeral containers may not be removed or changed; names are unique across all containers; ports,
probes, resources and lifecycle are forbidden; ``targetContainerName`` must name an init or app
container; a pod may not be created with ephemeral containers and the main resource may not change them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.conftest import KybServer, unique

pytestmark = pytest.mark.timeout(120)

SMP = "application/strategic-merge-patch+json"


def _pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "x"}},
        "spec": {
            "initContainers": [{"name": "setup", "image": "busybox", "command": ["true"]}],
            "containers": [{"name": "app", "image": "busybox", "command": ["sleep", "3600"]}],
        },
    }


def _debugger(name: str = "debugger", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox", "command": ["sh"], "stdin": True, "tty": True, **extra}


def _create(kyb: KybServer, ns: str, name: str) -> dict[str, Any]:
    resp = kyb.request("POST", f"/api/v1/namespaces/{ns}/pods", _pod(name))
    assert resp.status == 201, resp.body[:500]
    body: dict[str, Any] = resp.json()
    return body


def _path(ns: str, name: str) -> str:
    return f"/api/v1/namespaces/{ns}/pods/{name}/ephemeralcontainers"


def _causes(exc: Any) -> list[dict[str, Any]]:
    body = json.loads(exc.body)
    assert body["kind"] == "Status" and body["code"] == 422 and body["reason"] == "Invalid", body
    causes: list[dict[str, Any]] = body["details"]["causes"]
    return causes


@pytest.fixture(scope="module")
def core(kyb_sqlite: KybServer) -> Any:
    from kubernetes import client

    return client.CoreV1Api(kyb_sqlite.api_client())


def test_patch_adds_ephemeral_container_only(kyb_sqlite: KybServer, ns: str, core: Any) -> None:
    name = unique("pod")
    created = _create(kyb_sqlite, ns, name)
    # the patch also tries to change other fields: the subresource keeps them as stored
    patch = {
        "metadata": {"labels": {"app": "changed"}},
        "spec": {
            "ephemeralContainers": [_debugger(targetContainerName="app")],
            "activeDeadlineSeconds": 5,
        },
        "status": {"phase": "Succeeded"},
    }
    pod = core.patch_namespaced_pod_ephemeralcontainers(name, ns, patch, _content_type=SMP)
    assert pod.kind == "Pod"
    (ec,) = pod.spec.ephemeral_containers
    assert (ec.name, ec.image, ec.target_container_name, ec.stdin, ec.tty) == (
        "debugger",
        "busybox",
        "app",
        True,
        True,
    )
    # defaulted like any container
    assert ec.termination_message_path == "/dev/termination-log"
    assert ec.termination_message_policy == "File"
    assert ec.image_pull_policy == "Always"
    assert pod.metadata.labels == {"app": "x"}
    assert pod.spec.active_deadline_seconds is None
    assert pod.status.phase == "Pending"
    assert int(pod.metadata.resource_version) > int(created["metadata"]["resourceVersion"])
    # GET on the subresource answers the pod
    got = core.read_namespaced_pod_ephemeralcontainers(name, ns)
    assert [c.name for c in got.spec.ephemeral_containers] == ["debugger"]
    # the managedFields entry names the subresource
    raw = kyb_sqlite.request("GET", f"/api/v1/namespaces/{ns}/pods/{name}").json()
    assert any(m.get("subresource") == "ephemeralcontainers" for m in raw["metadata"]["managedFields"])


def test_replace_adds_another_and_keeps_the_first(kyb_sqlite: KybServer, ns: str, core: Any) -> None:
    from kubernetes import client

    name = unique("pod")
    _create(kyb_sqlite, ns, name)
    core.patch_namespaced_pod_ephemeralcontainers(
        name, ns, {"spec": {"ephemeralContainers": [_debugger("one")]}}, _content_type=SMP
    )
    pod = core.read_namespaced_pod(name, ns)
    pod.spec.ephemeral_containers.append(
        client.V1EphemeralContainer(name="two", image="busybox", command=["sleep", "1"])
    )
    replaced = core.replace_namespaced_pod_ephemeralcontainers(name, ns, pod)
    assert [c.name for c in replaced.spec.ephemeral_containers] == ["one", "two"]
    # a stale resourceVersion is a conflict, as on any update
    pod.spec.ephemeral_containers.append(client.V1EphemeralContainer(name="three", image="busybox"))
    with pytest.raises(client.ApiException) as info:
        core.replace_namespaced_pod_ephemeralcontainers(name, ns, pod)
    assert info.value.status == 409


def test_existing_ephemeral_containers_may_not_be_removed_or_changed(
    kyb_sqlite: KybServer, ns: str, core: Any
) -> None:
    from kubernetes import client

    name = unique("pod")
    _create(kyb_sqlite, ns, name)
    core.patch_namespaced_pod_ephemeralcontainers(
        name, ns, {"spec": {"ephemeralContainers": [_debugger()]}}, _content_type=SMP
    )
    # removing it (a merge patch replaces the list with an empty one)
    with pytest.raises(client.ApiException) as info:
        core.patch_namespaced_pod_ephemeralcontainers(
            name, ns, {"spec": {"ephemeralContainers": []}}, _content_type="application/merge-patch+json"
        )
    (cause,) = _causes(info.value)
    assert cause["field"] == "spec.ephemeralContainers"
    assert cause["reason"] == "FieldValueForbidden"
    assert 'existing ephemeral containers "debugger" may not be removed' in cause["message"]
    # changing it (strategic merge by name)
    with pytest.raises(client.ApiException) as info:
        core.patch_namespaced_pod_ephemeralcontainers(
            name,
            ns,
            {"spec": {"ephemeralContainers": [{"name": "debugger", "image": "busybox:1.36"}]}},
            _content_type=SMP,
        )
    (cause,) = _causes(info.value)
    assert cause["field"] == "spec.ephemeralContainers"
    assert 'existing ephemeral containers "debugger" may not be changed' in cause["message"]
    assert "busybox:1.36" in cause["message"]
    # nothing was stored
    pod = core.read_namespaced_pod(name, ns)
    assert [(c.name, c.image) for c in pod.spec.ephemeral_containers] == [("debugger", "busybox")]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"ports": [{"containerPort": 80}]}, "ports"),
        ({"resources": {"limits": {"cpu": "1"}}}, "resources"),
        ({"readinessProbe": {"exec": {"command": ["true"]}}}, "readinessProbe"),
        ({"lifecycle": {"preStop": {"exec": {"command": ["true"]}}}}, "lifecycle"),
    ],
)
def test_forbidden_fields(
    kyb_sqlite: KybServer, ns: str, core: Any, extra: dict[str, Any], field: str
) -> None:
    from kubernetes import client

    name = unique("pod")
    _create(kyb_sqlite, ns, name)
    with pytest.raises(client.ApiException) as info:
        core.patch_namespaced_pod_ephemeralcontainers(
            name, ns, {"spec": {"ephemeralContainers": [_debugger(**extra)]}}, _content_type=SMP
        )
    (cause,) = _causes(info.value)
    assert cause["field"] == f"spec.ephemeralContainers[0].{field}"
    assert cause["reason"] == "FieldValueForbidden"
    assert "cannot be set for an Ephemeral Container" in cause["message"]


def test_names_unique_and_target_must_exist(kyb_sqlite: KybServer, ns: str, core: Any) -> None:
    from kubernetes import client

    name = unique("pod")
    _create(kyb_sqlite, ns, name)
    for duplicate in ("app", "setup"):
        with pytest.raises(client.ApiException) as info:
            core.patch_namespaced_pod_ephemeralcontainers(
                name, ns, {"spec": {"ephemeralContainers": [_debugger(duplicate)]}}, _content_type=SMP
            )
        (cause,) = _causes(info.value)
        assert cause["field"] == "spec.ephemeralContainers[0].name"
        assert cause["reason"] == "FieldValueDuplicate"
        assert f'"{duplicate}"' in cause["message"]
    with pytest.raises(client.ApiException) as info:
        core.patch_namespaced_pod_ephemeralcontainers(
            name,
            ns,
            {"spec": {"ephemeralContainers": [_debugger("a"), _debugger("a")]}},
            _content_type="application/merge-patch+json",
        )
    assert [c["field"] for c in _causes(info.value)] == ["spec.ephemeralContainers[1].name"]
    with pytest.raises(client.ApiException) as info:
        core.patch_namespaced_pod_ephemeralcontainers(
            name,
            ns,
            {"spec": {"ephemeralContainers": [_debugger(targetContainerName="nope")]}},
            _content_type=SMP,
        )
    (cause,) = _causes(info.value)
    assert cause["field"] == "spec.ephemeralContainers[0].targetContainerName"
    assert cause["reason"] == "FieldValueNotFound"


def test_main_resource_may_not_change_ephemeral_containers(kyb_sqlite: KybServer, ns: str, core: Any) -> None:
    from kubernetes import client

    name = unique("pod")
    _create(kyb_sqlite, ns, name)
    with pytest.raises(client.ApiException) as info:
        core.patch_namespaced_pod(
            name, ns, {"spec": {"ephemeralContainers": [_debugger()]}}, _content_type=SMP
        )
    (cause,) = _causes(info.value)
    assert cause["field"] == "spec"
    assert "pod updates may not change fields other than" in cause["message"]
    # nor create a pod with them
    body = _pod(unique("pod"))
    body["spec"]["ephemeralContainers"] = [_debugger()]
    resp = kyb_sqlite.request("POST", f"/api/v1/namespaces/{ns}/pods", body)
    assert resp.status == 422, resp.body[:300]
    causes = resp.json()["details"]["causes"]
    assert {"field": "spec.ephemeralContainers", "reason": "FieldValueForbidden"}.items() <= causes[0].items()
    assert "cannot be set on create" in causes[0]["message"]


def test_raw_http_methods_and_discovery(kyb_sqlite: KybServer, ns: str) -> None:
    name = unique("pod")
    _create(kyb_sqlite, ns, name)
    resp = kyb_sqlite.request(
        "PATCH",
        _path(ns, name),
        {"spec": {"ephemeralContainers": [_debugger()]}},
        content_type=SMP,
    )
    assert resp.status == 200, resp.body[:500]
    assert resp.json()["kind"] == "Pod"
    assert kyb_sqlite.request("POST", _path(ns, name), {}).status == 405
    assert kyb_sqlite.request("DELETE", _path(ns, name)).status == 405
    missing = kyb_sqlite.request("GET", _path(ns, "nope"))
    assert missing.status == 404 and missing.json()["details"]["name"] == "nope"
    # not a JSON object: a 400 Status, never a 500
    bad = kyb_sqlite.request("PATCH", _path(ns, name), b"[1,", content_type=SMP)
    assert bad.status == 400 and bad.json()["kind"] == "Status", bad.body[:300]
    resources = kyb_sqlite.request("GET", "/api/v1").json()["resources"]
    (entry,) = [r for r in resources if r["name"] == "pods/ephemeralcontainers"]
    assert entry["kind"] == "Pod" and sorted(entry["verbs"]) == ["get", "patch", "update"]
