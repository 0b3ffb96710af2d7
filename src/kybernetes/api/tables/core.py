"""Printers for the core (``""``) group, except pods (``pods.py``), events (``events.py``) and volumes
(``storage.py``): namespaces, nodes, services, endpoints, config maps, secrets, service accounts, pod
templates, replication controllers and resource quotas, as upstream's ``printers.go`` prints them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kybernetes.api.tables._base import (
    Column,
    Obj,
    Printer,
    age,
    age_column,
    container_cells,
    containers_columns,
    dig,
    format_labels,
    integer,
    items,
    mapping,
    name,
    name_column,
    quantity,
    replica_cells,
    text,
)

_V1 = "io.k8s.api.core.v1."


def _doc(kind: str, prop: str) -> tuple[str, str]:
    return (_V1 + kind, prop)


# --- namespaces ---------------------------------------------------------------------------------------


def _namespace_cells(obj: Obj, now: datetime) -> list[Any]:
    return [name(obj), text(obj, "status", "phase"), age(obj, now)]


NAMESPACE = Printer(
    (name_column(), Column("Status", doc="The status of the namespace"), age_column()), _namespace_cells
)

# --- nodes --------------------------------------------------------------------------------------------

_ROLE_PREFIX = "node-role.kubernetes.io/"
_ROLE_LABEL = "kubernetes.io/role"


def node_roles(node: Obj) -> list[str]:
    """``findNodeRoles``: ``node-role.kubernetes.io/<role>`` keys and ``kubernetes.io/role`` values."""
    roles = set()
    for key, value in mapping(node, "metadata", "labels").items():
        if key.startswith(_ROLE_PREFIX) and key[len(_ROLE_PREFIX) :]:
            roles.add(key[len(_ROLE_PREFIX) :])
        elif key == _ROLE_LABEL and value:
            roles.add(str(value))
    return sorted(roles)


def _node_status(node: Obj) -> str:
    statuses = []
    ready = [c for c in items(node, "status", "conditions") if dig(c, "type") == "Ready"]
    if ready:
        statuses.append("Ready" if dig(ready[-1], "status") == "True" else "NotReady")
    else:
        statuses.append("Unknown")
    if dig(node, "spec", "unschedulable"):
        statuses.append("SchedulingDisabled")
    return ",".join(statuses)


def _node_address(node: Obj, kind: str) -> str:
    for address in items(node, "status", "addresses"):
        if dig(address, "type") == kind:
            return text(address, "address")
    return "<none>"


def _node_cells(node: Obj, now: datetime) -> list[Any]:
    info = mapping(node, "status", "nodeInfo")
    return [
        name(node),
        _node_status(node),
        ",".join(node_roles(node)) or "<none>",
        age(node, now),
        str(info.get("kubeletVersion") or ""),
        _node_address(node, "InternalIP"),
        _node_address(node, "ExternalIP"),
        str(info.get("osImage") or "<unknown>"),
        str(info.get("kernelVersion") or "<unknown>"),
        str(info.get("containerRuntimeVersion") or "<unknown>"),
    ]


NODE = Printer(
    (
        name_column(),
        Column("Status", doc="The status of the node"),
        Column("Roles", doc="The roles of the node"),
        age_column(),
        Column("Version", doc=_doc("NodeSystemInfo", "kubeletVersion")),
        Column("Internal-IP", priority=1, doc=_doc("NodeStatus", "addresses")),
        Column("External-IP", priority=1, doc=_doc("NodeStatus", "addresses")),
        Column("OS-Image", priority=1, doc=_doc("NodeSystemInfo", "osImage")),
        Column("Kernel-Version", priority=1, doc=_doc("NodeSystemInfo", "kernelVersion")),
        Column("Container-Runtime", priority=1, doc=_doc("NodeSystemInfo", "containerRuntimeVersion")),
    ),
    _node_cells,
)

# --- services -----------------------------------------------------------------------------------------


def _load_balancer_addresses(svc: Obj) -> list[str]:
    found = set()
    for ingress in items(svc, "status", "loadBalancer", "ingress"):
        address = text(ingress, "ip") or text(ingress, "hostname")
        if address:
            found.add(address)
    return sorted(found)


def service_external_ip(svc: Obj) -> str:
    """``getServiceExternalIP`` (wide: load balancer addresses are not clipped)."""
    kind = text(svc, "spec", "type")
    external = [str(ip) for ip in items(svc, "spec", "externalIPs")]
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if kind == "LoadBalancer":
        combined = _load_balancer_addresses(svc) + external
        return ",".join(combined) or "<pending>"
    if kind == "ExternalName":
        return text(svc, "spec", "externalName")
    return "<unknown>"


def service_ports(svc: Obj) -> str:
    """``makePortString``: ``port[:nodePort]/protocol`` joined by commas."""
    pieces = []
    for port in items(svc, "spec", "ports"):
        protocol = text(port, "protocol") or "TCP"
        node_port = integer(port, "nodePort")
        middle = f":{node_port}" if node_port > 0 else ""
        pieces.append(f"{integer(port, 'port')}{middle}/{protocol}")
    return ",".join(pieces)


def _service_cells(svc: Obj, now: datetime) -> list[Any]:
    cluster_ips = items(svc, "spec", "clusterIPs")
    cluster_ip = str(cluster_ips[0]) if cluster_ips else "<none>"
    return [
        name(svc),
        text(svc, "spec", "type"),
        cluster_ip,
        service_external_ip(svc),
        service_ports(svc) or "<none>",
        age(svc, now),
        format_labels(mapping(svc, "spec", "selector")),
    ]


SERVICE = Printer(
    (
        name_column(),
        Column("Type", doc=_doc("ServiceSpec", "type")),
        Column("Cluster-IP", doc=_doc("ServiceSpec", "clusterIP")),
        Column("External-IP", doc=_doc("ServiceSpec", "externalIPs")),
        Column("Port(s)", doc=_doc("ServiceSpec", "ports")),
        age_column(),
        Column("Selector", priority=1, doc=_doc("ServiceSpec", "selector")),
    ),
    _service_cells,
)

# --- endpoints ----------------------------------------------------------------------------------------


def _host_port(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def format_endpoints(obj: Obj, limit: int = 3) -> str:
    """``formatEndpoints`` with all ports: up to three ``ip:port`` then ``+ N more...``."""
    subsets = items(obj, "subsets")
    if not subsets:
        return "<none>"
    shown: list[str] = []
    count, more = 0, False
    for subset in subsets:
        addresses = [text(a, "ip") for a in items(subset, "addresses")]
        ports = items(subset, "ports") or [None]
        for port in ports:
            count += len(addresses)
            for ip in addresses:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(ip if port is None else _host_port(ip, integer(port, "port")))
    joined = ",".join(shown)
    return f"{joined} + {count - limit} more..." if more else joined


ENDPOINTS = Printer(
    (name_column(), Column("Endpoints", doc=_doc("Endpoints", "subsets")), age_column()),
    lambda obj, now: [name(obj), format_endpoints(obj), age(obj, now)],
)

# --- config maps, secrets, service accounts -----------------------------------------------------------

CONFIG_MAP = Printer(
    (name_column(), Column("Data", doc=_doc("ConfigMap", "data")), age_column()),
    lambda obj, now: [
        name(obj),
        len(mapping(obj, "data")) + len(mapping(obj, "binaryData")),
        age(obj, now),
    ],
)

SECRET = Printer(
    (
        name_column(),
        Column("Type", doc=_doc("Secret", "type")),
        Column("Data", doc=_doc("Secret", "data")),
        age_column(),
    ),
    lambda obj, now: [name(obj), text(obj, "type"), len(mapping(obj, "data")), age(obj, now)],
)

SERVICE_ACCOUNT = Printer(
    (name_column(), Column("Secrets", doc=_doc("ServiceAccount", "secrets")), age_column()),
    lambda obj, now: [name(obj), len(items(obj, "secrets")), age(obj, now)],
)

# --- pod templates and replication controllers --------------------------------------------------------

POD_TEMPLATE = Printer(
    (
        name_column(),
        Column("Containers", doc="Names of each container in the template."),
        Column("Images", doc="Images referenced by each container in the template."),
        Column("Pod Labels", doc="The labels for the pod template."),
    ),
    lambda obj, now: [
        name(obj),
        *container_cells(items(obj, "template", "spec", "containers")),
        format_labels(mapping(obj, "template", "metadata", "labels")),
    ],
)


def _rc_cells(obj: Obj, now: datetime) -> list[Any]:
    return replica_cells(obj, now, format_labels(mapping(obj, "spec", "selector")))


REPLICATION_CONTROLLER = Printer(
    (
        name_column(),
        Column("Desired", "integer", _doc("ReplicationControllerSpec", "replicas")),
        Column("Current", "integer", _doc("ReplicationControllerStatus", "replicas")),
        Column("Ready", "integer", _doc("ReplicationControllerStatus", "readyReplicas")),
        age_column(),
        *containers_columns(_doc("ReplicationControllerSpec", "selector")),
    ),
    _rc_cells,
)

# --- resource quotas ----------------------------------------------------------------------------------


def _quota_columns(quota: Obj) -> tuple[str, str]:
    hard, used = mapping(quota, "status", "hard"), mapping(quota, "status", "used")
    requests: list[str] = []
    limits: list[str] = []
    for resource in sorted(hard):
        target = limits if resource.split(".")[0] == "limits" and "." in resource else requests
        target.append(f"{resource}: {quantity(used.get(resource))}/{quantity(hard[resource])}")
    return ", ".join(requests), ", ".join(limits)


def _quota_cells(quota: Obj, now: datetime) -> list[Any]:
    requests, limits = _quota_columns(quota)
    return [name(quota), requests, limits, age(quota, now)]


RESOURCE_QUOTA = Printer(
    (
        name_column(),
        Column(
            "Request",
            doc="Request represents a minimum amount of cpu/memory that a container may consume.",
        ),
        Column(
            "Limit",
            doc="Limits control the maximum amount of cpu/memory that a container may use independent of "
            "contention on the node.",
        ),
        age_column(),
    ),
    _quota_cells,
)


__all__ = ["format_endpoints", "node_roles", "service_external_ip", "service_ports"]
