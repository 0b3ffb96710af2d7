"""HPA: replica math (upstream's replica calculator cases), normalisation and behaviors, and the
controller scaling a Deployment's /scale against a real API server with a fake metrics source."""

from __future__ import annotations

import time
from typing import Any

import pytest

from kybernetes.client import ApiClient
from kybernetes.controllers.base import ControllerOptions
from kybernetes.controllers.podautoscaler import (
    HorizontalPodAutoscalerController,
    MetricError,
    PodMetric,
    ReplicaCalculator,
    ScaleNormalizer,
)
from tests.controllers._node_fixtures import api, eventually, pod, running, server

__all__ = ["api", "server"]

NOW = time.time()
STARTED = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW - 3600))


def pods(
    requests: list[str], ready: list[bool] | None = None, phase: str = "Running"
) -> list[dict[str, Any]]:
    out = []
    for i, req in enumerate(requests):
        p = pod(f"p{i}", requests={"cpu": req, "memory": "1Gi"})
        ok = True if ready is None else ready[i]
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW - (3600 if ok else 10)))
        p["status"] = {
            "phase": phase,
            "startTime": started,
            "conditions": [
                {"type": "Ready", "status": "True" if ok else "False", "lastTransitionTime": started}
            ],
        }
        out.append(p)
    return out


def cpu(levels: list[int]) -> dict[str, PodMetric]:
    return {f"p{i}": {"cpu_millicores": float(v)} for i, v in enumerate(levels)}


calc = ReplicaCalculator()


@pytest.mark.parametrize(
    ("current", "requests", "ready", "levels", "target", "expected", "utilization"),
    [
        (3, ["1", "1", "1"], None, [300, 500, 700], 30, 5, 50),  # scale up
        (
            3,
            ["1", "1", "1"],
            [False, True, True],
            [300, 500, 700],
            30,
            4,
            60,
        ),  # unready pods count 0 on scale-up
        (5, ["1"] * 5, None, [100, 300, 500, 250, 250], 50, 3, 28),  # scale down
        (3, ["900m", "1", "1100m"], None, [1010, 1030, 1020], 100, 3, 102),  # within tolerance
        (3, ["1"] * 3, None, [3000, 3000], 100, 6, 300),  # missing metric counts 0 on scale-up
        # missing pod counts 100% of its request on scale-down: 1300m/4000m = 32% -> ceil(0.65 * 4)
        (4, ["1"] * 4, None, [100, 100, 100], 50, 3, 10),
        (2, ["1", "1"], None, [1000], 100, 2, 100),  # missing, no change
    ],
)
def test_resource_replicas(
    current: int,
    requests: list[str],
    ready: list[bool] | None,
    levels: list[int],
    target: int,
    expected: int,
    utilization: int,
) -> None:
    replicas, util, _ = calc.resource_replicas(
        current, target, "cpu", pods(requests, ready), cpu(levels), NOW
    )
    assert (replicas, util) == (expected, utilization)


def test_raw_average_value() -> None:
    # 3 pods averaging 600m against 200m per pod -> 9
    replicas, avg, _ = calc.raw_resource_replicas(3, 200, "cpu", pods(["1"] * 3), cpu([500, 600, 700]), NOW)
    assert (replicas, avg) == (9, 600)
    memory = {f"p{i}": {"memory_bytes": 512 * 2**20} for i in range(2)}
    replicas, util, _ = calc.resource_replicas(2, 25, "memory", pods(["1"] * 2), memory, NOW)
    assert (replicas, util) == (4, 50)


def test_errors() -> None:
    with pytest.raises(MetricError, match="did not receive metrics"):
        calc.resource_replicas(3, 50, "cpu", pods(["1"] * 3), {}, NOW)
    no_request = pods(["1"])
    no_request[0]["spec"]["containers"][0]["resources"] = {}
    with pytest.raises(MetricError, match="missing request for cpu in container c of Pod p0"):
        calc.resource_replicas(1, 50, "cpu", no_request, cpu([100]), NOW)
    with pytest.raises(MetricError, match="no pods"):
        calc.resource_replicas(1, 50, "cpu", [], cpu([100]), NOW)
    # deleted and failed pods are ignored entirely
    ps = pods(["1"] * 3)
    ps[2]["status"]["phase"] = "Failed"
    replicas, util, _ = calc.resource_replicas(3, 50, "cpu", ps, cpu([1000, 1000, 5000]), NOW)
    assert (replicas, util) == (4, 100)


def test_normalize_without_behavior() -> None:
    n = ScaleNormalizer(downscale_window=300)
    spec = {"minReplicas": 1, "maxReplicas": 20}
    desired, conds = n.normalize("k", spec, 2, 10, 0.0)
    assert desired == 4  # max(2*2, 4)
    assert ("ScalingLimited", "True", "ScaleUpLimit") == conds[-1][:3]
    # stabilisation: a lower recommendation within the window is ignored
    n.normalize("s", spec, 5, 5, 0.0)
    desired, conds = n.normalize("s", spec, 5, 2, 10.0)
    assert desired == 5 and conds[0][2] == "ScaleDownStabilized"
    desired, _ = n.normalize("s", spec, 5, 2, 400.0)  # window passed
    assert desired == 2
    desired, conds = n.normalize("m", {"minReplicas": 3, "maxReplicas": 5}, 4, 1, 0.0)
    assert desired == 3 and conds[-1][2] == "TooFewReplicas"


def test_normalize_with_behavior_policies() -> None:
    n = ScaleNormalizer()
    spec = {
        "minReplicas": 1,
        "maxReplicas": 50,
        "behavior": {
            "scaleUp": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]},
            "scaleDown": {
                "stabilizationWindowSeconds": 0,
                "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}],
            },
        },
    }
    desired, conds = n.normalize("k", spec, 3, 10, 0.0)
    assert desired == 4 and conds[-1][2] == "ScaleUpLimit"
    n.record_scale("k", 3, 4, 0.0)
    desired, _ = n.normalize("k", spec, 4, 10, 10.0)
    assert desired == 4  # one pod per minute already used
    desired, _ = n.normalize("k", spec, 4, 10, 70.0)
    assert desired == 5
    # scale down by at most 50% per minute
    desired, conds = n.normalize("d", spec, 10, 1, 0.0)
    assert desired == 5 and conds[-1][2] == "ScaleDownLimit"
    disabled = {**spec, "behavior": {"scaleUp": {"selectPolicy": "Disabled"}}}
    assert n.normalize("x", disabled, 3, 10, 0.0)[0] == 3


class FakeMetrics:
    def __init__(self) -> None:
        self.cpu_per_pod = 0.0

    async def pod_metrics(self, namespace: str, selector: str) -> dict[str, PodMetric]:
        return {name: {"cpu_millicores": self.cpu_per_pod} for name in self.names}

    names: list[str] = []


async def test_controller_scales_deployment(api: ApiClient) -> None:
    await api.deployments.create(
        {
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {"name": "c", "image": "x", "resources": {"requests": {"cpu": "100m"}}}
                        ]
                    },
                },
            },
        }
    )
    for i in range(2):
        await api.pods.create(pod(f"web-{i}", labels={"app": "web"}, requests={"cpu": "100m"}))
        status = {
            "phase": "Running",
            "startTime": STARTED,
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": STARTED}],
        }
        await api.pods.patch(f"web-{i}", {"status": status}, namespace="default", subresource="status")
    metrics = FakeMetrics()
    metrics.names = ["web-0", "web-1"]
    metrics.cpu_per_pod = 200.0  # 200% of request against a 50% target
    await api.horizontalpodautoscalers.create(
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 1,
                "maxReplicas": 10,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 50},
                        },
                    }
                ],
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 0}},
            },
        }
    )
    opts = ControllerOptions(horizontal_pod_autoscaler_sync_period=0.2, extra={"metrics_source": metrics})
    async with running(api, [HorizontalPodAutoscalerController], opts):

        async def replicas() -> int:
            return int((await api.deployments.get_scale("web", namespace="default"))["spec"]["replicas"])

        async def replicas_are(n: int) -> bool:
            return await replicas() == n

        # ratio 4 on 2 ready pods -> 8, capped by the default scale-up policy (max(4 pods, 100%) per 15 s)
        await eventually(lambda: replicas_are(6), timeout=10, what="scaled up to 6")
        hpa = await api.horizontalpodautoscalers.get("web", namespace="default")
        st = hpa["status"]
        assert st["desiredReplicas"] == 6
        assert st["currentMetrics"][0]["resource"]["current"]["averageUtilization"] == 200
        assert st["lastScaleTime"]
        conds = {c["type"]: c for c in st["conditions"]}
        assert conds["ScalingActive"]["status"] == "True"
        assert conds["ScalingLimited"]["reason"] == "ScaleUpLimit"

        async def rescale_event() -> bool:
            events = (await api.events.list(namespace="default"))["items"]
            return any(e["reason"] == "SuccessfulRescale" and "New size: 6" in e["message"] for e in events)

        await eventually(rescale_event, timeout=5, what="SuccessfulRescale event")

        # load drops: 10% of request -> ceil(0.2 * 2 ready pods) = 1 (no stabilisation window)
        metrics.cpu_per_pod = 10.0
        await eventually(lambda: replicas_are(1), timeout=10, what="scaled down to 1")


async def test_missing_metrics_api_sets_condition(api: ApiClient) -> None:
    await api.deployments.create(
        {
            "metadata": {"name": "w", "namespace": "default"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "w"}},
                "template": {
                    "metadata": {"labels": {"app": "w"}},
                    "spec": {"containers": [{"name": "c", "image": "x"}]},
                },
            },
        }
    )
    await api.pods.create(pod("w-0", labels={"app": "w"}, requests={"cpu": "100m"}))
    await api.horizontalpodautoscalers.create(
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "w", "namespace": "default"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "w"},
                "maxReplicas": 3,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 50},
                        },
                    }
                ],
            },
        }
    )
    opts = ControllerOptions(horizontal_pod_autoscaler_sync_period=0.2)
    async with running(api, [HorizontalPodAutoscalerController], opts):

        async def inactive() -> dict[str, Any] | None:
            hpa = await api.horizontalpodautoscalers.get("w", namespace="default")
            conds = {c["type"]: c for c in (hpa.get("status") or {}).get("conditions") or []}
            active = conds.get("ScalingActive") or {}
            return active if active.get("status") == "False" else None

        cond = await eventually(inactive, timeout=5, what="ScalingActive=False")
        assert cond["reason"] == "FailedGetResourceMetric"
        # upstream: "failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch
        # metrics from resource metrics API: ... (get pods.metrics.k8s.io)"
        assert "unable to get metrics for resource cpu" in cond["message"], cond
        assert "metrics.k8s.io" in cond["message"], cond


async def test_controller_acts_on_an_hpa_written_as_autoscaling_v1(api: ApiClient) -> None:
    """``kubectl autoscale`` writes autoscaling/v1; the controller (a v2 client) sees the same object."""
    await api.deployments.create(
        {
            "metadata": {"name": "old", "namespace": "default"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "old"}},
                "template": {
                    "metadata": {"labels": {"app": "old"}},
                    "spec": {
                        "containers": [
                            {"name": "c", "image": "x", "resources": {"requests": {"cpu": "100m"}}}
                        ]
                    },
                },
            },
        }
    )
    await api.pods.create(pod("old-0", labels={"app": "old"}, requests={"cpu": "100m"}))
    status = {
        "phase": "Running",
        "startTime": STARTED,
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": STARTED}],
    }
    await api.pods.patch("old-0", {"status": status}, namespace="default", subresource="status")
    metrics = FakeMetrics()
    metrics.names = ["old-0"]
    metrics.cpu_per_pod = 150.0  # 150% of request against a 50% target: ceil(3 * 1) = 3
    path = "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers"
    await api.request(
        "POST",
        path,
        body={
            "apiVersion": "autoscaling/v1",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "old"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "old"},
                "minReplicas": 1,
                "maxReplicas": 3,
                "targetCPUUtilizationPercentage": 50,
            },
        },
    )
    opts = ControllerOptions(horizontal_pod_autoscaler_sync_period=0.2, extra={"metrics_source": metrics})
    async with running(api, [HorizontalPodAutoscalerController], opts):

        async def scaled() -> bool:
            scale = await api.deployments.get_scale("old", namespace="default")
            return int(scale["spec"]["replicas"]) == 3

        await eventually(scaled, timeout=10, what="scaled up to 3")

        async def v1_status() -> dict[str, Any] | None:
            hpa = await api.request("GET", f"{path}/old")
            return hpa if (hpa.get("status") or {}).get("currentCPUUtilizationPercentage") else None

        hpa = await eventually(v1_status, timeout=10, what="v1 status")
        assert hpa["apiVersion"] == "autoscaling/v1"
        assert hpa["status"]["currentCPUUtilizationPercentage"] == 150
        assert hpa["status"]["desiredReplicas"] == 3
        # v2's conditions reach a v1 reader through the round-trip annotation
        annotations = hpa["metadata"]["annotations"]
        assert "ScalingActive" in annotations["autoscaling.alpha.kubernetes.io/conditions"]
