"""Parsing a request path into what it addresses: resource, namespace, name, subresource.

Paths follow upstream's layout: ``/api/v1/...`` for the core group and ``/apis/<group>/<version>/...``
for named groups; ``namespaces/<ns>/<plural>[/<name>[/<sub>]]`` for namespaced objects; the legacy
``watch/`` segment turns a GET into a watch.
"""

from __future__ import annotations

from dataclasses import dataclass

from kybernetes.api import errors
from kybernetes.api.registry import Registry, ResourceInfo


@dataclass(frozen=True)
class Target:
    info: ResourceInfo
    namespace: str | None  # None: all namespaces (or cluster-scoped)
    name: str | None
    subresource: str | None
    legacy_watch: bool = False


def parse_target(registry: Registry, path: str) -> Target | None:
    """Resolve a resource path; None if it is not a resource path at all (discovery and such)."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        return None
    if parts[0] == "api":
        if len(parts) < 3:
            return None
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis":
        if len(parts) < 4:
            return None
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    legacy_watch = False
    if rest and rest[0] == "watch":
        legacy_watch = True
        rest = rest[1:]
        if not rest:
            return None
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        # /namespaces/<ns>/<plural>... unless <plural> is a subresource of the namespace itself
        candidate = registry.get(group, version, rest[2])
        if candidate is not None and candidate.namespaced:
            namespace = rest[1]
            rest = rest[2:]
    plural = rest[0]
    info = registry.get(group, version, plural)
    if info is None:
        raise errors.not_found_raw()
    if len(rest) > 3:
        raise errors.not_found_raw("the server could not find the requested resource")
    name = rest[1] if len(rest) >= 2 else None
    sub = rest[2] if len(rest) == 3 else None
    if sub is not None and info.subresource(sub) is None:
        raise errors.not_found_raw("the server could not find the requested resource")
    if namespace is not None and not info.namespaced:
        raise errors.not_found_raw("the server could not find the requested resource")
    return Target(info=info, namespace=namespace, name=name, subresource=sub, legacy_watch=legacy_watch)
