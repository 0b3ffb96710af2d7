"""rbac.authorization.k8s.io/v1 validation, after upstream ``pkg/apis/rbac/validation``.

Role and binding names follow path-segment rules (``names.path_segment_name``); rules need verbs, and
resource rules need API groups and resources; ``roleRef`` is immutable.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.errors import Cause
from kybernetes.api.validation import field as f
from kybernetes.api.validation import meta, names
from kybernetes.api.validation.podspec import _dict, _list, _s

GROUP = "rbac.authorization.k8s.io"


def _rule(rule: Any, namespaced: bool, path: str) -> list[Cause]:
    rule = _dict(rule)
    out: list[Cause] = []
    if not _list(rule.get("verbs")):
        out.append(f.required(f.child(path, "verbs"), "verbs must contain at least one value"))
    urls = _list(rule.get("nonResourceURLs"))
    if urls:
        if namespaced:
            out.append(
                f.invalid(
                    f.child(path, "nonResourceURLs"),
                    urls,
                    "namespaced rules cannot apply to non-resource URLs",
                )
            )
        if _list(rule.get("apiGroups")) or _list(rule.get("resources")) or _list(rule.get("resourceNames")):
            out.append(
                f.invalid(
                    f.child(path, "nonResourceURLs"),
                    urls,
                    "rules cannot apply to both regular resources and non-resource URLs",
                )
            )
        return out
    if not _list(rule.get("apiGroups")):
        out.append(
            f.required(f.child(path, "apiGroups"), "resource rules must supply at least one api group")
        )
    if not _list(rule.get("resources")):
        out.append(f.required(f.child(path, "resources"), "resource rules must supply at least one resource"))
    return out


def create_role(obj: dict[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    for i, rule in enumerate(_list(obj.get("rules"))):
        out += _rule(rule, True, f.index("rules", i))
    return out


def create_cluster_role(obj: dict[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    for i, rule in enumerate(_list(obj.get("rules"))):
        out += _rule(rule, False, f.index("rules", i))
    agg = obj.get("aggregationRule")
    if isinstance(agg, dict):
        selectors = _list(agg.get("clusterRoleSelectors"))
        if not selectors:
            out.append(
                f.required(
                    "aggregationRule.clusterRoleSelectors",
                    "at least one clusterRoleSelector required if aggregationRule is non-nil",
                )
            )
        for i, sel in enumerate(selectors):
            out += meta.validate_label_selector(sel, f.index("aggregationRule.clusterRoleSelectors", i))
    return out


def _subject(subject: Any, namespaced: bool, path: str) -> list[Cause]:
    subject = _dict(subject)
    out: list[Cause] = []
    name = _s(subject.get("name"))
    if not name:
        out.append(f.required(f.child(path, "name")))
    kind = subject.get("kind")
    group = _s(subject.get("apiGroup"))
    if kind == "ServiceAccount":
        if name:
            out += f.invalid_each(f.child(path, "name"), name, names.name_is_dns_subdomain(name, False))
        if group:
            out.append(f.not_supported(f.child(path, "apiGroup"), group, ("",)))
        if not namespaced and not _s(subject.get("namespace")):
            out.append(f.required(f.child(path, "namespace")))
    elif kind in ("User", "Group"):
        if group != GROUP:
            out.append(f.not_supported(f.child(path, "apiGroup"), group, (GROUP,)))
    else:
        out.append(f.not_supported(f.child(path, "kind"), kind or "", ("ServiceAccount", "User", "Group")))
    return out


def _binding(obj: dict[str, Any], namespaced: bool) -> list[Cause]:
    ref = _dict(obj.get("roleRef"))
    out: list[Cause] = []
    if ref.get("apiGroup") != GROUP:
        out.append(f.not_supported("roleRef.apiGroup", _s(ref.get("apiGroup")), (GROUP,)))
    allowed = ("Role", "ClusterRole") if namespaced else ("ClusterRole",)
    if ref.get("kind") not in allowed:
        out.append(f.not_supported("roleRef.kind", _s(ref.get("kind")), allowed))
    name = _s(ref.get("name"))
    if not name:
        out.append(f.required("roleRef.name"))
    else:
        out += f.invalid_each("roleRef.name", name, names.path_segment_name(name, False))
    for i, subject in enumerate(_list(obj.get("subjects"))):
        out += _subject(subject, namespaced, f.index("subjects", i))
    return out


def create_role_binding(obj: dict[str, Any]) -> list[Cause]:
    return _binding(obj, True)


def create_cluster_role_binding(obj: dict[str, Any]) -> list[Cause]:
    return _binding(obj, False)


def _ref_immutable(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    if not f.semantic_equal(new.get("roleRef"), old.get("roleRef")):
        return [f.invalid("roleRef", new.get("roleRef"), "cannot change roleRef")]
    return []


def update_role_binding(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    return create_role_binding(new) + _ref_immutable(new, old)


def update_cluster_role_binding(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    return create_cluster_role_binding(new) + _ref_immutable(new, old)
