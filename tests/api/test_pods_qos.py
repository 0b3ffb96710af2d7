"""QoS class (``kybernetes.api.pods``): upstream's ``ComputePodQOS`` / ``GetPodQOS`` edge cases."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.api.pods import compute_qos_class, qos_class
from kybernetes.api.registry import Registry
from tests.api._kinds import apply_defaults


def _pod(*resources: dict[str, Any], init: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [{"name": f"c{i}", "image": "busybox", "resources": r} for i, r in enumerate(resources)]
    }
    if init is not None:
        spec["initContainers"] = [
            {"name": f"i{i}", "image": "busybox", "resources": r} for i, r in enumerate(init)
        ]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "d"}, "spec": spec}


CPU_MEM = {"cpu": "500m", "memory": "64Mi"}


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        ([{}], "BestEffort"),
        # only cpu and memory count: ephemeral-storage, hugepages and extended resources do not
        ([{"requests": {"ephemeral-storage": "1Gi"}}], "BestEffort"),
        ([{"requests": {"ephemeral-storage": "1Gi"}, "limits": {"ephemeral-storage": "1Gi"}}], "BestEffort"),
        ([{"requests": {"example.com/gpu": "1"}, "limits": {"example.com/gpu": "1"}}], "BestEffort"),
        # zero quantities are ignored
        ([{"requests": {"cpu": "0", "memory": "0"}}], "BestEffort"),
        ([{"requests": {"cpu": "100m"}}], "Burstable"),
        ([{"requests": {"memory": "1Mi", "ephemeral-storage": "1Gi"}}], "Burstable"),
        ([{"requests": CPU_MEM, "limits": CPU_MEM}], "Guaranteed"),
        # equal values in different notation
        ([{"requests": {"cpu": "0.5", "memory": "65536Ki"}, "limits": CPU_MEM}], "Guaranteed"),
        ([{"requests": CPU_MEM, "limits": {**CPU_MEM, "ephemeral-storage": "1Gi"}}], "Guaranteed"),
        ([{"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": CPU_MEM}], "Burstable"),
        # a cpu-only limit in one container is not enough
        ([{"requests": {"cpu": "1"}, "limits": {"cpu": "1"}}], "Burstable"),
        # every container needs cpu and memory limits
        ([{"requests": CPU_MEM, "limits": CPU_MEM}, {}], "Burstable"),
        # sums are compared (as upstream does), not each container
        (
            [
                {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "1Gi"}},
                {"requests": {"cpu": "2", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
            ],
            "Guaranteed",
        ),
    ],
)
def test_compute_qos_class(resources: list[dict[str, Any]], expected: str) -> None:
    assert compute_qos_class(_pod(*resources)) == expected


def test_limits_only_defaults_requests_and_is_guaranteed() -> None:
    pod = _pod({"limits": CPU_MEM})
    # before defaulting, there are no requests: requests != limits
    assert compute_qos_class(pod) == "Burstable"
    pods = Registry.builtin().get("", "v1", "pods")
    assert pods is not None
    apply_defaults(pods, pod)
    assert pod["spec"]["containers"][0]["resources"]["requests"] == CPU_MEM
    assert compute_qos_class(pod) == "Guaranteed"


def test_init_containers_count() -> None:
    assert compute_qos_class(_pod({}, init=[{"requests": {"cpu": "1"}}])) == "Burstable"
    assert compute_qos_class(_pod({"requests": CPU_MEM, "limits": CPU_MEM}, init=[{}])) == "Burstable"
    both = {"requests": CPU_MEM, "limits": CPU_MEM}
    assert compute_qos_class(_pod(both, init=[both])) == "Guaranteed"


def test_stored_class_wins() -> None:
    pod = _pod({"requests": {"cpu": "1"}})
    assert qos_class(pod) == "Burstable"
    pod["status"] = {"qosClass": "BestEffort"}
    assert qos_class(pod) == "BestEffort"
    assert compute_qos_class(pod) == "Burstable"
