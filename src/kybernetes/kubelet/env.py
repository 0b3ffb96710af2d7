"""A container's environment: ``env``, ``envFrom`` and the downward API, with ``$(VAR)`` expansion.

Resolution follows ``kubelet_pods.go`` ``makeEnvironmentVariables``: ``envFrom`` sources first (configMap
or secret, optional, with ``prefix``), then ``env`` in order, later names overriding earlier ones; each
``env`` value is expanded against the variables defined so far. ``valueFrom`` resolves ``fieldRef``
(``field_value``), ``resourceFieldRef`` (``resource_value``, also used by downwardAPI volumes),
``configMapKeyRef`` and ``secretKeyRef``. A missing non-optional reference raises ``ConfigError`` whose
message is upstream's (``configmap "x" not found``, ``couldn't find key k in ConfigMap ns/x``); the pod
worker reports it as the ``CreateContainerConfigError`` waiting reason.

``expand`` is upstream's ``third_party/forked/golang/expansion``: ``$(VAR)`` is replaced when ``VAR`` is
defined (left as is otherwise), ``$$`` is an escaped ``$``; command and args are expanded with the final
environment (``expand_all``). Config objects come from an ``ObjectSource`` (the kubelet's cache).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any, Protocol

from kybernetes.api.meta import Obj
from kybernetes.api.validation.quantity import parse as parse_quantity

__all__ = [
    "ConfigError",
    "ObjectSource",
    "build_env",
    "expand",
    "expand_all",
    "field_value",
    "resource_value",
]


class ConfigError(Exception):
    """A container's configuration cannot be built (missing configMap, secret or key)."""

    reason = "CreateContainerConfigError"


class ObjectSource(Protocol):
    """Where configMaps and secrets come from (None: not found)."""

    async def get_configmap(self, namespace: str, name: str) -> Obj | None: ...

    async def get_secret(self, namespace: str, name: str) -> Obj | None: ...


# --- $(VAR) expansion ------------------------------------------------------------------------------------
def _read_var(text: str) -> tuple[str, bool, int]:
    if text[0] == "$":
        return "$", False, 1
    if text[0] == "(":
        end = text.find(")", 1)
        if end >= 0:
            return text[1:end], True, end + 1
        return "$(", False, 1
    return "$" + text[0], False, 1


def expand(text: str, lookup: Callable[[str], str | None]) -> str:
    """Replace ``$(NAME)`` by ``lookup(NAME)`` (kept verbatim when None); ``$$`` becomes ``$``."""
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    while cursor < len(text):
        if text[cursor] == "$" and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            read, is_var, advance = _read_var(text[cursor + 1 :])
            if is_var:
                value = lookup(read)
                out.append(f"$({read})" if value is None else value)
            else:
                out.append(read)
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    return "".join(out) + text[checkpoint:]


def expand_all(items: Sequence[str], env: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(expand(str(item), env.get) for item in items)


# --- the downward API ------------------------------------------------------------------------------------
def _ips(status: Mapping[str, Any], key: str, single: str) -> str:
    ips = [str(i.get("ip")) for i in status.get(key) or [] if isinstance(i, Mapping) and i.get("ip")]
    return ",".join(ips) if ips else str(status.get(single) or "")


def _format_map(values: Mapping[str, Any]) -> str:
    return "\n".join(f'{k}="{v}"' for k, v in sorted(values.items()))


def field_value(pod: Mapping[str, Any], path: str, *, host_ip: str = "", pod_ip: str = "") -> str:
    """The value of a ``fieldRef.fieldPath`` (``metadata.labels['k']``, ``status.podIP``, ...)."""
    md = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = dict(pod.get("status") or {})
    if host_ip:
        status.setdefault("hostIP", host_ip)
    if pod_ip:
        status["podIP"] = status.get("podIP") or pod_ip
        status.setdefault("podIPs", [{"ip": pod_ip}])
    for prefix, key in (("metadata.labels", "labels"), ("metadata.annotations", "annotations")):
        if path == prefix:
            return _format_map(md.get(key) or {})
        if path.startswith(prefix + "['") and path.endswith("']"):
            return str((md.get(key) or {}).get(path[len(prefix) + 2 : -2], ""))
    simple: dict[str, Any] = {
        "metadata.name": md.get("name"),
        "metadata.namespace": md.get("namespace"),
        "metadata.uid": md.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.hostIP": status.get("hostIP") or host_ip,
        "status.hostIPs": _ips(status, "hostIPs", "hostIP") or host_ip,
        "status.podIP": status.get("podIP"),
        "status.podIPs": _ips(status, "podIPs", "podIP"),
    }
    if path not in simple:
        raise ConfigError(f"unsupported fieldPath: {path}")
    value = simple[path]
    return "" if value is None else str(value)


def resource_value(
    container: Mapping[str, Any], ref: Mapping[str, Any], node_allocatable: Mapping[str, str]
) -> str:
    """A ``resourceFieldRef`` value: limits default to the node's allocatable; rounded up by divisor."""
    resource = str(ref.get("resource") or "")
    kind, _, name = resource.partition(".")
    resources = container.get("resources") or {}
    raw = (resources.get(kind) or {}).get(name)
    if raw is None and kind == "limits":
        raw = node_allocatable.get(name)
    if raw is None:
        raw = "0"
    try:
        amount = parse_quantity(str(raw))
        divisor = parse_quantity(str(ref.get("divisor") or "1"))
    except ValueError as exc:
        raise ConfigError(f"invalid quantity for {resource}: {exc}") from None
    if divisor <= 0:
        divisor = Fraction(1)
    if name == "cpu" and divisor < 1 and amount == 0 and kind == "requests":
        return "0"
    return str(math.ceil(amount / divisor))


# --- env -------------------------------------------------------------------------------------------------
def _decode_secret(secret: Mapping[str, Any]) -> dict[str, str]:
    out = {str(k): str(v) for k, v in (secret.get("stringData") or {}).items()}
    for k, v in (secret.get("data") or {}).items():
        out[str(k)] = base64.b64decode(str(v)).decode("utf-8", "replace")
    return out


def _config_data(cm: Mapping[str, Any]) -> dict[str, str]:
    out = {str(k): str(v) for k, v in (cm.get("data") or {}).items()}
    for k, v in (cm.get("binaryData") or {}).items():
        out[str(k)] = base64.b64decode(str(v)).decode("utf-8", "replace")
    return out


async def _lookup(source: ObjectSource, kind: str, namespace: str, name: str) -> dict[str, str] | None:
    if kind == "configmap":
        cm = await source.get_configmap(namespace, name)
        return None if cm is None else _config_data(cm)
    secret = await source.get_secret(namespace, name)
    return None if secret is None else _decode_secret(secret)


async def _key_ref(source: ObjectSource, kind: str, ref: Mapping[str, Any], namespace: str) -> str | None:
    name = str(ref.get("name") or "")
    key = str(ref.get("key") or "")
    optional = bool(ref.get("optional"))
    data = await _lookup(source, kind, namespace, name)
    if data is None:
        if optional:
            return None
        raise ConfigError(f'{kind} "{name}" not found')
    if key not in data:
        if optional:
            return None
        label = "ConfigMap" if kind == "configmap" else "Secret"
        raise ConfigError(f"couldn't find key {key} in {label} {namespace}/{name}")
    return data[key]


async def build_env(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    source: ObjectSource,
    *,
    host_ip: str = "",
    pod_ip: str = "",
    node_allocatable: Mapping[str, str] | None = None,
) -> list[tuple[str, str]]:
    """The container's environment in definition order (later definitions override earlier ones)."""
    namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
    env: dict[str, str] = {}
    for src in container.get("envFrom") or []:
        prefix = str(src.get("prefix") or "")
        for kind, key in (("configmap", "configMapRef"), ("secret", "secretRef")):
            ref = src.get(key)
            if not isinstance(ref, Mapping):
                continue
            data = await _lookup(source, kind, namespace, str(ref.get("name") or ""))
            if data is None:
                if ref.get("optional"):
                    continue
                raise ConfigError(f'{kind} "{ref.get("name")}" not found')
            for k, v in data.items():
                env[prefix + k] = v
    for item in container.get("env") or []:
        name = str(item.get("name") or "")
        value_from = item.get("valueFrom")
        if isinstance(value_from, Mapping):
            value = await _value_from(
                pod, container, value_from, source, namespace, host_ip, pod_ip, node_allocatable
            )
            if value is None:
                continue
        else:
            value = expand(str(item.get("value") or ""), env.get)
        env[name] = value
    return list(env.items())


async def _value_from(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    value_from: Mapping[str, Any],
    source: ObjectSource,
    namespace: str,
    host_ip: str,
    pod_ip: str,
    node_allocatable: Mapping[str, str] | None,
) -> str | None:
    if isinstance(value_from.get("fieldRef"), Mapping):
        path = str(value_from["fieldRef"].get("fieldPath") or "")
        return field_value(pod, path, host_ip=host_ip, pod_ip=pod_ip)
    if isinstance(value_from.get("resourceFieldRef"), Mapping):
        return resource_value(container, value_from["resourceFieldRef"], node_allocatable or {})
    if isinstance(value_from.get("configMapKeyRef"), Mapping):
        return await _key_ref(source, "configmap", value_from["configMapKeyRef"], namespace)
    if isinstance(value_from.get("secretKeyRef"), Mapping):
        return await _key_ref(source, "secret", value_from["secretKeyRef"], namespace)
    return None
