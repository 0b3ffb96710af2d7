"""Printers for the smaller groups: ``coordination.k8s.io`` leases, ``discovery.k8s.io`` endpoint
slices, ``autoscaling`` HPAs, ``policy`` PDBs, ``scheduling.k8s.io`` priority classes and
``rbac.authorization.k8s.io`` bindings, as upstream's ``printers.go`` prints them (wide form).
Roles and cluster roles have no printer upstream: they get the default NAME / CREATED AT table.
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
    dig,
    int_or_string,
    integer,
    items,
    list_with_more,
    name,
    name_column,
    quantity,
    text,
)

# --- leases and endpoint slices -----------------------------------------------------------------------

LEASE = Printer(
    (
        name_column(),
        Column("Holder", doc=("io.k8s.api.coordination.v1.LeaseSpec", "holderIdentity")),
        age_column(),
    ),
    lambda obj, now: [name(obj), text(obj, "spec", "holderIdentity"), age(obj, now)],
)


def _slice_port(port: Obj) -> str:
    number, port_name = dig(port, "port"), dig(port, "name")
    if number is not None:
        return str(number)
    return "*" if port_name is None else str(port_name)


def _slice_ports(obj: Obj) -> str:
    ports = items(obj, "ports")
    return list_with_more([_slice_port(p) for p in ports[:3]], len(ports), 3)


def _slice_endpoints(obj: Obj) -> str:
    addresses = [str(a) for ep in items(obj, "endpoints") for a in items(ep, "addresses")]
    return list_with_more(addresses[:3], len(addresses), 3)


_SLICE = "io.k8s.api.discovery.v1.EndpointSlice"
ENDPOINT_SLICE = Printer(
    (
        name_column(),
        Column("AddressType", doc=(_SLICE, "addressType")),
        Column("Ports", doc=(_SLICE, "ports")),
        Column("Endpoints", doc=(_SLICE, "endpoints")),
        age_column(),
    ),
    lambda obj, now: [
        name(obj),
        text(obj, "addressType"),
        _slice_ports(obj),
        _slice_endpoints(obj),
        age(obj, now),
    ],
)

# --- horizontal pod autoscalers -----------------------------------------------------------------------

_UNKNOWN = "<unknown>"


def _current(statuses: list[Any], index: int, source: str, field: str) -> Any:
    if index >= len(statuses):
        return None
    return dig(statuses[index], source, "current", field)


def _value_metric(spec: Obj, statuses: list[Any], index: int, source: str) -> str:
    """External and Object metrics: an average value target gets ``(avg)``, a value target does not."""
    target = dig(spec, source, "target") or {}
    if target.get("averageValue") is not None:
        current = _current(statuses, index, source, "averageValue")
        shown = _UNKNOWN if current is None else quantity(current)
        return f"{shown}/{quantity(target['averageValue'])} (avg)"
    has_status = index < len(statuses) and dig(statuses[index], source) is not None
    shown = quantity(_current(statuses, index, source, "value")) if has_status else _UNKNOWN
    return f"{shown}/{quantity(target.get('value'))}"


def _resource_metric(spec: Obj, statuses: list[Any], index: int, source: str) -> str:
    """Resource and ContainerResource metrics: ``name: current/target``."""
    block = dig(spec, source) or {}
    target = block.get("target") or {}
    resource = str(block.get("name", ""))
    if target.get("averageValue") is not None:
        current = _current(statuses, index, source, "averageValue")
        shown = (
            _UNKNOWN if index >= len(statuses) or dig(statuses[index], source) is None else quantity(current)
        )
        return f"{resource}: {shown}/{quantity(target['averageValue'])}"
    utilization = _current(statuses, index, source, "averageUtilization")
    shown = _UNKNOWN if utilization is None else f"{int(utilization)}%"
    wanted = target.get("averageUtilization")
    return f"{resource}: {shown}/{'<auto>' if wanted is None else f'{int(wanted)}%'}"


def _pods_metric(spec: Obj, statuses: list[Any], index: int) -> str:
    has_status = index < len(statuses) and dig(statuses[index], "pods") is not None
    shown = quantity(_current(statuses, index, "pods", "averageValue")) if has_status else _UNKNOWN
    return f"{shown}/{quantity(dig(spec, 'pods', 'target', 'averageValue'))}"


def format_hpa_metrics(hpa: Obj, limit: int = 2) -> str:
    """``formatHPAMetrics`` over autoscaling/v2 specs and current metrics."""
    specs, statuses = items(hpa, "spec", "metrics"), items(hpa, "status", "currentMetrics")
    if not specs:
        return "<none>"
    shown = []
    for index, spec in enumerate(specs):
        kind = text(spec, "type")
        if kind in ("External", "Object"):
            shown.append(_value_metric(spec, statuses, index, kind.lower()))
        elif kind == "Pods":
            shown.append(_pods_metric(spec, statuses, index))
        elif kind in ("Resource", "ContainerResource"):
            shown.append(_resource_metric(spec, statuses, index, kind[0].lower() + kind[1:]))
        else:
            shown.append("<unknown type>")
    joined = ", ".join(shown[:limit])
    return f"{joined} + {len(shown) - limit} more..." if len(shown) > limit else joined


def _hpa_cells(hpa: Obj, now: datetime) -> list[Any]:
    ref = dig(hpa, "spec", "scaleTargetRef") or {}
    min_replicas = dig(hpa, "spec", "minReplicas")
    return [
        name(hpa),
        f"{text(ref, 'kind')}/{text(ref, 'name')}",
        format_hpa_metrics(hpa),
        "<unset>" if min_replicas is None else str(int(min_replicas)),
        integer(hpa, "spec", "maxReplicas"),
        integer(hpa, "status", "currentReplicas"),
        age(hpa, now),
    ]


_HPA = "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler"
HPA = Printer(
    (
        name_column(),
        Column("Reference", doc=(_HPA + "Spec", "scaleTargetRef")),
        Column("Targets", doc=(_HPA + "Spec", "metrics")),
        Column("MinPods", doc=(_HPA + "Spec", "minReplicas")),
        Column("MaxPods", doc=(_HPA + "Spec", "maxReplicas")),
        Column("Replicas", doc=(_HPA + "Status", "currentReplicas")),
        age_column(),
    ),
    _hpa_cells,
)

# --- pod disruption budgets and priority classes ------------------------------------------------------


def _or_na(value: Any) -> str:
    return "N/A" if value is None else int_or_string(value)


PDB = Printer(
    (
        name_column(),
        Column("Min Available", doc="The minimum number of pods that must be available."),
        Column("Max Unavailable", doc="The maximum number of pods that may be unavailable."),
        Column(
            "Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."
        ),
        age_column(),
    ),
    lambda obj, now: [
        name(obj),
        _or_na(dig(obj, "spec", "minAvailable")),
        _or_na(dig(obj, "spec", "maxUnavailable")),
        integer(obj, "status", "disruptionsAllowed"),
        age(obj, now),
    ],
)

_PC = "io.k8s.api.scheduling.v1.PriorityClass"
PRIORITY_CLASS = Printer(
    (
        name_column(),
        Column("Value", "integer", (_PC, "value")),
        Column("Global-Default", "boolean", (_PC, "globalDefault")),
        age_column(),
        Column("PreemptionPolicy", doc=(_PC, "preemptionPolicy")),
    ),
    lambda obj, now: [
        name(obj),
        integer(obj, "value"),
        bool(dig(obj, "globalDefault")),
        age(obj, now),
        text(obj, "preemptionPolicy"),
    ],
)

# --- role bindings ------------------------------------------------------------------------------------


def subjects_strings(obj: Obj) -> tuple[str, str, str]:
    """``rbac.SubjectsStrings``: users, groups and ``namespace/name`` service accounts."""
    users, groups, sas = [], [], []
    for subject in items(obj, "subjects"):
        kind, subject_name = text(subject, "kind"), text(subject, "name")
        if kind == "ServiceAccount":
            sas.append(f"{text(subject, 'namespace')}/{subject_name}")
        elif kind == "User":
            users.append(subject_name)
        elif kind == "Group":
            groups.append(subject_name)
    return ", ".join(users), ", ".join(groups), ", ".join(sas)


def _binding_printer(kind: str, noun: str) -> Printer:
    return Printer(
        (
            name_column(),
            Column("Role", doc=(f"io.k8s.api.rbac.v1.{kind}", "roleRef")),
            age_column(),
            Column("Users", priority=1, doc=f"Users in the {noun}"),
            Column("Groups", priority=1, doc=f"Groups in the {noun}"),
            Column("ServiceAccounts", priority=1, doc=f"ServiceAccounts in the {noun}"),
        ),
        lambda obj, now: [
            name(obj),
            f"{text(obj, 'roleRef', 'kind')}/{text(obj, 'roleRef', 'name')}",
            age(obj, now),
            *subjects_strings(obj),
        ],
    )


ROLE_BINDING = _binding_printer("RoleBinding", "roleBinding")
CLUSTER_ROLE_BINDING = _binding_printer("ClusterRoleBinding", "clusterRoleBinding")
