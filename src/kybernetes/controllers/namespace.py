"""The namespace controller: empty a namespace being deleted, then release its ``kubernetes`` finalizer.

For a Namespace with ``deletionTimestamp`` whose ``spec.finalizers`` still holds ``kubernetes``
(upstream ``pkg/controller/namespace/deletion``, reimplemented):

1. discover every namespaced resource the server serves (legacy discovery: ``/api/v1`` and the preferred
   version of each group in ``/apis``, so custom resources are included);
2. delete its content: ``deletecollection`` where the resource supports it, else list and delete one by
   one (background propagation);
3. list again: anything left (pods in their grace period, objects held by finalizers) makes the key
   come back after a short delay, with the ``NamespaceContentRemaining`` /
   ``NamespaceFinalizersRemaining`` conditions on the namespace status;
4. once empty, ``PUT /api/v1/namespaces/<ns>/finalize`` with ``kubernetes`` removed from
   ``spec.finalizers``; the API server deletes the namespace when no finalizer is left.

Deletion failures set ``NamespaceDeletionContentFailure`` and are retried with backoff.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Mapping
from typing import Any

from kybernetes.api.errors import StatusError
from kybernetes.api.meta import Obj, now_rfc3339
from kybernetes.controllers.base import Controller, ControllerContext

log = logging.getLogger(__name__)

FINALIZER = "kubernetes"
DISCOVERY_TTL = 5.0
REMAINING_RETRY = 1.0


class NamespaceController(Controller):
    """See the module docstring."""

    name = "namespace-controller"
    workers = 10

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.ns_client = ctx.api.namespaces
        self.ns_informer = ctx.informers.informer(self.ns_client)
        self.ns_informer.add_event_handler(self._changed, lambda old, new: self._changed(new))
        self._resources: list[tuple[str, str, str, frozenset[str]]] = []
        self._resources_at = 0.0
        self._discovery_lock = asyncio.Lock()
        self.remaining_retry = float(ctx.options.extra.get("namespace_remaining_retry", REMAINING_RETRY))

    def _changed(self, ns: Obj) -> None:
        if (ns.get("metadata") or {}).get("deletionTimestamp"):
            self.enqueue_obj(ns)

    # --- discovery ------------------------------------------------------------------------------------
    async def namespaced_resources(self) -> list[tuple[str, str, str, frozenset[str]]]:
        """(group, version, plural, verbs) of every namespaced resource, cached for a few seconds."""
        async with self._discovery_lock:
            if self._resources and time.monotonic() - self._resources_at < DISCOVERY_TTL:
                return self._resources
            found: list[tuple[str, str, str, frozenset[str]]] = []

            def parse(group: str, version: str, body: Mapping[str, Any] | None) -> None:
                for res in (body or {}).get("resources") or []:
                    name = str(res.get("name") or "")
                    if name and "/" not in name and res.get("namespaced"):
                        found.append((group, version, name, frozenset(res.get("verbs") or ())))
                        self.api.resource(
                            group, version, name, namespaced=True, kind=str(res.get("kind") or "")
                        )

            parse("", "v1", await self.api.request("GET", "/api/v1"))
            groups = (await self.api.request("GET", "/apis")) or {}
            for group in groups.get("groups") or []:
                versions = group.get("versions") or []
                preferred = (group.get("preferredVersion") or {}).get("version") or (
                    versions[0]["version"] if versions else ""
                )
                if preferred:
                    parse(
                        group["name"],
                        preferred,
                        await self.api.request("GET", f"/apis/{group['name']}/{preferred}"),
                    )
            self._resources, self._resources_at = found, time.monotonic()
            return found

    # --- sync -----------------------------------------------------------------------------------------
    async def reconcile(self, key: str) -> None:
        try:
            ns = await self.ns_client.get(key)
        except StatusError as exc:
            if exc.code == 404:
                return
            raise
        md = ns.get("metadata") or {}
        if not md.get("deletionTimestamp"):
            return
        if FINALIZER not in ((ns.get("spec") or {}).get("finalizers") or []):
            return
        remaining, with_finalizers, errors = await self.delete_content(key)
        await self._set_conditions(ns, remaining, with_finalizers, errors)
        if errors:
            raise RuntimeError(f"namespace {key}: {'; '.join(errors[:3])}")
        if remaining:
            self.queue.add_after(key, self.remaining_retry)
            return
        body = copy.deepcopy(ns)
        body.setdefault("spec", {})["finalizers"] = [
            f for f in (ns.get("spec") or {}).get("finalizers") or [] if f != FINALIZER
        ]
        try:
            await self.ns_client.update(body, subresource="finalize")
        except StatusError as exc:
            if exc.code != 404:
                raise

    async def delete_content(self, namespace: str) -> tuple[dict[str, int], dict[str, int], list[str]]:
        """Delete everything in ``namespace``: (remaining per resource, of which held by finalizers, errors)."""
        resources = await self.namespaced_resources()
        remaining: dict[str, int] = {}
        finalized: dict[str, int] = {}
        errors: list[str] = []

        async def one(group: str, version: str, plural: str, verbs: frozenset[str]) -> None:
            if "list" not in verbs or not ({"delete", "deletecollection"} & verbs):
                return
            client = self.api.resource(group, version, plural, namespaced=True)
            label = f"{plural}.{group}" if group else plural
            try:
                if "deletecollection" in verbs:
                    await client.delete_collection(namespace=namespace, propagation_policy="Background")
                else:
                    items, _ = await client.list_all(namespace=namespace)
                    for item in items:
                        name = (item.get("metadata") or {}).get("name")
                        if name and not (item.get("metadata") or {}).get("deletionTimestamp"):
                            try:
                                await client.delete(
                                    name, namespace=namespace, propagation_policy="Background"
                                )
                            except StatusError as exc:
                                if exc.code not in (404, 409):
                                    raise
                items, _ = await client.list_all(namespace=namespace)
            except StatusError as exc:
                if exc.code in (404, 405):
                    return
                errors.append(f"{label}: {exc.message}")
                return
            if items:
                remaining[label] = len(items)
                held = sum(1 for i in items if (i.get("metadata") or {}).get("finalizers"))
                if held:
                    finalized[label] = held

        await asyncio.gather(*(one(*res) for res in resources))
        return remaining, finalized, errors

    async def _set_conditions(
        self, ns: Obj, remaining: dict[str, int], finalized: dict[str, int], errors: list[str]
    ) -> None:
        wanted = {
            "NamespaceDeletionContentFailure": (
                (
                    "True",
                    "ContentDeletionFailed",
                    f"Failed to delete all resource types, {len(errors)} remaining: " + ", ".join(errors),
                )
                if errors
                else (
                    "False",
                    "ContentDeleted",
                    "All content successfully deleted, may be waiting on finalization",
                )
            ),
            "NamespaceContentRemaining": (
                (
                    "True",
                    "SomeResourcesRemain",
                    "Some resources are remaining: "
                    + ", ".join(f"{k} has {v} resource instances" for k, v in sorted(remaining.items())),
                )
                if remaining
                else ("False", "ContentRemoved", "All content successfully removed")
            ),
            "NamespaceFinalizersRemaining": (
                (
                    "True",
                    "SomeFinalizersRemain",
                    "Some content in the namespace has finalizers remaining: "
                    + ", ".join(f"{k} in {v} resource instances" for k, v in sorted(finalized.items())),
                )
                if finalized
                else ("False", "ContentHasNoFinalizers", "All content-preserving finalizers finished")
            ),
        }
        current = {c.get("type"): c for c in (ns.get("status") or {}).get("conditions") or []}
        conditions = []
        changed = False
        for kind, (status, reason, message) in wanted.items():
            cur = current.get(kind)
            if cur is not None and (cur.get("status"), cur.get("reason"), cur.get("message")) == (
                status,
                reason,
                message,
            ):
                conditions.append(cur)
                continue
            changed = True
            conditions.append(
                {
                    "type": kind,
                    "status": status,
                    "lastTransitionTime": now_rfc3339(),
                    "reason": reason,
                    "message": message,
                }
            )
        if not changed:
            return
        body = copy.deepcopy(ns)
        body.setdefault("status", {})["conditions"] = conditions
        try:
            await self.ns_client.update_status(body)
        except StatusError as exc:
            if exc.code not in (404, 409):
                raise
