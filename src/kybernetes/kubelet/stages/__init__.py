"""Simulated behaviour as data: kwok-shaped ``Stage`` files, their loader and the pure engine.

A stage file is YAML (one or more documents) of ``kind: Stage``, ``apiVersion: kwok.x-k8s.io/v1alpha1``,
with kwok's ``spec`` shape:

- ``resourceRef: {apiGroup, kind}`` -- which objects the stage is about (``apiGroup: v1`` is core);
- ``selector: {matchLabels, matchAnnotations, matchExpressions: [{key, operator, values}]}`` over the
  object's state, ANDed; ``key`` is a jq-subset path (``.status.phase``,
  ``.status.conditions.[] | select(.type == "Ready") | .status``), ``operator`` In / NotIn / Exists /
  DoesNotExist (In matches when any value the path reaches is listed; NotIn when none is);
- ``delay: {durationMilliseconds, jitterDurationMilliseconds, durationFrom, jitterDurationFrom}`` -- as
  kwok, the wait is uniform in [duration, jitter] (jitter is the upper bound); ``*From.expressionFrom``
  is a path whose value is a duration (``"5"`` seconds, ``"1.5s"``, ``"500ms"``, ``"2m"``) or an RFC 3339
  time (the wait lasts until then), and overrides the fixed value when present;
- ``weight`` -- when several stages match, one is picked at random in proportion to weight (when all
  weights are 0, the first in file order);
- ``next: {statusTemplate, finalizers: {add, remove, empty}, event: {type, reason, message}, delete}``.
  ``statusTemplate`` is a *structured* template (a YAML mapping with ``${}`` expressions, see
  ``template.py``) rather than kwok's Go text template; it renders a merge patch of ``status``.

The engine knows no kind: ``Stage.matches`` reads paths, ``Stage.outcome`` renders what ``next`` asks for
into an ``Outcome`` (a status patch, a finalizer list, an event, a delete), and ``Outcome.applied_to``
computes the object it leaves behind (the golden tests compare that). The agent that owns API clients
(``kubelet/simulated.py``) picks stages, waits the delays and sends the writes; template functions that
need it (a pod IP from the node's CIDR, the node's conditions) come from the agent. Time (``now``) and
randomness (jitter, weights) are passed in, so tests are deterministic.

Profiles ship as package data next to this module (``pod.yaml``, ``node.yaml``); ``load_stages`` reads a
file or a directory of ``*.yaml``/``*.yml``. Malformed files raise ``StageError`` naming the file, the
document and the field.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from kybernetes.api.meta import Obj, parse_time
from kybernetes.api.meta import format_time as rfc3339
from kybernetes.kubelet.stages.template import (
    Context,
    TemplateError,
    compile_path,
    compile_template,
)

__all__ = [
    "PROFILES",
    "Outcome",
    "Stage",
    "StageError",
    "default_stages",
    "load_stages",
    "parse_duration",
    "parse_stages",
    "pick_stage",
    "rfc3339",
]

API_VERSION = "kwok.x-k8s.io/v1alpha1"
PROFILES = ("pod", "node")
OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
#: functions every template may call besides the built-ins; the agent supplies more (``known`` in the loader)
ENGINE_FUNCS = ("now",)


class StageError(ValueError):
    """A stage file that cannot be loaded: ``source`` (file#document) and the offending field."""


_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(ms|s|m|h)?\s*$")


def parse_duration(text: str | None) -> float:
    """Seconds of ``"5"``, ``"1.5s"``, ``"500ms"``, ``"2m"``, ``"1h"``; 0 for empty or malformed text."""
    if not text:
        return 0.0
    m = _DURATION.match(str(text))
    if not m:
        return 0.0
    value = float(m.group(1))
    return value * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}[m.group(2)]


def _seconds_from(value: Any, now: float) -> float | None:
    """A ``*From`` value: a duration string/number, or an RFC 3339 time (seconds until it)."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value)
    if "T" in text and text[:4].isdigit():
        when = parse_time(text)
        return None if when is None else max(0.0, when - now)
    return parse_duration(text)


# --- selectors --------------------------------------------------------------------------------------------
Matcher = Callable[[Any], bool]


def _requirement(key: str, operator: str, values: Sequence[str]) -> Matcher:
    path = compile_path(key)
    wanted = set(values)
    if operator == "Exists":
        return lambda obj: bool(path(obj))
    if operator == "DoesNotExist":
        return lambda obj: not path(obj)
    if operator == "In":
        return lambda obj: any(_str(v) in wanted for v in path(obj))
    return lambda obj: not any(_str(v) in wanted for v in path(obj))


def _str(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _json_key(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- the data ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """What one stage's ``next`` does to one object (the agent turns it into API writes)."""

    stage: str
    status: Obj | None = None  # merge patch of .status
    finalizers: list[str] | None = None  # the new metadata.finalizers, when they change
    event: Obj | None = None  # {type, reason, message}
    delete: bool = False

    def applied_to(self, obj: Mapping[str, Any]) -> Obj | None:
        """The object after this outcome (None when deleted): what the golden tests compare."""
        if self.delete:
            return None
        out = _merge(dict(obj), {"status": self.status} if self.status is not None else {})
        if self.finalizers is not None:
            md = dict(out.get("metadata") or {})
            if self.finalizers:
                md["finalizers"] = list(self.finalizers)
            else:
                md.pop("finalizers", None)
            out["metadata"] = md
        return out


def _merge(target: Any, patch: Any) -> Any:
    """RFC 7386 merge patch."""
    if not isinstance(patch, Mapping):
        return patch
    out = dict(target) if isinstance(target, Mapping) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = _merge(out.get(k), v)
    return out


@dataclass(frozen=True)
class Stage:
    """One loaded stage. ``delay`` and ``jitter`` are seconds: the wait is ``delay`` plus a uniform extra
    in [0, ``jitter``] (a file's ``jitterDurationMilliseconds`` J becomes ``jitter = J - duration``)."""

    name: str
    api_group: str
    kind: str
    matches: Matcher
    delay: float = 0.0
    jitter: float = 0.0
    delay_from: Callable[[Any], list[Any]] | None = None
    jitter_from: Callable[[Any], list[Any]] | None = None
    weight: int = 0
    status_template: Callable[[Context], Any] | None = None
    finalizers_add: tuple[str, ...] = ()
    finalizers_remove: tuple[str, ...] = ()
    finalizers_empty: bool = False
    event: Obj | None = None
    delete: bool = False
    source: str = ""
    raw: Obj = field(default_factory=dict, compare=False, repr=False)

    @property
    def resource(self) -> tuple[str, str]:
        return self.api_group, self.kind

    def delay_for(self, obj: Any, rng: random.Random, now: float) -> float:
        """Seconds to wait once the stage matched ``obj`` at wall time ``now``."""
        delay = self.delay
        if self.delay_from is not None:
            found = self.delay_from(obj)
            got = _seconds_from(found[0], now) if found else None
            delay = delay if got is None else got
        jitter = self.jitter
        if self.jitter_from is not None:
            found = self.jitter_from(obj)
            got = _seconds_from(found[0], now) if found else None
            jitter = jitter if got is None else max(0.0, got - delay)
        return delay + (rng.random() * jitter if jitter > 0 else 0.0)

    def outcome(self, obj: Any, funcs: Mapping[str, Callable[..., Any]], now: float) -> Outcome:
        """Render ``next`` for ``obj`` at wall time ``now`` (``funcs``: the agent's template functions)."""
        status = None
        if self.status_template is not None:
            ctx = Context(obj, obj, {"now": lambda: rfc3339(now), **funcs})
            status = self.status_template(ctx)
        finalizers = None
        if self.finalizers_empty or self.finalizers_add or self.finalizers_remove:
            current = list(((obj.get("metadata") or {}).get("finalizers")) or [])
            new = [] if self.finalizers_empty else [f for f in current if f not in self.finalizers_remove]
            new += [f for f in self.finalizers_add if f not in new]
            finalizers = new if new != current else None
        event = None
        if self.event is not None:
            ctx = Context(obj, obj, {"now": lambda: rfc3339(now), **funcs})
            known = {"now", *funcs}
            event = {k: compile_template(v, known)(ctx) for k, v in self.event.items()}
        return Outcome(self.name, status, finalizers, event, self.delete)


def pick_stage(stages: Sequence[Stage], obj: Any, rng: random.Random) -> Stage | None:
    """The stage for ``obj``: among the matching ones, by weight (all 0: the first)."""
    matching = [s for s in stages if s.matches(obj)]
    if len(matching) <= 1:
        return matching[0] if matching else None
    total = sum(max(0, s.weight) for s in matching)
    if total <= 0:
        return matching[0]
    point = rng.random() * total
    for stage in matching:
        point -= max(0, stage.weight)
        if point < 0:
            return stage
    return matching[-1]


# --- loading ----------------------------------------------------------------------------------------------
_SPEC_FIELDS = {"resourceRef", "selector", "weight", "delay", "next"}  # not kwok's immediateNextStage
_NEXT_FIELDS = {"statusTemplate", "finalizers", "event", "delete"}
_DELAY_FIELDS = {"durationMilliseconds", "jitterDurationMilliseconds", "durationFrom", "jitterDurationFrom"}


def _fail(source: str, where: str, message: str) -> StageError:
    return StageError(f"{source}: {where}: {message}")


def _mapping(value: Any, source: str, where: str, allowed: set[str] | None = None) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(source, where, f"must be a mapping, not {type(value).__name__}")
    if allowed is not None:
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise _fail(source, where, f"unknown field(s) {', '.join(map(str, unknown))}")
    return value


def _millis(value: Any, source: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _fail(source, where, f"must be a non-negative integer of milliseconds, not {value!r}")
    return value / 1000.0


def _from(value: Any, source: str, where: str) -> Callable[[Any], list[Any]]:
    m = _mapping(value, source, where, {"expressionFrom"})
    expr = m.get("expressionFrom")
    if not isinstance(expr, str) or not expr:
        raise _fail(source, f"{where}.expressionFrom", 'required (a path such as .metadata.annotations["k"])')
    try:
        return compile_path(expr)
    except TemplateError as exc:
        raise _fail(source, f"{where}.expressionFrom", str(exc)) from None


def _selector(value: Any, source: str) -> Matcher:
    sel = _mapping(value, source, "spec.selector", {"matchLabels", "matchAnnotations", "matchExpressions"})
    reqs: list[Matcher] = []
    for field_name, prefix in (
        ("matchLabels", ".metadata.labels"),
        ("matchAnnotations", ".metadata.annotations"),
    ):
        pairs = _mapping(sel.get(field_name), source, f"spec.selector.{field_name}")
        for k, v in pairs.items():
            if not isinstance(v, str):
                raise _fail(source, f"spec.selector.{field_name}.{k}", "values must be strings")
            reqs.append(_requirement(f"{prefix}[{_json_key(str(k))}]", "In", [v]))
    exprs = sel.get("matchExpressions") or []
    if not isinstance(exprs, list):
        raise _fail(source, "spec.selector.matchExpressions", "must be a list")
    for i, e in enumerate(exprs):
        where = f"spec.selector.matchExpressions[{i}]"
        e = _mapping(e, source, where, {"key", "operator", "values"})
        key, op, values = e.get("key"), e.get("operator"), e.get("values")
        if not isinstance(key, str) or not key:
            raise _fail(source, f"{where}.key", "required")
        if op not in OPERATORS:
            raise _fail(source, f"{where}.operator", f"must be one of {', '.join(OPERATORS)}, not {op!r}")
        if op in ("In", "NotIn"):
            if not isinstance(values, list) or not values:
                raise _fail(source, f"{where}.values", f"must be a non-empty list for {op}")
        elif values:
            raise _fail(source, f"{where}.values", f"must be empty for {op}")
        try:
            reqs.append(_requirement(key, op, [_str(v) for v in values or []]))
        except TemplateError as exc:
            raise _fail(source, f"{where}.key", str(exc)) from None
    return lambda obj: all(r(obj) for r in reqs)


def _stage(doc: Any, source: str, known: set[str]) -> Stage:
    doc = _mapping(doc, source, "document", {"apiVersion", "kind", "metadata", "spec"})
    if doc.get("kind") != "Stage" or doc.get("apiVersion") != API_VERSION:
        raise _fail(source, "kind", f"expected kind Stage, apiVersion {API_VERSION}")
    name = _mapping(doc.get("metadata"), source, "metadata").get("name")
    if not isinstance(name, str) or not name:
        raise _fail(source, "metadata.name", "required")
    source = f"{source} (stage {name})"
    spec = _mapping(doc.get("spec"), source, "spec", _SPEC_FIELDS)
    ref = _mapping(spec.get("resourceRef"), source, "spec.resourceRef", {"apiGroup", "kind"})
    kind = ref.get("kind")
    if not isinstance(kind, str) or not kind:
        raise _fail(source, "spec.resourceRef.kind", "required")
    api_group = str(ref.get("apiGroup") or "v1")
    if "selector" not in spec or spec["selector"] is None:
        raise _fail(source, "spec.selector", "required (an empty selector {} matches every object)")
    matches = _selector(spec["selector"], source)
    weight = spec.get("weight", 0)
    if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
        raise _fail(source, "spec.weight", f"must be a non-negative integer, not {weight!r}")
    delay_spec = _mapping(spec.get("delay"), source, "spec.delay", _DELAY_FIELDS)
    delay = jitter = 0.0
    if "durationMilliseconds" in delay_spec:
        delay = _millis(delay_spec["durationMilliseconds"], source, "spec.delay.durationMilliseconds")
    if "jitterDurationMilliseconds" in delay_spec:
        upper = _millis(
            delay_spec["jitterDurationMilliseconds"], source, "spec.delay.jitterDurationMilliseconds"
        )
        jitter = max(0.0, upper - delay)
    delay_from = (
        _from(delay_spec["durationFrom"], source, "spec.delay.durationFrom")
        if "durationFrom" in delay_spec
        else None
    )
    jitter_from = (
        _from(delay_spec["jitterDurationFrom"], source, "spec.delay.jitterDurationFrom")
        if "jitterDurationFrom" in delay_spec
        else None
    )
    if "next" not in spec:
        raise _fail(source, "spec.next", "required")
    nxt = _mapping(spec["next"], source, "spec.next", _NEXT_FIELDS)
    names = known | set(ENGINE_FUNCS)
    template = None
    if "statusTemplate" in nxt:
        raw_template = nxt["statusTemplate"]
        if not isinstance(raw_template, Mapping):
            raise _fail(
                source,
                "spec.next.statusTemplate",
                "must be a mapping (a structured template with ${} expressions, not a Go text template)",
            )
        try:
            template = compile_template(raw_template, names)
        except TemplateError as exc:
            raise _fail(source, "spec.next.statusTemplate", str(exc)) from None
    fin = _mapping(nxt.get("finalizers"), source, "spec.next.finalizers", {"add", "remove", "empty"})

    def items(key: str) -> tuple[str, ...]:
        raw = fin.get(key) or []
        if not isinstance(raw, list):
            raise _fail(source, f"spec.next.finalizers.{key}", "must be a list of {value: name}")
        out = []
        for i, item in enumerate(raw):
            value = _mapping(item, source, f"spec.next.finalizers.{key}[{i}]", {"value"}).get("value")
            if not isinstance(value, str) or not value:
                raise _fail(source, f"spec.next.finalizers.{key}[{i}].value", "required")
            out.append(value)
        return tuple(out)

    event = None
    if nxt.get("event") is not None:
        ev = _mapping(nxt["event"], source, "spec.next.event", {"type", "reason", "message"})
        if ev.get("type") not in ("Normal", "Warning"):
            raise _fail(source, "spec.next.event.type", "must be Normal or Warning")
        if not ev.get("reason"):
            raise _fail(source, "spec.next.event.reason", "required")
        event = {k: str(v) for k, v in ev.items()}
        for k, v in event.items():
            try:
                compile_template(v, names)
            except TemplateError as exc:
                raise _fail(source, f"spec.next.event.{k}", str(exc)) from None
    delete = nxt.get("delete", False)
    if not isinstance(delete, bool):
        raise _fail(source, "spec.next.delete", "must be true or false")
    if delete and template is not None:
        raise _fail(source, "spec.next", "delete and statusTemplate exclude each other")
    return Stage(
        name=name,
        api_group=api_group,
        kind=kind,
        matches=matches,
        delay=delay,
        jitter=jitter,
        delay_from=delay_from,
        jitter_from=jitter_from,
        weight=weight,
        status_template=template,
        finalizers_add=items("add"),
        finalizers_remove=items("remove"),
        finalizers_empty=bool(fin.get("empty", False)),
        event=event,
        delete=delete,
        source=source,
        raw=dict(doc),
    )


def parse_stages(text: str, source: str = "<string>", known: Iterable[str] = ()) -> list[Stage]:
    """The stages of one YAML text (documents in order; empty documents are skipped)."""
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise StageError(f"{source}: not YAML: {exc}") from None
    names = set(known)
    out = [_stage(doc, f"{source}#{i}", names) for i, doc in enumerate(docs) if doc is not None]
    seen: set[str] = set()
    for stage in out:
        if stage.name in seen:
            raise StageError(f"{source}: stage {stage.name!r} is defined twice")
        seen.add(stage.name)
    return out


def load_stages(path: str | Path, known: Iterable[str] = ()) -> list[Stage]:
    """Stages of a file, or of every ``*.yaml`` / ``*.yml`` file of a directory (sorted by name).
    Blocking file I/O: call before the event loop runs or from a thread."""
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix in (".yaml", ".yml") and f.is_file())
        if not files:
            raise StageError(f"{p}: no *.yaml stage files")
    elif p.is_file():
        files = [p]
    else:
        raise StageError(f"{p}: no such file or directory")
    stages: list[Stage] = []
    for f in files:
        stages.extend(parse_stages(f.read_text(), str(f), known))
    names = [s.name for s in stages]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise StageError(f"{p}: stage {dup!r} is defined twice")
    return stages


def default_stages(profile: str, known: Iterable[str] = ()) -> list[Stage]:
    """A shipped profile (``pod`` or ``node``), read from this package's data."""
    if profile not in PROFILES:
        raise StageError(f"unknown stage profile {profile!r} (known: {', '.join(PROFILES)})")
    text = resources.files(__name__).joinpath(f"{profile}.yaml").read_text()
    return parse_stages(text, f"{profile}.yaml", known)
