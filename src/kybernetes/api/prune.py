"""Dropping (and reporting) fields a schema does not declare.

Upstream decodes built-in types into Go structs, so unknown fields silently vanish unless
``fieldValidation=Strict`` asks for an error; custom resources are pruned against their structural
schema unless ``x-kubernetes-preserve-unknown-fields`` says otherwise. Both are the same walk.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import schemas

_MAX_DEPTH = 64


def prune(value: Any, schema: dict[str, Any] | None) -> tuple[Any, list[str]]:
    """Return ``value`` without undeclared fields, and the dotted paths of the fields dropped."""
    unknown: list[str] = []
    return _walk(value, schema, "", unknown, 0), unknown


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _walk(value: Any, schema: dict[str, Any] | None, path: str, unknown: list[str], depth: int) -> Any:
    if schema is None or depth > _MAX_DEPTH:
        return value
    resolved = schemas.resolve(schema)
    if not resolved or resolved.get("x-kubernetes-preserve-unknown-fields"):
        return value
    if isinstance(value, dict):
        props = resolved.get("properties")
        extra = resolved.get("additionalProperties")
        if isinstance(props, dict) and props:
            out: dict[str, Any] = {}
            for key, item in value.items():
                if key in props:
                    out[key] = _walk(item, props[key], _join(path, key), unknown, depth + 1)
                elif isinstance(extra, dict):
                    out[key] = _walk(item, extra, _join(path, key), unknown, depth + 1)
                else:
                    unknown.append(_join(path, key))
            return out
        if isinstance(extra, dict):
            return {k: _walk(v, extra, _join(path, k), unknown, depth + 1) for k, v in value.items()}
        return value
    if isinstance(value, list):
        items = resolved.get("items")
        if isinstance(items, dict):
            return [_walk(v, items, f"{path}[{i}]", unknown, depth + 1) for i, v in enumerate(value)]
    return value


def strict_message(unknown: list[str]) -> str:
    return "strict decoding error: " + ", ".join(f'unknown field "{p}"' for p in unknown)
