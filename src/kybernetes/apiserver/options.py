"""Typed views of the query parameters and DeleteOptions a request carries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from multidict import MultiMapping

from kybernetes.api import errors

FIELD_VALIDATION = ("Strict", "Warn", "Ignore")


def _bool(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


def _int(query: MultiMapping[str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise errors.bad_request(f"invalid value for {name}: {raw!r} is not an integer") from None


def dry_run(query: MultiMapping[str]) -> bool:
    values = query.getall("dryRun", [])
    for value in values:
        if value != "All":
            raise errors.bad_request(f'unsupported dryRun value "{value}": only "All" is supported')
    return bool(values)


@dataclass(frozen=True)
class WriteOptions:
    dry_run: bool
    field_manager: str | None
    field_validation: str
    force: bool

    @classmethod
    def parse(cls, query: MultiMapping[str], *, default_validation: str = "Warn") -> WriteOptions:
        validation = query.get("fieldValidation") or default_validation
        if validation not in FIELD_VALIDATION:
            raise errors.bad_request(
                f'fieldValidation parameter unsupported value: "{validation}" (supported values: Strict, Warn, Ignore)'
            )
        manager = query.get("fieldManager")
        if manager is not None and len(manager) > 128:
            raise errors.bad_request("fieldManager is too long: must be at most 128 characters")
        return cls(
            dry_run=dry_run(query),
            field_manager=manager,
            field_validation=validation,
            force=_bool(query.get("force")),
        )


@dataclass(frozen=True)
class ListOptions:
    label_selector: str
    field_selector: str
    limit: int
    continue_token: str | None
    resource_version: str | None
    resource_version_match: str | None
    watch: bool
    allow_bookmarks: bool
    timeout_seconds: int | None
    send_initial_events: bool | None

    @classmethod
    def parse(cls, query: MultiMapping[str]) -> ListOptions:
        limit = _int(query, "limit") or 0
        if limit < 0:
            raise errors.bad_request("limit must be non-negative")
        sie = query.get("sendInitialEvents")
        return cls(
            label_selector=query.get("labelSelector", ""),
            field_selector=query.get("fieldSelector", ""),
            limit=limit,
            continue_token=query.get("continue") or None,
            resource_version=query.get("resourceVersion"),
            resource_version_match=query.get("resourceVersionMatch") or None,
            watch=_bool(query.get("watch")),
            allow_bookmarks=_bool(query.get("allowWatchBookmarks")),
            timeout_seconds=_int(query, "timeoutSeconds"),
            send_initial_events=None if sie is None else _bool(sie),
        )


@dataclass(frozen=True)
class DeleteOptions:
    grace_period_seconds: int | None
    propagation_policy: str | None
    precondition_uid: str | None
    precondition_rv: str | None
    dry_run: bool
    # orphanDependents exactly as sent (None when absent): upstream answers 202 to a delete that leaves
    # the object in place only when it was explicitly false.
    orphan_dependents: bool | None = None

    @classmethod
    def parse(cls, query: MultiMapping[str], body: dict[str, Any] | None) -> DeleteOptions:
        body = body or {}
        if body.get("kind") not in (None, "DeleteOptions"):
            raise errors.bad_request(f"expected DeleteOptions, got {body.get('kind')}")
        grace = body.get("gracePeriodSeconds")
        if grace is None:
            grace = _int(query, "gracePeriodSeconds")
        elif not isinstance(grace, int) or isinstance(grace, bool):
            raise errors.bad_request("gracePeriodSeconds must be an integer")
        policy = body.get("propagationPolicy") or query.get("propagationPolicy")
        orphan = body.get("orphanDependents")
        if orphan is None and query.get("orphanDependents") is not None:
            orphan = _bool(query.get("orphanDependents"))
        if policy is None and orphan is not None:
            policy = "Orphan" if orphan else "Background"
        if policy not in (None, "Orphan", "Background", "Foreground"):
            raise errors.invalid(
                "DeleteOptions",
                "",
                [
                    errors.Cause(
                        "propagationPolicy",
                        f'Unsupported value: "{policy}": supported values: "Foreground", "Background", "Orphan", "nil"',
                        "FieldValueNotSupported",
                    )
                ],
            )
        pre = body.get("preconditions") or {}
        if not isinstance(pre, dict):
            raise errors.bad_request("preconditions must be an object")
        dry = dry_run(query)
        body_dry = body.get("dryRun")
        if isinstance(body_dry, list) and body_dry:
            if body_dry != ["All"]:
                raise errors.bad_request('unsupported dryRun value: only "All" is supported')
            dry = True
        return cls(
            grace_period_seconds=grace,
            propagation_policy=policy,
            precondition_uid=pre.get("uid"),
            precondition_rv=pre.get("resourceVersion"),
            dry_run=dry,
            orphan_dependents=orphan if isinstance(orphan, bool) else None,
        )
