"""A JSONPath subset with client-go's semantics, for CRD printer columns and selectable fields.

Supported (``k8s.io/client-go/util/jsonpath`` spelling, optionally wrapped in ``{...}`` and rooted at
``$`` or ``@``): fields ``.a.b`` (``\\.`` escapes a dot inside a name), quoted fields ``['a.b/c']``,
indexes ``[0]`` and ``[-1]``, slices ``[1:3]``/``[::2]``, wildcards ``[*]``/``.*``, recursive descent
``..name`` and filters ``[?(@.type=="Ready")]`` with ``== != < > <= >=`` or bare existence
``[?(@.x)]``. Missing keys and out-of-range indexes yield no result (``AllowMissingKeys(true)``), which
is how the apiserver evaluates CRD columns.

``find`` returns every match in document order; ``print_text`` renders one value the way
``JSONPath.PrintResults`` does (maps and lists as compact JSON, scalars as Go's ``fmt`` prints them).
Used by ``tables/custom.py`` and ``selectors.object_fields``.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = ["JSONPath", "JSONPathError", "compile_path", "find", "print_text"]


class JSONPathError(ValueError):
    """The expression is outside the supported subset or malformed."""


Step = Callable[[list[Any]], list[Any]]


def _field(name: str) -> Step:
    def step(values: list[Any]) -> list[Any]:
        if name == "":
            return values
        return [v[name] for v in values if isinstance(v, Mapping) and name in v]

    return step


def _wildcard(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if isinstance(v, list):
            out.extend(v)
        elif isinstance(v, Mapping):
            out.extend(v[k] for k in sorted(v))
    return out


def _descendants(value: Any) -> list[Any]:
    out = [value]
    children = value.values() if isinstance(value, Mapping) else value if isinstance(value, list) else ()
    for child in children:
        out.extend(_descendants(child))
    return out


def _recursive(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        out.extend(_descendants(v))
    return out


def _index(position: int) -> Step:
    def step(values: list[Any]) -> list[Any]:
        out = []
        for v in values:
            if isinstance(v, list) and -len(v) <= position < len(v):
                out.append(v[position])
        return out

    return step


def _slice(start: int | None, end: int | None, stride: int | None) -> Step:
    if stride == 0:
        raise JSONPathError("step must be > 0")

    def step(values: list[Any]) -> list[Any]:
        out: list[Any] = []
        for v in values:
            if isinstance(v, list):
                out.extend(v[start:end:stride])
        return out

    return step


_MISSING = object()
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


@dataclass(frozen=True)
class _Operand:
    path: JSONPath | None = None
    literal: Any = None

    def value(self, item: Any, root: Any) -> Any:
        if self.path is None:
            return self.literal
        found = self.path.find(root if self.path.from_root else item)
        return found[0] if len(found) == 1 else _MISSING


def _compare(op: str, left: Any, right: Any) -> bool:
    if left is _MISSING or right is _MISSING:
        return False
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    numbers = (int, float)
    if isinstance(left, numbers) != isinstance(right, numbers) and op != "!=":
        return False
    try:
        return _COMPARISONS[op](left, right)
    except TypeError:
        return False


def _filter(left: _Operand, op: str | None, right: _Operand | None, root_holder: list[Any]) -> Step:
    def keep(item: Any) -> bool:
        root = root_holder[0] if root_holder else item
        lhs = left.value(item, root)
        if op is None:
            return lhs is not _MISSING
        assert right is not None
        return _compare(op, lhs, right.value(item, root))

    def step(values: list[Any]) -> list[Any]:
        out: list[Any] = []
        for v in values:
            if isinstance(v, list):
                out.extend(item for item in v if keep(item))
        return out

    return step


@dataclass
class JSONPath:
    """A compiled expression; ``find(obj)`` returns all matches (possibly none)."""

    source: str
    steps: list[Step]
    from_root: bool = True
    _root: list[Any] | None = None

    def find(self, obj: Any) -> list[Any]:
        holder = self._root if self._root is not None else []
        holder[:] = [obj]
        values = [obj]
        for step in self.steps:
            values = step(values)
            if not values:
                break
        return values


_NAME_END = frozenset(".[")


def _read_name(text: str, pos: int) -> tuple[str, int]:
    out = []
    while pos < len(text) and text[pos] not in _NAME_END:
        if text[pos] == "\\" and pos + 1 < len(text):
            pos += 1
        out.append(text[pos])
        pos += 1
    return "".join(out), pos


def _read_bracket(text: str, pos: int) -> tuple[str, int]:
    """Content between ``[`` at ``pos`` and its matching ``]``, honouring quotes and nesting."""
    depth, quote, i = 0, "", pos
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in ")]":
            depth -= 1
            if depth == 0:
                return text[pos + 1 : i], i + 1
        i += 1
    raise JSONPathError(f"unclosed array expect ] in {text!r}")


_QUOTED = re.compile(r"""^\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*$""")
_SLICE = re.compile(r"^\s*(-?\d+)?\s*:\s*(-?\d+)?\s*(?::\s*(-?\d+)?\s*)?$")
_FILTER_OPS = ("==", "!=", "<=", ">=", "<", ">")


def _unquote(match: re.Match[str]) -> str:
    raw = match.group(1) if match.group(1) is not None else match.group(2)
    return re.sub(r"\\(.)", r"\1", raw)


def _split_filter(body: str) -> tuple[str, str | None, str | None]:
    quote = ""
    i = 0
    while i < len(body):
        ch = body[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        else:
            for op in _FILTER_OPS:
                if body.startswith(op, i):
                    return body[:i].strip(), op, body[i + len(op) :].strip()
        i += 1
    return body.strip(), None, None


def _literal(text: str) -> Any:
    quoted = _QUOTED.match(text)
    if quoted:
        return _unquote(quoted)
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise JSONPathError(f"unrecognized filter operand {text!r}") from None


def _operand(text: str) -> _Operand:
    if text.startswith(("@", "$")):
        return _Operand(path=compile_path(text))
    return _Operand(literal=_literal(text))


def _bracket_step(content: str, root_holder: list[Any]) -> Step:
    body = content.strip()
    if body == "*":
        return _wildcard
    if body.startswith("?"):
        inner = body[1:].strip()
        if not (inner.startswith("(") and inner.endswith(")")):
            raise JSONPathError(f"unrecognized filter {content!r}")
        left, op, right = _split_filter(inner[1:-1])
        return _filter(_operand(left), op, _operand(right) if right is not None else None, root_holder)
    quoted = _QUOTED.match(body)
    if quoted:
        return _field(_unquote(quoted))
    sliced = _SLICE.match(body)
    if sliced:
        start, end, stride = (int(g) if g is not None else None for g in sliced.groups())
        return _slice(start, end, stride)
    try:
        return _index(int(body))
    except ValueError:
        raise JSONPathError(f"unrecognized array index {content!r}") from None


def _strip(expr: str) -> tuple[str, bool]:
    text = expr.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    from_root = True
    if text.startswith("$"):
        text = text[1:]
    elif text.startswith("@"):
        text, from_root = text[1:], False
    return text, from_root


@functools.lru_cache(maxsize=512)
def compile_path(expr: str) -> JSONPath:
    """Parse ``expr`` once; raises ``JSONPathError`` for anything outside the subset."""
    text, from_root = _strip(expr)
    root_holder: list[Any] = []
    steps: list[Step] = []
    pos = 0
    while pos < len(text):
        if text.startswith("..", pos):
            steps.append(_recursive)
            name, pos = _read_name(text, pos + 2)
            steps.append(_wildcard if name == "*" else _field(name))
        elif text[pos] == ".":
            name, pos = _read_name(text, pos + 1)
            steps.append(_wildcard if name == "*" else _field(name))
        elif text[pos] == "[":
            content, pos = _read_bracket(text, pos)
            steps.append(_bracket_step(content, root_holder))
        else:
            raise JSONPathError(f"unrecognized character in action: {text[pos]!r} in {expr!r}")
    return JSONPath(expr, steps, from_root, root_holder)


def find(expr: str, obj: Any) -> list[Any]:
    """All values ``expr`` selects in ``obj``; ``[]`` when nothing matches."""
    return compile_path(expr).find(obj)


def go_float(value: float) -> str:
    """Go's ``%v`` for a float64: shortest digits, exponent form unless ``1e-4 <= |x| < 1e6``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    mantissa = "".join(map(str, digits))
    exp = len(digits) + exponent - 1
    prefix = "-" if sign else ""
    if exp < -4 or exp >= 6:
        head, tail = mantissa[0], mantissa[1:]
        body = head + ("." + tail if tail else "")
        return f"{prefix}{body}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    return prefix + format(Decimal(repr(abs(value))).normalize(), "f")


def _go_json(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def print_text(value: Any) -> str:
    """One value as ``PrintResults`` writes it: compact JSON for maps/lists, else Go's ``fmt``."""
    if isinstance(value, (Mapping, list)):
        return _go_json(value)
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    return str(value)
