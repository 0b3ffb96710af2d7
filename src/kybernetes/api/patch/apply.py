"""Server-side apply and ``metadata.managedFields`` bookkeeping.

Follows ``sigs.k8s.io/structured-merge-diff/merge.Updater`` and the field manager chain of
``k8s.io/apimachinery/pkg/util/managedfields/internal``:

- ``server_side_apply``: merge the applied configuration into the live object, prune what this
  manager applied last time and no longer applies (unless another manager owns it), then compare live
  with the result: fields another manager owns that would change are conflicts (409, unless ``force``,
  which moves them to the applier). The applier's set is what its configuration mentions.
- ``update_managed_fields``: for create/update/patch, the writer takes every field it changed, others
  lose those fields and every removed field.

Managers are identified like upstream (``BuildManagerIdentifier``): name, operation, subresource, and
for ``Update`` the apiVersion. Server-owned metadata (``uid``, ``resourceVersion``, ``name``...) is
stripped from the recorded sets like upstream's ``stripMetaManager``.
Managers of other apiVersions (a resource served in several versions) keep field sets in their own
version: given a ``versions`` view (an object as another apiVersion sees it, and that version's schema),
what changed is compared in each manager's version, as upstream's ``Updater.update`` converts per
manager; without one (or for a version it cannot convert to) the request's comparison is used.
A previous apply made in another version is pruned in that version (``_prune_in_version``).
Not modelled: the cap of 10 update managers, and the client-side-apply migration (``lastAppliedManager``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kybernetes.api.errors import Cause, StatusError, bad_request
from kybernetes.api.patch import _schema as sch
from kybernetes.api.patch._common import PatchError, deep_copy, json_equal, unprocessable
from kybernetes.api.patch._typed import Comparison, compare, merge, remove, value_at
from kybernetes.api.patch.fieldset import (
    FieldSet,
    Path,
    ensure_named_fields,
    from_fields_v1,
    object_fields,
    path_string,
    sort_paths,
    to_fields_v1,
    without_prefixes,
)

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

# Exact members dropped from a manager's set (``stripMetaManager``); children of these stay.
STRIPPED: frozenset[Path] = frozenset(
    [("f:apiVersion",), ("f:kind",), ("f:metadata",)]
    + [
        ("f:metadata", "f:" + name)
        for name in (
            "name",
            "namespace",
            "creationTimestamp",
            "selfLink",
            "uid",
            "clusterName",
            "generation",
            "managedFields",
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        )
    ]
)


@dataclass
class Entry:
    """One ``managedFields`` entry, decoded."""

    manager: str
    operation: str
    api_version: str
    subresource: str
    time: str | None
    fields: FieldSet

    @property
    def ident(self) -> tuple[str, str, str, str]:
        return _ident(self.manager, self.operation, self.api_version, self.subresource)

    def encode(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
        }
        if self.time is not None:
            out["time"] = self.time
        out["fieldsType"] = "FieldsV1"
        out["fieldsV1"] = to_fields_v1(self.fields)
        if self.subresource:
            out["subresource"] = self.subresource
        return out

    def label(self) -> str:
        """How conflicts name the manager (``printManager``)."""
        text = json.dumps(self.manager, ensure_ascii=False)
        if self.subresource:
            text += f" with subresource {json.dumps(self.subresource, ensure_ascii=False)}"
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text


Managers = dict[tuple[str, str, str, str], Entry]

# (object, apiVersion) -> (the object in that apiVersion, its schema), or None when it cannot convert.
VersionView = Callable[[dict[str, Any], str], "tuple[dict[str, Any], Any] | None"]


class _Diffs:
    """The comparison of two objects per managers' apiVersion (the request's one is given)."""

    def __init__(
        self,
        old: dict[str, Any],
        new: dict[str, Any],
        api_version: str,
        own: Comparison,
        versions: VersionView | None,
    ) -> None:
        self.old, self.new, self.versions = old, new, versions
        self.api_version = api_version
        self.cache: dict[str, Comparison] = {api_version: own}

    def of(self, entry: Entry) -> Comparison:
        version = entry.api_version
        found = self.cache.get(version)
        if found is not None:
            return found
        result = self.cache[self.api_version]
        if self.versions is not None:
            old_view = self.versions(self.old, version)
            new_view = self.versions(self.new, version)
            if old_view is not None and new_view is not None:
                try:
                    result = compare(old_view[0], new_view[0], sch.root_schema(new_view[1]))
                except (PatchError, RecursionError):
                    result = self.cache[self.api_version]
        self.cache[version] = result
        return result


def _ident(manager: str, operation: str, api_version: str, subresource: str) -> tuple[str, str, str, str]:
    return (manager, operation, "" if operation == "Apply" else api_version, subresource)


def decode_managed_fields(entries: Any) -> Managers:
    """Decode ``metadata.managedFields``; raises ``PatchError`` if malformed."""
    if entries is None:
        return {}
    if not isinstance(entries, list):
        raise PatchError("managedFields must be a list")
    out: Managers = {}
    for index, raw in enumerate(entries):
        if not isinstance(raw, dict):
            raise PatchError(f"managed fields entry {index} must be an object")
        operation = raw.get("operation")
        if operation not in ("Apply", "Update"):
            raise PatchError("operation must be `Apply` or `Update`")
        api_version = raw.get("apiVersion")
        if not isinstance(api_version, str) or not api_version:
            raise PatchError("apiVersion must not be empty")
        if raw.get("fieldsType") != "FieldsV1":
            raise PatchError(f"invalid fieldsType in managed fields entry {index}")
        manager, subresource, time = raw.get("manager", ""), raw.get("subresource", ""), raw.get("time")
        if not isinstance(manager, str) or not isinstance(subresource, str):
            raise PatchError(f"invalid manager in managed fields entry {index}")
        fields_v1 = raw.get("fieldsV1")
        entry = Entry(
            manager,
            operation,
            api_version,
            subresource,
            time if isinstance(time, str) else None,
            from_fields_v1(fields_v1) if fields_v1 is not None else frozenset(),
        )
        out[entry.ident] = entry
    return out


def encode_managed_fields(managers: Managers) -> list[dict[str, Any]]:
    """Entries sorted like upstream: operation, time, manager, apiVersion, subresource."""
    ordered = sorted(
        (e for e in managers.values() if e.fields),
        key=lambda e: (e.operation, e.time or "", e.manager, e.api_version, e.subresource),
    )
    return [e.encode() for e in ordered]


def _metadata(obj: dict[str, Any]) -> dict[str, Any] | None:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else None


def _set_managed_fields(obj: dict[str, Any], managers: Managers) -> None:
    encoded = encode_managed_fields(managers)
    meta = _metadata(obj)
    if meta is None:
        if not encoded or "metadata" in obj:
            return
        meta = obj["metadata"] = {}
    if encoded:
        meta["managedFields"] = encoded
    else:
        meta.pop("managedFields", None)


def _without_managed_fields(obj: dict[str, Any] | None) -> dict[str, Any]:
    out = deep_copy(obj) if isinstance(obj, dict) else {}
    meta = _metadata(out)
    if meta is not None:
        meta.pop("managedFields", None)
    return out


def _strip(fields: Iterable[Path], ignored: Iterable[Path]) -> FieldSet:
    return without_prefixes(frozenset(fields) - STRIPPED, ignored)


def _prune(managers: Managers) -> None:
    for ident in [i for i, e in managers.items() if not e.fields]:
        del managers[ident]


def _conflict_error(conflicts: list[tuple[Entry, Path]]) -> StatusError:
    causes = [
        Cause(
            field=path_string(path), message=f"conflict with {entry.label()}", reason="FieldManagerConflict"
        )
        for entry, path in conflicts
    ]
    if len(conflicts) == 1:
        entry, path = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {entry.label()}: {path_string(path)}"
    else:
        lines: list[str] = []
        by_manager: dict[str, list[Path]] = {}
        labels: dict[str, str] = {}
        for entry, path in conflicts:
            key = json.dumps([entry.manager, entry.operation, entry.api_version, entry.subresource])
            by_manager.setdefault(key, []).append(path)
            labels[key] = entry.label()
        for key in sorted(by_manager):
            lines.append(f"conflicts with {labels[key]}:")
            lines.extend(f"- {path_string(p)}" for p in by_manager[key])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return StatusError(409, "Conflict", message, causes=causes)


def server_side_apply(
    live: dict[str, Any] | None,
    applied: dict[str, Any],
    *,
    manager: str,
    force: bool,
    schema_name: str | dict[str, Any] | None,
    subresource: str = "",
    now: str,
    ignored_fields: Iterable[Path] = (),
    versions: VersionView | None = None,
) -> dict[str, Any]:
    """Apply ``applied`` for ``manager``; returns the new object with updated ``managedFields``.

    ``live`` is ``None`` on create. ``schema_name`` may be a definition name, a literal schema (a CRD's
    ``openAPIV3Schema``) or ``None`` (looked up from ``apiVersion``/``kind``, else schemaless).
    ``ignored_fields`` are path prefixes (e.g. ``[("f:status",)]``) never recorded for this request.
    Raises 409 on conflicts, 400 for a malformed configuration, 422 if it cannot be typed.
    """
    if not isinstance(applied, dict):
        raise bad_request("error decoding patch: apply configuration must be a JSON object")
    applied_meta = applied.get("metadata")
    if isinstance(applied_meta, dict) and applied_meta.get("managedFields") is not None:
        raise bad_request("metadata.managedFields must be nil")
    live_obj = _without_managed_fields(live)
    api_version = applied.get("apiVersion")
    live_version = live_obj.get("apiVersion")
    if live is not None and isinstance(live_version, str) and live_version and api_version != live_version:
        raise bad_request(
            "Incorrect version specified in apply patch. "
            f"Specified patch version: {api_version}, expected: {live_version}"
        )
    if not isinstance(api_version, str) or not api_version:
        api_version = live_version if isinstance(live_version, str) else ""
    if schema_name is None:
        schema_name = sch.schema_for(applied.get("apiVersion"), applied.get("kind"))
    root = sch.root_schema(schema_name)
    ignored = tuple(ignored_fields)
    live_meta = _metadata(live) if isinstance(live, dict) else None
    try:
        managers = decode_managed_fields(live_meta.get("managedFields") if live_meta else None)
    except PatchError:
        managers = {}
    try:
        return _apply(
            live_obj,
            applied,
            managers,
            manager,
            force,
            root,
            subresource,
            api_version,
            now,
            ignored,
            versions,
        )
    except PatchError as exc:
        raise unprocessable(
            f"failed to create typed patch object ({_describe(applied)}): {exc.message}"
        ) from exc
    except RecursionError as exc:
        raise unprocessable() from exc


def _describe(obj: dict[str, Any]) -> str:
    """``objectGVKNN``: ``apps/v1, Kind=Deployment ns/name``."""
    api_version, kind = obj.get("apiVersion") or "", obj.get("kind") or ""
    meta = _metadata(obj) or {}
    group_version = api_version if "/" in str(api_version) else f"/{api_version}"
    return f"{group_version}, Kind={kind} {meta.get('namespace') or ''}/{meta.get('name') or ''}"


def _apply(
    live_obj: dict[str, Any],
    applied: dict[str, Any],
    managers: Managers,
    manager: str,
    force: bool,
    root: sch.Schema,
    subresource: str,
    api_version: str,
    now: str,
    ignored: tuple[Path, ...],
    versions: VersionView | None = None,
) -> dict[str, Any]:
    config_fields = without_prefixes(object_fields(applied, root), ignored)
    merged = merge(live_obj, applied, root)
    if not isinstance(merged, dict):
        merged = {}
    ident = _ident(manager, "Apply", api_version, subresource)
    last = managers.get(ident)
    mine = Entry(manager, "Apply", api_version, subresource, last.time if last else None, config_fields)
    managers[ident] = mine

    if last is not None and last.fields and last.api_version != api_version and versions is not None:
        merged = _prune_in_version(merged, applied, last, managers, ident, root, api_version, versions)
    elif last is not None and last.fields:
        owned: set[Path] = set()
        for entry in managers.values():
            owned |= entry.fields
        stale = ensure_named_fields(last.fields, root) - ensure_named_fields(owned, root)
        if stale:
            pruned = remove(merged, set(stale), root)
            merged = pruned if isinstance(pruned, dict) else {}

    diff = compare(live_obj, merged, root)
    diffs = _Diffs(live_obj, merged, api_version, diff, versions)
    conflicts: list[tuple[Entry, Path]] = []
    for other_ident, entry in managers.items():
        if other_ident == ident:
            continue
        theirs = diffs.of(entry)
        conflicts.extend(
            (entry, path) for path in sort_paths(entry.fields & (theirs.added | theirs.modified))
        )
    if conflicts and not force:
        conflicts.sort(key=lambda c: (c[0].manager, c[0].operation, c[0].api_version))
        raise _conflict_error(conflicts)
    for other_ident, entry in managers.items():
        if other_ident != ident:
            theirs = diffs.of(entry)
            entry.fields = entry.fields - theirs.added - theirs.modified - theirs.removed
    mine.fields = _strip(mine.fields, ignored)
    _prune(managers)

    if not json_equal(live_obj, merged) or mine.time is None:
        mine.time = now
    _sync_last_applied(merged, applied, manager)
    _set_managed_fields(merged, managers)
    return merged


def _prune_in_version(
    merged: dict[str, Any],
    applied: dict[str, Any],
    last: Entry,
    managers: Managers,
    ident: tuple[str, str, str, str],
    root: sch.Schema,
    api_version: str,
    versions: VersionView,
) -> dict[str, Any]:
    """Prune what the applier's previous apply (made in another version) set and no longer applies.

    Like upstream's ``Updater.prune``: in the previous apply's version, remove its fields that no other
    manager of that version owns, convert back, and merge the new configuration in again (upstream adds
    back what managers own). If that would drop a field another manager of the request's version owns,
    nothing is pruned.
    """
    converted = versions(merged, last.api_version)
    if converted is None:
        return merged
    merged_then, schema_then = converted
    root_then = sch.root_schema(schema_then)
    owned_then: set[Path] = set()
    owned_now: set[Path] = set()
    for other_ident, entry in managers.items():
        if other_ident == ident:
            continue
        if entry.api_version == last.api_version:
            owned_then |= entry.fields
        elif entry.api_version == api_version:
            owned_now |= entry.fields
    stale = ensure_named_fields(last.fields, root_then) - ensure_named_fields(owned_then, root_then)
    if not stale:
        return merged
    pruned_then = remove(merged_then, set(stale), root_then)
    back = versions(pruned_then if isinstance(pruned_then, dict) else {}, api_version)
    if back is None:
        return merged
    pruned = merge(back[0], applied, root)
    if not isinstance(pruned, dict):
        return merged
    kept = object_fields(pruned, root)
    if any(path not in kept for path in owned_now & object_fields(merged, root)):
        return merged
    return pruned


def _sync_last_applied(merged: dict[str, Any], applied: dict[str, Any], manager: str) -> None:
    """kubectl's server-side apply keeps an existing client-side apply annotation current."""
    meta = _metadata(merged)
    annotations = meta.get("annotations") if meta else None
    if manager != "kubectl" or not isinstance(annotations, dict) or not annotations.get(LAST_APPLIED):
        return
    copy = deep_copy(applied)
    copy_annotations = (_metadata(copy) or {}).get("annotations")
    if isinstance(copy_annotations, dict):
        copy_annotations.pop(LAST_APPLIED, None)
    annotations[LAST_APPLIED] = json.dumps(copy, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def update_managed_fields(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    *,
    manager: str,
    operation: str = "Update",
    subresource: str = "",
    now: str,
    schema_name: str | dict[str, Any] | None = None,
    ignored_fields: Iterable[Path] = (),
    versions: VersionView | None = None,
) -> dict[str, Any]:
    """Record a non-apply write (create/update/patch) of ``new`` over ``old`` in ``managedFields``.

    Returns a copy of ``new``. Managed fields come from ``new`` when the client set them (``[]``
    resets), else from ``old`` (always from ``old`` for subresources). If the objects cannot be typed
    the previous ``managedFields`` are kept, like upstream's ``UpdateNoErrors``.
    """
    result = deep_copy(new)
    if not isinstance(result, dict):
        return result
    old_meta = _metadata(old) if isinstance(old, dict) else None
    old_entries = old_meta.get("managedFields") if old_meta else None
    new_meta = _metadata(result)
    new_entries = new_meta.get("managedFields") if new_meta else None
    managers = _decode_live_or_new(old_entries, new_entries, bool(subresource))
    if schema_name is None:
        schema_name = sch.schema_for(result.get("apiVersion"), result.get("kind"))
    root = sch.root_schema(schema_name)
    old_obj = _without_managed_fields(old)
    new_obj = _without_managed_fields(result)
    try:
        diff = compare(old_obj, new_obj, root)
    except (PatchError, RecursionError):
        if new_meta is not None:
            if old_entries is not None:
                new_meta["managedFields"] = deep_copy(old_entries)
            else:
                new_meta.pop("managedFields", None)
        return result
    changed = diff.added | diff.modified
    own_version = raw if isinstance(raw := result.get("apiVersion"), str) else ""
    diffs = _Diffs(old_obj, new_obj, own_version, diff, versions)
    for entry in managers.values():
        theirs = diffs.of(entry)
        entry.fields = entry.fields - theirs.added - theirs.modified - theirs.removed
    _prune(managers)
    taken = _strip(_drop_struct_containers(changed, diff.added, new_obj, root), tuple(ignored_fields))
    if taken:
        api_version = result.get("apiVersion")
        api_version = api_version if isinstance(api_version, str) else ""
        op = operation if operation in ("Apply", "Update") else "Update"
        ident = _ident(manager, op, api_version, subresource)
        previous = managers.get(ident)
        fields = (previous.fields if previous else frozenset()) | taken
        managers[ident] = Entry(manager, op, api_version, subresource, now, fields)
    _set_managed_fields(result, managers)
    return result


def _decode_live_or_new(old_entries: Any, new_entries: Any, is_subresource: bool) -> Managers:
    def safe(entries: Any) -> Managers:
        try:
            return decode_managed_fields(entries)
        except PatchError:
            return {}

    if is_subresource:
        return safe(old_entries)
    if isinstance(new_entries, list) and (not new_entries or new_entries == [{}]):
        return {}
    try:
        managers = decode_managed_fields(new_entries)
    except PatchError:
        managers = {}
    return managers if managers else safe(old_entries)


def _drop_struct_containers(
    changed: set[Path], added: set[Path], new_obj: dict[str, Any], root: sch.Schema
) -> set[Path]:
    """Added containers Go's zero value already has are not members.

    Upstream compares against a typed empty object, in which non-pointer structs (``spec``,
    ``template``) and required fields without ``omitempty`` (``containers``) already exist.
    """
    out = set(changed)
    parents = {path[:i] for path in changed for i in range(1, len(path))}
    for path in added:
        if path not in parents or not path[-1].startswith("f:"):
            continue
        value, schema = value_at(new_obj, path, root)
        if not isinstance(value, dict | list) or not value:
            continue
        if isinstance(value, dict) and sch.is_struct(schema):
            out.discard(path)
        elif sch.is_required(value_at(new_obj, path[:-1], root)[1], path[-1][2:]):
            out.discard(path)
    return out
