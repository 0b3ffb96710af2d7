"""The registry of strategies: one row per built-in kind, naming the module that owns its behaviour.

A kind's behaviour (validation, defaults, selectable fields, table printer, generation tracking,
status/spec split, deletion, after-write hooks) lives in one strategy class, in one module per API
group under this package; ``base.Strategy`` is what a kind does when it does not say otherwise, and
``custom.CustomResourceStrategy`` serves every custom resource. Adding a built-in resource is a
``ResourceInfo`` row in ``api/registry.py``, a strategy class, and a row here.
"""

from __future__ import annotations

from kybernetes.api.registry import ResourceInfo
from kybernetes.apiserver.strategies import (
    apiextensions,
    apps,
    batch,
    cluster,
    core,
    networking,
    other,
    rbac,
    storage,
)
from kybernetes.apiserver.strategies.base import Strategy
from kybernetes.apiserver.strategies.custom import CustomResourceStrategy

STRATEGIES: dict[tuple[str, str], type[Strategy]] = {
    ("", "Namespace"): core.NamespaceStrategy,
    ("", "Pod"): core.PodStrategy,
    ("", "Binding"): core.BindingStrategy,
    ("", "Node"): core.NodeStrategy,
    ("", "Service"): core.ServiceStrategy,
    ("", "Endpoints"): core.EndpointsStrategy,
    ("", "ConfigMap"): core.ConfigMapStrategy,
    ("", "Secret"): core.SecretStrategy,
    ("", "Event"): core.EventStrategy,
    ("", "ServiceAccount"): core.ServiceAccountStrategy,
    ("", "PersistentVolume"): core.PersistentVolumeStrategy,
    ("", "PersistentVolumeClaim"): core.PersistentVolumeClaimStrategy,
    ("", "ResourceQuota"): core.ResourceQuotaStrategy,
    ("", "LimitRange"): core.LimitRangeStrategy,
    ("", "PodTemplate"): core.PodTemplateStrategy,
    ("", "ReplicationController"): core.ReplicationControllerStrategy,
    ("", "ComponentStatus"): core.ComponentStatusStrategy,
    ("apps", "Deployment"): apps.DeploymentStrategy,
    ("apps", "ReplicaSet"): apps.ReplicaSetStrategy,
    ("apps", "StatefulSet"): apps.StatefulSetStrategy,
    ("apps", "DaemonSet"): apps.DaemonSetStrategy,
    ("apps", "ControllerRevision"): apps.ControllerRevisionStrategy,
    ("batch", "Job"): batch.JobStrategy,
    ("batch", "CronJob"): batch.CronJobStrategy,
    ("coordination.k8s.io", "Lease"): other.LeaseStrategy,
    ("events.k8s.io", "Event"): other.EventV1Strategy,
    ("autoscaling", "HorizontalPodAutoscaler"): other.HorizontalPodAutoscalerStrategy,
    ("policy", "PodDisruptionBudget"): other.PodDisruptionBudgetStrategy,
    ("scheduling.k8s.io", "PriorityClass"): other.PriorityClassStrategy,
    ("discovery.k8s.io", "EndpointSlice"): networking.EndpointSliceStrategy,
    ("networking.k8s.io", "Ingress"): networking.IngressStrategy,
    ("networking.k8s.io", "IngressClass"): networking.IngressClassStrategy,
    ("networking.k8s.io", "NetworkPolicy"): networking.NetworkPolicyStrategy,
    ("storage.k8s.io", "StorageClass"): storage.StorageClassStrategy,
    ("storage.k8s.io", "CSIDriver"): storage.CSIDriverStrategy,
    ("storage.k8s.io", "CSINode"): storage.CSINodeStrategy,
    ("storage.k8s.io", "CSIStorageCapacity"): storage.CSIStorageCapacityStrategy,
    ("storage.k8s.io", "VolumeAttachment"): storage.VolumeAttachmentStrategy,
    ("rbac.authorization.k8s.io", "Role"): rbac.RoleStrategy,
    ("rbac.authorization.k8s.io", "RoleBinding"): rbac.RoleBindingStrategy,
    ("rbac.authorization.k8s.io", "ClusterRole"): rbac.ClusterRoleStrategy,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): rbac.ClusterRoleBindingStrategy,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): apiextensions.CRDStrategy,
    ("apiregistration.k8s.io", "APIService"): cluster.APIServiceStrategy,
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
    ): cluster.MutatingWebhookConfigurationStrategy,
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
    ): cluster.ValidatingWebhookConfigurationStrategy,
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"): cluster.ValidatingAdmissionPolicyStrategy,
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
    ): cluster.ValidatingAdmissionPolicyBindingStrategy,
    ("certificates.k8s.io", "CertificateSigningRequest"): cluster.CertificateSigningRequestStrategy,
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"): cluster.FlowSchemaStrategy,
    (
        "flowcontrol.apiserver.k8s.io",
        "PriorityLevelConfiguration",
    ): cluster.PriorityLevelConfigurationStrategy,
    ("node.k8s.io", "RuntimeClass"): cluster.RuntimeClassStrategy,
}


def strategy_for(info: ResourceInfo) -> Strategy:
    """The strategy of ``info``'s kind (custom resources share one; unknown kinds get the default)."""
    if info.custom:
        return CustomResourceStrategy(info)
    return STRATEGIES.get((info.group, info.kind), Strategy)(info)
