"""Strategies of cluster-level kinds (certificates, API registration, admission registration, flow
control, runtime classes). CertificateSigningRequests add behaviour (spec fixed at creation, ``/status``
for the signer, ``/approval`` for approvers), as do APIServices (local ones are Available from
creation, as the aggregator's strategy marks them)."""

from __future__ import annotations

from typing import Any

from kybernetes.api import defaults, meta, selectors
from kybernetes.api.tables import cluster as cluster_tables
from kybernetes.api.validation import TypeRules, names
from kybernetes.api.validation import cluster as cluster_validation
from kybernetes.apiserver.strategies.base import Strategy

_APPROVAL_TYPES = ("Approved", "Denied")


def _conditions(obj: dict[str, Any]) -> list[dict[str, Any]]:
    status = obj.get("status")
    conds = status.get("conditions") if isinstance(status, dict) else None
    return [c for c in conds if isinstance(c, dict)] if isinstance(conds, list) else []


def _stamp_conditions(new: dict[str, Any], old: dict[str, Any]) -> None:
    """``populateConditionTimestamps``: fill unset times, keeping a transition time of an unchanged
    (type, status) pair from the stored object."""
    now = meta.now_rfc3339()
    previous = {(c.get("type"), c.get("status")): c.get("lastTransitionTime") for c in _conditions(old)}
    for cond in _conditions(new):
        if not cond.get("lastUpdateTime"):
            cond["lastUpdateTime"] = now
        if not cond.get("lastTransitionTime"):
            cond["lastTransitionTime"] = previous.get((cond.get("type"), cond.get("status"))) or now


class CertificateSigningRequestStrategy(Strategy):
    """Users cannot create pre-approved requests or claim another requester; each subresource owns
    its part: ``/approval`` the Approved/Denied conditions, ``/status`` the rest."""

    rules = TypeRules(
        create=cluster_validation.create_csr,
        update=cluster_validation.update_csr,
        status=cluster_validation.status_csr,
        subresource=cluster_validation.validate_csr_update,
    )
    printer = cluster_tables.CERTIFICATE_SIGNING_REQUEST
    field_rules = selectors.CSR_FIELDS

    status_subresources = ("status", "approval")

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        spec = obj.get("spec")
        if isinstance(spec, dict):
            # upstream fills these from the authenticated user; requests carry no user identity here yet
            for key in ("username", "uid", "groups", "extra"):
                spec.pop(key, None)
        obj["status"] = {}

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        for key in ("spec", "status"):
            if key in old:
                new[key] = old[key]
            else:
                new.pop(key, None)

    def prepare_for_subresource_update(
        self, subresource: str, new: dict[str, Any], old: dict[str, Any]
    ) -> None:
        super().prepare_for_status_update(new, old)
        new_status = raw if isinstance(raw := new.get("status"), dict) else {}
        old_status = dict(old.get("status") or {})
        if subresource == "approval":
            # only the conditions change; the issued certificate stays as stored
            old_status["conditions"] = list(new_status.get("conditions") or [])
            new["status"] = old_status
        else:
            kept = [c for c in _conditions(old) if c.get("type") in _APPROVAL_TYPES]
            others = [c for c in _conditions(new) if c.get("type") not in _APPROVAL_TYPES]
            status = dict(new_status)
            if kept or others:
                status["conditions"] = kept + others
            else:
                status.pop("conditions", None)
            new["status"] = status
        _stamp_conditions(new, old)


def local_available_condition() -> dict[str, Any]:
    return {
        "type": "Available",
        "status": "True",
        "lastTransitionTime": meta.now_rfc3339(),
        "reason": "Local",
        "message": "Local APIServices are always available",
    }


class APIServiceStrategy(Strategy):
    rules = TypeRules(
        name_fn=names.path_segment_name,
        create=cluster_validation.create_api_service,
        status=cluster_validation.status_api_service,
    )
    printer = cluster_tables.API_SERVICE

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_api_service(obj)

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        obj["status"] = {}
        spec = obj.get("spec")
        if isinstance(spec, dict) and spec.get("service") is None:
            obj["status"] = {"conditions": [local_available_condition()]}


class MutatingWebhookConfigurationStrategy(Strategy):
    rules = TypeRules(create=cluster_validation.create_mutating_webhook_configuration)
    printer = cluster_tables.MUTATING_WEBHOOK_CONFIGURATION
    tracks_generation = True

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_mutating_webhooks(obj)


class ValidatingWebhookConfigurationStrategy(Strategy):
    rules = TypeRules(create=cluster_validation.create_validating_webhook_configuration)
    printer = cluster_tables.VALIDATING_WEBHOOK_CONFIGURATION
    tracks_generation = True

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_validating_webhooks(obj)


class ValidatingAdmissionPolicyStrategy(Strategy):
    rules = TypeRules(create=cluster_validation.create_validating_admission_policy)
    printer = cluster_tables.VALIDATING_ADMISSION_POLICY
    tracks_generation = True

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_validating_admission_policy(obj)


class ValidatingAdmissionPolicyBindingStrategy(Strategy):
    rules = TypeRules(create=cluster_validation.create_validating_admission_policy_binding)
    printer = cluster_tables.VALIDATING_ADMISSION_POLICY_BINDING
    tracks_generation = True

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_validating_admission_policy_binding(obj)


class FlowSchemaStrategy(Strategy):
    rules = TypeRules(
        create=cluster_validation.create_flow_schema, status=cluster_validation.status_flowcontrol
    )
    printer = cluster_tables.FLOW_SCHEMA
    tracks_generation = True

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_flow_schema(obj)


class PriorityLevelConfigurationStrategy(Strategy):
    rules = TypeRules(
        create=cluster_validation.create_priority_level, status=cluster_validation.status_flowcontrol
    )
    printer = cluster_tables.PRIORITY_LEVEL_CONFIGURATION
    tracks_generation = True

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_priority_level(obj)


class RuntimeClassStrategy(Strategy):
    rules = TypeRules(
        create=cluster_validation.create_runtime_class, update=cluster_validation.update_runtime_class
    )
    printer = cluster_tables.RUNTIME_CLASS
