"""The kubelet's view of configMaps, secrets, PVCs and PVs: GETs through the API with a short TTL cache.

Upstream's kubelet fetches the objects its pods reference (the "cache" change-detection strategy);
so does this: each lookup is served from a per-object cache entry younger than ``ttl`` seconds, else
GET. ``None`` means not found (404). Pod workers resync every ``sync_frequency``, so an update of a
configMap or secret reaches mounted files within ``sync_frequency + ttl``; ``invalidate`` forgets one
entry (used when the kubelet learns of a change).

Cached reads are only for volume refreshes. A container being started must see the current values (upstream
invalidates a pod's objects when the pod is registered and its default strategy is a watch): ``current``
is an ``env.ObjectSource`` whose reads always GET (and refresh the cache entry), used for the environment
of every container start; ``register_pod`` forgets the entries a newly seen pod references, so its first
volume setup reads current values too.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from kybernetes.api.meta import Obj
from kybernetes.client import ApiClient, ResourceClient, StatusError

__all__ = ["ObjectCache"]


class ObjectCache:
    """Implements ``volumes.VolumeSource`` (and so ``env.ObjectSource``) over the API."""

    def __init__(self, api: ApiClient, ttl: float = 1.0) -> None:
        self.api = api
        self.ttl = ttl
        self._entries: dict[tuple[str, str, str], tuple[float, Obj | None]] = {}

        self.current = CurrentObjects(self)

    async def _get(
        self, client: ResourceClient, namespace: str | None, name: str, *, fresh: bool = False
    ) -> Obj | None:
        key = (client.info.plural, namespace or "", name)
        hit = self._entries.get(key)
        now = time.monotonic()
        if hit is not None and not fresh and now - hit[0] < self.ttl:
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

    def register_pod(self, pod: Mapping[str, Any]) -> None:
        """Forget the configMaps and secrets ``pod`` references (upstream's ``RegisterPod`` invalidation)."""
        namespace = str((pod.get("metadata") or {}).get("namespace") or "")
        for plural, name in referenced_objects(pod):
            self.invalidate(plural, namespace, name)

    async def get_configmap(self, namespace: str, name: str) -> Obj | None:
        return await self._get(self.api.configmaps, namespace, name)

    async def get_secret(self, namespace: str, name: str) -> Obj | None:
        return await self._get(self.api.secrets, namespace, name)

    async def get_pvc(self, namespace: str, name: str) -> Obj | None:
        return await self._get(self.api.persistentvolumeclaims, namespace, name)

    async def get_pv(self, name: str) -> Obj | None:
        return await self._get(self.api.persistentvolumes, None, name)


class CurrentObjects:
    """An ``env.ObjectSource`` that always reads through the API (for containers being started)."""

    def __init__(self, cache: ObjectCache) -> None:
        self._cache = cache

    async def get_configmap(self, namespace: str, name: str) -> Obj | None:
        return await self._cache._get(self._cache.api.configmaps, namespace, name, fresh=True)

    async def get_secret(self, namespace: str, name: str) -> Obj | None:
        return await self._cache._get(self._cache.api.secrets, namespace, name, fresh=True)


def referenced_objects(pod: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """``(plural, name)`` of every configMap and secret a pod's env, envFrom and volumes name."""
    spec = pod.get("spec") or {}
    for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        for var in c.get("env") or []:
            ref = (var or {}).get("valueFrom") or {}
            if (ref.get("configMapKeyRef") or {}).get("name"):
                yield "configmaps", str(ref["configMapKeyRef"]["name"])
            if (ref.get("secretKeyRef") or {}).get("name"):
                yield "secrets", str(ref["secretKeyRef"]["name"])
        for src in c.get("envFrom") or []:
            if ((src or {}).get("configMapRef") or {}).get("name"):
                yield "configmaps", str(src["configMapRef"]["name"])
            if ((src or {}).get("secretRef") or {}).get("name"):
                yield "secrets", str(src["secretRef"]["name"])
    for vol in spec.get("volumes") or []:
        vol = vol or {}
        if (vol.get("configMap") or {}).get("name"):
            yield "configmaps", str(vol["configMap"]["name"])
        if (vol.get("secret") or {}).get("secretName"):
            yield "secrets", str(vol["secret"]["secretName"])
        for proj in (vol.get("projected") or {}).get("sources") or []:
            if ((proj or {}).get("configMap") or {}).get("name"):
                yield "configmaps", str(proj["configMap"]["name"])
            if ((proj or {}).get("secret") or {}).get("name"):
                yield "secrets", str(proj["secret"]["name"])
