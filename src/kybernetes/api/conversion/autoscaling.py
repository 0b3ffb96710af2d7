"""HorizontalPodAutoscaler ``autoscaling/v1`` <-> ``autoscaling/v2``, as upstream converts.

Follows ``pkg/apis/autoscaling/v1/conversion.go`` (v1 <-> internal) and ``pkg/apis/autoscaling/v2``
(internal <-> v2, the same shape, dropping round-trip annotations). ``autoscaling/v1`` only has
``spec.targetCPUUtilizationPercentage`` and ``status.currentCPUUtilizationPercentage``; everything else
of v2 travels in annotations on the v1 object and is restored when it comes back:

* ``autoscaling.alpha.kubernetes.io/metrics``: the spec metrics other than a CPU utilization target,
  as a JSON list of the (unexported) v1 ``MetricSpec`` shape (``metricName``, ``targetAverageValue``...);
* ``autoscaling.alpha.kubernetes.io/current-metrics``: every status metric as v1 ``MetricStatus``;
* ``autoscaling.alpha.kubernetes.io/conditions``: the status conditions;
* ``autoscaling.alpha.kubernetes.io/behavior``: ``spec.behavior`` marshalled from the *internal* Go type,
  which has no JSON tags, so keys are Go field names (``ScaleUp``, ``StabilizationWindowSeconds``...) and
  unset pointers are ``null``; it is read back case-insensitively, as ``encoding/json`` does.

Annotations a client sends that do not parse are ignored and dropped, and a v1 object without any spec
metric gets upstream's implicit default (CPU at 80% utilization).
"""

from __future__ import annotations

import json
from typing import Any

from kybernetes.api.conversion import register
from kybernetes.api.meta import Obj

GROUP = "autoscaling"
KIND = "HorizontalPodAutoscaler"

METRIC_SPECS = "autoscaling.alpha.kubernetes.io/metrics"
METRIC_STATUSES = "autoscaling.alpha.kubernetes.io/current-metrics"
CONDITIONS = "autoscaling.alpha.kubernetes.io/conditions"
BEHAVIOR = "autoscaling.alpha.kubernetes.io/behavior"
ROUND_TRIP = (METRIC_SPECS, BEHAVIOR, METRIC_STATUSES, CONDITIONS)
DEFAULT_CPU_UTILIZATION = 80


# --- helpers ------------------------------------------------------------------------------------------
def go_json(value: Any) -> str:
    """``encoding/json.Marshal``: compact, and ``<``, ``>``, ``&``, U+2028/9 escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for raw, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(raw, esc)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _d(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _put(out: Obj, key: str, value: Any) -> None:
    """``omitempty`` for pointers: set only what is there."""
    if value is not None:
        out[key] = value


def _quantity(value: Any) -> Any:
    """A non-pointer ``resource.Quantity`` marshals its zero value as ``"0"``."""
    return value if value is not None else "0"


def drop_round_trip(metadata: Obj) -> None:
    annotations = metadata.get("annotations")
    if not isinstance(annotations, dict):
        return
    for key in ROUND_TRIP:
        annotations.pop(key, None)
    if not annotations:
        metadata.pop("annotations", None)


def _ref_v1(ref: Any) -> Obj:
    ref = _d(ref)
    out: Obj = {"kind": ref.get("kind", ""), "name": ref.get("name", "")}
    if ref.get("apiVersion"):
        out["apiVersion"] = ref["apiVersion"]
    return out


def _ref_v2(ref: Any) -> Obj:
    ref = _d(ref)
    out: Obj = {"kind": ref.get("kind", ""), "name": ref.get("name", "")}
    if ref.get("apiVersion"):
        out["apiVersion"] = ref["apiVersion"]
    return out


def _identifier(name: Any, selector: Any) -> Obj:
    out: Obj = {"name": name if name is not None else ""}
    _put(out, "selector", selector)
    return out


def _target(type_: str, **values: Any) -> Obj:
    out: Obj = {"type": type_}
    for key in ("value", "averageValue", "averageUtilization"):
        _put(out, key, values.get(key))
    return out


def _current(**values: Any) -> Obj:
    out: Obj = {}
    for key in ("value", "averageValue", "averageUtilization"):
        _put(out, key, values.get(key))
    return out


# --- metric specs -------------------------------------------------------------------------------------
def _metric_spec_v1(metric: Obj) -> Obj:
    """v2 ``MetricSpec`` -> v1 ``MetricSpec`` (for the metrics annotation)."""
    out: Obj = {"type": metric.get("type", "")}
    if isinstance(metric.get("object"), dict):
        src = metric["object"]
        target, ident = _d(src.get("target")), _d(src.get("metric"))
        obj: Obj = {
            "target": _ref_v1(src.get("describedObject")),
            "metricName": ident.get("name", ""),
            "targetValue": _quantity(target.get("value")),
        }
        _put(obj, "selector", ident.get("selector"))
        _put(obj, "averageValue", target.get("averageValue"))
        out["object"] = obj
    if isinstance(metric.get("pods"), dict):
        src = metric["pods"]
        target, ident = _d(src.get("target")), _d(src.get("metric"))
        pods: Obj = {
            "metricName": ident.get("name", ""),
            "targetAverageValue": _quantity(target.get("averageValue")),
        }
        _put(pods, "selector", ident.get("selector"))
        out["pods"] = pods
    for key in ("resource", "containerResource"):
        if isinstance(metric.get(key), dict):
            src = metric[key]
            target = _d(src.get("target"))
            res: Obj = {"name": src.get("name", "")}
            _put(res, "targetAverageUtilization", target.get("averageUtilization"))
            _put(res, "targetAverageValue", target.get("averageValue"))
            if key == "containerResource":
                res["container"] = src.get("container", "")
            out[key] = res
    if isinstance(metric.get("external"), dict):
        src = metric["external"]
        target, ident = _d(src.get("target")), _d(src.get("metric"))
        ext: Obj = {"metricName": ident.get("name", "")}
        _put(ext, "metricSelector", ident.get("selector"))
        _put(ext, "targetValue", target.get("value"))
        _put(ext, "targetAverageValue", target.get("averageValue"))
        out["external"] = ext
    return out


def _metric_spec_v2(metric: Obj) -> Obj:
    """v1 ``MetricSpec`` (from the metrics annotation) -> v2 ``MetricSpec``."""
    out: Obj = {"type": metric.get("type", "")}
    if isinstance(metric.get("object"), dict):
        src = metric["object"]
        average = src.get("averageValue")
        out["object"] = {
            "metric": _identifier(src.get("metricName"), src.get("selector")),
            "target": _target(
                "Value" if average is None else "AverageValue",
                value=_quantity(src.get("targetValue")),
                averageValue=average,
            ),
            "describedObject": _ref_v2(src.get("target")),
        }
    if isinstance(metric.get("pods"), dict):
        src = metric["pods"]
        out["pods"] = {
            "metric": _identifier(src.get("metricName"), src.get("selector")),
            "target": _target("AverageValue", averageValue=_quantity(src.get("targetAverageValue"))),
        }
    for key in ("resource", "containerResource"):
        if isinstance(metric.get(key), dict):
            src = metric[key]
            utilization = src.get("targetAverageUtilization")
            res: Obj = {
                "name": src.get("name", ""),
                "target": _target(
                    "AverageValue" if utilization is None else "Utilization",
                    averageValue=src.get("targetAverageValue"),
                    averageUtilization=utilization,
                ),
            }
            if key == "containerResource":
                res["container"] = src.get("container", "")
            out[key] = res
    if isinstance(metric.get("external"), dict):
        src = metric["external"]
        value = src.get("targetValue")
        out["external"] = {
            "metric": _identifier(src.get("metricName"), src.get("metricSelector")),
            "target": _target(
                "AverageValue" if value is None else "Value",
                value=value,
                averageValue=src.get("targetAverageValue"),
            ),
        }
    return out


# --- metric statuses ----------------------------------------------------------------------------------
def _metric_status_v1(metric: Obj) -> Obj:
    out: Obj = {"type": metric.get("type", "")}
    if isinstance(metric.get("object"), dict):
        src = metric["object"]
        current, ident = _d(src.get("current")), _d(src.get("metric"))
        obj: Obj = {
            "target": _ref_v1(src.get("describedObject")),
            "metricName": ident.get("name", ""),
            "currentValue": _quantity(current.get("value")),
        }
        _put(obj, "selector", ident.get("selector"))
        _put(obj, "averageValue", current.get("averageValue"))
        out["object"] = obj
    if isinstance(metric.get("pods"), dict):
        src = metric["pods"]
        current, ident = _d(src.get("current")), _d(src.get("metric"))
        pods: Obj = {
            "metricName": ident.get("name", ""),
            "currentAverageValue": _quantity(current.get("averageValue")),
        }
        _put(pods, "selector", ident.get("selector"))
        out["pods"] = pods
    for key in ("resource", "containerResource"):
        if isinstance(metric.get(key), dict):
            src = metric[key]
            current = _d(src.get("current"))
            res: Obj = {"name": src.get("name", "")}
            _put(res, "currentAverageUtilization", current.get("averageUtilization"))
            res["currentAverageValue"] = _quantity(current.get("averageValue"))
            if key == "containerResource":
                res["container"] = src.get("container", "")
            out[key] = res
    if isinstance(metric.get("external"), dict):
        src = metric["external"]
        current, ident = _d(src.get("current")), _d(src.get("metric"))
        ext: Obj = {"metricName": ident.get("name", "")}
        _put(ext, "metricSelector", ident.get("selector"))
        ext["currentValue"] = _quantity(current.get("value"))
        _put(ext, "currentAverageValue", current.get("averageValue"))
        out["external"] = ext
    return out


def _metric_status_v2(metric: Obj) -> Obj:
    out: Obj = {"type": metric.get("type", "")}
    if isinstance(metric.get("object"), dict):
        src = metric["object"]
        out["object"] = {
            "metric": _identifier(src.get("metricName"), src.get("selector")),
            "current": _current(
                value=_quantity(src.get("currentValue")), averageValue=src.get("averageValue")
            ),
            "describedObject": _ref_v2(src.get("target")),
        }
    if isinstance(metric.get("pods"), dict):
        src = metric["pods"]
        out["pods"] = {
            "metric": _identifier(src.get("metricName"), src.get("selector")),
            "current": _current(averageValue=_quantity(src.get("currentAverageValue"))),
        }
    for key in ("resource", "containerResource"):
        if isinstance(metric.get(key), dict):
            src = metric[key]
            res: Obj = {
                "name": src.get("name", ""),
                "current": _current(
                    averageValue=_quantity(src.get("currentAverageValue")),
                    averageUtilization=src.get("currentAverageUtilization"),
                ),
            }
            if key == "containerResource":
                res["container"] = src.get("container", "")
            out[key] = res
    if isinstance(metric.get("external"), dict):
        src = metric["external"]
        out["external"] = {
            "metric": _identifier(src.get("metricName"), src.get("metricSelector")),
            "current": _current(
                value=_quantity(src.get("currentValue")), averageValue=src.get("currentAverageValue")
            ),
        }
    return out


# --- conditions and behavior --------------------------------------------------------------------------
def _condition_v1(cond: Obj) -> Obj:
    out: Obj = {
        "type": cond.get("type", ""),
        "status": cond.get("status", ""),
        # metav1.Time is a struct: ``omitempty`` never omits it, the zero time marshals as null
        "lastTransitionTime": cond.get("lastTransitionTime"),
    }
    if cond.get("reason"):
        out["reason"] = cond["reason"]
    if cond.get("message"):
        out["message"] = cond["message"]
    return out


def _condition_v2(cond: Obj) -> Obj:
    out: Obj = {"type": cond.get("type", ""), "status": cond.get("status", "")}
    for key in ("lastTransitionTime", "reason", "message"):
        if cond.get(key):
            out[key] = cond[key]
    return out


def _rules_internal(rules: Any) -> Obj | None:
    if not isinstance(rules, dict):
        return None
    policies = rules.get("policies")
    return {
        "StabilizationWindowSeconds": rules.get("stabilizationWindowSeconds"),
        "SelectPolicy": rules.get("selectPolicy"),
        "Policies": [
            {
                "Type": _d(p).get("type", ""),
                "Value": _d(p).get("value", 0),
                "PeriodSeconds": _d(p).get("periodSeconds", 0),
            }
            for p in policies
        ]
        if isinstance(policies, list)
        else None,
    }


def _behavior_internal(behavior: Obj) -> Obj:
    return {
        "ScaleUp": _rules_internal(behavior.get("scaleUp")),
        "ScaleDown": _rules_internal(behavior.get("scaleDown")),
    }


def _fold(value: Any) -> Any:
    """Keys lower-cased, as ``encoding/json`` matches struct fields case-insensitively."""
    if isinstance(value, dict):
        return {str(k).lower(): _fold(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fold(v) for v in value]
    return value


def _rules_v2(rules: Any) -> Obj | None:
    if not isinstance(rules, dict):
        return None
    out: Obj = {}
    window = rules.get("stabilizationwindowseconds")
    if isinstance(window, int) and not isinstance(window, bool):
        out["stabilizationWindowSeconds"] = window
    if isinstance(rules.get("selectpolicy"), str):
        out["selectPolicy"] = rules["selectpolicy"]
    policies = rules.get("policies")
    if isinstance(policies, list):
        out["policies"] = [
            {
                "type": _d(p).get("type", ""),
                "value": _d(p).get("value", 0),
                "periodSeconds": _d(p).get("periodseconds", 0),
            }
            for p in policies
        ]
    return out


def _behavior_v2(text: str) -> Obj | None:
    try:
        raw = _fold(json.loads(text))
    except ValueError:
        return None
    if not isinstance(raw, dict):
        return None
    out: Obj = {}
    for key, name in (("scaleup", "scaleUp"), ("scaledown", "scaleDown")):
        rules = _rules_v2(raw.get(key))
        if rules is not None:
            out[name] = rules
    return out or None


def _json_list(text: Any) -> list[Obj] | None:
    if not isinstance(text, str):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, list):
        return None
    return [item for item in data if isinstance(item, dict)]


def _is_cpu(metric: Any) -> bool:
    metric = _d(metric)
    return (
        metric.get("type") == "Resource"
        and isinstance(metric.get("resource"), dict)
        and metric["resource"].get("name") == "cpu"
    )


# --- the two directions -------------------------------------------------------------------------------
def v2_to_v1(obj: Obj) -> Obj:
    metadata = _d(obj.get("metadata"))
    drop_round_trip(metadata)
    spec, status = _d(obj.get("spec")), _d(obj.get("status"))
    metrics = [m for m in spec.get("metrics") or [] if isinstance(m, dict)]

    spec1: Obj = {"scaleTargetRef": _ref_v1(spec.get("scaleTargetRef"))}
    _put(spec1, "minReplicas", spec.get("minReplicas"))
    spec1["maxReplicas"] = spec.get("maxReplicas", 0)
    for metric in metrics:
        if _is_cpu(metric):
            utilization = _d(metric["resource"].get("target")).get("averageUtilization")
            _put(spec1, "targetCPUUtilizationPercentage", utilization)
            break

    status1: Obj = {}
    _put(status1, "observedGeneration", status.get("observedGeneration"))
    _put(status1, "lastScaleTime", status.get("lastScaleTime"))
    status1["currentReplicas"] = status.get("currentReplicas", 0)
    status1["desiredReplicas"] = status.get("desiredReplicas", 0)
    current_metrics = [m for m in status.get("currentMetrics") or [] if isinstance(m, dict)]
    for metric in current_metrics:
        if _is_cpu(metric):
            utilization = _d(metric["resource"].get("current")).get("averageUtilization")
            _put(status1, "currentCPUUtilizationPercentage", utilization)

    added: dict[str, str] = {}
    other = [
        _metric_spec_v1(m)
        for m in metrics
        if not (_is_cpu(m) and _d(m["resource"].get("target")).get("averageUtilization") is not None)
    ]
    if other:
        added[METRIC_SPECS] = go_json(other)
    if current_metrics:
        added[METRIC_STATUSES] = go_json([_metric_status_v1(m) for m in current_metrics])
    if isinstance(spec.get("behavior"), dict):
        added[BEHAVIOR] = go_json(_behavior_internal(spec["behavior"]))
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    if conditions:
        added[CONDITIONS] = go_json([_condition_v1(c) for c in conditions])
    if added:
        annotations = metadata.get("annotations")
        metadata["annotations"] = {**(annotations if isinstance(annotations, dict) else {}), **added}
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": KIND,
        "metadata": metadata,
        "spec": spec1,
        "status": status1,
    }


def v1_to_v2(obj: Obj) -> Obj:
    metadata = _d(obj.get("metadata"))
    annotations = _d(metadata.get("annotations"))
    spec1, status1 = _d(obj.get("spec")), _d(obj.get("status"))

    spec: Obj = {"scaleTargetRef": _ref_v2(spec1.get("scaleTargetRef"))}
    _put(spec, "minReplicas", spec1.get("minReplicas"))
    spec["maxReplicas"] = spec1.get("maxReplicas", 0)
    metrics: list[Obj] = []
    other = _json_list(annotations.get(METRIC_SPECS))
    if other is not None:
        metrics.extend(_metric_spec_v2(m) for m in other)
    if spec1.get("targetCPUUtilizationPercentage") is not None:
        metrics.append(
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": _target(
                        "Utilization", averageUtilization=spec1["targetCPUUtilizationPercentage"]
                    ),
                },
            }
        )
    if not metrics:
        # autoscaling/v1 had an implicit default applied by the controller; v2 makes it explicit
        metrics.append(
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": _target("Utilization", averageUtilization=DEFAULT_CPU_UTILIZATION),
                },
            }
        )
    spec["metrics"] = metrics
    behavior_text = annotations.get(BEHAVIOR)
    behavior = _behavior_v2(behavior_text) if isinstance(behavior_text, str) else None
    if behavior is not None:
        spec["behavior"] = behavior

    out: Obj = {"apiVersion": f"{GROUP}/v2", "kind": KIND, "metadata": metadata, "spec": spec}
    current_text = annotations.get(METRIC_STATUSES)
    conditions_text = annotations.get(CONDITIONS)
    if "status" in obj or current_text is not None or conditions_text is not None:
        status: Obj = {}
        _put(status, "observedGeneration", status1.get("observedGeneration"))
        _put(status, "lastScaleTime", status1.get("lastScaleTime"))
        if status1.get("currentReplicas"):
            status["currentReplicas"] = status1["currentReplicas"]
        status["desiredReplicas"] = status1.get("desiredReplicas", 0)
        current: list[Obj] = []
        if status1.get("currentCPUUtilizationPercentage") is not None:
            current.append(
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "current": _current(averageUtilization=status1["currentCPUUtilizationPercentage"]),
                    },
                }
            )
        listed = _json_list(current_text)
        if listed is not None:
            # the annotation has more information than the CPU percentage: it wins
            current = [_metric_status_v2(m) for m in listed]
        if current:
            status["currentMetrics"] = current
        conditions = _json_list(conditions_text)
        if conditions:
            status["conditions"] = [_condition_v2(c) for c in conditions]
        out["status"] = status
    drop_round_trip(metadata)
    return out


register(GROUP, KIND, "v2", "v1", v2_to_v1)
register(GROUP, KIND, "v1", "v2", v1_to_v2)
