"""ServiceAccount controller: a ``default`` ServiceAccount in every namespace, recreated when deleted."""

from __future__ import annotations

from kybernetes.client import ApiClient, StatusError
from tests.controllers.conftest import StartManager, eventually, new_namespace


async def test_default_service_account(api: ApiClient, start_manager: StartManager) -> None:
    await start_manager(controllers=["serviceaccount"])
    ns = await new_namespace(api)

    async def has_default() -> bool:
        try:
            await api.serviceaccounts.get("default", namespace=ns)
        except StatusError:
            return False
        return True

    await eventually(has_default, what="default service account")
    first = await api.serviceaccounts.get("default", namespace=ns)
    await api.serviceaccounts.delete("default", namespace=ns)

    async def recreated() -> bool:
        try:
            current = await api.serviceaccounts.get("default", namespace=ns)
        except StatusError:
            return False
        return bool(current["metadata"]["uid"] != first["metadata"]["uid"])

    await eventually(recreated, what="default service account recreated (a new uid)")
    for name in ("default", "kube-system"):  # system namespaces get one too
        await api.serviceaccounts.get("default", namespace=name)
