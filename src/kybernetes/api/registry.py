"""The resource registry, as data.

Each served resource is one ``ResourceInfo`` row: group/version/kind, REST names, scope, verbs,
subresources, short names and categories. Discovery, routing, OpenAPI, protobuf decoding and Table
printing all read this table, so adding a built-in type is one entry here (plus, optionally, a strategy
in ``apiserver/registry``). Custom resources are added at run time from CRDs through ``Registry.add``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
READ_VERBS = ("get", "list", "watch")


@dataclass(frozen=True)
class SubresourceInfo:
    name: str  # "status", "scale", "binding", "log", ...
    kind: str  # response kind
    group: str = ""  # response group ("" for the parent's group)
    version: str = ""  # response version ("" for the parent's version)
    verbs: tuple[str, ...] = ("get", "patch", "update")


@dataclass(frozen=True)
class ResourceInfo:
    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[SubresourceInfo, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    # Definition name in the OpenAPI schemas ("io.k8s.api.core.v1.Pod"); None for custom resources.
    schema_name: str | None = None
    # Generation is bumped on spec changes only for types with a spec/status split.
    custom: bool = False
    # DELETE answers with the object rather than a Status once it is gone: upstream's store sets
    # ReturnDeletedObject (see ``RETURNS_DELETED_OBJECT``), or its REST marks the object and returns it
    # (namespaces, CRDs). While an object stays (finalizers, graceful deletion) every resource returns it.
    returns_deleted_object: bool = False
    # Whether the OpenAPI documents name the kind as DELETE's 200/202 response. Upstream's documents say
    # Status where its REST wraps the store without exposing ReturnDeletedObject (namespaces, CRDs).
    documents_deleted_object: bool = True

    @property
    def delete_response_is_object(self) -> bool:
        """Whether the OpenAPI documents give the kind (not Status) as DELETE's response."""
        return self.returns_deleted_object and self.documents_deleted_object

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def group_resource(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def subresource(self, name: str) -> SubresourceInfo | None:
        for sub in self.subresources:
            if sub.name == name:
                return sub
        return None


# (group, plural) of upstream v1.32 registries whose generic store sets ReturnDeletedObject: true
# (pkg/registry/<group>/<resource>/storage/storage.go); their DELETE answers with the deleted object and
# their OpenAPI documents say so. Every other store answers a Status (custom resources included).
RETURNS_DELETED_OBJECT = frozenset(
    {
        ("", "pods"),
        ("", "podtemplates"),
        ("", "services"),
        ("", "serviceaccounts"),
        ("", "persistentvolumes"),
        ("", "persistentvolumeclaims"),
        ("", "resourcequotas"),
        ("", "namespaces"),
        ("storage.k8s.io", "storageclasses"),
        ("storage.k8s.io", "volumeattachments"),
        ("storage.k8s.io", "csidrivers"),
        ("storage.k8s.io", "csinodes"),
        ("storage.k8s.io", "volumeattributesclasses"),
        ("resource.k8s.io", "deviceclasses"),
        ("resource.k8s.io", "resourceclaims"),
        ("resource.k8s.io", "resourceclaimtemplates"),
        ("resource.k8s.io", "resourceslices"),
    }
)

_STATUS = SubresourceInfo("status", "")  # kind "" means "the parent's kind"
_SCALE = SubresourceInfo("scale", "Scale", group="autoscaling", version="v1")


def _core(kind: str, plural: str, namespaced: bool = True, **kw: object) -> ResourceInfo:
    return ResourceInfo(
        group="",
        version="v1",
        kind=kind,
        plural=plural,
        singular=kind.lower(),
        namespaced=namespaced,
        schema_name=f"io.k8s.api.core.v1.{kind}",
        **{"returns_deleted_object": ("", plural) in RETURNS_DELETED_OBJECT, **kw},  # type: ignore[arg-type]  # kw: the other ResourceInfo fields, typed object here
    )


def _grp(
    group: str, version: str, kind: str, plural: str, pkg: str, namespaced: bool = True, **kw: object
) -> ResourceInfo:
    return ResourceInfo(
        group=group,
        version=version,
        kind=kind,
        plural=plural,
        singular=kind.lower(),
        namespaced=namespaced,
        schema_name=f"io.k8s.api.{pkg}.{version}.{kind}",
        **{"returns_deleted_object": (group, plural) in RETURNS_DELETED_OBJECT, **kw},  # type: ignore[arg-type]  # kw: the other ResourceInfo fields, typed object here
    )


BUILTIN_RESOURCES: tuple[ResourceInfo, ...] = (
    _core(
        "Namespace",
        "namespaces",
        namespaced=False,
        short_names=("ns",),
        subresources=(_STATUS, SubresourceInfo("finalize", "", verbs=("update",))),
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
        # the first DELETE marks it Terminating and returns it; the documents still say Status
        documents_deleted_object=False,
    ),
    _core(
        "Pod",
        "pods",
        short_names=("po",),
        categories=("all",),
        subresources=(
            _STATUS,
            SubresourceInfo("binding", "Binding", verbs=("create",)),
            SubresourceInfo("eviction", "Eviction", group="policy", version="v1", verbs=("create",)),
            SubresourceInfo("log", "Pod", verbs=("get",)),
            SubresourceInfo("exec", "PodExecOptions", verbs=("create", "get")),
            SubresourceInfo("attach", "PodAttachOptions", verbs=("create", "get")),
            SubresourceInfo("portforward", "PodPortForwardOptions", verbs=("create", "get")),
            SubresourceInfo("ephemeralcontainers", "", verbs=("get", "patch", "update")),
        ),
    ),
    _core("Binding", "bindings", verbs=("create",)),
    _core("Node", "nodes", namespaced=False, short_names=("no",), subresources=(_STATUS,)),
    _core(
        "Service",
        "services",
        short_names=("svc",),
        categories=("all",),
        subresources=(_STATUS,),
        verbs=("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"),
    ),
    _core("Endpoints", "endpoints", short_names=("ep",)),
    _core("ConfigMap", "configmaps", short_names=("cm",)),
    _core("Secret", "secrets"),
    _core("Event", "events", short_names=("ev",)),
    _core("ServiceAccount", "serviceaccounts", short_names=("sa",)),
    _core(
        "PersistentVolume",
        "persistentvolumes",
        namespaced=False,
        short_names=("pv",),
        subresources=(_STATUS,),
    ),
    _core("PersistentVolumeClaim", "persistentvolumeclaims", short_names=("pvc",), subresources=(_STATUS,)),
    _core("ResourceQuota", "resourcequotas", short_names=("quota",), subresources=(_STATUS,)),
    _core("LimitRange", "limitranges", short_names=("limits",)),
    _core("PodTemplate", "podtemplates"),
    _core(
        "ReplicationController",
        "replicationcontrollers",
        short_names=("rc",),
        categories=("all",),
        subresources=(_STATUS, _SCALE),
    ),
    _grp(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        "apps",
        short_names=("deploy",),
        categories=("all",),
        subresources=(_STATUS, _SCALE),
    ),
    _grp(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        "apps",
        short_names=("rs",),
        categories=("all",),
        subresources=(_STATUS, _SCALE),
    ),
    _grp(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        "apps",
        short_names=("sts",),
        categories=("all",),
        subresources=(_STATUS, _SCALE),
    ),
    _grp(
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        "apps",
        short_names=("ds",),
        categories=("all",),
        subresources=(_STATUS,),
    ),
    _grp("apps", "v1", "ControllerRevision", "controllerrevisions", "apps"),
    _grp("batch", "v1", "Job", "jobs", "batch", categories=("all",), subresources=(_STATUS,)),
    _grp(
        "batch",
        "v1",
        "CronJob",
        "cronjobs",
        "batch",
        short_names=("cj",),
        categories=("all",),
        subresources=(_STATUS,),
    ),
    _grp("coordination.k8s.io", "v1", "Lease", "leases", "coordination"),
    _grp("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "discovery"),
    _grp("events.k8s.io", "v1", "Event", "events", "events", short_names=("ev",)),
    _grp(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        "autoscaling",
        short_names=("hpa",),
        categories=("all",),
        subresources=(_STATUS,),
    ),
    # Also served in autoscaling/v1 (stored as v2, see STORAGE_VERSIONS); after v2, which is preferred.
    _grp(
        "autoscaling",
        "v1",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        "autoscaling",
        short_names=("hpa",),
        categories=("all",),
        subresources=(_STATUS,),
    ),
    _grp(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        "policy",
        short_names=("pdb",),
        subresources=(_STATUS,),
    ),
    _grp(
        "scheduling.k8s.io",
        "v1",
        "PriorityClass",
        "priorityclasses",
        "scheduling",
        namespaced=False,
        short_names=("pc",),
    ),
    _grp(
        "storage.k8s.io",
        "v1",
        "StorageClass",
        "storageclasses",
        "storage",
        namespaced=False,
        short_names=("sc",),
    ),
    _grp("rbac.authorization.k8s.io", "v1", "Role", "roles", "rbac"),
    _grp("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", "rbac"),
    _grp(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        "rbac",
        namespaced=False,
    ),
    _grp(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        "rbac",
        namespaced=False,
    ),
    ResourceInfo(
        group="apiextensions.k8s.io",
        version="v1",
        kind="CustomResourceDefinition",
        plural="customresourcedefinitions",
        singular="customresourcedefinition",
        namespaced=False,
        short_names=("crd", "crds"),
        categories=("api-extensions",),
        subresources=(_STATUS,),
        schema_name="io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
        # upstream's REST adds its cleanup finalizer on the first DELETE and returns the CRD; the
        # documents still say Status
        returns_deleted_object=True,
        documents_deleted_object=False,
    ),
)

# --- the rest of what upstream v1.32 kube-apiserver serves by default (GA groups; every beta API is off
# by default in v1.32). Create-only review resources (authentication.k8s.io tokenreviews and
# selfsubjectreviews, authorization.k8s.io *subjectaccessreviews / selfsubjectrulesreviews) are left out
# until authentication and authorization can answer them truthfully.
_API_EXTENSIONS = ("api-extensions",)
_ADMISSION = "admissionregistration.k8s.io"
_FLOWCONTROL = "flowcontrol.apiserver.k8s.io"

V132_MORE_RESOURCES: tuple[ResourceInfo, ...] = (
    _core(
        "ComponentStatus",
        "componentstatuses",
        namespaced=False,
        short_names=("cs",),
        verbs=("get", "list"),
    ),
    ResourceInfo(
        group="apiregistration.k8s.io",
        version="v1",
        kind="APIService",
        plural="apiservices",
        singular="apiservice",
        namespaced=False,
        categories=_API_EXTENSIONS,
        subresources=(_STATUS,),
        schema_name="io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIService",
    ),
    _grp(
        _ADMISSION,
        "v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        "admissionregistration",
        namespaced=False,
        categories=_API_EXTENSIONS,
    ),
    _grp(
        _ADMISSION,
        "v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        "admissionregistration",
        namespaced=False,
        categories=_API_EXTENSIONS,
    ),
    _grp(
        _ADMISSION,
        "v1",
        "ValidatingAdmissionPolicy",
        "validatingadmissionpolicies",
        "admissionregistration",
        namespaced=False,
        categories=_API_EXTENSIONS,
        subresources=(_STATUS,),
    ),
    _grp(
        _ADMISSION,
        "v1",
        "ValidatingAdmissionPolicyBinding",
        "validatingadmissionpolicybindings",
        "admissionregistration",
        namespaced=False,
        categories=_API_EXTENSIONS,
    ),
    _grp(
        "certificates.k8s.io",
        "v1",
        "CertificateSigningRequest",
        "certificatesigningrequests",
        "certificates",
        namespaced=False,
        short_names=("csr",),
        subresources=(_STATUS, SubresourceInfo("approval", "")),
    ),
    _grp(
        _FLOWCONTROL,
        "v1",
        "FlowSchema",
        "flowschemas",
        "flowcontrol",
        namespaced=False,
        subresources=(_STATUS,),
    ),
    _grp(
        _FLOWCONTROL,
        "v1",
        "PriorityLevelConfiguration",
        "prioritylevelconfigurations",
        "flowcontrol",
        namespaced=False,
        subresources=(_STATUS,),
    ),
    _grp(
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        "networking",
        short_names=("ing",),
        subresources=(_STATUS,),
    ),
    _grp(
        "networking.k8s.io",
        "v1",
        "IngressClass",
        "ingressclasses",
        "networking",
        namespaced=False,
    ),
    _grp(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        "networking",
        short_names=("netpol",),
    ),
    _grp("node.k8s.io", "v1", "RuntimeClass", "runtimeclasses", "node", namespaced=False),
    _grp("storage.k8s.io", "v1", "CSIDriver", "csidrivers", "storage", namespaced=False),
    _grp("storage.k8s.io", "v1", "CSINode", "csinodes", "storage", namespaced=False),
    _grp("storage.k8s.io", "v1", "CSIStorageCapacity", "csistoragecapacities", "storage"),
    _grp(
        "storage.k8s.io",
        "v1",
        "VolumeAttachment",
        "volumeattachments",
        "storage",
        namespaced=False,
        subresources=(_STATUS,),
    ),
)
BUILTIN_RESOURCES = BUILTIN_RESOURCES + V132_MORE_RESOURCES

# Upstream's APIService priorities of the built-in group versions (kube-apiserver's
# ``apiVersionPriorities`` merged over ``DefaultGenericAPIServicePriorities``):
# (group, version) -> (groupPriorityMinimum, versionPriority). The local APIServices carry them, and
# discovery orders groups by them (highest first; ties by group name). The aggregator's own group
# (apiregistration.k8s.io) has no APIService: upstream registers only its delegates' group versions.
API_SERVICE_PRIORITIES: dict[tuple[str, str], tuple[int, int]] = {
    ("", "v1"): (18000, 1),
    ("apps", "v1"): (17800, 15),
    ("events.k8s.io", "v1"): (17750, 15),
    ("authentication.k8s.io", "v1"): (17700, 15),
    ("authorization.k8s.io", "v1"): (17600, 15),
    ("autoscaling", "v2"): (17500, 30),
    ("autoscaling", "v1"): (17500, 15),
    ("batch", "v1"): (17400, 15),
    ("certificates.k8s.io", "v1"): (17300, 15),
    ("networking.k8s.io", "v1"): (17200, 15),
    ("policy", "v1"): (17100, 15),
    ("rbac.authorization.k8s.io", "v1"): (17000, 15),
    ("storage.k8s.io", "v1"): (16800, 15),
    ("admissionregistration.k8s.io", "v1"): (16700, 15),
    ("apiextensions.k8s.io", "v1"): (16700, 15),
    ("scheduling.k8s.io", "v1"): (16600, 15),
    ("coordination.k8s.io", "v1"): (16500, 15),
    ("node.k8s.io", "v1"): (16300, 15),
    ("discovery.k8s.io", "v1"): (16200, 15),
    ("flowcontrol.apiserver.k8s.io", "v1"): (16100, 21),
    ("flowcontrol.apiserver.k8s.io", "v1beta3"): (16100, 18),
}

# Storage version of each built-in resource served in more than one version: (group, plural) -> version.
# Objects are stored (and strategies, defaults and validation run) in this version; the API server
# converts to and from the request's version through ``kybernetes.api.conversion``. A resource not listed
# is served in one version only and stored in it.
STORAGE_VERSIONS: dict[tuple[str, str], str] = {
    ("autoscaling", "horizontalpodautoscalers"): "v2",
}


# Group preference order in discovery: the aggregator's own group first (it ranks above every
# APIService), then by upstream's group priority, highest first, ties by name.
GROUP_ORDER = (
    "",
    "apiregistration.k8s.io",
    "apps",
    "events.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "networking.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "node.k8s.io",
    "discovery.k8s.io",
    "flowcontrol.apiserver.k8s.io",
)


@dataclass
class Registry:
    """All served resources; mutable only to add or remove custom resources."""

    _by_gvr: dict[tuple[str, str, str], ResourceInfo] = field(default_factory=dict)

    @classmethod
    def builtin(cls) -> Registry:
        reg = cls()
        for info in BUILTIN_RESOURCES:
            reg.add(info)
        return reg

    def add(self, info: ResourceInfo) -> None:
        self._by_gvr[(info.group, info.version, info.plural)] = info

    def remove(self, group: str, version: str, plural: str) -> None:
        self._by_gvr.pop((group, version, plural), None)

    def get(self, group: str, version: str, plural: str) -> ResourceInfo | None:
        return self._by_gvr.get((group, version, plural))

    def by_kind(self, group: str, version: str, kind: str) -> ResourceInfo | None:
        for info in self._by_gvr.values():
            if info.group == group and info.version == version and info.kind == kind:
                return info
        return None

    def storage_info(self, info: ResourceInfo) -> ResourceInfo:
        """The row of ``info``'s resource in its storage version (``info`` itself when it is stored as is;
        custom resources keep the version they were written in)."""
        if info.custom:
            return info
        version = STORAGE_VERSIONS.get((info.group, info.plural), info.version)
        if version == info.version:
            return info
        return self.get(info.group, version, info.plural) or info

    def __iter__(self) -> Iterator[ResourceInfo]:
        return iter(self._by_gvr.values())

    def groups(self) -> dict[str, list[str]]:
        """Group name -> served versions, preferred version first, in discovery order."""
        out: dict[str, list[str]] = {}
        for info in self._by_gvr.values():
            versions = out.setdefault(info.group, [])
            if info.version not in versions:
                versions.append(info.version)
        order = {g: i for i, g in enumerate(GROUP_ORDER)}
        return dict(sorted(out.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))

    def in_group_version(self, group: str, version: str) -> list[ResourceInfo]:
        return [i for i in self._by_gvr.values() if i.group == group and i.version == version]


def storage_prefix(info: ResourceInfo) -> str:
    """Store key prefix of a resource: ``/registry/<group>/<plural>/`` (core types: no group)."""
    if info.group:
        return f"/registry/{info.group}/{info.plural}/"
    return f"/registry/{info.plural}/"


def storage_key(info: ResourceInfo, namespace: str | None, name: str) -> str:
    if info.namespaced:
        return f"{storage_prefix(info)}{namespace}/{name}"
    return f"{storage_prefix(info)}{name}"


def iter_names(infos: Iterable[ResourceInfo]) -> Iterator[str]:
    for info in infos:
        yield info.plural
