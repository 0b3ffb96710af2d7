"""Core/v1 type validation: Pods (create and update), Services, ConfigMaps, Secrets, Namespaces,
Nodes, PersistentVolumes and claims, Events."""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.api.registry import Registry, ResourceInfo
from tests.api._kinds import (
    apply_defaults,
    validate_create,
    validate_status_update,
    validate_subresource_update,
    validate_update,
)

REG = Registry.builtin()


def info(group: str, plural: str) -> ResourceInfo:
    found = REG.get(group, "v1", plural)
    assert found is not None
    return found


POD, SVC, CM, SECRET = info("", "pods"), info("", "services"), info("", "configmaps"), info("", "secrets")
NS, NODE, PV, PVC, EV = (
    info("", "namespaces"),
    info("", "nodes"),
    info("", "persistentvolumes"),
    info("", "persistentvolumeclaims"),
    info("", "events"),
)


def msgs(causes: list[Any]) -> list[str]:
    return [f"{c.field}: {c.message}" for c in causes]


def pod(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"containers": [{"name": "app", "image": "nginx:1.25"}]}
    base.update(spec)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": base,
    }


def test_valid_pod_with_and_without_defaults() -> None:
    obj = pod()
    assert validate_create(POD, obj) == []
    apply_defaults(POD, obj)
    assert validate_create(POD, obj) == []


def test_pod_containers_required() -> None:
    obj = pod(containers=[])
    causes = validate_create(POD, obj)
    assert msgs(causes) == ["spec.containers: Required value"]
    assert causes[0].reason == "FieldValueRequired"


def test_container_name_and_image() -> None:
    obj = pod(containers=[{"name": "App"}, {"name": "App", "image": "x"}, {"image": "y"}])
    out = msgs(validate_create(POD, obj))
    assert out[0].startswith('spec.containers[0].name: Invalid value: "App": a lowercase RFC 1123 label')
    assert "spec.containers[0].image: Required value" in out
    assert 'spec.containers[1].name: Duplicate value: "App"' in out
    assert "spec.containers[2].name: Required value" in out


def test_ports() -> None:
    obj = pod(
        containers=[
            {
                "name": "a",
                "image": "x",
                "ports": [
                    {"containerPort": 70000, "protocol": "TCP"},
                    {"containerPort": 80, "protocol": "HTTP", "name": "web"},
                    {"containerPort": 81, "name": "web"},
                ],
            }
        ]
    )
    assert msgs(validate_create(POD, obj)) == [
        "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
        'spec.containers[0].ports[1].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
        'spec.containers[0].ports[2].name: Duplicate value: "web"',
    ]


def test_restart_policy_and_dns_policy() -> None:
    out = msgs(validate_create(POD, pod(restartPolicy="Sometimes", dnsPolicy="Foo")))
    assert out == [
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
        'spec.dnsPolicy: Unsupported value: "Foo": supported values: "ClusterFirst", "ClusterFirstWithHostNet", '
        '"Default", "None"',
    ]


def test_resources_requests_le_limits() -> None:
    ctr = {
        "name": "a",
        "image": "x",
        "resources": {
            "requests": {"cpu": "1500m", "memory": "1Gi"},
            "limits": {"cpu": "1", "memory": "1024Mi"},
        },
    }
    assert msgs(validate_create(POD, pod(containers=[ctr]))) == [
        'spec.containers[0].resources.requests: Invalid value: "1500m": must be less than or equal to cpu limit of 1'
    ]
    ctr["resources"] = {"requests": {"memory": "2Gi"}, "limits": {"memory": "1.5Gi"}}
    assert msgs(validate_create(POD, pod(containers=[ctr]))) == [
        'spec.containers[0].resources.requests: Invalid value: "2Gi": must be less than or equal to memory limit '
        "of 1536Mi"
    ]
    ctr["resources"] = {"limits": {"gpu": "1"}}
    assert msgs(validate_create(POD, pod(containers=[ctr]))) == [
        'spec.containers[0].resources.limits[gpu]: Invalid value: "gpu": must be a standard resource for containers'
    ]


def test_volumes_and_mounts() -> None:
    obj = pod(
        volumes=[
            {"name": "a", "emptyDir": {}},
            {"name": "a", "configMap": {"name": "c"}},
            {"name": "b"},
            {"name": "c", "emptyDir": {}, "hostPath": {"path": "/x"}},
        ],
        containers=[{"name": "x", "image": "y", "volumeMounts": [{"name": "missing", "mountPath": "/m"}]}],
    )
    assert msgs(validate_create(POD, obj)) == [
        'spec.volumes[1].name: Duplicate value: "a"',
        "spec.volumes[2]: Required value: must specify a volume type",
        "spec.volumes[3].emptyDir: Forbidden: may not specify more than 1 volume type",
        'spec.containers[0].volumeMounts[0].name: Not found: "missing"',
    ]


def test_env() -> None:
    ctr = {
        "name": "x",
        "image": "y",
        "env": [
            {"name": ""},
            {"name": "A=B"},
            {"name": "OK", "value": "v", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "CM", "valueFrom": {"configMapKeyRef": {"name": "c"}}},
        ],
    }
    assert msgs(validate_create(POD, pod(containers=[ctr]))) == [
        "spec.containers[0].env[0].name: Required value",
        'spec.containers[0].env[1].name: Invalid value: "A=B": a valid environment variable name must consist only '
        "of printable ASCII characters other than '='",
        'spec.containers[0].env[2].valueFrom: Invalid value: "": may not be specified when `value` is not empty',
        "spec.containers[0].env[3].valueFrom.configMapKeyRef.key: Required value",
    ]


def test_tolerations() -> None:
    obj = pod(
        tolerations=[{"operator": "Equal", "value": "x"}, {"key": "k", "operator": "Exists", "value": "v"}]
    )
    out = msgs(validate_create(POD, obj))
    assert out[0] == (
        'spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, '
        'which means "match all values and all keys"'
    )
    assert out[1].endswith("value must be empty when `operator` is 'Exists'")


def test_pod_update_only_image_and_friends() -> None:
    old = pod()
    apply_defaults(POD, old)
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:1.26"
    new["spec"]["activeDeadlineSeconds"] = 30
    new["metadata"]["labels"] = {"a": "b"}
    assert validate_update(POD, new, old) == []
    new["spec"]["restartPolicy"] = "Never"
    causes = validate_update(POD, new, old)
    assert len(causes) == 1 and causes[0].field == "spec" and causes[0].reason == "FieldValueForbidden"
    assert causes[0].message.startswith(
        "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
        "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
        "previously negative)\n"
    )
    assert '- spec.restartPolicy: "Always"' in causes[0].message


def test_pod_update_containers_count_and_deadline() -> None:
    old = pod(activeDeadlineSeconds=10)
    new = copy.deepcopy(old)
    new["spec"]["containers"].append({"name": "b", "image": "x"})
    assert msgs(validate_update(POD, new, old)) == [
        "spec.containers: Forbidden: pod updates may not add or remove containers"
    ]
    new = copy.deepcopy(old)
    new["spec"]["activeDeadlineSeconds"] = 20
    assert msgs(validate_update(POD, new, old)) == [
        "spec.activeDeadlineSeconds: Invalid value: 20: must be less than or equal to previous value"
    ]


def test_pod_update_tolerations_additions_only() -> None:
    old = pod(tolerations=[{"key": "a", "operator": "Exists"}])
    new = copy.deepcopy(old)
    new["spec"]["tolerations"].append({"key": "b", "operator": "Exists"})
    assert validate_update(POD, new, old) == []
    new["spec"]["tolerations"] = [{"key": "b", "operator": "Exists"}]
    assert msgs(validate_update(POD, new, old))[0] == (
        "spec.tolerations[0]: Forbidden: existing toleration can not be modified except its tolerationSeconds"
    )


def svc(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": "default"}, "spec": spec}


def test_service() -> None:
    assert msgs(validate_create(SVC, svc())) == ["spec.ports: Required value"]
    assert validate_create(SVC, svc(clusterIP="None")) == []
    assert validate_create(SVC, svc(type="ExternalName", externalName="example.com.")) == []
    assert msgs(validate_create(SVC, svc(type="ExternalName"))) == ["spec.externalName: Required value"]
    out = msgs(validate_create(SVC, svc(type="Foo", ports=[{"port": 0}])))
    assert out == [
        'spec.type: Unsupported value: "Foo": supported values: "ClusterIP", "ExternalName", "LoadBalancer", '
        '"NodePort"',
        "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
    ]
    out = msgs(validate_create(SVC, svc(ports=[{"port": 80}, {"port": 81}])))
    assert out == ["spec.ports[0].name: Required value", "spec.ports[1].name: Required value"]
    dup = svc(
        ports=[{"name": "a", "port": 80, "protocol": "TCP"}, {"name": "b", "port": 80, "protocol": "TCP"}]
    )
    assert msgs(validate_create(SVC, dup))[0].startswith("spec.ports[1]: Duplicate value: core.ServicePort{")


def test_service_cluster_ip_immutable() -> None:
    old = svc(ports=[{"port": 80}], clusterIP="10.0.0.1", clusterIPs=["10.0.0.1"])
    new = svc(ports=[{"port": 80}], clusterIP="10.0.0.2", clusterIPs=["10.0.0.2"])
    assert msgs(validate_update(SVC, new, old)) == [
        'spec.clusterIPs[0]: Invalid value: ["10.0.0.2"]: may not change once set'
    ]


def test_config_map() -> None:
    obj = {
        "metadata": {"name": "c", "namespace": "d"},
        "data": {"a b": "x", "ok": "y"},
        "binaryData": {"ok": "eQ=="},
    }
    assert msgs(validate_create(CM, obj)) == [
        "data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' "
        "or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
        'data[ok]: Invalid value: "ok": duplicate of key present in binaryData',
        'binaryData[ok]: Invalid value: "ok": duplicate of key present in data',
    ]
    big = {"metadata": {"name": "c", "namespace": "d"}, "data": {"a": "x" * (1024 * 1024 + 1)}}
    causes = validate_create(CM, big)
    assert causes[0].message == "Too long: may not be more than 1048576 bytes"


def test_config_map_immutable() -> None:
    old = {"metadata": {"name": "c", "namespace": "d"}, "data": {"a": "1"}, "immutable": True}
    new = copy.deepcopy(old)
    new["data"]["a"] = "2"
    assert msgs(validate_update(CM, new, old)) == [
        "data: Forbidden: field is immutable when `immutable` is set"
    ]
    new = copy.deepcopy(old)
    new["immutable"] = False
    assert msgs(validate_update(CM, new, old)) == [
        "immutable: Forbidden: field is immutable when `immutable` is set"
    ]


def test_secret() -> None:
    tls = {
        "metadata": {"name": "s", "namespace": "d"},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": "eA=="},
    }
    assert msgs(validate_create(SECRET, tls)) == ["data[tls.key]: Required value"]
    old = {"metadata": {"name": "s", "namespace": "d"}, "type": "Opaque", "data": {}}
    new = copy.deepcopy(old)
    new["type"] = "kubernetes.io/basic-auth"
    new["data"] = {"username": "YQ=="}
    assert msgs(validate_update(SECRET, new, old)) == [
        'type: Invalid value: "kubernetes.io/basic-auth": field is immutable'
    ]


def test_namespace_finalizers_and_status() -> None:
    ns = {"metadata": {"name": "n"}, "spec": {"finalizers": ["foo"]}}
    assert msgs(validate_create(NS, ns)) == [
        'spec.finalizers: Invalid value: "foo": name is neither a standard finalizer name nor is it fully qualified'
    ]
    old = {"metadata": {"name": "n"}, "status": {"phase": "Active"}}
    new = {"metadata": {"name": "n"}, "status": {"phase": "Terminating"}}
    assert msgs(validate_status_update(NS, new, old)) == [
        "status.Phase: Invalid value: \"Terminating\": may only be 'Active' if `deletionTimestamp` is empty"
    ]


def test_node_taints() -> None:
    node = {
        "metadata": {"name": "n1"},
        "spec": {
            "taints": [
                {"key": "a", "effect": "NoSchedule"},
                {"key": "a", "effect": "NoSchedule"},
                {"key": "b", "effect": "Bad"},
            ]
        },
    }
    out = msgs(validate_create(NODE, node))
    assert out[0] == (
        'spec.taints[1]: Duplicate value: {"effect":"NoSchedule","key":"a"}: taints must be unique by key and effect pair'
    )
    assert out[1].startswith('spec.taints[2].effect: Unsupported value: "Bad"')


def test_pv_and_pvc() -> None:
    pv = {"metadata": {"name": "pv1"}, "spec": {}}
    assert msgs(validate_create(PV, pv)) == [
        "spec.accessModes: Required value",
        "spec.capacity: Required value",
        "spec: Required value: must specify a volume type",
    ]
    pv = {
        "metadata": {"name": "pv1"},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "capacity": {"storage": "1Gi"},
            "hostPath": {"path": "/d"},
        },
    }
    assert validate_create(PV, pv) == []
    pvc = {"metadata": {"name": "c", "namespace": "d"}, "spec": {}}
    assert msgs(validate_create(PVC, pvc)) == [
        "spec.accessModes: Required value: at least 1 access mode is required",
        "spec.resources[storage]: Required value",
    ]
    pvc = {
        "metadata": {"name": "c", "namespace": "d"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    assert validate_create(PVC, pvc) == []
    new = copy.deepcopy(pvc)
    new["spec"]["resources"]["requests"]["storage"] = "2Gi"
    new["spec"]["volumeName"] = "pv1"
    assert validate_update(PVC, new, pvc) == []
    new["spec"]["accessModes"] = ["ReadWriteMany"]
    causes = validate_update(PVC, new, pvc)
    assert causes[0].message.startswith(
        "Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName "
        "for bound claims"
    )


def test_event_namespace_must_match() -> None:
    ev = {"metadata": {"name": "e", "namespace": "a"}, "involvedObject": {"kind": "Pod", "namespace": "b"}}
    assert msgs(validate_create(EV, ev)) == [
        'involvedObject.namespace: Invalid value: "b": does not match event.namespace'
    ]


# -- ephemeral containers -------------------------------------------------------------------------------------


def _with_ephemeral(*containers: dict[str, Any]) -> dict[str, Any]:
    obj = pod()
    obj["spec"]["ephemeralContainers"] = list(containers)
    apply_defaults(POD, obj)
    return obj


def test_ephemeral_containers_update_rules() -> None:
    from kybernetes.api.registry import Registry

    pods = Registry.builtin().by_kind("", "v1", "Pod")
    assert pods is not None

    def validate_ephemeral_containers_update(new, old):  # type: ignore[no-untyped-def]
        return validate_subresource_update(pods, "ephemeralcontainers", new, old)

    old = pod()
    apply_defaults(POD, old)
    ok = _with_ephemeral({"name": "dbg", "image": "busybox", "resources": {}, "ports": []})
    assert validate_ephemeral_containers_update(ok, old) == []
    bad = _with_ephemeral(
        {
            "name": "dbg",
            "image": "busybox",
            "restartPolicy": "Always",
            "volumeMounts": [{"name": "v", "mountPath": "/v", "subPath": "x"}],
        }
    )
    bad["spec"]["volumes"] = [{"name": "v", "emptyDir": {}}]
    assert sorted(msgs(validate_ephemeral_containers_update(bad, old))) == [
        "spec.ephemeralContainers[0].restartPolicy: Forbidden: cannot be set for an Ephemeral Container",
        "spec.ephemeralContainers[0].volumeMounts[0].subPath: Forbidden: cannot be set for an Ephemeral Container",
    ]
    # a static pod's mirror takes none
    mirror = copy.deepcopy(old)
    mirror["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "abc"}
    ok_mirror = copy.deepcopy(ok)
    ok_mirror["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "abc"}
    assert msgs(validate_ephemeral_containers_update(ok_mirror, mirror)) == [
        ": Forbidden: static pods do not support ephemeral containers"
    ]


def test_ephemeral_container_status_may_not_leave_terminated() -> None:
    old = _with_ephemeral({"name": "dbg", "image": "busybox"})
    old["status"] = {
        "ephemeralContainerStatuses": [{"name": "dbg", "state": {"terminated": {"exitCode": 0}}}]
    }
    new = copy.deepcopy(old)
    new["status"]["ephemeralContainerStatuses"][0]["state"] = {"running": {}}
    assert msgs(validate_status_update(POD, new, old)) == [
        "status.ephemeralContainerStatuses[0].state: Forbidden: may not be transitioned to non-terminated state"
    ]
    new["status"]["ephemeralContainerStatuses"][0]["state"] = {"terminated": {"exitCode": 0}}
    assert validate_status_update(POD, new, old) == []
