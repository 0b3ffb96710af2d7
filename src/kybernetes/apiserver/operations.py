"""The write and read pipelines of one resource, independent of HTTP.

create:  decode -> type/kind checks -> unknown fields (fieldValidation) -> metadata -> strategy prepare ->
         defaults -> validation -> admission (namespace lifecycle) -> server allocations -> managedFields
         -> store
update:  the same on top of the stored object, through ``guaranteed_update`` (PUT, PATCH, apply, status)
delete:  preconditions -> finalizers / graceful deletion (mark) or removal
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kybernetes.api import errors, schemas
from kybernetes.api.prune import prune, strict_message
from kybernetes.api.registry import ResourceInfo
from kybernetes.apiserver import meta, shape
from kybernetes.apiserver.options import DeleteOptions, WriteOptions
from kybernetes.apiserver.resource_store import ResourceStore

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
        self.rs: ResourceStore = ctx.resource_store(info)
        self.strategy = self.rs.strategy

    # --- helpers -------------------------------------------------------------------------------------
    def _schema(self) -> dict[str, Any] | None:
        if self.info.custom:
            return self.ctx.crd_schema(self.info)
        if self.info.schema_name:
            return schemas.get(self.info.schema_name)
        return None

    def check_type(self, obj: dict[str, Any]) -> None:
        api_version = obj.get("apiVersion")
        kind = obj.get("kind")
        if api_version is not None and not isinstance(api_version, str):
            raise errors.bad_request("apiVersion must be a string")
        if kind is not None and not isinstance(kind, str):
            raise errors.bad_request("kind must be a string")
        if kind and kind != self.info.kind:
            raise errors.bad_request(
                f"the kind in the body ({kind}) does not match the expected kind ({self.info.kind}) of this endpoint"
            )
        if api_version and api_version != self.info.group_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({self.info.group_version})"
            )
        # every kind shares ObjectMeta: check it here for custom resources too, before anything reads it
        shape.check_metadata(self.info.kind, obj)
        obj["apiVersion"] = self.info.group_version
        obj["kind"] = self.info.kind

    def handle_unknown_fields(self, obj: dict[str, Any], validation: str) -> tuple[dict[str, Any], list[str]]:
        """Prune undeclared fields; Strict turns them into a 400, Warn into warnings."""
        schema = self._schema()
        if schema is None:
            return obj, []
        if not self.info.custom:
            from kybernetes.api.validation import check_types

            type_errors = check_types(self.info.schema_name or "", obj)
            if type_errors:
                raise errors.bad_request(type_errors[0] if len(type_errors) == 1 else "; ".join(type_errors))
        if self.info.custom:
            from kybernetes.api.validation import prune_unknown, unknown_custom_fields

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
        from kybernetes.api.validation import apply_custom_defaults, validate_custom

        apply_custom_defaults(obj, schema)
        causes = validate_custom(obj, schema)
        self._validate(causes, obj.get("metadata", {}).get("name", ""))

    async def check_namespace(self, namespace: str | None, *, creating: bool, name: str = "") -> None:
        if not self.info.namespaced or namespace is None:
            return
        ns = await self.ctx.namespaces().try_get(None, namespace)
        if ns is None:
            raise errors.not_found("namespaces", namespace)
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
        from kybernetes.api.patch import update_managed_fields

        try:
            return update_managed_fields(
                old,
                new,
                manager=manager or "unknown",
                operation="Update",
                subresource=subresource or "",
                now=meta.now_rfc3339(),
                schema_name=self._patch_schema_name(),
            )
        except errors.StatusError:
            raise
        except Exception:
            log.exception("managedFields tracking failed for %s", self.info.plural)
            return new

    # --- create --------------------------------------------------------------------------------------
    async def create(
        self, obj: dict[str, Any], namespace: str | None, opts: WriteOptions, *, manager: str | None
    ) -> Outcome:
        self.check_type(obj)
        obj, warnings = self.handle_unknown_fields(obj, opts.field_validation)
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
        from kybernetes.apiserver.admission import admit_create

        await admit_create(self.ctx, self.info.kind, self.info.group, obj)
        await self.strategy.before_create(self.rs, obj)
        if self.info.namespaced:
            from kybernetes.apiserver.admission import charge_quota

            await charge_quota(self.ctx, self.info.plural, self.info.group, obj, dry_run=opts.dry_run)
        md.pop("managedFields", None)
        obj = self._managed(None, obj, manager, None)
        stored = await self.rs.create(obj, dry_run=opts.dry_run)
        return Outcome(stored, warnings, created=True)

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
        """Shared tail of PUT/PATCH/apply: server metadata, strategy, defaults, validation, generation."""
        self.check_type(new)
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
        if subresource == "status":
            self.strategy.prepare_for_status_update(new, old)
            # labels, annotations and the rest of metadata stay as they were
            keep = {k: v for k, v in md.items() if k in ("resourceVersion",)}
            new["metadata"] = {**{k: v for k, v in old_md.items() if k != "resourceVersion"}, **keep}
            md = new["metadata"]
        else:
            self.strategy.prepare_for_update(new, old)
        self.strategy.default(new)
        if subresource == "status":
            causes = self.strategy.validate_status_update(new, old)
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
            new = meta.deep_copy(body)
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
        return Outcome(stored, warnings)

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
                if self.info.group == "" and self.info.plural in ("services", "persistentvolumeclaims"):
                    from kybernetes.apiserver.admission import charge_quota

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
        from kybernetes.api.patch import apply_patch

        warnings: list[str] = []

        def mutate(current: dict[str, Any]) -> dict[str, Any]:
            warnings.clear()
            patched = apply_patch(meta.deep_copy(current), content_type, body, self._patch_schema_name())
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
            new = self.finish_update(patched, current, subresource=subresource, manager=manager)
            new["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            return new

        _, stored = await self._guaranteed(namespace, name, mutate, opts.dry_run)
        return Outcome(stored, list(warnings))

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
    ) -> Outcome:
        """Server-side apply: create when missing, else merge with field ownership."""
        from kybernetes.api.patch import server_side_apply
        from kybernetes.apiserver.codec import decode_object

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
            outcome = await self.create(obj, namespace, opts, manager=None)
            if managed is not None and not opts.dry_run:
                # create() recomputed managedFields as an Update; the applier owns them as an Apply
                def restore(current: dict[str, Any]) -> dict[str, Any]:
                    current["metadata"]["managedFields"] = managed
                    return current

                _, stored = await self.rs.guaranteed_update(namespace, name, restore)
                outcome.obj = stored
            elif managed is not None:
                outcome.obj["metadata"]["managedFields"] = managed
            outcome.warnings.extend(warnings)
            return outcome

        def mutate(current: dict[str, Any]) -> dict[str, Any]:
            merged = server_side_apply(
                meta.deep_copy(current),
                meta.deep_copy(applied),
                manager=opts.field_manager or "",
                force=opts.force,
                schema_name=self._patch_schema_name(),
                subresource=subresource or "",
                now=meta.now_rfc3339(),
                ignored_fields=self._ignored_fields(subresource),
            )
            managed = merged.get("metadata", {}).get("managedFields")
            new = self.finish_update(
                merged, current, subresource=subresource, manager=opts.field_manager, track_managed=False
            )
            if managed is not None:
                new["metadata"]["managedFields"] = managed
            new["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            return new

        _, stored = await self._guaranteed(namespace, name, mutate, opts.dry_run)
        return Outcome(stored, warnings)

    # --- delete --------------------------------------------------------------------------------------
    async def delete(
        self, name: str, namespace: str | None, opts: DeleteOptions
    ) -> tuple[dict[str, Any], bool]:
        """Returns (object, deleted_now)."""
        current = await self.rs.get(namespace, name)
        md = current["metadata"]
        if opts.precondition_uid and opts.precondition_uid != md.get("uid"):
            raise errors.conflict(
                self.info.plural,
                name,
                f"Precondition failed: UID in precondition: {opts.precondition_uid}, UID in object meta: {md.get('uid')}",
                self.info.group,
            )
        if opts.precondition_rv and opts.precondition_rv != md.get("resourceVersion"):
            raise errors.conflict(
                self.info.plural,
                name,
                f"Precondition failed: ResourceVersion in precondition: {opts.precondition_rv}, "
                f"ResourceVersion in object meta: {md.get('resourceVersion')}",
                self.info.group,
            )
        grace = self.strategy.grace_period(current, opts.grace_period_seconds)
        finalizers = list(md.get("finalizers") or [])
        if opts.propagation_policy == "Foreground" and self.ctx.garbage_collector_running:
            if "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
        if opts.propagation_policy == "Orphan" and self.ctx.garbage_collector_running:
            if "orphan" not in finalizers:
                finalizers.append("orphan")
        pending = bool(finalizers) or (grace is not None and grace > 0) or self.info.kind == "Namespace"
        if not pending:
            obj = await self.rs.delete_now(namespace, name, int(md["resourceVersion"]), dry_run=opts.dry_run)
            return obj, True

        def mark(obj: dict[str, Any]) -> dict[str, Any]:
            omd = obj["metadata"]
            if not omd.get("deletionTimestamp"):
                omd["deletionTimestamp"] = meta.now_rfc3339()
                omd["deletionGracePeriodSeconds"] = grace if grace is not None else 0
                self.strategy.on_delete_requested(obj)
            elif grace is not None and grace < int(omd.get("deletionGracePeriodSeconds") or grace + 1):
                omd["deletionGracePeriodSeconds"] = grace  # a shorter grace period may be requested
            have = list(omd.get("finalizers") or [])
            for f in finalizers:
                if f not in have:
                    have.append(f)
            if have:
                omd["finalizers"] = have
            return obj

        _, stored = await self.rs.guaranteed_update(namespace, name, mark, dry_run=opts.dry_run)
        if grace == 0 and not stored["metadata"].get("finalizers"):
            obj = await self.rs.delete_now(
                namespace, name, int(stored["metadata"]["resourceVersion"]), dry_run=opts.dry_run
            )
            return obj, True
        return stored, False
