"""Pure helpers the plugins share: quantities, pod requests, tolerations, node selector terms, affinity
terms and the default score normalisation (upstream's ``helper``/``corev1`` helpers, written anew).

Everything here is a function of plain dicts (the wire objects); nothing keeps state. Parsed forms that
are reused per cycle (``AffinityTerm``, ``NodeSelector``) are built once per pod in ``nodeinfo.py``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from kybernetes.api.selectors import InvalidSelectorError, LabelSelector, label_selector_from_dict, nothing
from kybernetes.api.tolerations import tolerates
from kybernetes.scheduler.framework.types import MAX_NODE_SCORE

__all__ = [
    "AffinityTerm",
    "NodeSelector",
    "default_normalize",
    "find_untolerated_taint",
    "parse_quantity",
    "tolerates",
]

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": "1e-9", "u": "1e-6", "m": "1e-3", "": "1", "k": "1e3", "M": "1e6", "G": "1e9", "T": "1e12"}
_DECIMAL |= {"P": "1e15", "E": "1e18"}


@lru_cache(maxsize=4096)
def _parse(text: str) -> Decimal:
    text = text.strip()
    for suffix, mult in _BINARY.items():
        if text.endswith(suffix):
            return Decimal(text[: -len(suffix)]) * mult
    i = len(text)
    while i > 0 and text[i - 1].isalpha():
        i -= 1
    number, suffix = text[:i], text[i:]
    if suffix in _DECIMAL:
        return Decimal(number) * Decimal(_DECIMAL[suffix])
    return Decimal(text)  # exponent forms such as 1e3


def parse_quantity(value: Any, *, milli: bool = False) -> int:
    """A resource.Quantity as an integer (rounded up), in milli-units when ``milli`` (cpu)."""
    if value is None:
        return 0
    try:
        q = Decimal(value) if isinstance(value, int | float) else _parse(str(value))
    except (InvalidOperation, ValueError):
        return 0
    return math.ceil(q * 1000) if milli else math.ceil(q)


# --- tolerations ------------------------------------------------------------------------------------
def find_untolerated_taint(
    taints: Iterable[Mapping[str, Any]], tolerations: Sequence[Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    for taint in taints:
        if not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None


# --- node selectors ---------------------------------------------------------------------------------
def _requirement_matches(expr: Mapping[str, Any], value: str | None) -> bool:
    op = expr.get("operator")
    values = expr.get("values") or []
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt") and value is not None and len(values) == 1:
        try:
            have, want = int(value), int(values[0])
        except ValueError:
            return False
        return have > want if op == "Gt" else have < want
    return False


@dataclass(frozen=True, slots=True)
class NodeSelector:
    """Required node affinity: OR of terms, each an AND of label expressions and field expressions."""

    terms: tuple[Mapping[str, Any], ...]

    @classmethod
    def from_dict(cls, selector: Mapping[str, Any] | None) -> NodeSelector | None:
        if not selector:
            return None
        return cls(tuple(selector.get("nodeSelectorTerms") or ()))

    def matches(self, labels: Mapping[str, str], name: str) -> bool:
        return any(term_matches(t, labels, name) for t in self.terms)


def term_matches(term: Mapping[str, Any], labels: Mapping[str, str], name: str) -> bool:
    """One ``NodeSelectorTerm``; an empty term matches nothing (as upstream)."""
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields:
        return False
    for expr in exprs:
        if not _requirement_matches(expr, labels.get(str(expr.get("key")))):
            return False
    for expr in fields:
        value = name if expr.get("key") == "metadata.name" else None
        if not _requirement_matches(expr, value):
            return False
    return True


# --- pod affinity terms -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AffinityTerm:
    """A parsed ``PodAffinityTerm``: whose pods (selector, namespaces) and over which topology key."""

    selector: LabelSelector
    namespaces: frozenset[str]
    namespace_selector: LabelSelector | None
    topology_key: str
    weight: int = 1

    @classmethod
    def parse(cls, term: Mapping[str, Any], own_namespace: str, weight: int = 1) -> AffinityTerm:
        try:
            selector = label_selector_from_dict(term.get("labelSelector"))
        except InvalidSelectorError:
            selector = nothing()
        ns_sel_raw = term.get("namespaceSelector")
        ns_selector: LabelSelector | None = None
        if ns_sel_raw is not None:
            try:
                ns_selector = label_selector_from_dict(ns_sel_raw)
            except InvalidSelectorError:
                ns_selector = nothing()
        namespaces = frozenset(term.get("namespaces") or ())
        if not namespaces and ns_sel_raw is None:
            namespaces = frozenset((own_namespace,))
        return cls(selector, namespaces, ns_selector, str(term.get("topologyKey") or ""), weight)

    def matches(
        self, namespace: str, labels: Mapping[str, str], ns_labels: Mapping[str, Mapping[str, str]]
    ) -> bool:
        if namespace not in self.namespaces:
            if self.namespace_selector is None:
                return False
            if not self.namespace_selector.matches(ns_labels.get(namespace) or {}):
                return False
        return self.selector.matches(labels)


def default_normalize(scores: list[int], *, reverse: bool = False) -> None:
    """``DefaultNormalizeScore``: scale to 0..100 by the maximum; ``reverse`` flips (fewer is better)."""
    top = max(scores, default=0)
    if top == 0:
        if reverse:
            scores[:] = [MAX_NODE_SCORE] * len(scores)
        return
    for i, s in enumerate(scores):
        s = MAX_NODE_SCORE * s // top
        scores[i] = MAX_NODE_SCORE - s if reverse else s
