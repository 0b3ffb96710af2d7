"""First contact: kubectl and the official client can talk to a fresh server."""

from __future__ import annotations

from tests.e2e.conftest import KybServer


def test_namespaces_exist(kyb: KybServer) -> None:
    out = kyb.kubectl("get", "namespaces").stdout
    for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert name in out


def test_python_client_lists_namespaces(kyb: KybServer) -> None:
    from kubernetes import client

    with kyb.api_client() as api:
        names = {ns.metadata.name for ns in client.CoreV1Api(api).list_namespace().items}
    assert {"default", "kube-system"} <= names
