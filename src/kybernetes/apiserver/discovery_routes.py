"""HTTP routes for discovery (/api, /apis, group and group-version lists) and OpenAPI v3."""

from __future__ import annotations

from aiohttp import web

from kybernetes.api import errors
from kybernetes.apiserver import codec, discovery, openapi
from kybernetes.apiserver import openapi_v2 as v2
from kybernetes.apiserver.context import ApiContext


def add_routes(app: web.Application, ctx: ApiContext) -> None:
    def negotiated(request: web.Request, core: bool) -> web.Response | None:
        chosen = discovery.negotiate_discovery(request.headers.get("Accept", ""))
        if chosen is None:
            return None
        content_type, version = chosen
        body = discovery.aggregated_discovery(ctx.registry, core=core, version=version)
        return web.Response(body=codec.dumps(body), headers={"Content-Type": content_type})

    async def api_root(request: web.Request) -> web.Response:
        return negotiated(request, True) or codec.json_response(discovery.api_versions())

    async def apis_root(request: web.Request) -> web.Response:
        return negotiated(request, False) or codec.json_response(discovery.api_group_list(ctx.registry))

    async def core_v1(request: web.Request) -> web.Response:
        body = discovery.api_resource_list(ctx.registry, "", "v1")
        if body is None:
            raise errors.not_found_raw("the server could not find the requested resource")
        return codec.json_response(body)

    async def group(request: web.Request) -> web.Response:
        body = discovery.api_group(ctx.registry, request.match_info["group"])
        if body is None:
            raise errors.not_found_raw("the server could not find the requested resource")
        return codec.json_response(body)

    async def group_version(request: web.Request) -> web.Response:
        body = discovery.api_resource_list(
            ctx.registry, request.match_info["group"], request.match_info["version"]
        )
        if body is None:
            raise errors.not_found_raw("the server could not find the requested resource")
        return codec.json_response(body)

    async def openapi_root(_: web.Request) -> web.Response:
        # kube-openapi serves its cached json.Marshal bytes: no trailing newline
        return codec.json_response(openapi.openapi_v3_root(ctx.registry, ctx.crd_schemas), newline=False)

    async def openapi_doc(request: web.Request) -> web.Response:
        doc = openapi.openapi_v3_document(ctx.registry, request.match_info["path"], ctx.crd_schemas)
        if doc is None:
            raise errors.not_found_raw("the server could not find the requested resource")
        return codec.json_response(doc, headers={"Cache-Control": "no-cache, private"}, newline=False)

    async def openapi_v2(request: web.Request) -> web.Response:
        """Swagger 2.0; kubectl fetches it as gnostic protobuf to validate ``kind: List`` documents."""

        etag = v2.openapi_v2_etag(ctx.registry, ctx.crd_schemas)
        headers = {"ETag": etag, "Vary": "Accept", "Cache-Control": "no-cache, private"}
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        if v2.wants_protobuf(request.headers.get("Accept")):
            body = v2.openapi_v2_protobuf(ctx.registry, ctx.crd_schemas)
            return web.Response(body=body, content_type=v2.OPENAPI_V2_PROTOBUF_CONTENT_TYPE, headers=headers)
        return codec.json_response(
            v2.openapi_v2_document(ctx.registry, ctx.crd_schemas), headers=headers, newline=False
        )

    app.router.add_get("/api", api_root)
    app.router.add_get("/api/", api_root)
    app.router.add_get("/apis", apis_root)
    app.router.add_get("/apis/", apis_root)
    # one trailing slash is the same path, as go-restful routes it upstream
    app.router.add_get("/api/v1", core_v1)
    app.router.add_get("/api/v1/", core_v1)
    app.router.add_get("/apis/{group}", group)
    app.router.add_get("/apis/{group}/", group)
    app.router.add_get("/apis/{group}/{version}", group_version)
    app.router.add_get("/apis/{group}/{version}/", group_version)
    app.router.add_get("/openapi/v3", openapi_root)
    app.router.add_get("/openapi/v3/{path:.+}", openapi_doc)
    app.router.add_get("/openapi/v2", openapi_v2)
