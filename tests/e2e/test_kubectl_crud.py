"""Day-two kubectl verbs on existing objects: describe, scale, label, annotate, patch, replace, delete."""

from __future__ import annotations

import json
import re
import time

import yaml

from tests.e2e.conftest import KybServer


def _deploy(kyb: KybServer, ns: str, name: str = "web", replicas: int = 2) -> dict:
    kyb.kubectl("create", "deployment", name, "-n", ns, "--image=nginx", f"--replicas={replicas}")
    return kyb.kubectl_json("get", "-n", ns, "deploy", name)


def test_describe_pod(kyb: KybServer, ns: str) -> None:
    kyb.kubectl("run", "p", "-n", ns, "--image=nginx:1.25", "--labels=app=p")
    out = kyb.kubectl("describe", "pod", "p", "-n", ns).stdout
    lines = {line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in out.splitlines() if ":" in line}
    assert lines["Name"] == "p"
    assert lines["Namespace"] == ns
    assert lines["Status"] == "Pending"
    assert lines["Labels"] == "app=p"
    assert "nginx:1.25" in out
    assert "QoS Class:" in out and "BestEffort" in out
    assert "Events:" in out


def test_describe_deployment(kyb: KybServer, ns: str) -> None:
    _deploy(kyb, ns)
    out = kyb.kubectl("describe", "deployment", "web", "-n", ns).stdout
    assert re.search(r"^Name:\s+web$", out, re.M)
    assert re.search(r"^Selector:\s+app=web$", out, re.M)
    assert re.search(r"^StrategyType:\s+RollingUpdate$", out, re.M)
    assert re.search(r"^Replicas:\s+2 desired", out, re.M)
    assert "Events:" in out


def test_describe_shows_events(kyb: KybServer, ns: str) -> None:
    from kubernetes import client

    kyb.kubectl("run", "evpod", "-n", ns, "--image=nginx")
    pod = kyb.kubectl_json("get", "-n", ns, "pod", "evpod")
    with kyb.api_client() as api:
        client.CoreV1Api(api).create_namespaced_event(
            ns,
            client.CoreV1Event(
                metadata=client.V1ObjectMeta(name="evpod.1"),
                involved_object=client.V1ObjectReference(
                    kind="Pod", name="evpod", namespace=ns, api_version="v1", uid=pod["metadata"]["uid"]
                ),
                reason="Testing",
                message="hello from the e2e suite",
                type="Normal",
                count=1,
                source=client.V1EventSource(component="e2e"),
            ),
        )
    out = kyb.kubectl("describe", "pod", "evpod", "-n", ns).stdout
    events = out.split("Events:", 1)[1]
    assert "Testing" in events
    assert "hello from the e2e suite" in events
    rows = kyb.kubectl("get", "events", "-n", ns, "--field-selector", "involvedObject.name=evpod").stdout
    assert "Testing" in rows


def test_scale_deployment(kyb: KybServer, ns: str) -> None:
    before = _deploy(kyb, ns)
    assert before["metadata"]["generation"] == 1
    out = kyb.kubectl("scale", "deployment", "web", "-n", ns, "--replicas=3").stdout
    assert out.strip() == "deployment.apps/web scaled"
    after = kyb.kubectl_json("get", "-n", ns, "deploy", "web")
    assert after["spec"]["replicas"] == 3
    assert after["metadata"]["generation"] == 2
    # precondition: --current-replicas must match
    res = kyb.kubectl(
        "scale", "deployment", "web", "-n", ns, "--current-replicas=5", "--replicas=1", check=False
    )
    assert res.returncode != 0
    assert kyb.kubectl_json("get", "-n", ns, "deploy", "web")["spec"]["replicas"] == 3


def test_scale_subresource_shape(kyb: KybServer, ns: str) -> None:
    _deploy(kyb, ns)
    resp = kyb.request("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/web/scale")
    assert resp.status == 200
    scale = resp.json()
    assert scale["apiVersion"] == "autoscaling/v1" and scale["kind"] == "Scale"
    assert scale["spec"]["replicas"] == 2
    assert scale["status"]["selector"] == "app=web"
    assert scale["metadata"]["name"] == "web"


def test_label_and_overwrite(kyb: KybServer, ns: str) -> None:
    kyb.kubectl("create", "configmap", "lab", "-n", ns)
    assert kyb.kubectl("label", "-n", ns, "cm", "lab", "tier=front").stdout.strip() == "configmap/lab labeled"
    assert kyb.kubectl_json("get", "-n", ns, "cm", "lab")["metadata"]["labels"] == {"tier": "front"}
    res = kyb.kubectl("label", "-n", ns, "cm", "lab", "tier=back", check=False)
    assert res.returncode != 0
    assert "--overwrite is false" in res.stderr
    kyb.kubectl("label", "-n", ns, "cm", "lab", "tier=back", "--overwrite")
    assert kyb.kubectl_json("get", "-n", ns, "cm", "lab")["metadata"]["labels"] == {"tier": "back"}
    assert kyb.kubectl("label", "-n", ns, "cm", "lab", "tier-").stdout.strip() == "configmap/lab unlabeled"
    assert not kyb.kubectl_json("get", "-n", ns, "cm", "lab")["metadata"].get("labels")
    bad = kyb.kubectl("label", "-n", ns, "cm", "lab", "bad key=x", check=False)
    assert bad.returncode != 0


def test_label_invalid_value_rejected_by_server(kyb: KybServer, ns: str) -> None:
    kyb.kubectl("create", "configmap", "lab2", "-n", ns)
    patch = json.dumps({"metadata": {"labels": {"k": "v" * 64}}})
    res = kyb.kubectl("patch", "-n", ns, "cm", "lab2", "--type=merge", "-p", patch, check=False)
    assert res.returncode != 0
    assert 'The ConfigMap "lab2" is invalid: metadata.labels: Invalid value: ' in res.stderr, res.stderr
    assert "must be no more than 63 characters" in res.stderr, res.stderr
    assert not kyb.kubectl_json("get", "-n", ns, "cm", "lab2")["metadata"].get("labels")


def test_annotate_and_overwrite(kyb: KybServer, ns: str) -> None:
    kyb.kubectl("create", "configmap", "ann", "-n", ns)
    out = kyb.kubectl("annotate", "-n", ns, "cm", "ann", "note=first").stdout
    assert out.strip() == "configmap/ann annotated"
    res = kyb.kubectl("annotate", "-n", ns, "cm", "ann", "note=second", check=False)
    assert res.returncode != 0
    assert "--overwrite is false" in res.stderr
    kyb.kubectl("annotate", "-n", ns, "cm", "ann", "note=second", "--overwrite")
    assert kyb.kubectl_json("get", "-n", ns, "cm", "ann")["metadata"]["annotations"] == {"note": "second"}


def test_label_does_not_bump_generation(kyb: KybServer, ns: str) -> None:
    _deploy(kyb, ns)
    kyb.kubectl("label", "-n", ns, "deploy", "web", "extra=yes")
    kyb.kubectl("annotate", "-n", ns, "deploy", "web", "note=yes")
    assert kyb.kubectl_json("get", "-n", ns, "deploy", "web")["metadata"]["generation"] == 1


def test_patch_strategic_merges_lists_by_key(kyb: KybServer, ns: str) -> None:
    _deploy(kyb, ns)
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox"}]}}}}
    out = kyb.kubectl("patch", "-n", ns, "deploy", "web", "--type=strategic", "-p", json.dumps(patch)).stdout
    assert out.strip() == "deployment.apps/web patched"
    dep = kyb.kubectl_json("get", "-n", ns, "deploy", "web")
    names = [c["name"] for c in dep["spec"]["template"]["spec"]["containers"]]
    assert sorted(names) == ["nginx", "sidecar"]
    assert dep["metadata"]["generation"] == 2
    # the default --type is strategic; $patch: delete removes one element by key
    kyb.kubectl(
        "patch",
        "-n",
        ns,
        "deploy",
        "web",
        "-p",
        '{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","$patch":"delete"}]}}}}',
    )
    dep = kyb.kubectl_json("get", "-n", ns, "deploy", "web")
    assert [c["name"] for c in dep["spec"]["template"]["spec"]["containers"]] == ["nginx"]


def test_patch_merge_replaces_lists(kyb: KybServer, ns: str) -> None:
    _deploy(kyb, ns)
    patch = {
        "metadata": {"labels": {"app": None, "new": "label"}},
        "spec": {"template": {"spec": {"containers": [{"name": "only", "image": "busybox"}]}}},
    }
    out = kyb.kubectl("patch", "-n", ns, "deploy", "web", "--type=merge", "-p", json.dumps(patch)).stdout
    assert out.strip() == "deployment.apps/web patched"
    dep = kyb.kubectl_json("get", "-n", ns, "deploy", "web")
    containers = dep["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["only"]
    # defaults are applied to the patched result
    assert containers[0]["imagePullPolicy"] == "Always"
    assert dep["metadata"]["labels"] == {"new": "label"}


def test_patch_json(kyb: KybServer, ns: str) -> None:
    _deploy(kyb, ns)
    ops = [
        {"op": "replace", "path": "/spec/replicas", "value": 5},
        {"op": "add", "path": "/metadata/labels/extra", "value": "x"},
    ]
    out = kyb.kubectl("patch", "-n", ns, "deploy", "web", "--type=json", "-p", json.dumps(ops)).stdout
    assert out.strip() == "deployment.apps/web patched"
    dep = kyb.kubectl_json("get", "-n", ns, "deploy", "web")
    assert dep["spec"]["replicas"] == 5
    assert dep["metadata"]["labels"]["extra"] == "x"
    failing = [{"op": "test", "path": "/spec/replicas", "value": 99}]
    res = kyb.kubectl(
        "patch", "-n", ns, "deploy", "web", "--type=json", "-p", json.dumps(failing), check=False
    )
    assert res.returncode != 0
    assert kyb.kubectl_json("get", "-n", ns, "deploy", "web")["spec"]["replicas"] == 5


def test_patch_no_change(kyb: KybServer, ns: str) -> None:
    _deploy(kyb, ns)
    before = kyb.kubectl_json("get", "-n", ns, "deploy", "web")
    out = kyb.kubectl("patch", "-n", ns, "deploy", "web", "-p", '{"spec":{"replicas":2}}').stdout
    assert out.strip() == "deployment.apps/web patched (no change)"
    after = kyb.kubectl_json("get", "-n", ns, "deploy", "web")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_patch_invalid_result_is_rejected(kyb: KybServer, ns: str) -> None:
    _deploy(kyb, ns)
    res = kyb.kubectl(
        "patch", "-n", ns, "deploy", "web", "--type=merge", "-p", '{"spec":{"replicas":-1}}', check=False
    )
    assert res.returncode != 0
    assert "spec.replicas" in res.stderr
    assert kyb.kubectl_json("get", "-n", ns, "deploy", "web")["spec"]["replicas"] == 2


def test_replace_round_trip(kyb: KybServer, ns: str) -> None:
    _deploy(kyb, ns)
    doc = yaml.safe_load(kyb.kubectl("get", "-n", ns, "deploy", "web", "-o", "yaml").stdout)
    doc["spec"]["replicas"] = 4
    doc["metadata"].setdefault("labels", {})["edited"] = "true"
    out = kyb.kubectl("replace", "-n", ns, "-f", "-", input=yaml.safe_dump(doc)).stdout
    assert out.strip() == "deployment.apps/web replaced"
    dep = kyb.kubectl_json("get", "-n", ns, "deploy", "web")
    assert dep["spec"]["replicas"] == 4
    assert dep["metadata"]["labels"]["edited"] == "true"
    assert dep["metadata"]["generation"] == 2
    assert dep["metadata"]["uid"] == doc["metadata"]["uid"]
    # the same document again carries a stale resourceVersion: Conflict
    stale = kyb.kubectl("replace", "-n", ns, "-f", "-", input=yaml.safe_dump(doc), check=False)
    assert stale.returncode != 0
    assert "Conflict" in stale.stderr
    assert "the object has been modified; please apply your changes to the latest version" in stale.stderr


def test_replace_force(kyb: KybServer, ns: str) -> None:
    kyb.kubectl("create", "configmap", "forced", "-n", ns, "--from-literal=a=1")
    old = kyb.kubectl_json("get", "-n", ns, "cm", "forced")
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: forced\ndata:\n  a: '2'\n"
    out = kyb.kubectl("replace", "--force", "-n", ns, "-f", "-", input=manifest).stdout
    assert 'configmap "forced" deleted' in out
    assert "configmap/forced replaced" in out
    new = kyb.kubectl_json("get", "-n", ns, "cm", "forced")
    assert new["data"] == {"a": "2"}
    assert new["metadata"]["uid"] != old["metadata"]["uid"]


def test_delete_deployment(kyb: KybServer, ns: str) -> None:
    _deploy(kyb, ns)
    started = time.monotonic()
    out = kyb.kubectl("delete", "deployment", "web", "-n", ns, "--wait=true", timeout=30).stdout
    assert out.strip() == 'deployment.apps "web" deleted'
    assert time.monotonic() - started < 20
    res = kyb.kubectl("get", "deployment", "web", "-n", ns, check=False)
    assert res.returncode != 0
    assert 'deployments.apps "web" not found' in res.stderr


def test_delete_unbound_pod_is_immediate(kyb: KybServer, ns: str) -> None:
    kyb.kubectl("run", "gone", "-n", ns, "--image=nginx")
    out = kyb.kubectl("delete", "pod", "gone", "-n", ns, "--wait=false").stdout
    assert out.strip() == 'pod "gone" deleted'
    # not scheduled to a node: no graceful period, it is gone at once
    res = kyb.kubectl("get", "pod", "gone", "-n", ns, check=False)
    assert res.returncode != 0 and 'pods "gone" not found' in res.stderr


def test_delete_by_label_and_missing(kyb: KybServer, ns: str) -> None:
    for name in ("a", "b", "c"):
        kyb.kubectl("create", "configmap", name, "-n", ns)
    kyb.kubectl("label", "-n", ns, "cm", "a", "b", "doomed=yes")
    out = kyb.kubectl("delete", "cm", "-n", ns, "-l", "doomed=yes").stdout
    assert sorted(out.splitlines()) == ['configmap "a" deleted', 'configmap "b" deleted']
    assert "c" in kyb.kubectl("get", "cm", "-n", ns, "-o", "name").stdout
    res = kyb.kubectl("delete", "cm", "nothere", "-n", ns, check=False)
    assert res.returncode != 0
    assert 'Error from server (NotFound): configmaps "nothere" not found' in res.stderr
    ok = kyb.kubectl("delete", "cm", "nothere", "-n", ns, "--ignore-not-found")
    assert ok.returncode == 0


def test_delete_dry_run_server(kyb: KybServer, ns: str) -> None:
    _deploy(kyb, ns)
    out = kyb.kubectl("delete", "deployment", "web", "-n", ns, "--dry-run=server").stdout
    assert out.strip() == 'deployment.apps "web" deleted (server dry run)'
    dep = kyb.kubectl_json("get", "deployment", "web", "-n", ns)
    assert "deletionTimestamp" not in dep["metadata"]


def test_delete_namespace_terminates(kyb: KybServer) -> None:
    kyb.kubectl("create", "namespace", "doomed-ns")
    kyb.kubectl("create", "configmap", "inside", "-n", "doomed-ns")
    out = kyb.kubectl("delete", "namespace", "doomed-ns", "--wait=false").stdout
    assert out.strip() == 'namespace "doomed-ns" deleted'
    obj = kyb.request("GET", "/api/v1/namespaces/doomed-ns")
    if obj.status == 200:
        # the namespace finalizer keeps it while its content is removed: phase Terminating
        body = obj.json()
        assert body["status"]["phase"] == "Terminating"
        assert body["metadata"]["deletionTimestamp"]
        res = kyb.kubectl("create", "configmap", "late", "-n", "doomed-ns", check=False)
        assert res.returncode != 0
        assert (
            'configmaps "late" is forbidden: unable to create new content in namespace doomed-ns '
            "because it is being terminated"
        ) in res.stderr
    else:
        assert obj.status == 404


def test_edit_round_trip(kyb: KybServer, ns: str) -> None:
    _deploy(kyb, ns)
    editor = "sed -i -e s/replicas:\\ 2/replicas:\\ 6/"
    out = kyb.kubectl("edit", "-n", ns, "deploy", "web", env={"KUBE_EDITOR": editor, "EDITOR": editor}).stdout
    assert out.strip() == "deployment.apps/web edited"
    dep = kyb.kubectl_json("get", "-n", ns, "deploy", "web")
    assert dep["spec"]["replicas"] == 6
    assert dep["metadata"]["generation"] == 2
    noop = kyb.kubectl("edit", "-n", ns, "deploy", "web", env={"KUBE_EDITOR": "true", "EDITOR": "true"})
    assert "Edit cancelled, no changes made." in noop.stdout + noop.stderr


def test_set_image_and_rollout_restart(kyb: KybServer, ns: str) -> None:
    _deploy(kyb, ns)
    out = kyb.kubectl("set", "image", "-n", ns, "deployment/web", "nginx=nginx:1.27").stdout
    assert out.strip() == "deployment.apps/web image updated"
    dep = kyb.kubectl_json("get", "-n", ns, "deploy", "web")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert dep["metadata"]["generation"] == 2
    out = kyb.kubectl("rollout", "restart", "-n", ns, "deployment/web").stdout
    assert out.strip() == "deployment.apps/web restarted"
    dep = kyb.kubectl_json("get", "-n", ns, "deploy", "web")
    assert "kubectl.kubernetes.io/restartedAt" in dep["spec"]["template"]["metadata"]["annotations"]
    assert dep["metadata"]["generation"] == 3


def test_wait_for_jsonpath_and_delete(kyb: KybServer, ns: str) -> None:
    _deploy(kyb, ns)
    out = kyb.kubectl(
        "wait", "-n", ns, "deploy/web", "--for=jsonpath={.spec.replicas}=2", "--timeout=10s", timeout=20
    ).stdout
    assert out.strip() == "deployment.apps/web condition met"
    kyb.kubectl("delete", "-n", ns, "deploy/web", "--wait=false")
    kyb.kubectl("wait", "-n", ns, "deploy/web", "--for=delete", "--timeout=10s", timeout=20)


def test_delete_all_in_namespace(kyb: KybServer, ns: str) -> None:
    for name in ("x", "y", "z"):
        kyb.kubectl("create", "configmap", name, "-n", ns)
    out = kyb.kubectl("delete", "cm", "--all", "-n", ns).stdout
    assert sorted(out.splitlines()) == [
        'configmap "x" deleted',
        'configmap "y" deleted',
        'configmap "z" deleted',
    ]
    assert kyb.kubectl("get", "cm", "-n", ns, "-o", "name").stdout == ""
