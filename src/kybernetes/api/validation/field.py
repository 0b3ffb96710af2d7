"""Field-error constructors, formatted like upstream's ``k8s.io/apimachinery/pkg/util/validation/field``.

Every validator in this package returns ``list[Cause]``; the helpers here build one ``Cause`` with the
reason (``FieldValueRequired``, ``FieldValueInvalid``...) and the message body that upstream's
``(*field.Error).ErrorBody()`` produces, so kubectl prints the same text. Field paths are plain strings
(``spec.template.spec.containers[0].image``); ``child``/``index``/``key`` build them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from kybernetes.api.errors import Cause

REQUIRED = "FieldValueRequired"
INVALID = "FieldValueInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
DUPLICATE = "FieldValueDuplicate"
FORBIDDEN = "FieldValueForbidden"
TOO_LONG = "FieldValueTooLong"
TOO_MANY = "FieldValueTooMany"
NOT_FOUND = "FieldValueNotFound"
TYPE_INVALID = "FieldValueTypeInvalid"

IMMUTABLE = "field is immutable"
IS_NEGATIVE = "must be greater than or equal to 0"

_TYPE_TEXT = {
    REQUIRED: "Required value",
    INVALID: "Invalid value",
    NOT_SUPPORTED: "Unsupported value",
    DUPLICATE: "Duplicate value",
    FORBIDDEN: "Forbidden",
    TOO_LONG: "Too long",
    TOO_MANY: "Too many",
    NOT_FOUND: "Not found",
    TYPE_INVALID: "Invalid value",
}


def child(path: str, *names: str) -> str:
    """``child("spec", "template")`` -> ``spec.template``."""
    for name in names:
        path = f"{path}.{name}" if path else name
    return path


def index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def key(path: str, k: str) -> str:
    return f"{path}[{k}]"


def go_quote(s: str) -> str:
    """Go's ``%q`` / ``strconv.Quote`` for a string."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif 0x80 <= o < 0xA0:
            out.append(f"\\u{o:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _go_float(v: float) -> str:
    if v == int(v) and abs(v) < 1e21:
        return str(int(v))
    text = repr(v)
    if "e" in text:
        mant, exp = text.split("e")
        sign = exp[0] if exp[0] in "+-" else "+"
        digits = exp.lstrip("+-").rjust(2, "0")
        return f"{mant}e{sign}{digits}"
    return text


def format_value(value: Any) -> str:
    """A bad value as ``ErrorBody`` renders it: ``%q`` strings, ``%v`` scalars, JSON otherwise."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        return go_quote(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=isinstance(value, dict))


class Raw(str):
    """A bad value that is rendered verbatim (Go's ``%#v`` of an internal struct, say)."""


def _body(reason: str, value: Any = None, detail: str = "", *, omit_value: bool = False) -> str:
    text = _TYPE_TEXT[reason]
    if not omit_value and reason not in (REQUIRED, FORBIDDEN, TOO_LONG):
        text += ": " + (str(value) if isinstance(value, Raw) else format_value(value))
    if detail:
        text += ": " + detail
    return text


def required(path: str, detail: str = "") -> Cause:
    return Cause(path, _body(REQUIRED, detail=detail), REQUIRED)


def invalid(path: str, value: Any, detail: str = "") -> Cause:
    return Cause(path, _body(INVALID, value, detail), INVALID)


def type_invalid(path: str, value: Any, detail: str = "") -> Cause:
    return Cause(path, _body(TYPE_INVALID, value, detail), TYPE_INVALID)


def not_supported(path: str, value: Any, supported: Sequence[str] = ()) -> Cause:
    detail = ""
    if supported:
        detail = "supported values: " + ", ".join(go_quote(str(v)) for v in supported)
    return Cause(path, _body(NOT_SUPPORTED, value, detail), NOT_SUPPORTED)


def duplicate(path: str, value: Any, detail: str = "") -> Cause:
    return Cause(path, _body(DUPLICATE, value, detail), DUPLICATE)


def not_found(path: str, value: Any) -> Cause:
    return Cause(path, _body(NOT_FOUND, value), NOT_FOUND)


def forbidden(path: str, detail: str) -> Cause:
    return Cause(path, _body(FORBIDDEN, detail=detail), FORBIDDEN)


def too_long(path: str, max_length: int) -> Cause:
    if max_length >= 0:
        unit = "byte" if max_length == 1 else "bytes"
        detail = f"may not be more than {max_length} {unit}"
    else:
        detail = "value is too long"
    return Cause(path, _body(TOO_LONG, detail=detail), TOO_LONG)


def too_many(path: str, actual: int, max_quantity: int) -> Cause:
    if max_quantity >= 0:
        unit = "item" if max_quantity == 1 else "items"
        detail = f"must have at most {max_quantity} {unit}"
    else:
        detail = "has too many items"
    return Cause(path, _body(TOO_MANY, actual, detail, omit_value=actual < 0), TOO_MANY)


def invalid_each(path: str, value: Any, messages: Iterable[str]) -> list[Cause]:
    """One ``Invalid`` cause per message (the shape of upstream's ``for _, msg := range IsX(v)``)."""
    return [invalid(path, value, msg) for msg in messages]


def immutable(new: Any, old: Any, path: str) -> list[Cause]:
    """``ValidateImmutableField``: ``Invalid value: <new>: field is immutable``."""
    if semantic_equal(new, old):
        return []
    return [invalid(path, new, IMMUTABLE)]


def nonnegative(value: Any, path: str) -> list[Cause]:
    """``ValidateNonnegativeField``."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        return [invalid(path, value, IS_NEGATIVE)]
    return []


def _normalize(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normalize(v) for k, v in value.items() if v is not None and v != []}
    if isinstance(value, list):
        return [_normalize(v) for v in value]
    return value


def semantic_equal(a: Any, b: Any) -> bool:
    """Equality like ``apiequality.Semantic.DeepEqual`` on wire dicts: null and empty lists equal absent."""
    if a is None or a == []:
        a = None
    if b is None or b == []:
        b = None
    return bool(_normalize(a) == _normalize(b))


def dedupe(causes: Iterable[Cause]) -> list[Cause]:
    """``ErrorList.ToAggregate`` drops exact duplicates; keep the first of each."""
    seen: set[tuple[str, str, str]] = set()
    out: list[Cause] = []
    for c in causes:
        k = (c.field, c.message, c.reason)
        if k not in seen:
            seen.add(k)
            out.append(c)
    return out
