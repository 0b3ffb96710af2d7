"""The default strategy and the hooks a resource may specialise (upstream's per-resource ``strategy.go``).

A strategy is the one home of a kind's behaviour around the generic store, handlers and operations:
which validation rules, defaulter, field-selector rules and table printer it uses (pure vocabulary from
``kybernetes.api``, bound here as class attributes), whether ``metadata.generation`` is tracked, what to
reset on create, what a write to the main resource, to ``/status`` or to another status-like
subresource may change, how a deletion proceeds and what it leaves, quota on update, computed reads,
and hooks after a committed write or delete. The generic path asks the strategy and never names a kind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from kybernetes.api import selectors, tables, validation
from kybernetes.api.errors import Cause
from kybernetes.api.protobuf import zero_field
from kybernetes.api.registry import ResourceInfo
from kybernetes.api.tables.custom import DEFAULT as DEFAULT_PRINTER
from kybernetes.api.tables.custom import custom_printer
from kybernetes.storage.interface import Store


class Listing(Protocol):
    @property
    def items(self) -> Sequence[dict[str, Any]]: ...


class StoreReader(Protocol):
    """What a strategy's before-write hooks may read from their resource's store. The generic store
    (``resource_store.ResourceStore``) satisfies it; a Protocol keeps strategies below the store that
    calls them."""

    async def list(self, namespace: str | None) -> Listing: ...


class ObjectStore(StoreReader, Protocol):
    """A resource's store as after-write/after-delete hooks and computed reads use it."""

    async def try_get(self, namespace: str | None, name: str) -> dict[str, Any] | None: ...

    async def delete_now(
        self, namespace: str | None, name: str, expected_revision: int | None, *, dry_run: bool = False
    ) -> dict[str, Any]: ...


class ServerContext(Protocol):
    """What strategies' hooks may use of the server (``ApiContext`` satisfies it): the raw store, stores
    by resource, and the CRD registrations. A Protocol keeps strategies below the context that calls them."""

    store: Store

    def resource_store(self, info: ResourceInfo) -> ObjectStore: ...

    def store_for(self, group: str, version: str, plural: str) -> ObjectStore: ...

    def register_crd(self, crd: dict[str, Any]) -> None: ...

    def unregister_crd(self, crd: dict[str, Any]) -> None: ...


class Strategy:
    """Behaviour shared by all resources; subclasses override what their kind does differently."""

    # --- the kind's vocabulary (pure functions and data from ``kybernetes.api``) -------------------
    # Metadata name rule and create/update/status checks.
    rules: validation.TypeRules = validation.TypeRules()
    # Columns of ``kubectl get`` (server-side Table); NAME / CREATED AT unless the kind has its own.
    printer: tables.Printer = DEFAULT_PRINTER
    # Field labels accepted in field selectors and the kind's own field values.
    field_rules: selectors.FieldRules = selectors.DEFAULT_FIELD_RULES
    # Whether upstream maintains metadata.generation (spec changes bump it).
    tracks_generation: bool = False

    def __init__(self, info: ResourceInfo) -> None:
        self.info = info

    # --- shape -----------------------------------------------------------------------------------

    @property
    def has_status_subresource(self) -> bool:
        return self.info.subresource("status") is not None

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        """Clear what a client may not set on create (status of types with a status subresource).

        A built-in's status is a (non-pointer) struct upstream, so it is stored and served at its Go zero
        value (``{}`` plus the fields without ``omitempty``); a custom resource's is dropped, as the CR
        strategy deletes it."""
        if self.has_status_subresource:
            obj.pop("status", None)
            if not self.info.custom:
                obj["status"] = zero_field(self.info.group_version, self.info.kind, "status") or {}

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """A write to the main resource keeps the stored status."""
        if self.has_status_subresource:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)

    # Subresources whose writes change the status only (``finish_update`` routes them through
    # ``prepare_for_subresource_update`` and ``validate_status_update``).
    status_subresources: tuple[str, ...] = ("status",)

    def prepare_for_subresource_update(
        self, subresource: str, new: dict[str, Any], old: dict[str, Any]
    ) -> None:
        """A write to one of ``status_subresources``; by default the ``/status`` rules."""
        self.prepare_for_status_update(new, old)

    def prepare_for_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """A write to ``/status`` changes the status only (and metadata labels/annotations stay)."""
        for key in list(new):
            if key not in ("status", "metadata", "apiVersion", "kind"):
                del new[key]
        for key, value in old.items():
            if key not in ("status", "metadata", "apiVersion", "kind"):
                new[key] = value

    # --- defaults and validation -------------------------------------------------------------------
    def default(self, obj: dict[str, Any]) -> None:
        """Fill in upstream's defaults in place (kinds without defaults keep the object as sent)."""

    def validate_create(self, obj: dict[str, Any]) -> list[Cause]:
        return validation.validate_create(self.info, obj, self.rules)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        return validation.validate_update(self.info, new, old, self.rules)

    def validate_subresource_update(
        self, subresource: str, new: dict[str, Any], old: dict[str, Any]
    ) -> list[Cause]:
        """A write to one of ``status_subresources`` (``/status`` by default)."""
        if subresource == "status":
            return self.validate_status_update(new, old)
        return validation.validate_subresource_update(self.info, subresource, new, old, self.rules)

    def validate_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        return validation.validate_status_update(self.info, new, old, self.rules)

    # --- reads: tables and field selectors -------------------------------------------------------
    def table_printer(self, crd_columns: list[dict[str, Any]] | None = None) -> tables.Printer:
        """The printer: a CRD version's printer columns when given, else the kind's own."""
        return custom_printer(crd_columns) if crd_columns is not None else self.printer

    def to_table(
        self,
        objects: list[dict[str, Any]],
        *,
        include_object: str = "Metadata",
        now: datetime | None = None,
        crd_columns: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """A ``meta.k8s.io/v1`` Table of ``objects`` (all of this kind)."""
        printer = self.table_printer(crd_columns)
        return tables.to_table(printer, objects, include_object=include_object, now=now)

    def selector_rules(self, selectable_fields: Iterable[str] = ()) -> selectors.FieldRules:
        """The field-selector rules (a CRD's ``selectableFields`` extend a custom resource's)."""
        return self.field_rules

    def validate_field_selector(
        self, selector: selectors.FieldSelector, *, selectable_fields: Iterable[str] = ()
    ) -> selectors.FieldSelector:
        return selectors.validate_field_selector(self.selector_rules(selectable_fields), selector)

    def object_fields(
        self, obj: Mapping[str, Any], *, selectable_fields: Iterable[str] = ()
    ) -> dict[str, str]:
        rules = self.selector_rules(selectable_fields)
        return selectors.object_fields(rules, obj, selectable_fields=selectable_fields)

    # --- lifecycle hooks (may touch other resources through the store) ------------------------------
    async def before_create(self, store: StoreReader, obj: dict[str, Any]) -> None:
        """Allocate what the server owns (cluster IPs, node ports, ...)."""

    async def before_update(self, store: StoreReader, new: dict[str, Any], old: dict[str, Any]) -> None:
        """Keep server-owned allocations across updates."""

    def grace_period(self, obj: dict[str, Any], requested: int | None) -> int | None:
        """Seconds of graceful deletion, or None to delete at once (only pods are graceful)."""
        return None

    def deletion_pending(self, obj: dict[str, Any]) -> bool:
        """Whether an object marked for deletion, with no finalizers left, must still stay."""
        return False

    def on_delete_requested(self, obj: dict[str, Any]) -> None:
        """Mutate an object being marked for deletion (e.g. namespaces go Terminating)."""

    # A deletion always marks the object and leaves it in place, even with no finalizers and no grace
    # period (namespaces: the namespace controller empties them first).
    deletion_always_pending: bool = False

    # Whether an update is charged against ResourceQuota as a create is (upstream's quota evaluators
    # for services and claims count changes of type and requested storage on update).
    charges_quota_on_update: bool = False

    # (plural, subresource): a POST to this collection writes that subresource of the object of the
    # same group/version the body names (core ``bindings`` is ``pods/<name>/binding``); None: a create.
    create_as_subresource: tuple[str, str] | None = None

    # --- computed resources (never stored) ---------------------------------------------------------
    # Objects computed on each read (ComponentStatus); get and list read ``computed_items``, watch is
    # not served.
    computed: bool = False
    # Warnings every read of a computed resource carries (deprecation notices).
    read_warnings: tuple[str, ...] = ()

    async def computed_items(self, ctx: ServerContext) -> list[dict[str, Any]]:
        """The current objects of a computed resource."""
        raise NotImplementedError(f"{self.info.plural} is stored, not computed")

    # --- after-write hooks (run once a write is committed, never on dry runs) ----------------------
    async def after_write(self, ctx: ServerContext, obj: dict[str, Any]) -> None:
        """A create, update or patch of ``obj`` was committed."""

    async def after_delete(self, ctx: ServerContext, obj: dict[str, Any]) -> None:
        """``obj`` was removed from storage by a DELETE of it."""
