"""CustomResourceDefinitions: their strategy (status, serving the CRD's resources after a write and
removing them after a delete), and turning a CRD into served ResourceInfo rows."""

from __future__ import annotations

import contextlib
from typing import Any

from kybernetes.api import defaults, errors, meta
from kybernetes.api.conditions import transition_time
from kybernetes.api.registry import ALL_VERBS, ResourceInfo, SubresourceInfo
from kybernetes.api.validation import TypeRules
from kybernetes.api.validation import apiextensions as apiextensions_validation
from kybernetes.apiserver.strategies.base import ServerContext, Strategy


class CRDStrategy(Strategy):
    rules = TypeRules(create=apiextensions_validation.create_crd, update=apiextensions_validation.update_crd)
    tracks_generation = True

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_crd(obj)

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        obj["status"] = crd_status(obj, None)

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_for_update(new, old)
        new["status"] = crd_status(new, old.get("status"))

    async def after_write(self, ctx: ServerContext, obj: dict[str, Any]) -> None:
        """Serve the CRD's resources at once (the context's CRD watch also catches up later)."""
        ctx.register_crd(obj)

    async def after_delete(self, ctx: ServerContext, obj: dict[str, Any]) -> None:
        """Upstream removes every custom resource of a deleted CRD, then stops serving them."""
        for cr_info in resource_infos(obj):
            with contextlib.suppress(Exception):
                rs = ctx.resource_store(cr_info)
                listed = await rs.list(None)
                for item in listed.items:
                    md = item["metadata"]
                    with contextlib.suppress(errors.StatusError):
                        await rs.delete_now(md.get("namespace"), md["name"], None)
                break  # all versions share one storage prefix
        ctx.unregister_crd(obj)


def crd_status(crd: dict[str, Any], old_status: dict[str, Any] | None) -> dict[str, Any]:
    """Accepted names and Established/NamesAccepted conditions (names are accepted at once here)."""
    spec = crd.get("spec") or {}
    names = dict(spec.get("names") or {})
    if names.get("plural") and not names.get("singular"):
        names["singular"] = str(names.get("kind", "")).lower()
    if names.get("kind") and not names.get("listKind"):
        names["listKind"] = f"{names['kind']}List"
    now = meta.now_rfc3339()
    old_conditions = {c.get("type"): c for c in (old_status or {}).get("conditions") or []}

    def condition(kind: str, reason: str, message: str) -> dict[str, Any]:
        prev = old_conditions.get(kind)
        since = transition_time(prev, "True", now)
        return {
            "type": kind,
            "status": "True",
            "lastTransitionTime": since,
            "reason": reason,
            "message": message,
        }

    stored = [v.get("name") for v in spec.get("versions") or [] if isinstance(v, dict) and v.get("storage")]
    return {
        "acceptedNames": names,
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "storedVersions": stored,
    }


def resource_infos(crd: dict[str, Any]) -> list[ResourceInfo]:
    """One ResourceInfo per served version of a CRD."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group", "")
    out: list[ResourceInfo] = []
    for version in spec.get("versions") or []:
        if not isinstance(version, dict) or not version.get("served", True):
            continue
        subs: list[SubresourceInfo] = []
        sub_spec = version.get("subresources") or {}
        if "status" in sub_spec:
            subs.append(SubresourceInfo("status", ""))
        if "scale" in sub_spec:
            subs.append(SubresourceInfo("scale", "Scale", group="autoscaling", version="v1"))
        kind = names.get("kind", "")
        out.append(
            ResourceInfo(
                group=group,
                version=version.get("name", ""),
                kind=kind,
                plural=names.get("plural", ""),
                singular=names.get("singular") or kind.lower(),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=tuple(subs),
                verbs=ALL_VERBS,
                schema_name=None,
                custom=True,
            )
        )
    return out


def version_of(crd: dict[str, Any], version: str) -> dict[str, Any] | None:
    for v in (crd.get("spec") or {}).get("versions") or []:
        if isinstance(v, dict) and v.get("name") == version:
            return v
    return None
