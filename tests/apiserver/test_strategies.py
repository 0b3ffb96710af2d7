"""Per-resource behaviour around the generic store, observed through ``Operations`` on a real store:
pods (initial status, QoS, ephemeral containers), services (cluster IP and node port allocation, kept
across updates, released on delete), namespaces (lifecycle, spec finalizers), nodes (registered status
kept), jobs (generated selector) and CustomResourceDefinitions (status, served custom resources).

The tests name no strategy class: they hold wherever a kind's behaviour lives.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from kybernetes.api import errors
from kybernetes.apiserver.context import ApiContext
from tests.inprocess import DELETE, MERGE, WRITE, eventually, ops

pytestmark = pytest.mark.timeout(30)

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")


def service(name: str, svc_type: str = "ClusterIP", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"type": svc_type, "selector": {"app": name}, "ports": [{"port": 80}], **spec},
    }


# --- pods ------------------------------------------------------------------------------------------


async def test_pod_create_status_is_pending_with_qos(ctx: ApiContext) -> None:
    o = ops(ctx, "", "v1", "pods")
    best_effort = {
        "metadata": {"name": "be"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        "status": {"phase": "Running", "podIP": "1.2.3.4"},
    }
    out = (await o.create(best_effort, "default", WRITE, manager=None)).obj
    assert out["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    resources = {"limits": {"cpu": "100m", "memory": "64Mi"}}
    guaranteed = {
        "metadata": {"name": "g"},
        "spec": {"containers": [{"name": "c", "image": "busybox", "resources": resources}]},
    }
    out = (await o.create(guaranteed, "default", WRITE, manager=None)).obj
    assert out["status"]["qosClass"] == "Guaranteed"
    # requests default to limits
    assert out["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "100m", "memory": "64Mi"}
    burstable = {
        "metadata": {"name": "b"},
        "spec": {
            "containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"memory": "10Mi"}}}]
        },
    }
    assert (await o.create(burstable, "default", WRITE, manager=None)).obj["status"][
        "qosClass"
    ] == "Burstable"


async def test_pod_status_write_keeps_spec_and_ephemeral_containers_write_keeps_the_rest(
    ctx: ApiContext,
) -> None:
    o = ops(ctx, "", "v1", "pods")
    body = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    await o.create(body, "default", WRITE, manager=None)
    status_patch = b'{"spec":{"activeDeadlineSeconds":5},"status":{"phase":"Running","podIP":"10.0.0.9"}}'
    out = (await o.patch("p", "default", MERGE, status_patch, WRITE, subresource="status", manager=None)).obj
    assert (out["status"]["phase"], out["status"]["podIP"]) == ("Running", "10.0.0.9")
    assert "activeDeadlineSeconds" not in out["spec"]
    eph = (
        b'{"spec":{"activeDeadlineSeconds":7,"ephemeralContainers":[{"name":"debug","image":"busybox",'
        b'"targetContainerName":"c"}]},"status":{"phase":"Failed"}}'
    )
    out = (
        await o.patch("p", "default", MERGE, eph, WRITE, subresource="ephemeralcontainers", manager=None)
    ).obj
    assert [c["name"] for c in out["spec"]["ephemeralContainers"]] == ["debug"]
    assert "activeDeadlineSeconds" not in out["spec"] and out["status"]["phase"] == "Running"
    # the main resource cannot add ephemeral containers nor change the status
    with pytest.raises(errors.StatusError) as refused:
        await o.patch(
            "p",
            "default",
            MERGE,
            b'{"spec":{"ephemeralContainers":[{"name":"x","image":"busybox"}]}}',
            WRITE,
            subresource=None,
            manager=None,
        )
    assert refused.value.code == 422 and refused.value.reason == "Invalid"
    out = (
        await o.patch(
            "p", "default", MERGE, b'{"status":{"phase":"Failed"}}', WRITE, subresource=None, manager=None
        )
    ).obj
    assert out["status"]["phase"] == "Running"


# --- services --------------------------------------------------------------------------------------


async def test_service_gets_a_cluster_ip_in_range_that_survives_updates(ctx: ApiContext) -> None:
    o = ops(ctx, "", "v1", "services")
    out = (await o.create(service("a"), "default", WRITE, manager=None)).obj
    ip = out["spec"]["clusterIP"]
    assert ipaddress.ip_address(ip) in SERVICE_CIDR and out["spec"]["clusterIPs"] == [ip]
    assert out["status"] == {"loadBalancer": {}}
    # a PUT that leaves the address out keeps it
    updated = (await o.update("a", "default", service("a"), WRITE, subresource=None, manager=None)).obj
    assert (updated["spec"]["clusterIP"], updated["spec"]["clusterIPs"]) == (ip, [ip])
    # a second service gets another address
    other = (await o.create(service("b"), "default", WRITE, manager=None)).obj
    assert other["spec"]["clusterIP"] != ip


async def test_requested_cluster_ip_conflicts_range_and_release(ctx: ApiContext) -> None:
    o = ops(ctx, "", "v1", "services")
    out = (await o.create(service("a", clusterIP="10.96.0.50"), "default", WRITE, manager=None)).obj
    assert out["spec"]["clusterIPs"] == ["10.96.0.50"]
    with pytest.raises(errors.StatusError) as taken:
        await o.create(service("b", clusterIP="10.96.0.50"), "default", WRITE, manager=None)
    assert (taken.value.code, taken.value.reason) == (422, "Invalid")
    assert [(c.field, c.message) for c in taken.value.causes] == [
        (
            "spec.clusterIPs",
            'Invalid value: []string{"10.96.0.50"}: failed to allocate IP 10.96.0.50: provided IP is already allocated',
        )
    ]
    with pytest.raises(errors.StatusError) as outside:
        await o.create(service("c", clusterIP="192.168.1.1"), "default", WRITE, manager=None)
    assert outside.value.causes[0].field == "spec.clusterIPs[0]"
    assert outside.value.causes[0].message == (
        'Invalid value: "192.168.1.1": provided IP is not in the valid range. The range of valid IPs is 10.96.0.0/12'
    )
    # deleting the service releases its address
    _, deleted = await o.delete("a", "default", DELETE)
    assert deleted
    again = (await o.create(service("b", clusterIP="10.96.0.50"), "default", WRITE, manager=None)).obj
    assert again["spec"]["clusterIP"] == "10.96.0.50"


async def test_headless_and_external_name_services_get_no_address(ctx: ApiContext) -> None:
    o = ops(ctx, "", "v1", "services")
    headless = (await o.create(service("h", clusterIP="None"), "default", WRITE, manager=None)).obj
    assert (headless["spec"]["clusterIP"], headless["spec"]["clusterIPs"]) == ("None", ["None"])
    external = {
        "metadata": {"name": "ext"},
        "spec": {"type": "ExternalName", "externalName": "example.com"},
    }
    out = (await o.create(external, "default", WRITE, manager=None)).obj
    assert "clusterIP" not in out["spec"] and "clusterIPs" not in out["spec"]


async def test_node_ports_allocated_kept_and_added(ctx: ApiContext) -> None:
    o = ops(ctx, "", "v1", "services")
    body = service("np", "NodePort")
    body["spec"]["ports"] = [{"name": "http", "port": 80}, {"name": "fixed", "port": 81, "nodePort": 30081}]
    out = (await o.create(body, "default", WRITE, manager=None)).obj
    ports = {p["name"]: p["nodePort"] for p in out["spec"]["ports"]}
    assert ports["fixed"] == 30081 and 30000 <= ports["http"] <= 32767 and ports["http"] != 30081
    assert out["spec"]["externalTrafficPolicy"] == "Cluster"
    # a PUT without node ports keeps them; a new port gets a fresh one
    update = service("np", "NodePort")
    update["spec"]["ports"] = [
        {"name": "http", "port": 80},
        {"name": "fixed", "port": 81},
        {"name": "new", "port": 82},
    ]
    out = (await o.update("np", "default", update, WRITE, subresource=None, manager=None)).obj
    after = {p["name"]: p["nodePort"] for p in out["spec"]["ports"]}
    assert (after["http"], after["fixed"]) == (ports["http"], 30081)
    assert 30000 <= after["new"] <= 32767 and after["new"] not in (ports["http"], 30081)
    # a ClusterIP service has none
    plain = (await o.create(service("plain"), "default", WRITE, manager=None)).obj
    assert "nodePort" not in plain["spec"]["ports"][0]
    lb = (await o.create(service("lb", "LoadBalancer"), "default", WRITE, manager=None)).obj
    assert lb["spec"]["allocateLoadBalancerNodePorts"] is True and lb["spec"]["ports"][0]["nodePort"] >= 30000


# --- namespaces and nodes ----------------------------------------------------------------------------


async def test_namespace_lifecycle(ctx: ApiContext) -> None:
    o = ops(ctx, "", "v1", "namespaces")
    body = {"metadata": {"name": "team"}, "status": {"phase": "Terminating"}}
    created = (await o.create(body, None, WRITE, manager=None)).obj
    assert created["status"] == {"phase": "Active"}
    assert created["spec"] == {"finalizers": ["kubernetes"]}
    assert created["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team"}
    # spec.finalizers change only through /finalize: an update cannot drop them
    out = (
        await o.update(
            "team", None, {"metadata": {"name": "team"}, "spec": {}}, WRITE, subresource=None, manager=None
        )
    ).obj
    assert out["spec"] == {"finalizers": ["kubernetes"]}
    obj, deleted = await o.delete("team", None, DELETE)
    assert (
        deleted is False and obj["status"]["phase"] == "Terminating" and obj["metadata"]["deletionTimestamp"]
    )
    # once the namespace controller empties spec.finalizers (here: straight through the store), it goes
    rs = ctx.store_for("", "v1", "namespaces")

    def finalize(current: dict[str, Any]) -> dict[str, Any]:
        current["spec"]["finalizers"] = []
        return current

    await rs.guaranteed_update(None, "team", finalize)
    assert await rs.try_get(None, "team") is None
    # the system namespaces exist from the start
    listed = {n["metadata"]["name"] for n in (await rs.list(None)).items}
    assert listed == {"default", "kube-system", "kube-public", "kube-node-lease"}


async def test_node_registration_keeps_its_status(ctx: ApiContext) -> None:
    o = ops(ctx, "", "v1", "nodes")
    status = {"capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"}, "conditions": []}
    body = {"metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}}, "status": status}
    out = (await o.create(body, None, WRITE, manager=None)).obj
    assert out["status"]["capacity"] == {"cpu": "2", "memory": "4Gi", "pods": "110"}
    assert "namespace" not in out["metadata"] and "generation" not in out["metadata"]
    stored = await ctx.store_for("", "v1", "nodes").get(None, "n1")
    assert stored["status"]["capacity"]["pods"] == "110"


async def test_job_selector_is_generated_from_its_uid(ctx: ApiContext) -> None:
    o = ops(ctx, "batch", "v1", "jobs")
    body = {
        "metadata": {"name": "j"},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}
            }
        },
    }
    out = (await o.create(body, "default", WRITE, manager=None)).obj
    uid = out["metadata"]["uid"]
    assert out["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    labels = out["spec"]["template"]["metadata"]["labels"]
    assert (
        labels["batch.kubernetes.io/controller-uid"] == uid and labels["batch.kubernetes.io/job-name"] == "j"
    )
    assert out["metadata"]["generation"] == 1


# --- CustomResourceDefinitions -------------------------------------------------------------------------


def crd(plural: str = "widgets", kind: str = "Widget", group: str = "example.com") -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": plural, "kind": kind},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {
                                        "size": {"type": "integer", "default": 3, "maximum": 10},
                                    },
                                },
                                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                            },
                        }
                    },
                }
            ],
        },
    }


async def test_crd_status_and_its_custom_resources(ctx: ApiContext) -> None:
    crds = ops(ctx, "apiextensions.k8s.io", "v1", "customresourcedefinitions")
    out = (await crds.create(crd(), None, WRITE, manager=None)).obj
    status = out["status"]
    assert status["acceptedNames"] == {
        "plural": "widgets",
        "kind": "Widget",
        "singular": "widget",
        "listKind": "WidgetList",
    }
    assert [(c["type"], c["status"]) for c in status["conditions"]] == [
        ("NamesAccepted", "True"),
        ("Established", "True"),
    ]
    assert status["storedVersions"] == ["v1"] and out["metadata"]["generation"] == 1
    # the API server serves the new resource once it has seen the CRD
    await eventually(
        lambda: ctx.registry.get("example.com", "v1", "widgets"), timeout=5, what="widgets served"
    )
    widgets = ops(ctx, "example.com", "v1", "widgets")
    created = (
        await widgets.create(
            {
                "apiVersion": "example.com/v1",
                "kind": "Widget",
                "metadata": {"name": "w"},
                "spec": {},
                "status": {"x": 1},
            },
            "default",
            WRITE,
            manager=None,
        )
    ).obj
    assert created["spec"] == {"size": 3}  # the schema's default
    assert "status" not in created  # a custom resource's status is dropped on create
    assert created["metadata"]["generation"] == 1
    with pytest.raises(errors.StatusError) as too_big:
        await widgets.create(
            {"metadata": {"name": "big"}, "spec": {"size": 11}}, "default", WRITE, manager=None
        )
    assert (too_big.value.code, too_big.value.reason) == (422, "Invalid")
    assert [c.field for c in too_big.value.causes] == ["spec.size"]
    with pytest.raises(errors.StatusError) as unknown:
        await widgets.create(
            {"metadata": {"name": "u"}, "spec": {"colour": "red"}}, "default", WRITE, manager=None
        )
    assert unknown.value.message == 'strict decoding error: unknown field "spec.colour"'
    # status through /status only; a spec change bumps the generation
    out = (
        await widgets.patch(
            "w", "default", MERGE, b'{"status":{"ready":true}}', WRITE, subresource="status", manager=None
        )
    ).obj
    assert out["status"] == {"ready": True} and out["metadata"]["generation"] == 1
    out = (
        await widgets.patch(
            "w", "default", MERGE, b'{"spec":{"size":4}}', WRITE, subresource=None, manager=None
        )
    ).obj
    assert out["metadata"]["generation"] == 2 and out["status"] == {"ready": True}
