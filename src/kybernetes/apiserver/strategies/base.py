"""The default strategy and the hooks a resource may specialise.

A strategy shapes a resource's objects around the generic store: what to reset on create, what a write
to the main resource, to ``/status`` or to ``pods/ephemeralcontainers`` may change, whether
``metadata.generation`` is tracked, and how a deletion proceeds. Validation and defaulting of the type
itself live in ``kybernetes.api``; strategies call them so the generic store never names a kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from kybernetes.api.defaults import apply_defaults
from kybernetes.api.errors import Cause
from kybernetes.api.protobuf import zero_field
from kybernetes.api.registry import ResourceInfo
from kybernetes.api.validation import (
    validate_create,
    validate_status_update,
    validate_subresource_update,
    validate_update,
)


class Listing(Protocol):
    @property
    def items(self) -> Sequence[dict[str, Any]]: ...


class StoreReader(Protocol):
    """What a strategy's before-write hooks may read from their resource's store. The generic store
    (``resource_store.ResourceStore``) satisfies it; a Protocol keeps strategies below the store that
    calls them."""

    async def list(self, namespace: str | None) -> Listing: ...


# Kinds whose metadata.generation upstream maintains (spec changes bump it).
GENERATION_KINDS = frozenset(
    {
        "Deployment",
        "ReplicaSet",
        "StatefulSet",
        "DaemonSet",
        "Job",
        "CronJob",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "ReplicationController",
        "CustomResourceDefinition",
        "Ingress",
        "NetworkPolicy",
        "IngressClass",
        "FlowSchema",
        "PriorityLevelConfiguration",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    }
)


class Strategy:
    """Behaviour shared by all resources; subclasses override what their kind does differently."""

    def __init__(self, info: ResourceInfo) -> None:
        self.info = info

    # --- shape -----------------------------------------------------------------------------------
    @property
    def tracks_generation(self) -> bool:
        return self.info.custom or self.info.kind in GENERATION_KINDS

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
        apply_defaults(self.info, obj)

    def validate_create(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_create(self.info, obj)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        return validate_update(self.info, new, old)

    def validate_subresource_update(
        self, subresource: str, new: dict[str, Any], old: dict[str, Any]
    ) -> list[Cause]:
        """A write to one of ``status_subresources`` (``/status`` by default)."""
        if subresource == "status":
            return self.validate_status_update(new, old)

        return validate_subresource_update(self.info, subresource, new, old)

    def validate_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        return validate_status_update(self.info, new, old)

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
