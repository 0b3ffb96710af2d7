"""Table cells of the types added for upstream v1.32's full default set, against ``printers.go``."""

from __future__ import annotations

from datetime import UTC, datetime

from kybernetes.api.registry import Registry
from tests.api._kinds import to_table

NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
CREATED = "2026-12-01T11:00:00Z"
REGISTRY = Registry.builtin()


def _cells(group: str, plural: str, obj: dict) -> list:
    info = REGISTRY.get(group, "v1", plural)
    assert info is not None
    obj.setdefault("metadata", {}).setdefault("name", "x")
    obj["metadata"].setdefault("creationTimestamp", CREATED)
    return to_table(info, [obj], now=NOW)["rows"][0]["cells"]


def test_ingress_hosts_address_ports() -> None:
    obj = {
        "spec": {
            "rules": [{"host": f"h{i}.example.com"} for i in range(5)],
            "tls": [{"hosts": ["h0.example.com"]}],
        },
        "status": {
            "loadBalancer": {
                "ingress": [{"ip": "10.0.0.2"}, {"hostname": "lb.example.com"}, {"ip": "10.0.0.1"}]
            }
        },
    }
    assert _cells("networking.k8s.io", "ingresses", obj) == [
        "x",
        "<none>",
        "h0.example.com,h1.example.com,h2.example.com + 2 more...",
        "10.0.0.1,10.0.0.2,lb.example.com",
        "80, 443",
        "60m",
    ]
    assert _cells("networking.k8s.io", "ingresses", {"spec": {"ingressClassName": "nginx"}})[1:5] == [
        "nginx",
        "*",
        "",
        "80",
    ]


def test_ingress_class_parameters_and_network_policy_selector() -> None:
    params = {
        "spec": {
            "controller": "a.io/c",
            "parameters": {"apiGroup": "k8s.example.com", "kind": "P", "name": "p"},
        }
    }
    assert _cells("networking.k8s.io", "ingressclasses", params)[1:3] == ["a.io/c", "P.k8s.example.com/p"]
    policy = {"spec": {"podSelector": {"matchLabels": {"app": "web"}}}}
    assert _cells("networking.k8s.io", "networkpolicies", policy)[1] == "app=web"
    assert _cells("networking.k8s.io", "networkpolicies", {"spec": {"podSelector": {}}})[1] == "<none>"


def test_csr_condition_and_duration() -> None:
    obj = {
        "spec": {"signerName": "example.com/s", "username": "alice", "expirationSeconds": 3600},
        "status": {"conditions": [{"type": "Approved"}, {"type": "Failed"}], "certificate": "Zm9v"},
    }
    assert _cells("certificates.k8s.io", "certificatesigningrequests", obj) == [
        "x",
        "60m",
        "example.com/s",
        "alice",
        "60m",
        "Approved,Failed,Issued",
    ]
    denied = {"spec": {}, "status": {"conditions": [{"type": "Approved"}, {"type": "Denied"}]}}
    assert _cells("certificates.k8s.io", "certificatesigningrequests", denied)[2:] == [
        "<none>",
        "",
        "<none>",
        "Denied",
    ]


def test_csi_driver_unset_fields_print_upstream_defaults() -> None:
    assert _cells("storage.k8s.io", "csidrivers", {"spec": {}}) == [
        "x",
        True,
        False,
        False,
        "<unset>",
        False,
        "<none>",
        "60m",
    ]


def test_apiservice_available_cell() -> None:
    local = {
        "spec": {},
        "status": {"conditions": [{"type": "Available", "status": "True", "reason": "Local"}]},
    }
    assert _cells("apiregistration.k8s.io", "apiservices", local)[1:3] == ["Local", "True"]
    remote = {
        "spec": {"service": {"namespace": "kube-system", "name": "metrics-server"}},
        "status": {"conditions": [{"type": "Available", "status": "False", "reason": "MissingEndpoints"}]},
    }
    assert _cells("apiregistration.k8s.io", "apiservices", remote)[1:3] == [
        "kube-system/metrics-server",
        "False (MissingEndpoints)",
    ]
    assert _cells("apiregistration.k8s.io", "apiservices", {"spec": {}})[2] == "Unknown"


def test_priority_levels_and_flow_schemas() -> None:
    exempt = {"spec": {"type": "Exempt", "exempt": {}}}
    assert _cells("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations", exempt)[1:6] == [
        "Exempt",
        "<none>",
        "<none>",
        "<none>",
        "<none>",
    ]
    schema = {
        "spec": {"priorityLevelConfiguration": {"name": "global"}, "matchingPrecedence": 500},
        "status": {"conditions": [{"type": "Dangling", "status": "False"}]},
    }
    assert _cells("flowcontrol.apiserver.k8s.io", "flowschemas", schema) == [
        "x",
        "global",
        500,
        "<none>",
        "60m",
        "False",
    ]


def test_component_status_cells() -> None:
    info = REGISTRY.get("", "v1", "componentstatuses")
    assert info is not None
    obj = {
        "metadata": {"name": "scheduler"},
        "conditions": [{"type": "Healthy", "status": "False", "error": "down"}],
    }
    assert to_table(info, [obj], now=NOW)["rows"][0]["cells"] == ["scheduler", "Unhealthy", "", "down"]
