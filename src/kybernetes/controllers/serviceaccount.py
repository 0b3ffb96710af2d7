"""The ServiceAccount controller: a ``default`` ServiceAccount in every active namespace.

Watches Namespaces and ServiceAccounts (upstream ``pkg/controller/serviceaccount``'s
``ServiceAccountsController``): a namespace added or updated, or its ``default`` ServiceAccount deleted,
queues the namespace; the sync creates the account unless the namespace is gone or terminating or the
account is already in the cache (an AlreadyExists from a stale cache is fine). The names to ensure are
``ControllerOptions.extra["service_accounts"]`` (default ``["default"]``).
"""

from __future__ import annotations

import logging
from typing import Any

from kybernetes.api.errors import StatusError
from kybernetes.controllers.base import Controller, ControllerContext, unwrap

log = logging.getLogger(__name__)


class ServiceAccountController(Controller):
    """See the module docstring. Keys are namespace names."""

    name = "serviceaccount-controller"
    workers = 1

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.names: list[str] = list(ctx.options.extra.get("service_accounts", ["default"]))
        self.ns_client = ctx.api.namespaces
        self.sa_client = ctx.api.serviceaccounts
        self.ns_informer = ctx.informers.informer(self.ns_client)
        self.sa_informer = ctx.informers.informer(self.sa_client)
        self.ns_informer.add_event_handler(self.enqueue_obj, self.enqueue_new)
        self.sa_informer.add_event_handler(on_delete=self._sa_deleted)

    def _sa_deleted(self, obj: Any) -> None:
        sa = unwrap(obj)
        if sa is None:
            return
        md = sa.get("metadata") or {}
        if md.get("name") in self.names and md.get("namespace"):
            self.enqueue(str(md["namespace"]))

    async def reconcile(self, key: str) -> None:
        ns = self.ns_informer.get(key)
        if ns is None:
            return
        if (ns.get("metadata") or {}).get("deletionTimestamp") or (ns.get("status") or {}).get(
            "phase"
        ) == "Terminating":
            return
        for name in self.names:
            if self.sa_informer.get(name, key) is not None:
                continue
            body = {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": name, "namespace": key},
            }
            try:
                await self.sa_client.create(body)
            except StatusError as exc:
                if exc.code in (404, 409) or (exc.code == 403 and "terminat" in exc.message):
                    continue
                raise
