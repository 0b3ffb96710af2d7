"""Shared helpers of the patch engines: JSON-value comparison (copying is ``api.meta.deep_copy``), and the
Status errors.

Objects here are plain JSON values (dict, list, str, int, float, bool, None). Comparisons follow
JSON rather than Python: ``True`` is not ``1``, while ``1`` and ``1.0`` are the same number.
Neighbours: every engine module in this package imports from here; nothing here knows about schemas.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import orjson

from kybernetes.api.errors import StatusError, bad_request
from kybernetes.api.meta import deep_copy as deep_copy  # the engines' JSON-value copy lives in api/meta

# Upstream's NewGenericServerResponse(422, ...) text, used for JSON patch apply failures and for the
# strategic merge patch errors upstream maps to 422.
REJECTED = "the server rejected our request due to an error in our request"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values: booleans are not numbers, ints equal the same floats."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if _is_number(a) or _is_number(b):
        return _is_number(a) and _is_number(b) and a == b
    if isinstance(a, dict):
        if not isinstance(b, dict) or a.keys() != b.keys():
            return False
        return all(json_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        if not isinstance(b, list) or len(a) != len(b):
            return False
        return all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def value_key(value: Any) -> Hashable:
    """A hashable key for a JSON value such that ``value_key(a) == value_key(b)`` iff ``json_equal(a, b)``."""
    if isinstance(value, bool):
        return ("b", value)
    if _is_number(value):
        return ("n", float(value)) if value == value else ("n", "nan")
    if isinstance(value, str):
        return ("s", value)
    if value is None:
        return ("z",)
    try:
        return ("j", orjson.dumps(_normalize(value), option=orjson.OPT_SORT_KEYS))
    except (TypeError, orjson.JSONEncodeError):
        return ("r", repr(value))


def _normalize(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _normalize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize(v) for v in value]
    if _is_number(value):
        return float(value)
    return value


def json_kind(value: Any) -> str:
    """The JSON type name of a value, as upstream's error messages would spell it."""
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "slice"
    if isinstance(value, bool):
        return "bool"
    if _is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    return "null"


class PatchError(Exception):
    """An engine-internal failure; converted to a ``StatusError`` at the public boundary."""

    def __init__(self, message: str, code: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def to_status(self) -> StatusError:
        if self.code == 400:
            return bad_request(self.message)
        return unprocessable(self.message)


def unprocessable(message: str = REJECTED) -> StatusError:
    """422 Invalid without causes, like upstream's ``NewGenericServerResponse(422, ...)``."""
    return StatusError(422, "Invalid", message)
