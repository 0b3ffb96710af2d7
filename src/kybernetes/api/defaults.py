"""Defaulting of built-in objects, as upstream's ``pkg/apis/<group>/v1/defaults.go`` (plus the few
admission/strategy defaults a created object always shows).

One ``default_<kind>(obj)`` per kind (each kind's strategy in ``apiserver/strategies`` names its own)
mutates a wire dict into what ``kubectl get -o yaml`` shows after a create: pod specs everywhere they occur (Pods, PodTemplates, workload templates, Job and CronJob job
templates), the per-kind spec defaults, and on Pods the ``default`` service account, priority 0 /
``PreemptLowerPriority`` (Priority admission) and the not-ready/unreachable tolerations
(DefaultTolerationSeconds admission). Secrets get ``stringData`` folded into ``data`` (as upstream's
conversion does). Allocation (cluster IPs, node ports) and the Job selector/labels are the server's:
``job_selector_labels`` / ``apply_job_selector`` provide the latter. Defaulting is idempotent.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

from kybernetes.api.volumes import VOLUME_SOURCES

DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 30
DEFAULT_TOLERATION_SECONDS = 300
DEFAULT_FILE_MODE = 0o644  # 420
JOB_CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
LEGACY_JOB_CONTROLLER_UID_LABEL = "controller-uid"
LEGACY_JOB_NAME_LABEL = "job-name"


def _d(parent: dict[str, Any], k: str) -> dict[str, Any]:
    """``parent[k]`` as a dict, created if missing or null."""
    v = parent.get(k)
    if not isinstance(v, dict):
        v = {}
        parent[k] = v
    return v


def _dicts(v: Any) -> list[dict[str, Any]]:
    return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []


def _set(obj: dict[str, Any], k: str, value: Any) -> None:
    """Set ``obj[k]`` if missing, null or the empty string (Go's zero value for strings)."""
    if obj.get(k) is None or obj.get(k) == "":
        obj[k] = copy.deepcopy(value)


# -- pod spec ----------------------------------------------------------------------------------------


def image_tag(image: str) -> str:
    """The tag of an image reference; ``latest`` when it has neither tag nor digest (``ParseImageName``)."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        return last.rsplit(":", 1)[1]
    return "" if digest else "latest"


def _default_probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    _set(probe, "timeoutSeconds", 1)
    _set(probe, "periodSeconds", 10)
    _set(probe, "successThreshold", 1)
    _set(probe, "failureThreshold", 3)
    _default_handler(probe)


def _default_handler(handler: Any) -> None:
    if not isinstance(handler, dict):
        return
    http = handler.get("httpGet")
    if isinstance(http, dict):
        _set(http, "path", "/")
        _set(http, "scheme", "HTTP")
    grpc = handler.get("grpc")
    if isinstance(grpc, dict) and grpc.get("service") is None:
        grpc["service"] = ""


def _default_container(ctr: dict[str, Any]) -> None:
    if not ctr.get("imagePullPolicy"):
        image = raw if isinstance(raw := ctr.get("image"), str) else ""
        ctr["imagePullPolicy"] = "Always" if image_tag(image) == "latest" else "IfNotPresent"
    _set(ctr, "terminationMessagePath", "/dev/termination-log")
    _set(ctr, "terminationMessagePolicy", "File")
    if not isinstance(ctr.get("resources"), dict):
        ctr["resources"] = {}
    for port in _dicts(ctr.get("ports")):
        _set(port, "protocol", "TCP")
    for env in _dicts(ctr.get("env")):
        value_from = env.get("valueFrom")
        if isinstance(value_from, dict) and isinstance(value_from.get("fieldRef"), dict):
            _set(value_from["fieldRef"], "apiVersion", "v1")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(ctr.get(probe))
    lifecycle = ctr.get("lifecycle")
    if isinstance(lifecycle, dict):
        _default_handler(lifecycle.get("postStart"))
        _default_handler(lifecycle.get("preStop"))


def _default_volume(vol: dict[str, Any]) -> None:
    if not any(vol.get(s) is not None for s in VOLUME_SOURCES):
        vol["emptyDir"] = {}
    for src in ("configMap", "secret", "downwardAPI", "projected"):
        if isinstance(vol.get(src), dict):
            _set(vol[src], "defaultMode", DEFAULT_FILE_MODE)
    if isinstance(vol.get("hostPath"), dict) and vol["hostPath"].get("type") is None:
        vol["hostPath"]["type"] = ""
    if isinstance(vol.get("downwardAPI"), dict):
        for item in _dicts(vol["downwardAPI"].get("items")):
            if isinstance(item.get("fieldRef"), dict):
                _set(item["fieldRef"], "apiVersion", "v1")
    if isinstance(vol.get("projected"), dict):
        for source in _dicts(vol["projected"].get("sources")):
            token = source.get("serviceAccountToken")
            if isinstance(token, dict):
                _set(token, "expirationSeconds", 3600)
            downward = source.get("downwardAPI")
            if isinstance(downward, dict):
                for item in _dicts(downward.get("items")):
                    if isinstance(item.get("fieldRef"), dict):
                        _set(item["fieldRef"], "apiVersion", "v1")
    if isinstance(vol.get("iscsi"), dict):
        _set(vol["iscsi"], "iscsiInterface", "default")
    if isinstance(vol.get("rbd"), dict):
        for k, v in (("pool", "rbd"), ("user", "admin"), ("keyring", "/etc/ceph/keyring")):
            _set(vol["rbd"], k, v)
    if isinstance(vol.get("azureDisk"), dict):
        azure_defaults: tuple[tuple[str, str | bool], ...] = (
            ("cachingMode", "ReadWrite"),
            ("fsType", "ext4"),
            ("readOnly", False),
            ("kind", "Shared"),
        )
        for key, value in azure_defaults:
            if vol["azureDisk"].get(key) is None:
                vol["azureDisk"][key] = value


def default_pod_spec(spec: dict[str, Any]) -> None:
    """``SetDefaults_PodSpec`` and the nested defaulters (containers, volumes, probes...)."""
    _set(spec, "dnsPolicy", "ClusterFirst")
    _set(spec, "restartPolicy", "Always")
    if not isinstance(spec.get("securityContext"), dict):
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS
    _set(spec, "schedulerName", "default-scheduler")
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        for ctr in _dicts(spec.get(kind)):
            _default_container(ctr)
    for vol in _dicts(spec.get("volumes")):
        _default_volume(vol)
    if spec.get("hostNetwork") is True:
        _host_network_ports(spec)


def _host_network_ports(spec: dict[str, Any]) -> None:
    for kind in ("initContainers", "containers"):
        for ctr in _dicts(spec.get(kind)):
            for port in _dicts(ctr.get("ports")):
                if not port.get("hostPort"):
                    port["hostPort"] = port.get("containerPort")


def default_pod_template(template: Any) -> None:
    if isinstance(template, dict):
        default_pod_spec(_d(template, "spec"))


def default_pod(obj: dict[str, Any]) -> None:
    spec = _d(obj, "spec")
    default_pod_spec(spec)
    for kind in ("initContainers", "containers"):
        for ctr in _dicts(spec.get(kind)):
            resources = _d(ctr, "resources")
            limits = resources.get("limits")
            if isinstance(limits, dict) and limits:
                requests = _d(resources, "requests")
                for name, q in limits.items():
                    requests.setdefault(name, q)
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    # ServiceAccount admission.
    if not spec.get("serviceAccountName"):
        spec["serviceAccountName"] = spec.get("serviceAccount") or "default"
    _set(spec, "serviceAccount", spec["serviceAccountName"])
    # Priority admission.
    if spec.get("priority") is None:
        spec["priority"] = 0
    _set(spec, "preemptionPolicy", "PreemptLowerPriority")
    # DefaultTolerationSeconds admission.
    tolerations = raw if isinstance(raw := spec.get("tolerations"), list) else []
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        tolerated = any(
            isinstance(t, dict)
            and t.get("key") in (key, "", None)
            and t.get("effect") in ("NoExecute", "", None)
            for t in tolerations
        )
        if not tolerated:
            tolerations.append(
                {
                    "key": key,
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
                }
            )
    if tolerations:
        spec["tolerations"] = tolerations


# -- per kind ----------------------------------------------------------------------------------------


def default_service(obj: dict[str, Any]) -> None:
    spec = _d(obj, "spec")
    _set(spec, "type", "ClusterIP")
    _set(spec, "sessionAffinity", "None")
    stype = spec["type"]
    for port in _dicts(spec.get("ports")):
        _set(port, "protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    if stype in ("NodePort", "LoadBalancer"):
        _set(spec, "externalTrafficPolicy", "Cluster")
    if stype != "ExternalName":
        _set(spec, "internalTrafficPolicy", "Cluster")
        _set(spec, "ipFamilyPolicy", "SingleStack")
        if not spec.get("ipFamilies"):
            ips = spec.get("clusterIPs") or (
                [spec["clusterIP"]] if spec.get("clusterIP") not in (None, "", "None") else []
            )
            spec["ipFamilies"] = ["IPv6" if ":" in str(ip) else "IPv4" for ip in ips] or ["IPv4"]
    if stype == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True
    if spec["sessionAffinity"] == "ClientIP":
        client_ip = _d(_d(spec, "sessionAffinityConfig"), "clientIP")
        _set(client_ip, "timeoutSeconds", 10800)


def default_secret(obj: dict[str, Any]) -> None:
    _set(obj, "type", "Opaque")
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = _d(obj, "data")
        for k, v in string_data.items():
            data[k] = base64.b64encode(str(v).encode()).decode()


def default_namespace(obj: dict[str, Any]) -> None:
    meta = _d(obj, "metadata")
    if meta.get("name"):
        _d(meta, "labels")["kubernetes.io/metadata.name"] = meta["name"]
    spec = _d(obj, "spec")
    if not spec.get("finalizers"):
        spec["finalizers"] = ["kubernetes"]
    _set(_d(obj, "status"), "phase", "Active")


def default_node(obj: dict[str, Any]) -> None:
    status = obj.get("status")
    if (
        isinstance(status, dict)
        and isinstance(status.get("capacity"), dict)
        and status.get("allocatable") is None
    ):
        status["allocatable"] = copy.deepcopy(status["capacity"])


def default_pv(obj: dict[str, Any]) -> None:
    spec = _d(obj, "spec")
    _set(spec, "persistentVolumeReclaimPolicy", "Retain")
    _set(spec, "volumeMode", "Filesystem")
    if isinstance(spec.get("hostPath"), dict) and spec["hostPath"].get("type") is None:
        spec["hostPath"]["type"] = ""
    _set(_d(obj, "status"), "phase", "Pending")


def default_pvc(obj: dict[str, Any]) -> None:
    _set(_d(obj, "spec"), "volumeMode", "Filesystem")
    _set(_d(obj, "status"), "phase", "Pending")


def default_endpoints(obj: dict[str, Any]) -> None:
    for subset in _dicts(obj.get("subsets")):
        for port in _dicts(subset.get("ports")):
            _set(port, "protocol", "TCP")


def default_limit_range(obj: dict[str, Any]) -> None:
    for item in _dicts(_d(obj, "spec").get("limits")):
        if item.get("type") != "Container":
            continue
        default = _d(item, "default")
        default_request = _d(item, "defaultRequest")
        for k, v in (item.get("max") or {}).items():
            default.setdefault(k, v)
        for k, v in default.items():
            default_request.setdefault(k, v)
        for k, v in (item.get("min") or {}).items():
            default_request.setdefault(k, v)
        if not default:
            item.pop("default")
        if not default_request:
            item.pop("defaultRequest")


def default_replication_controller(obj: dict[str, Any]) -> None:
    spec = _d(obj, "spec")
    template = spec.get("template")
    if isinstance(template, dict):
        labels = (template.get("metadata") or {}).get("labels") or {}
        if labels:
            if not spec.get("selector"):
                spec["selector"] = dict(labels)
            meta = _d(obj, "metadata")
            if not meta.get("labels"):
                meta["labels"] = dict(labels)
        default_pod_template(template)
    if spec.get("replicas") is None:
        spec["replicas"] = 1


def default_pod_template_kind(obj: dict[str, Any]) -> None:
    default_pod_template(obj.get("template"))


def default_deployment(obj: dict[str, Any]) -> None:
    spec = _d(obj, "spec")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    strategy = _d(spec, "strategy")
    _set(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _d(strategy, "rollingUpdate")
        _set(rolling, "maxUnavailable", "25%")
        _set(rolling, "maxSurge", "25%")
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    if spec.get("progressDeadlineSeconds") is None:
        spec["progressDeadlineSeconds"] = 600
    default_pod_template(spec.get("template"))


def default_replica_set(obj: dict[str, Any]) -> None:
    spec = _d(obj, "spec")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    default_pod_template(spec.get("template"))


def default_stateful_set(obj: dict[str, Any]) -> None:
    spec = _d(obj, "spec")
    _set(spec, "podManagementPolicy", "OrderedReady")
    strategy = _d(spec, "updateStrategy")
    _set(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _d(strategy, "rollingUpdate")
        if rolling.get("partition") is None:
            rolling["partition"] = 0
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    retention = _d(spec, "persistentVolumeClaimRetentionPolicy")
    _set(retention, "whenDeleted", "Retain")
    _set(retention, "whenScaled", "Retain")
    default_pod_template(spec.get("template"))
    for claim in _dicts(spec.get("volumeClaimTemplates")):
        _set(_d(claim, "spec"), "volumeMode", "Filesystem")
        _set(_d(claim, "status"), "phase", "Pending")


def default_daemon_set(obj: dict[str, Any]) -> None:
    spec = _d(obj, "spec")
    strategy = _d(spec, "updateStrategy")
    _set(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _d(strategy, "rollingUpdate")
        if rolling.get("maxUnavailable") is None:
            rolling["maxUnavailable"] = 1
        if rolling.get("maxSurge") is None:
            rolling["maxSurge"] = 0
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    default_pod_template(spec.get("template"))


def default_job_spec(spec: dict[str, Any], *, is_job: bool) -> None:
    """``SetDefaults_Job`` on a JobSpec (``is_job`` False for CronJob job templates: pod spec only)."""
    if is_job:
        if spec.get("completions") is None and spec.get("parallelism") is None:
            spec["completions"] = 1
            spec["parallelism"] = 1
        if spec.get("parallelism") is None:
            spec["parallelism"] = 1
        if spec.get("backoffLimit") is None:
            spec["backoffLimit"] = 2147483647 if spec.get("backoffLimitPerIndex") is not None else 6
        _set(spec, "completionMode", "NonIndexed")
        if spec.get("suspend") is None:
            spec["suspend"] = False
        policy = spec.get("podFailurePolicy")
        if isinstance(policy, dict):
            for rule in _dicts(policy.get("rules")):
                for pattern in _dicts(rule.get("onPodConditions")):
                    _set(pattern, "status", "True")
        _set(spec, "podReplacementPolicy", "Failed" if isinstance(policy, dict) else "TerminatingOrFailed")
    default_pod_template(spec.get("template"))


def default_job(obj: dict[str, Any]) -> None:
    spec = _d(obj, "spec")
    default_job_spec(spec, is_job=True)
    template = spec.get("template")
    labels = ((template or {}).get("metadata") or {}).get("labels") if isinstance(template, dict) else None
    meta = _d(obj, "metadata")
    if labels and not meta.get("labels"):
        meta["labels"] = dict(labels)


def default_cron_job(obj: dict[str, Any]) -> None:
    spec = _d(obj, "spec")
    _set(spec, "concurrencyPolicy", "Allow")
    if spec.get("suspend") is None:
        spec["suspend"] = False
    if spec.get("successfulJobsHistoryLimit") is None:
        spec["successfulJobsHistoryLimit"] = 3
    if spec.get("failedJobsHistoryLimit") is None:
        spec["failedJobsHistoryLimit"] = 1
    job_template = spec.get("jobTemplate")
    if isinstance(job_template, dict):
        default_job_spec(_d(job_template, "spec"), is_job=False)


_HPA_SCALE_UP = {
    "stabilizationWindowSeconds": 0,
    "selectPolicy": "Max",
    "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15},
    ],
}
_HPA_SCALE_DOWN = {
    "selectPolicy": "Max",
    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
}


def _hpa_rules(given: Any, defaults: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(defaults)
    if isinstance(given, dict):
        for k in ("selectPolicy", "stabilizationWindowSeconds", "policies", "tolerance"):
            if given.get(k) is not None:
                out[k] = given[k]
    return out


def default_hpa(obj: dict[str, Any]) -> None:
    spec = _d(obj, "spec")
    if spec.get("minReplicas") is None:
        spec["minReplicas"] = 1
    if not spec.get("metrics"):
        spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
            }
        ]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        behavior["scaleUp"] = _hpa_rules(behavior.get("scaleUp"), _HPA_SCALE_UP)
        behavior["scaleDown"] = _hpa_rules(behavior.get("scaleDown"), _HPA_SCALE_DOWN)


def default_priority_class(obj: dict[str, Any]) -> None:
    _set(obj, "preemptionPolicy", "PreemptLowerPriority")


def default_storage_class(obj: dict[str, Any]) -> None:
    _set(obj, "reclaimPolicy", "Delete")
    _set(obj, "volumeBindingMode", "Immediate")


def default_binding(obj: dict[str, Any]) -> None:
    _set(_d(obj, "roleRef"), "apiGroup", "rbac.authorization.k8s.io")
    for subject in _dicts(obj.get("subjects")):
        if not subject.get("apiGroup") and subject.get("kind") in ("User", "Group"):
            subject["apiGroup"] = "rbac.authorization.k8s.io"


def default_endpoint_slice(obj: dict[str, Any]) -> None:
    for port in _dicts(obj.get("ports")):
        if port.get("name") is None:
            port["name"] = ""
        _set(port, "protocol", "TCP")


def default_crd(obj: dict[str, Any]) -> None:
    spec = _d(obj, "spec")
    conversion = _d(spec, "conversion")
    _set(conversion, "strategy", "None")
    webhook = conversion.get("webhook")
    if isinstance(webhook, dict):
        service = (webhook.get("clientConfig") or {}).get("service")
        if isinstance(service, dict) and service.get("port") is None:
            service["port"] = 443
    names = _d(spec, "names")
    kind = names.get("kind")
    if isinstance(kind, str) and kind:
        _set(names, "singular", kind.lower())
        _set(names, "listKind", kind + "List")


# -- networking, storage (CSI), admission registration, flow control, APIService -------------------


def default_network_policy(obj: dict[str, Any]) -> None:
    spec = _d(obj, "spec")
    _d(spec, "podSelector")
    for direction in ("ingress", "egress"):
        for rule in _dicts(spec.get(direction)):
            for port in _dicts(rule.get("ports")):
                _set(port, "protocol", "TCP")
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress"] + (["Egress"] if spec.get("egress") else [])


def default_ingress_class(obj: dict[str, Any]) -> None:
    params = _d(obj, "spec").get("parameters")
    if isinstance(params, dict):
        _set(params, "scope", "Cluster")


def default_csi_driver(obj: dict[str, Any]) -> None:
    spec = _d(obj, "spec")
    for key, value in (
        ("attachRequired", True),
        ("podInfoOnMount", False),
        ("storageCapacity", False),
        ("fsGroupPolicy", "ReadWriteOnceWithFSType"),
        ("requiresRepublish", False),
        ("seLinuxMount", False),
    ):
        _set(spec, key, value)
    if not spec.get("volumeLifecycleModes"):
        spec["volumeLifecycleModes"] = ["Persistent"]


def _default_rules(rules: Any) -> None:
    for rule in _dicts(rules):
        _set(rule, "scope", "*")


def _default_webhook(hook: dict[str, Any], *, mutating: bool) -> None:
    _set(hook, "failurePolicy", "Fail")
    _set(hook, "matchPolicy", "Equivalent")
    for key in ("namespaceSelector", "objectSelector"):
        if not isinstance(hook.get(key), dict):
            hook[key] = {}
    _set(hook, "timeoutSeconds", 10)
    if mutating:
        _set(hook, "reinvocationPolicy", "Never")
    _default_rules(hook.get("rules"))
    service = _d(hook, "clientConfig").get("service")
    if isinstance(service, dict):
        _set(service, "port", 443)


def default_mutating_webhooks(obj: dict[str, Any]) -> None:
    for hook in _dicts(obj.get("webhooks")):
        _default_webhook(hook, mutating=True)


def default_validating_webhooks(obj: dict[str, Any]) -> None:
    for hook in _dicts(obj.get("webhooks")):
        _default_webhook(hook, mutating=False)


def _default_match_resources(match: Any) -> None:
    if not isinstance(match, dict):
        return
    _set(match, "matchPolicy", "Equivalent")
    for key in ("namespaceSelector", "objectSelector"):
        if not isinstance(match.get(key), dict):
            match[key] = {}
    _default_rules(match.get("resourceRules"))
    _default_rules(match.get("excludeResourceRules"))


def default_validating_admission_policy(obj: dict[str, Any]) -> None:
    spec = _d(obj, "spec")
    _set(spec, "failurePolicy", "Fail")
    _default_match_resources(spec.get("matchConstraints"))


def default_validating_admission_policy_binding(obj: dict[str, Any]) -> None:
    _default_match_resources(_d(obj, "spec").get("matchResources"))


def default_flow_schema(obj: dict[str, Any]) -> None:
    spec = _d(obj, "spec")
    if not spec.get("matchingPrecedence"):
        spec["matchingPrecedence"] = 1000


def default_priority_level(obj: dict[str, Any]) -> None:
    spec = _d(obj, "spec")
    exempt = spec.get("exempt")
    if isinstance(exempt, dict):
        _set(exempt, "nominalConcurrencyShares", 0)
        _set(exempt, "lendablePercent", 0)
    limited = spec.get("limited")
    if isinstance(limited, dict):
        _set(limited, "nominalConcurrencyShares", 30)
        _set(limited, "lendablePercent", 0)
        queuing = _d(limited, "limitResponse").get("queuing")
        if isinstance(queuing, dict):
            for key, value in (("handSize", 8), ("queues", 64), ("queueLengthLimit", 50)):
                if not queuing.get(key):
                    queuing[key] = value


def default_api_service(obj: dict[str, Any]) -> None:
    service = _d(obj, "spec").get("service")
    if isinstance(service, dict):
        _set(service, "port", 443)


def job_selector_labels(uid: str, name: str) -> dict[str, str]:
    """The labels the Job strategy puts on an auto-selected Job's pod template (selector uses the
    controller-uid one)."""
    return {
        JOB_CONTROLLER_UID_LABEL: uid,
        JOB_NAME_LABEL: name,
        LEGACY_JOB_CONTROLLER_UID_LABEL: uid,
        LEGACY_JOB_NAME_LABEL: name,
    }


def apply_job_selector(obj: dict[str, Any]) -> None:
    """The Job strategy's ``generateSelector`` (call once ``metadata.uid`` is set, before validation):
    unless ``spec.manualSelector`` is true, add the job labels to the template (keeping user values)
    and select on ``batch.kubernetes.io/controller-uid``; the Job's own labels default to the
    template's (upstream gets them by re-defaulting on read)."""
    meta = _d(obj, "metadata")
    spec = _d(obj, "spec")
    if spec.get("manualSelector") is True:
        return
    uid, name = str(meta.get("uid") or ""), str(meta.get("name") or "")
    template_meta = _d(_d(spec, "template"), "metadata")
    labels = _d(template_meta, "labels")
    for k, v in job_selector_labels(uid, name).items():
        labels.setdefault(k, v)
    selector = _d(spec, "selector")
    _d(selector, "matchLabels").setdefault(JOB_CONTROLLER_UID_LABEL, uid)
    if not meta.get("labels"):
        meta["labels"] = dict(labels)
