"""Conversion between the served versions of one built-in kind, as data.

A built-in kind served in more than one version (``autoscaling/v1`` and ``autoscaling/v2``
HorizontalPodAutoscaler) is stored in one of them, its storage version (recorded in
``registry.STORAGE_VERSIONS``). The API server converts at its boundary, as upstream's codecs do: a request
body is decoded in the request's version and converted to the storage version before strategies,
defaults, validation and the store see it; whatever is read (get, list, watch events, write answers) is
converted back to the version the client asked for.

Converters are registered per ``(group, kind, from_version, to_version)``; ``register_identity`` declares
versions whose schemas are equal (only ``apiVersion`` changes). The generic path never names a kind: it
calls ``convert`` and a missing pair is a ``ConversionError`` (a 500 upstream; a programming error here).
Converters receive a private copy and must not share nested values with their input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kybernetes.api.patch._common import deep_copy

Converter = Callable[[dict[str, Any]], dict[str, Any]]

_CONVERTERS: dict[tuple[str, str, str, str], Converter] = {}


class ConversionError(Exception):
    """No conversion is registered between two versions of a kind."""


def register(group: str, kind: str, from_version: str, to_version: str, fn: Converter) -> None:
    _CONVERTERS[(group, kind, from_version, to_version)] = fn


def register_identity(group: str, kind: str, versions: tuple[str, ...]) -> None:
    """Versions of ``kind`` whose schemas are equal: converting only rewrites ``apiVersion``."""
    for a in versions:
        for b in versions:
            if a != b:
                register(group, kind, a, b, _retag(group, b))


def _retag(group: str, version: str) -> Converter:
    api_version = f"{group}/{version}" if group else version

    def fn(obj: dict[str, Any]) -> dict[str, Any]:
        obj["apiVersion"] = api_version
        return obj

    return fn


def version_of(api_version: Any) -> str:
    """``autoscaling/v2`` -> ``v2``; ``v1`` -> ``v1``."""
    if not isinstance(api_version, str):
        return ""
    return api_version.rsplit("/", 1)[-1]


def can_convert(group: str, kind: str, from_version: str, to_version: str) -> bool:
    return from_version == to_version or (group, kind, from_version, to_version) in _CONVERTERS


def convert(obj: dict[str, Any], group: str, kind: str, to_version: str) -> dict[str, Any]:
    """``obj`` (of the version its ``apiVersion`` names) as ``group/to_version``; a new dict.

    An object without an ``apiVersion`` (or in the target version already) is only re-tagged.
    """

    copy: dict[str, Any] = deep_copy(obj)
    from_version = version_of(copy.get("apiVersion"))
    api_version = f"{group}/{to_version}" if group else to_version
    if not from_version or from_version == to_version:
        copy["apiVersion"] = api_version
        return copy
    fn = _CONVERTERS.get((group, kind, from_version, to_version))
    if fn is None:
        raise ConversionError(f"no conversion of {kind}.{group} from {from_version} to {to_version}")
    out = fn(copy)
    out["apiVersion"] = api_version
    out["kind"] = kind
    return out


def _load() -> None:
    # why local: each group's module registers its converters through register() above, so it can only be
    # imported once this module has defined it (a registration hook, not a dependency cycle to break)
    from kybernetes.api.conversion import autoscaling  # noqa: F401


_load()
