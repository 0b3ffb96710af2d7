"""Kubernetes ``Status`` errors.

Every failure a client sees is a ``metav1.Status`` with the HTTP code, reason and (for 422) field
causes that upstream's ``k8s.io/apimachinery/pkg/api/errors`` would produce. Raise ``StatusError``
anywhere below the HTTP layer; the apiserver turns it into a response.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Cause:
    """One field-level cause of an Invalid error (``details.causes[]``)."""

    field: str
    message: str
    reason: str = "FieldValueInvalid"

    def to_dict(self) -> dict[str, str]:
        # metav1.StatusCause's Go field order; every field is omitempty
        out = {"reason": self.reason}
        if self.message:
            out["message"] = self.message
        if self.field:
            out["field"] = self.field
        return out


@dataclass
class StatusError(Exception):
    """An error that maps one-to-one onto a Kubernetes Status response."""

    code: int
    reason: str
    message: str
    name: str | None = None
    group: str | None = None
    kind: str | None = None
    causes: list[Cause] = field(default_factory=list)
    retry_after_seconds: int | None = None
    # upstream sets ``Details`` (a pointer) on some errors even when it is empty: ``"details":{}``
    empty_details: bool = False
    list_continue: str | None = None  # Status.metadata.continue (a 410 offering an inconsistent continuation)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def to_status(self) -> dict[str, Any]:
        """The ``metav1.Status`` in its Go struct order, empty ``omitempty`` fields left out, as
        upstream's JSON encoding prints it (``kind, apiVersion, metadata, status, message, reason,
        details, code``; details ``name, group, kind, uid, causes, retryAfterSeconds``)."""
        details: dict[str, Any] = {}
        if self.name:
            details["name"] = self.name
        if self.group:
            details["group"] = self.group
        if self.kind:
            details["kind"] = self.kind
        if self.causes:
            details["causes"] = [c.to_dict() for c in self.causes]
        if self.retry_after_seconds:
            details["retryAfterSeconds"] = self.retry_after_seconds
        status: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure"}
        if self.list_continue:
            status["metadata"] = {"continue": self.list_continue}
        if self.message:
            status["message"] = self.message
        if self.reason:
            status["reason"] = self.reason
        if details or self.empty_details:
            status["details"] = details
        if self.code:
            status["code"] = self.code
        return status


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, name: str, group: str = "") -> StatusError:
    return StatusError(
        404,
        "NotFound",
        f'{_qualified(resource, group)} "{name}" not found',
        name=name,
        group=group,
        kind=resource,
    )


def already_exists(resource: str, name: str, group: str = "") -> StatusError:
    return StatusError(
        409,
        "AlreadyExists",
        f'{_qualified(resource, group)} "{name}" already exists',
        name=name,
        group=group,
        kind=resource,
    )


def conflict(resource: str, name: str, detail: str, group: str = "") -> StatusError:
    return StatusError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {detail}',
        name=name,
        group=group,
        kind=resource,
    )


def invalid(kind: str, name: str, causes: list[Cause], group: str = "") -> StatusError:
    """422 Invalid, message formatted like upstream's ``NewInvalid``."""
    parts = [f"{c.field}: {c.message}" if c.field else c.message for c in causes]
    if len(parts) == 1:
        joined = parts[0]
    else:
        joined = "[" + ", ".join(parts) + "]"
    qualified = f"{kind}.{group}" if group else kind
    return StatusError(
        422,
        "Invalid",
        f'{qualified} "{name}" is invalid: {joined}',
        name=name,
        group=group,
        kind=kind,
        causes=causes,
    )


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def json_kind(value: Any) -> str:
    """The JSON type of ``value`` as Go's encoding/json names it in an unmarshal error."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "null"


def cannot_unmarshal(value: Any, go_type: str) -> StatusError:
    """Upstream's 400 for a JSON value of the wrong type for ``go_type`` (encoding/json's UnmarshalTypeError)."""
    return bad_request(f"json: cannot unmarshal {json_kind(value)} into Go value of type {go_type}")


def method_not_allowed(message: str) -> StatusError:
    # upstream's 405s come from NewGenericServerResponse / NewMethodNotSupported, which always set
    # Details: an empty one still prints as ``"details":{}``
    return StatusError(405, "MethodNotAllowed", message, empty_details=True)


def not_acceptable(message: str) -> StatusError:
    return StatusError(406, "NotAcceptable", message)


def unsupported_media_type(message: str) -> StatusError:
    return StatusError(415, "UnsupportedMediaType", message)


def too_large(message: str = "the request entity is too large") -> StatusError:
    return StatusError(413, "RequestEntityTooLarge", message)


def gone(message: str) -> StatusError:
    return StatusError(410, "Expired", message)


def forbidden(resource: str, name: str, message: str, group: str = "") -> StatusError:
    return StatusError(
        403,
        "Forbidden",
        f'{_qualified(resource, group)} "{name}" is forbidden: {message}',
        name=name,
        group=group,
        kind=resource,
    )


def internal(message: str = "an internal error occurred") -> StatusError:
    return StatusError(500, "InternalError", message)


def timeout(message: str) -> StatusError:
    return StatusError(504, "Timeout", message)


def not_found_raw(message: str = "the server could not find the requested resource") -> StatusError:
    """404 for paths that name no resource: upstream's generic NotFound (``NewGenericServerResponse``),
    whose Status carries an empty ``details``."""
    return StatusError(404, "NotFound", message, empty_details=True)
