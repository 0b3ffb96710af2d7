"""Discovery documents, built from the resource ``Registry`` as pure functions.

Two flavours are served, both read by kubectl:

* **Aggregated discovery** (``GET /api`` and ``GET /apis`` with an ``Accept`` offering
  ``application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList``): one
  ``APIGroupDiscoveryList`` describing every group, version, resource and subresource in a single
  answer. ``negotiate_discovery`` picks the media type (v2 or v2beta1, honouring the client's order:
  older kubectl minors only understand v2beta1) and the handler must echo it as ``Content-Type``.
* **Legacy discovery** (plain ``application/json``): ``APIVersions`` at ``/api``, ``APIGroupList`` at
  ``/apis``, ``APIGroup`` at ``/apis/<group>`` and ``APIResourceList`` at ``/api/v1`` and
  ``/apis/<group>/<version>`` (subresources appear as ``pods/log`` style entries).

Everything here is recomputed from the registry on each call (custom resources come and go at run
time); a build over the built-in registry takes well under a millisecond, so there is no cache and the
returned dicts belong to the caller. The HTTP wiring lives with the routes in ``apiserver``; the OpenAPI
documents are built by the sibling ``openapi`` module.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any, Literal

from kybernetes.api.registry import Registry, ResourceInfo, SubresourceInfo

DiscoveryVersion = Literal["v2", "v2beta1"]

DISCOVERY_GROUP = "apidiscovery.k8s.io"
DISCOVERY_KIND = "APIGroupDiscoveryList"
DISCOVERY_VERSIONS: tuple[DiscoveryVersion, ...] = ("v2", "v2beta1")


def discovery_content_type(version: DiscoveryVersion) -> str:
    """The exact ``Content-Type`` of an aggregated discovery answer of ``version``."""
    return f"application/json;g={DISCOVERY_GROUP};v={version};as={DISCOVERY_KIND}"


# ---------------------------------------------------------------------------------------------------------
# Content negotiation


def _parse_media_range(part: str) -> tuple[str, dict[str, str]]:
    """``"application/json; g=x ;v=y"`` -> ``("application/json", {"g": "x", "v": "y"})``."""
    pieces = part.split(";")
    media = pieces[0].strip().lower()
    params: dict[str, str] = {}
    for piece in pieces[1:]:
        key, sep, value = piece.partition("=")
        if not sep:
            continue
        params[key.strip().lower()] = value.strip().strip('"')
    return media, params


def _quality(params: dict[str, str]) -> float:
    try:
        return float(params.get("q", "1"))
    except ValueError:
        return 0.0


def negotiate_discovery(accept_header: str) -> tuple[str, DiscoveryVersion] | None:
    """Choose the discovery answer for an ``Accept`` header.

    Returns ``(content_type, version)`` for the first acceptable aggregated type, or ``None`` when the
    client should get the legacy documents (it offered plain JSON or a wildcard first, or nothing we
    serve). Media ranges are considered by quality (``q``), then in the order the client sent them.
    """
    candidates: list[tuple[float, int, str, dict[str, str]]] = []
    for index, part in enumerate(accept_header.split(",")):
        if not part.strip():
            continue
        media, params = _parse_media_range(part)
        q = _quality(params)
        if q <= 0:
            continue
        candidates.append((-q, index, media, params))
    candidates.sort(key=lambda c: (c[0], c[1]))
    for _, _, media, params in candidates:
        if media not in ("application/json", "application/*", "*/*"):
            continue  # protobuf, yaml, ...: not served for discovery
        group, version, as_kind = params.get("g"), params.get("v"), params.get("as")
        if group is None and version is None and as_kind is None:
            return None  # plain JSON (or a wildcard): legacy discovery
        if group == DISCOVERY_GROUP and as_kind == DISCOVERY_KIND and version in DISCOVERY_VERSIONS:
            chosen: DiscoveryVersion = "v2" if version == "v2" else "v2beta1"
            return discovery_content_type(chosen), chosen
        # Another typed JSON answer (e.g. a Table) is not acceptable here: keep looking.
    return None


# ---------------------------------------------------------------------------------------------------------
# Helpers shared by both flavours


def subresource_gvk(info: ResourceInfo, sub: SubresourceInfo) -> tuple[str, str, str]:
    """The (group, version, kind) a subresource answers with; empty fields mean the parent's."""
    return (sub.group or info.group, sub.version or info.version, sub.kind or info.kind)


def storage_version_hash(group: str, version: str, kind: str) -> str:
    """Upstream's opaque storage version hash: base64 of the first 8 bytes of sha256("g/v/Kind")."""
    digest = hashlib.sha256(f"{group}/{version}/{kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def _sorted_resources(registry: Registry, group: str, version: str) -> list[ResourceInfo]:
    return sorted(registry.in_group_version(group, version), key=lambda i: i.plural)


def _group_version(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


# ---------------------------------------------------------------------------------------------------------
# Aggregated discovery


def _resource_discovery(info: ResourceInfo) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": info.plural,
        "responseKind": {"group": info.group, "version": info.version, "kind": info.kind},
        "scope": "Namespaced" if info.namespaced else "Cluster",
        "singularResource": info.singular,
        "verbs": list(info.verbs),
    }
    if info.short_names:
        entry["shortNames"] = list(info.short_names)
    if info.categories:
        entry["categories"] = list(info.categories)
    subs = []
    for sub in sorted(info.subresources, key=lambda s: s.name):
        group, version, kind = subresource_gvk(info, sub)
        subs.append(
            {
                "subresource": sub.name,
                "responseKind": {"group": group, "version": version, "kind": kind},
                "verbs": list(sub.verbs),
            }
        )
    if subs:
        entry["subresources"] = subs
    return entry


def _group_discovery(registry: Registry, group: str, versions: list[str]) -> dict[str, Any]:
    return {
        "metadata": {"name": group},
        "versions": [
            {
                "version": version,
                "resources": [_resource_discovery(i) for i in _sorted_resources(registry, group, version)],
                "freshness": "Current",
            }
            for version in versions
        ],
    }


def aggregated_discovery(registry: Registry, *, core: bool, version: DiscoveryVersion) -> dict[str, Any]:
    """An ``APIGroupDiscoveryList``: the core group only (``/api``) or all named groups (``/apis``).

    Groups come in the registry's discovery order and versions preferred first (clients take the first
    version as the preferred one); resources are sorted by name.
    """
    items = [
        _group_discovery(registry, group, versions)
        for group, versions in registry.groups().items()
        if (group == "") == core
    ]
    return {
        "apiVersion": f"{DISCOVERY_GROUP}/{version}",
        "kind": DISCOVERY_KIND,
        "metadata": {},
        "items": items,
    }


# ---------------------------------------------------------------------------------------------------------
# Legacy discovery


def api_versions(server_address: str = "") -> dict[str, Any]:
    """``GET /api``: the core group's versions (``APIVersions``)."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _api_group_body(group: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": _group_version(group, v), "version": v} for v in versions]
    return {"name": group, "versions": entries, "preferredVersion": dict(entries[0])}


def api_group_list(registry: Registry) -> dict[str, Any]:
    """``GET /apis``: every named group with its versions and preferred version (``APIGroupList``)."""
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            _api_group_body(group, versions)
            for group, versions in registry.groups().items()
            if group and versions
        ],
    }


def api_group(registry: Registry, group: str) -> dict[str, Any] | None:
    """``GET /apis/<group>`` (``APIGroup``), or ``None`` if the group is not served."""
    if not group:
        return None
    versions = registry.groups().get(group)
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_api_group_body(group, versions)}


def _api_resource(info: ResourceInfo, storage: ResourceInfo) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": info.plural,
        "singularName": info.singular,
        "namespaced": info.namespaced,
        "kind": info.kind,
        "verbs": list(info.verbs),
    }
    if info.short_names:
        entry["shortNames"] = list(info.short_names)
    if info.categories:
        entry["categories"] = list(info.categories)
    # upstream hashes the storage version: every served version of a resource has the same hash
    entry["storageVersionHash"] = storage_version_hash(storage.group, storage.version, storage.kind)
    return entry


def _api_subresource(info: ResourceInfo, sub: SubresourceInfo) -> dict[str, Any]:
    group, version, kind = subresource_gvk(info, sub)
    entry: dict[str, Any] = {
        "name": f"{info.plural}/{sub.name}",
        "singularName": "",
        "namespaced": info.namespaced,
    }
    if (group, version) != (info.group, info.version):
        entry["group"] = group
        entry["version"] = version
    entry["kind"] = kind
    entry["verbs"] = list(sub.verbs)
    return entry


def api_resource_list(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    """``GET /api/v1`` or ``/apis/<group>/<version>`` (``APIResourceList``), or ``None`` if not served."""
    infos = _sorted_resources(registry, group, version)
    if not infos:
        return None
    resources: list[dict[str, Any]] = []
    for info in infos:
        resources.append(_api_resource(info, registry.storage_info(info)))
        resources.extend(
            _api_subresource(info, sub) for sub in sorted(info.subresources, key=lambda s: s.name)
        )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": _group_version(group, version),
        "resources": resources,
    }
