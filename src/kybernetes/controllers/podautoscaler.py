"""HorizontalPodAutoscaler (autoscaling/v2): replica math, behaviors, and the controller.

Upstream's ``pkg/controller/podautoscaler`` semantics, written afresh, in three tiers:

- **Metrics**: ``MetricsSource`` is the one seam: ``await pod_metrics(namespace, selector)`` returns
  ``{pod name: {"cpu_millicores": float, "memory_bytes": float}}``. ``ApiMetricsSource`` reads
  ``metrics.k8s.io/v1beta1`` PodMetrics through the API server (containers summed); while that API does not
  exist (404) it raises ``MetricsUnavailable`` and the HPA reports ScalingActive=False /
  ``FailedGetResourceMetric``. Tests pass their own source.
- **Replica math** (pure, ``ReplicaCalculator``): pods are grouped as upstream's ``groupPods`` does
  (deleted or Failed pods ignored; Pending pods and, for cpu, pods not yet Ready within the initialisation
  period unready; pods without a sample missing). Utilisation = sum(usage) * 100 // sum(requests) over the
  ready pods with samples; ratio = utilisation / target. Within ``tolerance`` (0.1) nothing changes;
  otherwise ``ceil(ratio * ready pods)``, except that with missing pods (counted at 100 % of request, or
  the target if higher, on scale-down and 0 % on scale-up) or unready pods on a scale-up (counted at 0 %)
  the ratio is recomputed and a change of direction cancels the change. ``AverageValue`` targets use the
  plain average instead of utilisation.
- **Normalisation** (``ScaleNormalizer``): without ``spec.behavior``: the downscale stabilisation window
  (300 s: the highest recommendation of the window wins), a scale-up limit of ``max(2 * current, 4)``,
  then min/max. With ``spec.behavior`` (defaults filled as upstream: up: window 0, max of 4 pods or 100 %
  per 15 s; down: window 300 s, 100 % per 15 s): stabilisation in both directions and the rate policies
  (``selectPolicy`` Max/Min/Disabled) over the scale events of each policy's period. Conditions
  AbleToScale (ReadyForNewScale / ScaleUpStabilized / ScaleDownStabilized) and ScalingLimited
  (DesiredWithinRange / ScaleUpLimit / ScaleDownLimit / TooManyReplicas / TooFewReplicas) in upstream's
  words.
- **HorizontalPodAutoscalerController**: every ``horizontal_pod_autoscaler_sync_period`` (and on HPA
  changes) reads the target's ``/scale`` (any resource with a scale subresource), computes the desired
  count, writes ``/scale`` when it differs (event ``SuccessfulRescale`` "New size: N; reason: ..."), and
  writes ``status`` (currentReplicas, desiredReplicas, currentMetrics, conditions, lastScaleTime).

Only ``Resource`` metrics (cpu, memory) are supported so far; other metric types are reported invalid.
Tunables (``ControllerOptions`` attributes if present, else ``options.extra``): ``metrics_source`` (a
``MetricsSource``), ``horizontal_pod_autoscaler_tolerance``, ``..._cpu_initialization_period``,
``..._initial_readiness_delay``, ``..._downscale_stabilization`` (seconds).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Protocol, TypedDict

from kybernetes.api.conditions import get_condition, transition_time
from kybernetes.api.errors import StatusError
from kybernetes.api.meta import Obj, format_time, parse_time
from kybernetes.api.validation.quantity import canonical, parse
from kybernetes.client import ApiClient, object_key, split_key
from kybernetes.controllers.base import Controller, ControllerContext

__all__ = [
    "ApiMetricsSource",
    "HorizontalPodAutoscalerController",
    "MetricsSource",
    "MetricsUnavailable",
    "PodMetric",
    "ReplicaCalculator",
    "ScaleNormalizer",
    "default_behavior",
]


class PodMetric(TypedDict, total=False):
    cpu_millicores: float
    memory_bytes: float


class MetricsSource(Protocol):
    async def pod_metrics(self, namespace: str, selector: str) -> dict[str, PodMetric]: ...


class MetricsUnavailable(Exception):
    """The metrics API could not be read (absent, failing)."""


class ApiMetricsSource:
    """PodMetrics from ``metrics.k8s.io/v1beta1`` through the API server."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api

    async def pod_metrics(self, namespace: str, selector: str) -> dict[str, PodMetric]:
        path = f"/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods"
        try:
            body = await self.api.request("GET", path, params={"labelSelector": selector or None})
        except StatusError as exc:
            if exc.code == 404:
                raise MetricsUnavailable(
                    "the server could not find the requested resource (get pods.metrics.k8s.io)"
                ) from exc
            raise MetricsUnavailable(str(exc)) from exc
        out: dict[str, PodMetric] = {}
        for item in (body or {}).get("items") or []:
            cpu = Fraction(0)
            mem = Fraction(0)
            for c in item.get("containers") or []:
                usage = c.get("usage") or {}
                cpu += parse(usage.get("cpu") or 0)
                mem += parse(usage.get("memory") or 0)
            out[str((item.get("metadata") or {}).get("name"))] = {
                "cpu_millicores": float(cpu * 1000),
                "memory_bytes": float(mem),
            }
        return out


# --- replica math -----------------------------------------------------------------------------------------


def _milli(metric: PodMetric, resource: str) -> int:
    """A sample in milli-units (cpu millicores; memory milli-bytes), as upstream's ``MilliValue``."""
    if resource == "cpu":
        return int(metric.get("cpu_millicores") or 0)
    return int((metric.get("memory_bytes") or 0) * 1000)


class MetricError(Exception):
    pass


@dataclass
class ReplicaCalculator:
    tolerance: float = 0.1
    cpu_initialization_period: float = 300.0
    delay_of_initial_readiness_status: float = 30.0

    def group_pods(
        self, pods: Sequence[Mapping[str, Any]], metrics: Mapping[str, int], resource: str, now: float
    ) -> tuple[int, set[str], set[str], set[str]]:
        """(ready count, unready, missing, ignored) as upstream's ``groupPods``."""
        ready = 0
        unready: set[str] = set()
        missing: set[str] = set()
        ignored: set[str] = set()
        for pod in pods:
            md = pod.get("metadata") or {}
            status = pod.get("status") or {}
            name = str(md.get("name"))
            if md.get("deletionTimestamp") or status.get("phase") == "Failed":
                ignored.add(name)
                continue
            if status.get("phase", "Pending") == "Pending":
                unready.add(name)
                continue
            if name not in metrics:
                missing.add(name)
                continue
            if resource == "cpu":
                cond = get_condition(status, "Ready")
                start = parse_time(status.get("startTime"))
                if cond is None or start is None:
                    is_unready = True
                elif start + self.cpu_initialization_period > now:
                    is_unready = cond.get("status") == "False"
                else:
                    changed = parse_time(cond.get("lastTransitionTime")) or 0.0
                    is_unready = (
                        cond.get("status") == "False"
                        and start + self.delay_of_initial_readiness_status > changed
                    )
                if is_unready:
                    unready.add(name)
                    continue
            ready += 1
        return ready, unready, missing, ignored

    @staticmethod
    def pod_requests(pods: Sequence[Mapping[str, Any]], resource: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for pod in pods:
            total = 0
            name = str((pod.get("metadata") or {}).get("name"))
            for c in (pod.get("spec") or {}).get("containers") or []:
                req = ((c.get("resources") or {}).get("requests") or {}).get(resource)
                if req is None:
                    raise MetricError(
                        f"missing request for {resource} in container {c.get('name')} of Pod {name}"
                    )
                total += int(parse(req) * 1000)
            out[name] = total
        return out

    @staticmethod
    def utilization_ratio(
        metrics: Mapping[str, int], requests: Mapping[str, int], target: int
    ) -> tuple[float, int, int]:
        """(ratio, utilisation %, raw average) as upstream's ``GetResourceUtilizationRatio``."""
        used = req = n = 0
        for name, value in metrics.items():
            if name not in requests:
                continue
            used += value
            req += requests[name]
            n += 1
        if req == 0:
            raise MetricError("no metrics returned matched known pods")
        utilization = used * 100 // req
        return utilization / target, utilization, used // n

    def resource_replicas(
        self,
        current: int,
        target_utilization: int,
        resource: str,
        pods: Sequence[Mapping[str, Any]],
        samples: Mapping[str, PodMetric],
        now: float | None = None,
    ) -> tuple[int, int, int]:
        """(replicas, utilisation %, raw average in milli-units) for a Utilization target."""
        return self._replicas(current, target_utilization, resource, pods, samples, now, plain=False)

    def raw_resource_replicas(
        self,
        current: int,
        target_milli: int,
        resource: str,
        pods: Sequence[Mapping[str, Any]],
        samples: Mapping[str, PodMetric],
        now: float | None = None,
    ) -> tuple[int, int, int]:
        """(replicas, average, average) for an AverageValue target (milli-units)."""
        return self._replicas(current, target_milli, resource, pods, samples, now, plain=True)

    def _replicas(
        self,
        current: int,
        target: int,
        resource: str,
        pods: Sequence[Mapping[str, Any]],
        samples: Mapping[str, PodMetric],
        now: float | None,
        *,
        plain: bool,
    ) -> tuple[int, int, int]:
        now = time.time() if now is None else now
        if not pods:
            raise MetricError("no pods returned by selector while calculating replica count")
        metrics = {name: _milli(m, resource) for name, m in samples.items()}
        ready, unready, missing, ignored = self.group_pods(pods, metrics, resource, now)
        for name in ignored | unready:
            metrics.pop(name, None)
        known = {str((p.get("metadata") or {}).get("name")) for p in pods}
        metrics = {k: v for k, v in metrics.items() if k in known}
        requests: dict[str, int] = {} if plain else self.pod_requests(pods, resource)
        if not metrics:
            raise MetricError("did not receive metrics for targeted pods (pods might be unready)")

        def ratio_of(values: Mapping[str, int]) -> tuple[float, int, int]:
            if plain:
                avg = sum(values.values()) // len(values)
                return avg / target, avg, avg
            return self.utilization_ratio(values, requests, target)

        ratio, utilization, raw = ratio_of(metrics)
        scale_up_with_unready = bool(unready) and ratio > 1.0
        if not scale_up_with_unready and not missing:
            if abs(1.0 - ratio) <= self.tolerance:
                return current, utilization, raw
            return math.ceil(ratio * ready), utilization, raw
        if missing:
            if ratio < 1.0:
                for name in missing:
                    metrics[name] = target if plain else requests[name] * max(100, target) // 100
            elif ratio > 1.0:
                for name in missing:
                    metrics[name] = 0
        if scale_up_with_unready:
            for name in unready:
                metrics[name] = 0
        new_ratio, _, _ = ratio_of(metrics)
        if (
            abs(1.0 - new_ratio) <= self.tolerance
            or (ratio < 1.0 and new_ratio > 1.0)
            or (ratio > 1.0 and new_ratio < 1.0)
        ):
            return current, utilization, raw
        replicas = math.ceil(new_ratio * len(metrics))
        if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
            return current, utilization, raw
        return replicas, utilization, raw


# --- normalisation ----------------------------------------------------------------------------------------
def default_behavior(behavior: Mapping[str, Any] | None, downscale_window: int = 300) -> Obj:
    """``spec.behavior`` with upstream's defaults filled in."""
    behavior = dict(behavior or {})
    up = dict(behavior.get("scaleUp") or {})
    down = dict(behavior.get("scaleDown") or {})
    up.setdefault("stabilizationWindowSeconds", 0)
    up.setdefault("selectPolicy", "Max")
    up.setdefault(
        "policies",
        [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ],
    )
    if down.get("stabilizationWindowSeconds") is None:
        down["stabilizationWindowSeconds"] = downscale_window
    down.setdefault("selectPolicy", "Max")
    down.setdefault("policies", [{"type": "Percent", "value": 100, "periodSeconds": 15}])
    return {"scaleUp": up, "scaleDown": down}


Condition = tuple[str, str, str, str]  # type, status, reason, message


@dataclass
class ScaleNormalizer:
    """Per-HPA recommendation history and scale events; ``normalize`` is upstream's normalisation."""

    downscale_window: float = 300.0
    recommendations: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    scale_up_events: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    scale_down_events: dict[str, list[tuple[float, int]]] = field(default_factory=dict)

    def record_scale(self, key: str, previous: int, new: int, now: float) -> None:
        events = self.scale_up_events if new > previous else self.scale_down_events
        history = [(t, n) for t, n in events.get(key, []) if now - t < 3600.0]
        history.append((now, abs(new - previous)))
        events[key] = history

    def forget(self, key: str) -> None:
        for d in (self.recommendations, self.scale_up_events, self.scale_down_events):
            d.pop(key, None)

    def normalize(
        self,
        key: str,
        spec: Mapping[str, Any],
        current: int,
        desired: int,
        now: float,
    ) -> tuple[int, list[Condition]]:
        min_r = int(spec.get("minReplicas") or 1)
        max_r = int(spec.get("maxReplicas") or 1)
        if spec.get("behavior") is None:
            return self._without_behavior(key, current, desired, min_r, max_r, now)
        return self._with_behavior(
            key,
            default_behavior(spec.get("behavior"), int(self.downscale_window)),
            current,
            desired,
            min_r,
            max_r,
            now,
        )

    def _without_behavior(
        self, key: str, current: int, desired: int, min_r: int, max_r: int, now: float
    ) -> tuple[int, list[Condition]]:
        history = self.recommendations.setdefault(key, [])
        stabilized = desired
        replaced = False
        for i, (t, rec) in enumerate(history):
            if t > now - self.downscale_window:
                stabilized = max(stabilized, rec)
            elif not replaced:
                history[i] = (now, desired)
                replaced = True
        if not replaced:
            history.append((now, desired))
        conditions: list[Condition] = []
        if stabilized != desired:
            conditions.append(
                (
                    "AbleToScale",
                    "True",
                    "ScaleDownStabilized",
                    "recent recommendations were higher than current one, applying the highest recent recommendation",
                )
            )
        else:
            conditions.append(
                ("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size")
            )
        scale_up_limit = max(2 * current, 4)
        if max_r > scale_up_limit:
            maximum, reason, message = (
                scale_up_limit,
                "ScaleUpLimit",
                "the desired replica count is increasing faster than the maximum scale rate",
            )
        else:
            maximum, reason, message = (
                max_r,
                "TooManyReplicas",
                "the desired replica count is more than the maximum replica count",
            )
        if stabilized < min_r:
            final, reason, message = (
                min_r,
                "TooFewReplicas",
                "the desired replica count is less than the minimum replica count",
            )
        elif stabilized > maximum:
            final = maximum
        else:
            final, reason, message = (
                stabilized,
                "DesiredWithinRange",
                "the desired count is within the acceptable range",
            )
        conditions.append(("ScalingLimited", "False" if final == stabilized else "True", reason, message))
        return final, conditions

    def _with_behavior(
        self,
        key: str,
        behavior: Mapping[str, Any],
        current: int,
        desired: int,
        min_r: int,
        max_r: int,
        now: float,
    ) -> tuple[int, list[Condition]]:
        up, down = behavior["scaleUp"], behavior["scaleDown"]
        up_cutoff = now - float(up["stabilizationWindowSeconds"])
        down_cutoff = now - float(down["stabilizationWindowSeconds"])
        up_rec = down_rec = desired
        history = self.recommendations.setdefault(key, [])
        old_index: int | None = None
        for i, (t, rec) in enumerate(history):
            if t > up_cutoff:
                up_rec = min(up_rec, rec)
            if t > down_cutoff:
                down_rec = max(down_rec, rec)
            if t < up_cutoff and t < down_cutoff:
                old_index = i
        stabilized = max(current, up_rec)
        stabilized = min(stabilized, down_rec)
        if old_index is not None:
            history[old_index] = (now, desired)
        else:
            history.append((now, desired))
        conditions: list[Condition] = []
        if stabilized != desired:
            if desired >= current:
                conditions.append(
                    (
                        "AbleToScale",
                        "True",
                        "ScaleUpStabilized",
                        "recent recommendations were lower than current one, applying the lowest recent recommendation",
                    )
                )
            else:
                conditions.append(
                    (
                        "AbleToScale",
                        "True",
                        "ScaleDownStabilized",
                        "recent recommendations were higher than current one, applying the highest recent recommendation",
                    )
                )
        else:
            conditions.append(
                ("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size")
            )
        final, reason, message = (
            stabilized,
            "DesiredWithinRange",
            "the desired count is within the acceptable range",
        )
        if stabilized > current:
            limit = max(current, self._up_limit(key, current, up, now))
            if max_r > limit:
                maximum, r, m = (
                    limit,
                    "ScaleUpLimit",
                    "the desired replica count is increasing faster than the maximum scale rate",
                )
            else:
                maximum, r, m = (
                    max_r,
                    "TooManyReplicas",
                    "the desired replica count is more than the maximum replica count",
                )
            if stabilized > maximum:
                final, reason, message = maximum, r, m
        elif stabilized < current:
            limit = min(current, self._down_limit(key, current, down, now))
            if min_r < limit:
                minimum, r, m = (
                    limit,
                    "ScaleDownLimit",
                    "the desired replica count is decreasing faster than the maximum scale rate",
                )
            else:
                minimum, r, m = (
                    min_r,
                    "TooFewReplicas",
                    "the desired replica count is less than the minimum replica count",
                )
            if stabilized < minimum:
                final, reason, message = minimum, r, m
        conditions.append(("ScalingLimited", "False" if final == stabilized else "True", reason, message))
        return final, conditions

    def _changes(self, events: list[tuple[float, int]], period: float, now: float) -> int:
        return sum(n for t, n in events if t > now - period)

    def _period_start(self, key: str, current: int, period: float, now: float) -> int:
        added = self._changes(self.scale_up_events.get(key, []), period, now)
        removed = self._changes(self.scale_down_events.get(key, []), period, now)
        return current - added + removed

    def _up_limit(self, key: str, current: int, rules: Mapping[str, Any], now: float) -> int:
        select = rules.get("selectPolicy") or "Max"
        if select == "Disabled":
            return current
        result: int | None = None
        for policy in rules.get("policies") or []:
            start = self._period_start(key, current, float(policy.get("periodSeconds") or 15), now)
            if policy.get("type") == "Pods":
                proposed = start + int(policy.get("value") or 0)
            else:
                proposed = math.ceil(start * (1 + int(policy.get("value") or 0) / 100))
            result = proposed if result is None else (min if select == "Min" else max)(result, proposed)
        return current if result is None else result

    def _down_limit(self, key: str, current: int, rules: Mapping[str, Any], now: float) -> int:
        select = rules.get("selectPolicy") or "Max"
        if select == "Disabled":
            return current
        result: int | None = None
        for policy in rules.get("policies") or []:
            start = self._period_start(key, current, float(policy.get("periodSeconds") or 15), now)
            if policy.get("type") == "Pods":
                proposed = start - int(policy.get("value") or 0)
            else:
                proposed = int(start * (1 - int(policy.get("value") or 0) / 100))
            result = proposed if result is None else (max if select == "Min" else min)(result, proposed)
        return current if result is None else result


# --- the controller ---------------------------------------------------------------------------------------


def _quantity_milli(milli: int, resource: str) -> str:
    if resource == "cpu":
        return canonical(f"{milli}m")
    value = Fraction(milli, 1000)
    return canonical(str(int(value))) if value.denominator == 1 else canonical(f"{milli}m")


class HorizontalPodAutoscalerController(Controller):
    """Scales ``/scale`` targets of autoscaling/v2 HPAs (see the module docstring)."""

    name = "horizontal-pod-autoscaler"

    def __init__(
        self,
        ctx: ControllerContext,
        metrics: MetricsSource | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(ctx)
        source = metrics or self._opt("metrics_source", None)
        self.metrics: MetricsSource = source if source is not None else ApiMetricsSource(self.api)
        self.clock = clock
        self.sync_period = float(ctx.options.horizontal_pod_autoscaler_sync_period)
        self.calculator = ReplicaCalculator(
            tolerance=float(self._opt("horizontal_pod_autoscaler_tolerance", 0.1)),
            cpu_initialization_period=float(
                self._opt("horizontal_pod_autoscaler_cpu_initialization_period", 300.0)
            ),
            delay_of_initial_readiness_status=float(
                self._opt("horizontal_pod_autoscaler_initial_readiness_delay", 30.0)
            ),
        )
        self.normalizer = ScaleNormalizer(
            float(self._opt("horizontal_pod_autoscaler_downscale_stabilization", 300.0))
        )
        self.hpas = ctx.informers.informer(self.api.horizontalpodautoscalers)
        self.pods = ctx.informers.informer(self.api.pods)
        self.hpas.add_event_handler(self.enqueue_obj, self._hpa_updated, self._hpa_deleted)

    def _opt(self, name: str, default: Any) -> Any:
        """A ``ControllerOptions`` attribute when it exists, else ``options.extra[name]``, else default."""
        value = getattr(self.ctx.options, name, None)
        return value if value is not None else self.ctx.options.extra.get(name, default)

    def _hpa_updated(self, old: Obj, new: Obj) -> None:
        if old.get("spec") != new.get("spec"):
            self.queue.add(object_key(new))

    def _hpa_deleted(self, obj: Any) -> None:
        key = object_key(obj.obj if hasattr(obj, "obj") else obj)
        self.normalizer.forget(key)

    def background(self) -> Any:
        return self._resync()

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.sync_period)
            for hpa in self.hpas.list():
                self.queue.add(object_key(hpa))

    # --- one HPA --------------------------------------------------------------------------------------
    def _target_client(self, ref: Mapping[str, Any]) -> Any:
        group, _, version = str(ref.get("apiVersion") or "").rpartition("/")
        info = next(
            (i for i in self.api.registry.in_group_version(group, version) if i.kind == ref.get("kind")), None
        )
        if info is None or info.subresource("scale") is None:
            raise MetricError(f"no scale subresource for {ref.get('kind')}.{group or 'core'}")
        return self.api.client_for(info)

    async def reconcile(self, key: str) -> None:
        hpa = self.hpas.indexer.get_by_key(key)
        if hpa is None:
            return
        ns, _ = split_key(key)
        assert ns is not None
        spec = hpa.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        status: Obj = dict(hpa.get("status") or {})
        conditions: list[Condition] = []
        now = self.clock()
        try:
            target = self._target_client(ref)
            scale = await target.get_scale(str(ref.get("name")), namespace=ns)
        except (StatusError, MetricError) as exc:
            self.recorder.warning(hpa, "FailedGetScale", str(exc))
            conditions.append(
                (
                    "AbleToScale",
                    "False",
                    "FailedGetScale",
                    f"the HPA controller was unable to get the target's current scale: {exc}",
                )
            )
            await self._write_status(hpa, status, conditions)
            return
        conditions.append(
            (
                "AbleToScale",
                "True",
                "SucceededGetScale",
                "the HPA controller was able to get the target's current scale",
            )
        )
        current = int((scale.get("spec") or {}).get("replicas") or 0)
        selector = str((scale.get("status") or {}).get("selector") or "")
        min_r = int(spec.get("minReplicas") or 1)
        max_r = int(spec.get("maxReplicas") or 1)
        status["currentReplicas"] = int((scale.get("status") or {}).get("replicas") or 0)
        rescale_reason = ""
        if current == 0 and min_r != 0:
            desired = 0
            conditions.append(
                (
                    "ScalingActive",
                    "False",
                    "ScalingDisabled",
                    "scaling is disabled since the replica count of the target is zero",
                )
            )
        elif current > max_r:
            desired, rescale_reason = max_r, "Current number of replicas above Spec.MaxReplicas"
        elif current < min_r:
            desired, rescale_reason = min_r, "Current number of replicas below Spec.MinReplicas"
        else:
            result = await self._compute(hpa, ns, selector, current, now)
            if result is None:
                return
            proposal, metric_name, current_metrics, metric_conditions = result
            status["currentMetrics"] = current_metrics
            conditions.extend(metric_conditions)
            rescale_reason = (
                f"{metric_name} above target" if proposal > current else "All metrics below target"
            )
            desired, norm_conditions = self.normalizer.normalize(key, spec, current, proposal, now)
            conditions = [c for c in conditions if c[0] != "AbleToScale"] + norm_conditions
        if desired != current:
            try:
                await target.scale(str(ref.get("name")), desired, namespace=ns)
            except StatusError as exc:
                self.recorder.warning(
                    hpa, "FailedRescale", f"New size: {desired}; reason: {rescale_reason}; error: {exc}"
                )
                conditions = [c for c in conditions if c[0] != "AbleToScale"]
                conditions.append(
                    (
                        "AbleToScale",
                        "False",
                        "FailedUpdateScale",
                        f"the HPA controller was unable to update the target scale: {exc}",
                    )
                )
                await self._write_status(hpa, status, conditions)
                raise
            self.normalizer.record_scale(key, current, desired, now)
            self.recorder.normal(hpa, "SuccessfulRescale", f"New size: {desired}; reason: {rescale_reason}")
            status["lastScaleTime"] = format_time(now)
            conditions = [c for c in conditions if c[0] != "AbleToScale"]
            conditions.insert(
                0,
                (
                    "AbleToScale",
                    "True",
                    "SucceededRescale",
                    f"the HPA controller was able to update the target scale to {desired}",
                ),
            )
        status["desiredReplicas"] = desired
        await self._write_status(hpa, status, conditions)

    async def _compute(
        self, hpa: Obj, ns: str, selector: str, current: int, now: float
    ) -> tuple[int, str, list[Obj], list[Condition]] | None:
        """max over the metrics of their proposals, or None after reporting that no metric worked."""
        spec = hpa.get("spec") or {}
        metric_specs = spec.get("metrics") or [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
            }
        ]
        if not selector:
            message = "the HPA target's scale is missing a selector"
            self.recorder.warning(hpa, "SelectorRequired", message)
            await self._write_status(
                hpa, dict(hpa.get("status") or {}), [("ScalingActive", "False", "InvalidSelector", message)]
            )
            return None
        try:
            pods = self.pods.list(ns, selector)
        except ValueError as exc:
            await self._write_status(
                hpa, dict(hpa.get("status") or {}), [("ScalingActive", "False", "InvalidSelector", str(exc))]
            )
            return None
        proposal = -1
        name = ""
        current_metrics: list[Obj] = []
        errors: list[tuple[str, str]] = []
        samples: dict[str, PodMetric] | None = None
        for ms in metric_specs:
            mtype = ms.get("type")
            if mtype != "Resource":
                errors.append((f"FailedGet{mtype}Metric", f"unsupported metric type {mtype}"))
                continue
            res = ms.get("resource") or {}
            resource = str(res.get("name") or "cpu")
            tgt = res.get("target") or {}
            try:
                if samples is None:
                    samples = await self.metrics.pod_metrics(ns, selector)
                if tgt.get("type") == "AverageValue":
                    target_milli = int(parse(tgt.get("averageValue") or 0) * 1000)
                    replicas, _, raw = self.calculator.raw_resource_replicas(
                        current, target_milli, resource, pods, samples, now
                    )
                    current_metrics.append(
                        {
                            "type": "Resource",
                            "resource": {
                                "name": resource,
                                "current": {"averageValue": _quantity_milli(raw, resource)},
                            },
                        }
                    )
                    label = f"{resource} resource"
                else:
                    target_pct = int(tgt.get("averageUtilization") or 80)
                    replicas, utilization, raw = self.calculator.resource_replicas(
                        current, target_pct, resource, pods, samples, now
                    )
                    current_metrics.append(
                        {
                            "type": "Resource",
                            "resource": {
                                "name": resource,
                                "current": {
                                    "averageUtilization": utilization,
                                    "averageValue": _quantity_milli(raw, resource),
                                },
                            },
                        }
                    )
                    label = f"{resource} resource utilization (percentage of request)"
            except (MetricsUnavailable, MetricError, StatusError) as exc:
                what = (
                    "unable to get metrics for resource"
                    if isinstance(exc, MetricsUnavailable)
                    else "failed to compute"
                )
                errors.append(("FailedGetResourceMetric", f"{what} {resource}: {exc}"))
                continue
            if replicas > proposal:
                proposal, name = replicas, label
        if proposal < 0:
            reason, message = errors[0] if errors else ("FailedGetResourceMetric", "no metrics")
            self.recorder.warning(hpa, reason, message)
            self.recorder.warning(
                hpa,
                "FailedComputeMetricsReplicas",
                f"invalid metrics ({len(errors)} invalid out of {len(metric_specs)}), first error is: {message}",
            )
            status = dict(hpa.get("status") or {})
            status["currentReplicas"] = current
            status["currentMetrics"] = current_metrics or None
            await self._write_status(
                hpa,
                status,
                [
                    (
                        "AbleToScale",
                        "True",
                        "SucceededGetScale",
                        "the HPA controller was able to get the target's current scale",
                    ),
                    (
                        "ScalingActive",
                        "False",
                        reason,
                        f"the HPA was unable to compute the replica count: {message}",
                    ),
                ],
            )
            return None
        conditions: list[Condition] = [
            (
                "ScalingActive",
                "True",
                "ValidMetricFound",
                f"the HPA was able to successfully calculate a replica count from {name}",
            )
        ]
        return proposal, name, current_metrics, conditions

    async def _write_status(self, hpa: Obj, status: Obj, conditions: list[Condition]) -> None:
        old = {c.get("type"): c for c in (hpa.get("status") or {}).get("conditions") or []}
        merged: dict[str, Obj] = {t: dict(c) for t, c in old.items()}
        now = format_time(self.clock())
        for ctype, cstatus, reason, message in conditions:
            prev = old.get(ctype) or {}
            merged[ctype] = {
                "type": ctype,
                "status": cstatus,
                "reason": reason,
                "message": message,
                "lastTransitionTime": transition_time(prev, cstatus, now),
            }
        status = {k: v for k, v in status.items() if v is not None}
        status["conditions"] = [
            merged[t] for t in ("AbleToScale", "ScalingActive", "ScalingLimited") if t in merged
        ]
        status["observedGeneration"] = (hpa.get("metadata") or {}).get("generation") or 0
        if status == hpa.get("status"):
            return
        try:
            await self.api.horizontalpodautoscalers.update_status({**hpa, "status": status})
        except StatusError as exc:
            if exc.code == 409:
                self.queue.add_after(object_key(hpa), 0.1)
                return
            if exc.code != 404:
                raise
