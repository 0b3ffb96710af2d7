"""DefaultBinder (Bind): ``POST pods/<name>/binding`` with a ``v1.Binding`` naming the node; the API
server sets ``spec.nodeName`` and the ``PodScheduled`` condition. The only plugin that talks to the API.
"""

from __future__ import annotations

from kybernetes.api.errors import StatusError
from kybernetes.client import ApiClient, ApiConnectionError
from kybernetes.scheduler.framework import Code, CycleState, PodInfo, Status

NAME = "DefaultBinder"


def binding_body(pod: PodInfo, node_name: str) -> dict[str, object]:
    meta: dict[str, str] = {"name": pod.name, "namespace": pod.namespace}
    if pod.uid:
        meta["uid"] = pod.uid
    return {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": meta,
        "target": {"kind": "Node", "name": node_name},
    }


class DefaultBinder:
    name = NAME

    def __init__(self, api: ApiClient) -> None:
        self.api = api

    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        try:
            await self.api.pods.create_subresource(
                pod.name, "binding", binding_body(pod, node_name), namespace=pod.namespace
            )
        except (StatusError, ApiConnectionError) as exc:
            return Status(Code.ERROR, (f"binding rejected: {exc}",))
        return None


def new(api: ApiClient) -> DefaultBinder:
    return DefaultBinder(api)
