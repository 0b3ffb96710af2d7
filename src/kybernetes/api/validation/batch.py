"""batch/v1 validation (Job, CronJob), after upstream ``pkg/apis/batch/validation/validation.go``.

``parse_cron`` follows robfig/cron v3's standard parser (5 fields or a ``@descriptor``) and raises
``ValueError`` with its exact messages, which upstream surfaces in ``spec.schedule`` errors.
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Any

from kybernetes.api.errors import Cause
from kybernetes.api.validation import field as f
from kybernetes.api.validation import meta, names, podspec
from kybernetes.api.validation.podspec import _dict, _int, _s

SELECTOR_MISMATCH = "`selector` does not match template `labels`"
CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
LEGACY_CONTROLLER_UID_LABEL = "controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
LEGACY_JOB_NAME_LABEL = "job-name"
CRONJOB_NAME_MAX_LENGTH = 52

_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_BOUNDS: tuple[tuple[int, int, dict[str, int] | None], ...] = (
    (0, 59, None),
    (0, 23, None),
    (1, 31, None),
    (
        1,
        12,
        {
            m: i + 1
            for i, m in enumerate(
                ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
            )
        },
    ),
    (0, 6, {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}),
)
_DURATION_RE = re.compile(r"^([0-9]*(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+$")


def _atoi(expr: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9]+", expr):
        raise ValueError(f'failed to parse int from {expr}: strconv.Atoi: parsing "{expr}": invalid syntax')
    num = int(expr)
    if num < 0:
        raise ValueError(f"negative number ({num}) not allowed: {expr}")
    return num


def _int_or_name(expr: str, names_map: dict[str, int] | None) -> int:
    if names_map and expr.lower() in names_map:
        return names_map[expr.lower()]
    return _atoi(expr)


def _check_range(expr: str, lo: int, hi: int, names_map: dict[str, int] | None) -> None:
    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    single = len(low_high) == 1
    if low_high[0] in ("*", "?"):
        start, end = lo, hi
    else:
        start = _int_or_name(low_high[0], names_map)
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end = _int_or_name(low_high[1], names_map)
        else:
            raise ValueError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _atoi(range_and_step[1])
        if single:
            end = hi
    else:
        raise ValueError(f"too many slashes: {expr}")
    if start < lo:
        raise ValueError(f"beginning of range ({start}) below minimum ({lo}): {expr}")
    if end > hi:
        raise ValueError(f"end of range ({end}) above maximum ({hi}): {expr}")
    if start > end:
        raise ValueError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise ValueError(f"step of range should be a positive number: {expr}")


def parse_cron(spec: str) -> None:
    """Validate a schedule like ``cron.ParseStandard``; raises ``ValueError`` with its message."""
    if not spec:
        raise ValueError("empty spec string")
    if spec.startswith(("TZ=", "CRON_TZ=")):
        head, _, rest = spec.partition(" ")
        zone = head.split("=", 1)[1]
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"provided bad location {zone}: unknown time zone {zone}") from None
        spec = rest.strip()
    if spec.startswith("@"):
        if spec in _DESCRIPTORS:
            return
        if spec.startswith("@every "):
            dur = spec[len("@every ") :]
            if not _DURATION_RE.match(dur):
                raise ValueError(f'failed to parse duration {spec}: time: invalid duration "{dur}"')
            return
        raise ValueError(f"unrecognized descriptor: {spec}")
    fields = spec.split()
    if len(fields) != 5:
        raise ValueError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    for expr, (lo, hi, names_map) in zip(fields, _BOUNDS, strict=True):
        for part in expr.split(","):
            _check_range(part, lo, hi, names_map)


def _validate_schedule(schedule: str, time_zone: Any, allow_tz: bool, path: str) -> list[Cause]:
    out: list[Cause] = []
    try:
        parse_cron(schedule)
    except ValueError as exc:
        out.append(f.invalid(path, schedule, str(exc)))
    if allow_tz and "TZ" in schedule and time_zone is not None:
        out.append(f.invalid(path, schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
    elif not allow_tz and "TZ" in schedule:
        out.append(
            f.invalid(path, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead")
        )
    return out


def _validate_time_zone(tz: Any, path: str) -> list[Cause]:
    if tz is None:
        return []
    if not isinstance(tz, str) or not tz:
        return [f.invalid(path, tz, "timeZone must be nil or non-empty string")]
    if tz == "Local":
        return [
            f.invalid(
                path,
                tz,
                "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
            )
        ]
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return [f.invalid(path, tz, f"unknown time zone {tz}")]
    return []


def _job_spec(spec: dict[str, Any], path: str) -> list[Cause]:
    """``validateJobSpec`` (shared by Jobs and CronJob job templates)."""
    out: list[Cause] = []
    for k in (
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
    ):
        out += f.nonnegative(spec.get(k), f.child(path, k))
    mode = spec.get("completionMode")
    if mode is not None:
        if mode not in ("NonIndexed", "Indexed"):
            out.append(f.not_supported(f.child(path, "completionMode"), mode, ("NonIndexed", "Indexed")))
        if mode == "Indexed" and spec.get("completions") is None:
            out.append(f.required(f.child(path, "completions"), "when completion mode is Indexed"))
    if spec.get("backoffLimitPerIndex") is not None:
        out += f.nonnegative(spec["backoffLimitPerIndex"], f.child(path, "backoffLimitPerIndex"))
        if mode != "Indexed":
            out.append(f.forbidden(f.child(path, "backoffLimitPerIndex"), "requires indexed completion mode"))
    prp = spec.get("podReplacementPolicy")
    if prp is not None:
        allowed = (
            ("Failed",) if spec.get("podFailurePolicy") is not None else ("TerminatingOrFailed", "Failed")
        )
        if prp not in allowed:
            out.append(f.not_supported(f.child(path, "podReplacementPolicy"), prp, allowed))
    template = spec.get("template")
    tpath = f.child(path, "template")
    out += podspec.validate_pod_template_spec(template, tpath)
    restart = _dict(_dict(template).get("spec")).get("restartPolicy")
    rp = f.child(tpath, "spec", "restartPolicy")
    if restart in ("Always", "", None):
        out.append(f.required(rp, 'valid values: "OnFailure", "Never"'))
    elif restart not in ("OnFailure", "Never"):
        out.append(f.not_supported(rp, restart, ("OnFailure", "Never")))
    elif spec.get("podFailurePolicy") is not None and restart != "Never":
        out.append(f.invalid(rp, restart, 'only "Never" is supported when podFailurePolicy is specified'))
    return out


def _template_labels(spec: dict[str, Any]) -> dict[str, Any]:
    return _dict(_dict(_dict(spec.get("template")).get("metadata")).get("labels"))


def create_job(obj: dict[str, Any]) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    m = _dict(obj.get("metadata"))
    out: list[Cause] = []
    labels = _template_labels(spec)
    if spec.get("manualSelector") is not True and labels:
        uid = _s(m.get("uid"))
        sel_labels = _dict(_dict(spec.get("selector")).get("matchLabels"))
        if uid and (
            labels.get(CONTROLLER_UID_LABEL, uid) != uid or sel_labels.get(CONTROLLER_UID_LABEL, uid) != uid
        ):
            out.append(f.invalid("spec.template.metadata.labels", labels, "`selector` not auto-generated"))
    out += _job_spec(spec, "spec")
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        out.append(f.required("spec.selector"))
    else:
        out += meta.validate_label_selector(selector, "spec.selector")
        if meta.selector_parses(selector) and not meta.selector_matches(selector, labels):
            out.append(f.invalid("spec.template.metadata.labels", labels, SELECTOR_MISMATCH))
    completions = _int(spec.get("completions"))
    if spec.get("completionMode") == "Indexed" and completions and completions > 0:
        hostname = f"{_s(m.get('name'))}-{completions - 1}"
        if names.is_dns1123_label(hostname):
            out.append(
                f.invalid(
                    "metadata.name",
                    _s(m.get("name")),
                    f"will not able to create pod with invalid DNS label: {hostname}",
                )
            )
    return out


def update_job(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    out = create_job(new)
    ns, os_ = _dict(new.get("spec")), _dict(old.get("spec"))
    elastic = (
        ns.get("completionMode") == "Indexed"
        and ns.get("completions") is not None
        and ns.get("completions") == ns.get("parallelism")
        and os_.get("completions") == os_.get("parallelism")
    )
    if not elastic:
        out += f.immutable(ns.get("completions"), os_.get("completions"), "spec.completions")
    out += f.immutable(ns.get("selector"), os_.get("selector"), "spec.selector")
    suspended_never_started = ns.get("suspend") is True and not _dict(old.get("status")).get("startTime")
    if suspended_never_started:
        nt, ot = _dict(ns.get("template")), _dict(os_.get("template"))
        n_spec = {
            k: v
            for k, v in _dict(nt.get("spec")).items()
            if k not in ("affinity", "nodeSelector", "tolerations", "schedulingGates")
        }
        o_spec = {
            k: v
            for k, v in _dict(ot.get("spec")).items()
            if k not in ("affinity", "nodeSelector", "tolerations", "schedulingGates")
        }
        if not f.semantic_equal(n_spec, o_spec):
            out += f.immutable(ns.get("template"), os_.get("template"), "spec.template")
    else:
        out += f.immutable(ns.get("template"), os_.get("template"), "spec.template")
    for k in ("completionMode", "podFailurePolicy", "backoffLimitPerIndex"):
        out += f.immutable(ns.get(k), os_.get(k), f.child("spec", k))
    return out


def status_job(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    status = _dict(new.get("status"))
    out: list[Cause] = []
    for k in ("active", "succeeded", "failed", "ready", "terminating"):
        out += f.nonnegative(status.get(k), f.child("status", k))
    return out


def create_cron_job(obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[Cause]:
    out: list[Cause] = []
    name = _s(_dict(obj.get("metadata")).get("name"))
    if len(name) > CRONJOB_NAME_MAX_LENGTH:
        out.append(
            f.invalid("metadata.name", name, f"must be no more than {CRONJOB_NAME_MAX_LENGTH} characters")
        )
    spec = _dict(obj.get("spec"))
    schedule = _s(spec.get("schedule"))
    if not schedule:
        out.append(f.required("spec.schedule"))
    else:
        allow_tz = old is not None and "TZ" in _s(_dict(old.get("spec")).get("schedule"))
        out += _validate_schedule(schedule, spec.get("timeZone"), allow_tz, "spec.schedule")
    out += f.nonnegative(spec.get("startingDeadlineSeconds"), "spec.startingDeadlineSeconds")
    policy = spec.get("concurrencyPolicy")
    if isinstance(policy, str):
        if not policy:
            out.append(f.required("spec.concurrencyPolicy"))
        elif policy not in ("Allow", "Forbid", "Replace"):
            out.append(f.not_supported("spec.concurrencyPolicy", policy, ("Allow", "Forbid", "Replace")))
    job_template = _dict(spec.get("jobTemplate"))
    out += meta.validate_template_meta(job_template.get("metadata"), "spec.jobTemplate.metadata")
    job_spec = _dict(job_template.get("spec"))
    out += _job_spec(job_spec, "spec.jobTemplate.spec")
    if job_spec.get("manualSelector") is True:
        out.append(f.not_supported("spec.jobTemplate.spec.manualSelector", True, ("nil", "false")))
    for k in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        out += f.nonnegative(spec.get(k), f.child("spec", k))
    out += _validate_time_zone(spec.get("timeZone"), "spec.timeZone")
    return out


def update_cron_job(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    return create_cron_job(new, old)
