"""HTTP verb handlers for resource paths: routes a request to ``Operations`` and encodes the answer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from aiohttp import web

from kybernetes.api import errors, meta
from kybernetes.api.registry import ResourceInfo
from kybernetes.api.selectors import parse_field_selector, parse_label_selector
from kybernetes.apiserver import codec, shape, subresources
from kybernetes.apiserver.context import ApiContext
from kybernetes.apiserver.operations import Operations, Outcome
from kybernetes.apiserver.options import DeleteOptions, ListOptions, WriteOptions
from kybernetes.apiserver.request import Target
from kybernetes.apiserver.resource_store import parse_resource_version
from kybernetes.apiserver.strategies.base import Strategy
from kybernetes.apiserver.watch import ObjectEvent, WatchClosed

log = logging.getLogger(__name__)

DEFAULT_WATCH_TIMEOUT = 1800
BOOKMARK_INTERVAL = 60.0


def _manager(request: web.Request, opts: WriteOptions) -> str:
    if opts.field_manager:
        return opts.field_manager
    agent = request.headers.get("User-Agent", "unknown")
    return agent.split("/", 1)[0] or "unknown"


def _warning_headers(warnings: list[str]) -> dict[str, str]:
    if not warnings:
        return {}

    # aiohttp takes one value per header name; upstream sends one Warning header per message.
    # Field names come from client input: escape quotes and drop control characters.
    def clean(text: str) -> str:
        text = "".join(ch if ch.isprintable() else "?" for ch in text)
        return text.replace("\\", "\\\\").replace('"', '\\"')

    return {"Warning": ", ".join(f'299 - "{clean(w)}"' for w in warnings)}


def _success_status(info: ResourceInfo, obj: dict[str, Any]) -> dict[str, Any]:
    md = obj.get("metadata") or {}
    # metav1.StatusDetails' Go field order: name, group, kind, uid
    details: dict[str, Any] = {"name": md.get("name")}
    if info.group:
        details["group"] = info.group
    details["kind"] = info.plural
    details["uid"] = md.get("uid")
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}


class ResourceHandlers:
    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx

    # --- entry ---------------------------------------------------------------------------------------
    async def dispatch(self, request: web.Request, target: Target) -> web.StreamResponse:
        method = request.method
        sub = target.subresource
        if target.legacy_watch:
            if method != "GET":
                raise errors.method_not_allowed(f"{method} is not allowed on watch paths")
            return await self.list_or_watch(request, target, force_watch=True)
        if sub is None:
            self._check_verb(method, target)
        if sub in ("status", "finalize", "approval") or sub is None:
            if target.name is None:
                if method == "GET":
                    return await self.list_or_watch(request, target)
                if method == "POST":
                    return await self.create(request, target)
                if method == "DELETE":
                    return await self.delete_collection(request, target)
                raise errors.method_not_allowed(f"{method} is not supported on a collection")
            if method == "GET":
                return await self.get(request, target)
            if method == "PUT":
                return await self.update(request, target)
            if method == "PATCH":
                return await self.patch(request, target)
            if method == "DELETE" and sub is None:
                return await self.delete(request, target)
            raise errors.method_not_allowed(f"{method} is not supported on this resource")
        return await subresources.dispatch(self, request, target)

    @staticmethod
    def _check_verb(method: str, target: Target) -> None:
        collection = target.name is None
        verb = {
            "GET": "list" if collection else "get",
            "POST": "create",
            "PUT": "update",
            "PATCH": "patch",
            "DELETE": "deletecollection" if collection else "delete",
        }.get(method)
        if verb is None or verb not in target.info.verbs:
            raise errors.method_not_allowed("the server does not allow this method on the requested resource")

    def strategy(self, info: ResourceInfo) -> Strategy:
        """The behaviour of ``info``'s kind (its storage version's strategy)."""
        return self.ctx.resource_store(info).strategy

    def ops(self, target: Target) -> Operations:
        return Operations(self.ctx, target.info)

    def _name(self, target: Target) -> str:
        assert target.name is not None
        return target.name

    def _namespace(self, target: Target) -> str | None:
        return target.namespace if target.info.namespaced else None

    def _require_namespace(self, target: Target) -> None:
        if target.info.namespaced and target.namespace is None and target.name is not None:
            raise errors.not_found_raw("the server could not find the requested resource")

    # --- reads ---------------------------------------------------------------------------------------
    async def get(self, request: web.Request, target: Target) -> web.StreamResponse:
        self._require_namespace(target)
        if self.strategy(target.info).computed:
            return await self._get_computed(request, target)
        obj = await self.ctx.resource_store(target.info).get(self._namespace(target), self._name(target))
        return self.render_object(request, target.info, obj)

    def render_object(
        self,
        request: web.Request,
        info: ResourceInfo,
        obj: dict[str, Any],
        status: int = 200,
        warnings: list[str] | None = None,
    ) -> web.StreamResponse:
        headers = _warning_headers(warnings or [])
        table_version = codec.wants_table(request.headers.get("Accept"))
        if table_version:
            table = self.table(info, [obj], request)
            table["metadata"] = {"resourceVersion": obj.get("metadata", {}).get("resourceVersion", "")}
            return codec.json_response(table, status, headers=headers)
        return codec.respond(request, codec.upstream_order(obj), status, headers=headers)

    def table(
        self, info: ResourceInfo, objects: list[dict[str, Any]], request: web.Request
    ) -> dict[str, Any]:
        include = request.query.get("includeObject", "Metadata")
        storage = self.ctx.registry.storage_info(info)
        originals = objects
        if storage is not info:
            # Upstream prints from the internal version: every served version shows the same columns.
            view = self.ctx.resource_store(info)
            objects = [view.to_storage(obj) for obj in objects]
        columns = self.ctx.crd_columns.get((info.group, info.version, info.plural)) if info.custom else None
        table = self.strategy(info).to_table(objects, include_object=include, crd_columns=columns)
        if objects is not originals and include == "Object":
            for row, obj in zip(table.get("rows") or [], originals, strict=False):
                row["object"] = obj  # embedded objects stay in the request's version
        version = codec.wants_table(request.headers.get("Accept")) or "v1"
        table["apiVersion"] = f"meta.k8s.io/{version}"
        return table

    def _matcher(self, info: ResourceInfo, opts: ListOptions):
        strategy = self.strategy(info)
        label_sel = parse_label_selector(opts.label_selector) if opts.label_selector else None
        field_sel = parse_field_selector(opts.field_selector) if opts.field_selector else None
        if field_sel is not None:
            field_sel = strategy.validate_field_selector(field_sel)
        if label_sel is None and field_sel is None:
            return None

        def matches(obj: dict[str, Any]) -> bool:
            if label_sel is not None and not label_sel.matches(meta.labels(obj)):
                return False
            return field_sel is None or field_sel.matches(strategy.object_fields(obj))

        return matches

    async def list_or_watch(
        self, request: web.Request, target: Target, *, force_watch: bool = False
    ) -> web.StreamResponse:
        opts = ListOptions.parse(request.query)
        info = target.info
        if target.name is not None:
            # legacy /watch/.../<name>: a watch on one object
            opts = ListOptions(
                **{
                    **opts.__dict__,
                    "field_selector": ",".join(
                        filter(None, [opts.field_selector, f"metadata.name={target.name}"])
                    ),
                }
            )
        matches = self._matcher(info, opts)
        if self.strategy(info).computed:
            if opts.watch or force_watch:
                raise errors.method_not_allowed(
                    "the server does not allow this method on the requested resource"
                )
            return await self._list_computed(request, target, matches)
        if opts.watch or force_watch:
            return await self.watch(request, target, opts, matches)
        rs = self.ctx.resource_store(info)
        result = await rs.list(
            self._namespace(target),
            matches=matches,
            limit=opts.limit,
            continue_token=opts.continue_token,
            resource_version=opts.resource_version,
            resource_version_match=opts.resource_version_match,
        )
        list_meta: dict[str, Any] = {"resourceVersion": str(result.resource_version)}
        if result.continue_token:
            list_meta["continue"] = result.continue_token
            if result.remaining is not None:
                list_meta["remainingItemCount"] = result.remaining
        if codec.wants_table(request.headers.get("Accept")):
            table = self.table(info, result.items, request)
            table["metadata"] = list_meta
            return codec.json_response(table)
        for item in result.items:
            item["apiVersion"] = info.group_version
            item["kind"] = info.kind
        body = {
            "kind": info.list_kind,
            "apiVersion": info.group_version,
            "metadata": list_meta,
            "items": result.items,
        }
        return codec.respond(request, body)

    # --- computed resources (never stored) ------------------------------------------------------------
    async def _get_computed(self, request: web.Request, target: Target) -> web.StreamResponse:
        strategy = self.strategy(target.info)
        for item in await strategy.computed_items(self.ctx):
            if item["metadata"]["name"] == target.name:
                return self.render_object(request, target.info, item, warnings=list(strategy.read_warnings))
        raise errors.not_found(target.info.plural, self._name(target), target.info.group)

    async def _list_computed(self, request: web.Request, target: Target, matches: Any) -> web.StreamResponse:
        strategy = self.strategy(target.info)
        items = [i for i in await strategy.computed_items(self.ctx) if matches is None or matches(i)]
        headers = _warning_headers(list(strategy.read_warnings))
        if codec.wants_table(request.headers.get("Accept")):
            table = self.table(target.info, items, request)
            table["metadata"] = {}
            return codec.json_response(table, headers=headers)
        info = target.info
        body = {"kind": info.list_kind, "apiVersion": info.group_version, "metadata": {}, "items": items}
        return codec.respond(request, body, headers=headers)

    # --- watch ---------------------------------------------------------------------------------------
    async def watch(
        self, request: web.Request, target: Target, opts: ListOptions, matches
    ) -> web.StreamResponse:
        info = target.info
        rs = self.ctx.resource_store(info)
        namespace = self._namespace(target)
        as_table = codec.wants_table(request.headers.get("Accept")) is not None
        rv_text = opts.resource_version
        initial: list[dict[str, Any]] = []
        send_initial = opts.send_initial_events
        if send_initial is None:
            send_initial = rv_text in (None, "", "0")
        elif send_initial and opts.resource_version_match != "NotOlderThan":
            raise errors.invalid(
                "ListOptions",
                "",
                [
                    errors.Cause(
                        "resourceVersionMatch",
                        "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                        "FieldValueForbidden",
                    )
                ],
                "meta.k8s.io",
            )
        if send_initial:
            listed = await rs.list(namespace, matches=matches)
            initial = listed.items
            after = listed.resource_version
        else:
            after = parse_resource_version(rv_text) or 0
            current = await self.ctx.store.current_revision()
            if after > current:
                raise errors.StatusError(
                    504, "Timeout", f"Too large resource version: {after}, current: {current}"
                )
        timeout = (
            opts.timeout_seconds
            if opts.timeout_seconds and opts.timeout_seconds > 0
            else DEFAULT_WATCH_TIMEOUT
        )
        response = web.StreamResponse(status=200)
        response.content_type = "application/json"
        response.enable_chunked_encoding()
        await response.prepare(request)

        def frame(kind: str, obj: dict[str, Any]) -> bytes:
            if as_table and kind not in ("BOOKMARK", "ERROR"):
                table = self.table(info, [obj], request)
                table["metadata"] = {"resourceVersion": obj.get("metadata", {}).get("resourceVersion", "")}
                obj = table
            elif kind not in ("BOOKMARK", "ERROR"):
                obj["apiVersion"] = info.group_version
                obj["kind"] = info.kind
            return codec.dumps({"type": kind, "object": obj})

        def bookmark(revision: int, initial_end: bool = False) -> bytes:
            md: dict[str, Any] = {"resourceVersion": str(revision)}
            if initial_end:
                md["annotations"] = {"k8s.io/initial-events-end": "true"}
            return frame("BOOKMARK", {"kind": info.kind, "apiVersion": info.group_version, "metadata": md})

        deadline = time.monotonic() + timeout
        with contextlib.suppress(ConnectionResetError, asyncio.CancelledError):
            for obj in initial:
                await response.write(frame("ADDED", obj))
            if send_initial and opts.allow_bookmarks and opts.send_initial_events:
                await response.write(bookmark(after, initial_end=True))
            await self._stream_events(
                response, rs, namespace, after, matches, deadline, opts, frame, bookmark
            )
        with contextlib.suppress(Exception):
            await response.write_eof()
        return response

    async def _stream_events(
        self, response, rs, namespace, after, matches, deadline, opts, frame, bookmark
    ) -> None:
        events = rs.watch(namespace, after).__aiter__()
        last_rev = after
        interval = self.ctx.watch_bookmark_interval or BOOKMARK_INTERVAL
        next_bookmark = time.monotonic() + interval
        pending: asyncio.Task[ObjectEvent] | None = None
        try:
            while True:
                now = time.monotonic()
                if now >= deadline:
                    return
                wait = deadline - now
                if opts.allow_bookmarks:
                    wait = min(wait, max(0.0, next_bookmark - now))
                if pending is None:
                    pending = asyncio.ensure_future(events.__anext__())
                done, _ = await asyncio.wait({pending}, timeout=wait)
                if not done:
                    if opts.allow_bookmarks and time.monotonic() >= next_bookmark:
                        await response.write(bookmark(last_rev))
                        next_bookmark = time.monotonic() + interval
                    continue
                task, pending = pending, None
                try:
                    event = task.result()
                except StopAsyncIteration:
                    return
                except WatchClosed:
                    return
                except errors.StatusError as exc:
                    await response.write(frame("ERROR", exc.to_status()))
                    return
                last_rev = event.revision
                out = self._filter_event(event, matches)
                if out is not None:
                    await response.write(frame(out[0], out[1]))
        finally:
            if pending is not None:
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending
            with contextlib.suppress(BaseException):
                await events.aclose()

    @staticmethod
    def _filter_event(event: ObjectEvent, matches) -> tuple[str, dict[str, Any]] | None:
        obj = dict(event.obj)
        obj["metadata"] = dict(obj.get("metadata") or {})
        obj["metadata"]["resourceVersion"] = str(event.revision)
        if matches is None:
            return event.type, obj
        now_matches = matches(obj)
        if event.type == "DELETED":
            return ("DELETED", obj) if now_matches else None
        was = event.prev is not None and matches(event.prev)
        if event.type == "ADDED" or event.prev is None:
            return ("ADDED", obj) if now_matches else None
        if now_matches and was:
            return "MODIFIED", obj
        if now_matches:
            return "ADDED", obj
        if was:
            return "DELETED", obj
        return None

    # --- writes --------------------------------------------------------------------------------------
    async def _body(self, request: web.Request) -> bytes:
        return await codec.read_body(request)

    async def create(self, request: web.Request, target: Target) -> web.StreamResponse:
        redirect = self.strategy(target.info).create_as_subresource
        if redirect is not None:
            return await subresources.create_as_subresource(self, request, target, redirect)
        if target.info.namespaced and target.namespace is None:
            raise errors.method_not_allowed("POST on a namespaced collection needs a namespace in the path")
        opts = WriteOptions.parse(request.query)
        obj = codec.decode_object(request.headers.get("Content-Type"), await self._body(request))
        outcome = await self.ops(target).create(obj, target.namespace, opts, manager=_manager(request, opts))
        await self._after_write(target.info, outcome, opts.dry_run)
        return self.render_object(request, target.info, outcome.obj, 201, outcome.warnings)

    async def update(self, request: web.Request, target: Target) -> web.StreamResponse:
        self._require_namespace(target)
        opts = WriteOptions.parse(request.query)
        body = codec.decode_object(request.headers.get("Content-Type"), await self._body(request))
        sub = target.subresource
        if sub == "finalize":
            shape.decode_as("io.k8s.api.core.v1.Namespace", body)
            return await self._finalize(request, target, body, opts)
        outcome = await self.ops(target).update(
            self._name(target),
            self._namespace(target),
            body,
            opts,
            subresource=sub,
            manager=_manager(request, opts),
        )
        await self._after_write(target.info, outcome, opts.dry_run)
        return self.render_object(request, target.info, outcome.obj, 200, outcome.warnings)

    async def _finalize(
        self, request: web.Request, target: Target, body: dict[str, Any], opts: WriteOptions
    ) -> web.StreamResponse:
        rs = self.ctx.resource_store(target.info)

        def mutate(current: dict[str, Any]) -> dict[str, Any]:
            spec = raw if isinstance(raw := body.get("spec"), dict) else {}
            current.setdefault("spec", {})["finalizers"] = list(spec.get("finalizers") or [])
            return current

        _, stored = await rs.guaranteed_update(None, self._name(target), mutate, dry_run=opts.dry_run)
        return self.render_object(request, target.info, stored)

    async def patch(self, request: web.Request, target: Target) -> web.StreamResponse:
        self._require_namespace(target)
        mt = codec.media_type(request.headers.get("Content-Type"))
        if mt not in codec.PATCH_TYPES:
            raise errors.unsupported_media_type(
                f"the body of the request was in an unknown format - accepted media types include: "
                f"{', '.join(codec.PATCH_TYPES)}"
            )
        if mt == "application/strategic-merge-patch+json" and target.info.custom:
            raise errors.unsupported_media_type(
                "the body of the request was in an unknown format - accepted media types include: "
                "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
            )
        opts = WriteOptions.parse(request.query)
        body = await self._body(request)
        ops = self.ops(target)
        if mt == codec.APPLY_PATCH:
            outcome = await ops.apply(
                self._name(target), self._namespace(target), body, opts, subresource=target.subresource
            )
        else:
            outcome = await ops.patch(
                self._name(target),
                self._namespace(target),
                mt,
                body,
                opts,
                subresource=target.subresource,
                manager=_manager(request, opts),
            )
        await self._after_write(target.info, outcome, opts.dry_run)
        return self.render_object(
            request, target.info, outcome.obj, 201 if outcome.created else 200, outcome.warnings
        )

    async def _after_write(self, info: ResourceInfo, outcome: Outcome, dry_run: bool) -> None:
        if not dry_run:
            await self.strategy(info).after_write(self.ctx, outcome.obj)

    async def _delete_body(self, request: web.Request) -> dict[str, Any] | None:
        """The DeleteOptions a DELETE carries, in JSON, YAML or protobuf (Helm's release storage
        sends protobuf); an empty body is no options."""
        raw = await self._body(request)
        if not raw.strip():
            return None
        return codec.decode_object(request.headers.get("Content-Type"), raw)

    async def delete(self, request: web.Request, target: Target) -> web.StreamResponse:
        self._require_namespace(target)
        opts = DeleteOptions.parse(request.query, await self._delete_body(request))
        obj, deleted = await self.ops(target).delete(self._name(target), self._namespace(target), opts)
        info = target.info
        if deleted and not opts.dry_run:
            await self._after_delete(info, obj)
        # Upstream: 202 only for an object left in place when orphanDependents was explicitly false;
        # an object left in place (finalizers, graceful deletion) is always returned, a removed one only
        # by the resources whose store returns the deleted object, the others answer a Status.
        status = 202 if not deleted and opts.orphan_dependents is False else 200
        if not deleted or info.returns_deleted_object:
            obj["apiVersion"] = info.group_version
            obj["kind"] = info.kind
            return self.render_object(request, info, obj, status)
        return codec.respond(request, _success_status(info, obj), status)

    async def _after_delete(self, info: ResourceInfo, obj: dict[str, Any]) -> None:
        await self.strategy(info).after_delete(self.ctx, obj)

    async def delete_collection(self, request: web.Request, target: Target) -> web.StreamResponse:
        list_opts = ListOptions.parse(request.query)
        del_opts = DeleteOptions.parse(request.query, await self._delete_body(request))
        matches = self._matcher(target.info, list_opts)
        rs = self.ctx.resource_store(target.info)
        listed = await rs.list(self._namespace(target), matches=matches)
        ops = self.ops(target)
        deleted: list[dict[str, Any]] = []
        for item in listed.items:
            md = item["metadata"]
            with contextlib.suppress(errors.StatusError):
                obj, _ = await ops.delete(md["name"], md.get("namespace"), del_opts)
                obj["apiVersion"] = target.info.group_version
                obj["kind"] = target.info.kind
                deleted.append(obj)
        body = {
            "kind": target.info.list_kind,
            "apiVersion": target.info.group_version,
            "metadata": {"resourceVersion": str(await self.ctx.store.current_revision())},
            "items": deleted,
        }
        return codec.respond(request, body)
