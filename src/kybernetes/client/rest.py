"""The REST client: one ``ApiClient`` per process (one aiohttp session and connection pool) and a
``ResourceClient`` per resource, addressed by the registry's ``ResourceInfo`` rows.

Objects are plain dicts in and out. Every non-2xx answer becomes a ``StatusError`` (the shared
``kybernetes.api.errors`` type, parsed from the server's ``Status`` body: code, reason, message, details
and causes); 410 Gone becomes its subclass ``ResourceExpiredError`` so reflectors can tell "re-list" from
any other failure. Connection failures that survive the retries become ``ApiConnectionError``.

Retries (``RetryPolicy``) are bounded in attempts and elapsed time, with exponential backoff and jitter:

- 429 Too Many Requests: any verb (the server did not act), waiting ``Retry-After`` when given;
- 5xx and connection failures after the request may have been sent: idempotent requests only (GET,
  HEAD, PUT, DELETE and server-side apply);
- failure to connect at all (nothing was sent): any verb, create included.

``ResourceClient.watch`` returns a ``WatchStream``, an async iterator of ``WatchEvent(type, object)``
reading the newline-delimited JSON frames of ``?watch=true``; BOOKMARK events are yielded too and the
stream tracks the last resourceVersion it saw, so a caller can resume from it. An ERROR frame raises
(``ResourceExpiredError`` for 410, ``WatchError`` otherwise). The informer machinery is in
``informer.py``; connection parameters in ``config.py``.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import random
import time
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, NamedTuple

import aiohttp
import orjson

from kybernetes.api.errors import Cause, StatusError
from kybernetes.api.meta import meta_of as _meta
from kybernetes.api.registry import Registry, ResourceInfo
from kybernetes.client.config import ClientConfig

__all__ = [
    "ApiClient",
    "ApiConnectionError",
    "PatchType",
    "ResourceClient",
    "ResourceExpiredError",
    "RetryPolicy",
    "WatchError",
    "WatchEvent",
    "WatchStream",
    "status_error_from",
]

log = logging.getLogger(__name__)

PatchType = Literal["merge", "json", "strategic", "apply"]
PATCH_CONTENT_TYPES: dict[str, str] = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
JSON = "application/json"
_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


# --- errors -------------------------------------------------------------------------------------------
class WatchError(StatusError):
    """An ERROR event in a watch stream (its ``Status`` parsed like any other error)."""


class ResourceExpiredError(WatchError):
    """410 Gone/Expired: the requested resourceVersion (or continue token) is compacted; re-list."""


class ApiConnectionError(ConnectionError):
    """The server could not be reached (or the connection broke) and retries were exhausted."""


def status_error_from(
    code: int, body: bytes | Mapping[str, Any] | None, headers: Mapping[str, str] | None = None
) -> StatusError:
    """Build a ``StatusError`` from an HTTP status code and a response body (a ``Status`` or not)."""
    data: Any = body
    if isinstance(body, bytes | bytearray):
        try:
            data = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            data = None
    retry_after = _retry_after_header(headers)
    if isinstance(data, Mapping) and data.get("kind") == "Status":
        code = int(data.get("code") or code)
        details = data.get("details") or {}
        causes = [
            Cause(field=c.get("field", ""), message=c.get("message", ""), reason=c.get("reason", ""))
            for c in details.get("causes") or []
            if isinstance(c, Mapping)
        ]
        ras = details.get("retryAfterSeconds")
        err_cls: type[StatusError] = ResourceExpiredError if code == 410 else StatusError
        return err_cls(
            code=code,
            reason=str(data.get("reason") or _REASONS.get(code, "Unknown")),
            message=str(data.get("message") or ""),
            name=details.get("name"),
            group=details.get("group"),
            kind=details.get("kind"),
            causes=causes,
            retry_after_seconds=int(ras) if isinstance(ras, int | float) else retry_after,
        )
    text = body.decode("utf-8", "replace").strip() if isinstance(body, bytes | bytearray) else ""
    message = text[:1024] or f"the server responded with status {code}"
    err_cls = ResourceExpiredError if code == 410 else StatusError
    return err_cls(code, _REASONS.get(code, "Unknown"), message, retry_after_seconds=retry_after)


def _retry_after_header(headers: Mapping[str, str] | None) -> int | None:
    if not headers:
        return None
    raw = headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return max(0, int(float(raw)))
    except ValueError:
        return None


def _as_watch_error(err: StatusError) -> WatchError:
    cls = ResourceExpiredError if err.code == 410 else WatchError
    return cls(
        code=err.code,
        reason=err.reason,
        message=err.message,
        name=err.name,
        group=err.group,
        kind=err.kind,
        causes=err.causes,
        retry_after_seconds=err.retry_after_seconds,
    )


# --- retries ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter.

    Attempt ``n`` (1-based) failing waits ``min(max_delay, base_delay * 2**(n-1))`` scaled by a random
    factor in ``[1 - jitter, 1]``; a server's Retry-After replaces the computed delay (capped at
    ``max_retry_after``). No retry starts after ``max_elapsed`` seconds since the first attempt.
    """

    max_attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 5.0
    max_elapsed: float = 30.0
    jitter: float = 0.5
    max_retry_after: float = 10.0

    def delay(
        self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        raw = min(self.max_delay, self.base_delay * (2 ** max(attempt - 1, 0)))
        factor = 1.0 - (rng or random).random() * self.jitter
        return raw * factor


NO_RETRY = RetryPolicy(max_attempts=1)


def _encode_params(params: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, bool):
            out.append((key, "true" if value else "false"))
        elif isinstance(value, list | tuple):
            out.extend((key, str(v)) for v in value)
        else:
            out.append((key, str(value)))
    return out


class WatchEvent(NamedTuple):
    """One watch frame: ``type`` is ADDED, MODIFIED, DELETED or BOOKMARK."""

    type: str
    object: dict[str, Any]


# --- the client ---------------------------------------------------------------------------------------
class ApiClient:
    """One connection pool to one API server. Use as ``async with ApiClient(cfg) as api:`` or ``close()``.

    ``api.resource(group, version, plural)`` / ``api.client_for(info)`` / ``api.pods`` ... return the
    ``ResourceClient`` for a resource (cached, cheap). ``request`` is the raw JSON call underneath.
    """

    def __init__(
        self,
        config: ClientConfig | str,
        *,
        retry: RetryPolicy | None = None,
        registry: Registry | None = None,
        pool_size: int = 100,
        field_manager: str | None = None,
    ) -> None:
        self.config = ClientConfig(server=config) if isinstance(config, str) else config
        self.retry = retry or RetryPolicy()
        self.registry = registry or Registry.builtin()
        self.field_manager = field_manager
        self._pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None
        self._ssl = self.config.ssl_context()
        self._resources: dict[tuple[str, str, str], ResourceClient] = {}
        self._rng = random.Random()

    @classmethod
    def from_kubeconfig(cls, path: str | None = None, context: str | None = None, **kwargs: Any) -> ApiClient:
        return cls(ClientConfig.from_kubeconfig(path, context), **kwargs)

    # --- lifecycle ------------------------------------------------------------------------------------
    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._pool_size, ssl=self._ssl if self._ssl is not None else True
            )
            self._session = aiohttp.ClientSession(
                connector=connector, json_serialize=lambda o: orjson.dumps(o).decode()
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # --- raw requests ---------------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return f"{self.config.server}{path}"

    def _headers(self, content_type: str | None, accept: str = JSON) -> dict[str, str]:
        headers = self.config.headers()
        headers["Accept"] = accept
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str = JSON,
        timeout: float | None = None,  # noqa: ASYNC109
        retry: RetryPolicy | None = None,
    ) -> Any:
        """Send one request (retried per policy) and return the decoded JSON body (None when empty)."""
        method = method.upper()
        data = None if body is None else body if isinstance(body, bytes) else orjson.dumps(body)
        idempotent = method in IDEMPOTENT_METHODS or content_type == PATCH_CONTENT_TYPES["apply"]
        client_timeout = aiohttp.ClientTimeout(total=timeout or self.config.request_timeout)
        headers = self._headers(content_type if data is not None else None)
        query = _encode_params(params)

        async def attempt() -> Any:
            async with self.session.request(
                method,
                self.url(path),
                params=query,
                data=data,
                headers=headers,
                timeout=client_timeout,
                server_hostname=self.config.tls_server_name,
            ) as resp:
                raw = await resp.read()
                if resp.status >= 400:
                    raise status_error_from(resp.status, raw, resp.headers)
                return orjson.loads(raw) if raw else None

        return await self._with_retries(method, path, attempt, idempotent, retry or self.retry)

    async def _with_retries(
        self, method: str, path: str, attempt: Any, idempotent: bool, policy: RetryPolicy
    ) -> Any:
        started = time.monotonic()
        n = 0
        while True:
            n += 1
            retry_after: float | None = None
            try:
                return await attempt()
            except StatusError as exc:
                if exc.code == 429 or (exc.code >= 500 and idempotent):
                    retry_after = exc.retry_after_seconds if exc.code == 429 else None
                    error: BaseException = exc
                else:
                    raise
            except aiohttp.ClientConnectorError as exc:  # nothing was sent: safe for every verb
                error = ApiConnectionError(f"{method} {path}: cannot connect: {exc}")
                error.__cause__ = exc
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = ApiConnectionError(f"{method} {path}: {type(exc).__name__}: {exc}")
                error.__cause__ = exc
                if not idempotent:
                    raise error from exc
            delay = policy.delay(n, retry_after, self._rng)
            elapsed = time.monotonic() - started
            if n >= policy.max_attempts or elapsed + delay > policy.max_elapsed:
                raise error
            log.debug("retrying %s %s in %.2fs after %s (attempt %d)", method, path, delay, error, n)
            await asyncio.sleep(delay)

    async def open_stream(
        self, path: str, params: Mapping[str, Any], *, read_timeout: float | None
    ) -> aiohttp.ClientResponse:
        """GET ``path`` for streaming (watch); errors are raised before the body is read."""
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.config.request_timeout, sock_read=read_timeout
        )
        headers = self._headers(None)
        query = _encode_params(params)

        async def attempt() -> aiohttp.ClientResponse:
            resp = await self.session.get(
                self.url(path),
                params=query,
                headers=headers,
                timeout=timeout,
                server_hostname=self.config.tls_server_name,
            )
            if resp.status >= 400:
                try:
                    raw = await resp.read()
                finally:
                    resp.release()
                raise status_error_from(resp.status, raw, resp.headers)
            return resp

        result: aiohttp.ClientResponse = await self._with_retries("GET", path, attempt, True, self.retry)
        return result

    # --- resources ------------------------------------------------------------------------------------
    def client_for(self, info: ResourceInfo) -> ResourceClient:
        """The client of the resource described by a registry row."""
        key = (info.group, info.version, info.plural)
        rc = self._resources.get(key)
        if rc is None or rc.info is not info:
            rc = self._resources[key] = ResourceClient(self, info)
        return rc

    def resource(
        self, group: str, version: str, plural: str, *, namespaced: bool | None = None, kind: str = ""
    ) -> ResourceClient:
        """The client of ``plural`` in ``group/version`` (``""`` is the core group).

        Resources unknown to the registry (custom resources) need ``namespaced``.
        """
        info = self.registry.get(group, version, plural)
        if info is None:
            if namespaced is None:
                raise ValueError(
                    f"unknown resource {plural}.{group}/{version}: pass namespaced= for custom resources"
                )
            info = ResourceInfo(
                group=group,
                version=version,
                kind=kind,
                plural=plural,
                singular=kind.lower() or plural,
                namespaced=namespaced,
                custom=True,
            )
            self.registry.add(info)
        return self.client_for(info)

    # Core kinds by name: ``api.pods.list(namespace="default")``.
    namespaces: ResourceClient
    pods: ResourceClient
    nodes: ResourceClient
    services: ResourceClient
    endpoints: ResourceClient
    configmaps: ResourceClient
    secrets: ResourceClient
    events: ResourceClient
    serviceaccounts: ResourceClient
    persistentvolumes: ResourceClient
    persistentvolumeclaims: ResourceClient
    resourcequotas: ResourceClient
    limitranges: ResourceClient
    replicationcontrollers: ResourceClient
    deployments: ResourceClient
    replicasets: ResourceClient
    statefulsets: ResourceClient
    daemonsets: ResourceClient
    controllerrevisions: ResourceClient
    jobs: ResourceClient
    cronjobs: ResourceClient
    leases: ResourceClient
    endpointslices: ResourceClient
    poddisruptionbudgets: ResourceClient
    priorityclasses: ResourceClient
    horizontalpodautoscalers: ResourceClient
    storageclasses: ResourceClient
    customresourcedefinitions: ResourceClient

    _NAMED: dict[str, tuple[str, str]] = {
        "namespaces": ("", "v1"),
        "pods": ("", "v1"),
        "nodes": ("", "v1"),
        "services": ("", "v1"),
        "endpoints": ("", "v1"),
        "configmaps": ("", "v1"),
        "secrets": ("", "v1"),
        "events": ("", "v1"),
        "serviceaccounts": ("", "v1"),
        "persistentvolumes": ("", "v1"),
        "persistentvolumeclaims": ("", "v1"),
        "resourcequotas": ("", "v1"),
        "limitranges": ("", "v1"),
        "replicationcontrollers": ("", "v1"),
        "deployments": ("apps", "v1"),
        "replicasets": ("apps", "v1"),
        "statefulsets": ("apps", "v1"),
        "daemonsets": ("apps", "v1"),
        "controllerrevisions": ("apps", "v1"),
        "jobs": ("batch", "v1"),
        "cronjobs": ("batch", "v1"),
        "leases": ("coordination.k8s.io", "v1"),
        "endpointslices": ("discovery.k8s.io", "v1"),
        "poddisruptionbudgets": ("policy", "v1"),
        "priorityclasses": ("scheduling.k8s.io", "v1"),
        "horizontalpodautoscalers": ("autoscaling", "v2"),
        "storageclasses": ("storage.k8s.io", "v1"),
        "customresourcedefinitions": ("apiextensions.k8s.io", "v1"),
    }

    def __getattr__(self, name: str) -> ResourceClient:
        named = type(self)._NAMED.get(name)
        if named is None:
            raise AttributeError(name)
        return self.resource(named[0], named[1], name)


# --- one resource -------------------------------------------------------------------------------------


class ResourceClient:
    """Verbs on one resource. ``namespace=None`` on list/watch of a namespaced resource means "all".

    For create/update the namespace defaults to the object's ``metadata.namespace``. Every method returns
    the server's JSON answer (the object, a List, or a Status for some deletes).
    """

    def __init__(self, api: ApiClient, info: ResourceInfo) -> None:
        self.api = api
        self.info = info

    def __repr__(self) -> str:
        return f"ResourceClient({self.info.group_resource}/{self.info.version})"

    # --- paths ----------------------------------------------------------------------------------------
    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        info = self.info
        parts = [f"/apis/{info.group}/{info.version}" if info.group else f"/api/{info.version}"]
        if info.namespaced and namespace:
            parts.append(f"namespaces/{namespace}")
        parts.append(info.plural)
        if name is not None:
            if not name:
                raise ValueError("name must not be empty")
            parts.append(name)
            if subresource:
                parts.append(subresource)
        return "/".join(parts)

    def _ns(self, namespace: str | None, obj: Mapping[str, Any] | None = None) -> str | None:
        if not self.info.namespaced:
            return None
        ns = namespace or (_meta(obj).get("namespace") if obj is not None else None)
        if not ns:
            raise ValueError(f"{self.info.plural} are namespaced: a namespace is required")
        return str(ns)

    def _write_params(
        self, field_manager: str | None, dry_run: bool, extra: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        params: dict[str, Any] = dict(extra or {})
        manager = field_manager or self.api.field_manager
        if manager:
            params["fieldManager"] = manager
        if dry_run:
            params["dryRun"] = "All"
        return params

    # --- reads ----------------------------------------------------------------------------------------
    async def get(self, name: str, *, namespace: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = await self.api.request("GET", self.path(self._ns(namespace), name))
        return result

    async def list(
        self,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_: str | None = None,
        resource_version: str | None = None,
        resource_version_match: str | None = None,
        timeout_seconds: int | None = None,
    ) -> dict[str, Any]:
        """One page of the collection (a ``<Kind>List`` dict); follow ``metadata.continue`` for more."""
        params = {
            "labelSelector": label_selector or None,
            "fieldSelector": field_selector or None,
            "limit": limit or None,
            "continue": continue_ or None,
            "resourceVersion": resource_version,
            "resourceVersionMatch": resource_version_match,
            "timeoutSeconds": timeout_seconds,
        }
        ns = namespace if self.info.namespaced else None
        result: dict[str, Any] = await self.api.request("GET", self.path(ns), params=params)
        return result

    async def list_all(
        self,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 500,
    ) -> tuple[builtins.list[dict[str, Any]], str]:
        """Every item (following continue tokens) and the list's resourceVersion (a consistent snapshot)."""
        items: list[dict[str, Any]] = []
        token: str | None = None
        rv = ""
        while True:
            page = await self.list(
                namespace=namespace,
                label_selector=label_selector,
                field_selector=field_selector,
                limit=page_size,
                continue_=token,
            )
            items.extend(page.get("items") or [])
            md = page.get("metadata") or {}
            rv = rv or str(md.get("resourceVersion") or "")
            token = md.get("continue") or None
            if not token:
                return items, rv

    # --- writes ---------------------------------------------------------------------------------------
    async def create(
        self,
        obj: Mapping[str, Any],
        *,
        namespace: str | None = None,
        field_manager: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        ns = self._ns(namespace, obj)
        result: dict[str, Any] = await self.api.request(
            "POST", self.path(ns), body=obj, params=self._write_params(field_manager, dry_run)
        )
        return result

    async def update(
        self,
        obj: Mapping[str, Any],
        *,
        namespace: str | None = None,
        field_manager: str | None = None,
        dry_run: bool = False,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        """PUT the whole object; ``metadata.resourceVersion``, when set, makes it a compare-and-swap."""
        name = _meta(obj).get("name")
        if not name:
            raise ValueError("update needs metadata.name")
        path = self.path(self._ns(namespace, obj), str(name), subresource)
        result: dict[str, Any] = await self.api.request(
            "PUT", path, body=obj, params=self._write_params(field_manager, dry_run)
        )
        return result

    async def update_status(
        self,
        obj: Mapping[str, Any],
        *,
        namespace: str | None = None,
        field_manager: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        return await self.update(
            obj, namespace=namespace, field_manager=field_manager, dry_run=dry_run, subresource="status"
        )

    async def patch(
        self,
        name: str,
        patch: Any,
        *,
        namespace: str | None = None,
        patch_type: PatchType = "merge",
        field_manager: str | None = None,
        force: bool = False,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """PATCH with a merge (default), json, strategic or apply (server-side apply) patch."""
        content_type = PATCH_CONTENT_TYPES.get(patch_type)
        if content_type is None:
            raise ValueError(f"unknown patch type {patch_type!r}")
        params = self._write_params(field_manager, dry_run)
        if patch_type == "apply":
            if "fieldManager" not in params:
                raise ValueError("server-side apply needs a field_manager")
            if force:
                params["force"] = True
        elif force:
            raise ValueError("force is only valid for apply patches")
        result: dict[str, Any] = await self.api.request(
            "PATCH",
            self.path(self._ns(namespace), name, subresource),
            body=patch if isinstance(patch, bytes) else orjson.dumps(patch),
            content_type=content_type,
            params=params,
        )
        return result

    async def apply(
        self, obj: Mapping[str, Any], *, field_manager: str, force: bool = False, namespace: str | None = None
    ) -> dict[str, Any]:
        """Server-side apply of ``obj`` (its name and namespace are taken from its metadata)."""
        name = _meta(obj).get("name")
        if not name:
            raise ValueError("apply needs metadata.name")
        return await self.patch(
            str(name),
            obj,
            namespace=self._ns(namespace, obj),
            patch_type="apply",
            field_manager=field_manager,
            force=force,
        )

    async def delete(
        self,
        name: str,
        *,
        namespace: str | None = None,
        propagation_policy: Literal["Orphan", "Background", "Foreground"] | None = None,
        grace_period_seconds: int | None = None,
        preconditions: Mapping[str, str] | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """DELETE with DeleteOptions; ``preconditions`` may carry ``uid`` and ``resourceVersion``."""
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy is not None:
            options["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if preconditions:
            options["preconditions"] = dict(preconditions)
        if dry_run:
            options["dryRun"] = ["All"]
        result: dict[str, Any] = await self.api.request(
            "DELETE", self.path(self._ns(namespace), name), body=options
        )
        return result

    async def delete_collection(
        self,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        propagation_policy: Literal["Orphan", "Background", "Foreground"] | None = None,
    ) -> dict[str, Any]:
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy is not None:
            options["propagationPolicy"] = propagation_policy
        params = {"labelSelector": label_selector or None, "fieldSelector": field_selector or None}
        ns = self._ns(namespace) if self.info.namespaced else None
        result: dict[str, Any] = await self.api.request("DELETE", self.path(ns), body=options, params=params)
        return result

    # --- subresources ---------------------------------------------------------------------------------
    async def create_subresource(
        self,
        name: str,
        subresource: str,
        body: Mapping[str, Any],
        *,
        namespace: str | None = None,
        field_manager: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """POST to a subresource: ``pods/binding``, ``pods/eviction``, ..."""
        result: dict[str, Any] = await self.api.request(
            "POST",
            self.path(self._ns(namespace, body), name, subresource),
            body=body,
            params=self._write_params(field_manager, dry_run),
        )
        return result

    async def get_subresource(self, name: str, subresource: str, *, namespace: str | None = None) -> Any:
        return await self.api.request("GET", self.path(self._ns(namespace), name, subresource))

    async def update_subresource(
        self, name: str, subresource: str, body: Mapping[str, Any], *, namespace: str | None = None
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self.api.request(
            "PUT", self.path(self._ns(namespace, body), name, subresource), body=body
        )
        return result

    async def patch_subresource(
        self,
        name: str,
        subresource: str,
        patch: Any,
        *,
        namespace: str | None = None,
        patch_type: PatchType = "merge",
        field_manager: str | None = None,
    ) -> dict[str, Any]:
        return await self.patch(
            name,
            patch,
            namespace=namespace,
            patch_type=patch_type,
            field_manager=field_manager,
            subresource=subresource,
        )

    async def get_scale(self, name: str, *, namespace: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = await self.get_subresource(name, "scale", namespace=namespace)
        return result

    async def scale(self, name: str, replicas: int, *, namespace: str | None = None) -> dict[str, Any]:
        return await self.patch_subresource(
            name, "scale", {"spec": {"replicas": replicas}}, namespace=namespace
        )

    # --- watch ----------------------------------------------------------------------------------------
    def watch(
        self,
        *,
        namespace: str | None = None,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int | None = None,
        allow_bookmarks: bool = True,
        send_initial_events: bool | None = None,
    ) -> WatchStream:
        """Open (lazily, on first iteration) a watch. Use ``async with`` or ``close()`` to release it."""
        params: dict[str, Any] = {
            "watch": True,
            "resourceVersion": resource_version,
            "allowWatchBookmarks": allow_bookmarks or None,
            "labelSelector": label_selector or None,
            "fieldSelector": field_selector or None,
            "timeoutSeconds": timeout_seconds,
        }
        if send_initial_events is not None:
            params["sendInitialEvents"] = send_initial_events
            if send_initial_events:
                params["resourceVersionMatch"] = "NotOlderThan"
        ns = namespace if self.info.namespaced else None
        read_timeout = float(timeout_seconds) + 30.0 if timeout_seconds else None
        return WatchStream(self.api, self.path(ns), params, read_timeout, resource_version)


class WatchStream:
    """An async iterator of ``WatchEvent`` over one watch request.

    ``resource_version`` is the last resourceVersion seen (objects and bookmarks), the place to resume
    from. The stream ends (``StopAsyncIteration``) when the server closes it (timeout); an ERROR event
    raises ``WatchError`` / ``ResourceExpiredError``; a broken connection raises ``ApiConnectionError``.
    """

    def __init__(
        self,
        api: ApiClient,
        path: str,
        params: dict[str, Any],
        read_timeout: float | None,
        resource_version: str | None,
    ) -> None:
        self._api = api
        self._path = path
        self._params = params
        self._read_timeout = read_timeout
        self.resource_version = resource_version
        self._resp: aiohttp.ClientResponse | None = None
        self._gen: AsyncGenerator[WatchEvent, None] | None = None
        self._closed = False

    def __aiter__(self) -> WatchStream:
        return self

    async def __anext__(self) -> WatchEvent:
        if self._closed:
            raise StopAsyncIteration
        if self._gen is None:
            self._gen = self._events()
        return await self._gen.__anext__()

    async def _events(self) -> AsyncGenerator[WatchEvent, None]:
        try:
            self._resp = await self._api.open_stream(
                self._path, self._params, read_timeout=self._read_timeout
            )
        except StatusError as exc:
            raise _as_watch_error(exc) from None
        buf = b""
        try:
            async for chunk in self._resp.content.iter_any():
                buf += chunk
                while True:
                    nl = buf.find(b"\n")
                    if nl < 0:
                        break
                    line, buf = buf[:nl], buf[nl + 1 :]
                    if line.strip():
                        yield self._decode(line)
            if buf.strip():
                yield self._decode(buf)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ApiConnectionError(f"watch {self._path}: {type(exc).__name__}: {exc}") from exc
        finally:
            self._release()

    def _decode(self, line: bytes) -> WatchEvent:
        try:
            frame = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise ApiConnectionError(f"watch {self._path}: undecodable frame: {line[:200]!r}") from exc
        kind = str(frame.get("type") or "")
        obj = frame.get("object") or {}
        if kind == "ERROR":
            raise _as_watch_error(status_error_from(int(obj.get("code") or 500), obj))
        rv = _meta(obj).get("resourceVersion")
        if rv:
            self.resource_version = str(rv)
        return WatchEvent(kind, obj)

    def _release(self) -> None:
        if self._resp is not None:
            self._resp.close()
            self._resp = None

    async def close(self) -> None:
        """Release the connection; safe to call from another task while one is iterating."""
        self._closed = True
        self._release()
        gen, self._gen = self._gen, None
        if gen is not None:
            with contextlib.suppress(RuntimeError):  # "already running" when another task iterates
                await gen.aclose()

    async def __aenter__(self) -> WatchStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
