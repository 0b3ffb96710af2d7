"""Validation of ``networking.k8s.io/v1``: Ingress, IngressClass and NetworkPolicy, after upstream's
``pkg/apis/networking/validation`` (the rules a client meets; messages as upstream words them)."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from kybernetes.api.errors import Cause
from kybernetes.api.validation import field as f
from kybernetes.api.validation import meta, names
from kybernetes.api.validation.podspec import PROTOCOLS, _dict, _int, _list, _s

PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")
POLICY_TYPES = ("Egress", "Ingress")
MAX_INGRESS_CLASS_CONTROLLER_LEN = 250
INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"


def _wildcard_dns(value: str) -> list[str]:
    """``IsWildcardDNS1123Subdomain``: ``*.`` followed by a DNS subdomain."""
    if value.startswith("*.") and not names.is_dns1123_subdomain(value[2:]):
        return []
    return [
        "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must "
        "consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character "
        "(e.g. '*.example.com', regex used for validation is "
        "'\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    ]


def _host(host: str, path: str) -> list[Cause]:
    out: list[Cause] = []
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        out.append(f.invalid(path, host, "must be a DNS name, not an IP address"))
    if "*" in host:
        return out + f.invalid_each(path, host, _wildcard_dns(host))
    return out + f.invalid_each(path, host, names.is_dns1123_subdomain(host))


def _typed_local_ref(ref: dict[str, Any], path: str) -> list[Cause]:
    out: list[Cause] = []
    if not _s(ref.get("kind")):
        out.append(f.required(f.child(path, "kind")))
    if not _s(ref.get("name")):
        out.append(f.required(f.child(path, "name")))
    group = ref.get("apiGroup")
    if isinstance(group, str) and group:
        out += f.invalid_each(f.child(path, "apiGroup"), group, names.is_dns1123_subdomain(group))
    return out


def _backend(backend: Any, path: str) -> list[Cause]:
    backend = _dict(backend)
    service, resource = backend.get("service"), backend.get("resource")
    if service is not None and resource is not None:
        return [f.invalid(path, "", "cannot set both resource and service backends")]
    if resource is not None:
        return _typed_local_ref(_dict(resource), f.child(path, "resource"))
    if service is None:
        return [f.invalid(path, "", "resource or service backend is required")]
    service = _dict(service)
    out: list[Cause] = []
    svc_name = _s(service.get("name"))
    if not svc_name:
        out.append(f.required(f.child(path, "service", "name")))
    else:
        out += f.invalid_each(f.child(path, "service", "name"), svc_name, names.is_dns1035_label(svc_name))
    port = _dict(service.get("port"))
    port_name, number = _s(port.get("name")), _int(port.get("number")) or 0
    if port_name and number:
        out.append(f.invalid(path, "", "cannot set both port name & port number"))
    elif port_name:
        out += f.invalid_each(
            f.child(path, "service", "port", "name"), port_name, names.is_valid_port_name(port_name)
        )
    elif number:
        out += f.invalid_each(
            f.child(path, "service", "port", "number"), number, names.is_valid_port_num(number)
        )
    else:
        out.append(f.required(path, "port name or number is required"))
    return out


def _http_paths(http: dict[str, Any], path: str) -> list[Cause]:
    paths = _list(http.get("paths"))
    if not paths:
        return [f.required(f.child(path, "paths"))]
    out: list[Cause] = []
    for i, entry in enumerate(paths):
        entry = _dict(entry)
        p = f.index(f.child(path, "paths"), i)
        path_type = entry.get("pathType")
        value = _s(entry.get("path"))
        if path_type is None or path_type == "":
            out.append(f.required(f.child(p, "pathType"), "pathType must be specified"))
            continue  # upstream stops at the missing pathType
        if path_type not in PATH_TYPES:
            out.append(f.not_supported(f.child(p, "pathType"), path_type, PATH_TYPES))
        elif path_type in ("Exact", "Prefix"):
            if not value.startswith("/"):
                out.append(f.invalid(f.child(p, "path"), value, "must be an absolute path"))
            for bad in ("//", "/./", "/../", "%2f", "%2F"):
                if bad in value:
                    out.append(f.invalid(f.child(p, "path"), value, f"must not contain '{bad}'"))
            for bad in ("/..", "/."):
                if value.endswith(bad):
                    out.append(f.invalid(f.child(p, "path"), value, f"cannot end with '{bad}'"))
        elif value and not value.startswith("/"):
            out.append(f.invalid(f.child(p, "path"), value, "must be an absolute path"))
        out += _backend(entry.get("backend"), f.child(p, "backend"))
    return out


def create_ingress(obj: dict[str, Any]) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    out: list[Cause] = []
    rules = _list(spec.get("rules"))
    if not rules and spec.get("defaultBackend") is None:
        out.append(
            f.invalid(
                "spec",
                f.Raw("[]networking.IngressRule(nil)"),
                "either `defaultBackend` or `rules` must be specified",
            )
        )
    if spec.get("defaultBackend") is not None:
        out += _backend(spec["defaultBackend"], "spec.defaultBackend")
    for i, rule in enumerate(rules):
        rule = _dict(rule)
        p = f.index("spec.rules", i)
        host = _s(rule.get("host"))
        if host:
            out += _host(host, f.child(p, "host"))
        if rule.get("http") is not None:
            out += _http_paths(_dict(rule["http"]), f.child(p, "http"))
    for i, tls in enumerate(_list(spec.get("tls"))):
        tls = _dict(tls)
        for j, host in enumerate(_list(tls.get("hosts"))):
            hp = f.index(f.child(f.index("spec.tls", i), "hosts"), j)
            host = _s(host)
            msgs = _wildcard_dns(host) if "*" in host else names.is_dns1123_subdomain(host)
            out += f.invalid_each(hp, host, msgs)
        secret = _s(tls.get("secretName"))
        if secret:
            out += f.invalid_each(
                f.child(f.index("spec.tls", i), "secretName"), secret, names.is_dns1123_subdomain(secret)
            )
    class_name = spec.get("ingressClassName")
    if isinstance(class_name, str):
        out += f.invalid_each("spec.ingressClassName", class_name, names.is_dns1123_subdomain(class_name))
    annotation = _dict(_dict(obj.get("metadata")).get("annotations")).get(INGRESS_CLASS_ANNOTATION)
    if annotation is not None and isinstance(class_name, str) and annotation != class_name:
        out.append(
            f.invalid(
                f"annotations.{INGRESS_CLASS_ANNOTATION}",
                annotation,
                "must match `ingressClassName` when both are specified",
            )
        )
    return out


def status_ingress(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    for i, entry in enumerate(_list(_dict(_dict(new.get("status")).get("loadBalancer")).get("ingress"))):
        entry = _dict(entry)
        p = f.index("status.loadBalancer.ingress", i)
        ip, host = _s(entry.get("ip")), _s(entry.get("hostname"))
        if ip:
            out += f.invalid_each(f.child(p, "ip"), ip, names.is_valid_ip(ip))
        if host:
            out += f.invalid_each(f.child(p, "hostname"), host, names.is_dns1123_subdomain(host))
            try:
                ipaddress.ip_address(host)
                out.append(f.invalid(f.child(p, "hostname"), host, "must be a DNS name, not an IP address"))
            except ValueError:
                pass
    return out


# -- IngressClass ------------------------------------------------------------------------------------

_HTTP_PATH_FMT = "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+"


def _domain_prefixed_path(value: str, path: str) -> list[Cause]:
    """``IsDomainPrefixedPath``: ``<DNS subdomain>/<HTTP path>``."""

    domain, sep, rest = value.partition("/")
    if not sep or not domain or not rest:
        return [f.invalid(path, value, 'must be a domain-prefixed path (such as "acme.io/foo")')]
    out = f.invalid_each(path, domain, names.is_dns1123_subdomain(domain))
    if not re.fullmatch(_HTTP_PATH_FMT, rest):
        out.append(f.invalid(path, rest, names.regex_error("Invalid path", _HTTP_PATH_FMT)))
    return out


def create_ingress_class(obj: dict[str, Any]) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    out: list[Cause] = []
    controller = _s(spec.get("controller"))
    if not controller:
        out.append(f.required("spec.controller"))
    else:
        if len(controller) > MAX_INGRESS_CLASS_CONTROLLER_LEN:
            out.append(f.too_long("spec.controller", MAX_INGRESS_CLASS_CONTROLLER_LEN))
        out += _domain_prefixed_path(controller, "spec.controller")
    params = spec.get("parameters")
    if isinstance(params, dict):
        p = "spec.parameters"
        out += _typed_local_ref(params, p)
        scope = params.get("scope")
        namespace = params.get("namespace")
        if scope not in ("Cluster", "Namespace"):
            out.append(f.not_supported(f.child(p, "scope"), scope or "", ("Cluster", "Namespace")))
        elif scope == "Namespace" and not namespace:
            out.append(f.required(f.child(p, "namespace"), "`parameters.scope` is set to 'Namespace'"))
        elif scope == "Cluster" and namespace:
            out.append(f.forbidden(f.child(p, "namespace"), "`parameters.scope` is set to 'Cluster'"))
        if namespace:
            out += f.invalid_each(f.child(p, "namespace"), namespace, names.is_dns1123_label(_s(namespace)))
    return out


def update_ingress_class(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    return create_ingress_class(new) + f.immutable(
        _dict(new.get("spec")).get("controller"), _dict(old.get("spec")).get("controller"), "spec.controller"
    )


# -- NetworkPolicy -----------------------------------------------------------------------------------


def _policy_port(port: dict[str, Any], path: str) -> list[Cause]:
    out: list[Cause] = []
    proto = port.get("protocol")
    if isinstance(proto, str) and proto not in PROTOCOLS:
        out.append(f.not_supported(f.child(path, "protocol"), proto, PROTOCOLS))
    value = port.get("port")
    end = _int(port.get("endPort"))
    if end is not None and value is None:
        out.append(
            f.invalid(f.child(path, "endPort"), end, "may not be specified when `port` is not specified")
        )
    if isinstance(value, int) and not isinstance(value, bool):
        out += f.invalid_each(f.child(path, "port"), value, names.is_valid_port_num(value))
        if end is not None:
            if end < value:
                out.append(
                    f.invalid(f.child(path, "endPort"), end, "must be greater than or equal to `port`")
                )
            out += f.invalid_each(f.child(path, "endPort"), end, names.is_valid_port_num(end))
    elif isinstance(value, str):
        if end is not None:
            out.append(
                f.invalid(f.child(path, "endPort"), end, "may not be specified when `port` is non-numeric")
            )
        out += f.invalid_each(f.child(path, "port"), value, names.is_valid_port_name(value))
    return out


def _policy_peer(peer: dict[str, Any], path: str) -> list[Cause]:
    out: list[Cause] = []
    count = 0
    if peer.get("podSelector") is not None:
        count += 1
        out += meta.validate_label_selector(peer["podSelector"], f.child(path, "podSelector"))
    if peer.get("namespaceSelector") is not None:
        count += 1
        out += meta.validate_label_selector(peer["namespaceSelector"], f.child(path, "namespaceSelector"))
    block = peer.get("ipBlock")
    if block is not None:
        count += 1
        out += _ip_block(_dict(block), f.child(path, "ipBlock"))
    if count == 0:
        out.append(f.required(path, "must specify a peer"))
    elif block is not None and count > 1:
        out.append(f.forbidden(path, "may not specify both ipBlock and another peer"))
    return out


def _ip_block(block: dict[str, Any], path: str) -> list[Cause]:
    cidr = _s(block.get("cidr"))
    if not cidr:
        return [f.required(f.child(path, "cidr"))]
    msgs = names.is_valid_cidr(cidr)
    if msgs:
        return f.invalid_each(f.child(path, "cidr"), cidr, msgs)
    network = ipaddress.ip_network(cidr, strict=False)
    out: list[Cause] = []
    for i, exc in enumerate(_list(block.get("except"))):
        p = f.index(f.child(path, "except"), i)
        exc = _s(exc)
        emsgs = names.is_valid_cidr(exc)
        if emsgs:
            out += f.invalid_each(p, exc, emsgs)
            continue
        inner = ipaddress.ip_network(exc, strict=False)
        if (
            inner.version != network.version
            or not _subnet_of(inner, network)
            or inner.prefixlen <= network.prefixlen
        ):
            out.append(f.invalid(p, exc, "must be a strict subset of `cidr`"))
    return out


def create_network_policy(obj: dict[str, Any]) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    out = meta.validate_label_selector(spec.get("podSelector"), "spec.podSelector")
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(_list(spec.get(direction))):
            rule = _dict(rule)
            p = f.index(f.child("spec", direction), i)
            for j, port in enumerate(_list(rule.get("ports"))):
                out += _policy_port(_dict(port), f.index(f.child(p, "ports"), j))
            for j, peer in enumerate(_list(rule.get(peers_key))):
                out += _policy_peer(_dict(peer), f.index(f.child(p, peers_key), j))
    types = _list(spec.get("policyTypes"))
    if len(types) > 2:
        return [*out, f.invalid("spec.policyTypes", types, "may not specify more than two policyTypes")]
    for i, kind in enumerate(types):
        if kind not in POLICY_TYPES:
            out.append(f.not_supported(f.index("spec.policyTypes", i), kind, ("Ingress", "Egress")))
    return out


def _subnet_of(
    inner: ipaddress.IPv4Network | ipaddress.IPv6Network, outer: ipaddress.IPv4Network | ipaddress.IPv6Network
) -> bool:
    """``inner.subnet_of(outer)`` for networks of one family (a mixed pair is never a subnet)."""
    if isinstance(inner, ipaddress.IPv4Network) and isinstance(outer, ipaddress.IPv4Network):
        return inner.subnet_of(outer)
    if isinstance(inner, ipaddress.IPv6Network) and isinstance(outer, ipaddress.IPv6Network):
        return inner.subnet_of(outer)
    return False
