"""Defaulting (``api.defaults``): what a created object looks like, per upstream's defaults.go."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api.defaults import apply_job_selector, image_tag, job_selector_labels
from kybernetes.api.registry import Registry, ResourceInfo
from tests.api._kinds import apply_defaults

REG = Registry.builtin()


def get(group: str, version: str, plural: str) -> ResourceInfo:
    found = REG.get(group, version, plural)
    assert found is not None
    return found


POD = get("", "v1", "pods")
TEMPLATE_SPEC = {"containers": [{"name": "c", "image": "nginx:1.25"}]}


def defaulted(res: ResourceInfo, obj: dict[str, Any]) -> dict[str, Any]:
    apply_defaults(res, obj)
    again = copy.deepcopy(obj)
    apply_defaults(res, again)
    assert again == obj, "defaulting must be idempotent"
    return obj


def test_pod_defaults() -> None:
    pod = defaulted(
        POD,
        {
            "metadata": {"name": "p", "namespace": "d"},
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "image": "nginx",
                        "ports": [{"containerPort": 80}],
                        "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                        "livenessProbe": {"httpGet": {"port": 80}},
                        "resources": {"limits": {"cpu": "1"}},
                    }
                ],
                "volumes": [
                    {"name": "cm", "configMap": {"name": "x"}},
                    {"name": "s", "secret": {"secretName": "y"}},
                    {"name": "e"},
                ],
            },
        },
    )
    spec = pod["spec"]
    assert spec["restartPolicy"] == "Always"
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["schedulerName"] == "default-scheduler"
    assert spec["securityContext"] == {}
    assert spec["enableServiceLinks"] is True
    assert spec["priority"] == 0
    assert spec["preemptionPolicy"] == "PreemptLowerPriority"
    assert spec["serviceAccountName"] == "default" and spec["serviceAccount"] == "default"
    assert spec["tolerations"] == [
        {
            "key": "node.kubernetes.io/not-ready",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 300,
        },
        {
            "key": "node.kubernetes.io/unreachable",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 300,
        },
    ]
    ctr = spec["containers"][0]
    assert ctr["imagePullPolicy"] == "Always"
    assert ctr["terminationMessagePath"] == "/dev/termination-log"
    assert ctr["terminationMessagePolicy"] == "File"
    assert ctr["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert ctr["env"][0]["valueFrom"]["fieldRef"] == {"fieldPath": "metadata.name", "apiVersion": "v1"}
    assert ctr["livenessProbe"] == {
        "httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    assert ctr["resources"] == {"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}
    assert spec["volumes"] == [
        {"name": "cm", "configMap": {"name": "x", "defaultMode": 420}},
        {"name": "s", "secret": {"secretName": "y", "defaultMode": 420}},
        {"name": "e", "emptyDir": {}},
    ]


def test_pod_keeps_existing_toleration_and_sa() -> None:
    pod = defaulted(
        POD,
        {
            "metadata": {"name": "p", "namespace": "d"},
            "spec": {
                "serviceAccountName": "builder",
                "containers": [{"name": "c", "image": "x:1"}],
                "tolerations": [
                    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}
                ],
            },
        },
    )
    assert pod["spec"]["serviceAccount"] == "builder"
    assert [t["key"] for t in pod["spec"]["tolerations"]] == [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ]
    assert "tolerationSeconds" not in pod["spec"]["tolerations"][0]
    assert pod["spec"]["containers"][0]["resources"] == {}
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"


@pytest.mark.parametrize(
    "image,tag",
    [
        ("nginx", "latest"),
        ("nginx:1.2", "1.2"),
        ("reg:5000/nginx", "latest"),
        ("reg:5000/a/b:v1", "v1"),
        ("a@sha256:abc", ""),
    ],
)
def test_image_tag(image: str, tag: str) -> None:
    assert image_tag(image) == tag


def test_deployment_defaults() -> None:
    dep = defaulted(
        get("apps", "v1", "deployments"), {"spec": {"template": {"spec": copy.deepcopy(TEMPLATE_SPEC)}}}
    )
    spec = dep["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    tspec = spec["template"]["spec"]
    assert tspec["restartPolicy"] == "Always" and tspec["securityContext"] == {}
    for pod_only in (
        "enableServiceLinks",
        "priority",
        "serviceAccountName",
        "tolerations",
        "preemptionPolicy",
    ):
        assert pod_only not in tspec
    recreate = defaulted(get("apps", "v1", "deployments"), {"spec": {"strategy": {"type": "Recreate"}}})
    assert recreate["spec"]["strategy"] == {"type": "Recreate"}


def test_statefulset_daemonset_replicaset_defaults() -> None:
    sts = defaulted(
        get("apps", "v1", "statefulsets"), {"spec": {"template": {"spec": copy.deepcopy(TEMPLATE_SPEC)}}}
    )
    assert sts["spec"]["replicas"] == 1
    assert sts["spec"]["podManagementPolicy"] == "OrderedReady"
    assert sts["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert sts["spec"]["revisionHistoryLimit"] == 10
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }
    ds = defaulted(
        get("apps", "v1", "daemonsets"), {"spec": {"template": {"spec": copy.deepcopy(TEMPLATE_SPEC)}}}
    )
    assert ds["spec"]["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
    }
    assert ds["spec"]["revisionHistoryLimit"] == 10
    rs = defaulted(get("apps", "v1", "replicasets"), {"spec": {}})
    assert rs["spec"]["replicas"] == 1


def test_service_defaults() -> None:
    svc = defaulted(
        get("", "v1", "services"),
        {"spec": {"ports": [{"port": 80}, {"port": 53, "protocol": "UDP", "targetPort": "dns"}]}},
    )
    spec = svc["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["sessionAffinity"] == "None"
    assert spec["ports"] == [
        {"port": 80, "protocol": "TCP", "targetPort": 80},
        {"port": 53, "protocol": "UDP", "targetPort": "dns"},
    ]
    assert spec["ipFamilies"] == ["IPv4"] and spec["ipFamilyPolicy"] == "SingleStack"
    assert spec["internalTrafficPolicy"] == "Cluster"
    assert "externalTrafficPolicy" not in spec
    np = defaulted(get("", "v1", "services"), {"spec": {"type": "NodePort", "ports": [{"port": 80}]}})
    assert np["spec"]["externalTrafficPolicy"] == "Cluster"
    ext = defaulted(get("", "v1", "services"), {"spec": {"type": "ExternalName", "externalName": "a.b"}})
    assert "ipFamilies" not in ext["spec"] and "internalTrafficPolicy" not in ext["spec"]


def test_job_and_cronjob_defaults() -> None:
    job = defaulted(
        get("batch", "v1", "jobs"),
        {
            "metadata": {"name": "pi", "uid": "u1"},
            "spec": {"template": {"spec": copy.deepcopy(TEMPLATE_SPEC)}},
        },
    )
    spec = job["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
    assert spec["completionMode"] == "NonIndexed" and spec["suspend"] is False
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    assert "manualSelector" not in spec
    par = defaulted(get("batch", "v1", "jobs"), {"spec": {"parallelism": 3}})
    assert "completions" not in par["spec"] and par["spec"]["parallelism"] == 3
    apply_job_selector(job)
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}}
    assert job["spec"]["template"]["metadata"]["labels"] == job_selector_labels("u1", "pi")
    assert job["metadata"]["labels"] == job_selector_labels("u1", "pi")
    cj = defaulted(
        get("batch", "v1", "cronjobs"),
        {
            "spec": {
                "schedule": "* * * * *",
                "jobTemplate": {"spec": {"template": {"spec": copy.deepcopy(TEMPLATE_SPEC)}}},
            }
        },
    )
    assert cj["spec"]["concurrencyPolicy"] == "Allow"
    assert cj["spec"]["suspend"] is False
    assert (cj["spec"]["successfulJobsHistoryLimit"], cj["spec"]["failedJobsHistoryLimit"]) == (3, 1)
    job_spec = cj["spec"]["jobTemplate"]["spec"]
    assert "backoffLimit" not in job_spec
    assert job_spec["template"]["spec"]["dnsPolicy"] == "ClusterFirst"


def test_small_kinds() -> None:
    secret = defaulted(get("", "v1", "secrets"), {"stringData": {"a": "hi"}})
    assert secret == {"type": "Opaque", "data": {"a": "aGk="}}
    ns = defaulted(get("", "v1", "namespaces"), {"metadata": {"name": "dev"}})
    assert ns["spec"] == {"finalizers": ["kubernetes"]}
    assert ns["status"] == {"phase": "Active"}
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "dev"}
    pvc = defaulted(get("", "v1", "persistentvolumeclaims"), {"spec": {}})
    assert pvc["spec"]["volumeMode"] == "Filesystem"
    pv = defaulted(get("", "v1", "persistentvolumes"), {"spec": {}})
    assert (
        pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain" and pv["spec"]["volumeMode"] == "Filesystem"
    )
    sc = defaulted(get("storage.k8s.io", "v1", "storageclasses"), {"provisioner": "x"})
    assert (sc["reclaimPolicy"], sc["volumeBindingMode"]) == ("Delete", "Immediate")
    pc = defaulted(get("scheduling.k8s.io", "v1", "priorityclasses"), {"value": 1})
    assert pc["preemptionPolicy"] == "PreemptLowerPriority"
    crd = defaulted(
        get("apiextensions.k8s.io", "v1", "customresourcedefinitions"),
        {"spec": {"names": {"kind": "Widget", "plural": "widgets"}}},
    )
    assert crd["spec"]["conversion"] == {"strategy": "None"}
    assert crd["spec"]["names"]["singular"] == "widget" and crd["spec"]["names"]["listKind"] == "WidgetList"
    rc = defaulted(
        get("", "v1", "replicationcontrollers"), {"spec": {"template": {"metadata": {"labels": {"a": "b"}}}}}
    )
    assert (
        rc["spec"]["selector"] == {"a": "b"}
        and rc["metadata"]["labels"] == {"a": "b"}
        and rc["spec"]["replicas"] == 1
    )


def test_hpa_behavior_defaults() -> None:
    hpa = defaulted(get("autoscaling", "v2", "horizontalpodautoscalers"), {"spec": {"maxReplicas": 3}})
    assert hpa["spec"]["minReplicas"] == 1
    assert hpa["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
        }
    ]
    assert "behavior" not in hpa["spec"]
    hpa = defaulted(
        get("autoscaling", "v2", "horizontalpodautoscalers"),
        {"spec": {"maxReplicas": 3, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}},
    )
    assert hpa["spec"]["behavior"] == {
        "scaleUp": {
            "stabilizationWindowSeconds": 0,
            "selectPolicy": "Max",
            "policies": [
                {"type": "Pods", "value": 4, "periodSeconds": 15},
                {"type": "Percent", "value": 100, "periodSeconds": 15},
            ],
        },
        "scaleDown": {
            "selectPolicy": "Max",
            "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
            "stabilizationWindowSeconds": 60,
        },
    }


def test_binding_subject_defaults_and_custom_untouched() -> None:
    rb = defaulted(
        get("rbac.authorization.k8s.io", "v1", "rolebindings"),
        {
            "roleRef": {"kind": "Role", "name": "r"},
            "subjects": [{"kind": "User", "name": "u"}, {"kind": "ServiceAccount", "name": "s"}],
        },
    )
    assert rb["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"
    assert rb["subjects"][0]["apiGroup"] == "rbac.authorization.k8s.io"
    custom = ResourceInfo("example.com", "v1", "Widget", "widgets", "widget", True, custom=True)
    obj = {"spec": {}}
    apply_defaults(custom, obj)
    assert obj == {"spec": {}}
