"""PodSpec validation (upstream ``pkg/apis/core/validation``: ``ValidatePodSpec`` and helpers).

Shared by Pods and by every pod template (PodTemplate, ReplicationController, apps workloads, Job,
CronJob). Fields that upstream defaults before validating (``restartPolicy``, ``dnsPolicy``, container
``imagePullPolicy``...) are checked when present and not reported missing, so the functions give the
same answers whether or not the ``defaults`` of the kind ran first.
"""

from __future__ import annotations

import base64
from typing import Any

from kybernetes.api.errors import Cause
from kybernetes.api.validation import field as f
from kybernetes.api.validation import meta, names, quantity
from kybernetes.api.volumes import VOLUME_SOURCES

PROTOCOLS = ("SCTP", "TCP", "UDP")
RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
TERMINATION_MESSAGE_POLICIES = ("FallbackToLogsOnError", "File")
TAINT_EFFECTS = ("NoExecute", "NoSchedule", "PreferNoSchedule")
FILE_MODE_ERROR = "must be a number between 0 and 0777 (octal), both inclusive"
MAX_INT32 = 2147483647
STANDARD_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")

HOST_PATH_TYPES = (
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
)


def _s(v: Any) -> str:
    return v if isinstance(v, str) else ""


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


# -- volumes -----------------------------------------------------------------------------------------


def validate_volumes(volumes: Any, path: str) -> tuple[list[Cause], set[str]]:
    out: list[Cause] = []
    seen: set[str] = set()
    for i, vol in enumerate(_list(volumes)):
        p = f.index(path, i)
        vol = _dict(vol)
        name = _s(vol.get("name"))
        if not name:
            out.append(f.required(f.child(p, "name")))
        else:
            out += f.invalid_each(f.child(p, "name"), name, names.is_dns1123_label(name))
            if name in seen:
                out.append(f.duplicate(f.child(p, "name"), name))
            else:
                seen.add(name)
        sources = [s for s in VOLUME_SOURCES if vol.get(s) is not None]
        if not sources:
            out.append(f.required(p, "must specify a volume type"))
        for extra in sources[1:]:
            out.append(f.forbidden(f.child(p, extra), "may not specify more than 1 volume type"))
        out += _validate_volume_source(vol, p)
    return out, seen


def _mode(value: Any, path: str) -> list[Cause]:
    v = _int(value)
    if v is not None and (v > 0o777 or v < 0):
        return [f.invalid(path, v, FILE_MODE_ERROR)]
    return []


def _validate_volume_source(vol: dict[str, Any], p: str) -> list[Cause]:
    out: list[Cause] = []
    if isinstance(vol.get("hostPath"), dict):
        hp = vol["hostPath"]
        if not _s(hp.get("path")):
            out.append(f.required(f.child(p, "hostPath", "path")))
        t = hp.get("type")
        if isinstance(t, str) and t not in HOST_PATH_TYPES:
            out.append(f.not_supported(f.child(p, "hostPath", "type"), t, HOST_PATH_TYPES))
    if isinstance(vol.get("configMap"), dict):
        cm = vol["configMap"]
        if not _s(cm.get("name")):
            out.append(f.required(f.child(p, "configMap", "name")))
        out += _mode(cm.get("defaultMode"), f.child(p, "configMap", "defaultMode"))
        out += _key_to_paths(cm.get("items"), f.child(p, "configMap", "items"))
    if isinstance(vol.get("secret"), dict):
        sec = vol["secret"]
        if not _s(sec.get("secretName")):
            out.append(f.required(f.child(p, "secret", "secretName")))
        out += _mode(sec.get("defaultMode"), f.child(p, "secret", "defaultMode"))
        out += _key_to_paths(sec.get("items"), f.child(p, "secret", "items"))
    if isinstance(vol.get("persistentVolumeClaim"), dict):
        if not _s(vol["persistentVolumeClaim"].get("claimName")):
            out.append(f.required(f.child(p, "persistentVolumeClaim", "claimName")))
    if isinstance(vol.get("emptyDir"), dict):
        medium = vol["emptyDir"].get("medium")
        limit = vol["emptyDir"].get("sizeLimit")
        if (
            isinstance(medium, str)
            and medium not in ("", "Memory", "HugePages")
            and not medium.startswith("HugePages-")
        ):
            out.append(f.not_supported(f.child(p, "emptyDir", "medium"), medium, ("", "Memory", "HugePages")))
        if limit is not None and quantity.is_valid(limit) and quantity.parse(limit) < 0:
            out.append(
                f.invalid(
                    f.child(p, "emptyDir", "sizeLimit"),
                    str(limit),
                    "SizeLimit field must be a valid resource quantity",
                )
            )
    if isinstance(vol.get("nfs"), dict):
        if not _s(vol["nfs"].get("server")):
            out.append(f.required(f.child(p, "nfs", "server")))
        path = _s(vol["nfs"].get("path"))
        if not path:
            out.append(f.required(f.child(p, "nfs", "path")))
        elif not path.startswith("/"):
            out.append(f.invalid(f.child(p, "nfs", "path"), path, "must be an absolute path"))
    if isinstance(vol.get("downwardAPI"), dict):
        out += _mode(vol["downwardAPI"].get("defaultMode"), f.child(p, "downwardAPI", "defaultMode"))
    if isinstance(vol.get("projected"), dict):
        out += _mode(vol["projected"].get("defaultMode"), f.child(p, "projected", "defaultMode"))
    if isinstance(vol.get("csi"), dict) and not _s(vol["csi"].get("driver")):
        out.append(f.required(f.child(p, "csi", "driver")))
    return out


def _key_to_paths(items: Any, path: str) -> list[Cause]:
    out: list[Cause] = []
    for i, item in enumerate(_list(items)):
        item = _dict(item)
        p = f.index(path, i)
        if not _s(item.get("key")):
            out.append(f.required(f.child(p, "key")))
        rel = _s(item.get("path"))
        if not rel:
            out.append(f.required(f.child(p, "path")))
        else:
            out += _local_descending_path(rel, f.child(p, "path"))
        out += _mode(item.get("mode"), f.child(p, "mode"))
    return out


def _local_descending_path(target: str, path: str) -> list[Cause]:
    out: list[Cause] = []
    if target.startswith("/"):
        out.append(f.invalid(path, target, "must be a relative path"))
    if ".." in target.replace("\\", "/").split("/"):
        out.append(f.invalid(path, target, "must not contain '..'"))
    return out


# -- containers --------------------------------------------------------------------------------------


def _validate_ports(ports: Any, path: str) -> list[Cause]:
    out: list[Cause] = []
    seen: set[str] = set()
    for i, port in enumerate(_list(ports)):
        port = _dict(port)
        p = f.index(path, i)
        name = _s(port.get("name"))
        if name:
            msgs = names.is_valid_port_name(name)
            if msgs:
                out += f.invalid_each(f.child(p, "name"), name, msgs)
            elif name in seen:
                out.append(f.duplicate(f.child(p, "name"), name))
            else:
                seen.add(name)
        cp = _int(port.get("containerPort"))
        if not cp:
            out.append(f.required(f.child(p, "containerPort")))
        else:
            out += f.invalid_each(f.child(p, "containerPort"), cp, names.is_valid_port_num(cp))
        hp = _int(port.get("hostPort"))
        if hp:
            out += f.invalid_each(f.child(p, "hostPort"), hp, names.is_valid_port_num(hp))
        proto = port.get("protocol")
        if isinstance(proto, str):
            if not proto:
                out.append(f.required(f.child(p, "protocol")))
            elif proto not in PROTOCOLS:
                out.append(f.not_supported(f.child(p, "protocol"), proto, PROTOCOLS))
    return out


def _validate_env(env: Any, path: str) -> list[Cause]:
    out: list[Cause] = []
    for i, ev in enumerate(_list(env)):
        ev = _dict(ev)
        p = f.index(path, i)
        name = _s(ev.get("name"))
        if not name:
            out.append(f.required(f.child(p, "name")))
        else:
            out += f.invalid_each(f.child(p, "name"), name, names.is_relaxed_env_var_name(name))
        value_from = ev.get("valueFrom")
        if not isinstance(value_from, dict):
            continue
        vp = f.child(p, "valueFrom")
        sources = [
            k
            for k in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef")
            if value_from.get(k)
        ]
        if not sources:
            out.append(
                f.invalid(
                    vp,
                    "",
                    "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
                )
            )
        if _s(ev.get("value")):
            if sources:
                out.append(f.invalid(vp, "", "may not be specified when `value` is not empty"))
        elif len(sources) > 1:
            out.append(f.invalid(vp, "", "may not have more than one field specified at a time"))
        field_ref = value_from.get("fieldRef")
        if isinstance(field_ref, dict):
            if not _s(field_ref.get("fieldPath")):
                out.append(f.required(f.child(vp, "fieldRef", "fieldPath")))
        for ref_name in ("configMapKeyRef", "secretKeyRef"):
            ref = value_from.get(ref_name)
            if isinstance(ref, dict):
                rp = f.child(vp, ref_name)
                if not _s(ref.get("name")):
                    out.append(f.required(f.child(rp, "name")))
                k = _s(ref.get("key"))
                if not k:
                    out.append(f.required(f.child(rp, "key")))
                else:
                    out += f.invalid_each(f.child(rp, "key"), k, names.is_config_map_key(k))
        rf = value_from.get("resourceFieldRef")
        if isinstance(rf, dict) and not _s(rf.get("resource")):
            out.append(f.required(f.child(vp, "resourceFieldRef", "resource")))
    return out


def _validate_env_from(env_from: Any, path: str) -> list[Cause]:
    out: list[Cause] = []
    for i, ef in enumerate(_list(env_from)):
        ef = _dict(ef)
        p = f.index(path, i)
        prefix = _s(ef.get("prefix"))
        if prefix:
            out += f.invalid_each(f.child(p, "prefix"), prefix, names.is_relaxed_env_var_name(prefix))
        sources = [k for k in ("configMapRef", "secretRef") if ef.get(k) is not None]
        if not sources:
            out.append(f.invalid(p, "", "must specify one of: `configMapRef` or `secretRef`"))
        elif len(sources) > 1:
            out.append(f.invalid(p, "", "may not have more than one field specified at a time"))
        for s in sources:
            ref = _dict(ef.get(s))
            if not _s(ref.get("name")):
                out.append(f.required(f.child(p, s, "name")))
    return out


def _validate_volume_mounts(mounts: Any, volumes: set[str], path: str) -> list[Cause]:
    out: list[Cause] = []
    mount_points: set[str] = set()
    for i, mnt in enumerate(_list(mounts)):
        mnt = _dict(mnt)
        p = f.index(path, i)
        name = _s(mnt.get("name"))
        if not name:
            out.append(f.required(f.child(p, "name")))
        if name not in volumes:
            out.append(f.not_found(f.child(p, "name"), name))
        mp = _s(mnt.get("mountPath"))
        if not mp:
            out.append(f.required(f.child(p, "mountPath")))
        if mp in mount_points:
            out.append(f.invalid(f.child(p, "mountPath"), mp, "must be unique"))
        mount_points.add(mp)
        sub = _s(mnt.get("subPath"))
        if sub:
            out += _local_descending_path(sub, f.child(p, "subPath"))
    return out


def _is_hugepages(name: str) -> bool:
    return name.startswith("hugepages-")


def _is_native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _overcommit_allowed(name: str) -> bool:
    return _is_native(name) and not _is_hugepages(name)


def _validate_resource_name(name: str, path: str) -> list[Cause]:
    out = f.invalid_each(path, name, names.is_qualified_name(name))
    if out:
        return out
    if "/" not in name and name not in STANDARD_CONTAINER_RESOURCES and not _is_hugepages(name):
        return [f.invalid(path, name, "must be a standard resource for containers")]
    return []


def validate_resource_requirements(resources: Any, path: str) -> list[Cause]:
    out: list[Cause] = []
    resources = _dict(resources)
    lim_path, req_path = f.child(path, "limits"), f.child(path, "requests")
    limits, requests = _dict(resources.get("limits")), _dict(resources.get("requests"))
    for name, q in limits.items():
        fp = f.key(lim_path, name)
        out += _validate_resource_name(name, fp)
        out += _validate_quantity_value(name, q, fp)
    for name, q in requests.items():
        fp = f.key(req_path, name)
        out += _validate_resource_name(name, fp)
        out += _validate_quantity_value(name, q, fp)
        if not quantity.is_valid(q):
            continue
        if name in limits and quantity.is_valid(limits[name]):
            req_v, lim_v = quantity.parse(q), quantity.parse(limits[name])
            if req_v != lim_v and not _overcommit_allowed(name):
                out.append(
                    f.invalid(
                        req_path,
                        quantity.canonical(q),
                        f"must be equal to {name} limit of {quantity.canonical(limits[name])}",
                    )
                )
            elif req_v > lim_v:
                out.append(
                    f.invalid(
                        req_path,
                        quantity.canonical(q),
                        f"must be less than or equal to {name} limit of {quantity.canonical(limits[name])}",
                    )
                )
        elif name not in limits and not _overcommit_allowed(name):
            out.append(f.required(lim_path, "Limit must be set for non overcommitable resources"))
    return out


def _validate_quantity_value(name: str, value: Any, path: str) -> list[Cause]:
    if not quantity.is_valid(value):
        return []
    q = quantity.parse(value)
    out: list[Cause] = []
    if q < 0:
        out.append(f.invalid(path, quantity.canonical(value), f.IS_NEGATIVE))
    if not _is_native(name) and q.denominator != 1:
        out.append(f.invalid(path, quantity.canonical(value), "must be an integer"))
    return out


def _validate_port_num_or_name(port: Any, path: str) -> list[Cause]:
    if isinstance(port, bool):
        return []
    if isinstance(port, int):
        return f.invalid_each(path, port, names.is_valid_port_num(port))
    if isinstance(port, str):
        return f.invalid_each(path, port, names.is_valid_port_name(port))
    return []


def _validate_handler(handler: dict[str, Any], path: str, kinds: tuple[str, ...]) -> list[Cause]:
    out: list[Cause] = []
    present = [k for k in kinds if handler.get(k) is not None]
    if not present:
        out.append(f.required(path, "must specify a handler type"))
    for extra in present[1:]:
        out.append(f.forbidden(f.child(path, extra), "may not specify more than 1 handler type"))
    exec_ = handler.get("exec")
    if isinstance(exec_, dict) and not _list(exec_.get("command")):
        out.append(f.required(f.child(path, "exec", "command")))
    http = handler.get("httpGet")
    if isinstance(http, dict):
        hp = f.child(path, "httpGet")
        if not _s(http.get("path")) and "path" in http:
            out.append(f.required(f.child(hp, "path")))
        out += _validate_port_num_or_name(http.get("port"), f.child(hp, "port"))
        scheme = http.get("scheme")
        if isinstance(scheme, str) and scheme not in ("HTTP", "HTTPS"):
            out.append(f.not_supported(f.child(hp, "scheme"), scheme, ("HTTP", "HTTPS")))
    tcp = handler.get("tcpSocket")
    if isinstance(tcp, dict):
        out += _validate_port_num_or_name(tcp.get("port"), f.child(path, "tcpSocket", "port"))
    grpc = handler.get("grpc")
    if isinstance(grpc, dict):
        port = _int(grpc.get("port"))
        if port is not None:
            out += f.invalid_each(f.child(path, "grpc", "port"), port, names.is_valid_port_num(port))
    return out


def _validate_probe(probe: Any, path: str, *, require_success_one: bool) -> list[Cause]:
    if not isinstance(probe, dict):
        return []
    out = _validate_handler(probe, path, ("exec", "httpGet", "tcpSocket", "grpc"))
    for k in (
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ):
        out += f.nonnegative(probe.get(k), f.child(path, k))
    tgp = _int(probe.get("terminationGracePeriodSeconds"))
    if tgp is not None and tgp <= 0:
        out.append(f.invalid(f.child(path, "terminationGracePeriodSeconds"), tgp, "must be greater than 0"))
    st = _int(probe.get("successThreshold"))
    if require_success_one and st is not None and st != 1:
        out.append(f.invalid(f.child(path, "successThreshold"), st, "must be 1"))
    return out


def _validate_container(
    ctr: dict[str, Any], p: str, volumes: set[str], *, is_init: bool, is_pod: bool
) -> list[Cause]:
    out: list[Cause] = []
    image = ctr.get("image")
    if not _s(image):
        out.append(f.required(f.child(p, "image")))
    elif is_pod and isinstance(image, str) and image != image.strip():
        out.append(f.invalid(f.child(p, "image"), image, "must not have leading or trailing whitespace"))
    pull = ctr.get("imagePullPolicy")
    if isinstance(pull, str) and pull not in PULL_POLICIES:
        out.append(f.not_supported(f.child(p, "imagePullPolicy"), pull, PULL_POLICIES))
    tmp = ctr.get("terminationMessagePolicy")
    if isinstance(tmp, str) and tmp not in TERMINATION_MESSAGE_POLICIES:
        out.append(f.not_supported(f.child(p, "terminationMessagePolicy"), tmp, TERMINATION_MESSAGE_POLICIES))
    out += _validate_ports(ctr.get("ports"), f.child(p, "ports"))
    out += _validate_env(ctr.get("env"), f.child(p, "env"))
    out += _validate_env_from(ctr.get("envFrom"), f.child(p, "envFrom"))
    out += _validate_volume_mounts(ctr.get("volumeMounts"), volumes, f.child(p, "volumeMounts"))
    out += validate_resource_requirements(ctr.get("resources"), f.child(p, "resources"))
    restart = ctr.get("restartPolicy")
    sidecar = False
    if restart is not None:
        if not is_init:
            out.append(f.forbidden(f.child(p, "restartPolicy"), "may not be set for non-init containers"))
        elif restart != "Always":
            out.append(f.not_supported(f.child(p, "restartPolicy"), restart, ("Always",)))
        else:
            sidecar = True
    if is_init and not sidecar:
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            if ctr.get(probe) is not None:
                out.append(
                    f.forbidden(
                        f.child(p, probe), "may not be set for init containers without restartPolicy=Always"
                    )
                )
        if ctr.get("lifecycle") is not None:
            out.append(
                f.forbidden(
                    f.child(p, "lifecycle"), "may not be set for init containers without restartPolicy=Always"
                )
            )
    else:
        out += _validate_probe(
            ctr.get("livenessProbe"), f.child(p, "livenessProbe"), require_success_one=True
        )
        out += _validate_probe(
            ctr.get("readinessProbe"), f.child(p, "readinessProbe"), require_success_one=False
        )
        out += _validate_probe(ctr.get("startupProbe"), f.child(p, "startupProbe"), require_success_one=True)
        lifecycle = ctr.get("lifecycle")
        if isinstance(lifecycle, dict):
            for hook in ("postStart", "preStop"):
                if isinstance(lifecycle.get(hook), dict):
                    out += _validate_handler(
                        lifecycle[hook],
                        f.child(p, "lifecycle", hook),
                        ("exec", "httpGet", "tcpSocket", "sleep"),
                    )
    return out


def _container_name(ctr: dict[str, Any], path: str, all_names: set[str]) -> list[Cause]:
    """A container's name: required, a DNS-1123 label, unique across every kind of container of the pod
    (``all_names`` collects the names seen so far)."""
    name = _s(ctr.get("name"))
    p = f.child(path, "name")
    if not name:
        return [f.required(p)]
    out = f.invalid_each(p, name, names.is_dns1123_label(name))
    if name in all_names:
        out.append(f.duplicate(p, name))
    else:
        all_names.add(name)
    return out


def _validate_containers(
    containers: Any, path: str, volumes: set[str], all_names: set[str], *, is_init: bool, is_pod: bool
) -> list[Cause]:
    out: list[Cause] = []
    host_ports: set[str] = set()
    for i, ctr in enumerate(_list(containers)):
        ctr = _dict(ctr)
        p = f.index(path, i)
        out += _container_name(ctr, p, all_names)
        out += _validate_container(ctr, p, volumes, is_init=is_init, is_pod=is_pod)
        for j, port in enumerate(_list(ctr.get("ports"))):
            port = _dict(port)
            hp = _int(port.get("hostPort"))
            if not hp:
                continue
            k = f"{hp}/{port.get('protocol') or 'TCP'}"
            if _s(port.get("hostIP")):
                k = f"{port['hostIP']}/{k}"
            if k in host_ports:
                out.append(f.duplicate(f.child(f.index(f.child(p, "ports"), j), "hostPort"), k))
            host_ports.add(k)
    return out


# Fields of an ephemeral container that may be set (upstream ``allowedEphemeralContainerFields``); any
# other field of the container (ports, resources, probes, lifecycle, restartPolicy, resizePolicy) set to
# a non-empty value is forbidden.
EPHEMERAL_CONTAINER_FIELDS = frozenset(
    {
        "name",
        "image",
        "command",
        "args",
        "workingDir",
        "envFrom",
        "env",
        "volumeMounts",
        "volumeDevices",
        "terminationMessagePath",
        "terminationMessagePolicy",
        "imagePullPolicy",
        "securityContext",
        "stdin",
        "stdinOnce",
        "tty",
        "targetContainerName",
    }
)
EPHEMERAL_FORBIDDEN = "cannot be set for an Ephemeral Container"


def validate_ephemeral_containers(
    containers: Any, path: str, volumes: set[str], all_names: set[str], other_names: set[str]
) -> list[Cause]:
    """``validateEphemeralContainers``: the common container checks, names unique across every kind of
    container, ``targetContainerName`` naming an init or app container, only the allowed fields set and no
    ``subPath``/``subPathExpr`` mounts."""
    out: list[Cause] = []
    for i, ctr in enumerate(_list(containers)):
        ctr = _dict(ctr)
        p = f.index(path, i)
        out += _container_name(ctr, p, all_names)
        target = _s(ctr.get("targetContainerName"))
        if target and target not in other_names:
            out.append(f.not_found(f.child(p, "targetContainerName"), target))
        for key in sorted(ctr):
            if key not in EPHEMERAL_CONTAINER_FIELDS and ctr[key] not in (None, {}, [], ""):
                out.append(f.forbidden(f.child(p, key), EPHEMERAL_FORBIDDEN))
        # the forbidden fields are reported above, not validated as those of an app container
        common = {k: v for k, v in ctr.items() if k in EPHEMERAL_CONTAINER_FIELDS}
        out += _validate_container(common, p, volumes, is_init=False, is_pod=True)
        for j, mnt in enumerate(_list(ctr.get("volumeMounts"))):
            for key in ("subPath", "subPathExpr"):
                if _s(_dict(mnt).get(key)):
                    out.append(
                        f.forbidden(f.child(f.index(f.child(p, "volumeMounts"), j), key), EPHEMERAL_FORBIDDEN)
                    )
    return out


def validate_tolerations(tolerations: Any, path: str) -> list[Cause]:
    out: list[Cause] = []
    for i, tol in enumerate(_list(tolerations)):
        tol = _dict(tol)
        p = f.index(path, i)
        k = _s(tol.get("key"))
        if k:
            out += f.invalid_each(f.child(p, "key"), k, names.is_qualified_name(k))
        op = _s(tol.get("operator"))
        if not k and op != "Exists":
            out.append(
                f.invalid(
                    f.child(p, "operator"),
                    op,
                    'operator must be Exists when `key` is empty, which means "match all values and all keys"',
                )
            )
        if tol.get("tolerationSeconds") is not None and tol.get("effect") != "NoExecute":
            out.append(
                f.invalid(
                    f.child(p, "effect"),
                    _s(tol.get("effect")),
                    "effect must be 'NoExecute' when `tolerationSeconds` is set",
                )
            )
        value = _s(tol.get("value"))
        if op in ("", "Equal"):
            out += f.invalid_each(f.child(p, "value"), value, names.is_valid_label_value(value))
        elif op == "Exists":
            if value:
                out.append(
                    f.invalid(f.child(p, "operator"), tol, "value must be empty when `operator` is 'Exists'")
                )
        else:
            out.append(f.not_supported(f.child(p, "operator"), op, ("Equal", "Exists")))
        effect = _s(tol.get("effect"))
        if effect and effect not in TAINT_EFFECTS:
            out.append(
                f.not_supported(f.child(p, "effect"), effect, ("NoSchedule", "PreferNoSchedule", "NoExecute"))
            )
    return out


def validate_pod_spec(spec: Any, path: str, *, is_pod: bool) -> list[Cause]:
    """``ValidatePodSpec`` (``is_pod`` adds the Pod-only checks)."""
    if not isinstance(spec, dict):
        return [f.required(f.child(path, "containers"))]
    out: list[Cause] = []
    vol_errs, volumes = validate_volumes(spec.get("volumes"), f.child(path, "volumes"))
    out += vol_errs
    all_names: set[str] = set()
    containers = _list(spec.get("containers"))
    if not containers:
        out.append(f.required(f.child(path, "containers")))
    out += _validate_containers(
        spec.get("initContainers"),
        f.child(path, "initContainers"),
        volumes,
        all_names,
        is_init=True,
        is_pod=is_pod,
    )
    out += _validate_containers(
        containers, f.child(path, "containers"), volumes, all_names, is_init=False, is_pod=is_pod
    )
    if is_pod:
        other_names = {
            _s(_dict(c).get("name"))
            for kind in ("initContainers", "containers")
            for c in _list(spec.get(kind))
        }
        out += validate_ephemeral_containers(
            spec.get("ephemeralContainers"),
            f.child(path, "ephemeralContainers"),
            volumes,
            all_names,
            other_names - {""},
        )
    elif spec.get("ephemeralContainers"):
        out.append(
            f.forbidden(
                f.child(path, "ephemeralContainers"), "ephemeral containers not allowed in pod template"
            )
        )
    restart = spec.get("restartPolicy")
    if isinstance(restart, str):
        if not restart:
            out.append(f.required(f.child(path, "restartPolicy")))
        elif restart not in RESTART_POLICIES:
            out.append(f.not_supported(f.child(path, "restartPolicy"), restart, RESTART_POLICIES))
    dns = spec.get("dnsPolicy")
    if isinstance(dns, str) and dns not in DNS_POLICIES:
        out.append(f.not_supported(f.child(path, "dnsPolicy"), dns, DNS_POLICIES))
    if dns == "None" and not isinstance(spec.get("dnsConfig"), dict):
        out.append(
            f.required(f.child(path, "dnsConfig"), "must provide `dnsConfig` when `dnsPolicy` is None")
        )
    out += meta.validate_labels(spec.get("nodeSelector"), f.child(path, "nodeSelector"))
    sa = _s(spec.get("serviceAccountName"))
    if sa:
        out += f.invalid_each(f.child(path, "serviceAccountName"), sa, names.name_is_dns_subdomain(sa, False))
    node = _s(spec.get("nodeName"))
    if node:
        out += f.invalid_each(f.child(path, "nodeName"), node, names.name_is_dns_subdomain(node, False))
    ads = _int(spec.get("activeDeadlineSeconds"))
    if ads is not None and not 1 <= ads <= MAX_INT32:
        out.append(
            f.invalid(f.child(path, "activeDeadlineSeconds"), ads, names.inclusive_range_error(1, MAX_INT32))
        )
    for k in ("hostname", "subdomain"):
        v = _s(spec.get(k))
        if v:
            out += f.invalid_each(f.child(path, k), v, names.is_dns1123_label(v))
    pcn = _s(spec.get("priorityClassName"))
    if pcn:
        out += f.invalid_each(
            f.child(path, "priorityClassName"), pcn, names.name_is_dns_subdomain(pcn, False)
        )
    out += validate_tolerations(spec.get("tolerations"), f.child(path, "tolerations"))
    for i, secret in enumerate(_list(spec.get("imagePullSecrets"))):
        if isinstance(secret, dict) and not _s(secret.get("name")):
            out.append(f.required(f.child(f.index(f.child(path, "imagePullSecrets"), i), "name")))
    pp = spec.get("preemptionPolicy")
    if isinstance(pp, str) and pp not in ("Never", "PreemptLowerPriority"):
        out.append(f.not_supported(f.child(path, "preemptionPolicy"), pp, ("Never", "PreemptLowerPriority")))
    return out


def validate_pod_template_spec(template: Any, path: str) -> list[Cause]:
    """``ValidatePodTemplateSpec``."""
    if not isinstance(template, dict):
        return [f.required(path)]
    out = meta.validate_template_meta(template.get("metadata"), f.child(path, "metadata"))
    out += validate_pod_spec(template.get("spec"), f.child(path, "spec"), is_pod=False)
    return out


def validate_long_running_template(
    template: Any, path: str, kind: str, *, deadline_invalid: bool = False
) -> list[Cause]:
    """``validate_pod_template_spec`` plus what a controller of long-running pods (``kind``) requires:
    ``restartPolicy`` Always and no ``activeDeadlineSeconds`` (forbidden, or with ``deadline_invalid``
    reported as an invalid value)."""
    out = validate_pod_template_spec(template, path)
    tspec = _dict(_dict(template).get("spec"))
    restart = tspec.get("restartPolicy")
    if isinstance(restart, str) and restart != "Always":
        out.append(f.not_supported(f.child(path, "spec", "restartPolicy"), restart, ("Always",)))
    deadline = tspec.get("activeDeadlineSeconds")
    if deadline is not None:
        deadline_path = f.child(path, "spec", "activeDeadlineSeconds")
        message = f"activeDeadlineSeconds in {kind} is not Supported"
        if deadline_invalid:
            out.append(f.invalid(deadline_path, deadline, message))
        else:
            out.append(f.forbidden(deadline_path, message))
    return out


def decode_b64(value: Any) -> bytes:
    try:
        return base64.b64decode(value or "", validate=True)
    except (ValueError, TypeError):
        return b""
