"""apiextensions.k8s.io/v1 CustomResourceDefinition validation, after upstream
``apiextensions-apiserver/pkg/apis/apiextensions/validation``: group and names, ``<plural>.<group>``
naming, scope, versions (unique, exactly one storage version, a schema each), a structural-schema
subset check, conversion strategy and subresources."""

from __future__ import annotations

from typing import Any

from kybernetes.api.errors import Cause
from kybernetes.api.validation import field as f
from kybernetes.api.validation import names
from kybernetes.api.validation.podspec import _dict, _list, _s

_TYPES = ("array", "boolean", "integer", "number", "object", "string")


def _dns1035(value: str, path: str, *, mixed_case: bool = False) -> list[Cause]:
    errs = names.is_dns1035_label(value.lower() if mixed_case else value)
    if not value or not errs:
        return []
    detail = ",".join(errs)
    if mixed_case:
        detail = "may have mixed case, but should otherwise match: " + detail
    return [f.invalid(path, value, detail)]


def _names(spec_names: Any, path: str) -> list[Cause]:
    n = _dict(spec_names)
    out: list[Cause] = []
    plural, singular, kind, list_kind = (_s(n.get(k)) for k in ("plural", "singular", "kind", "listKind"))
    out += _dns1035(plural, f.child(path, "plural"))
    out += _dns1035(singular, f.child(path, "singular"))
    out += _dns1035(kind, f.child(path, "kind"), mixed_case=True)
    out += _dns1035(list_kind, f.child(path, "listKind"), mixed_case=True)
    for i, short in enumerate(_list(n.get("shortNames"))):
        errs = names.is_dns1035_label(_s(short))
        if errs:
            out.append(f.invalid(f.index(f.child(path, "shortNames"), i), short, ",".join(errs)))
    if not plural:
        out.append(f.required(f.child(path, "plural")))
    if not singular:
        out.append(f.required(f.child(path, "singular")))
    if not kind:
        out.append(f.required(f.child(path, "kind")))
    if not list_kind:
        out.append(f.required(f.child(path, "listKind")))
    if kind and kind == list_kind:
        out.append(f.invalid(f.child(path, "listKind"), list_kind, "kind and listKind may not be the same"))
    return out


def _structural(schema: Any, path: str, *, root: bool) -> list[Cause]:
    """A subset of upstream's structural-schema rules: every specified node has a type (unless
    int-or-string / preserve-unknown-fields), the root is an object, arrays have items."""
    s = _dict(schema)
    out: list[Cause] = []
    stype = s.get("type")
    if root:
        if not stype:
            out.append(f.required(f.child(path, "type"), "must not be empty at the root"))
        elif stype != "object":
            out.append(f.invalid(f.child(path, "type"), stype, "must be object at the root"))
    if isinstance(stype, str) and stype and stype not in _TYPES:
        out.append(f.not_supported(f.child(path, "type"), stype, _TYPES))
    if stype == "array" and not isinstance(s.get("items"), dict):
        out.append(f.required(f.child(path, "items"), "must be specified"))
    for k, sub in _dict(s.get("properties")).items():
        sp = f.key(f.child(path, "properties"), k)
        sub_d = _dict(sub)
        if not sub_d.get("type") and not (
            sub_d.get("x-kubernetes-int-or-string") is True
            or sub_d.get("x-kubernetes-preserve-unknown-fields") is True
        ):
            out.append(f.required(f.child(sp, "type"), "must not be empty for specified object fields"))
        out += _structural(sub_d, sp, root=False)
    if isinstance(s.get("items"), dict):
        items = s["items"]
        if not items.get("type") and not (
            items.get("x-kubernetes-int-or-string") is True
            or items.get("x-kubernetes-preserve-unknown-fields") is True
        ):
            out.append(
                f.required(f.child(path, "items", "type"), "must not be empty for specified array items")
            )
        out += _structural(items, f.child(path, "items"), root=False)
    if isinstance(s.get("additionalProperties"), dict):
        if s.get("properties"):
            out.append(
                f.forbidden(
                    f.child(path, "additionalProperties"),
                    "additionalProperties and properties are mutual exclusive",
                )
            )
        out += _structural(s["additionalProperties"], f.child(path, "additionalProperties"), root=False)
    if s.get("x-kubernetes-preserve-unknown-fields") is False:
        out.append(
            f.invalid(
                f.child(path, "x-kubernetes-preserve-unknown-fields"), False, "must be true or undefined"
            )
        )
    return out


def create_crd(obj: dict[str, Any]) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    out: list[Cause] = []
    name = _s(_dict(obj.get("metadata")).get("name"))
    group = _s(spec.get("group"))
    plural = _s(_dict(spec.get("names")).get("plural"))
    if name != f"{plural}.{group}":
        out.append(f.invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    if not group:
        out.append(f.required("spec.group"))
    else:
        errs = names.is_dns1123_subdomain(group)
        if errs:
            out.append(f.invalid("spec.group", group, ",".join(errs)))
        if len(group.split(".")) < 2:
            out.append(f.invalid("spec.group", group, "should be a domain with at least one dot"))
    scope = spec.get("scope")
    if not scope:
        out.append(f.required("spec.scope"))
    elif scope not in ("Cluster", "Namespaced"):
        out.append(f.not_supported("spec.scope", scope, ("Cluster", "Namespaced")))
    versions = _list(spec.get("versions"))
    storage_count = 0
    seen: set[str] = set()
    unique = True
    for i, version in enumerate(versions):
        version = _dict(version)
        vp = f.index("spec.versions", i)
        vname = _s(version.get("name"))
        if version.get("storage") is True:
            storage_count += 1
        if vname in seen:
            unique = False
        seen.add(vname)
        errs = names.is_dns1035_label(vname)
        if errs:
            out.append(f.invalid(f.child(vp, "name"), vname, ",".join(errs)))
        schema = _dict(version.get("schema")).get("openAPIV3Schema")
        sp = f.child(vp, "schema", "openAPIV3Schema")
        if not isinstance(schema, dict):
            out.append(f.required(sp, "schemas are required"))
        else:
            out += _structural(schema, sp, root=True)
        sub = _dict(version.get("subresources"))
        scale = sub.get("scale")
        if isinstance(scale, dict):
            spath = f.child(vp, "subresources", "scale")
            for k in ("specReplicasPath", "statusReplicasPath"):
                v = _s(scale.get(k))
                if not v:
                    out.append(f.required(f.child(spath, k)))
                elif not v.startswith("."):
                    out.append(
                        f.invalid(
                            f.child(spath, k),
                            v,
                            "should be a json path under .spec"
                            if k.startswith("spec")
                            else "should be a json path under .status",
                        )
                    )
    if not versions:
        out.append(f.required("spec.versions", "must have at least one version"))
    if not unique:
        out.append(f.invalid("spec.versions", versions, "must contain unique version names"))
    if versions and storage_count != 1:
        out.append(
            f.invalid("spec.versions", versions, "must have exactly one version marked as storage version")
        )
    out += _names(spec.get("names"), "spec.names")
    conversion = _dict(spec.get("conversion"))
    strategy = conversion.get("strategy")
    if strategy is not None and strategy not in ("None", "Webhook"):
        out.append(f.not_supported("spec.conversion.strategy", strategy, ("None", "Webhook")))
    if strategy == "Webhook":
        if not isinstance(conversion.get("webhook"), dict):
            out.append(f.required("spec.conversion.webhook", "must be set when strategy is Webhook"))
        elif not _list(conversion["webhook"].get("conversionReviewVersions")):
            out.append(
                f.required(
                    "spec.conversion.webhook.conversionReviewVersions",
                    "must include at least one of v1, v1beta1",
                )
            )
    elif strategy == "None" and conversion.get("webhook") is not None:
        out.append(
            f.forbidden("spec.conversion.webhook", "should not be set when strategy is not set to Webhook")
        )
    return out


def update_crd(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    out = create_crd(new)
    ns, os_ = _dict(new.get("spec")), _dict(old.get("spec"))
    out += f.immutable(ns.get("group"), os_.get("group"), "spec.group")
    out += f.immutable(
        _dict(ns.get("names")).get("plural"), _dict(os_.get("names")).get("plural"), "spec.names.plural"
    )
    established = any(
        _dict(c).get("type") == "Established" and _dict(c).get("status") == "True"
        for c in _list(_dict(old.get("status")).get("conditions"))
    )
    if established:
        out += f.immutable(ns.get("scope"), os_.get("scope"), "spec.scope")
    return out
