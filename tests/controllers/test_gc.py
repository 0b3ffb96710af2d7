"""Garbage collector against a real API server: background, foreground and orphan cascades (via kubectl),
dangling owner references, and custom resources as owners."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from kybernetes.client import ApiClient, ResourceClient, StatusError
from tests.controllers.conftest import (
    FakeKubelet,
    Kube,
    StartManager,
    deployment,
    eventually,
    new_namespace,
)

CONTROLLERS = ["deployment", "replicaset", "garbagecollector"]


async def counts(api: ApiClient, ns: str) -> tuple[int, int, int]:
    ds, _ = await api.deployments.list_all(namespace=ns)
    rss, _ = await api.replicasets.list_all(namespace=ns)
    pods, _ = await api.pods.list_all(namespace=ns)
    return len(ds), len(rss), len(pods)


async def rolled_out(api: ApiClient, kube: Kube, ns: str, replicas: int = 2) -> None:
    await api.deployments.create(deployment("web", ns, replicas))
    await kube.kubectl("-n", ns, "rollout", "status", "deployment/web", "--timeout=20s", timeout=30)


async def test_background_cascade(
    api: ApiClient, kube: Kube, start_manager: StartManager, kubelet: FakeKubelet
) -> None:
    await start_manager(controllers=CONTROLLERS)
    ns = await new_namespace(api)
    await rolled_out(api, kube, ns)
    assert await counts(api, ns) == (1, 1, 2)
    await kube.kubectl("-n", ns, "delete", "deployment", "web")
    await eventually(lambda: _is(counts(api, ns), (0, 0, 0)), what="everything gone")


async def _is(coro: Any, want: Any) -> bool:
    return (await coro) == want


async def test_foreground_cascade(
    api: ApiClient, kube: Kube, start_manager: StartManager, kubelet: FakeKubelet
) -> None:
    await start_manager(controllers=CONTROLLERS)
    ns = await new_namespace(api)
    await rolled_out(api, kube, ns, 3)
    seen: list[tuple[int, int, int, bool]] = []

    async def watch() -> None:
        while True:
            try:
                d = await api.deployments.get("web", namespace=ns)
                fin = "foregroundDeletion" in (d["metadata"].get("finalizers") or [])
            except StatusError:
                d, fin = None, False
            c = await counts(api, ns)
            seen.append((*c, fin))
            await asyncio.sleep(0.005)

    task = asyncio.create_task(watch())
    try:
        # kubectl waits for the deployment to disappear: with foreground, dependents go first
        await kube.kubectl("-n", ns, "delete", "deployment", "web", "--cascade=foreground", timeout=30)
        assert await counts(api, ns) == (0, 0, 0)
    finally:
        task.cancel()
    # the deployment was never gone while pods still existed
    assert not [s for s in seen if s[0] == 0 and s[2] > 0]
    assert any(s[3] for s in seen)  # the finalizer was observed


async def test_orphan_cascade(
    api: ApiClient, kube: Kube, start_manager: StartManager, kubelet: FakeKubelet
) -> None:
    await start_manager(controllers=CONTROLLERS)
    ns = await new_namespace(api)
    await rolled_out(api, kube, ns)
    await kube.kubectl("-n", ns, "delete", "deployment", "web", "--cascade=orphan", timeout=30)
    await eventually(lambda: _is(counts(api, ns), (0, 1, 2)), what="deployment gone, RS and pods kept")
    await asyncio.sleep(0.5)
    rss, _ = await api.replicasets.list_all(namespace=ns)
    assert not rss[0]["metadata"].get("ownerReferences")
    assert await counts(api, ns) == (0, 1, 2)
    pods, _ = await api.pods.list_all(namespace=ns)
    assert all(p["metadata"]["ownerReferences"][0]["uid"] == rss[0]["metadata"]["uid"] for p in pods)


def configmap(name: str, ns: str, owners: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "ownerReferences": owners},
        "data": {"k": "v"},
    }


def ref(obj: dict[str, Any], block: bool = False) -> dict[str, Any]:
    return {
        "apiVersion": obj.get("apiVersion", "v1"),
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "blockOwnerDeletion": block,
    }


async def _gone(client: Any, name: str, ns: str) -> bool:
    try:
        await client.get(name, namespace=ns)
    except StatusError as exc:
        return exc.code == 404
    return False


async def test_dangling_and_partial_owners(api: ApiClient, start_manager: StartManager) -> None:
    await start_manager(controllers=["garbagecollector"])
    ns = await new_namespace(api)
    owner = await api.configmaps.create(configmap("owner", ns, []))
    owner["kind"] = "ConfigMap"
    ghost = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "ghost", "uid": "0000-gone"}}
    await api.configmaps.create(configmap("dangling", ns, [ref(ghost)]))
    await api.configmaps.create(configmap("partial", ns, [ref(ghost), ref(owner)]))
    await api.configmaps.create(configmap("kept", ns, [ref(owner)]))
    await eventually(lambda: _gone(api.configmaps, "dangling", ns), what="dangling dependent deleted")

    async def partial_fixed() -> bool:
        cm = await api.configmaps.get("partial", namespace=ns)
        return [r["name"] for r in cm["metadata"]["ownerReferences"]] == ["owner"]

    await eventually(partial_fixed, what="dangling reference removed")
    await asyncio.sleep(0.3)
    assert not await _gone(api.configmaps, "kept", ns)
    await api.configmaps.delete("owner", namespace=ns)
    await eventually(lambda: _gone(api.configmaps, "kept", ns), what="dependent of deleted owner")
    await eventually(lambda: _gone(api.configmaps, "partial", ns), what="last owner gone")


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
            }
        ],
    },
}


def widget_client(api: ApiClient) -> ResourceClient:
    return api.resource("example.com", "v1", "widgets", namespaced=True, kind="Widget")


async def create_widget(widgets: ResourceClient, ns: str) -> dict[str, Any]:
    """Create widget ``w`` in ``ns`` as soon as the CRD is served."""

    async def attempt() -> dict[str, Any] | None:
        try:
            return await widgets.create(
                {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": ns}}
            )
        except StatusError:
            return None

    return await eventually(attempt, what="CRD served")


async def test_custom_resource_owner(api: ApiClient, kube: Kube, start_manager: StartManager) -> None:
    await start_manager(controllers=["garbagecollector"])
    await api.customresourcedefinitions.create(CRD)
    ns = await new_namespace(api)
    widgets = widget_client(api)
    widget = await create_widget(widgets, ns)
    await api.configmaps.create(configmap("child", ns, [ref(widget, block=True)]))
    # a widget dependent of a widget, deleted in the foreground through kubectl
    await kube.kubectl("-n", ns, "delete", "widgets.example.com", "w", "--cascade=foreground", timeout=30)
    await eventually(lambda: _gone(api.configmaps, "child", ns), timeout=15, what="child of custom resource")
    assert json.dumps(await _gone(widgets, "w", ns))
