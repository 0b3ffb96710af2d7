"""Printers for ``apps``: deployments, replica sets, stateful sets, daemon sets and controller
revisions, as upstream's ``printers.go`` prints them (wide form).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kybernetes.api.selectors import InvalidSelectorError, format_label_selector, label_selector_from_dict
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
    replica_cells,
    text,
)

_APPS = "io.k8s.api.apps.v1."
_CORE = "io.k8s.api.core.v1."


def _template_containers(obj: Obj) -> list[str]:
    return container_cells(items(obj, "spec", "template", "spec", "containers"))


def _deployment_selector(obj: Obj) -> str:
    """Deployments print ``LabelSelectorAsSelector(...).String()``: empty, not ``<none>``."""
    try:
        return str(label_selector_from_dict(dig(obj, "spec", "selector")))
    except InvalidSelectorError:
        return "<invalid>"


def _deployment_cells(obj: Obj, now: datetime) -> list[Any]:
    return [
        name(obj),
        f"{integer(obj, 'status', 'readyReplicas')}/{integer(obj, 'spec', 'replicas', default=1)}",
        integer(obj, "status", "updatedReplicas"),
        integer(obj, "status", "availableReplicas"),
        age(obj, now),
        *_template_containers(obj),
        _deployment_selector(obj),
    ]


DEPLOYMENT = Printer(
    (
        name_column(),
        Column("Ready", doc="Number of the pod with ready state"),
        Column("Up-to-date", doc=(_APPS + "DeploymentStatus", "updatedReplicas")),
        Column("Available", doc=(_APPS + "DeploymentStatus", "availableReplicas")),
        age_column(),
        *containers_columns((_APPS + "DeploymentSpec", "selector")),
    ),
    _deployment_cells,
)


def _replica_set_cells(obj: Obj, now: datetime) -> list[Any]:
    return replica_cells(obj, now, format_label_selector(dig(obj, "spec", "selector")))


REPLICA_SET = Printer(
    (
        name_column(),
        Column("Desired", "integer", (_APPS + "ReplicaSetSpec", "replicas")),
        Column("Current", "integer", (_APPS + "ReplicaSetStatus", "replicas")),
        Column("Ready", "integer", (_APPS + "ReplicaSetStatus", "readyReplicas")),
        age_column(),
        *containers_columns((_APPS + "ReplicaSetSpec", "selector")),
    ),
    _replica_set_cells,
)


def _stateful_set_cells(obj: Obj, now: datetime) -> list[Any]:
    return [
        name(obj),
        f"{integer(obj, 'status', 'readyReplicas')}/{integer(obj, 'spec', 'replicas', default=1)}",
        age(obj, now),
        *_template_containers(obj),
    ]


STATEFUL_SET = Printer(
    (
        name_column(),
        Column("Ready", doc="Number of the pod with ready state"),
        age_column(),
        *containers_columns(),
    ),
    _stateful_set_cells,
)


def _daemon_set_cells(obj: Obj, now: datetime) -> list[Any]:
    return [
        name(obj),
        integer(obj, "status", "desiredNumberScheduled"),
        integer(obj, "status", "currentNumberScheduled"),
        integer(obj, "status", "numberReady"),
        integer(obj, "status", "updatedNumberScheduled"),
        integer(obj, "status", "numberAvailable"),
        format_labels(mapping(obj, "spec", "template", "spec", "nodeSelector")),
        age(obj, now),
        *_template_containers(obj),
        format_label_selector(dig(obj, "spec", "selector")),
    ]


_DS_STATUS = _APPS + "DaemonSetStatus"
DAEMON_SET = Printer(
    (
        name_column(),
        Column("Desired", "integer", (_DS_STATUS, "desiredNumberScheduled")),
        Column("Current", "integer", (_DS_STATUS, "currentNumberScheduled")),
        Column("Ready", "integer", (_DS_STATUS, "numberReady")),
        Column("Up-to-date", "integer", (_DS_STATUS, "updatedNumberScheduled")),
        Column("Available", "integer", (_DS_STATUS, "numberAvailable")),
        Column("Node Selector", doc=(_CORE + "PodSpec", "nodeSelector")),
        age_column(),
        *containers_columns((_APPS + "DaemonSetSpec", "selector")),
    ),
    _daemon_set_cells,
)


def controller_name(obj: Obj) -> str:
    """``<kind>.<group>/<name>`` of the controlling owner, lower-cased kind, or ``<none>``."""
    for ref in items(obj, "metadata", "ownerReferences"):
        if dig(ref, "controller") is True:
            api_version = text(ref, "apiVersion")
            group = api_version.split("/", 1)[0] if "/" in api_version else ""
            kind = text(ref, "kind")
            group_kind = f"{kind}.{group}" if group else kind
            return f"{group_kind.lower()}/{text(ref, 'name')}" if group_kind else text(ref, "name")
    return "<none>"


CONTROLLER_REVISION = Printer(
    (
        name_column(),
        Column("Controller", doc="Controller of the object"),
        Column("Revision", doc=(_APPS + "ControllerRevision", "revision")),
        age_column(),
    ),
    lambda obj, now: [name(obj), controller_name(obj), integer(obj, "revision"), age(obj, now)],
)
