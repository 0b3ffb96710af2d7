"""RBAC, CustomResourceDefinition and the smaller groups (Lease, PriorityClass, StorageClass, HPA, PDB,
EndpointSlice), plus the dispatch table."""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.api.registry import BUILTIN_RESOURCES, Registry, ResourceInfo
from kybernetes.apiserver.strategies import STRATEGIES
from tests.api._kinds import apply_defaults, validate_create, validate_update

REG = Registry.builtin()


def get(group: str, version: str, plural: str) -> ResourceInfo:
    found = REG.get(group, version, plural)
    assert found is not None
    return found


RBAC = "rbac.authorization.k8s.io"
ROLE, CROLE = get(RBAC, "v1", "roles"), get(RBAC, "v1", "clusterroles")
RB, CRB = get(RBAC, "v1", "rolebindings"), get(RBAC, "v1", "clusterrolebindings")
CRD = get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
LEASE = get("coordination.k8s.io", "v1", "leases")
PC = get("scheduling.k8s.io", "v1", "priorityclasses")
SC = get("storage.k8s.io", "v1", "storageclasses")
HPA = get("autoscaling", "v2", "horizontalpodautoscalers")
PDB = get("policy", "v1", "poddisruptionbudgets")
EPS = get("discovery.k8s.io", "v1", "endpointslices")


def msgs(causes: list[Any]) -> list[str]:
    return [f"{c.field}: {c.message}" for c in causes]


def test_every_builtin_has_rules() -> None:
    for res in BUILTIN_RESOURCES:
        assert (res.group, res.kind) in STRATEGIES, res.kind


def test_role_rules() -> None:
    role = {
        "metadata": {"name": "r", "namespace": "d"},
        "rules": [{"apiGroups": [""], "resources": ["pods"]}],
    }
    assert msgs(validate_create(ROLE, role)) == [
        "rules[0].verbs: Required value: verbs must contain at least one value"
    ]
    role["rules"] = [{"verbs": ["get"]}]
    assert msgs(validate_create(ROLE, role)) == [
        "rules[0].apiGroups: Required value: resource rules must supply at least one api group",
        "rules[0].resources: Required value: resource rules must supply at least one resource",
    ]
    role["rules"] = [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]
    assert msgs(validate_create(ROLE, role)) == [
        'rules[0].nonResourceURLs: Invalid value: ["/healthz"]: namespaced rules cannot apply to non-resource URLs'
    ]
    crole = {"metadata": {"name": "r"}, "rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]}
    assert validate_create(CROLE, crole) == []


def test_bindings() -> None:
    rb = {
        "metadata": {"name": "b", "namespace": "d"},
        "roleRef": {"kind": "Role", "name": "r"},
        "subjects": [{"kind": "User", "name": "alice"}, {"kind": "Robot", "name": "x"}],
    }
    apply_defaults(RB, rb)
    assert msgs(validate_create(RB, rb)) == [
        'subjects[1].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"'
    ]
    new = copy.deepcopy(rb)
    new["subjects"] = []
    new["roleRef"]["name"] = "other"
    assert msgs(validate_update(RB, new, rb)) == [
        'roleRef: Invalid value: {"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"other"}: '
        "cannot change roleRef"
    ]
    crb = {
        "metadata": {"name": "b"},
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "r"},
        "subjects": [{"kind": "ServiceAccount", "name": "sa"}],
    }
    assert msgs(validate_create(CRB, crb)) == ["subjects[0].namespace: Required value"]


def crd(**over: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object"}}}
                    },
                }
            ],
        },
    }
    obj["spec"].update(over)
    return obj


def test_crd_valid() -> None:
    obj = crd()
    assert validate_create(CRD, obj) == []
    apply_defaults(CRD, obj)
    assert validate_create(CRD, obj) == []
    assert obj["spec"]["conversion"] == {"strategy": "None"}


def test_crd_name_group_names() -> None:
    obj = crd()
    obj["metadata"]["name"] = "gadgets.example.com"
    assert msgs(validate_create(CRD, obj)) == [
        'metadata.name: Invalid value: "gadgets.example.com": must be spec.names.plural+"."+spec.group'
    ]
    obj = crd(group="example")
    obj["metadata"]["name"] = "widgets.example"
    assert msgs(validate_create(CRD, obj)) == [
        'spec.group: Invalid value: "example": should be a domain with at least one dot'
    ]
    obj = crd(names={"plural": "Widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"})
    obj["metadata"]["name"] = "Widgets.example.com"
    out = msgs(validate_create(CRD, obj))
    assert out[-1].startswith('spec.names.plural: Invalid value: "Widgets": a DNS-1035 label must consist of')


def test_crd_versions_storage_and_schema() -> None:
    v1 = {"name": "v1", "served": True, "storage": True}
    v2 = {"name": "v2", "served": True, "storage": True, "schema": {"openAPIV3Schema": {"type": "object"}}}
    out = msgs(validate_create(CRD, crd(versions=[v1, v2])))
    assert out[0] == "spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required"
    assert out[1].startswith("spec.versions: Invalid value: [")
    assert out[1].endswith(": must have exactly one version marked as storage version")
    bad_schema = {
        "name": "v1",
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": {"type": "object", "properties": {"x": {}}}},
    }
    assert msgs(validate_create(CRD, crd(versions=[bad_schema]))) == [
        "spec.versions[0].schema.openAPIV3Schema.properties[x].type: Required value: must not be empty for "
        "specified object fields"
    ]
    assert msgs(validate_create(CRD, crd(scope="Global"))) == [
        'spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"'
    ]


def test_crd_group_immutable() -> None:
    old = crd()
    new = crd(group="other.com")
    new["metadata"]["name"] = "widgets.other.com"
    assert 'spec.group: Invalid value: "other.com": field is immutable' in msgs(
        validate_update(CRD, new, old)
    )


def test_lease_priority_class_storage_class() -> None:
    lease = {"metadata": {"name": "l", "namespace": "d"}, "spec": {"leaseDurationSeconds": 0}}
    assert msgs(validate_create(LEASE, lease)) == [
        "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"
    ]
    pc = {"metadata": {"name": "high"}, "value": 1000}
    apply_defaults(PC, pc)
    assert pc["preemptionPolicy"] == "PreemptLowerPriority"
    assert validate_create(PC, pc) == []
    new = dict(pc, value=2000)
    assert msgs(validate_update(PC, new, pc)) == ["value: Forbidden: may not be changed in an update."]
    pc2 = {"metadata": {"name": "huge"}, "value": 2000000000}
    assert msgs(validate_create(PC, pc2)) == [
        "value: Forbidden: maximum allowed value of a user defined priority is 1000000000"
    ]
    sc = {"metadata": {"name": "fast"}}
    assert msgs(validate_create(SC, sc)) == ["provisioner: Required value"]
    sc = {"metadata": {"name": "fast"}, "provisioner": "x.io/y"}
    new = dict(sc, provisioner="z.io/y")
    assert msgs(validate_update(SC, new, sc)) == [
        "provisioner: Forbidden: updates to provisioner are forbidden."
    ]


def test_hpa_pdb_endpoint_slice() -> None:
    hpa = {
        "metadata": {"name": "h", "namespace": "d"},
        "spec": {"minReplicas": 0, "maxReplicas": 0, "scaleTargetRef": {}},
    }
    assert msgs(validate_create(HPA, hpa)) == [
        "spec.scaleTargetRef.kind: Required value",
        "spec.scaleTargetRef.name: Required value",
        "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
        "spec.maxReplicas: Invalid value: 0: must be greater than 0",
    ]
    pdb = {"metadata": {"name": "p", "namespace": "d"}, "spec": {"minAvailable": 1, "maxUnavailable": 1}}
    assert msgs(validate_create(PDB, pdb)) == [
        'spec: Invalid value: {"maxUnavailable":1,"minAvailable":1}: minAvailable and maxUnavailable cannot be both set'
    ]
    eps = {
        "metadata": {"name": "e", "namespace": "d"},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["nope"]}],
    }
    assert msgs(validate_create(EPS, eps)) == [
        'endpoints[0].addresses[0]: Invalid value: "nope": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'
    ]
