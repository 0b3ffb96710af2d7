"""Label and field selectors, with upstream's syntax, validation, messages and per-resource field sets.

Pure vocabulary, no I/O. Semantics follow ``k8s.io/apimachinery/pkg/labels`` (selector grammar, lexer,
``NewRequirement`` validation, ``Matches``), ``pkg/fields`` (``=``/``==``/``!=`` terms with ``\\``
escapes) and, for which field labels each resource accepts and exposes, the field-label conversion
functions in ``pkg/apis/*/v1`` and the ``ToSelectableFields`` of each registry strategy.

Error policy:

- strings from a request (``labelSelector=``, ``fieldSelector=``) raise ``StatusError`` 400 BadRequest
  whose message is upstream's (``unable to parse requirement: ...``, ``field label not supported: x``);
- ``metav1.LabelSelector`` objects (``label_selector_from_dict``) raise ``InvalidSelectorError``, a
  ``ValueError``: the caller knows the field path and decides between a 422 cause, a controller event or
  a log line.

Callers filtering a list should run ``validate_field_selector`` (which also rewrites aliases such as
``spec.host`` and the ``events.k8s.io`` names to the internal labels) and match its result against
``object_fields``; ``object_fields`` also carries those aliases so an unconverted selector still matches.
Both take a kind's ``FieldRules`` (the named ``*_FIELDS`` rows here), which its strategy in
``apiserver/strategies`` binds. Neighbours: ``errors.py``, ``jsonpath.py`` (CRD selectable fields).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any

from kybernetes.api import jsonpath
from kybernetes.api.errors import bad_request
from kybernetes.api.validation.names import is_qualified_name, is_valid_label_value

__all__ = [
    "CSR_FIELDS",
    "DEFAULT_FIELD_RULES",
    "EVENT_FIELDS",
    "EVENT_V1_FIELDS",
    "JOB_FIELDS",
    "NAMESPACE_FIELDS",
    "NODE_FIELDS",
    "POD_FIELDS",
    "REPLICATION_CONTROLLER_FIELDS",
    "REPLICA_SET_FIELDS",
    "SECRET_FIELDS",
    "SERVICE_FIELDS",
    "FieldRequirement",
    "FieldRules",
    "FieldSelector",
    "InvalidSelectorError",
    "LabelSelector",
    "Requirement",
    "custom_field_rules",
    "everything",
    "format_label_selector",
    "label_selector_from_dict",
    "label_selector_from_set",
    "nothing",
    "object_fields",
    "parse_field_selector",
    "parse_label_selector",
    "validate_field_selector",
]


class InvalidSelectorError(ValueError):
    """A ``metav1.LabelSelector`` object that cannot be turned into a selector (upstream's message)."""


# ---------------------------------------------------------------------------------------------------
# Error text of selector validation, as upstream prints it (key and value checks: ``validation.names``).


def _go_quote(value: str) -> str:
    """Close to Go's ``%q`` for the strings that show up in selector errors."""
    return json.dumps(value, ensure_ascii=False)


def _invalid(path: str, value: Any, detail: str) -> str:
    """``field.Invalid(path, value, detail).Error()``; an absent path prints as ``<nil>``."""
    shown = _go_quote(value) if isinstance(value, str) else json.dumps(value)
    return f"{path or '<nil>'}: Invalid value: {shown}: {detail}"


def _aggregate(messages: list[str]) -> str:
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


# ---------------------------------------------------------------------------------------------------
# Label requirements and selectors.


class Operator(StrEnum):
    """``selection.Operator`` values."""

    IN = "in"
    NOT_IN = "notin"
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    GREATER_THAN = "gt"
    LESS_THAN = "lt"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"


_BINARY_OPERATORS = "in, notin, =, ==, !=, gt, lt"
_INT64_RE = re.compile(r"^[+-]?[0-9]+$")


def _parse_int64(value: str) -> int | None:
    if not _INT64_RE.match(value):
        return None
    number = int(value)
    return number if -(2**63) <= number < 2**63 else None


@dataclass(frozen=True)
class Requirement:
    """One ``key op values`` term; build it with ``Requirement.new`` to get upstream's validation."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    @classmethod
    def new(cls, key: str, operator: Operator, values: Iterable[str], *, path: str = "") -> Requirement:
        """``labels.NewRequirement``; raises ``InvalidSelectorError`` with the aggregated message."""
        vals = list(values)
        errs = _requirement_errors(key, operator, vals, path)
        if errs:
            raise InvalidSelectorError(_aggregate(errs))
        return cls(key, operator, tuple(vals))

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op in (Operator.IN, Operator.EQUALS, Operator.DOUBLE_EQUALS):
            return self.key in labels and labels[self.key] in self.values
        if op in (Operator.NOT_IN, Operator.NOT_EQUALS):
            return self.key not in labels or labels[self.key] not in self.values
        if op is Operator.EXISTS:
            return self.key in labels
        if op is Operator.DOES_NOT_EXIST:
            return self.key not in labels
        return self._matches_numeric(labels)

    def _matches_numeric(self, labels: Mapping[str, str]) -> bool:
        if self.key not in labels or len(self.values) != 1:
            return False
        have, want = _parse_int64(labels[self.key]), _parse_int64(self.values[0])
        if have is None or want is None:
            return False
        return have > want if self.operator is Operator.GREATER_THAN else have < want

    def __str__(self) -> str:
        op = self.operator
        if op is Operator.EXISTS:
            return self.key
        if op is Operator.DOES_NOT_EXIST:
            return "!" + self.key
        values = ",".join(sorted(self.values)) if len(self.values) > 1 else "".join(self.values)
        if op in (Operator.IN, Operator.NOT_IN):
            return f"{self.key} {op.value} ({values})"
        symbol = {Operator.GREATER_THAN: ">", Operator.LESS_THAN: "<"}.get(op, op.value)
        return f"{self.key}{symbol}{values}"


def _values_repr(values: list[str]) -> str:
    return json.dumps(values) if values else "null"


def _requirement_errors(key: str, op: Operator, vals: list[str], path: str) -> list[str]:
    def child(name: str) -> str:
        return f"{path}.{name}" if path else name

    errs = []
    key_errs = is_qualified_name(key)
    if key_errs:
        errs.append(_invalid(child("key"), key, "; ".join(key_errs)))
    values_path = child("values")
    if op in (Operator.IN, Operator.NOT_IN) and not vals:
        errs.append(
            f"{values_path}: Invalid value: null: for 'in', 'notin' operators, values set can't be empty"
        )
    elif op in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS) and len(vals) != 1:
        detail = "exact-match compatibility requires one single value"
        errs.append(f"{values_path}: Invalid value: {_values_repr(vals)}: {detail}")
    elif op in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and vals:
        detail = "values set must be empty for exists and does not exist"
        errs.append(f"{values_path}: Invalid value: {_values_repr(vals)}: {detail}")
    elif op in (Operator.GREATER_THAN, Operator.LESS_THAN):
        errs.extend(_numeric_value_errors(vals, values_path))
    for i, value in enumerate(vals):
        value_errs = is_valid_label_value(value)
        if value_errs:
            errs.append(_invalid(f"{values_path}[{i}][{key}]", value, "; ".join(value_errs)))
    return errs


def _numeric_value_errors(vals: list[str], values_path: str) -> list[str]:
    errs = []
    if len(vals) != 1:
        detail = "for 'Gt', 'Lt' operators, exactly one value is required"
        errs.append(f"{values_path}: Invalid value: {_values_repr(vals)}: {detail}")
    for i, value in enumerate(vals):
        if _parse_int64(value) is None:
            detail = "for 'Gt', 'Lt' operators, the value must be an integer"
            errs.append(_invalid(f"{values_path}[{i}]", value, detail))
    return errs


@dataclass(frozen=True)
class LabelSelector:
    """An AND of requirements, sorted by key; ``nothing`` selectors match no object at all."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    @property
    def empty(self) -> bool:
        """True when the selector does not restrict anything (upstream ``Empty()``)."""
        return not self.nothing and not self.requirements

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        have = labels or {}
        return all(r.matches(have) for r in self.requirements)

    def requires_exact_match(self, key: str) -> str | None:
        """The single value ``key`` must have (``=``, ``==`` or a one-value ``in``), if any."""
        for r in self.requirements:
            if r.key == key:
                exact = (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.IN)
                return r.values[0] if r.operator in exact and len(r.values) == 1 else None
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def everything() -> LabelSelector:
    return LabelSelector()


def nothing() -> LabelSelector:
    return LabelSelector(nothing=True)


def _sorted_by_key(reqs: Iterable[Requirement]) -> tuple[Requirement, ...]:
    return tuple(sorted(reqs, key=lambda r: r.key))


def label_selector_from_set(labels: Mapping[str, str] | None) -> LabelSelector:
    """``labels.SelectorFromSet``: equality on every pair, no validation; empty matches everything."""
    reqs = (Requirement(k, Operator.EQUALS, (v,)) for k, v in (labels or {}).items())
    return LabelSelector(_sorted_by_key(reqs))


_DICT_OPERATORS = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
}


def label_selector_from_dict(selector: Mapping[str, Any] | None) -> LabelSelector:
    """``metav1.LabelSelectorAsSelector``: ``None`` selects nothing, ``{}`` selects everything.

    Raises ``InvalidSelectorError`` (a ``ValueError``) with upstream's message on a bad operator, key or
    value; callers map it to a 422 cause or a controller event as they see fit.
    """
    if selector is None:
        return nothing()
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    reqs = [Requirement.new(k, Operator.EQUALS, [v]) for k, v in match_labels.items()]
    for expr in expressions:
        op = _DICT_OPERATORS.get(expr.get("operator"))
        if op is None:
            raise InvalidSelectorError(
                f"{_go_quote(str(expr.get('operator', '')))} is not a valid label selector operator"
            )
        reqs.append(Requirement.new(str(expr.get("key", "")), op, list(expr.get("values") or [])))
    return LabelSelector(_sorted_by_key(reqs))


def format_label_selector(selector: Mapping[str, Any] | None) -> str:
    """``metav1.FormatLabelSelector``: ``<none>`` for nil/empty, ``<error>`` when invalid."""
    try:
        text = str(label_selector_from_dict(selector))
    except InvalidSelectorError:
        return "<error>"
    return text or "<none>"


# ---------------------------------------------------------------------------------------------------
# Label selector lexer and parser (labels.Parse).


class _Tok(Enum):
    ERROR = 0
    END = 1
    CLOSED_PAR = 2
    COMMA = 3
    NOT = 4
    DOUBLE_EQUALS = 5
    EQUALS = 6
    GREATER_THAN = 7
    IDENTIFIER = 8
    IN = 9
    LESS_THAN = 10
    NOT_EQUALS = 11
    NOT_IN = 12
    OPEN_PAR = 13


_LITERALS = {
    ")": _Tok.CLOSED_PAR,
    ",": _Tok.COMMA,
    "!": _Tok.NOT,
    "==": _Tok.DOUBLE_EQUALS,
    "=": _Tok.EQUALS,
    ">": _Tok.GREATER_THAN,
    "in": _Tok.IN,
    "<": _Tok.LESS_THAN,
    "!=": _Tok.NOT_EQUALS,
    "notin": _Tok.NOT_IN,
    "(": _Tok.OPEN_PAR,
}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")
_OPERATOR_TOKENS = {
    _Tok.IN: Operator.IN,
    _Tok.EQUALS: Operator.EQUALS,
    _Tok.DOUBLE_EQUALS: Operator.DOUBLE_EQUALS,
    _Tok.GREATER_THAN: Operator.GREATER_THAN,
    _Tok.LESS_THAN: Operator.LESS_THAN,
    _Tok.NOT_IN: Operator.NOT_IN,
    _Tok.NOT_EQUALS: Operator.NOT_EQUALS,
}


def _lex(text: str) -> list[tuple[_Tok, str]]:
    """Split a selector into (token, literal) pairs, ending with ``END``."""
    items: list[tuple[_Tok, str]] = []
    pos, n = 0, len(text)
    while True:
        while pos < n and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= n:
            items.append((_Tok.END, ""))
            return items
        if text[pos] in _SPECIAL:
            tok, lit, pos = _scan_special(text, pos)
        else:
            start = pos
            while pos < n and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE:
                pos += 1
            lit = text[start:pos]
            tok = _LITERALS.get(lit, _Tok.IDENTIFIER)
        items.append((tok, lit))


def _scan_special(text: str, pos: int) -> tuple[_Tok, str, int]:
    """Longest run of special characters that still forms an operator."""
    last: tuple[_Tok, str] | None = None
    buffer = ""
    while pos < len(text) and text[pos] in _SPECIAL:
        buffer += text[pos]
        tok = _LITERALS.get(buffer)
        if tok is not None:
            last = (tok, buffer)
        elif last is not None:
            break
        pos += 1
    if last is None:
        return _Tok.ERROR, f"error expected: keyword found '{buffer}'", pos
    return last[0], last[1], pos


class _SyntaxError(Exception):
    pass


class _Parser:
    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.position = 0

    def lookahead(self, values: bool = True) -> tuple[_Tok, str]:
        return self._as_context(self.items[self.position], values)

    def consume(self, values: bool = True) -> tuple[_Tok, str]:
        item = self.items[self.position]
        self.position += 1
        return self._as_context(item, values)

    @staticmethod
    def _as_context(item: tuple[_Tok, str], values: bool) -> tuple[_Tok, str]:
        tok, lit = item
        if values and tok in (_Tok.IN, _Tok.NOT_IN):
            return _Tok.IDENTIFIER, lit
        return tok, lit

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self.lookahead()
            if tok is _Tok.END:
                return reqs
            if tok not in (_Tok.IDENTIFIER, _Tok.NOT):
                raise _SyntaxError(f"found '{lit}', expected: !, identifier, or 'end of string'")
            try:
                reqs.append(self.requirement())
            except (_SyntaxError, InvalidSelectorError) as exc:
                raise _SyntaxError(f"unable to parse requirement: {exc}") from None
            tok, lit = self.consume()
            if tok is _Tok.END:
                return reqs
            if tok is not _Tok.COMMA:
                raise _SyntaxError(f"found '{lit}', expected: ',' or 'end of string'")
            tok2, lit2 = self.lookahead()
            if tok2 not in (_Tok.IDENTIFIER, _Tok.NOT):
                raise _SyntaxError(f"found '{lit2}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        key, operator = self.key_and_inferred_operator()
        if operator is not None:
            return Requirement.new(key, operator, [])
        operator = self.operator()
        if operator in (Operator.IN, Operator.NOT_IN):
            values = self.value_set()
        else:
            values = self.exact_value()
        return Requirement.new(key, operator, sorted(values))

    def key_and_inferred_operator(self) -> tuple[str, Operator | None]:
        operator = None
        tok, lit = self.consume()
        if tok is _Tok.NOT:
            operator = Operator.DOES_NOT_EXIST
            tok, lit = self.consume()
        if tok is not _Tok.IDENTIFIER:
            raise _SyntaxError(f"found '{lit}', expected: identifier")
        key_errs = is_qualified_name(lit)
        if key_errs:
            raise _SyntaxError(_invalid("", lit, "; ".join(key_errs)))
        if self.lookahead()[0] in (_Tok.END, _Tok.COMMA) and operator is None:
            operator = Operator.EXISTS
        return lit, operator

    def operator(self) -> Operator:
        tok, lit = self.consume(values=False)
        operator = _OPERATOR_TOKENS.get(tok)
        if operator is None:
            raise _SyntaxError(f"found '{lit}', expected: {_BINARY_OPERATORS}")
        return operator

    def value_set(self) -> set[str]:
        tok, lit = self.consume()
        if tok is not _Tok.OPEN_PAR:
            raise _SyntaxError(f"found '{lit}' expected: '('")
        tok, lit = self.lookahead()
        if tok in (_Tok.IDENTIFIER, _Tok.COMMA):
            values = self.identifiers()
            if self.consume()[0] is not _Tok.CLOSED_PAR:
                raise _SyntaxError(f"found '{lit}', expected: ')'")
            return values
        if tok is _Tok.CLOSED_PAR:
            self.consume()
            return {""}
        raise _SyntaxError(f"found '{lit}', expected: ',', ')' or identifier")

    def identifiers(self) -> set[str]:
        values: set[str] = set()
        while True:
            tok, lit = self.consume()
            if tok is _Tok.IDENTIFIER:
                values.add(lit)
                tok2, lit2 = self.lookahead()
                if tok2 is _Tok.CLOSED_PAR:
                    return values
                if tok2 is not _Tok.COMMA:
                    raise _SyntaxError(f"found '{lit2}', expected: ',' or ')'")
            elif tok is _Tok.COMMA:
                if not values:
                    values.add("")
                tok2, _ = self.lookahead()
                if tok2 is _Tok.CLOSED_PAR:
                    values.add("")
                    return values
                if tok2 is _Tok.COMMA:
                    self.consume()
                    values.add("")
            else:
                raise _SyntaxError(f"found '{lit}', expected: ',', or identifier")

    def exact_value(self) -> set[str]:
        if self.lookahead()[0] in (_Tok.END, _Tok.COMMA):
            return {""}
        tok, lit = self.consume()
        if tok is _Tok.IDENTIFIER:
            return {lit}
        raise _SyntaxError(f"found '{lit}', expected: identifier")


def parse_label_selector(text: str) -> LabelSelector:
    """``labels.Parse``: the full set-based grammar; raises ``StatusError`` 400 on bad input."""
    try:
        reqs = _Parser(text).parse()
    except _SyntaxError as exc:
        raise bad_request(str(exc)) from None
    return LabelSelector(_sorted_by_key(reqs))


# ---------------------------------------------------------------------------------------------------
# Field selectors (fields.ParseSelector).


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    operator: str  # "=", "==" or "!="
    value: str

    def matches(self, fields: Mapping[str, str]) -> bool:
        equal = fields.get(self.field, "") == self.value
        return not equal if self.operator == "!=" else equal

    def __str__(self) -> str:
        op = "!=" if self.operator == "!=" else "="
        return f"{self.field}{op}{escape_field_value(self.value)}"


@dataclass(frozen=True)
class FieldSelector:
    """An AND of field terms, in upstream's order (terms sorted as strings before parsing)."""

    requirements: tuple[FieldRequirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all(r.matches(fields) for r in self.requirements)

    def requires_exact_match(self, field: str) -> str | None:
        for r in self.requirements:
            if r.field == field and r.operator != "!=":
                return r.value
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def escape_field_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _split_terms(text: str) -> list[str]:
    terms, start, in_slash = [], 0, False
    for i, ch in enumerate(text):
        if in_slash:
            in_slash = False
        elif ch == "\\":
            in_slash = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    for i in range(len(term)):
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op) :]
    return None


def _unescape_field_value(value: str) -> str:
    if not any(c in value for c in "\\,="):
        return value
    out, in_slash = [], False
    for ch in value:
        if in_slash:
            if ch not in "\\,=":
                raise bad_request(f"invalid field selector: invalid escape sequence: \\{ch}")
            out.append(ch)
            in_slash = False
        elif ch == "\\":
            in_slash = True
        elif ch in ",=":
            raise bad_request(f"invalid field selector: unescaped character in value: {ord(ch)}")
        else:
            out.append(ch)
    if in_slash:
        raise bad_request("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def parse_field_selector(text: str) -> FieldSelector:
    """``fields.ParseSelector``; raises ``StatusError`` 400 with upstream's message on bad input."""
    terms = sorted(_split_terms(text)) if text else []
    reqs = []
    for term in terms:
        if not term:
            continue
        split = _split_term(term)
        if split is None:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        field, op, raw = split
        reqs.append(FieldRequirement(field, op, _unescape_field_value(raw)))
    return FieldSelector(tuple(reqs))


# ---------------------------------------------------------------------------------------------------
# Which field labels each resource accepts (conversion funcs) and exposes (ToSelectableFields).

_META = ("metadata.name", "metadata.namespace")
_EVENT_LABELS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)
# events.k8s.io label -> internal (core) label.
_EVENTS_V1_ALIASES = {
    "regarding.kind": "involvedObject.kind",
    "regarding.namespace": "involvedObject.namespace",
    "regarding.name": "involvedObject.name",
    "regarding.uid": "involvedObject.uid",
    "regarding.apiVersion": "involvedObject.apiVersion",
    "regarding.resourceVersion": "involvedObject.resourceVersion",
    "regarding.fieldPath": "involvedObject.fieldPath",
    "reportingController": "reportingComponent",
}
_POD_LABELS = (
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.podIPs",
    "status.nominatedNodeName",
)


_NOT_SUPPORTED = "field label not supported: {label}"
_DEFAULT_REJECT = '{quoted} is not a known field selector: only "metadata.name", "metadata.namespace"'

Fields = Callable[[Mapping[str, Any]], dict[str, str]]


def _no_fields(obj: Mapping[str, Any]) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class FieldRules:
    """What one kind supports in field selectors (its strategy names them): accepted labels (label ->
    internal label), the message for any other label, and the kind's own field values of an object
    (beyond ``metadata.name`` / ``metadata.namespace``)."""

    accepted: dict[str, str]
    reject: str  # message format, "{label}" / "{quoted}" placeholders
    fields: Fields = _no_fields


def _same(*labels: str) -> dict[str, str]:
    return {label: label for label in labels}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _dig(obj: Mapping[str, Any], *path: str) -> Any:
    cur: Any = obj
    for part in path:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(part)
    return cur


def _pod_fields(pod: Mapping[str, Any]) -> dict[str, str]:
    ips = _dig(pod, "status", "podIPs") or []
    pod_ip = (ips[0] or {}).get("ip") if ips else _dig(pod, "status", "podIP")
    node = _text(_dig(pod, "spec", "nodeName"))
    return {
        "spec.nodeName": node,
        "spec.host": node,
        "spec.restartPolicy": _text(_dig(pod, "spec", "restartPolicy")),
        "spec.schedulerName": _text(_dig(pod, "spec", "schedulerName")),
        "spec.serviceAccountName": _text(_dig(pod, "spec", "serviceAccountName")),
        "spec.hostNetwork": "true" if _dig(pod, "spec", "hostNetwork") else "false",
        "status.phase": _text(_dig(pod, "status", "phase")),
        "status.podIP": _text(pod_ip),
        "status.nominatedNodeName": _text(_dig(pod, "status", "nominatedNodeName")),
    }


def _event_fields(event: Mapping[str, Any], events_v1: bool) -> dict[str, str]:
    ref = (event.get("regarding") if events_v1 else event.get("involvedObject")) or {}
    controller = _text(event.get("reportingController"))
    source_key = "deprecatedSource" if events_v1 else "source"
    source = _text(_dig(event, source_key, "component")) or controller
    out = {
        "involvedObject." + k: _text(ref.get(k))
        for k in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
    }
    out.update(reason=_text(event.get("reason")), reportingComponent=controller, source=source)
    out["type"] = _text(event.get("type"))
    for alias, internal in _EVENTS_V1_ALIASES.items():
        out[alias] = out[internal]
    return out


def _node_fields(node: Mapping[str, Any]) -> dict[str, str]:
    return {"spec.unschedulable": "true" if _dig(node, "spec", "unschedulable") else "false"}


def _replicas_fields(obj: Mapping[str, Any]) -> dict[str, str]:
    return {"status.replicas": str(int(_dig(obj, "status", "replicas") or 0))}


def _namespace_fields(ns: Mapping[str, Any]) -> dict[str, str]:
    return {"status.phase": _text(_dig(ns, "status", "phase"))}


def _secret_fields(secret: Mapping[str, Any]) -> dict[str, str]:
    return {"type": _text(_dig(secret, "type"))}


def _service_fields(svc: Mapping[str, Any]) -> dict[str, str]:
    return {
        "spec.clusterIP": _text(_dig(svc, "spec", "clusterIP")),
        "spec.type": _text(_dig(svc, "spec", "type")),
    }


def _job_fields(job: Mapping[str, Any]) -> dict[str, str]:
    return {"status.successful": str(int(_dig(job, "status", "succeeded") or 0))}


def _csr_fields(csr: Mapping[str, Any]) -> dict[str, str]:
    return {"spec.signerName": _text(_dig(csr, "spec", "signerName"))}


def _core_event_fields(event: Mapping[str, Any]) -> dict[str, str]:
    return _event_fields(event, events_v1=False)


def _events_v1_fields(event: Mapping[str, Any]) -> dict[str, str]:
    return _event_fields(event, events_v1=True)


# Upstream's per-kind field label conversion funcs and ``GetAttrs`` / ``ToSelectableFields``.
DEFAULT_FIELD_RULES = FieldRules(_same(*_META), _DEFAULT_REJECT)
POD_FIELDS = FieldRules(
    {**_same(*_META, *_POD_LABELS), "spec.host": "spec.nodeName"}, _NOT_SUPPORTED, _pod_fields
)
NODE_FIELDS = FieldRules(_same("metadata.name", "spec.unschedulable"), _NOT_SUPPORTED, _node_fields)
REPLICATION_CONTROLLER_FIELDS = FieldRules(_same(*_META, "status.replicas"), _NOT_SUPPORTED, _replicas_fields)
# ReplicaSets expose status.replicas but have no label conversion: only the default labels select.
REPLICA_SET_FIELDS = FieldRules(_same(*_META), _DEFAULT_REJECT, _replicas_fields)
EVENT_FIELDS = FieldRules(_same(*_EVENT_LABELS, *_META), _NOT_SUPPORTED, _core_event_fields)
EVENT_V1_FIELDS = FieldRules(
    {**_EVENTS_V1_ALIASES, **_same("reason", "source", "type", *_META)}, _NOT_SUPPORTED, _events_v1_fields
)
NAMESPACE_FIELDS = FieldRules(_same("status.phase", "metadata.name"), _NOT_SUPPORTED, _namespace_fields)
SECRET_FIELDS = FieldRules(_same("type", *_META), _NOT_SUPPORTED, _secret_fields)
SERVICE_FIELDS = FieldRules(_same(*_META, "spec.clusterIP", "spec.type"), _NOT_SUPPORTED, _service_fields)
JOB_FIELDS = FieldRules(
    _same(*_META, "status.successful"), "field label {quoted} not supported for Job", _job_fields
)
CSR_FIELDS = FieldRules(_same("metadata.name", "spec.signerName"), _NOT_SUPPORTED, _csr_fields)


def custom_field_rules(namespaced: bool, selectable_fields: Iterable[str]) -> FieldRules:
    """A custom resource's rules: the metadata labels plus its CRD version's ``selectableFields``."""
    extra = [path.lstrip(".") for path in selectable_fields]
    labels = ["metadata.name", *(["metadata.namespace"] if namespaced else []), *extra]
    return FieldRules(_same(*labels), _NOT_SUPPORTED)


def validate_field_selector(rules: FieldRules, selector: FieldSelector) -> FieldSelector:
    """Check every label against what ``rules`` (a kind's) accept; return the selector in internal labels.

    Raises ``StatusError`` 400 BadRequest with upstream's message (``field label not supported: foo``,
    or for types with only the default conversion ``"foo" is not a known field selector: ...``).
    """
    converted = []
    for req in selector.requirements:
        internal = rules.accepted.get(req.field)
        if internal is None:
            raise bad_request(rules.reject.format(label=req.field, quoted=_go_quote(req.field)))
        converted.append(FieldRequirement(internal, req.operator, req.value))
    return FieldSelector(tuple(converted))


def _selectable_field_value(obj: Mapping[str, Any], path: str) -> str:
    found = jsonpath.find(path if path.startswith(".") else "." + path, obj)
    return _text(found[0]) if found else ""


def object_fields(
    rules: FieldRules, obj: Mapping[str, Any], *, selectable_fields: Iterable[str] = ()
) -> dict[str, str]:
    """The field set upstream exposes for ``obj`` (a ``fields.Set``); missing fields read as ``""``.

    Always ``metadata.name`` and ``metadata.namespace`` (``""`` when cluster-scoped), plus the kind's
    own fields (``rules.fields``), plus (for custom resources) the CRD's ``selectable_fields``.
    """
    meta = obj.get("metadata") or {}
    fields = {"metadata.name": _text(meta.get("name")), "metadata.namespace": _text(meta.get("namespace"))}
    fields.update(rules.fields(obj))
    for path in selectable_fields:
        fields[path.lstrip(".")] = _selectable_field_value(obj, path)
    return fields
