"""Validation of API objects, as upstream's per-type ``validation`` packages (pure functions, no I/O).

The API server calls, after defaulting (``api.defaults.apply_defaults``):

* ``check_types(schema_name, obj)`` / ``check_unknown_fields(schema_name, obj)`` at decode time (400
  BadRequest / strict-decoding errors and warnings; see ``schema``);
* ``validate_create`` / ``validate_update`` / ``validate_status_update`` (and
  ``validate_subresource_update`` for other status-like subresources: CSR ``/approval``,
  ``pods/ephemeralcontainers``) and, if any cause
  comes back, raises ``errors.invalid(kind, name, causes)`` (422, the message kubectl prints);
* for custom resources also ``validate_custom`` against the CRD version's schema, after
  ``prune_unknown`` (``unknown_custom_fields`` for Strict/Warn).

Per-type rules live in one small module per API group (``core``, ``apps``, ``batch``, ``rbac``,
``apiextensions``, ``other``, ``networking``, ``storage`` (CSI), ``cluster``; pod specs in ``podspec``, metadata in ``meta``); ``STRATEGIES`` maps
``(group, kind)`` to a ``TypeRules`` row: the metadata name rule and the create/update/status checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kybernetes.api.errors import Cause
from kybernetes.api.registry import ResourceInfo
from kybernetes.api.validation import (
    apiextensions,
    apps,
    batch,
    cluster,
    core,
    meta,
    names,
    networking,
    other,
    rbac,
    storage,
)
from kybernetes.api.validation.field import dedupe
from kybernetes.api.validation.schema import (
    check_types,
    check_unknown_fields,
    decode_error_message,
    strict_error_message,
)
from kybernetes.api.validation.structural import (
    apply_custom_defaults,
    prune_unknown,
    unknown_custom_fields,
    validate_custom,
)

CreateFn = Callable[[dict[str, Any]], list[Cause]]
UpdateFn = Callable[[dict[str, Any], dict[str, Any]], list[Cause]]
SubresourceFn = Callable[[dict[str, Any], dict[str, Any], str], list[Cause]]

__all__ = [
    "STRATEGIES",
    "TypeRules",
    "apply_custom_defaults",
    "check_types",
    "check_unknown_fields",
    "decode_error_message",
    "prune_unknown",
    "rules_for",
    "strict_error_message",
    "unknown_custom_fields",
    "validate_create",
    "validate_custom",
    "validate_status_update",
    "validate_subresource_update",
    "validate_update",
]


@dataclass(frozen=True)
class TypeRules:
    """How one kind is validated beyond its metadata."""

    name_fn: names.NameFn = names.name_is_dns_subdomain
    create: CreateFn | None = None
    # None: re-run ``create`` on the new object (upstream re-validates the whole object on update).
    update: UpdateFn | None = None
    status: UpdateFn | None = None
    # Writes to status-like subresources other than /status (CSR /approval): (new, old, subresource).
    subresource: SubresourceFn | None = None


_DEFAULT = TypeRules()

STRATEGIES: dict[tuple[str, str], TypeRules] = {
    ("", "Namespace"): TypeRules(
        names.name_is_dns_label, core.create_namespace, core.update_namespace, core.status_namespace
    ),
    ("", "Pod"): TypeRules(
        create=core.create_pod,
        update=core.update_pod,
        status=core.status_pod,
        # pods/ephemeralcontainers: the server keeps all of the stored pod but spec.ephemeralContainers
        subresource=lambda new, old, _sub: core.update_pod_ephemeral_containers(new, old),
    ),
    ("", "Node"): TypeRules(create=core.create_node, update=core.update_node, status=core.status_node),
    ("", "Service"): TypeRules(names.name_is_dns1035_label, core.create_service, core.update_service),
    ("", "Endpoints"): TypeRules(create=core.create_endpoints),
    ("", "ConfigMap"): TypeRules(create=core.create_config_map, update=core.update_config_map),
    ("", "Secret"): TypeRules(create=core.create_secret, update=core.update_secret),
    ("", "Event"): TypeRules(create=core.create_event),
    ("", "ServiceAccount"): TypeRules(),
    ("", "Binding"): TypeRules(),
    ("", "PersistentVolume"): TypeRules(
        names.path_segment_name, core.create_persistent_volume, core.update_persistent_volume
    ),
    ("", "PersistentVolumeClaim"): TypeRules(
        create=core.create_persistent_volume_claim, update=core.update_persistent_volume_claim
    ),
    ("", "ResourceQuota"): TypeRules(create=core.create_resource_quota),
    ("", "LimitRange"): TypeRules(create=core.create_limit_range),
    ("", "PodTemplate"): TypeRules(create=core.create_pod_template),
    ("", "ReplicationController"): TypeRules(
        create=core.create_replication_controller, status=apps.status_replicas
    ),
    ("apps", "Deployment"): TypeRules(
        create=apps.create_deployment, update=apps.update_deployment, status=apps.status_replicas
    ),
    ("apps", "ReplicaSet"): TypeRules(
        create=apps.create_replica_set, update=apps.update_replica_set, status=apps.status_replicas
    ),
    ("apps", "StatefulSet"): TypeRules(
        create=apps.create_stateful_set, update=apps.update_stateful_set, status=apps.status_replicas
    ),
    ("apps", "DaemonSet"): TypeRules(
        create=apps.create_daemon_set, update=apps.update_daemon_set, status=apps.status_replicas
    ),
    ("apps", "ControllerRevision"): TypeRules(
        create=apps.create_controller_revision, update=apps.update_controller_revision
    ),
    ("batch", "Job"): TypeRules(create=batch.create_job, update=batch.update_job, status=batch.status_job),
    ("batch", "CronJob"): TypeRules(create=batch.create_cron_job, update=batch.update_cron_job),
    ("coordination.k8s.io", "Lease"): TypeRules(create=other.create_lease),
    ("discovery.k8s.io", "EndpointSlice"): TypeRules(
        create=other.create_endpoint_slice, update=other.update_endpoint_slice
    ),
    ("events.k8s.io", "Event"): TypeRules(create=other.create_events_event),
    ("autoscaling", "HorizontalPodAutoscaler"): TypeRules(names.path_segment_name, other.create_hpa),
    ("policy", "PodDisruptionBudget"): TypeRules(create=other.create_pdb),
    ("scheduling.k8s.io", "PriorityClass"): TypeRules(
        create=other.create_priority_class, update=other.update_priority_class
    ),
    ("storage.k8s.io", "StorageClass"): TypeRules(
        create=other.create_storage_class, update=other.update_storage_class
    ),
    ("rbac.authorization.k8s.io", "Role"): TypeRules(names.path_segment_name, rbac.create_role),
    ("rbac.authorization.k8s.io", "ClusterRole"): TypeRules(
        names.path_segment_name, rbac.create_cluster_role
    ),
    ("rbac.authorization.k8s.io", "RoleBinding"): TypeRules(
        names.path_segment_name, rbac.create_role_binding, rbac.update_role_binding
    ),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): TypeRules(
        names.path_segment_name, rbac.create_cluster_role_binding, rbac.update_cluster_role_binding
    ),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): TypeRules(
        create=apiextensions.create_crd, update=apiextensions.update_crd
    ),
    # --- the rest of upstream v1.32's default types
    ("", "ComponentStatus"): TypeRules(),  # read-only: computed, never written
    ("networking.k8s.io", "Ingress"): TypeRules(
        create=networking.create_ingress, status=networking.status_ingress
    ),
    ("networking.k8s.io", "IngressClass"): TypeRules(
        create=networking.create_ingress_class, update=networking.update_ingress_class
    ),
    ("networking.k8s.io", "NetworkPolicy"): TypeRules(create=networking.create_network_policy),
    ("storage.k8s.io", "CSIDriver"): TypeRules(
        create=storage.create_csi_driver, update=storage.update_csi_driver
    ),
    ("storage.k8s.io", "CSINode"): TypeRules(create=storage.create_csi_node, update=storage.update_csi_node),
    ("storage.k8s.io", "CSIStorageCapacity"): TypeRules(
        create=storage.create_csi_storage_capacity, update=storage.update_csi_storage_capacity
    ),
    ("storage.k8s.io", "VolumeAttachment"): TypeRules(
        create=storage.create_volume_attachment,
        update=storage.update_volume_attachment,
        status=storage.status_volume_attachment,
    ),
    ("certificates.k8s.io", "CertificateSigningRequest"): TypeRules(
        create=cluster.create_csr,
        update=cluster.update_csr,
        status=cluster.status_csr,
        subresource=lambda new, old, sub: cluster.validate_csr_update(new, old, sub),
    ),
    ("node.k8s.io", "RuntimeClass"): TypeRules(
        create=cluster.create_runtime_class, update=cluster.update_runtime_class
    ),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): TypeRules(
        create=cluster.create_mutating_webhook_configuration
    ),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): TypeRules(
        create=cluster.create_validating_webhook_configuration
    ),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"): TypeRules(
        create=cluster.create_validating_admission_policy
    ),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"): TypeRules(
        create=cluster.create_validating_admission_policy_binding
    ),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"): TypeRules(
        create=cluster.create_flow_schema, status=cluster.status_flowcontrol
    ),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"): TypeRules(
        create=cluster.create_priority_level, status=cluster.status_flowcontrol
    ),
    ("apiregistration.k8s.io", "APIService"): TypeRules(
        names.path_segment_name, cluster.create_api_service, status=cluster.status_api_service
    ),
}


def rules_for(info: ResourceInfo) -> TypeRules:
    if info.custom:
        return _DEFAULT
    return STRATEGIES.get((info.group, info.kind), _DEFAULT)


def _meta(obj: dict[str, Any]) -> Any:
    return obj.get("metadata") if isinstance(obj, dict) else None


def validate_create(info: ResourceInfo, obj: dict[str, Any]) -> list[Cause]:
    """Causes that make ``obj`` invalid for creation (empty list: valid)."""
    rules = rules_for(info)
    causes = meta.validate_object_meta(_meta(obj), namespaced=info.namespaced, name_fn=rules.name_fn)
    if rules.create is not None and isinstance(obj, dict):
        causes += rules.create(obj)
    return dedupe(causes)


def validate_update(info: ResourceInfo, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    """Causes that make replacing ``old`` by ``new`` invalid (metadata immutability, type rules)."""
    rules = rules_for(info)
    causes = meta.validate_object_meta_update(_meta(new), _meta(old))
    if rules.update is not None:
        causes += rules.update(new, old)
    elif rules.create is not None:
        causes += rules.create(new)
    return dedupe(causes)


def validate_status_update(info: ResourceInfo, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    """Causes for a write to the ``status`` subresource (the server keeps ``old``'s spec)."""
    rules = rules_for(info)
    causes = meta.validate_object_meta_update(_meta(new), _meta(old))
    if rules.status is not None:
        causes += rules.status(new, old)
    return dedupe(causes)


def validate_subresource_update(
    info: ResourceInfo, subresource: str, new: dict[str, Any], old: dict[str, Any]
) -> list[Cause]:
    """Causes for a write to a status-like subresource; ``/status`` unless the type has its own rules."""
    rules = rules_for(info)
    if subresource == "status" or rules.subresource is None:
        return validate_status_update(info, new, old)
    causes = meta.validate_object_meta_update(_meta(new), _meta(old))
    causes += rules.subresource(new, old, subresource)
    return dedupe(causes)
