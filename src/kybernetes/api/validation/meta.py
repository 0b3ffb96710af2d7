"""ObjectMeta and label-selector validation (upstream ``apimachinery/pkg/api/validation`` and
``apimachinery/pkg/apis/meta/v1/validation``).

``validate_object_meta`` runs on every create, ``validate_object_meta_update`` on every update; the
name rule differs per resource and is passed in (see ``names``). Label selectors are validated here and
matched by ``selector_matches`` (enough for "selector does not match template labels").
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.errors import Cause
from kybernetes.api.validation import field as f
from kybernetes.api.validation import names

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * (1 << 10)
_BANNED_OWNERS = {("events.k8s.io", "v1", "Event"), ("", "v1", "Event")}


def _str(v: Any) -> str:
    return v if isinstance(v, str) else ""


def validate_labels(labels: Any, path: str) -> list[Cause]:
    out: list[Cause] = []
    if not isinstance(labels, dict):
        return out
    for k, v in labels.items():
        out += f.invalid_each(path, k, names.is_qualified_name(k))
        if isinstance(v, str):
            out += f.invalid_each(path, v, names.is_valid_label_value(v))
    return out


def validate_annotations(annotations: Any, path: str) -> list[Cause]:
    out: list[Cause] = []
    if not isinstance(annotations, dict):
        return out
    total = 0
    for k, v in annotations.items():
        out += f.invalid_each(path, k, names.is_qualified_name(k.lower()))
        total += len(k.encode()) + len(_str(v).encode())
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        out.append(f.too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return out


def validate_finalizers(finalizers: Any, path: str) -> list[Cause]:
    out: list[Cause] = []
    if not isinstance(finalizers, list):
        return out
    for fin in finalizers:
        out += f.invalid_each(path, fin, names.is_qualified_name(_str(fin)))
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        out.append(f.invalid(path, finalizers, "finalizer orphan and foregroundDeletion cannot be both set"))
    return out


def _split_api_version(api_version: str) -> tuple[str, str]:
    if "/" in api_version:
        group, _, version = api_version.partition("/")
        return group, version
    return "", api_version


def validate_owner_references(refs: Any, path: str) -> list[Cause]:
    out: list[Cause] = []
    if not isinstance(refs, list):
        return out
    controller = ""
    for ref in refs:
        if not isinstance(ref, dict):
            continue
        api_version = _str(ref.get("apiVersion"))
        group, version = _split_api_version(api_version)
        kind = _str(ref.get("kind"))
        if not version:
            out.append(f.invalid(f.child(path, "apiVersion"), api_version, "version must not be empty"))
        if not kind:
            out.append(f.invalid(f.child(path, "kind"), kind, "kind must not be empty"))
        if not ref.get("name"):
            out.append(f.invalid(f.child(path, "name"), _str(ref.get("name")), "name must not be empty"))
        if not ref.get("uid"):
            out.append(f.invalid(f.child(path, "uid"), _str(ref.get("uid")), "uid must not be empty"))
        if (group, version, kind) in _BANNED_OWNERS:
            gvk = f"{group}/{version}, Kind={kind}"
            out.append(f.invalid(path, ref, f"{gvk} is disallowed from being an owner"))
        if ref.get("controller") is True:
            current = f"{kind}/{ref.get('name', '')}"
            if controller:
                out.append(
                    f.invalid(
                        path,
                        refs,
                        "Only one reference can have Controller set to true. "
                        f'Found "true" in references for {controller} and {current}',
                    )
                )
            else:
                controller = current
    return out


def validate_object_meta(
    meta: Any,
    *,
    namespaced: bool,
    name_fn: names.NameFn,
    path: str = "metadata",
) -> list[Cause]:
    """``ValidateObjectMeta``: name/generateName, namespace, labels, annotations, owners, finalizers."""
    if not isinstance(meta, dict):
        return [f.required(f.child(path, "name"), "name or generateName is required")]
    out: list[Cause] = []
    name = _str(meta.get("name"))
    generate_name = _str(meta.get("generateName"))
    if generate_name:
        out += f.invalid_each(f.child(path, "generateName"), generate_name, name_fn(generate_name, True))
    if not name:
        if not generate_name:
            out.append(f.required(f.child(path, "name"), "name or generateName is required"))
    else:
        out += f.invalid_each(f.child(path, "name"), name, name_fn(name, False))
    namespace = _str(meta.get("namespace"))
    if namespaced:
        if not namespace:
            out.append(f.required(f.child(path, "namespace")))
        else:
            out += f.invalid_each(
                f.child(path, "namespace"), namespace, names.name_is_dns_label(namespace, False)
            )
    elif namespace:
        out.append(f.forbidden(f.child(path, "namespace"), "not allowed on this type"))
    out += f.nonnegative(meta.get("generation"), f.child(path, "generation"))
    out += _validate_meta_common(meta, path)
    return out


def _validate_meta_common(meta: dict[str, Any], path: str) -> list[Cause]:
    out = validate_labels(meta.get("labels"), f.child(path, "labels"))
    out += validate_annotations(meta.get("annotations"), f.child(path, "annotations"))
    out += validate_owner_references(meta.get("ownerReferences"), f.child(path, "ownerReferences"))
    out += validate_finalizers(meta.get("finalizers"), f.child(path, "finalizers"))
    return out


def validate_template_meta(meta: Any, path: str) -> list[Cause]:
    """``ValidateTemplateObjectMeta`` (labels and annotations of a pod template)."""
    if not isinstance(meta, dict):
        return []
    out = validate_labels(meta.get("labels"), f.child(path, "labels"))
    out += validate_annotations(meta.get("annotations"), f.child(path, "annotations"))
    return out


def validate_object_meta_update(new: Any, old: Any, path: str = "metadata") -> list[Cause]:
    """``ValidateObjectMetaUpdate``. Fields the server restores before validation (uid when omitted,
    creationTimestamp, generation) only fail when actually changed."""
    new = new if isinstance(new, dict) else {}
    old = old if isinstance(old, dict) else {}
    out: list[Cause] = []
    if old.get("deletionTimestamp"):
        added = [x for x in new.get("finalizers") or [] if x not in (old.get("finalizers") or [])]
        if added:
            listed = ", ".join(f.go_quote(str(x)) for x in sorted(set(added)))
            out.append(
                f.forbidden(
                    f.child(path, "finalizers"),
                    "no new finalizers can be added if the object is being deleted, "
                    f"found new finalizers []string{{{listed}}}",
                )
            )
    if isinstance(new.get("generation"), int) and isinstance(old.get("generation"), int):
        if new["generation"] < old["generation"]:
            out.append(f.invalid(f.child(path, "generation"), new["generation"], "must not be decremented"))
    out += f.immutable(_str(new.get("name")), _str(old.get("name")), f.child(path, "name"))
    out += f.immutable(_str(new.get("namespace")), _str(old.get("namespace")), f.child(path, "namespace"))
    if new.get("uid"):
        out += f.immutable(new.get("uid"), old.get("uid"), f.child(path, "uid"))
    if new.get("creationTimestamp") and old.get("creationTimestamp"):
        out += f.immutable(
            new["creationTimestamp"], old["creationTimestamp"], f.child(path, "creationTimestamp")
        )
    if "deletionGracePeriodSeconds" in new and old.get("deletionGracePeriodSeconds") is not None:
        out += f.immutable(
            new.get("deletionGracePeriodSeconds"),
            old.get("deletionGracePeriodSeconds"),
            f.child(path, "deletionGracePeriodSeconds"),
        )
    out += _validate_meta_common(new, path)
    return out


# -- label selectors ------------------------------------------------------------------------------


def validate_label_selector(selector: Any, path: str) -> list[Cause]:
    """``ValidateLabelSelector`` (metav1)."""
    if not isinstance(selector, dict):
        return []
    out = validate_labels(selector.get("matchLabels"), f.child(path, "matchLabels"))
    for i, expr in enumerate(selector.get("matchExpressions") or []):
        if not isinstance(expr, dict):
            continue
        p = f.index(f.child(path, "matchExpressions"), i)
        op = expr.get("operator")
        values = expr.get("values") or []
        if op in ("In", "NotIn"):
            if not values:
                out.append(
                    f.required(f.child(p, "values"), "must be specified when `operator` is 'In' or 'NotIn'")
                )
        elif op in ("Exists", "DoesNotExist"):
            if values:
                out.append(
                    f.forbidden(
                        f.child(p, "values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    )
                )
        else:
            out.append(f.invalid(f.child(p, "operator"), op or "", "not a valid selector operator"))
        out += f.invalid_each(
            f.child(p, "key"), _str(expr.get("key")), names.is_qualified_name(_str(expr.get("key")))
        )
        for j, v in enumerate(values):
            if isinstance(v, str):
                out += f.invalid_each(f.index(f.child(p, "values"), j), v, names.is_valid_label_value(v))
    return out


def selector_is_empty(selector: Any) -> bool:
    if not isinstance(selector, dict):
        return True
    return not selector.get("matchLabels") and not selector.get("matchExpressions")


def selector_matches(selector: Any, labels: Any) -> bool:
    """Whether a metav1.LabelSelector selects ``labels``; a nil selector selects nothing, an empty one
    everything (``LabelSelectorAsSelector``)."""
    if not isinstance(selector, dict):
        return False
    labels = labels if isinstance(labels, dict) else {}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        if not isinstance(expr, dict):
            return False
        k, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and (k not in labels or labels[k] not in values):
            return False
        if op == "NotIn" and k in labels and labels[k] in values:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


def selector_parses(selector: Any) -> bool:
    """Whether ``LabelSelectorAsSelector`` would succeed."""
    if not isinstance(selector, dict):
        return True
    for expr in selector.get("matchExpressions") or []:
        if not isinstance(expr, dict) or expr.get("operator") not in (
            "In",
            "NotIn",
            "Exists",
            "DoesNotExist",
        ):
            return False
        if expr.get("operator") in ("In", "NotIn") and not expr.get("values"):
            return False
    return True
