"""``kubectl apply``: client-side (last-applied annotation + strategic merge) and server-side (field managers)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import KybServer

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{app: {name}}}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: web
        image: {image}
        ports:
        - containerPort: 80
"""

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def test_client_side_apply_created_unchanged_configured(kyb: KybServer, ns: str, tmp_path: Path) -> None:
    manifest = tmp_path / "web.yaml"
    manifest.write_text(DEPLOYMENT.format(name="web", replicas=1, image="nginx:1.25"))
    out = kyb.kubectl("apply", "-n", ns, "-f", str(manifest)).stdout
    assert out.strip() == "deployment.apps/web created"
    dep = kyb.kubectl_json("get", "-n", ns, "deploy", "web", "--show-managed-fields")
    last = json.loads(dep["metadata"]["annotations"][LAST_APPLIED])
    assert last["spec"]["replicas"] == 1
    assert dep["metadata"]["generation"] == 1
    managers = {m["manager"] for m in dep["metadata"].get("managedFields", [])}
    assert "kubectl-client-side-apply" in managers

    out = kyb.kubectl("apply", "-n", ns, "-f", str(manifest)).stdout
    assert out.strip() == "deployment.apps/web unchanged"
    again = kyb.kubectl_json("get", "-n", ns, "deploy", "web")
    assert again["metadata"]["resourceVersion"] == dep["metadata"]["resourceVersion"]

    manifest.write_text(DEPLOYMENT.format(name="web", replicas=3, image="nginx:1.27"))
    out = kyb.kubectl("apply", "-n", ns, "-f", str(manifest)).stdout
    assert out.strip() == "deployment.apps/web configured"
    dep = kyb.kubectl_json("get", "-n", ns, "deploy", "web")
    assert dep["spec"]["replicas"] == 3
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.27"
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert dep["metadata"]["generation"] == 2
    assert json.loads(dep["metadata"]["annotations"][LAST_APPLIED])["spec"]["replicas"] == 3


def test_client_side_apply_removes_fields_dropped_from_manifest(kyb: KybServer, ns: str) -> None:
    with_label = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  labels: {a: '1', b: '2'}\ndata: {x: '1', y: '2'}\n"
    without = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  labels: {a: '1'}\ndata: {x: '1'}\n"
    kyb.kubectl("apply", "-n", ns, "-f", "-", input=with_label)
    # a field set by someone else (not in last-applied) survives the apply
    kyb.kubectl("label", "-n", ns, "cm", "cm", "owner=other")
    out = kyb.kubectl("apply", "-n", ns, "-f", "-", input=without).stdout
    assert out.strip() == "configmap/cm configured"
    cm = kyb.kubectl_json("get", "-n", ns, "cm", "cm")
    assert cm["data"] == {"x": "1"}
    assert cm["metadata"]["labels"] == {"a": "1", "owner": "other"}


def test_client_side_apply_merges_containers_by_name(kyb: KybServer, ns: str) -> None:
    kyb.kubectl("apply", "-n", ns, "-f", "-", input=DEPLOYMENT.format(name="m", replicas=1, image="nginx:1"))
    # a second container added out of band is kept by the strategic merge (lists keyed by name)
    kyb.kubectl(
        "patch",
        "-n",
        ns,
        "deploy",
        "m",
        "-p",
        '{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox"}]}}}}',
    )
    kyb.kubectl("apply", "-n", ns, "-f", "-", input=DEPLOYMENT.format(name="m", replicas=1, image="nginx:2"))
    containers = kyb.kubectl_json("get", "-n", ns, "deploy", "m")["spec"]["template"]["spec"]["containers"]
    assert {c["name"]: c["image"] for c in containers} == {"web": "nginx:2", "side": "busybox"}


def test_server_side_apply_creates_then_applies(kyb: KybServer, ns: str) -> None:
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  key: one\n"
    out = kyb.kubectl("apply", "--server-side", "-n", ns, "-f", "-", input=manifest).stdout
    assert out.strip() == "configmap/ssa serverside-applied"
    cm = kyb.kubectl_json("get", "-n", ns, "cm", "ssa", "--show-managed-fields")
    assert cm["data"] == {"key": "one"}
    entries = cm["metadata"]["managedFields"]
    apply_entries = [m for m in entries if m["manager"] == "kubectl"]
    assert len(apply_entries) == 1
    entry = apply_entries[0]
    assert entry["operation"] == "Apply"
    assert entry["apiVersion"] == "v1"
    assert entry["fieldsType"] == "FieldsV1"
    assert "f:key" in entry["fieldsV1"]["f:data"]
    # server-side apply does not write the client-side annotation
    assert LAST_APPLIED not in (cm["metadata"].get("annotations") or {})

    out = kyb.kubectl(
        "apply", "--server-side", "-n", ns, "-f", "-", input=manifest.replace("key: one", "key: two")
    ).stdout
    assert out.strip() == "configmap/ssa serverside-applied"
    assert kyb.kubectl_json("get", "-n", ns, "cm", "ssa")["data"] == {"key": "two"}


def test_server_side_apply_conflict_and_force(kyb: KybServer, ns: str) -> None:
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: owned\ndata:\n  key: mine\n"
    kyb.kubectl("apply", "--server-side", "-n", ns, "-f", "-", input=manifest)
    theirs = manifest.replace("key: mine", "key: theirs")
    res = kyb.kubectl(
        "apply", "--server-side", "--field-manager=intruder", "-n", ns, "-f", "-", input=theirs, check=False
    )
    assert res.returncode != 0
    assert "conflict" in res.stderr.lower()
    assert 'conflict with "kubectl"' in res.stderr
    assert ".data.key" in res.stderr
    assert kyb.kubectl_json("get", "-n", ns, "cm", "owned")["data"] == {"key": "mine"}

    out = kyb.kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=intruder",
        "-n",
        ns,
        "-f",
        "-",
        input=theirs,
    ).stdout
    assert out.strip() == "configmap/owned serverside-applied"
    cm = kyb.kubectl_json("get", "-n", ns, "cm", "owned", "--show-managed-fields")
    assert cm["data"] == {"key": "theirs"}
    owners = {m["manager"]: m for m in cm["metadata"]["managedFields"]}
    assert "f:key" in owners["intruder"]["fieldsV1"]["f:data"]
    # the forced field moved: the old manager owned nothing else (name is stripped from field sets), so
    # its now-empty entry is dropped, as structured-merge-diff drops empty managers
    assert set(owners) == {"intruder"}, owners


def test_server_side_apply_same_value_shares_ownership(kyb: KybServer, ns: str) -> None:
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\ndata:\n  key: same\n"
    kyb.kubectl("apply", "--server-side", "-n", ns, "-f", "-", input=manifest)
    res = kyb.kubectl("apply", "--server-side", "--field-manager=other", "-n", ns, "-f", "-", input=manifest)
    assert res.stdout.strip() == "configmap/shared serverside-applied"
    cm = kyb.kubectl_json("get", "-n", ns, "cm", "shared", "--show-managed-fields")
    owners = {
        m["manager"] for m in cm["metadata"]["managedFields"] if "f:key" in m["fieldsV1"].get("f:data", {})
    }
    assert owners == {"kubectl", "other"}


def test_dry_run_server_changes_nothing(kyb: KybServer, ns: str) -> None:
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dry\ndata:\n  key: v1\n"
    out = kyb.kubectl("apply", "--dry-run=server", "-n", ns, "-f", "-", input=manifest).stdout
    assert out.strip() == "configmap/dry created (server dry run)"
    missing = kyb.kubectl("get", "-n", ns, "cm", "dry", check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr

    out = kyb.kubectl(
        "apply", "--server-side", "--dry-run=server", "-n", ns, "-f", "-", input=manifest
    ).stdout
    assert out.strip() == "configmap/dry serverside-applied (server dry run)"
    assert kyb.kubectl("get", "-n", ns, "cm", "dry", check=False).returncode != 0

    kyb.kubectl("apply", "-n", ns, "-f", "-", input=manifest)
    before = kyb.kubectl_json("get", "-n", ns, "cm", "dry")
    out = kyb.kubectl(
        "apply", "--dry-run=server", "-n", ns, "-f", "-", input=manifest.replace("key: v1", "key: v2")
    ).stdout
    assert out.strip() == "configmap/dry configured (server dry run)"
    # the dry-run answer is what would be stored
    shown = json.loads(
        kyb.kubectl(
            "apply",
            "--dry-run=server",
            "-o",
            "json",
            "-n",
            ns,
            "-f",
            "-",
            input=manifest.replace("key: v1", "key: v2"),
        ).stdout
    )
    assert shown["data"] == {"key": "v2"}
    after = kyb.kubectl_json("get", "-n", ns, "cm", "dry")
    assert after["data"] == {"key": "v1"}
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_create_dry_run_server(kyb: KybServer, ns: str) -> None:
    out = kyb.kubectl(
        "create", "deployment", "ghost", "-n", ns, "--image=nginx", "--dry-run=server", "-o", "json"
    )
    obj = json.loads(out.stdout)
    # a server dry run runs defaulting (and would run admission), but stores nothing
    assert obj["spec"]["strategy"]["type"] == "RollingUpdate"
    assert obj["metadata"]["uid"]
    assert kyb.kubectl("get", "-n", ns, "deploy", "ghost", check=False).returncode != 0


def test_kubectl_diff(kyb: KybServer, ns: str) -> None:
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: diffed\ndata:\n  key: old\n"
    kyb.kubectl("apply", "-n", ns, "-f", "-", input=manifest)
    same = kyb.kubectl("diff", "-n", ns, "-f", "-", input=manifest, check=False)
    assert same.returncode == 0, same.stderr
    assert same.stdout == ""
    changed = kyb.kubectl(
        "diff", "-n", ns, "-f", "-", input=manifest.replace("key: old", "key: new"), check=False
    )
    assert changed.returncode == 1, changed.stderr
    assert "-  key: old" in changed.stdout
    assert "+  key: new" in changed.stdout
    # diff is a server dry run: nothing changed
    assert kyb.kubectl_json("get", "-n", ns, "cm", "diffed")["data"] == {"key": "old"}


def test_apply_list_kind_and_directory(kyb: KybServer, ns: str, tmp_path: Path) -> None:
    doc = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "l1"}},
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "l2"}, "stringData": {"k": "v"}},
        ],
    }
    out = kyb.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(doc)).stdout
    assert out.splitlines() == ["configmap/l1 created", "secret/l2 created"]
    # stringData is folded into data by the server
    assert kyb.kubectl_json("get", "-n", ns, "secret", "l2")["data"] == {"k": "dg=="}
    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d1\n")
    (tmp_path / "b.json").write_text(
        json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d2"}})
    )
    out = kyb.kubectl("apply", "-n", ns, "-f", str(tmp_path)).stdout
    assert sorted(out.splitlines()) == ["configmap/d1 created", "configmap/d2 created"]
