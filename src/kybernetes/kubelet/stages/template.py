"""Expressions and structured templates of simulated-node stages (see ``kubelet/stages/__init__.py``).

Two small languages, both compiled once when a stage file is loaded into plain Python closures, so
evaluating them per object costs about what building the dict by hand would:

**Selector paths** (``matchExpressions[].key``, ``delay.durationFrom.expressionFrom``), a jq subset as
kwok uses: ``.metadata.deletionTimestamp``, ``.metadata.annotations["example.com/key"]``,
``.metadata.ownerReferences.[].kind`` (``[]`` iterates), and pipelines with ``select``:
``.status.conditions.[] | select(.type == "Ready") | .status``. A path yields a stream (a list) of the
non-null values it reaches.

**Template expressions**, inside ``${ ... }`` in a template string, shaped like Go templates: a path
(``.spec.containers``; ``.`` is the current item, ``$`` the whole object, ``$name`` a variable), a
literal (``"text"``, ``3``, ``true``, ``null``) or a call ``fn arg ...`` with parenthesised nesting:
``${or .status.startTime (now)}``. A string that is exactly one ``${...}`` takes the expression's value
(any type); other strings interpolate. Built-in functions: ``or``, ``and``, ``not``, ``eq``, ``ne``,
``if`` (``if cond a b``, lazy), ``int`` (``int value fallback``), ``concat``, ``sha1`` (of the
concatenated arguments), ``trunc`` (``trunc n text``), ``len``; the engine adds ``now`` and the agent
adds its own (e.g. ``podIP``, ``nodeIP``).

**Templates** are YAML values. In a mapping, ``$if: expr`` keeps the mapping only when ``expr`` is truthy
(else the key or list item disappears); ``$let: {name: expr}`` binds variables for the mapping's
subtree; ``{$range: expr, $each: template}`` renders ``template`` once per item of ``expr`` (``.`` is the
item) into a list (spliced into an enclosing list).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BUILTINS",
    "Context",
    "Expr",
    "TemplateError",
    "compile_expr",
    "compile_path",
    "compile_template",
]


class TemplateError(ValueError):
    """A malformed path, expression or template (raised at load time, with a ``where`` prefix)."""


@dataclass
class Context:
    """What an expression sees: the whole object (``$``), the current item (``.``), variables, functions."""

    root: Any
    dot: Any
    funcs: Mapping[str, Callable[..., Any]]
    vars: dict[str, Any] = field(default_factory=dict)

    def child(self, dot: Any) -> Context:
        return Context(self.root, dot, self.funcs, self.vars)

    def scope(self) -> Context:
        return Context(self.root, self.dot, self.funcs, dict(self.vars))


Expr = Callable[[Context], Any]
_OMIT = object()  # a template node that renders to nothing ($if false)


class _Splice(list[Any]):
    """A ``$range`` result: spliced into an enclosing list, a plain list elsewhere."""


# --- tokens -----------------------------------------------------------------------------------------------
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>"(?:[^"\\]|\\.)*")
    | (?P<num>-?\d+(?:\.\d+)?)
    | (?P<op>==|!=|\(|\)|\|)
    | (?P<path>(?:\$[A-Za-z_][A-Za-z0-9_]*|\$|\.(?:[A-Za-z_][A-Za-z0-9_-]*)?)(?:\.?\[\]|\.?\[\s*"(?:[^"\\]|\\.)*"\s*\]|\.[A-Za-z_][A-Za-z0-9_-]*)*)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
_SEGMENT = re.compile(r'\.?\[\]|\.?\[\s*("(?:[^"\\]|\\.)*")\s*\]|\.([A-Za-z_][A-Za-z0-9_-]*)')


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise TemplateError(f"cannot parse {text[pos:]!r} in {text!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _segments(path: str) -> tuple[str, list[str | None]]:
    """``$x.a["b"].[]`` -> (``$x``, ["a", "b", None]); None iterates."""
    if path.startswith("$"):
        m = re.match(r"\$[A-Za-z_][A-Za-z0-9_]*|\$", path)
        assert m is not None
        head, rest = m.group(0), path[m.end() :]
    else:
        head, rest = ".", path[1:]
        if rest and rest[0] not in ".[":
            rest = "." + rest
    segs: list[str | None] = []
    pos = 0
    while pos < len(rest):
        m = _SEGMENT.match(rest, pos)
        if not m:
            raise TemplateError(f"bad path {path!r}")
        if m.group(1) is not None:
            segs.append(json.loads(m.group(1)))
        elif m.group(2) is not None:
            segs.append(m.group(2))
        else:
            segs.append(None)
        pos = m.end()
    return head, segs


def _walk(values: list[Any], segs: list[str | None]) -> list[Any]:
    for seg in segs:
        nxt: list[Any] = []
        for v in values:
            if seg is None:
                if isinstance(v, list):
                    nxt.extend(v)
                elif isinstance(v, Mapping):
                    nxt.extend(v.values())
            elif isinstance(v, Mapping):
                if v.get(seg) is not None:
                    nxt.append(v[seg])
        values = nxt
    return [v for v in values if v is not None]


# --- selector paths (jq subset) ---------------------------------------------------------------------------
def compile_path(text: str) -> Callable[[Any], list[Any]]:
    """A jq-subset path over an object -> the list of non-null values it reaches (see the module doc)."""
    stages: list[Callable[[list[Any]], list[Any]]] = []
    for part in _split_pipes(text):
        part = part.strip()
        m = re.fullmatch(r"select\(\s*(.+?)\s*(==|!=)\s*(.+?)\s*\)", part)
        if m:
            inner = compile_path(m.group(1))
            literal = _literal(m.group(3), text)
            equal = m.group(2) == "=="

            def select(values: list[Any], inner=inner, literal=literal, equal=equal) -> list[Any]:
                return [v for v in values if (literal in inner(v)) == equal]

            stages.append(select)
            continue
        if not part.startswith("."):
            raise TemplateError(f"bad path {text!r}: {part!r} is neither a path (.a.b) nor select(...)")
        _, segs = _segments(part)

        def walk(values: list[Any], segs: list[str | None] = segs) -> list[Any]:
            return _walk(values, segs)

        stages.append(walk)

    def run(obj: Any) -> list[Any]:
        values = [obj]
        for stage in stages:
            values = stage(values)
        return values

    return run


def _split_pipes(text: str) -> list[str]:
    parts, depth, quoted, cur = [], 0, False, ""
    for i, ch in enumerate(text):
        if ch == '"' and (i == 0 or text[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and ch in "([":
            depth += 1
        elif not quoted and ch in ")]":
            depth -= 1
        if ch == "|" and not quoted and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    if not text.strip() or any(not p.strip() for p in parts):
        raise TemplateError(f"bad path {text!r}")
    return parts


def _literal(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise TemplateError(f"bad literal {text!r} in {where!r}") from None


# --- template expressions ---------------------------------------------------------------------------------
def _truthy(v: Any) -> bool:
    return v is not None and v is not False and v != "" and v != 0 and v != [] and v != {}


def _int(value: Any, fallback: Any = 0) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError):
        return fallback


BUILTINS: dict[str, Callable[..., Any]] = {
    "or": lambda *a: next((v for v in a if _truthy(v)), a[-1] if a else None),
    "and": lambda *a: next((v for v in a if not _truthy(v)), a[-1] if a else None),
    "not": lambda v: not _truthy(v),
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "int": _int,
    "concat": lambda *a: "".join("" if v is None else str(v) for v in a),
    "sha1": lambda *a: hashlib.sha1("".join(str(v) for v in a).encode()).hexdigest(),
    "trunc": lambda n, s: str(s)[: int(n)],
    "len": lambda v: len(v or ()),
}


def compile_expr(text: str, known: set[str] | None = None) -> Expr:
    """An expression (without ``${}``) -> a function of a ``Context``; unknown function names fail unless
    they are in ``known`` (functions the engine or agent supplies)."""
    tokens = _tokens(text)
    if not tokens:
        raise TemplateError("empty expression")
    names = set(BUILTINS) | {"if"} | (known or set())
    expr, pos = _parse_call(tokens, 0, text, names)
    if pos != len(tokens):
        raise TemplateError(f"unexpected {tokens[pos][1]!r} in {text!r}")
    return expr


def _parse_call(tokens: list[tuple[str, str]], pos: int, text: str, names: set[str]) -> tuple[Expr, int]:
    kind, value = tokens[pos]
    if kind == "ident" and value not in ("true", "false", "null"):
        if value not in names:
            raise TemplateError(f"unknown function {value!r} in {text!r}")
        args: list[Expr] = []
        pos += 1
        while pos < len(tokens) and tokens[pos][1] != ")":
            arg, pos = _parse_term(tokens, pos, text, names)
            args.append(arg)
        return _call(value, args), pos
    return _parse_term(tokens, pos, text, names)


def _call(name: str, args: list[Expr]) -> Expr:
    if name == "if":
        if len(args) not in (2, 3):
            raise TemplateError("if takes a condition and one or two values")
        cond, then = args[0], args[1]
        other = args[2] if len(args) == 3 else (lambda ctx: None)
        return lambda ctx: then(ctx) if _truthy(cond(ctx)) else other(ctx)

    def call(ctx: Context) -> Any:
        fn = ctx.funcs.get(name) or BUILTINS.get(name)
        if fn is None:
            raise TemplateError(f"function {name!r} is not available here")
        return fn(*(a(ctx) for a in args))

    return call


def _parse_term(tokens: list[tuple[str, str]], pos: int, text: str, names: set[str]) -> tuple[Expr, int]:
    if pos >= len(tokens):
        raise TemplateError(f"unexpected end of {text!r}")
    kind, value = tokens[pos]
    if value == "(":
        expr, pos = _parse_call(tokens, pos + 1, text, names)
        if pos >= len(tokens) or tokens[pos][1] != ")":
            raise TemplateError(f"missing ')' in {text!r}")
        return expr, pos + 1
    if kind in ("str", "num") or value in ("true", "false", "null"):
        lit = _literal(value, text)
        return (lambda ctx: lit), pos + 1
    if kind == "path":
        head, segs = _segments(value)
        if None in segs:
            raise TemplateError(f"[] iterates in selector paths only, not in templates: {value!r}")
        keys = [s for s in segs if s is not None]
        if head == ".":
            start: Expr = lambda ctx: ctx.dot  # noqa: E731
        elif head == "$":
            start = lambda ctx: ctx.root  # noqa: E731
        else:
            var = head[1:]
            start = lambda ctx: ctx.vars.get(var)  # noqa: E731

        def path(ctx: Context) -> Any:
            v = start(ctx)
            for k in keys:
                if not isinstance(v, Mapping):
                    return None
                v = v.get(k)
            return v

        return path, pos + 1
    if kind == "ident":
        if value not in names:
            raise TemplateError(f"unknown function {value!r} in {text!r}")
        return _call(value, []), pos + 1
    raise TemplateError(f"unexpected {value!r} in {text!r}")


# --- templates ----------------------------------------------------------------------------------------------
_INTERP = re.compile(r"\$\{(.*?)\}")


def compile_template(node: Any, known: set[str] | None = None, where: str = "") -> Callable[[Context], Any]:
    """A YAML value with ``${}`` expressions and ``$if`` / ``$let`` / ``$range`` -> a render function."""
    try:
        return _compile(node, known or set(), where)
    except TemplateError as exc:
        raise TemplateError(
            f"{where}: {exc}" if where and not str(exc).startswith(where) else str(exc)
        ) from None


def _compile(node: Any, known: set[str], where: str) -> Callable[[Context], Any]:
    if isinstance(node, str):
        return _compile_str(node, known, where)
    if isinstance(node, list):
        items = [_compile(v, known, f"{where}[{i}]") for i, v in enumerate(node)]

        def render_list(ctx: Context) -> Any:
            out: list[Any] = []
            for item in items:
                v = item(ctx)
                if v is _OMIT:
                    continue
                if isinstance(v, _Splice):
                    out.extend(v)
                else:
                    out.append(v)
            return out

        return render_list
    if isinstance(node, Mapping):
        return _compile_map(node, known, where)
    return lambda ctx: node


def _compile_str(text: str, known: set[str], where: str) -> Callable[[Context], Any]:
    whole = _INTERP.fullmatch(text.strip())
    if whole and "${" not in whole.group(1):
        return compile_expr(whole.group(1), known)
    parts: list[str | Expr] = []
    pos = 0
    for m in _INTERP.finditer(text):
        parts.append(text[pos : m.start()])
        parts.append(compile_expr(m.group(1), known))
        pos = m.end()
    if not parts:
        return lambda ctx: text
    parts.append(text[pos:])

    def interpolate(ctx: Context) -> str:
        return "".join(p if isinstance(p, str) else _text(p(ctx)) for p in parts)

    return interpolate


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _compile_map(node: Mapping[str, Any], known: set[str], where: str) -> Callable[[Context], Any]:
    for key in node:
        if not isinstance(key, str):
            raise TemplateError(f"{where}: mapping keys must be strings, not {key!r}")
        if key.startswith("$") and key not in ("$if", "$let", "$range", "$each"):
            raise TemplateError(f"{where}: unknown directive {key!r} (known: $if, $let, $range, $each)")
    cond = _compile_str(str(node["$if"]), known, where) if "$if" in node else None
    lets: list[tuple[str, Callable[[Context], Any]]] = []
    if "$let" in node:
        if not isinstance(node["$let"], Mapping):
            raise TemplateError(f"{where}.$let: must be a mapping of name: expression")
        lets = [(str(k), _compile(v, known, f"{where}.$let.{k}")) for k, v in node["$let"].items()]
    if ("$range" in node) != ("$each" in node):
        raise TemplateError(f"{where}: $range and $each go together")
    if "$range" in node:
        if set(node) - {"$range", "$each", "$if", "$let"}:
            raise TemplateError(f"{where}: a $range mapping holds only $range, $each, $if and $let")
        over = _compile_str(str(node["$range"]), known, f"{where}.$range")
        each = _compile(node["$each"], known, f"{where}.$each")

        def body(ctx: Context) -> Any:
            items = over(ctx) or []
            out = _Splice()
            for item in items if isinstance(items, list) else list(items):
                v = each(ctx.child(item))
                if v is not _OMIT:
                    out.append(v)
            return out

    else:
        fields = [
            (k, _compile(v, known, f"{where}.{k}" if where else k))
            for k, v in node.items()
            if not k.startswith("$")
        ]

        def body(ctx: Context) -> Any:
            out: dict[str, Any] = {}
            for k, render in fields:
                v = render(ctx)
                if v is not _OMIT:
                    out[k] = list(v) if isinstance(v, _Splice) else v
            return out

    def render(ctx: Context) -> Any:
        if lets:
            ctx = ctx.scope()
            for name, value in lets:
                ctx.vars[name] = value(ctx)
        if cond is not None and not _truthy(cond(ctx)):
            return _OMIT
        return body(ctx)

    return render
