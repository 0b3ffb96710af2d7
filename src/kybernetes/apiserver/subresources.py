"""Subresources beyond status: scale, binding, eviction, and the node-streaming routes.

``/scale`` reads and writes ``spec.replicas`` of its parent through an ``autoscaling/v1 Scale``;
``/binding`` assigns a pod to a node; ``/eviction`` deletes a pod through the eviction API. log, exec,
attach and portforward are served by the node agent: until a pod is bound to a node whose agent can
stream, they answer with the same errors upstream gives.
"""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web

from kybernetes.api import errors, meta
from kybernetes.api.patch import apply_patch
from kybernetes.apiserver import codec, shape
from kybernetes.apiserver.context import ApiContext
from kybernetes.apiserver.disruption import check_eviction
from kybernetes.apiserver.operations import Operations
from kybernetes.apiserver.options import DeleteOptions, WriteOptions
from kybernetes.apiserver.request import Target


class ResourceHandlers(Protocol):
    """What a subresource handler uses of the resource handlers that dispatch to it
    (``handlers.ResourceHandlers``); a Protocol so this module sits below them."""

    ctx: ApiContext

    def ops(self, target: Target) -> Operations: ...

    async def get(self, request: web.Request, target: Target) -> web.StreamResponse: ...

    async def update(self, request: web.Request, target: Target) -> web.StreamResponse: ...

    async def patch(self, request: web.Request, target: Target) -> web.StreamResponse: ...

    async def _body(self, request: web.Request) -> bytes: ...


_SCALE = "io.k8s.api.autoscaling.v1.Scale"
_BINDING = "io.k8s.api.core.v1.Binding"
_EVICTION = "io.k8s.api.policy.v1.Eviction"


async def dispatch(h: ResourceHandlers, request: web.Request, target: Target) -> web.StreamResponse:
    sub = target.subresource
    if target.name is None:
        raise errors.not_found_raw("the server could not find the requested resource")
    if sub == "scale":
        return await _scale(h, request, target)
    if sub == "binding" and request.method == "POST":
        return await _binding(h, request, target)
    if sub == "eviction" and request.method == "POST":
        return await _eviction(h, request, target)
    if sub in ("log", "exec", "attach", "portforward"):
        return await _node_stream(h, request, target)
    if sub == "ephemeralcontainers":
        if request.method == "GET":
            return await h.get(request, target)
        if request.method == "PATCH":
            return await h.patch(request, target)
        if request.method == "PUT":
            return await h.update(request, target)
    raise errors.method_not_allowed(f"{request.method} is not supported on {target.info.plural}/{sub}")


# --- scale -------------------------------------------------------------------------------------------
def _path_get(obj: dict[str, Any], path: str) -> Any:
    cur: Any = obj
    for part in [p for p in path.strip(".").split(".") if p]:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _path_set(obj: dict[str, Any], path: str, value: Any) -> None:
    parts = [p for p in path.strip(".").split(".") if p]
    cur = obj
    for part in parts[:-1]:
        nxt = cur.get(part)
        if not isinstance(nxt, dict):
            nxt = cur[part] = {}
        cur = nxt
    cur[parts[-1]] = value


def _selector_string(sel: Any) -> str:
    if isinstance(sel, str):
        return sel
    if not isinstance(sel, dict):
        return ""
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for expr in sel.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(str(key))
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


def _scale_paths(h: ResourceHandlers, target: Target) -> tuple[str, str, str | None]:
    info = target.info
    if info.custom:
        scale = h.ctx.crd_scale.get((info.group, info.version, info.plural)) or {}
        return (
            scale.get("specReplicasPath", ".spec.replicas"),
            scale.get("statusReplicasPath", ".status.replicas"),
            scale.get("labelSelectorPath"),
        )
    return ".spec.replicas", ".status.replicas", None


def _to_scale(h: ResourceHandlers, target: Target, obj: dict[str, Any]) -> dict[str, Any]:
    spec_path, status_path, selector_path = _scale_paths(h, target)
    md = obj["metadata"]
    if selector_path:
        selector = _path_get(obj, selector_path) or ""
    else:
        selector = _selector_string((obj.get("spec") or {}).get("selector"))
    scale_md = {
        k: md[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in md
    }
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": scale_md,
        "spec": {"replicas": int(_path_get(obj, spec_path) or 0)},
        "status": {"replicas": int(_path_get(obj, status_path) or 0), "selector": selector},
    }


async def _scale(h: ResourceHandlers, request: web.Request, target: Target) -> web.StreamResponse:
    rs = h.ctx.resource_store(target.info)
    namespace, name = target.namespace, target.name
    assert name is not None
    if request.method == "GET":
        return codec.respond(request, _to_scale(h, target, await rs.get(namespace, name)))
    if request.method not in ("PUT", "PATCH"):
        raise errors.method_not_allowed(f"{request.method} is not supported on scale")
    opts = WriteOptions.parse(request.query)
    body = await h._body(request)
    spec_path, _, _ = _scale_paths(h, target)
    ct = codec.media_type(request.headers.get("Content-Type"))

    def mutate(current: dict[str, Any]) -> dict[str, Any]:
        scale = _to_scale(h, target, current)
        if request.method == "PUT":
            wanted = shape.decode_as(_SCALE, codec.decode_object(request.headers.get("Content-Type"), body))
        else:
            if ct == codec.APPLY_PATCH:
                applied = shape.decode_as(_SCALE, codec.decode_object("application/yaml", body))
                wanted = {**scale, **applied}
            else:
                wanted = apply_patch(scale, ct, body, _SCALE)
            # the patched Scale is decoded before it is read, as upstream does
            wanted = shape.decode_as(_SCALE, wanted)
        # A resourceVersion the client put in the Scale pins the write (409 when stale, as upstream);
        # without one the write is retried on fresh state.
        rv = (wanted.get("metadata") or {}).get("resourceVersion")
        if rv and rv != current["metadata"]["resourceVersion"]:
            raise rs._conflict(name)
        replicas = (wanted.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            scale_info = target.info.subresource("scale")
            assert scale_info is not None  # routing serves /scale only where the row declares it
            raise errors.invalid(
                scale_info.kind,
                name,
                [
                    errors.Cause(
                        "spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0"
                    )
                ],
                scale_info.group,
            )
        if _path_get(current, spec_path) == replicas:
            return current
        _path_set(current, spec_path, replicas)
        h.ops(target)._validate_custom(current)
        if h.ctx.resource_store(target.info).strategy.tracks_generation:
            current["metadata"]["generation"] = int(current["metadata"].get("generation") or 1) + 1
        return current

    _, stored = await rs.guaranteed_update(namespace, name, mutate, dry_run=opts.dry_run)
    return codec.respond(request, _to_scale(h, target, stored))


# --- pods --------------------------------------------------------------------------------------------
async def create_as_subresource(
    h: ResourceHandlers, request: web.Request, target: Target, parent: tuple[str, str]
) -> web.StreamResponse:
    """A POST to a collection that writes ``parent``'s (plural, subresource) of the named object."""
    plural, sub = parent
    if sub == "binding":
        return await create_binding(h, request, target, plural)
    raise errors.method_not_allowed(f"{request.method} is not supported on {target.info.plural}")


async def create_binding(
    h: ResourceHandlers, request: web.Request, target: Target, parent_plural: str
) -> web.StreamResponse:
    """POST .../namespaces/<ns>/bindings: bind the object (a pod) the Binding names."""
    binding = _decode_binding(request, await h._body(request))
    name = (binding.get("metadata") or {}).get("name")
    if not name or not isinstance(name, str):
        raise errors.invalid(
            target.info.kind, "", [errors.Cause("metadata.name", "Required value", "FieldValueRequired")]
        )
    parent = h.ctx.registry.get(target.info.group, target.info.version, parent_plural)
    assert parent is not None
    pod_target = Target(info=parent, namespace=target.namespace, name=name, subresource="binding")
    return await _bind(h, request, pod_target, binding)


async def _binding(h: ResourceHandlers, request: web.Request, target: Target) -> web.StreamResponse:
    if target.info.subresource("binding") is None:  # routing already answers 404 for these
        raise errors.method_not_allowed("binding is only supported for pods")
    binding = _decode_binding(request, await h._body(request))
    body_name = (binding.get("metadata") or {}).get("name")
    if body_name and body_name != target.name:
        raise errors.bad_request("name in URL does not match name in Binding object")
    return await _bind(h, request, target, binding)


def _decode_binding(request: web.Request, body: bytes) -> dict[str, Any]:
    """The request body as a ``v1.Binding``: 400 before anything reads it when it does not decode."""
    return shape.decode_as(_BINDING, codec.decode_object(request.headers.get("Content-Type"), body))


async def _bind(
    h: ResourceHandlers, request: web.Request, target: Target, binding: dict[str, Any]
) -> web.StreamResponse:
    opts = WriteOptions.parse(request.query)
    node = (binding.get("target") or {}).get("name")
    name = target.name
    assert name is not None
    if not node:
        sub = target.info.subresource("binding")
        raise errors.invalid(
            sub.kind if sub is not None else target.info.kind,
            name,
            [errors.Cause("target.name", "Required value", "FieldValueRequired")],
        )
    rs = h.ctx.resource_store(target.info)
    plural = target.info.plural

    def mutate(pod: dict[str, Any]) -> dict[str, Any]:
        if pod["metadata"].get("deletionTimestamp"):
            raise errors.conflict(plural, name, "pod is being deleted, cannot be assigned to a host")
        assigned = (pod.get("spec") or {}).get("nodeName")
        if assigned:
            raise errors.conflict(plural, name, f'pod {name} is already assigned to node "{assigned}"')
        pod.setdefault("spec", {})["nodeName"] = node
        status = pod.setdefault("status", {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conditions.append(
            {
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": meta.now_rfc3339(),
            }
        )
        status["conditions"] = conditions
        for key, value in ((binding.get("metadata") or {}).get("annotations") or {}).items():
            pod["metadata"].setdefault("annotations", {})[key] = value
        return pod

    await rs.guaranteed_update(target.namespace, name, mutate, dry_run=opts.dry_run)
    return codec.json_response(
        {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}, 201
    )


async def _eviction(h: ResourceHandlers, request: web.Request, target: Target) -> web.StreamResponse:
    if target.info.subresource("eviction") is None:  # routing already answers 404 for these
        raise errors.method_not_allowed("eviction is only supported for pods")
    eviction = shape.decode_as(
        _EVICTION, codec.decode_object(request.headers.get("Content-Type"), await h._body(request))
    )
    name = target.name
    assert name is not None
    delete_options = (
        eviction.get("deleteOptions") if isinstance(eviction.get("deleteOptions"), dict) else None
    )
    opts = DeleteOptions.parse(request.query, delete_options)

    pod = await h.ctx.resource_store(target.info).get(target.namespace, name)
    await check_eviction(h.ctx, pod)
    await h.ops(target).delete(name, target.namespace, opts)
    return codec.json_response(
        {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}, 201
    )


async def _node_stream(h: ResourceHandlers, request: web.Request, target: Target) -> web.StreamResponse:
    pod = await h.ctx.resource_store(target.info).get(target.namespace, target.name or "")
    node = (pod.get("spec") or {}).get("nodeName")
    if not node:
        raise errors.bad_request(f"pod {target.name} does not have a host assigned")
    proxy = h.ctx.node_streams
    if proxy is None:
        raise errors.StatusError(
            503,
            "ServiceUnavailable",
            f"no node agent is connected for node {node}; cannot serve {target.subresource} for pod {target.name}",
        )
    return await proxy(request, target, pod)
