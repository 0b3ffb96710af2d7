"""The write and read pipelines of one resource, independent of HTTP.

create:  decode -> type/kind checks -> unknown fields (fieldValidation) -> metadata -> strategy prepare ->
         defaults -> validation -> admission (namespace lifecycle) -> server allocations -> managedFields
         -> store
update:  the same on top of the stored object, through ``guaranteed_update`` (PUT, PATCH, apply, status)
delete:  preconditions -> finalizers / graceful deletion (mark) or removal

Versions: ``info`` is the version of the request. Its body is type-checked and pruned in that version,
then converted to the storage version, where strategies, defaults and validation run and the store is
written (upstream runs them on the internal version, which our storage version stands in for); patches
and server-side apply are applied to the current object as the request's version sees it, and
``managedFields`` are computed in that version too. Every ``Outcome`` is in the request's version.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kybernetes.api import conversion, errors, meta, schemas
from kybernetes.api.patch import apply_patch, server_side_apply, update_managed_fields
from kybernetes.api.prune import prune, strict_message
from kybernetes.api.registry import ResourceInfo
from kybernetes.api.validation import (
    apply_custom_defaults,
    check_types,
    prune_unknown,
    unknown_custom_fields,
    validate_custom,
)
from kybernetes.apiserver import shape
from kybernetes.apiserver.admission import admit_create, charge_quota
from kybernetes.apiserver.codec import decode_object
from kybernetes.apiserver.options import DeleteOptions, WriteOptions
from kybernetes.apiserver.resource_store import MAX_UPDATE_RETRIES, ResourceStore

if TYPE_CHECKING:
    from kybernetes.apiserver.context import ApiContext

log = logging.getLogger(__name__)

# Metadata a client can never set; the server owns it.
_SERVER_METADATA = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
)


@dataclass
class Outcome:
    obj: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    created: bool = False


class Operations:
    """Create/update/patch/delete of one resource, shared by every HTTP verb handler."""

    def __init__(self, ctx: ApiContext, info: ResourceInfo) -> None:
        self.ctx = ctx
        self.info = info
        self.storage_info = ctx.registry.storage_info(info)
        self.rs: ResourceStore = ctx.resource_store(self.storage_info)
        # the request's version of the same objects: converts between it and the storage version
        self.view: ResourceStore = ctx.resource_store(info) if self.storage_info is not info else self.rs
        self.strategy = self.rs.strategy

    # --- helpers -------------------------------------------------------------------------------------
    def _schema(self) -> dict[str, Any] | None:
        if self.info.custom:
            return self.ctx.crd_schema(self.info)
        if self.info.schema_name:
            return schemas.get(self.info.schema_name)
        return None

    def _to_storage(self, obj: dict[str, Any]) -> dict[str, Any]:
        return self.view.to_storage(obj)

    def _to_request(self, obj: dict[str, Any]) -> dict[str, Any]:
        return self.view.to_view(obj)

    def _outcome(self, outcome: Outcome) -> Outcome:
        outcome.obj = self._to_request(outcome.obj)
        return outcome

    def check_type(self, obj: dict[str, Any], info: ResourceInfo | None = None) -> None:
        info = info or self.info
        api_version = obj.get("apiVersion")
        kind = obj.get("kind")
        if api_version is not None and not isinstance(api_version, str):
            raise errors.bad_request("apiVersion must be a string")
        if kind is not None and not isinstance(kind, str):
            raise errors.bad_request("kind must be a string")
        if kind and kind != info.kind:
            raise errors.bad_request(
                f"the kind in the body ({kind}) does not match the expected kind ({info.kind}) of this endpoint"
            )
        if api_version and api_version != info.group_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({info.group_version})"
            )
        # every kind shares ObjectMeta: check it here for custom resources too, before anything reads it
        shape.check_metadata(info.kind, obj)
        obj["apiVersion"] = info.group_version
        obj["kind"] = info.kind

    def handle_unknown_fields(self, obj: dict[str, Any], validation: str) -> tuple[dict[str, Any], list[str]]:
        """Prune undeclared fields; Strict turns them into a 400, Warn into warnings."""
        schema = self._schema()
        if schema is None:
            return obj, []
        if not self.info.custom:
            type_errors = check_types(self.info.schema_name or "", obj)
            if type_errors:
                raise errors.bad_request(type_errors[0] if len(type_errors) == 1 else "; ".join(type_errors))
        if self.info.custom:
            unknown = [
                u.removeprefix('unknown field "').removesuffix('"')
                for u in unknown_custom_fields(obj, schema)
            ]
            pruned = prune_unknown(obj, schema) if unknown else obj
        else:
            pruned, unknown = prune(obj, schema)
        if not unknown:
            return pruned, []
        if validation == "Strict":
            raise errors.bad_request(strict_message(unknown))
        if validation == "Warn":
            return pruned, [f'unknown field "{p}"' for p in unknown]
        return pruned, []

    def _validate(self, causes: list[errors.Cause], name: str) -> None:
        if causes:
            raise errors.invalid(self.info.kind, name, causes, self.info.group)

    def _validate_custom(self, obj: dict[str, Any]) -> None:
        """Custom resources: the CRD schema's defaults, then its validation."""
        if not self.info.custom:
            return
        schema = self.ctx.crd_schema(self.info)
        if schema is None:
            return

        apply_custom_defaults(obj, schema)
        causes = validate_custom(obj, schema)
        self._validate(causes, obj.get("metadata", {}).get("name", ""))

    async def check_namespace(self, namespace: str | None, *, creating: bool, name: str = "") -> None:
        if not self.info.namespaced or namespace is None:
            return
        namespaces = self.ctx.namespaces()
        ns = await namespaces.try_get(None, namespace)
        if ns is None:
            raise errors.not_found(namespaces.info.plural, namespace)
        if creating and ns["metadata"].get("deletionTimestamp"):
            err = errors.forbidden(
                self.info.plural,
                name,
                f"unable to create new content in namespace {namespace} because it is being terminated",
                self.info.group,
            )
            err.causes.append(
                errors.Cause(
                    "metadata.namespace",
                    f"namespace {namespace} is being terminated",
                    "NamespaceTerminating",
                )
            )
            raise err

    def _managed(
        self, old: dict[str, Any] | None, new: dict[str, Any], manager: str | None, subresource: str | None
    ) -> dict[str, Any]:
        try:
            if self.view is self.rs:
                return update_managed_fields(
                    old,
                    new,
                    manager=manager or "unknown",
                    operation="Update",
                    subresource=subresource or "",
                    now=meta.now_rfc3339(),
                    schema_name=self._patch_schema_name(),
                    versions=self._managed_versions(),
                )
            # Field sets are recorded in the request's version: compare the objects as it sees them.
            # Status is reset on main-resource writes, so it is not owned there (upstream's reset fields).
            tracked = update_managed_fields(
                self._to_request(old) if old is not None else None,
                self._to_request(new),
                manager=manager or "unknown",
                operation="Update",
                subresource=subresource or "",
                now=meta.now_rfc3339(),
                schema_name=self._patch_schema_name(),
                ignored_fields=self._ignored_fields(subresource),
                versions=self._managed_versions(),
            )
            managed = tracked.get("metadata", {}).get("managedFields")
            md = new.setdefault("metadata", {})
            if managed is None:
                md.pop("managedFields", None)
            else:
                md["managedFields"] = managed
            return new
        except errors.StatusError:
            raise
        except Exception:
            log.exception("managedFields tracking failed for %s", self.info.plural)
            return new

    def _managed_versions(self) -> Any:
        """How managers of other served versions see an object (their field sets are in their version)."""

        registry = self.ctx.registry
        info = self.info

        def view(obj: dict[str, Any], api_version: str) -> tuple[dict[str, Any], Any] | None:
            group = api_version.rpartition("/")[0]
            version = conversion.version_of(api_version)
            if info.custom or group != info.group:
                return None
            other = registry.get(info.group, version, info.plural)
            if other is None or other.custom or not other.schema_name:
                return None
            if not conversion.can_convert(
                info.group, info.kind, conversion.version_of(obj.get("apiVersion")), version
            ):
                return None
            schema = other.schema_name if schemas.get(other.schema_name) is not None else None
            return conversion.convert(obj, info.group, info.kind, version), schema

        return view

    # --- create --------------------------------------------------------------------------------------
    async def create(
        self, obj: dict[str, Any], namespace: str | None, opts: WriteOptions, *, manager: str | None
    ) -> Outcome:
        self.check_type(obj)
        obj, warnings = self.handle_unknown_fields(obj, opts.field_validation)
        obj = self._to_storage(obj)
        md = meta.metadata(obj)
        if self.info.namespaced:
            body_ns = md.get("namespace")
            if body_ns and namespace and body_ns != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            if not namespace:
                raise errors.bad_request("the namespace of the object must be set in the request path")
            md["namespace"] = namespace
        else:
            md.pop("namespace", None)
        for key in _SERVER_METADATA:
            md.pop(key, None)
        md.pop("resourceVersion", None)
        md.pop("selfLink", None)
        if not md.get("name") and isinstance(md.get("generateName"), str) and md["generateName"]:
            md["name"] = meta.generate_name(md["generateName"])
        md["uid"] = meta.new_uid()
        md["creationTimestamp"] = meta.now_rfc3339()
        if self.strategy.tracks_generation:
            md["generation"] = 1
        self.strategy.prepare_for_create(obj)
        self.strategy.default(obj)
        self._validate(self.strategy.validate_create(obj), md.get("name") or "")
        self._validate_custom(obj)
        await self.check_namespace(md.get("namespace"), creating=True, name=md.get("name") or "")

        await admit_create(self.ctx, self.info.kind, self.info.group, obj)
        await self.strategy.before_create(self.rs, obj)
        if self.info.namespaced:
            await charge_quota(self.ctx, self.info.plural, self.info.group, obj, dry_run=opts.dry_run)
        md.pop("managedFields", None)
        obj = self._managed(None, obj, manager, None)
        stored = await self.rs.create(obj, dry_run=opts.dry_run)
        return self._outcome(Outcome(stored, warnings, created=True))

    # --- update --------------------------------------------------------------------------------------
    def finish_update(
        self,
        new: dict[str, Any],
        old: dict[str, Any],
        *,
        subresource: str | None,
        manager: str | None,
        track_managed: bool = True,
    ) -> dict[str, Any]:
        """Shared tail of PUT/PATCH/apply: server metadata, strategy, defaults, validation, generation.

        ``new`` and ``old`` are in the storage version."""
        self.check_type(new, self.storage_info)
        md = meta.metadata(new)
        old_md = old["metadata"]
        if md.get("name") not in (None, "", old_md["name"]):
            raise errors.bad_request(
                f"the name of the object ({md.get('name')}) does not match the name on the URL ({old_md['name']})"
            )
        if self.info.namespaced and md.get("namespace") not in (None, "", old_md.get("namespace")):
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        md["name"] = old_md["name"]
        if self.info.namespaced:
            md["namespace"] = old_md.get("namespace")
        for key in _SERVER_METADATA:
            if key in old_md:
                md[key] = old_md[key]
            else:
                md.pop(key, None)
        status_write = subresource is not None and subresource in self.strategy.status_subresources
        if status_write:
            assert subresource is not None
            self.strategy.prepare_for_subresource_update(subresource, new, old)
            # labels, annotations and the rest of metadata stay as they were
            keep = {k: v for k, v in md.items() if k in ("resourceVersion",)}
            new["metadata"] = {**{k: v for k, v in old_md.items() if k != "resourceVersion"}, **keep}
            md = new["metadata"]
        else:
            self.strategy.prepare_for_update(new, old)
        self.strategy.default(new)
        if status_write:
            assert subresource is not None
            causes = self.strategy.validate_subresource_update(subresource, new, old)
        else:
            causes = self.strategy.validate_update(new, old)
        self._validate(causes, md["name"])
        self._validate_custom(new)
        if self.strategy.tracks_generation and meta.spec_changed(new, old):
            md["generation"] = int(old_md.get("generation") or 1) + 1
        meta.normalize_managed_times(md)
        if track_managed:
            stripped_old = meta.deep_copy(old)
            new = self._managed(stripped_old, new, manager, subresource)
        return new

    async def update(
        self,
        name: str,
        namespace: str | None,
        body: dict[str, Any],
        opts: WriteOptions,
        *,
        subresource: str | None,
        manager: str | None,
    ) -> Outcome:
        self.check_type(body)
        body, warnings = self.handle_unknown_fields(body, opts.field_validation)
        requested_rv = (body.get("metadata") or {}).get("resourceVersion")
        requested_uid = (body.get("metadata") or {}).get("uid")

        def mutate(current: dict[str, Any]) -> dict[str, Any]:
            new = self._to_storage(meta.deep_copy(body))
            if requested_rv not in (None, "") and str(requested_rv) != current["metadata"]["resourceVersion"]:
                raise self.rs._conflict(name)
            if requested_uid and requested_uid != current["metadata"].get("uid"):
                raise errors.conflict(
                    self.info.plural,
                    name,
                    f"Precondition failed: UID in precondition: {requested_uid}, "
                    f"UID in object meta: {current['metadata'].get('uid')}",
                    self.info.group,
                )
            new = self.finish_update(new, current, subresource=subresource, manager=manager)
            new["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            return new

        existing = await self.rs.try_get(namespace, name)
        if existing is None:
            raise self.rs.not_found(name)
        _, stored = await self._guaranteed(namespace, name, mutate, opts.dry_run, strict_rv=requested_rv)
        return self._outcome(Outcome(stored, warnings))

    async def _guaranteed(
        self,
        namespace: str | None,
        name: str,
        mutate: Callable[[dict[str, Any]], dict[str, Any]],
        dry_run: bool,
        *,
        strict_rv: Any = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        async def run(current: dict[str, Any]) -> dict[str, Any]:
            new = mutate(current)
            if new != current:
                await self.strategy.before_update(self.rs, new, current)
                if self.strategy.charges_quota_on_update:
                    await charge_quota(
                        self.ctx, self.info.plural, self.info.group, new, old=current, dry_run=dry_run
                    )
            return new

        if strict_rv not in (None, ""):
            # The client pinned a version: one attempt, a stale version is a 409 and never retried.
            current = await self.rs.get(namespace, name)
            new = await run(meta.deep_copy(current))
            if new == current:
                return current, current
            stored = await self.rs.replace(new, int(current["metadata"]["resourceVersion"]), dry_run=dry_run)
            return current, stored
        return await self.rs.guaranteed_update(namespace, name, run, dry_run=dry_run)

    async def patch(
        self,
        name: str,
        namespace: str | None,
        content_type: str,
        body: bytes,
        opts: WriteOptions,
        *,
        subresource: str | None,
        manager: str | None,
    ) -> Outcome:
        warnings: list[str] = []

        def mutate(current: dict[str, Any]) -> dict[str, Any]:
            warnings.clear()
            # the patch applies to the object as the request's version sees it
            patched = apply_patch(
                meta.deep_copy(self._to_request(current)), content_type, body, self._patch_schema_name()
            )
            # upstream decodes the patched JSON into the typed object before reading any of it: a
            # result that is not an object, or has fields of the wrong type, is a 400 and writes nothing
            patched = shape.require_object(
                patched, f"{self.info.group_version.rsplit('/', 1)[-1]}.{self.info.kind}"
            )
            self.check_type(patched)
            patched, found = self.handle_unknown_fields(patched, opts.field_validation)
            warnings.extend(found)
            requested_rv = meta.metadata(patched).get("resourceVersion")
            if requested_rv not in (None, "") and str(requested_rv) != current["metadata"]["resourceVersion"]:
                raise self.rs._conflict(name)
            if self.view is not self.rs:
                patched = self._to_storage(patched)
            new = self.finish_update(patched, current, subresource=subresource, manager=manager)
            new["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            return new

        _, stored = await self._guaranteed(namespace, name, mutate, opts.dry_run)
        return self._outcome(Outcome(stored, list(warnings)))

    def _ignored_fields(self, subresource: str | None) -> list[tuple[str, ...]]:
        """Status is not owned through the main resource (it is reset there), as upstream's strategies say."""
        if subresource is None and self.strategy.has_status_subresource:
            return [("f:status",)]
        return []

    def _patch_schema_name(self) -> Any:
        """Schema name of a built-in type, or the CRD's own schema for a custom resource."""
        return self.ctx.crd_schema(self.info) if self.info.custom else self.info.schema_name

    async def apply(
        self,
        name: str,
        namespace: str | None,
        body: bytes,
        opts: WriteOptions,
        *,
        subresource: str | None,
        create_races: int = 3,
    ) -> Outcome:
        """Server-side apply: create when missing, else merge with field ownership.

        ``create_races`` bounds how often a create lost to a concurrent one is redone as an apply onto it."""

        if not opts.field_manager:
            raise errors.bad_request(
                "PATCH with application/apply-patch+yaml requires the fieldManager query parameter"
            )
        applied = decode_object("application/yaml", body)
        self.check_type(applied)
        applied, warnings = self.handle_unknown_fields(applied, opts.field_validation)
        amd = meta.metadata(applied)
        if amd.get("name") not in (None, name):
            raise errors.bad_request(
                f"the name of the object ({amd.get('name')}) does not match the name on the URL ({name})"
            )
        amd["name"] = name
        existing = await self.rs.try_get(namespace, name)
        if existing is None:
            if subresource:
                raise self.rs.not_found(name)
            obj = server_side_apply(
                None,
                meta.deep_copy(applied),
                manager=opts.field_manager,
                force=opts.force,
                schema_name=self._patch_schema_name(),
                subresource="",
                now=meta.now_rfc3339(),
            )
            managed = (obj.get("metadata") or {}).get("managedFields")
            try:
                outcome = await self.create(obj, namespace, opts, manager=None)
            except errors.StatusError as exc:
                if exc.reason != "AlreadyExists" or create_races <= 0:
                    raise
                # created by someone else since we looked: apply onto it (upstream's apply creates
                # inside its guaranteed update, so it never answers AlreadyExists)
                return await self.apply(
                    name, namespace, body, opts, subresource=subresource, create_races=create_races - 1
                )
            if managed is not None and not opts.dry_run:
                # create() recomputed managedFields as an Update; the applier owns them as an Apply
                def restore(current: dict[str, Any]) -> dict[str, Any]:
                    current["metadata"]["managedFields"] = managed
                    return current

                _, stored = await self.rs.guaranteed_update(namespace, name, restore)
                outcome.obj = self._to_request(stored)
            elif managed is not None:
                outcome.obj["metadata"]["managedFields"] = managed
            outcome.warnings.extend(warnings)
            return outcome

        def mutate(current: dict[str, Any]) -> dict[str, Any]:
            merged = server_side_apply(
                meta.deep_copy(self._to_request(current)),
                meta.deep_copy(applied),
                manager=opts.field_manager or "",
                force=opts.force,
                schema_name=self._patch_schema_name(),
                subresource=subresource or "",
                now=meta.now_rfc3339(),
                ignored_fields=self._ignored_fields(subresource),
                versions=self._managed_versions(),
            )
            managed = merged.get("metadata", {}).get("managedFields")
            merged = self._to_storage(merged)
            new = self.finish_update(
                merged, current, subresource=subresource, manager=opts.field_manager, track_managed=False
            )
            if managed is not None:
                new["metadata"]["managedFields"] = managed
            new["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            return new

        _, stored = await self._guaranteed(namespace, name, mutate, opts.dry_run)
        return self._outcome(Outcome(stored, warnings))

    # --- delete --------------------------------------------------------------------------------------
    def _check_delete_preconditions(self, obj: dict[str, Any], uid: str | None, rv: str | None) -> None:
        """DeleteOptions.preconditions against ``obj`` (a 409 when they no longer hold)."""
        md = obj["metadata"]
        if uid and uid != md.get("uid"):
            raise errors.conflict(
                self.info.plural,
                md.get("name", ""),
                f"Precondition failed: UID in precondition: {uid}, UID in object meta: {md.get('uid')}",
                self.info.group,
            )
        if rv and rv != md.get("resourceVersion"):
            raise errors.conflict(
                self.info.plural,
                md.get("name", ""),
                f"Precondition failed: ResourceVersion in precondition: {rv}, "
                f"ResourceVersion in object meta: {md.get('resourceVersion')}",
                self.info.group,
            )

    async def delete(
        self, name: str, namespace: str | None, opts: DeleteOptions
    ) -> tuple[dict[str, Any], bool]:
        """Returns (object in the request's version, deleted_now)."""
        obj, deleted_now = await self._delete(name, namespace, opts)
        return self._to_request(obj), deleted_now

    async def _delete(
        self, name: str, namespace: str | None, opts: DeleteOptions
    ) -> tuple[dict[str, Any], bool]:
        """Returns (stored object, deleted_now).

        A delete never fails because someone else wrote the object meanwhile: each attempt decides on
        fresh state (preconditions, finalizers, grace period) and a lost compare-and-swap starts over,
        as upstream's store does. Only the caller's own preconditions (uid, resourceVersion) give 409.
        """
        precondition_rv = opts.precondition_rv
        for _ in range(MAX_UPDATE_RETRIES):
            current = await self.rs.get(namespace, name)
            self._check_delete_preconditions(current, opts.precondition_uid, precondition_rv)
            md = current["metadata"]
            grace = self.strategy.grace_period(current, opts.grace_period_seconds)
            finalizers = self._deletion_finalizers(md, opts)
            pending = (
                bool(finalizers) or (grace is not None and grace > 0) or self.strategy.deletion_always_pending
            )
            if not pending:
                try:
                    obj = await self.rs.delete_now(
                        namespace, name, int(md["resourceVersion"]), dry_run=opts.dry_run
                    )
                except errors.StatusError as exc:
                    if exc.reason == "Conflict":
                        continue  # written meanwhile: decide again on the new state
                    raise
                return obj, True
            before, stored = await self._mark_for_deletion(namespace, name, opts, precondition_rv)
            if stored["metadata"].get("finalizers") or self.strategy.deletion_pending(stored):
                return stored, False
            if stored is not before:
                # marked with nothing left to wait for: the store removed it in the same write
                return stored, True
            if precondition_rv:
                # our own mark moved the version the caller pinned (upstream updates it the same way)
                precondition_rv = stored["metadata"]["resourceVersion"]
            try:
                obj = await self.rs.delete_now(
                    namespace, name, int(stored["metadata"]["resourceVersion"]), dry_run=opts.dry_run
                )
            except errors.StatusError as exc:
                if exc.reason == "NotFound":
                    # someone else finished the deletion: the marked object is the best answer we have
                    return stored, True
                if exc.reason == "Conflict":
                    continue
                raise
            return obj, True
        raise self.rs._conflict(name)

    def _deletion_finalizers(self, md: dict[str, Any], opts: DeleteOptions) -> list[str]:
        """The object's finalizers with the garbage collector's set for this delete's propagation policy.

        As upstream's ``deletionFinalizersForGarbageCollection`` (with the API server's garbage collection
        enabled, its default): the policy decides, whoever runs the garbage collector and wherever it
        runs; without a policy the object's own ``orphan``/``foregroundDeletion`` finalizer stays. Foreground
        adds ``foregroundDeletion``, Orphan adds ``orphan``, and an explicit policy drops the other one
        (Background drops both). The garbage collector removes them when it is done."""
        finalizers = list(md.get("finalizers") or [])
        policy = opts.propagation_policy
        if policy is None:
            return finalizers
        kept = [f for f in finalizers if f not in ("orphan", "foregroundDeletion")]
        if policy == "Orphan":
            kept.append("orphan")
        elif policy == "Foreground":
            kept.append("foregroundDeletion")
        if set(kept) == set(finalizers):
            return finalizers  # unchanged: keep the stored order
        return kept

    async def _mark_for_deletion(
        self, namespace: str | None, name: str, opts: DeleteOptions, precondition_rv: str | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Set deletionTimestamp / grace period and the deletion finalizers, retried on fresh state.

        Returns (before, after) as ``guaranteed_update`` does (the same object when nothing changed)."""

        def mark(obj: dict[str, Any]) -> dict[str, Any]:
            self._check_delete_preconditions(obj, opts.precondition_uid, precondition_rv)
            omd = obj["metadata"]
            grace = self.strategy.grace_period(obj, opts.grace_period_seconds)
            if not omd.get("deletionTimestamp"):
                omd["deletionTimestamp"] = meta.now_rfc3339()
                omd["deletionGracePeriodSeconds"] = grace if grace is not None else 0
                self.strategy.on_delete_requested(obj)
            elif grace is not None and grace < int(omd.get("deletionGracePeriodSeconds") or grace + 1):
                omd["deletionGracePeriodSeconds"] = grace  # a shorter grace period may be requested
            have = self._deletion_finalizers(omd, opts)
            if have != list(omd.get("finalizers") or []):
                if have:
                    omd["finalizers"] = have
                else:
                    omd.pop("finalizers", None)  # an explicit policy dropped the only (GC) finalizer
            return obj

        return await self.rs.guaranteed_update(namespace, name, mark, dry_run=opts.dry_run)
