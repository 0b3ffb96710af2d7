"""Built-in kinds served in several versions: HorizontalPodAutoscaler in autoscaling/v1 and v2.

Stored as autoscaling/v2 and converted at the API boundary as upstream converts: kubectl's ``autoscale``
(which writes autoscaling/v1), reads of one object through both versions, v2-only fields carried by the
round-trip annotations of v1, watches in v1, the official client's ``AutoscalingV1Api``, discovery and
the OpenAPI document of each version.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from tests.e2e.conftest import KybServer, unique, wait_for

V1 = "/apis/autoscaling/v1"
V2 = "/apis/autoscaling/v2"
METRICS = "autoscaling.alpha.kubernetes.io/metrics"
BEHAVIOR = "autoscaling.alpha.kubernetes.io/behavior"
CONDITIONS = "autoscaling.alpha.kubernetes.io/conditions"
CURRENT = "autoscaling.alpha.kubernetes.io/current-metrics"


def _hpa_v2(
    name: str, *, metrics: list[dict[str, Any]], behavior: dict[str, Any] | None = None
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": 1,
        "maxReplicas": 5,
        "metrics": metrics,
    }
    if behavior is not None:
        spec["behavior"] = behavior
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name},
        "spec": spec,
    }


MEMORY = {
    "type": "Resource",
    "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}},
}
CPU_60 = {
    "type": "Resource",
    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}},
}
BEHAVIOR_V2 = {
    "scaleDown": {
        "stabilizationWindowSeconds": 120,
        "selectPolicy": "Min",
        "policies": [{"type": "Percent", "value": 10, "periodSeconds": 60}],
    },
}


def test_kubectl_autoscale_writes_v1_and_reads_in_both(kyb: KybServer, ns: str) -> None:
    kyb.kubectl("create", "deployment", "d1", "--image=x", "-n", ns)
    out = kyb.kubectl("autoscale", "deploy", "d1", "--min=1", "--max=3", "--cpu-percent=50", "-n", ns).stdout
    assert out.strip() == "horizontalpodautoscaler.autoscaling/d1 autoscaled"

    v1 = kyb.kubectl_json(
        "get", "horizontalpodautoscalers.v1.autoscaling", "d1", "-n", ns, "--show-managed-fields"
    )
    assert v1["apiVersion"] == "autoscaling/v1"
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 50
    assert v1["spec"]["minReplicas"] == 1 and v1["spec"]["maxReplicas"] == 3
    assert v1["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d1"}
    # the CPU target is v1's own field: nothing travels in annotations
    assert METRICS not in (v1["metadata"].get("annotations") or {})
    # kubectl wrote autoscaling/v1: its managed fields are recorded in that version, status is not owned
    entries = v1["metadata"]["managedFields"]
    assert [e["apiVersion"] for e in entries] == ["autoscaling/v1"]
    assert "f:targetCPUUtilizationPercentage" in entries[0]["fieldsV1"]["f:spec"]
    assert "f:status" not in entries[0]["fieldsV1"]

    v2 = kyb.kubectl_json("get", "horizontalpodautoscalers.v2.autoscaling", "d1", "-n", ns)
    assert v2["apiVersion"] == "autoscaling/v2"
    assert v2["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}},
        }
    ]
    assert "targetCPUUtilizationPercentage" not in v2["spec"]
    # the preferred version is v2: plain ``hpa`` reads it, and so does ``hpa.v1.autoscaling``, because
    # kubectl's short-name expansion keeps only group and resource (as against a real kube-apiserver)
    assert kyb.kubectl_json("get", "hpa", "d1", "-n", ns)["apiVersion"] == "autoscaling/v2"
    assert kyb.kubectl_json("get", "hpa.v1.autoscaling", "d1", "-n", ns)["apiVersion"] == "autoscaling/v2"
    # both versions print the same table
    v1_table = kyb.kubectl(
        "get", "horizontalpodautoscalers.v1.autoscaling", "d1", "-n", ns
    ).stdout.splitlines()
    v2_table = kyb.kubectl(
        "get", "horizontalpodautoscalers.v2.autoscaling", "d1", "-n", ns
    ).stdout.splitlines()
    assert v1_table[0].split() == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
    assert v1_table[1].split()[:5] == v2_table[1].split()[:5]
    assert v1_table[1].split()[1] == "Deployment/d1"
    # a Table asked of v1 embeds v1 objects
    table = kyb.request(
        "GET",
        f"{V1}/namespaces/{ns}/horizontalpodautoscalers",
        query={"includeObject": "Object"},
        accept="application/json;as=Table;v=v1;g=meta.k8s.io",
    ).json()
    assert table["kind"] == "Table"
    assert "cpu: <unknown>/50%" in table["rows"][0]["cells"]
    assert table["rows"][0]["object"]["apiVersion"] == "autoscaling/v1"
    assert table["rows"][0]["object"]["spec"]["targetCPUUtilizationPercentage"] == 50


def test_v2_only_fields_round_trip_through_v1(kyb: KybServer, ns: str) -> None:
    name = unique("rt")
    created = kyb.request(
        "POST",
        f"{V2}/namespaces/{ns}/horizontalpodautoscalers",
        _hpa_v2(name, metrics=[MEMORY, CPU_60], behavior=BEHAVIOR_V2),
    )
    assert created.status == 201, created.body[:300]
    before = kyb.request("GET", f"{V2}/namespaces/{ns}/horizontalpodautoscalers/{name}").json()

    got = kyb.request("GET", f"{V1}/namespaces/{ns}/horizontalpodautoscalers/{name}")
    assert got.status == 200
    v1 = got.json()
    assert v1["apiVersion"] == "autoscaling/v1"
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 60
    annotations = v1["metadata"]["annotations"]
    assert json.loads(annotations[METRICS]) == [
        {"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "100Mi"}}
    ]
    # behavior is marshalled from the internal type upstream: Go field names, defaults filled in
    behavior = json.loads(annotations[BEHAVIOR])
    assert behavior["ScaleDown"] == {
        "StabilizationWindowSeconds": 120,
        "SelectPolicy": "Min",
        "Policies": [{"Type": "Percent", "Value": 10, "PeriodSeconds": 60}],
    }
    assert behavior["ScaleUp"]["SelectPolicy"] == "Max"

    # update through v1 (a PUT of what was read, one field changed) and read back as v2
    v1["spec"]["maxReplicas"] = 7
    put = kyb.request("PUT", f"{V1}/namespaces/{ns}/horizontalpodautoscalers/{name}", v1)
    assert put.status == 200, put.body[:300]
    assert put.json()["apiVersion"] == "autoscaling/v1"
    after = kyb.request("GET", f"{V2}/namespaces/{ns}/horizontalpodautoscalers/{name}").json()
    assert after["spec"]["maxReplicas"] == 7
    assert after["spec"]["metrics"] == before["spec"]["metrics"]
    assert after["spec"]["behavior"] == before["spec"]["behavior"]
    # the round-trip annotations never reach the stored object
    assert not any(
        k.startswith("autoscaling.alpha.kubernetes.io/") for k in after["metadata"].get("annotations") or {}
    )

    # a merge patch through v1 changes the CPU target and keeps the memory metric
    patched = kyb.request(
        "PATCH",
        f"{V1}/namespaces/{ns}/horizontalpodautoscalers/{name}",
        {"spec": {"targetCPUUtilizationPercentage": 75}},
        content_type="application/merge-patch+json",
    )
    assert patched.status == 200, patched.body[:300]
    assert patched.json()["spec"]["targetCPUUtilizationPercentage"] == 75
    metrics = kyb.request("GET", f"{V2}/namespaces/{ns}/horizontalpodautoscalers/{name}").json()["spec"][
        "metrics"
    ]
    assert metrics == [
        MEMORY,
        {**CPU_60, "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 75}}},
    ]


def test_status_conditions_travel_in_v1_annotations(kyb: KybServer, ns: str) -> None:
    name = unique("st")
    assert (
        kyb.request(
            "POST", f"{V2}/namespaces/{ns}/horizontalpodautoscalers", _hpa_v2(name, metrics=[CPU_60])
        ).status
        == 201
    )
    current = kyb.request("GET", f"{V2}/namespaces/{ns}/horizontalpodautoscalers/{name}").json()
    current["status"] = {
        "currentReplicas": 2,
        "desiredReplicas": 3,
        "currentMetrics": [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "current": {"averageUtilization": 90, "averageValue": "900m"}},
            }
        ],
        "conditions": [
            {
                "type": "AbleToScale",
                "status": "True",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
                "reason": "ReadyForNewScale",
                "message": "ok",
            }
        ],
    }
    put = kyb.request("PUT", f"{V2}/namespaces/{ns}/horizontalpodautoscalers/{name}/status", current)
    assert put.status == 200, put.body[:300]
    v1 = kyb.request("GET", f"{V1}/namespaces/{ns}/horizontalpodautoscalers/{name}").json()
    assert v1["status"]["currentCPUUtilizationPercentage"] == 90
    assert v1["status"]["currentReplicas"] == 2 and v1["status"]["desiredReplicas"] == 3
    annotations = v1["metadata"]["annotations"]
    assert json.loads(annotations[CONDITIONS]) == [
        {
            "type": "AbleToScale",
            "status": "True",
            "lastTransitionTime": "2026-01-01T00:00:00Z",
            "reason": "ReadyForNewScale",
            "message": "ok",
        }
    ]
    assert json.loads(annotations[CURRENT]) == [
        {
            "type": "Resource",
            "resource": {"name": "cpu", "currentAverageUtilization": 90, "currentAverageValue": "900m"},
        }
    ]


def test_watch_in_v1_gets_v1_objects(kyb: KybServer, ns: str) -> None:
    name = unique("w")
    lines: list[dict[str, Any]] = []
    reader = kyb.kubectl_bg(
        "get",
        "horizontalpodautoscalers.v1.autoscaling",
        "-n",
        ns,
        "--watch",
        "-o",
        "json",
        "--output-watch-events",
    )
    try:
        body = _hpa_v2(name, metrics=[MEMORY])
        assert kyb.request("POST", f"{V2}/namespaces/{ns}/horizontalpodautoscalers", body).status == 201
        raw = kyb.request(
            "GET",
            f"{V1}/namespaces/{ns}/horizontalpodautoscalers",
            query={"watch": "1", "timeoutSeconds": "2", "resourceVersion": "0"},
        )
        assert raw.status == 200
        lines = [json.loads(line) for line in raw.body.decode().splitlines() if line.strip()]
        assert lines and lines[0]["type"] == "ADDED"
        obj = lines[0]["object"]
        assert obj["apiVersion"] == "autoscaling/v1" and obj["kind"] == "HorizontalPodAutoscaler"
        assert METRICS in obj["metadata"]["annotations"]
        assert "targetCPUUtilizationPercentage" not in obj["spec"]
        line = reader.wait_line(lambda text: '"apiVersion":"autoscaling/v1"' in text, timeout=20)
        assert "autoscaling/v1" in line
    finally:
        reader.stop()


def test_official_client_autoscaling_v1_api(kyb: KybServer, ns: str) -> None:
    from kubernetes import client, watch

    api = client.AutoscalingV1Api(kyb.api_client())
    name = unique("py")
    body = client.V1HorizontalPodAutoscaler(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1HorizontalPodAutoscalerSpec(
            scale_target_ref=client.V1CrossVersionObjectReference(
                api_version="apps/v1", kind="Deployment", name="web"
            ),
            min_replicas=2,
            max_replicas=4,
            target_cpu_utilization_percentage=40,
        ),
    )
    created = api.create_namespaced_horizontal_pod_autoscaler(ns, body)
    assert created.api_version == "autoscaling/v1"
    assert created.spec.target_cpu_utilization_percentage == 40
    assert created.status.current_replicas == 0  # v1's status is always there, as Go prints it
    listed = api.list_namespaced_horizontal_pod_autoscaler(ns)
    assert [i.metadata.name for i in listed.items] == [name]
    got = api.read_namespaced_horizontal_pod_autoscaler(name, ns)
    got.spec.target_cpu_utilization_percentage = 45
    replaced = api.replace_namespaced_horizontal_pod_autoscaler(name, ns, got)
    assert replaced.spec.target_cpu_utilization_percentage == 45
    v2 = client.AutoscalingV2Api(kyb.api_client()).read_namespaced_horizontal_pod_autoscaler(name, ns)
    assert v2.spec.metrics[0].resource.target.average_utilization == 45

    seen: list[Any] = []
    done = threading.Event()
    w = watch.Watch()

    def consume() -> None:
        for event in w.stream(api.list_namespaced_horizontal_pod_autoscaler, ns, timeout_seconds=5):
            seen.append(event)
            if event["type"] == "DELETED":
                w.stop()
                break
        done.set()

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    wait_for(lambda: seen, timeout=10, what="initial ADDED")
    api.delete_namespaced_horizontal_pod_autoscaler(name, ns)
    assert done.wait(15)
    thread.join(5)
    assert seen[0]["type"] == "ADDED" and isinstance(seen[0]["object"], client.V1HorizontalPodAutoscaler)
    assert seen[-1]["type"] == "DELETED" and seen[-1]["object"].spec.target_cpu_utilization_percentage == 45


def test_server_side_apply_in_v1(kyb: KybServer, ns: str) -> None:
    manifest = f"""\
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata:
  name: applied
  namespace: {ns}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: web}}
  maxReplicas: 4
  targetCPUUtilizationPercentage: 30
"""
    kyb.kubectl("apply", "--server-side", "-f", "-", input=manifest)
    v1 = kyb.kubectl_json(
        "get", "horizontalpodautoscalers.v1.autoscaling", "applied", "-n", ns, "--show-managed-fields"
    )
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 30
    entry = next(e for e in v1["metadata"]["managedFields"] if e["operation"] == "Apply")
    assert entry["apiVersion"] == "autoscaling/v1"
    assert set(entry["fieldsV1"]["f:spec"]) == {
        "f:scaleTargetRef",
        "f:maxReplicas",
        "f:targetCPUUtilizationPercentage",
    }
    kyb.kubectl(
        "apply", "--server-side", "-f", "-", input=manifest.replace("Percentage: 30", "Percentage: 35")
    )
    v2 = kyb.kubectl_json("get", "horizontalpodautoscalers.v2.autoscaling", "applied", "-n", ns)
    assert v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 35

    # a v2 writer that changes what the v1 applier owns conflicts with it, compared in the applier's version
    patch = {"spec": {"metrics": [CPU_60]}}
    conflict = kyb.request(
        "PATCH",
        f"{V2}/namespaces/{ns}/horizontalpodautoscalers/applied",
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "applied"},
            **patch,
        },
        query={"fieldManager": "other"},
        content_type="application/apply-patch+yaml",
    )
    assert conflict.status == 409, conflict.body[:300]
    assert (
        "f:targetCPUUtilizationPercentage" in conflict.json()["message"]
        or ".spec.targetCPUUtilizationPercentage" in conflict.json()["message"]
    )


def test_discovery_and_openapi_list_both_versions(kyb: KybServer) -> None:
    group = kyb.request("GET", "/apis/autoscaling").json()
    assert [v["version"] for v in group["versions"]] == ["v2", "v1"]
    assert group["preferredVersion"]["version"] == "v2"
    hashes = set()
    for path in (V1, V2):
        resources = kyb.request("GET", path).json()["resources"]
        hpa = next(r for r in resources if r["name"] == "horizontalpodautoscalers")
        assert hpa["shortNames"] == ["hpa"] and hpa["categories"] == ["all"]
        hashes.add(hpa["storageVersionHash"])
        assert any(r["name"] == "horizontalpodautoscalers/status" for r in resources)
    assert len(hashes) == 1  # the storage version's hash, in every served version
    aggregated = kyb.request(
        "GET", "/apis", accept="application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    ).json()
    autoscaling = next(g for g in aggregated["items"] if g["metadata"]["name"] == "autoscaling")
    assert [v["version"] for v in autoscaling["versions"]] == ["v2", "v1"]
    doc = kyb.request("GET", "/openapi/v3/apis/autoscaling/v1").json()
    assert "io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler" in doc["components"]["schemas"]
    assert kyb.kubectl("api-versions").stdout.split().count("autoscaling/v1") == 1
    explained = kyb.kubectl(
        "explain", "hpa.spec.targetCPUUtilizationPercentage", "--api-version=autoscaling/v1"
    ).stdout
    assert "targetCPUUtilizationPercentage" in explained


def test_apply_moving_to_v1_prunes_what_the_v2_apply_set(kyb: KybServer, ns: str) -> None:
    """The same manager applies in v2, then in v1 without the memory metric: it is pruned in v2's terms."""
    path = f"/apis/autoscaling/%s/namespaces/{ns}/horizontalpodautoscalers/moved"
    ref = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
    first = {
        **_hpa_v2("moved", metrics=[MEMORY]),
        "spec": {"scaleTargetRef": ref, "maxReplicas": 3, "metrics": [MEMORY]},
    }
    resp = kyb.request(
        "PATCH", path % "v2", first, query={"fieldManager": "m"}, content_type="application/apply-patch+yaml"
    )
    assert resp.status == 201, resp.body[:300]
    second = {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "moved"},
        "spec": {"scaleTargetRef": ref, "maxReplicas": 4},
    }
    resp = kyb.request(
        "PATCH", path % "v1", second, query={"fieldManager": "m"}, content_type="application/apply-patch+yaml"
    )
    assert resp.status == 200, resp.body[:300]
    spec = kyb.request("GET", path % "v2").json()["spec"]
    assert spec["maxReplicas"] == 4
    # the memory metric is gone; v1 without a CPU target means upstream's implicit 80%
    assert spec["metrics"] == [
        {
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
        }
    ]
