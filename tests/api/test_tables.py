"""Server-side Table conversion: columns and cells as upstream's printers produce them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kybernetes.api import jsonpath
from kybernetes.api.registry import BUILTIN_RESOURCES, ResourceInfo
from kybernetes.api.tables import human_duration
from tests.api._kinds import to_table

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def ago(**delta: float) -> str:
    return (NOW - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def info(group: str, kind: str) -> ResourceInfo:
    return next(i for i in BUILTIN_RESOURCES if i.group == group and i.kind == kind)


def table(group: str, kind: str, *objects: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return to_table(info(group, kind), list(objects), now=NOW, **kw)


def headers(tbl: dict[str, Any], wide: bool = True) -> list[str]:
    return [c["name"] for c in tbl["columnDefinitions"] if wide or c["priority"] == 0]


def cells(tbl: dict[str, Any], row: int = 0) -> list[Any]:
    return tbl["rows"][row]["cells"]


def meta(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": "default", "creationTimestamp": ago(minutes=5), **extra}


# --- HumanDuration ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=-5), "<invalid>"),
        (timedelta(seconds=-1), "0s"),
        (timedelta(seconds=0), "0s"),
        (timedelta(seconds=5), "5s"),
        (timedelta(seconds=119), "119s"),
        (timedelta(seconds=120), "2m"),
        (timedelta(minutes=3, seconds=20), "3m20s"),
        (timedelta(minutes=9, seconds=59), "9m59s"),
        (timedelta(minutes=10, seconds=30), "10m"),
        (timedelta(minutes=62), "62m"),
        (timedelta(minutes=179), "179m"),
        (timedelta(hours=3), "3h"),
        (timedelta(hours=3, minutes=5), "3h5m"),
        (timedelta(hours=8, minutes=30), "8h"),
        (timedelta(hours=47), "47h"),
        (timedelta(days=2), "2d"),
        (timedelta(days=3, hours=4), "3d4h"),
        (timedelta(days=8, hours=4), "8d"),
        (timedelta(days=729), "729d"),
        (timedelta(days=730), "2y"),
        (timedelta(days=731), "2y1d"),
        (timedelta(days=365 * 9), "9y"),
    ],
)
def test_human_duration(delta: timedelta, text: str) -> None:
    assert human_duration(delta) == text


# --- envelope -----------------------------------------------------------------------------------------


def test_table_envelope_and_partial_object_metadata() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("cfg"), "data": {"a": "1", "b": "2"}}
    tbl = table("", "ConfigMap", cm)
    assert tbl["kind"] == "Table"
    assert tbl["apiVersion"] == "meta.k8s.io/v1"
    assert tbl["metadata"] == {}
    assert tbl["columnDefinitions"][0] == {
        "name": "Name",
        "type": "string",
        "format": "name",
        "description": tbl["columnDefinitions"][0]["description"],
        "priority": 0,
    }
    assert tbl["columnDefinitions"][0]["description"].startswith("Name must be unique within a namespace.")
    assert cells(tbl) == ["cfg", 2, "5m"]
    assert tbl["rows"][0]["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": cm["metadata"],
    }
    assert table("", "ConfigMap", cm, include_object="Object")["rows"][0]["object"] is cm
    assert "object" not in table("", "ConfigMap", cm, include_object="None")["rows"][0]


def test_every_builtin_has_columns_and_matching_cells() -> None:
    obj = {"metadata": meta("x")}
    for resource in BUILTIN_RESOURCES:
        tbl = to_table(resource, [obj], now=NOW)
        assert len(tbl["columnDefinitions"]) == len(cells(tbl)), resource.kind
        assert all(
            c["type"] in ("string", "integer", "boolean", "date", "number") for c in tbl["columnDefinitions"]
        )


def test_default_table_is_name_created_at() -> None:
    for kind, group in (
        ("ClusterRole", "rbac.authorization.k8s.io"),
        ("LimitRange", ""),
        ("Role", "rbac.authorization.k8s.io"),
    ):
        tbl = table(group, kind, {"metadata": {"name": "x", "creationTimestamp": "2024-01-02T03:04:05Z"}})
        assert headers(tbl) == ["Name", "Created At"]
        assert tbl["columnDefinitions"][1]["type"] == "date"
        assert cells(tbl) == ["x", "2024-01-02T03:04:05Z"]
    crd = to_table(
        info("apiextensions.k8s.io", "CustomResourceDefinition"), [{"metadata": {"name": "a.b"}}], now=NOW
    )
    assert cells(crd) == ["a.b", "0001-01-01T00:00:00Z"]


# --- pods ---------------------------------------------------------------------------------------------


def running(name: str, restarts: int = 0, **last: Any) -> dict[str, Any]:
    status: dict[str, Any] = {
        "name": name,
        "ready": True,
        "restartCount": restarts,
        "started": True,
        "state": {"running": {"startedAt": ago(minutes=4)}},
    }
    if last:
        status["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", **last}}
    return status


def pod(containers: int = 2, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta("web-1"),
        "spec": {
            "nodeName": "node-a",
            "containers": [{"name": f"c{i}", "image": "nginx"} for i in range(containers)],
        },
        "status": {"phase": "Running", "podIPs": [{"ip": "10.244.0.7"}], **status},
    }


def test_pod_columns() -> None:
    tbl = table("", "Pod", pod())
    assert headers(tbl, wide=False) == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert headers(tbl) == [
        "Name",
        "Ready",
        "Status",
        "Restarts",
        "Age",
        "IP",
        "Node",
        "Nominated Node",
        "Readiness Gates",
    ]
    assert [c["priority"] for c in tbl["columnDefinitions"]] == [0, 0, 0, 0, 0, 1, 1, 1, 1]


def test_running_pod_with_restarts() -> None:
    obj = pod(
        containerStatuses=[
            running("c0", restarts=2, finishedAt=ago(minutes=9)),
            running("c1", restarts=1, finishedAt=ago(minutes=3, seconds=10)),
        ],
        conditions=[{"type": "Ready", "status": "True"}],
    )
    assert cells(table("", "Pod", obj)) == [
        "web-1",
        "2/2",
        "Running",
        "3 (3m10s ago)",
        "5m",
        "10.244.0.7",
        "node-a",
        "<none>",
        "<none>",
    ]


def test_crash_looping_pod() -> None:
    waiting = {
        "name": "c0",
        "ready": False,
        "restartCount": 5,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(seconds=30)}},
    }
    obj = pod(containers=1, containerStatuses=[waiting])
    assert cells(table("", "Pod", obj))[1:4] == ["0/1", "CrashLoopBackOff", "5 (30s ago)"]


def test_terminating_pod() -> None:
    obj = pod(containerStatuses=[running("c0"), running("c1")])
    obj["metadata"]["deletionTimestamp"] = ago(seconds=10)
    assert cells(table("", "Pod", obj))[1:4] == ["2/2", "Terminating", "0"]
    obj["status"]["reason"] = "NodeLost"
    assert cells(table("", "Pod", obj))[2] == "Unknown"


def test_completed_pod_has_row_condition() -> None:
    done = {
        "name": "c0",
        "ready": False,
        "restartCount": 0,
        "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
    }
    obj = pod(containers=1, containerStatuses=[done])
    obj["status"]["phase"] = "Succeeded"
    tbl = table("", "Pod", obj)
    assert cells(tbl)[1:3] == ["0/1", "Completed"]
    assert tbl["rows"][0]["conditions"] == [
        {
            "type": "Completed",
            "status": "True",
            "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        }
    ]
    assert "conditions" not in table("", "Pod", pod())["rows"][0]


def test_completed_with_a_running_sibling_is_not_ready() -> None:
    done = {
        "name": "c1",
        "ready": False,
        "restartCount": 0,
        "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
    }
    obj = pod(containerStatuses=[running("c0"), done])
    assert cells(table("", "Pod", obj))[1:3] == ["1/2", "NotReady"]
    obj["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    assert cells(table("", "Pod", obj))[2] == "Running"


def test_exit_code_and_signal_without_reason() -> None:
    killed = {"name": "c0", "restartCount": 0, "state": {"terminated": {"exitCode": 137, "signal": 9}}}
    failed = {"name": "c0", "restartCount": 0, "state": {"terminated": {"exitCode": 2}}}
    assert cells(table("", "Pod", pod(containers=1, containerStatuses=[killed])))[2] == "Signal:9"
    assert cells(table("", "Pod", pod(containers=1, containerStatuses=[failed])))[2] == "ExitCode:2"


def test_initializing_pod() -> None:
    obj = pod(containers=1)
    obj["status"]["phase"] = "Pending"
    obj["spec"]["initContainers"] = [{"name": "i0"}, {"name": "i1"}]
    obj["status"]["initContainerStatuses"] = [
        {"name": "i0", "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
        {"name": "i1", "restartCount": 0, "state": {"running": {}}},
    ]
    assert cells(table("", "Pod", obj))[1:4] == ["0/1", "Init:1/2", "0"]
    obj["status"]["initContainerStatuses"][1] = {
        "name": "i1",
        "restartCount": 3,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
    }
    assert cells(table("", "Pod", obj))[1:4] == ["0/1", "Init:CrashLoopBackOff", "3"]
    obj["status"]["initContainerStatuses"][1] = {
        "name": "i1",
        "restartCount": 0,
        "state": {"terminated": {"exitCode": 3}},
    }
    assert cells(table("", "Pod", obj))[2] == "Init:ExitCode:3"


def test_sidecar_counts_as_container() -> None:
    obj = pod(containers=1, containerStatuses=[running("c0")])
    obj["spec"]["initContainers"] = [{"name": "proxy", "restartPolicy": "Always"}]
    obj["status"]["initContainerStatuses"] = [
        {**running("proxy", restarts=1, finishedAt=ago(minutes=2)), "started": True}
    ]
    obj["status"]["conditions"] = [{"type": "Initialized", "status": "True"}]
    assert cells(table("", "Pod", obj))[1:4] == ["2/2", "Running", "1 (2m ago)"]


def test_pending_and_gated_pods_and_readiness_gates() -> None:
    obj = pod(containers=1)
    obj["status"] = {
        "phase": "Pending",
        "conditions": [{"type": "PodScheduled", "reason": "SchedulingGated"}],
    }
    obj["spec"].pop("nodeName")
    obj["spec"]["readinessGates"] = [{"conditionType": "example.com/ready"}, {"conditionType": "other"}]
    obj["status"]["conditions"].append({"type": "example.com/ready", "status": "True"})
    assert cells(table("", "Pod", obj)) == [
        "web-1",
        "0/1",
        "SchedulingGated",
        "0",
        "5m",
        "<none>",
        "<none>",
        "<none>",
        "1/2",
    ]


# --- workloads ----------------------------------------------------------------------------------------


def test_deployment() -> None:
    deploy = {
        "metadata": meta("web"),
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "spec": {
                    "containers": [
                        {"name": "nginx", "image": "nginx:1.25"},
                        {"name": "s", "image": "busybox"},
                    ]
                }
            },
        },
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }
    tbl = table("apps", "Deployment", deploy)
    assert headers(tbl, wide=False) == ["Name", "Ready", "Up-to-date", "Available", "Age"]
    assert headers(tbl)[5:] == ["Containers", "Images", "Selector"]
    assert cells(tbl) == ["web", "2/3", 3, 2, "5m", "nginx,s", "nginx:1.25,busybox", "app=web"]


def test_replica_set_stateful_set_daemon_set() -> None:
    rs = {
        "metadata": meta("web-abc"),
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}},
        "status": {"replicas": 2, "readyReplicas": 1},
    }
    assert cells(table("apps", "ReplicaSet", rs))[:5] == ["web-abc", 2, 2, 1, "5m"]
    assert headers(table("apps", "ReplicaSet", rs), wide=False) == [
        "Name",
        "Desired",
        "Current",
        "Ready",
        "Age",
    ]
    sts = {"metadata": meta("db"), "spec": {"replicas": 3}, "status": {"readyReplicas": 3}}
    assert cells(table("apps", "StatefulSet", sts))[:3] == ["db", "3/3", "5m"]
    ds = {
        "metadata": meta("agent"),
        "spec": {"template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}}}},
        "status": {
            "desiredNumberScheduled": 3,
            "currentNumberScheduled": 3,
            "numberReady": 2,
            "updatedNumberScheduled": 3,
            "numberAvailable": 2,
        },
    }
    tbl = table("apps", "DaemonSet", ds)
    assert headers(tbl, wide=False) == [
        "Name",
        "Desired",
        "Current",
        "Ready",
        "Up-to-date",
        "Available",
        "Node Selector",
        "Age",
    ]
    assert cells(tbl)[:8] == ["agent", 3, 3, 2, 3, 2, "kubernetes.io/os=linux", "5m"]


def test_controller_revision() -> None:
    rev = {
        "metadata": {
            **meta("web-7d"),
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": True}
            ],
        },
        "revision": 2,
    }
    assert cells(table("apps", "ControllerRevision", rev)) == ["web-7d", "statefulset.apps/web", 2, "5m"]


def test_jobs() -> None:
    job = {
        "metadata": meta("pi"),
        "spec": {"completions": 1, "template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}}},
        "status": {
            "succeeded": 1,
            "startTime": ago(minutes=4),
            "completionTime": ago(minutes=3, seconds=30),
            "conditions": [{"type": "Complete", "status": "True"}],
        },
    }
    tbl = table("batch", "Job", job)
    assert headers(tbl, wide=False) == ["Name", "Status", "Completions", "Duration", "Age"]
    assert cells(tbl) == ["pi", "Complete", "1/1", "30s", "5m", "pi", "perl", "<none>"]
    running_job = {
        "metadata": meta("par"),
        "spec": {"parallelism": 3},
        "status": {"startTime": ago(seconds=45)},
    }
    assert cells(table("batch", "Job", running_job))[1:4] == ["Running", "0/1 of 3", "45s"]
    failed = {"metadata": meta("f"), "status": {"conditions": [{"type": "Failed", "status": "True"}]}}
    assert cells(table("batch", "Job", failed))[1:4] == ["Failed", "0/1", ""]


def test_cron_job() -> None:
    cj = {
        "metadata": meta("nightly"),
        "spec": {
            "schedule": "0 3 * * *",
            "suspend": False,
            "jobTemplate": {"spec": {"template": {"spec": {"containers": []}}}},
        },
        "status": {"active": [{"name": "nightly-1"}], "lastScheduleTime": ago(hours=9)},
    }
    tbl = table("batch", "CronJob", cj)
    assert headers(tbl, wide=False) == [
        "Name",
        "Schedule",
        "Timezone",
        "Suspend",
        "Active",
        "Last Schedule",
        "Age",
    ]
    assert cells(tbl)[:7] == ["nightly", "0 3 * * *", "<none>", "False", 1, "9h", "5m"]


# --- services, nodes, events --------------------------------------------------------------------------


def test_services() -> None:
    node_port = {
        "metadata": meta("web"),
        "spec": {
            "type": "NodePort",
            "clusterIP": "10.96.12.7",
            "clusterIPs": ["10.96.12.7"],
            "ports": [
                {"port": 80, "nodePort": 30080, "protocol": "TCP"},
                {"port": 53, "protocol": "UDP"},
            ],
            "selector": {"app": "web", "tier": "fe"},
        },
    }
    tbl = table("", "Service", node_port)
    assert headers(tbl, wide=False) == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age"]
    assert cells(tbl) == [
        "web",
        "NodePort",
        "10.96.12.7",
        "<none>",
        "80:30080/TCP,53/UDP",
        "5m",
        "app=web,tier=fe",
    ]
    lb = {
        "metadata": meta("lb"),
        "spec": {
            "type": "LoadBalancer",
            "clusterIPs": ["10.96.0.9"],
            "ports": [{"port": 443, "protocol": "TCP"}],
        },
    }
    assert cells(table("", "Service", lb))[3] == "<pending>"
    lb["status"] = {"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}, {"hostname": "lb.example.com"}]}}
    assert cells(table("", "Service", lb))[3] == "203.0.113.9,lb.example.com"
    headless = {"metadata": meta("h"), "spec": {"type": "ClusterIP", "clusterIPs": ["None"]}}
    assert cells(table("", "Service", headless))[1:6] == ["ClusterIP", "None", "<none>", "<none>", "5m"]
    ext = {"metadata": meta("e"), "spec": {"type": "ExternalName", "externalName": "db.example.com"}}
    assert cells(table("", "Service", ext))[1:5] == ["ExternalName", "<none>", "db.example.com", "<none>"]


def test_node() -> None:
    node = {
        "metadata": {
            "name": "node-a",
            "creationTimestamp": ago(days=3, hours=4),
            "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "worker"},
        },
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "Ready", "status": "True"},
            ],
            "addresses": [
                {"type": "Hostname", "address": "node-a"},
                {"type": "InternalIP", "address": "192.168.1.10"},
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.32.0",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "kernelVersion": "6.1.0",
                "containerRuntimeVersion": "containerd://1.7.0",
            },
        },
    }
    tbl = table("", "Node", node)
    assert headers(tbl, wide=False) == ["Name", "Status", "Roles", "Age", "Version"]
    assert cells(tbl) == [
        "node-a",
        "Ready,SchedulingDisabled",
        "control-plane,worker",
        "3d4h",
        "v1.32.0",
        "192.168.1.10",
        "<none>",
        "Debian GNU/Linux 12 (bookworm)",
        "6.1.0",
        "containerd://1.7.0",
    ]


def test_core_event() -> None:
    event = {
        "metadata": meta("web-1.17a"),
        "involvedObject": {
            "kind": "Pod",
            "name": "web-1",
            "namespace": "default",
            "fieldPath": "spec.containers{c0}",
        },
        "reason": "BackOff",
        "message": "Back-off restarting failed container\n",
        "source": {"component": "kubelet", "host": "node-a"},
        "firstTimestamp": ago(minutes=12),
        "lastTimestamp": ago(seconds=40),
        "count": 7,
        "type": "Warning",
    }
    tbl = table("", "Event", event)
    assert headers(tbl, wide=False) == ["Last Seen", "Type", "Reason", "Object", "Message"]
    assert headers(tbl) == [
        "Last Seen",
        "Type",
        "Reason",
        "Object",
        "Subobject",
        "Source",
        "Message",
        "First Seen",
        "Count",
        "Name",
    ]
    assert cells(tbl) == [
        "40s",
        "Warning",
        "BackOff",
        "pod/web-1",
        "spec.containers{c0}",
        "kubelet, node-a",
        "Back-off restarting failed container",
        "12m",
        7,
        "web-1.17a",
    ]


def test_events_k8s_io_event_with_series() -> None:
    event = {
        "metadata": meta("e2"),
        "eventTime": "2024-05-01T11:50:00.000000Z",
        "regarding": {"kind": "Node", "name": "node-a"},
        "note": "Node node-a status is now: NodeReady",
        "reason": "NodeReady",
        "reportingController": "kubelet",
        "reportingInstance": "node-a",
        "series": {"count": 4, "lastObservedTime": "2024-05-01T11:59:00.000000Z"},
        "type": "Normal",
    }
    tbl = table("events.k8s.io", "Event", event)
    assert cells(tbl) == [
        "60s",
        "Normal",
        "NodeReady",
        "node/node-a",
        "",
        "kubelet, node-a",
        "Node node-a status is now: NodeReady",
        "10m",
        4,
        "e2",
    ]


# --- other built-ins ----------------------------------------------------------------------------------


def test_volumes() -> None:
    pv = {
        "metadata": meta("pv-1"),
        "spec": {
            "capacity": {"storage": "10Gi"},
            "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {"namespace": "default", "name": "data"},
            "storageClassName": "standard",
            "volumeMode": "Filesystem",
        },
        "status": {"phase": "Bound"},
    }
    tbl = table("", "PersistentVolume", pv)
    assert headers(tbl, wide=False) == [
        "Name",
        "Capacity",
        "Access Modes",
        "Reclaim Policy",
        "Status",
        "Claim",
        "StorageClass",
        "VolumeAttributesClass",
        "Reason",
        "Age",
    ]
    assert cells(tbl) == [
        "pv-1",
        "10Gi",
        "RWO,RWX",
        "Retain",
        "Bound",
        "default/data",
        "standard",
        "<unset>",
        "",
        "5m",
        "Filesystem",
    ]
    pvc = {
        "metadata": meta("data"),
        "spec": {"volumeName": "pv-1", "storageClassName": "standard"},
        "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"]},
    }
    assert cells(table("", "PersistentVolumeClaim", pvc)) == [
        "data",
        "Bound",
        "pv-1",
        "10Gi",
        "RWO",
        "standard",
        "<unset>",
        "5m",
        "<unset>",
    ]
    sc = {
        "metadata": {
            **meta("standard"),
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": "rancher.io/local-path",
        "volumeBindingMode": "WaitForFirstConsumer",
    }
    assert cells(table("storage.k8s.io", "StorageClass", sc)) == [
        "standard (default)",
        "rancher.io/local-path",
        "Delete",
        "WaitForFirstConsumer",
        False,
        "5m",
    ]


def test_misc_core_types() -> None:
    secret = {"metadata": meta("tls"), "type": "kubernetes.io/tls", "data": {"tls.crt": "x", "tls.key": "y"}}
    assert cells(table("", "Secret", secret)) == ["tls", "kubernetes.io/tls", 2, "5m"]
    ns = {"metadata": {"name": "prod", "creationTimestamp": ago(days=40)}, "status": {"phase": "Active"}}
    assert cells(table("", "Namespace", ns)) == ["prod", "Active", "40d"]
    sa = {"metadata": meta("default"), "secrets": [{"name": "t"}]}
    assert cells(table("", "ServiceAccount", sa)) == ["default", 1, "5m"]
    ep = {
        "metadata": meta("web"),
        "subsets": [
            {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}, {"port": 443}]},
        ],
    }
    assert cells(table("", "Endpoints", ep))[1] == "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more..."
    quota = {
        "metadata": meta("q"),
        "status": {
            "hard": {"pods": "10", "requests.cpu": "2", "limits.memory": "4Gi"},
            "used": {"pods": "3", "requests.cpu": "500m"},
        },
    }
    assert cells(table("", "ResourceQuota", quota)) == [
        "q",
        "pods: 3/10, requests.cpu: 500m/2",
        "limits.memory: 0/4Gi",
        "5m",
    ]
    tpl = {
        "metadata": meta("t"),
        "template": {
            "metadata": {"labels": {"a": "b"}},
            "spec": {"containers": [{"name": "c", "image": "i"}]},
        },
    }
    assert cells(table("", "PodTemplate", tpl)) == ["t", "c", "i", "a=b"]
    rc = {
        "metadata": meta("rc"),
        "spec": {"replicas": 2, "selector": {"app": "x"}},
        "status": {"replicas": 2, "readyReplicas": 2},
    }
    assert cells(table("", "ReplicationController", rc)) == ["rc", 2, 2, 2, "5m", "", "", "app=x"]


def test_other_groups() -> None:
    lease = {"metadata": meta("kube-scheduler"), "spec": {"holderIdentity": "node-a_1234"}}
    assert cells(table("coordination.k8s.io", "Lease", lease)) == ["kube-scheduler", "node-a_1234", "5m"]
    es = {
        "metadata": meta("web-abc"),
        "addressType": "IPv4",
        "ports": [{"port": 80}, {"name": "https"}],
        "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]}],
    }
    assert cells(table("discovery.k8s.io", "EndpointSlice", es)) == [
        "web-abc",
        "IPv4",
        "80,https",
        "10.0.0.1,10.0.0.2",
        "5m",
    ]
    hpa = {
        "metadata": meta("web"),
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "minReplicas": 1,
            "maxReplicas": 5,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
                }
            ],
        },
        "status": {
            "currentReplicas": 2,
            "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 35}}}
            ],
        },
    }
    assert cells(table("autoscaling", "HorizontalPodAutoscaler", hpa)) == [
        "web",
        "Deployment/web",
        "cpu: 35%/80%",
        "1",
        5,
        2,
        "5m",
    ]
    pdb = {"metadata": meta("web"), "spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1}}
    assert cells(table("policy", "PodDisruptionBudget", pdb)) == ["web", "50%", "N/A", 1, "5m"]
    pc = {
        "metadata": meta("high"),
        "value": 1000,
        "globalDefault": False,
        "preemptionPolicy": "PreemptLowerPriority",
    }
    assert cells(table("scheduling.k8s.io", "PriorityClass", pc)) == [
        "high",
        1000,
        False,
        "5m",
        "PreemptLowerPriority",
    ]
    rb = {
        "metadata": meta("view"),
        "roleRef": {"kind": "ClusterRole", "name": "view"},
        "subjects": [
            {"kind": "User", "name": "alice"},
            {"kind": "Group", "name": "devs"},
            {"kind": "ServiceAccount", "name": "ci", "namespace": "build"},
            {"kind": "User", "name": "bob"},
        ],
    }
    tbl = table("rbac.authorization.k8s.io", "RoleBinding", rb)
    assert headers(tbl, wide=False) == ["Name", "Role", "Age"]
    assert cells(tbl) == ["view", "ClusterRole/view", "5m", "alice, bob", "devs", "build/ci"]


# --- custom resources ---------------------------------------------------------------------------------

WIDGETS = ResourceInfo("example.com", "v1", "Widget", "widgets", "widget", namespaced=True, custom=True)


def test_custom_resource_default_columns() -> None:
    tbl = to_table(WIDGETS, [{"metadata": meta("w1")}], now=NOW)
    assert [(c["name"], c["type"]) for c in tbl["columnDefinitions"]] == [("Name", "string"), ("Age", "date")]
    assert cells(tbl) == ["w1", "5m"]


def test_custom_resource_printer_columns() -> None:
    columns = [
        {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
        {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
        {"name": "Ratio", "type": "number", "jsonPath": ".status.ratio", "priority": 1},
        {"name": "Paused", "type": "boolean", "jsonPath": ".spec.paused"},
        {"name": "First", "type": "string", "jsonPath": ".spec.items[0].name", "description": "first item"},
        {"name": "Labels", "type": "string", "jsonPath": ".metadata.labels"},
        {"name": "Missing", "type": "string", "jsonPath": ".status.nothing"},
        {"name": "Started", "type": "date", "jsonPath": ".status.startedAt"},
        {"name": "Bad", "type": "date", "jsonPath": ".spec.when"},
    ]
    widget = {
        "metadata": {**meta("w1"), "labels": {"b": "2", "a": "<1>"}},
        "spec": {
            "replicas": 3.0,
            "paused": False,
            "items": [{"name": "x"}, {"name": "y"}],
            "when": "yesterday",
        },
        "status": {
            "ratio": 2,
            "conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}],
            "startedAt": ago(hours=2),
        },
    }
    tbl = to_table(WIDGETS, [widget], now=NOW, crd_columns=columns)
    defs = tbl["columnDefinitions"]
    assert [c["name"] for c in defs] == ["Name", *(c["name"] for c in columns)]
    assert defs[1]["description"] == "Custom resource definition column (in JSONPath format): .spec.replicas"
    assert defs[3]["priority"] == 1
    assert defs[5]["description"] == "first item"
    assert cells(tbl) == [
        "w1",
        3,
        "True",
        2.0,
        False,
        "x",
        '{"a":"\\u003c1\\u003e","b":"2"}',
        None,
        "120m",
        "<invalid>",
    ]


# --- jsonpath -----------------------------------------------------------------------------------------

DOC = {
    "metadata": {"name": "n", "labels": {"app.kubernetes.io/name": "web"}},
    "spec": {"items": [{"n": 1}, {"n": 2}, {"n": 3}]},
    "status": {
        "conditions": [{"type": "A", "status": "True", "n": 1}, {"type": "B", "status": "False", "n": 5}]
    },
}


@pytest.mark.parametrize(
    ("expr", "found"),
    [
        ("{.metadata.name}", ["n"]),
        ("$.metadata.name", ["n"]),
        (".spec.items[*].n", [1, 2, 3]),
        (".spec.items[-1].n", [3]),
        (".spec.items[0:2].n", [1, 2]),
        (".spec.items[5].n", []),
        (".metadata.labels['app.kubernetes.io/name']", ["web"]),
        (r".metadata.labels.app\.kubernetes\.io/name", ["web"]),
        ('.status.conditions[?(@.type=="B")].status', ["False"]),
        (".status.conditions[?(@.n > 2)].type", ["B"]),
        (".status.conditions[?(@.status)].type", ["A", "B"]),
        ("..n", [1, 2, 3, 1, 5]),
        (".nothing.here", []),
    ],
)
def test_jsonpath_subset(expr: str, found: list[Any]) -> None:
    assert jsonpath.find(expr, DOC) == found


def test_jsonpath_rejects_garbage_and_prints_like_go() -> None:
    with pytest.raises(jsonpath.JSONPathError):
        jsonpath.compile_path(".a[?x]")
    assert jsonpath.print_text(1e6) == "1e+06"
    assert jsonpath.print_text(2.5) == "2.5"
    assert jsonpath.print_text(100.0) == "100"
    assert jsonpath.print_text(True) == "true"
    assert jsonpath.print_text([1, "a"]) == '[1,"a"]'
