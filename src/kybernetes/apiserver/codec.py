"""Request bodies in, response bodies out: JSON, YAML, protobuf requests; JSON/YAML/Table answers.

Bodies are read to their end (bounded by upstream's 3 MiB limit) whatever their framing, and decoded
for every verb that takes one from every content type upstream accepts. Answers are written as
upstream's JSON serializer (Go's ``json.Encoder``) writes them: fields in Go struct order where that is
cheap to keep (``Status``; an object's ``kind, apiVersion, metadata, ...`` and ObjectMeta's order,
arranged once when an object is stored and again for single-object answers), ``<``, ``>``, ``&``,
U+2028 and U+2029 escaped, and a trailing newline.
"""

from __future__ import annotations

import functools
from typing import Any

import orjson
import yaml
from aiohttp import web

from kybernetes.api import errors
from kybernetes.api.protobuf import decode_k8s_protobuf, field_names, map_field_names, message_name

MAX_BODY_BYTES = 3 * 1024 * 1024

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    APPLY_PATCH,
)


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that keeps timestamps and such as strings, as Kubernetes' YAML-to-JSON does."""


for _first, _resolvers in list(_StrictLoader.yaml_implicit_resolvers.items()):
    _StrictLoader.yaml_implicit_resolvers[_first] = [
        (tag, regexp) for tag, regexp in _resolvers if tag != "tag:yaml.org,2002:timestamp"
    ]


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise errors.bad_request(f"error decoding JSON: {exc}") from None


def parse_yaml(body: bytes) -> Any:
    try:
        return yaml.load(body, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        raise errors.bad_request(f"error converting YAML to JSON: {exc}") from None
    except (ValueError, RecursionError, TypeError) as exc:
        raise errors.bad_request(f"error converting YAML to JSON: {exc}") from None


def decode_object(content_type: str | None, body: bytes) -> dict[str, Any]:
    """Decode a create/update body into an object dict (400 on anything that is not an object)."""
    if len(body) > MAX_BODY_BYTES:
        raise _too_large()
    mt = media_type(content_type)
    if mt in ("", JSON, "*/*"):
        data = parse_json(body)
    elif mt in (YAML, "application/x-yaml", "text/yaml"):
        data = parse_yaml(body)
        _check_json_compatible(data)
    elif mt == PROTOBUF:
        data = decode_k8s_protobuf(body)
    else:
        raise errors.unsupported_media_type(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf"
        )
    if not isinstance(data, dict):
        raise errors.bad_request("the body of the request must be a JSON object")
    return data


def _check_json_compatible(data: Any, depth: int = 0) -> None:
    """YAML may carry things JSON cannot (non-string keys, sets, binary): refuse them as upstream does."""
    if depth > 200:
        raise errors.bad_request("error converting YAML to JSON: document nested too deeply")
    if isinstance(data, dict):
        for key, value in data.items():
            if not isinstance(key, str):
                if isinstance(key, bool | int | float):
                    continue
                raise errors.bad_request(f"error converting YAML to JSON: unsupported map key {key!r}")
            _check_json_compatible(value, depth + 1)
    elif isinstance(data, list):
        for item in data:
            _check_json_compatible(item, depth + 1)
    elif data is None or isinstance(data, str | int | float | bool):
        return
    else:
        raise errors.bad_request(
            f"error converting YAML to JSON: unsupported value of type {type(data).__name__}"
        )


def stringify_keys(data: Any) -> Any:
    if isinstance(data, dict):
        return {(k if isinstance(k, str) else _yaml_key(k)): stringify_keys(v) for k, v in data.items()}
    if isinstance(data, list):
        return [stringify_keys(v) for v in data]
    return data


def _yaml_key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def parse_accept(accept: str | None) -> list[tuple[str, dict[str, str]]]:
    out: list[tuple[str, dict[str, str]]] = []
    for part in (accept or "").split(","):
        part = part.strip()
        if not part:
            continue
        pieces = [p.strip() for p in part.split(";")]
        params: dict[str, str] = {}
        for p in pieces[1:]:
            if "=" in p:
                k, v = p.split("=", 1)
                params[k.strip()] = v.strip()
        out.append((pieces[0].lower(), params))
    return out


def wants_table(accept: str | None) -> str | None:
    """The Table version (``v1``/``v1beta1``) the client asked for first, or None."""
    for mt, params in parse_accept(accept):
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io" and mt == JSON:
            return params.get("v", "v1")
        if mt in (JSON, "*/*", "application/*") and params.get("as") is None:
            return None
    return None


def wants_yaml(accept: str | None) -> bool:
    for mt, params in parse_accept(accept):
        if params.get("as"):
            continue
        if mt in (YAML, "application/x-yaml"):
            return True
        if mt in (JSON, "*/*", "application/*", PROTOBUF):
            return False
    return False


def check_acceptable(accept: str | None) -> None:
    """406 when the client accepts none of JSON, YAML or anything."""
    types = parse_accept(accept)
    if not types:
        return
    for mt, _ in types:
        if mt in (JSON, YAML, "application/x-yaml", "*/*", "application/*", PROTOBUF, "text/plain"):
            return
    raise errors.not_acceptable(
        "only the following media types are accepted: application/json, application/yaml"
    )


# metav1.ObjectMeta's Go field order.
_META_ORDER = (
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
)


@functools.lru_cache(maxsize=1024)
def _top_order(api_version: str, kind: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """``kind, apiVersion`` (TypeMeta) then the kind's own fields in Go struct order, when known;
    and which of those fields are Go maps (printed with sorted keys)."""

    name = message_name(api_version, kind)
    fields = tuple(f for f in (field_names(name) if name else ()) if f not in ("kind", "apiVersion"))
    order = ("kind", "apiVersion", *(fields if "metadata" in fields else ("metadata", *fields)))
    return order, map_field_names(name) if name else frozenset()


_NO_MAPS: frozenset[str] = frozenset()
_META_MAPS = ("labels", "annotations")


def _sorted_map(value: Any) -> Any:
    if isinstance(value, dict) and len(value) > 1:
        return dict(sorted(value.items()))
    return value


def upstream_order(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with its top level and ``metadata`` in Go struct order, and the maps among them
    (labels, annotations, a ConfigMap's or Secret's data) in key order, as Go prints maps; unknown
    fields keep their place after the known ones.

    Shallow and cheap (a few microseconds): the store applies it once per write, so lists and
    watches read objects already in order, and single-object answers apply it again.
    """
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
    if isinstance(kind, str) and isinstance(api_version, str):
        order, maps = _top_order(api_version, kind)
    else:
        order, maps = ("kind", "apiVersion", "metadata"), _NO_MAPS
    out = {key: obj[key] for key in order if key in obj}
    if len(out) != len(obj):
        for key, value in obj.items():
            if key not in out:
                out[key] = value
    for key in maps:
        if key in out:
            out[key] = _sorted_map(out[key])
    md = out.get("metadata")
    if isinstance(md, dict) and md:
        ordered = {key: md[key] for key in _META_ORDER if key in md}
        if len(ordered) != len(md):
            for key, value in md.items():
                if key not in ordered:
                    ordered[key] = value
        for key in _META_MAPS:
            if key in ordered:
                ordered[key] = _sorted_map(ordered[key])
        out["metadata"] = ordered
    return out


async def read_body(request: web.Request) -> bytes:
    """The whole request body, however it is framed (Content-Length or chunked, sent in any pieces).

    ``request.content.read(n)`` returns what has arrived so far, not ``n`` bytes: read until EOF.
    More than ``MAX_BODY_BYTES`` is upstream's 413 "Request entity too large: limit is 3145728".
    """
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise _too_large()
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = await request.content.read(1 << 20)
        if not chunk:
            break
        total += len(chunk)
        if total > MAX_BODY_BYTES:
            raise _too_large()
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large() -> errors.StatusError:
    return errors.too_large(f"Request entity too large: limit is {MAX_BODY_BYTES}")


def go_escape(data: bytes) -> bytes:
    """Go's ``json.Encoder`` escapes ``<``, ``>``, ``&`` (HTML-safe) and U+2028/U+2029 in strings.

    Those bytes never occur in JSON outside strings, and a UTF-8 byte sequence is never part of
    another character's, so replacing them in the encoded bytes is exact. The single-byte membership
    tests are memchr scans, a small fraction of the encoding itself.
    """
    if b"<" in data or b">" in data or b"&" in data:
        data = data.replace(b"&", b"\\u0026").replace(b"<", b"\\u003c").replace(b">", b"\\u003e")
    if b"\xe2" in data:
        data = data.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
    return data


def dumps(obj: Any) -> bytes:
    """``obj`` as upstream's JSON serializer writes it: Go escapes and a trailing newline."""
    return go_escape(orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE))


def json_response(
    obj: Any, status: int = 200, *, headers: dict[str, str] | None = None, newline: bool = True
) -> web.Response:
    body = dumps(obj) if newline else go_escape(orjson.dumps(obj))
    return web.Response(body=body, status=status, content_type="application/json", headers=headers)


def respond(
    request: web.Request, obj: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    if wants_yaml(request.headers.get("Accept")):
        text = yaml.safe_dump(obj, sort_keys=False, allow_unicode=True)
        return web.Response(text=text, status=status, content_type="application/yaml", headers=headers)
    return json_response(obj, status, headers=headers)


def status_response(err: errors.StatusError) -> web.Response:
    headers = {}
    if err.retry_after_seconds is not None:
        headers["Retry-After"] = str(err.retry_after_seconds)
    return json_response(err.to_status(), err.code, headers=headers)
