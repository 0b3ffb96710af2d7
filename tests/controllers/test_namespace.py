"""Namespace controller against a real API server: deleting a namespace empties it, then it goes."""

from __future__ import annotations

from kybernetes.client import ApiClient, StatusError
from tests.controllers.conftest import (
    FakeKubelet,
    Kube,
    StartManager,
    deployment,
    eventually,
    new_namespace,
)
from tests.controllers.test_gc import CRD, create_widget, widget_client


async def _ns_gone(api: ApiClient, name: str) -> bool:
    try:
        await api.namespaces.get(name)
    except StatusError as exc:
        return exc.code == 404
    return False


async def test_deleting_a_namespace_empties_it(
    api: ApiClient, kube: Kube, start_manager: StartManager, kubelet: FakeKubelet
) -> None:
    await start_manager()  # every controller
    await api.customresourcedefinitions.create(CRD)
    ns = await new_namespace(api)
    await api.deployments.create(deployment("web", ns, 2))
    await kube.kubectl("-n", ns, "rollout", "status", "deployment/web", "--timeout=20s", timeout=30)
    await api.configmaps.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": ns}}
    )
    widgets = widget_client(api)
    await create_widget(widgets, ns)
    # an object held by a finalizer keeps the namespace until someone releases it
    await api.secrets.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "held", "namespace": ns, "finalizers": ["example.com/hold"]},
        }
    )
    await kube.kubectl("delete", "namespace", ns, "--wait=false")

    async def only_held_left() -> bool:
        cur = await api.namespaces.get(ns)
        conds = {c["type"]: c for c in (cur.get("status") or {}).get("conditions") or []}
        return conds.get("NamespaceFinalizersRemaining", {}).get("status") == "True"

    await eventually(only_held_left, timeout=15, what="only the held secret remains")
    for client in (api.deployments, api.replicasets, api.pods, api.configmaps, widgets):
        items, _ = await client.list_all(namespace=ns)
        assert items == [], (client, items)
    assert (await api.namespaces.get(ns))["status"]["phase"] == "Terminating"
    await api.secrets.patch("held", {"metadata": {"finalizers": None}}, namespace=ns)
    await eventually(lambda: _ns_gone(api, ns), timeout=15, what="namespace gone")
