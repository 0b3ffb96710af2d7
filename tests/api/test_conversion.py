"""Version conversion of built-in kinds: HorizontalPodAutoscaler autoscaling/v1 <-> v2 as upstream."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kybernetes.api import conversion
from kybernetes.api.conversion import autoscaling as hpa
from kybernetes.api.registry import Registry


def _v2(
    spec: dict[str, Any], status: dict[str, Any] | None = None, annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "h", "namespace": "ns"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"},
            "maxReplicas": 4,
            **spec,
        },
    }
    if annotations:
        obj["metadata"]["annotations"] = annotations
    if status is not None:
        obj["status"] = status
    return obj


def to_v1(obj: dict[str, Any]) -> dict[str, Any]:
    return conversion.convert(obj, "autoscaling", "HorizontalPodAutoscaler", "v1")


def to_v2(obj: dict[str, Any]) -> dict[str, Any]:
    return conversion.convert(obj, "autoscaling", "HorizontalPodAutoscaler", "v2")


def cpu(percent: int) -> dict[str, Any]:
    return {
        "type": "Resource",
        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": percent}},
    }


EVERY_METRIC = [
    {
        "type": "Resource",
        "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "1Gi"}},
    },
    {
        "type": "Pods",
        "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "10"}},
    },
    {
        "type": "Object",
        "object": {
            "metric": {"name": "hits", "selector": {"matchLabels": {"a": "b"}}},
            "target": {"type": "Value", "value": "5"},
            "describedObject": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "main"},
        },
    },
    {
        "type": "External",
        "external": {"metric": {"name": "queue"}, "target": {"type": "AverageValue", "averageValue": "30"}},
    },
    {
        "type": "ContainerResource",
        "containerResource": {
            "name": "cpu",
            "container": "app",
            "target": {"type": "Utilization", "averageUtilization": 70},
        },
    },
    cpu(50),
]


def test_cpu_target_is_v1s_own_field() -> None:
    v1 = to_v1(_v2({"minReplicas": 2, "metrics": [cpu(50)]}))
    assert v1["apiVersion"] == "autoscaling/v1"
    assert v1["spec"] == {
        "scaleTargetRef": {"kind": "Deployment", "name": "d", "apiVersion": "apps/v1"},
        "minReplicas": 2,
        "maxReplicas": 4,
        "targetCPUUtilizationPercentage": 50,
    }
    assert "annotations" not in v1["metadata"]
    # Go prints v1's non-pointer status fields even when zero
    assert v1["status"] == {"currentReplicas": 0, "desiredReplicas": 0}
    assert to_v2(v1)["spec"]["metrics"] == [cpu(50)]


def test_every_v2_metric_round_trips_through_the_annotation() -> None:
    original = _v2({"metrics": EVERY_METRIC})
    v1 = to_v1(original)
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 50
    carried = json.loads(v1["metadata"]["annotations"][hpa.METRIC_SPECS])
    assert [m["type"] for m in carried] == ["Resource", "Pods", "Object", "External", "ContainerResource"]
    assert carried[1] == {"type": "Pods", "pods": {"metricName": "qps", "targetAverageValue": "10"}}
    assert carried[2]["object"] == {
        "target": {"kind": "Ingress", "name": "main", "apiVersion": "networking.k8s.io/v1"},
        "metricName": "hits",
        "targetValue": "5",
        "selector": {"matchLabels": {"a": "b"}},
    }
    back = to_v2(v1)
    assert back["spec"]["metrics"] == EVERY_METRIC
    assert "annotations" not in back["metadata"]


def test_v1_without_metrics_gets_the_implicit_cpu_default() -> None:
    v1 = {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "h"},
        "spec": {"maxReplicas": 3},
    }
    assert to_v2(v1)["spec"]["metrics"] == [cpu(hpa.DEFAULT_CPU_UTILIZATION)]
    assert "status" not in to_v2(v1)


def test_behavior_uses_go_field_names_and_reads_back_case_insensitively() -> None:
    behavior = {
        "scaleUp": {
            "stabilizationWindowSeconds": 0,
            "selectPolicy": "Max",
            "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}],
        }
    }
    v1 = to_v1(_v2({"metrics": [cpu(10)], "behavior": behavior}))
    text = v1["metadata"]["annotations"][hpa.BEHAVIOR]
    assert text == (
        '{"ScaleUp":{"StabilizationWindowSeconds":0,"SelectPolicy":"Max",'
        '"Policies":[{"Type":"Pods","Value":4,"PeriodSeconds":15}]},"ScaleDown":null}'
    )
    assert to_v2(v1)["spec"]["behavior"] == behavior
    v1["metadata"]["annotations"][hpa.BEHAVIOR] = '{"scaleup":{"selectpolicy":"Min"}}'
    assert to_v2(v1)["spec"]["behavior"] == {"scaleUp": {"selectPolicy": "Min"}}


def test_status_metrics_and_conditions_round_trip() -> None:
    status = {
        "observedGeneration": 3,
        "currentReplicas": 2,
        "desiredReplicas": 3,
        "currentMetrics": [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "current": {"averageValue": "120m", "averageUtilization": 60}},
            },
            {"type": "Pods", "pods": {"metric": {"name": "qps"}, "current": {"averageValue": "7"}}},
        ],
        "conditions": [
            {
                "type": "ScalingActive",
                "status": "False",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
                "reason": "FailedGetResourceMetric",
                "message": "a <b> & c",
            }
        ],
    }
    v1 = to_v1(_v2({"metrics": [cpu(60)]}, status))
    assert v1["status"] == {
        "observedGeneration": 3,
        "currentReplicas": 2,
        "desiredReplicas": 3,
        "currentCPUUtilizationPercentage": 60,
    }
    conditions = v1["metadata"]["annotations"][hpa.CONDITIONS]
    assert "\\u003cb\\u003e \\u0026 c" in conditions  # encoding/json's HTML escaping
    back = to_v2(v1)
    assert back["status"] == status


def test_client_annotations_are_kept_and_bad_round_trip_ones_dropped() -> None:
    v1 = to_v1(_v2({"metrics": [cpu(50)]}, annotations={"team": "a", hpa.METRIC_SPECS: "stale"}))
    assert v1["metadata"]["annotations"] == {"team": "a"}  # a stale round-trip annotation never leaks out
    v1["metadata"]["annotations"].update(
        {hpa.METRIC_SPECS: "not json", hpa.BEHAVIOR: "[", hpa.CONDITIONS: "{}"}
    )
    back = to_v2(v1)
    assert back["spec"]["metrics"] == [cpu(50)]
    assert "behavior" not in back["spec"]
    assert back["metadata"]["annotations"] == {"team": "a"}


def test_registry_records_the_storage_version() -> None:
    registry = Registry.builtin()
    v1 = registry.get("autoscaling", "v1", "horizontalpodautoscalers")
    v2 = registry.get("autoscaling", "v2", "horizontalpodautoscalers")
    assert v1 is not None and v2 is not None
    assert registry.storage_info(v1) is v2 and registry.storage_info(v2) is v2
    assert registry.groups()["autoscaling"] == ["v2", "v1"]
    for info in registry:
        # every version of a resource converts to its storage version and back
        storage = registry.storage_info(info)
        assert conversion.can_convert(info.group, info.kind, info.version, storage.version)
        assert conversion.can_convert(info.group, info.kind, storage.version, info.version)


def test_identity_and_missing_conversions() -> None:
    conversion.register_identity("example.test", "Widget", ("v1", "v1beta1"))
    out = conversion.convert(
        {"apiVersion": "example.test/v1beta1", "kind": "Widget", "spec": {"a": 1}},
        "example.test",
        "Widget",
        "v1",
    )
    assert out == {"apiVersion": "example.test/v1", "kind": "Widget", "spec": {"a": 1}}
    with pytest.raises(conversion.ConversionError):
        conversion.convert(
            {"apiVersion": "example.test/v2", "kind": "Widget"}, "example.test", "Widget", "v1"
        )
