"""Printers for ``networking.k8s.io/v1``: Ingress, IngressClass and NetworkPolicy, as upstream's
``printers.go`` prints them (wide form: the load-balancer address is never truncated).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kybernetes.api.selectors import format_label_selector
from kybernetes.api.tables._base import (
    Column,
    Obj,
    Printer,
    age,
    age_column,
    dig,
    items,
    name,
    name_column,
    text,
)

_NET = "io.k8s.api.networking.v1."


def format_hosts(rules: list[Any], limit: int = 3) -> str:
    """``formatHosts``: the first three non-empty hosts, ``*`` when none, ``+ N more...`` past three."""
    hosts: list[str] = []
    more = False
    for rule in rules:
        if len(hosts) == limit:
            more = True
        host = text(rule, "host")
        if not more and host:
            hosts.append(host)
    if not hosts:
        return "*"
    joined = ",".join(hosts)
    return f"{joined} + {len(rules) - limit} more..." if more else joined


def load_balancer_addresses(obj: Obj) -> str:
    """``ingressLoadBalancerStatusStringer``: the distinct IPs (or hostnames), sorted, comma-joined."""
    found: set[str] = set()
    for entry in items(obj, "status", "loadBalancer", "ingress"):
        ip, host = text(entry, "ip"), text(entry, "hostname")
        if ip:
            found.add(ip)
        elif host:
            found.add(host)
    return ",".join(sorted(found))


def _ingress_cells(obj: Obj, now: datetime) -> list[Any]:
    class_name = dig(obj, "spec", "ingressClassName")
    return [
        name(obj),
        "<none>" if class_name is None else str(class_name),
        format_hosts(items(obj, "spec", "rules")),
        load_balancer_addresses(obj),
        "80, 443" if items(obj, "spec", "tls") else "80",
        age(obj, now),
    ]


INGRESS = Printer(
    (
        name_column(),
        Column("Class", doc="The name of the IngressClass resource that should be used for this Ingress"),
        Column("Hosts", doc="Hosts that incoming requests are matched against before the ingress rule"),
        Column("Address", doc="Address is a list containing ingress points for the load-balancer"),
        Column("Ports", doc="Ports of TLS configurations that open"),
        age_column(),
    ),
    _ingress_cells,
)


def _ingress_class_parameters(obj: Obj) -> str:
    params = dig(obj, "spec", "parameters")
    if not isinstance(params, dict):
        return "<none>"
    shown = text(params, "kind")
    if params.get("apiGroup") is not None:
        shown += "." + text(params, "apiGroup")
    return f"{shown}/{text(params, 'name')}"


INGRESS_CLASS = Printer(
    (
        name_column(),
        Column("Controller", doc="Controller that is responsible for handling this class"),
        Column("Parameters", doc="A reference to a resource with additional parameters"),
        age_column(),
    ),
    lambda obj, now: [
        name(obj),
        text(obj, "spec", "controller"),
        _ingress_class_parameters(obj),
        age(obj, now),
    ],
)

NETWORK_POLICY = Printer(
    (
        name_column(),
        Column("Pod-Selector", doc=(_NET + "NetworkPolicySpec", "podSelector")),
        age_column(),
    ),
    lambda obj, now: [
        name(obj),
        format_label_selector(dig(obj, "spec", "podSelector")),
        age(obj, now),
    ],
)
