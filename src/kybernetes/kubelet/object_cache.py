"""The kubelet's view of configMaps, secrets, PVCs and PVs: GETs through the API with a short TTL cache.

Upstream's kubelet fetches the objects its pods reference (the "cache" change-detection strategy);
so does this: each lookup is served from a per-object cache entry younger than ``ttl`` seconds, else
GET. ``None`` means not found (404). Pod workers resync every ``sync_frequency``, so an update of a
configMap or secret reaches mounted files within ``sync_frequency + ttl``; ``invalidate`` forgets one
entry (used when the kubelet learns of a change).
"""

from __future__ import annotations

import time
from typing import Any

from kybernetes.client import ApiClient, ResourceClient, StatusError

__all__ = ["ObjectCache"]

Obj = dict[str, Any]


class ObjectCache:
    """Implements ``volumes.VolumeSource`` (and so ``env.ObjectSource``) over the API."""

    def __init__(self, api: ApiClient, ttl: float = 1.0) -> None:
        self.api = api
        self.ttl = ttl
        self._entries: dict[tuple[str, str, str], tuple[float, Obj | None]] = {}

    async def _get(self, client: ResourceClient, namespace: str | None, name: str) -> Obj | None:
        key = (client.info.plural, namespace or "", name)
        hit = self._entries.get(key)
        now = time.monotonic()
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        try:
            obj: Obj | None = await client.get(name, namespace=namespace)
        except StatusError as exc:
            if exc.code != 404:
                raise
            obj = None
        self._entries[key] = (now, obj)
        return obj

    def invalidate(self, plural: str, namespace: str, name: str) -> None:
        self._entries.pop((plural, namespace, name), None)

    async def get_configmap(self, namespace: str, name: str) -> Obj | None:
        return await self._get(self.api.configmaps, namespace, name)

    async def get_secret(self, namespace: str, name: str) -> Obj | None:
        return await self._get(self.api.secrets, namespace, name)

    async def get_pvc(self, namespace: str, name: str) -> Obj | None:
        return await self._get(self.api.persistentvolumeclaims, namespace, name)

    async def get_pv(self, name: str) -> Obj | None:
        return await self._get(self.api.persistentvolumes, None, name)
