"""The aiohttp application: middleware (auth, errors, metrics), fixed routes and the resource catch-all."""

from __future__ import annotations

import hmac
import logging
import platform
import time
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from kybernetes import KUBERNETES_VERSION
from kybernetes.api import errors
from kybernetes.apiserver import codec, discovery_routes, metrics
from kybernetes.apiserver.context import ApiContext
from kybernetes.apiserver.handlers import ResourceHandlers
from kybernetes.apiserver.request import Target, parse_target

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PUBLIC_PATHS = ("/livez", "/readyz", "/healthz", "/version")
CTX_KEY = web.AppKey("ctx", ApiContext)
TARGET_KEY = web.RequestKey("target", Target)


def version_info() -> dict[str, str]:
    major, minor, _ = KUBERNETES_VERSION.lstrip("v").split(".")
    return {
        "major": major,
        "minor": minor,
        "gitVersion": KUBERNETES_VERSION,
        "gitCommit": "kybernetes",
        "gitTreeState": "clean",
        "buildDate": "2026-11-27T00:00:00Z",
        "goVersion": f"python{platform.python_version()}",
        "compiler": "cpython",
        "platform": f"{platform.system().lower()}/{platform.machine()}",
    }


def make_app(ctx: ApiContext, *, tokens: set[str] | None = None) -> web.Application:
    """Build the API server app; ``tokens`` are the accepted bearer tokens (None: no authentication)."""
    handlers = ResourceHandlers(ctx)

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        target: Target | None = None
        code = 500
        try:
            if tokens is not None and request.path.rstrip("/") not in PUBLIC_PATHS:
                _authenticate(request, tokens)
            response = await handler(request)
            code = response.status
            return response
        except errors.StatusError as exc:
            code = exc.code
            return codec.status_response(exc)
        except web.HTTPException as exc:
            code = exc.status
            if exc.status == 404:
                return codec.status_response(errors.not_found_raw())
            if exc.status == 405:
                # go-restful's answer, through upstream's NewGenericServerResponse
                return codec.status_response(
                    errors.StatusError(
                        405,
                        "MethodNotAllowed",
                        "the server does not allow this method on the requested resource",
                        empty_details=True,
                    )
                )
            return codec.status_response(errors.StatusError(exc.status, "BadRequest", exc.reason))
        except (ConnectionResetError, TimeoutError) as exc:
            code = 499
            raise web.HTTPRequestTimeout() from exc
        except Exception:
            log.exception("internal error serving %s %s", request.method, request.path)
            code = 500
            return codec.status_response(
                errors.internal("an error on the server has prevented the request from succeeding")
            )
        finally:
            target = request.get(TARGET_KEY)
            _observe(request, target, code, time.perf_counter() - started)

    app = web.Application(middlewares=[guard], client_max_size=codec.MAX_BODY_BYTES + 1024)
    app[CTX_KEY] = ctx

    discovery_routes.add_routes(app, ctx)

    async def health(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def version(_: web.Request) -> web.Response:
        # upstream writes /version with json.MarshalIndent(info, "", "  "): indented, no newline
        body = codec.go_escape(orjson.dumps(version_info(), option=orjson.OPT_INDENT_2))
        return web.Response(body=body, content_type="application/json")

    async def metrics_endpoint(_: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), content_type="text/plain", charset="utf-8")

    async def resource(request: web.Request) -> web.StreamResponse:
        codec.check_acceptable(request.headers.get("Accept"))
        target = parse_target(ctx.registry, request.path)
        if target is None:
            raise errors.not_found_raw("the server could not find the requested resource")
        request[TARGET_KEY] = target
        return await handlers.dispatch(request, target)

    # go-restful (upstream's router for /version, /api and /apis) ignores one trailing slash, and
    # clients that join base + "/" + path rely on it; the health paths take one as well.
    for path in PUBLIC_PATHS[:3]:
        app.router.add_get(path, health)
        app.router.add_get(path + "/", health)
    app.router.add_get("/version", version)
    app.router.add_get("/version/", version)
    app.router.add_get("/metrics", metrics_endpoint)
    app.router.add_route("*", "/api/{tail:.+}", resource)
    app.router.add_route("*", "/apis/{tail:.+}", resource)
    return app


def _authenticate(request: web.Request, tokens: set[str]) -> None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        presented = header[len("Bearer ") :].strip()
        if any(hmac.compare_digest(presented, t) for t in tokens):
            return
    peer_cert = None
    transport = request.transport
    if transport is not None:
        ssl_obj = transport.get_extra_info("ssl_object")
        if ssl_obj is not None:
            peer_cert = ssl_obj.getpeercert()
    if peer_cert:
        return  # verified against our CA by the TLS layer
    raise errors.StatusError(401, "Unauthorized", "Unauthorized")


def _observe(request: web.Request, target: Target | None, code: int, seconds: float) -> None:
    if target is not None:
        watch = target.legacy_watch or request.query.get("watch") in ("true", "1")
        verb = metrics.verb_of(request.method, target.name is not None, watch)
        labels = (verb, target.info.group, target.info.version, target.info.plural, target.subresource or "")
    else:
        labels = (request.method, "", "", "", "")
    metrics.REQUESTS.labels(*labels, str(code)).inc()
    if labels[0] != "WATCH":
        metrics.LATENCY.labels(*labels).observe(seconds)
