"""Printers for the cluster-level groups: ``certificates.k8s.io`` CSRs, ``node.k8s.io`` runtime classes,
``admissionregistration.k8s.io`` webhooks and validating admission policies,
``flowcontrol.apiserver.k8s.io`` flow schemas and priority levels (upstream's ``printers.go``),
``apiregistration.k8s.io`` APIServices (the aggregator's own table convertor) and core
``ComponentStatus``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from kybernetes.api.selectors import format_label_selector
from kybernetes.api.tables._base import (
    Column,
    Obj,
    Printer,
    age,
    age_column,
    dig,
    human_duration,
    integer,
    items,
    name,
    name_column,
    text,
)

# --- certificate signing requests ---------------------------------------------------------------------

_CSR = "io.k8s.api.certificates.v1.CertificateSigningRequest"


def csr_condition(obj: Obj) -> str:
    """``extractCSRStatus``: Denied / Approved / Pending, then ``,Failed`` and ``,Issued``."""
    kinds = {text(c, "type") for c in items(obj, "status", "conditions")}
    shown = "Denied" if "Denied" in kinds else "Approved" if "Approved" in kinds else "Pending"
    if "Failed" in kinds:
        shown += ",Failed"
    if dig(obj, "status", "certificate"):
        shown += ",Issued"
    return shown


def _csr_cells(obj: Obj, now: datetime) -> list[Any]:
    seconds = dig(obj, "spec", "expirationSeconds")
    duration = "<none>"
    if isinstance(seconds, int) and not isinstance(seconds, bool):
        duration = human_duration(timedelta(seconds=seconds))
    return [
        name(obj),
        age(obj, now),
        text(obj, "spec", "signerName") or "<none>",
        text(obj, "spec", "username"),
        duration,
        csr_condition(obj),
    ]


CERTIFICATE_SIGNING_REQUEST = Printer(
    (
        name_column(),
        age_column(),
        Column("SignerName", doc=(_CSR + "Spec", "signerName")),
        # upstream describes this column with the doc of spec.request
        Column("Requestor", doc=(_CSR + "Spec", "request")),
        Column("RequestedDuration", doc=(_CSR + "Spec", "expirationSeconds")),
        Column("Condition", doc=(_CSR + "Status", "conditions")),
    ),
    _csr_cells,
)

RUNTIME_CLASS = Printer(
    (
        name_column(),
        Column("Handler", doc="Handler is the name of the underlying runtime."),
        age_column(),
    ),
    lambda obj, now: [name(obj), text(obj, "handler"), age(obj, now)],
)

# --- admission registration ---------------------------------------------------------------------------


def _webhook_printer() -> Printer:
    return Printer(
        (
            name_column(),
            Column(
                "Webhooks",
                "integer",
                "Webhooks indicates the number of webhooks registered in this configuration",
            ),
            age_column(),
        ),
        lambda obj, now: [name(obj), len(items(obj, "webhooks")), age(obj, now)],
    )


def _param_kind(obj: Obj) -> str:
    kind = dig(obj, "spec", "paramKind")
    if not isinstance(kind, dict):
        return "<unset>"
    return f"{text(kind, 'apiVersion')}/{text(kind, 'kind')}"


VALIDATING_ADMISSION_POLICY = Printer(
    (
        name_column(),
        Column(
            "Validations",
            "integer",
            "Validations indicates the number of validation rules defined in this configuration",
        ),
        Column("ParamKind", doc="ParamKind specifies the kind of resources used to parameterize this policy"),
        age_column(),
    ),
    lambda obj, now: [name(obj), len(items(obj, "spec", "validations")), _param_kind(obj), age(obj, now)],
)


def _param_ref(obj: Obj) -> str:
    ref = dig(obj, "spec", "paramRef")
    if not isinstance(ref, dict):
        return "<unset>"
    ref_name, namespace = text(ref, "name"), text(ref, "namespace")
    if ref_name:
        # upstream cannot tell a cluster-scoped param from here: no namespace prints as "*"
        return f"{namespace or '*'}/{ref_name}"
    if isinstance(ref.get("selector"), dict):
        return format_label_selector(ref["selector"])
    return "<unset>"


VALIDATING_ADMISSION_POLICY_BINDING = Printer(
    (
        name_column(),
        Column(
            "PolicyName", doc="PolicyName indicates the policy definition which the policy binding binded to"
        ),
        Column("ParamRef", doc="ParamRef indicates the param resource which sets the configration param"),
        age_column(),
    ),
    lambda obj, now: [name(obj), text(obj, "spec", "policyName"), _param_ref(obj), age(obj, now)],
)

# --- API priority and fairness ------------------------------------------------------------------------

_FC = "io.k8s.api.flowcontrol.v1."


def _flow_schema_cells(obj: Obj, now: datetime) -> list[Any]:
    method = dig(obj, "spec", "distinguisherMethod")
    dangling = "?"
    for cond in items(obj, "status", "conditions"):
        if text(cond, "type") == "Dangling":
            dangling = text(cond, "status")
            break
    return [
        name(obj),
        text(obj, "spec", "priorityLevelConfiguration", "name"),
        integer(obj, "spec", "matchingPrecedence"),
        text(method, "type") if isinstance(method, dict) else "<none>",
        age(obj, now),
        dangling,
    ]


FLOW_SCHEMA = Printer(
    (
        name_column(),
        Column("PriorityLevel", doc=(_FC + "PriorityLevelConfigurationReference", "name")),
        Column("MatchingPrecedence", doc=(_FC + "FlowSchemaSpec", "matchingPrecedence")),
        Column("DistinguisherMethod", doc=(_FC + "FlowSchemaSpec", "distinguisherMethod")),
        age_column(),
        Column("MissingPL", doc="references a broken or non-existent PriorityLevelConfiguration"),
    ),
    _flow_schema_cells,
)


def _priority_level_cells(obj: Obj, now: datetime) -> list[Any]:
    shares: Any = "<none>"
    queues: Any = "<none>"
    hand: Any = "<none>"
    limit: Any = "<none>"
    limited = dig(obj, "spec", "limited")
    if isinstance(limited, dict):
        shares = integer(limited, "nominalConcurrencyShares")
        queuing = dig(limited, "limitResponse", "queuing")
        if isinstance(queuing, dict):
            queues = integer(queuing, "queues")
            hand = integer(queuing, "handSize")
            limit = integer(queuing, "queueLengthLimit")
    return [name(obj), text(obj, "spec", "type"), shares, queues, hand, limit, age(obj, now)]


PRIORITY_LEVEL_CONFIGURATION = Printer(
    (
        name_column(),
        Column("Type", doc=(_FC + "PriorityLevelConfigurationSpec", "type")),
        Column(
            "NominalConcurrencyShares",
            doc=(_FC + "LimitedPriorityLevelConfiguration", "nominalConcurrencyShares"),
        ),
        Column("Queues", doc=(_FC + "QueuingConfiguration", "queues")),
        Column("HandSize", doc=(_FC + "QueuingConfiguration", "handSize")),
        Column("QueueLengthLimit", doc=(_FC + "QueuingConfiguration", "queueLengthLimit")),
        age_column(),
    ),
    _priority_level_cells,
)

# --- APIServices and component statuses ---------------------------------------------------------------


def api_service_available(obj: Obj) -> str:
    """The aggregator's AVAILABLE cell: ``True``, ``False (Reason)``, or ``Unknown`` without a condition."""
    for cond in items(obj, "status", "conditions"):
        if text(cond, "type") != "Available":
            continue
        status, reason = text(cond, "status"), text(cond, "reason")
        if status == "True" or not reason:
            return status
        return f"{status} ({reason})"
    return "Unknown"


def _api_service_cells(obj: Obj, now: datetime) -> list[Any]:
    service = dig(obj, "spec", "service")
    where = f"{text(service, 'namespace')}/{text(service, 'name')}" if isinstance(service, dict) else "Local"
    return [name(obj), where, api_service_available(obj), age(obj, now)]


API_SERVICE = Printer(
    (
        name_column(),
        Column("Service", doc="The reference to the service that hosts this API endpoint."),
        Column("Available", doc="Whether this service is available."),
        age_column(),
    ),
    _api_service_cells,
)


def _component_status_cells(obj: Obj, now: datetime) -> list[Any]:
    status, message, error = "Unknown", "", ""
    for cond in items(obj, "conditions"):
        if text(cond, "type") == "Healthy":
            status = "Healthy" if text(cond, "status") == "True" else "Unhealthy"
            message, error = text(cond, "message"), text(cond, "error")
            break
    return [name(obj), status, message, error]


COMPONENT_STATUS = Printer(
    (
        name_column(),
        Column("Status", doc="Status of the component conditions"),
        Column("Message", doc="Message of the component conditions"),
        Column("Error", doc="Error of the component conditions"),
    ),
    _component_status_cells,
)

MUTATING_WEBHOOK_CONFIGURATION = _webhook_printer()
VALIDATING_WEBHOOK_CONFIGURATION = _webhook_printer()
