"""apps/v1 and batch/v1 validation: selectors vs template labels, replicas, strategies, immutability,
Job restart policies and CronJob schedules."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api.defaults import apply_job_selector
from kybernetes.api.registry import Registry, ResourceInfo
from kybernetes.api.validation.batch import parse_cron
from tests.api._kinds import apply_defaults, validate_create, validate_update

REG = Registry.builtin()


def info(group: str, plural: str) -> ResourceInfo:
    found = REG.get(group, "v1", plural)
    assert found is not None
    return found


DEPLOY, RS, STS, DS = (info("apps", p) for p in ("deployments", "replicasets", "statefulsets", "daemonsets"))
JOB, CJ = info("batch", "jobs"), info("batch", "cronjobs")


def msgs(causes: list[Any]) -> list[str]:
    return [f"{c.field}: {c.message}" for c in causes]


def workload(kind: str, **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        },
    }
    base.update(spec)
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": "w", "namespace": "default"},
        "spec": base,
    }


@pytest.mark.parametrize(
    "res,kind", [(DEPLOY, "Deployment"), (RS, "ReplicaSet"), (STS, "StatefulSet"), (DS, "DaemonSet")]
)
def test_valid_workloads_with_defaults(res: ResourceInfo, kind: str) -> None:
    obj = workload(kind)
    assert validate_create(res, obj) == []
    apply_defaults(res, obj)
    assert validate_create(res, obj) == []


@pytest.mark.parametrize(
    "res,kind", [(DEPLOY, "Deployment"), (RS, "ReplicaSet"), (STS, "StatefulSet"), (DS, "DaemonSet")]
)
def test_selector_must_match_template(res: ResourceInfo, kind: str) -> None:
    obj = workload(kind, selector={"matchLabels": {"app": "other"}})
    assert msgs(validate_create(res, obj)) == [
        'spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match template `labels`'
    ]


def test_deployment_selector_required_and_replicas() -> None:
    obj = workload("Deployment", replicas=-1)
    del obj["spec"]["selector"]
    assert msgs(validate_create(DEPLOY, obj)) == [
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        "spec.selector: Required value",
    ]
    obj = workload("Deployment", selector={})
    assert msgs(validate_create(DEPLOY, obj)) == [
        "spec.selector: Invalid value: {}: empty selector is invalid for deployment"
    ]


def test_template_restart_policy_always() -> None:
    obj = workload("Deployment")
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert msgs(validate_create(DEPLOY, obj)) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"'
    ]


def test_deployment_strategy() -> None:
    obj = workload("Deployment", strategy={"type": "Recreate", "rollingUpdate": {"maxSurge": 1}})
    assert msgs(validate_create(DEPLOY, obj)) == [
        "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"
    ]
    obj = workload(
        "Deployment",
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}},
    )
    assert msgs(validate_create(DEPLOY, obj)) == [
        "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"
    ]
    obj = workload(
        "Deployment",
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "x", "maxUnavailable": "150%"}},
    )
    assert msgs(validate_create(DEPLOY, obj)) == [
        'spec.strategy.rollingUpdate.maxSurge: Invalid value: "x": a valid percent string must be a numeric string '
        "followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
        'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "150%": must not be greater than 100%',
    ]
    obj = workload("Deployment", strategy={"type": "Blue"})
    assert msgs(validate_create(DEPLOY, obj)) == [
        'spec.strategy.type: Unsupported value: "Blue": supported values: "Recreate", "RollingUpdate"'
    ]


def test_selector_immutable() -> None:
    old = workload("Deployment")
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "web", "tier": "x"}}
    new["spec"]["template"]["metadata"]["labels"]["tier"] = "x"
    assert msgs(validate_update(DEPLOY, new, old)) == [
        'spec.selector: Invalid value: {"matchLabels":{"app":"web","tier":"x"}}: field is immutable'
    ]


def test_statefulset_update_forbidden_fields() -> None:
    old = workload("StatefulSet", serviceName="a")
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 5
    assert validate_update(STS, new, old) == []
    new["spec"]["serviceName"] = "b"
    assert msgs(validate_update(STS, new, old)) == [
        "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
        "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
    ]


def test_daemonset_strategy() -> None:
    obj = workload(
        "DaemonSet",
        updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}},
    )
    assert msgs(validate_create(DS, obj)) == [
        "spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"
    ]


def job(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "template": {"spec": {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "Never"}}
    }
    base.update(spec)
    obj = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "pi", "namespace": "default", "uid": "u-1"},
        "spec": base,
    }
    return obj


def test_job_valid_after_defaults_and_selector() -> None:
    obj = job()
    apply_defaults(JOB, obj)
    apply_job_selector(obj)
    assert validate_create(JOB, obj) == []
    assert obj["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}}


def test_job_restart_policy() -> None:
    obj = job()
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    apply_job_selector(obj)
    assert msgs(validate_create(JOB, obj)) == [
        'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"'
    ]
    obj = job()
    del obj["spec"]["template"]["spec"]["restartPolicy"]
    apply_defaults(JOB, obj)
    apply_job_selector(obj)
    assert msgs(validate_create(JOB, obj)) == [
        'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"'
    ]


def test_job_counts_and_immutability() -> None:
    obj = job(parallelism=-1, completions=-2)
    apply_job_selector(obj)
    assert msgs(validate_create(JOB, obj)) == [
        "spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
        "spec.completions: Invalid value: -2: must be greater than or equal to 0",
    ]
    old = job()
    apply_defaults(JOB, old)
    apply_job_selector(old)
    new = copy.deepcopy(old)
    new["spec"]["completions"] = 3
    assert msgs(validate_update(JOB, new, old)) == ["spec.completions: Invalid value: 3: field is immutable"]
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "other"
    causes = validate_update(JOB, new, old)
    assert [c.field for c in causes] == ["spec.template"]
    assert causes[0].message.endswith(": field is immutable")


def cronjob(schedule: str = "*/5 * * * *", **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "schedule": schedule,
        "jobTemplate": {
            "spec": {
                "template": {
                    "spec": {"containers": [{"name": "c", "image": "x"}], "restartPolicy": "OnFailure"}
                }
            }
        },
    }
    base.update(spec)
    return {"metadata": {"name": "cj", "namespace": "default"}, "spec": base}


def test_cronjob_schedule() -> None:
    assert validate_create(CJ, cronjob()) == []
    assert validate_create(CJ, cronjob("@hourly")) == []
    assert validate_create(CJ, cronjob("0 0 * * mon-fri")) == []
    assert msgs(validate_create(CJ, cronjob(""))) == ["spec.schedule: Required value"]
    assert msgs(validate_create(CJ, cronjob("foo"))) == [
        'spec.schedule: Invalid value: "foo": expected exactly 5 fields, found 1: [foo]'
    ]
    assert msgs(validate_create(CJ, cronjob("61 * * * *"))) == [
        'spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61'
    ]
    assert msgs(validate_create(CJ, cronjob("@often"))) == [
        'spec.schedule: Invalid value: "@often": unrecognized descriptor: @often'
    ]
    assert msgs(validate_create(CJ, cronjob("TZ=UTC 0 * * * *")))[-1] == (
        'spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead'
    )


def test_cronjob_time_zone_and_name_length() -> None:
    assert validate_create(CJ, cronjob(timeZone="Europe/Berlin")) == []
    assert msgs(validate_create(CJ, cronjob(timeZone="Mars/Olympus"))) == [
        'spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus'
    ]
    obj = cronjob()
    obj["metadata"]["name"] = "c" * 53
    assert msgs(validate_create(CJ, obj)) == [
        f'metadata.name: Invalid value: "{"c" * 53}": must be no more than 52 characters'
    ]


def test_cronjob_concurrency_policy() -> None:
    assert msgs(validate_create(CJ, cronjob(concurrencyPolicy="Sometimes"))) == [
        'spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"'
    ]


@pytest.mark.parametrize(
    "spec,message",
    [
        ("* * * *", "expected exactly 4 fields, found 4: [* * * *]".replace("exactly 4", "exactly 5")),
        ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
        ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
        ("*/0 * * * *", "step of range should be a positive number: */0"),
        ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
        ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
    ],
)
def test_cron_parser_errors(spec: str, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_cron(spec)
    assert str(exc.value) == message
