"""Pure helpers of the Deployment controller: template hashing, revisions, replica arithmetic, conditions.

Nothing here does I/O: every function takes and returns plain dicts (Deployments, ReplicaSets, statuses)
so the rules can be tested on their own. The semantics follow upstream's
``pkg/controller/deployment/util`` (written afresh here):

- a ReplicaSet belongs to the Deployment's current template when the templates are equal ignoring the
  ``pod-template-hash`` label; its name is ``<deployment>-<hash>``, the hash being an FNV-32a digest of
  the template (plus ``status.collisionCount``) spelled in upstream's vowel-free alphabet;
- revisions live in the ``deployment.kubernetes.io/revision`` annotation of every ReplicaSet and of the
  Deployment; a ReplicaSet that becomes new again (a rollback) gets the next revision and remembers its
  earlier ones in ``deployment.kubernetes.io/revision-history``;
- ``maxSurge`` is rounded up and ``maxUnavailable`` down when given as percentages, and both resolving
  to zero makes ``maxUnavailable`` one (``resolve_fenceposts``);
- conditions are set like ``SetDeploymentCondition``: same status and reason is a no-op, same status
  keeps ``lastTransitionTime``.

The controller itself is ``deployment.py``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from kybernetes.api.conditions import get_condition
from kybernetes.api.conditions import set_condition as set_condition_in
from kybernetes.api.meta import Obj, format_time, parse_time
from kybernetes.api.meta import meta_of as md

DEFAULT_UNIQUE_LABEL = "pod-template-hash"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
REVISION_HISTORY_ANNOTATION = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS_ANNOTATION = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS_ANNOTATION = "deployment.kubernetes.io/max-replicas"
ROLLBACK_TO_ANNOTATION = "deprecated.deployment.rollback.to"
LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
# annotations of a Deployment that are not copied onto its ReplicaSets
SKIPPED_ANNOTATIONS = frozenset(
    {
        LAST_APPLIED_ANNOTATION,
        REVISION_ANNOTATION,
        REVISION_HISTORY_ANNOTATION,
        DESIRED_REPLICAS_ANNOTATION,
        MAX_REPLICAS_ANNOTATION,
        ROLLBACK_TO_ANNOTATION,
    }
)
REV_HISTORY_LIMIT_CHARS = 2000

# condition types and reasons (upstream's words)
PROGRESSING = "Progressing"
AVAILABLE = "Available"
REPLICA_FAILURE = "ReplicaFailure"
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
FAILED_RS_CREATE = "ReplicaSetCreateError"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"

_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


# --- small accessors ----------------------------------------------------------------------------------


def spec_replicas(obj: Mapping[str, Any]) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def status_int(obj: Mapping[str, Any] | None, field: str) -> int:
    if obj is None:
        return 0
    return int((obj.get("status") or {}).get(field) or 0)


def creation_key(obj: Mapping[str, Any]) -> tuple[float, str]:
    """Sort key: oldest first, then by name (``ReplicaSetsByCreationTimestamp``)."""
    ts = parse_time(md(obj).get("creationTimestamp"))
    return (ts if ts is not None else 0.0, str(md(obj).get("name") or ""))


# --- template hashing ---------------------------------------------------------------------------------
def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for byte in data:
        h ^= byte
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(text: str) -> str:
    """Map every character onto a vowel-free alphabet (no bad words, no look-alikes), as upstream."""
    return "".join(_SAFE_ALPHABET[ord(c) % len(_SAFE_ALPHABET)] for c in text)


def compute_hash(template: Mapping[str, Any], collision_count: int | None = None) -> str:
    """The ``pod-template-hash`` of a pod template (stable: canonical JSON with sorted keys)."""
    data = orjson.dumps(_prune(template), option=orjson.OPT_SORT_KEYS)
    if collision_count is not None:
        data += int(collision_count).to_bytes(4, "little", signed=False)
    return safe_encode(str(fnv32a(data)))


def _prune(value: Any) -> Any:
    """Drop nulls and empty maps/lists, recursively: typed clients send ``creationTimestamp: null`` and
    ``resources: {}`` where the stored template has nothing (upstream compares semantically)."""
    if isinstance(value, Mapping):
        out = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def _without_hash(template: Mapping[str, Any] | None) -> Obj:
    t: Obj = _prune(copy.deepcopy(dict(template or {})))
    tmd = t.get("metadata")
    if isinstance(tmd, dict):
        labels = dict(tmd.get("labels") or {})
        labels.pop(DEFAULT_UNIQUE_LABEL, None)
        if labels:
            tmd["labels"] = labels
        else:
            tmd.pop("labels", None)
        if not tmd:
            t.pop("metadata", None)
    return t


def equal_ignore_hash(t1: Mapping[str, Any] | None, t2: Mapping[str, Any] | None) -> bool:
    return _without_hash(t1) == _without_hash(t2)


def find_new_replica_set(d: Mapping[str, Any], rss: Iterable[Obj]) -> Obj | None:
    """The oldest ReplicaSet whose template equals the Deployment's (ignoring the hash label)."""
    template = (d.get("spec") or {}).get("template")
    for rs in sorted(rss, key=creation_key):
        if equal_ignore_hash((rs.get("spec") or {}).get("template"), template):
            return rs
    return None


# --- revisions ----------------------------------------------------------------------------------------
def revision(obj: Mapping[str, Any]) -> int:
    try:
        return int((md(obj).get("annotations") or {}).get(REVISION_ANNOTATION) or 0)
    except ValueError:
        return 0


def max_revision(rss: Iterable[Mapping[str, Any]]) -> int:
    return max((revision(rs) for rs in rss), default=0)


def _copy_annotations(d: Mapping[str, Any], rs: Obj) -> bool:
    annotations = rs.setdefault("metadata", {}).setdefault("annotations", {})
    changed = False
    for key, value in (md(d).get("annotations") or {}).items():
        if key in SKIPPED_ANNOTATIONS or annotations.get(key) == value:
            continue
        annotations[key] = value
        changed = True
    return changed


def set_replicas_annotations(rs: Obj, desired: int, max_replicas: int) -> bool:
    annotations = rs.setdefault("metadata", {}).setdefault("annotations", {})
    changed = False
    for key, value in ((DESIRED_REPLICAS_ANNOTATION, desired), (MAX_REPLICAS_ANNOTATION, max_replicas)):
        if annotations.get(key) != str(value):
            annotations[key] = str(value)
            changed = True
    return changed


def replicas_annotations_need_update(rs: Mapping[str, Any], desired: int, max_replicas: int) -> bool:
    annotations = md(rs).get("annotations") or {}
    return annotations.get(DESIRED_REPLICAS_ANNOTATION) != str(desired) or annotations.get(
        MAX_REPLICAS_ANNOTATION
    ) != str(max_replicas)


def int_annotation(rs: Mapping[str, Any], key: str) -> int | None:
    raw = (md(rs).get("annotations") or {}).get(key)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def set_new_replica_set_annotations(d: Mapping[str, Any], rs: Obj, new_revision: int, exists: bool) -> bool:
    """Copy the Deployment's annotations, raise the revision (recording a reused ReplicaSet's earlier
    revisions in the history annotation) and, for a ReplicaSet about to be created, the replica
    annotations. True if anything changed."""
    changed = _copy_annotations(d, rs)
    annotations = rs["metadata"]["annotations"]
    old_raw = annotations.get(REVISION_ANNOTATION)
    try:
        old = int(old_raw) if old_raw else 0
    except ValueError:
        return changed
    if old < new_revision:
        annotations[REVISION_ANNOTATION] = str(new_revision)
        changed = True
        if old_raw:
            history = [h for h in str(annotations.get(REVISION_HISTORY_ANNOTATION) or "").split(",") if h]
            history.append(str(old_raw))
            while history and len(",".join(history)) > REV_HISTORY_LIMIT_CHARS:
                history.pop(0)
            annotations[REVISION_HISTORY_ANNOTATION] = ",".join(history)
    if not exists:
        replicas = spec_replicas(d)
        if set_replicas_annotations(rs, replicas, replicas + max_surge(d)):
            changed = True
    return changed


def set_deployment_revision(d: Obj, rev: str) -> bool:
    annotations = d.setdefault("metadata", {}).setdefault("annotations", {})
    if annotations.get(REVISION_ANNOTATION) == rev:
        return False
    annotations[REVISION_ANNOTATION] = rev
    return True


# --- surge and unavailability -------------------------------------------------------------------------
def scaled_value(value: Any, total: int, round_up: bool) -> int:
    """An IntOrString (``3`` or ``"25%"``) against ``total``."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.endswith("%"):
        try:
            pct = int(text[:-1])
        except ValueError as exc:
            raise ValueError(f"invalid value for IntOrString: {value!r}") from exc
        scaled = pct * total / 100
        return math.ceil(scaled) if round_up else math.floor(scaled)
    try:
        return int(text)
    except ValueError as exc:
        raise ValueError(f"invalid value for IntOrString: {value!r}") from exc


def is_rolling(d: Mapping[str, Any]) -> bool:
    strategy = (d.get("spec") or {}).get("strategy") or {}
    return (strategy.get("type") or "RollingUpdate") == "RollingUpdate"


def resolve_fenceposts(max_surge_value: Any, max_unavailable_value: Any, desired: int) -> tuple[int, int]:
    surge = scaled_value(max_surge_value, desired, True)
    unavailable = scaled_value(max_unavailable_value, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # never stall a rollout whose bounds both round to zero
    return surge, unavailable


def _rolling_params(d: Mapping[str, Any]) -> tuple[Any, Any]:
    rolling = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    return rolling.get("maxSurge", "25%"), rolling.get("maxUnavailable", "25%")


def max_surge(d: Mapping[str, Any]) -> int:
    if not is_rolling(d):
        return 0
    surge, _ = resolve_fenceposts(*_rolling_params(d), spec_replicas(d))
    return surge


def max_unavailable(d: Mapping[str, Any]) -> int:
    replicas = spec_replicas(d)
    if not is_rolling(d) or replicas == 0:
        return 0
    _, unavailable = resolve_fenceposts(*_rolling_params(d), replicas)
    return min(unavailable, replicas)


# --- replica sums -------------------------------------------------------------------------------------
def spec_sum(rss: Iterable[Mapping[str, Any] | None]) -> int:
    return sum(spec_replicas(rs) for rs in rss if rs is not None)


def status_sum(rss: Iterable[Mapping[str, Any] | None], field: str) -> int:
    return sum(status_int(rs, field) for rs in rss if rs is not None)


def filter_active(rss: Iterable[Obj | None]) -> list[Obj]:
    return [rs for rs in rss if rs is not None and spec_replicas(rs) > 0]


def new_rs_new_replicas(d: Mapping[str, Any], all_rss: list[Obj], new_rs: Mapping[str, Any]) -> int:
    """How many replicas the new ReplicaSet may have now (rolling: within maxSurge)."""
    if is_rolling(d):
        current = spec_sum(all_rss)
        max_total = spec_replicas(d) + max_surge(d)
        if current >= max_total:
            return spec_replicas(new_rs)
        scale_up = min(max_total - current, spec_replicas(d) - spec_replicas(new_rs))
        return spec_replicas(new_rs) + max(scale_up, 0)
    return spec_replicas(d)


def is_saturated(d: Mapping[str, Any], rs: Mapping[str, Any] | None) -> bool:
    if rs is None:
        return False
    desired = int_annotation(rs, DESIRED_REPLICAS_ANNOTATION)
    replicas = spec_replicas(d)
    return (
        spec_replicas(rs) == replicas
        and desired == replicas
        and status_int(rs, "availableReplicas") == replicas
    )


def find_active_or_latest(new_rs: Obj | None, old_rss: list[Obj]) -> Obj | None:
    if new_rs is None and not old_rss:
        return None
    ordered = sorted(old_rss, key=creation_key, reverse=True)
    active = filter_active([*old_rss, new_rs])
    if not active:
        return new_rs if new_rs is not None else ordered[0]
    if len(active) == 1:
        return active[0]
    return None


def replica_set_fraction(rs: Mapping[str, Any], d: Mapping[str, Any]) -> int:
    replicas = spec_replicas(d)
    if replicas == 0:
        return -spec_replicas(rs)
    deployment_replicas = replicas + max_surge(d)
    annotated = int_annotation(rs, MAX_REPLICAS_ANNOTATION)
    if annotated is None:
        annotated = status_int(d, "replicas")
    if annotated <= 0:
        return 0
    size = spec_replicas(rs) * deployment_replicas / annotated
    return math.floor(size + 0.5) - spec_replicas(rs)


def proportion(rs: Mapping[str, Any] | None, d: Mapping[str, Any], to_add: int, added: int) -> int:
    if rs is None or spec_replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = replica_set_fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


# --- pods ---------------------------------------------------------------------------------------------
def pod_condition(pod: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    return get_condition(pod.get("status"), kind)


def is_pod_ready(pod: Mapping[str, Any]) -> bool:
    cond = pod_condition(pod, "Ready")
    return bool(cond and cond.get("status") == "True")


def is_pod_available(pod: Mapping[str, Any], min_ready_seconds: int, now: float) -> bool:
    cond = pod_condition(pod, "Ready")
    if not cond or cond.get("status") != "True":
        return False
    if min_ready_seconds <= 0:
        return True
    since = parse_time(cond.get("lastTransitionTime"))
    return since is not None and since + min_ready_seconds <= now


# --- conditions ---------------------------------------------------------------------------------------
def new_condition(kind: str, status: str, reason: str, message: str, now: str | None = None) -> Obj:
    ts = now or format_time()
    return {
        "type": kind,
        "status": status,
        "lastUpdateTime": ts,
        "lastTransitionTime": ts,
        "reason": reason,
        "message": message,
    }


def set_condition(status: Obj, cond: Obj) -> None:
    """Upstream's ``SetDeploymentCondition``: unchanged on the same status and reason, else moved last."""
    conds = list(status.get("conditions") or [])
    if set_condition_in(conds, cond, to_end=True):
        status["conditions"] = conds


def has_progress_deadline(d: Mapping[str, Any]) -> bool:
    deadline = (d.get("spec") or {}).get("progressDeadlineSeconds")
    return deadline is not None and int(deadline) < 2**31 - 1


def deployment_complete(d: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    replicas = spec_replicas(d)
    return (
        int(status.get("updatedReplicas") or 0) == replicas
        and int(status.get("replicas") or 0) == replicas
        and int(status.get("availableReplicas") or 0) == replicas
        and int(status.get("observedGeneration") or 0) >= int(md(d).get("generation") or 0)
    )


def deployment_progressing(d: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    old = d.get("status") or {}

    def g(s: Mapping[str, Any], f: str) -> int:
        return int(s.get(f) or 0)

    old_old = g(old, "replicas") - g(old, "updatedReplicas")
    new_old = g(new, "replicas") - g(new, "updatedReplicas")
    return (
        g(new, "updatedReplicas") > g(old, "updatedReplicas")
        or new_old < old_old
        or g(new, "readyReplicas") > g(old, "readyReplicas")
        or g(new, "availableReplicas") > g(old, "availableReplicas")
    )


def deployment_timed_out(d: Mapping[str, Any], status: Mapping[str, Any], now: float) -> bool:
    if not has_progress_deadline(d):
        return False
    cond = get_condition(status, PROGRESSING)
    if cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    since = parse_time(cond.get("lastUpdateTime"))
    deadline = int((d.get("spec") or {}).get("progressDeadlineSeconds") or 0)
    return since is not None and since + deadline < now


def normalized_status(status: Mapping[str, Any] | None) -> Obj:
    """A status without zero / empty fields (Go's omitempty), for comparisons."""
    return {k: v for k, v in (status or {}).items() if v not in (0, None, [], {}, "")}
