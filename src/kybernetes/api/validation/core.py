"""Core (``""`` group, v1) type validation, after upstream ``pkg/apis/core/validation/validation.go``.

One ``create_*``/``update_*``/``status_*`` function per kind; metadata is validated by the package's
dispatcher (``__init__``), these functions see the whole object and return causes for everything else.
"""

from __future__ import annotations

import json
from typing import Any

from kybernetes.api.errors import Cause
from kybernetes.api.validation import field as f
from kybernetes.api.validation import meta, names, podspec, quantity
from kybernetes.api.validation.podspec import _dict, _int, _list, _s

MAX_SECRET_SIZE = 1 * 1024 * 1024
IMMUTABLE_WHEN_SET = "field is immutable when `immutable` is set"
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
UPDATABLE_POD_SPEC_FIELDS = (
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
)
SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
IP_FAMILY_POLICIES = ("PreferDualStack", "RequireDualStack", "SingleStack")
ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
RECLAIM_POLICIES = ("Delete", "Recycle", "Retain")
VOLUME_MODES = ("Block", "Filesystem")
STANDARD_FINALIZERS = ("kubernetes", "orphan", "foregroundDeletion")
PV_SOURCES = (
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "hostPath",
    "glusterfs",
    "nfs",
    "rbd",
    "iscsi",
    "cinder",
    "cephfs",
    "fc",
    "flocker",
    "flexVolume",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "local",
    "storageos",
    "csi",
)


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return _dict(obj.get("spec"))


def _diff(old: Any, new: Any, path: str, out: list[str]) -> None:
    if f.semantic_equal(old, new):
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for k in sorted(set(old) | set(new)):
            _diff(old.get(k), new.get(k), f.child(path, k), out)
        return
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            _diff(a, b, f.index(path, i), out)
        return
    if old is not None:
        out.append(f"- {path}: {json.dumps(old, separators=(',', ':'))}")
    if new is not None:
        out.append(f"+ {path}: {json.dumps(new, separators=(',', ':'))}")


def spec_diff(old: Any, new: Any, path: str = "spec") -> str:
    """A short line-per-field diff (upstream prints ``cmp.Diff`` of the internal structs)."""
    lines: list[str] = []
    _diff(old, new, path, lines)
    return "\n".join(lines)


# -- Pod ---------------------------------------------------------------------------------------------


def create_pod(obj: dict[str, Any]) -> list[Cause]:
    out = podspec.validate_pod_spec(obj.get("spec"), "spec", is_pod=True)
    if _list(_spec(obj).get("ephemeralContainers")):
        # only the ephemeralcontainers subresource adds them, to a pod that exists
        out.append(f.forbidden("spec.ephemeralContainers", "cannot be set on create"))
    return out


def _toleration_key(t: Any) -> str:
    return json.dumps(t, sort_keys=True)


def update_pod(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    out = podspec.validate_pod_spec(new.get("spec"), "spec", is_pod=True)
    ns, os_ = _spec(new), _spec(old)
    for kind in ("containers", "initContainers"):
        nc, oc = _list(ns.get(kind)), _list(os_.get(kind))
        if len(nc) != len(oc):
            out.append(f.forbidden(f.child("spec", kind), "pod updates may not add or remove containers"))
            return out
    ads, old_ads = ns.get("activeDeadlineSeconds"), os_.get("activeDeadlineSeconds")
    if isinstance(ads, int):
        if ads < 0 or ads > podspec.MAX_INT32:
            out.append(
                f.invalid(
                    "spec.activeDeadlineSeconds", ads, names.inclusive_range_error(0, podspec.MAX_INT32)
                )
            )
            return out
        if isinstance(old_ads, int) and old_ads < ads:
            out.append(
                f.invalid("spec.activeDeadlineSeconds", ads, "must be less than or equal to previous value")
            )
            return out
    elif isinstance(old_ads, int):
        out.append(
            f.invalid(
                "spec.activeDeadlineSeconds", None, "must not update from a positive integer to nil value"
            )
        )
    new_tols = {_toleration_key(t) for t in _list(ns.get("tolerations"))}
    for i, t in enumerate(_list(os_.get("tolerations"))):
        if _toleration_key(t) not in new_tols:
            out.append(
                f.forbidden(
                    f.index("spec.tolerations", i),
                    "existing toleration can not be modified except its tolerationSeconds",
                )
            )
    old_gates = {_s(_dict(g).get("name")) for g in _list(os_.get("schedulingGates"))}
    for i, g in enumerate(_list(ns.get("schedulingGates"))):
        name = _s(_dict(g).get("name"))
        if name not in old_gates:
            out.append(
                f.forbidden(
                    f.index("spec.schedulingGates", i),
                    f"only deletion is allowed, but found new scheduling gate '{name}'",
                )
            )
    if f.semantic_equal(ns, os_):
        return out
    munged = json.loads(json.dumps(ns))
    for kind in ("containers", "initContainers"):
        for mc, oc in zip(_list(munged.get(kind)), _list(os_.get(kind)), strict=False):
            if isinstance(mc, dict) and isinstance(oc, dict):
                if "image" in oc:
                    mc["image"] = oc["image"]
                else:
                    mc.pop("image", None)
    for k in ("activeDeadlineSeconds", "tolerations", "schedulingGates"):
        if k in os_:
            munged[k] = os_[k]
        else:
            munged.pop(k, None)
    old_tgp, new_tgp = os_.get("terminationGracePeriodSeconds"), ns.get("terminationGracePeriodSeconds")
    if isinstance(old_tgp, int) and old_tgp < 0 and new_tgp == 1:
        munged["terminationGracePeriodSeconds"] = old_tgp
    if os_.get("schedulingGates"):
        for k in ("nodeSelector", "affinity"):
            if k in os_:
                munged[k] = os_[k]
            else:
                munged.pop(k, None)
    if not f.semantic_equal(munged, os_):
        detail = "pod updates may not change fields other than " + ",".join(UPDATABLE_POD_SPEC_FIELDS)
        out.append(f.forbidden("spec", f"{detail}\n{spec_diff(os_, munged)}"))
    return out


def update_pod_ephemeral_containers_subresource(
    new: dict[str, Any], old: dict[str, Any], subresource: str
) -> list[Cause]:
    """``pods/ephemeralcontainers``: the server keeps all of the stored pod but spec.ephemeralContainers."""
    return update_pod_ephemeral_containers(new, old)


def update_pod_ephemeral_containers(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    """``ValidatePodEphemeralContainersUpdate``: a write to ``pods/ephemeralcontainers`` (the server kept
    everything but ``spec.ephemeralContainers`` of ``old``) may add ephemeral containers, never remove or
    change one."""
    out = podspec.validate_pod_spec(new.get("spec"), "spec", is_pod=True)
    annotations = _dict(_dict(old.get("metadata")).get("annotations"))
    if MIRROR_POD_ANNOTATION in annotations:
        return [f.forbidden("", "static pods do not support ephemeral containers")]
    path = "spec.ephemeralContainers"
    by_name = {_s(_dict(c).get("name")): _dict(c) for c in _list(_spec(new).get("ephemeralContainers"))}
    for prev in _list(_spec(old).get("ephemeralContainers")):
        prev = _dict(prev)
        name = _s(prev.get("name"))
        current = by_name.get(name)
        if current is None:
            out.append(
                f.forbidden(path, f"existing ephemeral containers {f.go_quote(name)} may not be removed\n")
            )
        elif not f.semantic_equal(prev, current):
            out.append(
                f.forbidden(
                    path,
                    f"existing ephemeral containers {f.go_quote(name)} may not be changed\n"
                    + spec_diff(prev, current, ""),
                )
            )
    return out


def _terminated_stays(new: Any, old: Any, path: str) -> list[Cause]:
    """``ValidateContainerStateTransition`` under restartPolicy Never (ephemeral containers never restart):
    a terminated container may not become non-terminated."""
    out: list[Cause] = []
    now = {_s(_dict(s).get("name")): _dict(s) for s in _list(new)}
    for i, prev in enumerate(_list(old)):
        prev = _dict(prev)
        if "terminated" not in _dict(prev.get("state")):
            continue
        cur = now.get(_s(prev.get("name")))
        if cur is not None and "terminated" not in _dict(cur.get("state")):
            out.append(
                f.forbidden(
                    f.child(f.index(path, i), "state"), "may not be transitioned to non-terminated state"
                )
            )
    return out


def status_pod(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    status = _dict(new.get("status"))
    nominated = _s(status.get("nominatedNodeName"))
    if nominated:
        out += f.invalid_each(
            "status.nominatedNodeName", nominated, names.name_is_dns_subdomain(nominated, False)
        )
    ctr_names = {_s(_dict(c).get("name")) for c in _list(_spec(new).get("containers"))}
    for i, cs in enumerate(_list(status.get("containerStatuses"))):
        name = _s(_dict(cs).get("name"))
        if ctr_names and name not in ctr_names:
            out.append(f.not_found(f.child(f.index("status.containerStatuses", i), "name"), name))
    out += _terminated_stays(
        status.get("ephemeralContainerStatuses"),
        _dict(old.get("status")).get("ephemeralContainerStatuses"),
        "status.ephemeralContainerStatuses",
    )
    for i, ip in enumerate(_list(status.get("podIPs"))):
        v = _s(_dict(ip).get("ip"))
        out += f.invalid_each(f.child(f.index("status.podIPs", i), "ip"), v, names.is_valid_ip(v))
    return out


def create_pod_template(obj: dict[str, Any]) -> list[Cause]:
    return podspec.validate_pod_template_spec(obj.get("template"), "template")


# -- ReplicationController ---------------------------------------------------------------------------


def create_replication_controller(obj: dict[str, Any]) -> list[Cause]:
    spec = _spec(obj)
    out = f.nonnegative(spec.get("replicas"), "spec.replicas")
    out += f.nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    selector = _dict(spec.get("selector"))
    if not selector:
        out.append(f.required("spec.selector"))
    else:
        out += meta.validate_labels(selector, "spec.selector")
    template = spec.get("template")
    if not isinstance(template, dict):
        out.append(f.required("spec.template"))
        return out
    labels = _dict(_dict(template.get("metadata")).get("labels"))
    if selector and any(labels.get(k) != v for k, v in selector.items()):
        out.append(
            f.invalid("spec.template.metadata.labels", labels, "`selector` does not match template `labels`")
        )
    out += podspec.validate_long_running_template(
        template, "spec.template", "ReplicationController", deadline_invalid=True
    )
    return out


# -- Service -----------------------------------------------------------------------------------------


def create_service(obj: dict[str, Any]) -> list[Cause]:
    spec = _spec(obj)
    out: list[Cause] = []
    stype = spec.get("type")
    cluster_ip = _s(spec.get("clusterIP"))
    headless = cluster_ip == "None"
    ports = _list(spec.get("ports"))
    if not ports and not headless and stype != "ExternalName":
        out.append(f.required("spec.ports"))
    if isinstance(stype, str) and stype not in SERVICE_TYPES:
        out.append(f.not_supported("spec.type", stype, SERVICE_TYPES))
    if stype == "ExternalName":
        if _list(spec.get("clusterIPs")):
            out.append(f.forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
        if _list(spec.get("ipFamilies")):
            out.append(f.forbidden("spec.ipFamilies", "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            out.append(f.forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
        cname = _s(spec.get("externalName")).removesuffix(".")
        if cname:
            out += f.invalid_each("spec.externalName", cname, names.is_dns1123_subdomain(cname))
        else:
            out.append(f.required("spec.externalName"))
    for i, ip in enumerate(_list(spec.get("clusterIPs")) or ([cluster_ip] if cluster_ip else [])):
        if ip in ("", "None") and i == 0:
            continue
        p = f.index("spec.clusterIPs", i) if spec.get("clusterIPs") else "spec.clusterIP"
        if ip == "None":
            out.append(f.invalid(p, ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
        elif isinstance(ip, str):
            out += f.invalid_each(p, ip, names.is_valid_ip(ip))
    seen_names: set[str] = set()
    seen_ports: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        port = _dict(port)
        p = f.index("spec.ports", i)
        name = _s(port.get("name"))
        if len(ports) > 1 and not name:
            out.append(f.required(f.child(p, "name")))
        elif name:
            out += f.invalid_each(f.child(p, "name"), name, names.is_dns1123_label(name))
            if name in seen_names:
                out.append(f.duplicate(f.child(p, "name"), name))
            seen_names.add(name)
        num = _int(port.get("port")) or 0
        out += f.invalid_each(f.child(p, "port"), num, names.is_valid_port_num(num))
        proto = port.get("protocol")
        if isinstance(proto, str) and proto not in podspec.PROTOCOLS:
            out.append(f.not_supported(f.child(p, "protocol"), proto, podspec.PROTOCOLS))
        target = port.get("targetPort")
        if target is not None and target != 0 and target != "":
            out += podspec._validate_port_num_or_name(target, f.child(p, "targetPort"))
        node_port = _int(port.get("nodePort"))
        if node_port:
            if stype in ("ClusterIP", None, "ExternalName"):
                out.append(
                    f.forbidden(
                        f.child(p, "nodePort"), f"may not be used when `type` is '{stype or 'ClusterIP'}'"
                    )
                )
            else:
                out += f.invalid_each(f.child(p, "nodePort"), node_port, names.is_valid_port_num(node_port))
        k = (_s(proto) or "TCP", num)
        if k in seen_ports:
            out.append(
                f.duplicate(
                    p,
                    f.Raw(
                        f'core.ServicePort{{Name:"", Protocol:"{k[0]}", AppProtocol:(*string)(nil), Port:{num}, '
                        'TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}'
                    ),
                )
            )
        seen_ports.add(k)
    affinity = spec.get("sessionAffinity")
    if isinstance(affinity, str) and affinity not in ("ClientIP", "None"):
        out.append(f.not_supported("spec.sessionAffinity", affinity, ("ClientIP", "None")))
    out += meta.validate_labels(spec.get("selector"), "spec.selector")
    etp = spec.get("externalTrafficPolicy")
    if etp:
        if stype not in ("NodePort", "LoadBalancer"):
            out.append(
                f.invalid(
                    "spec.externalTrafficPolicy",
                    etp,
                    "may only be set when `type` is 'NodePort' or 'LoadBalancer'",
                )
            )
        elif etp not in ("Cluster", "Local"):
            out.append(f.not_supported("spec.externalTrafficPolicy", etp, ("Cluster", "Local")))
    itp = spec.get("internalTrafficPolicy")
    if isinstance(itp, str) and itp not in ("Cluster", "Local"):
        out.append(f.not_supported("spec.internalTrafficPolicy", itp, ("Cluster", "Local")))
    policy = spec.get("ipFamilyPolicy")
    if isinstance(policy, str) and policy not in IP_FAMILY_POLICIES:
        out.append(f.not_supported("spec.ipFamilyPolicy", policy, IP_FAMILY_POLICIES))
    for i, fam in enumerate(_list(spec.get("ipFamilies"))):
        if fam not in ("IPv4", "IPv6"):
            out.append(f.not_supported(f.index("spec.ipFamilies", i), fam, ("IPv4", "IPv6")))
    return out


def update_service(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    out = create_service(new)
    ns, os_ = _spec(new), _spec(old)
    if "ExternalName" in (ns.get("type"), os_.get("type")):
        return out
    new_ips = _list(ns.get("clusterIPs")) or ([ns["clusterIP"]] if _s(ns.get("clusterIP")) else [])
    old_ips = _list(os_.get("clusterIPs")) or ([os_["clusterIP"]] if _s(os_.get("clusterIP")) else [])
    if new_ips and old_ips and new_ips[0] != old_ips[0]:
        out.append(f.invalid("spec.clusterIPs[0]", new_ips, "may not change once set"))
    return out


# -- ConfigMap / Secret ------------------------------------------------------------------------------


def create_config_map(obj: dict[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    data, binary = _dict(obj.get("data")), _dict(obj.get("binaryData"))
    total = 0
    for k, v in data.items():
        out += f.invalid_each(f.key("data", k), k, names.is_config_map_key(k))
        if k in binary:
            out.append(f.invalid(f.key("data", k), k, "duplicate of key present in binaryData"))
        total += len(_s(v).encode())
    for k, v in binary.items():
        out += f.invalid_each(f.key("binaryData", k), k, names.is_config_map_key(k))
        if k in data:
            out.append(f.invalid(f.key("binaryData", k), k, "duplicate of key present in data"))
        total += len(podspec.decode_b64(v))
    if total > MAX_SECRET_SIZE:
        out.append(f.too_long("", MAX_SECRET_SIZE))
    return out


def _immutable_data(new: dict[str, Any], old: dict[str, Any], keys: tuple[str, ...]) -> list[Cause]:
    out: list[Cause] = []
    if old.get("immutable") is True:
        if new.get("immutable") is not True:
            out.append(f.forbidden("immutable", IMMUTABLE_WHEN_SET))
        for k in keys:
            if _dict(new.get(k)) != _dict(old.get(k)):
                out.append(f.forbidden(k, IMMUTABLE_WHEN_SET))
    return out


def update_config_map(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    return _immutable_data(new, old, ("data", "binaryData")) + create_config_map(new)


_SECRET_REQUIRED_KEYS = {
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
}


def create_secret(obj: dict[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    data = _dict(obj.get("data"))
    total = 0
    for k, v in data.items():
        out += f.invalid_each(f.key("data", k), k, names.is_config_map_key(k))
        total += len(podspec.decode_b64(v))
    for k, v in _dict(obj.get("stringData")).items():
        if k not in data:
            out += f.invalid_each(f.key("data", k), k, names.is_config_map_key(k))
        total += len(_s(v).encode())
    if total > MAX_SECRET_SIZE:
        out.append(f.too_long("data", MAX_SECRET_SIZE))
    keys = set(data) | set(_dict(obj.get("stringData")))
    stype = obj.get("type") or "Opaque"
    if stype == "kubernetes.io/service-account-token":
        annotations = _dict(_dict(obj.get("metadata")).get("annotations"))
        if not annotations.get("kubernetes.io/service-account.name"):
            out.append(f.required(f.key("metadata.annotations", "kubernetes.io/service-account.name")))
    elif stype in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        k = ".dockercfg" if stype == "kubernetes.io/dockercfg" else ".dockerconfigjson"
        if k not in keys:
            out.append(f.required(f.key("data", k)))
        elif k in data:
            try:
                json.loads(podspec.decode_b64(data[k]) or b"")
            except ValueError as exc:
                out.append(f.invalid(f.key("data", k), "<secret contents redacted>", str(exc)))
    elif stype == "kubernetes.io/basic-auth":
        if "username" not in keys and "password" not in keys:
            out.append(f.required(f.key("data", "username")))
            out.append(f.required(f.key("data", "password")))
    elif stype == "kubernetes.io/ssh-auth":
        if not data.get("ssh-privatekey") and not _dict(obj.get("stringData")).get("ssh-privatekey"):
            out.append(f.required(f.key("data", "ssh-privatekey")))
    elif stype == "kubernetes.io/tls":
        for k in ("tls.crt", "tls.key"):
            if k not in keys:
                out.append(f.required(f.key("data", k)))
    return out


def update_secret(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    out = f.immutable(new.get("type") or "Opaque", old.get("type") or "Opaque", "type")
    return out + _immutable_data(new, old, ("data",)) + create_secret(new)


# -- Namespace ---------------------------------------------------------------------------------------


def _finalizer_name(name: str, path: str) -> list[Cause]:
    out = f.invalid_each(path, name, names.is_qualified_name(name))
    if not out and "/" not in name and name not in STANDARD_FINALIZERS:
        out.append(
            f.invalid(path, name, "name is neither a standard finalizer name nor is it fully qualified")
        )
    return out


def create_namespace(obj: dict[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    for fin in _list(_spec(obj).get("finalizers")):
        out += _finalizer_name(_s(fin), "spec.finalizers")
    return out


def update_namespace(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    return []


def status_namespace(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    phase = _s(_dict(new.get("status")).get("phase"))
    if not _dict(new.get("metadata")).get("deletionTimestamp"):
        if phase != "Active":
            return [f.invalid("status.Phase", phase, "may only be 'Active' if `deletionTimestamp` is empty")]
    elif phase != "Terminating":
        return [
            f.invalid("status.Phase", phase, "may only be 'Terminating' if `deletionTimestamp` is not empty")
        ]
    return []


# -- Node --------------------------------------------------------------------------------------------


def _validate_taints(taints: Any, path: str) -> list[Cause]:
    out: list[Cause] = []
    seen: set[tuple[str, str]] = set()
    for i, taint in enumerate(_list(taints)):
        taint = _dict(taint)
        p = f.index(path, i)
        k = _s(taint.get("key"))
        out += f.invalid_each(f.child(p, "key"), k, names.is_qualified_name(k))
        v = _s(taint.get("value"))
        out += f.invalid_each(f.child(p, "value"), v, names.is_valid_label_value(v))
        effect = _s(taint.get("effect"))
        if not effect:
            out.append(f.required(f.child(p, "effect")))
        elif effect not in podspec.TAINT_EFFECTS:
            out.append(
                f.not_supported(f.child(p, "effect"), effect, ("NoSchedule", "PreferNoSchedule", "NoExecute"))
            )
        if (k, effect) in seen:
            out.append(f.duplicate(p, taint, "taints must be unique by key and effect pair"))
        seen.add((k, effect))
    return out


def create_node(obj: dict[str, Any]) -> list[Cause]:
    spec = _spec(obj)
    out = _validate_taints(spec.get("taints"), "spec.taints")
    cidrs = _list(spec.get("podCIDRs")) or ([spec["podCIDR"]] if _s(spec.get("podCIDR")) else [])
    for i, cidr in enumerate(cidrs):
        out += f.invalid_each(f.index("spec.podCIDRs", i), cidr, names.is_valid_cidr(_s(cidr)))
    if len(cidrs) > 2:
        out.append(f.invalid("spec.podCIDRs", cidrs, "may specify no more than one CIDR for each IP family"))
    return out


def update_node(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    out = create_node(new)
    ns, os_ = _spec(new), _spec(old)
    old_cidrs = _list(os_.get("podCIDRs"))
    if old_cidrs and _list(ns.get("podCIDRs")) != old_cidrs:
        out.append(
            f.forbidden("spec.podCIDRs", 'node updates may not change podCIDR except from "" to valid')
        )
    if _s(os_.get("providerID")) and ns.get("providerID") != os_.get("providerID"):
        out.append(
            f.forbidden("spec.providerID", 'node updates may not change providerID except from "" to valid')
        )
    return out


def status_node(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    status = _dict(new.get("status"))
    for section in ("capacity", "allocatable"):
        for k, v in _dict(status.get(section)).items():
            if quantity.is_valid(v) and quantity.parse(v) < 0:
                out.append(
                    f.invalid(f.key(f.child("status", section), k), quantity.canonical(v), f.IS_NEGATIVE)
                )
    return out


# -- PersistentVolume / PersistentVolumeClaim --------------------------------------------------------


def _access_modes(modes: Any, path: str, *, pvc: bool) -> list[Cause]:
    out: list[Cause] = []
    modes = _list(modes)
    if not modes:
        out.append(f.required(path, "at least 1 access mode is required") if pvc else f.required(path))
    for m in modes:
        if m not in ACCESS_MODES:
            out.append(f.not_supported(path, m, ACCESS_MODES))
    if "ReadWriteOncePod" in modes and len(modes) > 1:
        out.append(f.forbidden(path, "may not use ReadWriteOncePod with other access modes"))
    return out


def _volume_mode_and_class(spec: dict[str, Any]) -> list[Cause]:
    """The ``volumeMode`` and ``storageClassName`` checks persistent volumes and claims share."""
    out: list[Cause] = []
    mode = spec.get("volumeMode")
    if isinstance(mode, str) and mode not in VOLUME_MODES:
        out.append(f.not_supported("spec.volumeMode", mode, VOLUME_MODES))
    sc = _s(spec.get("storageClassName"))
    if sc:
        out += f.invalid_each("spec.storageClassName", sc, names.name_is_dns_subdomain(sc, False))
    return out


def create_persistent_volume(obj: dict[str, Any]) -> list[Cause]:
    spec = _spec(obj)
    out = _access_modes(spec.get("accessModes"), "spec.accessModes", pvc=False)
    capacity = _dict(spec.get("capacity"))
    if not capacity:
        out.append(f.required("spec.capacity"))
    elif set(capacity) != {"storage"}:
        out.append(f.not_supported("spec.capacity", sorted(capacity), ("storage",)))
    for k, v in capacity.items():
        if quantity.is_valid(v) and quantity.parse(v) < 0:
            out.append(f.invalid(f.key("spec.capacity", k), quantity.canonical(v), f.IS_NEGATIVE))
    sources = [s for s in PV_SOURCES if spec.get(s) is not None]
    if not sources:
        out.append(f.required("spec", "must specify a volume type"))
    for extra in sources[1:]:
        out.append(f.forbidden(f.child("spec", extra), "may not specify more than 1 volume type"))
    hp = spec.get("hostPath")
    if isinstance(hp, dict) and not _s(hp.get("path")):
        out.append(f.required("spec.hostPath.path"))
    local = spec.get("local")
    if isinstance(local, dict) and not _s(local.get("path")):
        out.append(f.required("spec.local.path"))
    policy = spec.get("persistentVolumeReclaimPolicy")
    if isinstance(policy, str) and policy not in RECLAIM_POLICIES:
        out.append(f.not_supported("spec.persistentVolumeReclaimPolicy", policy, RECLAIM_POLICIES))
    out += _volume_mode_and_class(spec)
    return out


def update_persistent_volume(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    out = create_persistent_volume(new)
    ns, os_ = _spec(new), _spec(old)
    for s in PV_SOURCES:
        if not f.semantic_equal(ns.get(s), os_.get(s)):
            out.append(
                f.forbidden(
                    "spec.persistentvolumesource", "spec.persistentvolumesource is immutable after creation"
                )
            )
            break
    out += f.immutable(ns.get("volumeMode"), os_.get("volumeMode"), "volumeMode")
    if os_.get("nodeAffinity") is not None:
        out += f.immutable(ns.get("nodeAffinity"), os_.get("nodeAffinity"), "nodeAffinity")
    return out


def create_persistent_volume_claim(obj: dict[str, Any]) -> list[Cause]:
    spec = _spec(obj)
    out = _access_modes(spec.get("accessModes"), "spec.accessModes", pvc=True)
    out += meta.validate_label_selector(spec.get("selector"), "spec.selector")
    requests = _dict(_dict(spec.get("resources")).get("requests"))
    storage = requests.get("storage")
    if storage is None:
        out.append(f.required(f.key("spec.resources", "storage")))
    elif quantity.is_valid(storage) and quantity.parse(storage) <= 0:
        out.append(
            f.invalid(
                f.key("spec.resources", "storage"), quantity.canonical(storage), "must be greater than zero"
            )
        )
    out += _volume_mode_and_class(spec)
    return out


def update_persistent_volume_claim(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    out = create_persistent_volume_claim(new)
    ns, os_ = json.loads(json.dumps(_spec(new))), json.loads(json.dumps(_spec(old)))
    for spec in (ns, os_):
        # null decodes as the zero value upstream: an absent resources/requests map
        if not isinstance(spec.get("resources"), dict):
            spec["resources"] = {}
        if not isinstance(spec["resources"].get("requests"), dict):
            spec["resources"]["requests"] = {}
        spec["resources"]["requests"].pop("storage", None)
        spec.pop("volumeAttributesClassName", None)
    if not _s(os_.get("volumeName")):
        os_["volumeName"] = ns.get("volumeName")
        if os_["volumeName"] is None:
            os_.pop("volumeName")
    if not f.semantic_equal(ns, os_):
        out.append(
            f.forbidden(
                "spec",
                "spec is immutable after creation except resources.requests and volumeAttributesClassName "
                f"for bound claims\n{spec_diff(os_, ns)}",
            )
        )
    return out


# -- small types -------------------------------------------------------------------------------------


def create_endpoints(obj: dict[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    for i, subset in enumerate(_list(obj.get("subsets"))):
        subset = _dict(subset)
        p = f.index("subsets", i)
        for kind in ("addresses", "notReadyAddresses"):
            for j, addr in enumerate(_list(subset.get(kind))):
                ip = _s(_dict(addr).get("ip"))
                out += f.invalid_each(f.child(f.index(f.child(p, kind), j), "ip"), ip, names.is_valid_ip(ip))
        for j, port in enumerate(_list(subset.get("ports"))):
            port = _dict(port)
            pp = f.index(f.child(p, "ports"), j)
            num = _int(port.get("port")) or 0
            out += f.invalid_each(f.child(pp, "port"), num, names.is_valid_port_num(num))
            proto = port.get("protocol")
            if isinstance(proto, str) and proto not in podspec.PROTOCOLS:
                out.append(f.not_supported(f.child(pp, "protocol"), proto, podspec.PROTOCOLS))
    return out


def create_event(obj: dict[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    ns = _s(_dict(obj.get("metadata")).get("namespace"))
    involved = _dict(obj.get("involvedObject"))
    ino = _s(involved.get("namespace"))
    if not obj.get("eventTime"):
        if not ino:
            if ns not in ("", "default"):
                out.append(f.invalid("involvedObject.namespace", ino, "does not match event.namespace"))
        elif ns != ino:
            out.append(f.invalid("involvedObject.namespace", ino, "does not match event.namespace"))
    else:
        for k in ("reportingComponent", "reportingInstance", "action"):
            if not _s(obj.get(k)):
                out.append(f.required(k))
        if ino and ns != ino:
            out.append(f.invalid("involvedObject.namespace", ino, "does not match event.namespace"))
    out += f.invalid_each("namespace", ns, names.is_dns1123_subdomain(ns))
    return out


def create_resource_quota(obj: dict[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    for k, v in _dict(_spec(obj).get("hard")).items():
        out += f.invalid_each(f.key("spec.hard", k), k, names.is_qualified_name(k))
        if quantity.is_valid(v) and quantity.parse(v) < 0:
            out.append(f.invalid(f.key("spec.hard", k), quantity.canonical(v), f.IS_NEGATIVE))
    scopes = (
        "BestEffort",
        "CrossNamespacePodAffinity",
        "NotBestEffort",
        "NotTerminating",
        "PriorityClass",
        "Terminating",
    )
    for s in _list(_spec(obj).get("scopes")):
        if s not in scopes:
            out.append(f.not_supported("spec.scopes", s, scopes))
    return out


def create_limit_range(obj: dict[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    types = ("Container", "PersistentVolumeClaim", "Pod")
    for i, item in enumerate(_list(_spec(obj).get("limits"))):
        item = _dict(item)
        p = f.index("spec.limits", i)
        t = _s(item.get("type"))
        if t and t not in types and "/" not in t:
            out.append(f.not_supported(f.child(p, "type"), t, types))
        for section in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
            for k, v in _dict(item.get(section)).items():
                if quantity.is_valid(v) and quantity.parse(v) < 0:
                    out.append(f.invalid(f.key(f.child(p, section), k), quantity.canonical(v), f.IS_NEGATIVE))
    return out
