"""Admission on the create and update paths, through ``Operations`` on a real store: namespace
lifecycle, pod priority, RuntimeClass, DefaultIngressClass and ResourceQuota (checked and charged with
compare-and-swap; dry runs charge nothing)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from kybernetes.api import errors
from kybernetes.apiserver.context import ApiContext
from tests.inprocess import DELETE, DRY, MERGE, WRITE, ops

pytestmark = pytest.mark.timeout(30)


def pod(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec},
    }


def priority_class(
    name: str, value: int, *, default: bool = False, policy: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"metadata": {"name": name}, "value": value, "globalDefault": default}
    if policy:
        body["preemptionPolicy"] = policy
    return body


# --- namespace lifecycle -------------------------------------------------------------------------------


async def test_namespace_lifecycle_admission(ctx: ApiContext) -> None:
    cms = ops(ctx, "", "v1", "configmaps")
    with pytest.raises(errors.StatusError) as missing:
        await cms.create({"metadata": {"name": "a"}}, "absent", WRITE, manager=None)
    assert (missing.value.code, missing.value.message) == (404, 'namespaces "absent" not found')
    nss = ops(ctx, "", "v1", "namespaces")
    await nss.create({"metadata": {"name": "doomed"}}, None, WRITE, manager=None)
    await cms.create({"metadata": {"name": "before"}}, "doomed", WRITE, manager=None)
    await nss.delete("doomed", None, DELETE)
    with pytest.raises(errors.StatusError) as terminating:
        await cms.create({"metadata": {"name": "after"}}, "doomed", WRITE, manager=None)
    assert (terminating.value.code, terminating.value.reason) == (403, "Forbidden")
    assert [c.reason for c in terminating.value.causes] == ["NamespaceTerminating"]
    # existing content can still be updated and deleted in a terminating namespace
    out = await cms.patch(
        "before", "doomed", MERGE, b'{"data":{"k":"v"}}', WRITE, subresource=None, manager=None
    )
    assert out.obj["data"] == {"k": "v"}
    _, deleted = await cms.delete("before", "doomed", DELETE)
    assert deleted is True
    # cluster-scoped resources are not subject to it
    pcs = ops(ctx, "scheduling.k8s.io", "v1", "priorityclasses")
    assert (await pcs.create(priority_class("any", 5), None, WRITE, manager=None)).obj["value"] == 5


# --- priority --------------------------------------------------------------------------------------


async def test_system_priority_classes_exist_from_start(ctx: ApiContext) -> None:
    rs = ctx.store_for("scheduling.k8s.io", "v1", "priorityclasses")
    values = {pc["metadata"]["name"]: pc["value"] for pc in (await rs.list(None)).items}
    assert values == {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}


async def test_pod_priority_resolved_from_its_class_or_the_global_default(ctx: ApiContext) -> None:
    pods = ops(ctx, "", "v1", "pods")
    plain = (await pods.create(pod("plain"), "default", WRITE, manager=None)).obj
    assert plain["spec"]["priority"] == 0 and plain["spec"]["preemptionPolicy"] == "PreemptLowerPriority"
    assert "priorityClassName" not in plain["spec"]
    critical = (
        await pods.create(
            pod("crit", priorityClassName="system-node-critical"), "default", WRITE, manager=None
        )
    ).obj
    assert critical["spec"]["priority"] == 2000001000
    pcs = ops(ctx, "scheduling.k8s.io", "v1", "priorityclasses")
    await pcs.create(priority_class("high", 1000, default=True, policy="Never"), None, WRITE, manager=None)
    defaulted = (await pods.create(pod("d"), "default", WRITE, manager=None)).obj
    assert defaulted["spec"]["priorityClassName"] == "high"
    assert (defaulted["spec"]["priority"], defaulted["spec"]["preemptionPolicy"]) == (1000, "Never")


async def test_pod_priority_refusals(ctx: ApiContext) -> None:
    pods = ops(ctx, "", "v1", "pods")
    with pytest.raises(errors.StatusError) as unknown:
        await pods.create(pod("p", priorityClassName="nope"), "default", WRITE, manager=None)
    assert (unknown.value.code, unknown.value.message) == (
        403,
        'pods "p" is forbidden: no PriorityClass with name nope was found',
    )
    with pytest.raises(errors.StatusError) as explicit:
        await pods.create(
            pod("q", priorityClassName="system-node-critical", priority=5), "default", WRITE, manager=None
        )
    assert explicit.value.code == 403
    assert explicit.value.message.endswith(
        "the integer value of priority must not be provided in pod spec; priority admission controller "
        "computed 2000001000 from the given PriorityClass name"
    )
    rs = ctx.store_for("", "v1", "pods")
    assert (await rs.list("default")).items == []


# --- RuntimeClass ------------------------------------------------------------------------------------


async def test_runtime_class_admission(ctx: ApiContext) -> None:
    pods = ops(ctx, "", "v1", "pods")
    with pytest.raises(errors.StatusError) as missing:
        await pods.create(pod("p", runtimeClassName="gvisor"), "default", WRITE, manager=None)
    assert missing.value.message == 'pods "p" is forbidden: pod rejected: RuntimeClass "gvisor" not found'
    rcs = ops(ctx, "node.k8s.io", "v1", "runtimeclasses")
    await rcs.create(
        {
            "metadata": {"name": "gvisor"},
            "handler": "runsc",
            "overhead": {"podFixed": {"cpu": "250m", "memory": "120Mi"}},
            "scheduling": {
                "nodeSelector": {"sandbox": "gvisor"},
                "tolerations": [{"key": "sandbox", "operator": "Exists", "effect": "NoSchedule"}],
            },
        },
        None,
        WRITE,
        manager=None,
    )
    out = (
        await pods.create(
            pod("p", runtimeClassName="gvisor", nodeSelector={"zone": "a"}), "default", WRITE, manager=None
        )
    ).obj
    assert out["spec"]["overhead"] == {"cpu": "250m", "memory": "120Mi"}
    assert out["spec"]["nodeSelector"] == {"zone": "a", "sandbox": "gvisor"}
    assert {"key": "sandbox", "operator": "Exists", "effect": "NoSchedule"} in out["spec"]["tolerations"]
    with pytest.raises(errors.StatusError) as conflict:
        await pods.create(
            pod("c", runtimeClassName="gvisor", nodeSelector={"sandbox": "kata"}),
            "default",
            WRITE,
            manager=None,
        )
    assert conflict.value.message.endswith(
        "conflict: runtimeClass.scheduling.nodeSelector[sandbox] = gvisor; pod.spec.nodeSelector[sandbox] = kata"
    )


# --- DefaultIngressClass ---------------------------------------------------------------------------


async def test_default_ingress_class(ctx: ApiContext) -> None:
    ingresses = ops(ctx, "networking.k8s.io", "v1", "ingresses")
    rule = {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}
    none = (
        await ingresses.create(
            {"metadata": {"name": "a"}, "spec": dict(rule)}, "default", WRITE, manager=None
        )
    ).obj
    assert "ingressClassName" not in none["spec"]
    classes = ops(ctx, "networking.k8s.io", "v1", "ingressclasses")
    marked = {"ingressclass.kubernetes.io/is-default-class": "true"}
    await classes.create(
        {"metadata": {"name": "nginx", "annotations": marked}, "spec": {"controller": "k8s.io/nginx"}},
        None,
        WRITE,
        manager=None,
    )
    await classes.create(
        {"metadata": {"name": "other"}, "spec": {"controller": "x.io/y"}}, None, WRITE, manager=None
    )
    defaulted = (
        await ingresses.create(
            {"metadata": {"name": "b"}, "spec": dict(rule)}, "default", WRITE, manager=None
        )
    ).obj
    assert defaulted["spec"]["ingressClassName"] == "nginx"
    chosen = (
        await ingresses.create(
            {"metadata": {"name": "c"}, "spec": {**rule, "ingressClassName": "other"}},
            "default",
            WRITE,
            manager=None,
        )
    ).obj
    assert chosen["spec"]["ingressClassName"] == "other"


# --- ResourceQuota -----------------------------------------------------------------------------------


async def _quota(ctx: ApiContext, hard: dict[str, str], used: dict[str, str]) -> None:
    quotas = ops(ctx, "", "v1", "resourcequotas")
    await quotas.create({"metadata": {"name": "q"}, "spec": {"hard": hard}}, "default", WRITE, manager=None)
    # what the ResourceQuota controller writes
    status = {"status": {"hard": hard, "used": used}}
    await quotas.patch("q", "default", MERGE, orjson.dumps(status), WRITE, subresource="status", manager=None)


async def _used(ctx: ApiContext) -> dict[str, str]:
    quota = await ctx.store_for("", "v1", "resourcequotas").get("default", "q")
    return dict(quota["status"]["used"])


async def test_quota_refuses_over_limit_and_charges_admitted_usage(ctx: ApiContext) -> None:
    await _quota(ctx, {"configmaps": "2"}, {"configmaps": "0"})
    cms = ops(ctx, "", "v1", "configmaps")
    await cms.create({"metadata": {"name": "dry"}}, "default", DRY, manager=None)
    assert await _used(ctx) == {"configmaps": "0"}  # a dry run charges nothing
    await cms.create({"metadata": {"name": "a"}}, "default", WRITE, manager=None)
    assert await _used(ctx) == {"configmaps": "1"}
    await cms.create({"metadata": {"name": "b"}}, "default", WRITE, manager=None)
    assert await _used(ctx) == {"configmaps": "2"}
    with pytest.raises(errors.StatusError) as over:
        await cms.create({"metadata": {"name": "c"}}, "default", WRITE, manager=None)
    status = over.value.to_status()
    assert (status["code"], status["reason"]) == (403, "Forbidden")
    assert status["message"] == (
        'configmaps "c" is forbidden: exceeded quota: q, requested: configmaps=1, used: configmaps=2, '
        "limited: configmaps=2"
    )
    assert await ctx.store_for("", "v1", "configmaps").try_get("default", "c") is None
    # another namespace has no quota
    nss = ops(ctx, "", "v1", "namespaces")
    await nss.create({"metadata": {"name": "free"}}, None, WRITE, manager=None)
    await cms.create({"metadata": {"name": "c"}}, "free", WRITE, manager=None)
    assert await _used(ctx) == {"configmaps": "2"}


async def test_quota_on_service_updates_charges_what_grows(ctx: ApiContext) -> None:
    await _quota(ctx, {"services.nodeports": "1"}, {"services.nodeports": "0"})
    services = ops(ctx, "", "v1", "services")
    body = {"metadata": {"name": "s"}, "spec": {"selector": {"app": "s"}, "ports": [{"port": 80}]}}
    await services.create(body, "default", WRITE, manager=None)
    assert await _used(ctx) == {"services.nodeports": "0"}
    await services.patch(
        "s", "default", MERGE, b'{"spec":{"type":"NodePort"}}', WRITE, subresource=None, manager=None
    )
    assert await _used(ctx) == {"services.nodeports": "1"}
    two_ports = b'{"spec":{"ports":[{"name":"a","port":80},{"name":"b","port":81}]}}'
    with pytest.raises(errors.StatusError) as over:
        await services.patch("s", "default", MERGE, two_ports, WRITE, subresource=None, manager=None)
    assert over.value.code == 403 and "exceeded quota: q" in over.value.message
    stored = await ctx.store_for("", "v1", "services").get("default", "s")
    assert [p["port"] for p in stored["spec"]["ports"]] == [80]
