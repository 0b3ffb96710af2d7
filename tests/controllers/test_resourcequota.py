"""ResourceQuota: usage evaluation and admission (pure), and the controller tracking status.used."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from kybernetes.api.errors import StatusError
from kybernetes.api.quota import check_quota, format_quantity, matches_quota, usage
from kybernetes.client import ApiClient
from kybernetes.controllers.base import ControllerOptions
from kybernetes.controllers.resourcequota import ResourceQuotaController
from tests.controllers._node_fixtures import api, eventually, pod, running, server

__all__ = ["api", "server"]


def quota(name: str, hard: dict[str, str], used: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": name, "namespace": "default", "resourceVersion": "7"},
        "spec": {"hard": hard, **spec},
        "status": {"hard": hard, "used": used if used is not None else dict.fromkeys(hard, "0")},
    }


def test_pod_usage() -> None:
    p = pod("p", requests={"cpu": "500m", "memory": "1Gi"}, limits={"cpu": "1", "memory": "1Gi"})
    p["spec"]["initContainers"] = [
        {"name": "init", "image": "x", "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "2"}}}
    ]
    u = usage("pods", "", p)
    assert u["pods"] == 1 and u["count/pods"] == 1
    assert u["requests.cpu"] == 2 and u["cpu"] == 2  # init container is a floor
    assert u["requests.memory"] == 2**30 and u["limits.memory"] == 2**30
    assert u["limits.cpu"] == 2
    done = {**p, "status": {"phase": "Succeeded"}}
    assert usage("pods", "", done) == {"count/pods": 1}


def test_other_usage() -> None:
    svc = {"spec": {"type": "LoadBalancer", "ports": [{"port": 80}, {"port": 443}]}}
    assert usage("services", "", svc) == {
        "count/services": 1,
        "services": 1,
        "services.loadbalancers": 1,
        "services.nodeports": 2,
    }
    pvc = {"spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "10Gi"}}}}
    u = usage("persistentvolumeclaims", "", pvc)
    assert u["requests.storage"] == 10 * 2**30
    assert u["fast.storageclass.storage.k8s.io/persistentvolumeclaims"] == 1
    assert usage("deployments", "apps", {}) == {"count/deployments.apps": 1}
    assert usage("configmaps", "", {}) == {"count/configmaps": 1, "configmaps": 1}


def test_format_quantity() -> None:
    assert format_quantity(Fraction(2)) == "2"
    assert format_quantity(Fraction(3, 2)) == "1500m"
    assert format_quantity(Fraction(2**30), "requests.memory") == "1Gi"
    assert format_quantity(Fraction(0), "memory") == "0"


def test_admission_exceeded_message() -> None:
    q = quota("compute-quota", {"requests.cpu": "2"}, {"requests.cpu": "1"})
    with pytest.raises(StatusError) as err:
        check_quota([q], pod("big", requests={"cpu": "2"}), plural="pods")
    assert err.value.code == 403
    assert err.value.message == (
        'pods "big" is forbidden: exceeded quota: compute-quota, requested: requests.cpu=2, '
        "used: requests.cpu=1, limited: requests.cpu=2"
    )
    updated = check_quota([q], pod("ok", requests={"cpu": "1"}), plural="pods")
    assert updated[0]["status"]["used"] == {"requests.cpu": "2"}
    assert q["status"]["used"] == {"requests.cpu": "1"}  # input untouched


def test_admission_must_specify() -> None:
    q = quota("q", {"requests.cpu": "4", "limits.cpu": "4", "pods": "10"})
    p = pod("p")
    p["spec"]["containers"].append({"name": "d", "image": "x", "resources": {"requests": {"cpu": "1"}}})
    with pytest.raises(StatusError) as err:
        check_quota([q], p, plural="pods")
    assert (
        err.value.message
        == 'pods "p" is forbidden: failed quota: q: must specify limits.cpu for: c,d; requests.cpu for: c'
    )


def test_admission_count_and_status_unknown() -> None:
    q = quota("counts", {"pods": "2", "count/configmaps": "1"}, {"pods": "2", "count/configmaps": "0"})
    with pytest.raises(StatusError) as err:
        check_quota([q], pod("third"), plural="pods")
    assert "exceeded quota: counts, requested: pods=1, used: pods=2, limited: pods=2" in err.value.message
    assert (
        check_quota([q], {"metadata": {"name": "cm"}}, plural="configmaps")[0]["status"]["used"][
            "count/configmaps"
        ]
        == "1"
    )
    fresh = quota("fresh", {"pods": "2"}, {})
    with pytest.raises(StatusError) as err:
        check_quota([fresh], pod("p"), plural="pods")
    assert "status unknown for quota: fresh, resources: pods" in err.value.message
    # a quota that tracks nothing of the object is ignored; a secret is not a pod
    assert check_quota([q], {"metadata": {"name": "s"}}, plural="secrets") == []


def test_scopes() -> None:
    be = quota("be", {"pods": "1"}, scopes=["BestEffort"])
    assert matches_quota(be, "pods", "", pod("a"))
    assert not matches_quota(be, "pods", "", pod("b", requests={"cpu": "1"}))
    assert not matches_quota(be, "services", "", {})
    pc = quota(
        "pc",
        {"pods": "1"},
        scopeSelector={
            "matchExpressions": [{"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]
        },
    )
    high = pod("h")
    high["spec"]["priorityClassName"] = "high"
    assert matches_quota(pc, "pods", "", high)
    assert not matches_quota(pc, "pods", "", pod("l"))


def test_update_charges_growth_only() -> None:
    q = quota("st", {"requests.storage": "10Gi"}, {"requests.storage": "8Gi"})
    old = {"metadata": {"name": "v"}, "spec": {"resources": {"requests": {"storage": "8Gi"}}}}
    new = {"metadata": {"name": "v"}, "spec": {"resources": {"requests": {"storage": "12Gi"}}}}
    with pytest.raises(StatusError):
        check_quota([q], new, plural="persistentvolumeclaims", operation="UPDATE", old=old)
    smaller = {"metadata": {"name": "v"}, "spec": {"resources": {"requests": {"storage": "4Gi"}}}}
    assert check_quota([q], smaller, plural="persistentvolumeclaims", operation="UPDATE", old=old) == []


async def test_controller_tracks_usage(api: ApiClient) -> None:
    opts = ControllerOptions(resource_quota_sync_period=60)
    await api.resourcequotas.create(
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "compute", "namespace": "default"},
            "spec": {
                "hard": {
                    "pods": "10",
                    "requests.cpu": "4",
                    "requests.memory": "8Gi",
                    "limits.cpu": "8",
                    "configmaps": "5",
                    "count/deployments.apps": "3",
                    "services.nodeports": "4",
                }
            },
        }
    )
    async with running(api, [ResourceQuotaController], opts):

        async def used() -> dict[str, str]:
            q = await api.resourcequotas.get("compute", namespace="default")
            return dict((q.get("status") or {}).get("used") or {})

        async def used_is(expected: dict[str, str]) -> bool:
            current = await used()
            return all(current.get(k) == v for k, v in expected.items())

        await eventually(lambda: used_is({"pods": "0", "requests.cpu": "0"}), what="initial status")
        q = await api.resourcequotas.get("compute", namespace="default")
        assert q["status"]["hard"]["requests.memory"] == "8Gi"
        await api.pods.create(pod("a", requests={"cpu": "500m", "memory": "1Gi"}, limits={"cpu": "1"}))
        await api.pods.create(pod("b", requests={"cpu": "1", "memory": "512Mi"}, limits={"cpu": "1"}))
        await api.configmaps.create({"metadata": {"name": "cm", "namespace": "default"}, "data": {}})
        await api.services.create(
            {
                "metadata": {"name": "np", "namespace": "default"},
                "spec": {"type": "NodePort", "ports": [{"port": 80}], "selector": {"a": "b"}},
            }
        )
        await api.deployments.create(
            {
                "metadata": {"name": "d", "namespace": "default"},
                "spec": {
                    "selector": {"matchLabels": {"app": "d"}},
                    "template": {
                        "metadata": {"labels": {"app": "d"}},
                        "spec": {"containers": [{"name": "c", "image": "x"}]},
                    },
                },
            }
        )
        expected = {
            "pods": "2",
            "requests.cpu": "1500m",
            "requests.memory": "1536Mi",
            "limits.cpu": "2",
            "configmaps": "1",
            "services.nodeports": "1",
            "count/deployments.apps": "1",
        }
        await eventually(lambda: used_is(expected), what=f"used {expected}")
        await api.pods.delete("a", namespace="default")
        await eventually(
            lambda: used_is({"pods": "1", "requests.cpu": "1", "limits.cpu": "1"}), what="after delete"
        )
