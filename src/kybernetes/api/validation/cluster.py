"""Validation of the cluster-level groups, after upstream's validation packages:
``certificates.k8s.io`` CertificateSigningRequest (spec, status and approval), ``node.k8s.io``
RuntimeClass, ``admissionregistration.k8s.io`` webhook configurations and validating admission policies
(structure only: CEL expressions are stored, not compiled), ``flowcontrol.apiserver.k8s.io`` flow
schemas and priority levels, and ``apiregistration.k8s.io`` APIServices."""

from __future__ import annotations

import base64
import binascii
import math
import re
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509

from kybernetes.api import flowcontrol
from kybernetes.api.errors import Cause
from kybernetes.api.validation import field as f
from kybernetes.api.validation import meta, names
from kybernetes.api.validation.podspec import _dict, _int, _list, _s, validate_resource_requirements

# -- CertificateSigningRequest -----------------------------------------------------------------------

KEY_USAGES = (
    "any",
    "cert sign",
    "client auth",
    "code signing",
    "content commitment",
    "crl sign",
    "data encipherment",
    "decipher only",
    "digital signature",
    "email protection",
    "encipher only",
    "ipsec end system",
    "ipsec tunnel",
    "ipsec user",
    "key agreement",
    "key encipherment",
    "microsoft sgc",
    "netscape sgc",
    "ocsp signing",
    "s/mime",
    "server auth",
    "signing",
    "timestamping",
)
CSR_CONDITION_TYPES = ("Approved", "Denied", "Failed")


def _go_bytes(data: bytes) -> f.Raw:
    """Go's ``%#v`` of a ``[]byte``, how upstream prints a bad request."""
    return f.Raw("[]byte{" + ", ".join(f"0x{b:x}" for b in data) + "}")


def parse_csr_request(request: Any) -> tuple[bytes, str]:
    """The request bytes and ``ParseCSR``'s error ("" when it is a PEM certificate request)."""
    try:
        data = base64.b64decode(_s(request), validate=True)
    except (binascii.Error, ValueError):
        return b"", "illegal base64 data"
    text = data.decode("latin-1")
    begin = text.find("-----BEGIN ")
    if begin < 0 or not text[begin:].startswith("-----BEGIN CERTIFICATE REQUEST-----"):
        return data, "PEM block type must be CERTIFICATE REQUEST"

    try:
        x509.load_pem_x509_csr(data[begin:])
    except ValueError as exc:
        return data, f"x509: malformed certificate request ({exc})"
    return data, ""


def _signer_name(value: str, path: str) -> list[Cause]:
    """``ValidateSignerName``: ``<domain>/<path>``; the domain has at least two DNS labels, the path is
    dot-separated DNS subdomains."""
    if not value:
        return [f.required(path)]
    segments = value.split("/")
    if len(segments) != 2:
        return [
            f.invalid(
                path, value, "must be a fully qualified domain and path of the form 'example.com/signer-name'"
            )
        ]
    domain, rest = segments
    out: list[Cause] = []
    if len(domain) > 253:
        out.append(f.too_long(path, 253))
    labels = domain.split(".")
    for label in labels:
        errs = names.is_dns1123_label(label)
        if errs:
            out += [f.invalid(path, domain, f'validating label "{label}": {e}') for e in errs]
            break
    if len(labels) < 2:
        out.append(f.invalid(path, domain, "should be a domain with at least two segments separated by dots"))
    for component in rest.split("."):
        errs = names.is_dns1123_subdomain(component)
        if errs:
            out += [f.invalid(path, rest, f'validating component "{component}": {e}') for e in errs]
            break
    return out


LEGACY_UNKNOWN_SIGNER = "kubernetes.io/legacy-unknown"
_TRUE_ONLY_CONDITIONS = ("Approved", "Denied", "Failed")


def _certificate_error(data: bytes) -> str:
    """``validateCertificate``: only CERTIFICATE PEM blocks without headers, each a parsable X.509
    certificate ("" when valid or empty)."""
    if not data:
        return ""

    blocks = re.findall(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", data, re.S)
    for kind, body in blocks:
        if kind != b"CERTIFICATE":
            return f'only CERTIFICATE PEM blocks are allowed, found "{kind.decode()}"'
        if any(b":" in line for line in body.splitlines()):
            return "no PEM block headers are permitted"
        try:
            x509.load_pem_x509_certificate(
                b"-----BEGIN CERTIFICATE-----\n" + body + b"-----END CERTIFICATE-----\n"
            )
        except ValueError as exc:
            return f"x509: {exc}"
    if not blocks:
        return "must contain at least one CERTIFICATE PEM block"
    return ""


def _csr_conditions(obj: dict[str, Any]) -> list[Cause]:
    """``validateConditions``."""
    out: list[Cause] = []
    seen: set[str] = set()
    approved = denied = False
    for i, cond in enumerate(_list(_dict(obj.get("status")).get("conditions"))):
        cond = _dict(cond)
        p = f.index("status.conditions", i)
        kind, status = _s(cond.get("type")), _s(cond.get("status"))
        if not kind:
            out.append(f.required(f.child(p, "type")))
        allowed = ("True",) if kind in _TRUE_ONLY_CONDITIONS else ("False", "True", "Unknown")
        if not status:
            out.append(f.required(f.child(p, "status")))
        elif status not in allowed:
            out.append(f.not_supported(f.child(p, "status"), status, allowed))
        if kind == "Approved":
            approved = True
            if denied:
                out.append(
                    f.invalid(
                        f.child(p, "type"), kind, "Approved and Denied conditions are mutually exclusive"
                    )
                )
        elif kind == "Denied":
            denied = True
            if approved:
                out.append(
                    f.invalid(
                        f.child(p, "type"), kind, "Approved and Denied conditions are mutually exclusive"
                    )
                )
        if kind in seen:
            out.append(f.duplicate(f.child(p, "type"), kind))
        seen.add(kind)
    return out


def _status_certificate(obj: dict[str, Any]) -> bytes:
    try:
        return base64.b64decode(_s(_dict(obj.get("status")).get("certificate")), validate=True)
    except (binascii.Error, ValueError):
        return b"\x00invalid"


def create_csr(obj: dict[str, Any]) -> list[Cause]:
    """``validateCertificateSigningRequest`` with v1's strict options."""
    spec = _dict(obj.get("spec"))
    out: list[Cause] = []
    data, error = parse_csr_request(spec.get("request"))
    if error:
        out.append(f.invalid("spec.request", _go_bytes(data), error))
    usages = _list(spec.get("usages"))
    if not usages:
        out.append(f.required("spec.usages"))
    for i, usage in enumerate(usages):
        if usage not in KEY_USAGES:
            out.append(f.not_supported(f.index("spec.usages", i), usage, KEY_USAGES))
    seen: set[str] = set()
    for i, usage in enumerate(usages):
        if _s(usage) in seen:
            out.append(f.duplicate(f.index("spec.usages", i), usage))
        seen.add(_s(usage))
    signer = _s(spec.get("signerName"))
    if signer == LEGACY_UNKNOWN_SIGNER:
        out.append(
            f.invalid("spec.signerName", signer, "the legacy signerName is not allowed via this API version")
        )
    else:
        out += _signer_name(signer, "spec.signerName")
    seconds = spec.get("expirationSeconds")
    if isinstance(seconds, int) and not isinstance(seconds, bool) and seconds < 600:
        out.append(
            f.invalid(
                "spec.expirationSeconds",
                seconds,
                "may not specify a duration less than 600 seconds (10 minutes)",
            )
        )
    out += _csr_conditions(obj)
    certificate_error = _certificate_error(_status_certificate(obj))
    if certificate_error:
        out.append(f.invalid("status.certificate", "<certificate data>", certificate_error))
    return out


def _conditions_of(obj: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [
        _dict(c) for c in _list(_dict(obj.get("status")).get("conditions")) if _dict(c).get("type") == kind
    ]


def validate_csr_update(new: dict[str, Any], old: dict[str, Any], subresource: str | None) -> list[Cause]:
    """``validateCertificateSigningRequestUpdate``: ``/approval`` may set Approved/Denied, ``/status``
    may set the certificate once; no write removes an Approved, Denied or Failed condition."""
    out = create_csr(new)
    if subresource is not None and _status_certificate(new) == _status_certificate(old):
        # an untouched certificate is not re-validated (allowArbitraryCertificate)
        out = [c for c in out if c.field != "status.certificate"]
    for kind in ("Approved", "Denied", "Failed"):
        if len(_conditions_of(new, kind)) < len(_conditions_of(old, kind)):
            out.append(
                f.forbidden("status.conditions", f'updates may not remove a condition of type "{kind}"')
            )
    if subresource != "approval":
        for kind in ("Approved", "Denied"):
            before, after = _conditions_of(old, kind), _conditions_of(new, kind)
            if len(after) > len(before):
                out.append(
                    f.forbidden("status.conditions", f'updates may not add a condition of type "{kind}"')
                )
            elif len(after) == len(before) and not f.semantic_equal(after, before):
                out.append(
                    f.forbidden("status.conditions", f'updates may not modify a condition of type "{kind}"')
                )
    new_cert, old_cert = _status_certificate(new), _status_certificate(old)
    if new_cert != old_cert:
        if subresource != "status":
            out.append(f.forbidden("status.certificate", "updates may not set certificate content"))
        elif old_cert:
            out.append(
                f.forbidden("status.certificate", "updates may not modify existing certificate content")
            )
    return out


def update_csr(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    return validate_csr_update(new, old, None)


def status_csr(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    return validate_csr_update(new, old, "status")


# -- RuntimeClass ------------------------------------------------------------------------------------


def create_runtime_class(obj: dict[str, Any]) -> list[Cause]:
    handler = _s(obj.get("handler"))
    out = f.invalid_each("handler", handler, names.is_dns1123_label(handler))
    overhead = _dict(obj.get("overhead")).get("podFixed")
    if overhead is not None:
        out += [
            Cause(c.field.replace("overhead.podFixed.limits", "overhead.podFixed"), c.message, c.reason)
            for c in validate_resource_requirements({"limits": overhead}, "overhead.podFixed")
        ]
    scheduling = _dict(obj.get("scheduling"))
    out += meta.validate_labels(scheduling.get("nodeSelector"), "scheduling.nodeSelector")
    return out


def update_runtime_class(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    return create_runtime_class(new) + f.immutable(new.get("handler"), old.get("handler"), "handler")


# -- admission webhooks ------------------------------------------------------------------------------

OPERATIONS = ("*", "CONNECT", "CREATE", "DELETE", "UPDATE")
SCOPES = ("*", "Cluster", "Namespaced")
FAILURE_POLICIES = ("Fail", "Ignore")
MATCH_POLICIES = ("Equivalent", "Exact")
SIDE_EFFECTS = ("None", "NoneOnDryRun")
REINVOCATION_POLICIES = ("IfNeeded", "Never")
REVIEW_VERSIONS = ("v1", "v1beta1")


def _resources(resources: list[Any], path: str) -> list[Cause]:
    """``validateResources``: ``resource`` / ``resource/subresource`` with the wildcard rules."""
    out: list[Cause] = []
    if not resources:
        out.append(f.required(path))
    with_wild_sub: set[str] = set()
    wild_res_subs: set[str] = set()
    double = single = plain = False
    for i, entry in enumerate(resources):
        entry = _s(entry)
        p = f.index(path, i)
        if not entry:
            out.append(f.required(p))
            continue
        double = double or entry == "*/*"
        single = single or entry == "*"
        res, sep, sub = entry.partition("/")
        if not sep:
            plain = entry != "*"
            continue
        if res in with_wild_sub:
            out.append(f.invalid(p, entry, f"if '{res}/*' is present, must not specify {entry}"))
        if sub in wild_res_subs:
            out.append(f.invalid(p, entry, f"if '*/{sub}' is present, must not specify {entry}"))
        if sub == "*":
            with_wild_sub.add(res)
        if res == "*":
            wild_res_subs.add(sub)
    if len(resources) > 1 and double:
        out.append(f.invalid(path, resources, "if '*/*' is present, must not specify other resources"))
    if single and plain:
        out.append(
            f.invalid(
                path, resources, "if '*' is present, must not specify other resources without subresources"
            )
        )
    return out


def _rule(rule: dict[str, Any], path: str) -> list[Cause]:
    """``validateRuleWithOperations``: operations, then the rule's groups, versions, resources, scope."""
    out: list[Cause] = []
    ops = _list(rule.get("operations"))
    if not ops:
        out.append(f.required(f.child(path, "operations")))
    if len(ops) > 1 and "*" in ops:
        out.append(
            f.invalid(
                f.child(path, "operations"), ops, "if '*' is present, must not specify other operations"
            )
        )
    for i, op in enumerate(ops):
        if op not in OPERATIONS:
            out.append(f.not_supported(f.index(f.child(path, "operations"), i), op, OPERATIONS))
    groups = _list(rule.get("apiGroups"))
    if not groups:
        out.append(f.required(f.child(path, "apiGroups")))
    if len(groups) > 1 and "*" in groups:
        out.append(
            f.invalid(
                f.child(path, "apiGroups"), groups, "if '*' is present, must not specify other API groups"
            )
        )
    versions = _list(rule.get("apiVersions"))
    if not versions:
        out.append(f.required(f.child(path, "apiVersions")))
    if len(versions) > 1 and "*" in versions:
        out.append(
            f.invalid(
                f.child(path, "apiVersions"),
                versions,
                "if '*' is present, must not specify other API versions",
            )
        )
    for i, version in enumerate(versions):
        if not version:
            out.append(f.required(f.index(f.child(path, "apiVersions"), i)))
    out += _resources(_list(rule.get("resources")), f.child(path, "resources"))
    scope = rule.get("scope")
    if scope is not None and scope not in SCOPES:
        out.append(f.not_supported(f.child(path, "scope"), scope, SCOPES))
    return out


_URL_FORM = "; desired format: https://host[/path]"


def _webhook_url(value: str, path: str) -> list[Cause]:
    """``ValidateWebhookURL`` (https only)."""

    try:
        parts = urlsplit(value)
    except ValueError as exc:
        return [f.required(path, f"url must be a valid URL: {exc}{_URL_FORM}")]
    out: list[Cause] = []
    if parts.scheme != "https":
        out.append(f.invalid(path, parts.scheme, "'https' is the only allowed URL scheme" + _URL_FORM))
    host = parts.netloc.rpartition("@")[2]
    if not host:
        out.append(f.invalid(path, host, "host must be specified" + _URL_FORM))
    if "@" in parts.netloc:
        out.append(
            f.invalid(path, parts.netloc.rpartition("@")[0], "user information is not permitted in the URL")
        )
    if parts.fragment:
        out.append(f.invalid(path, parts.fragment, "fragments are not permitted in the URL"))
    if parts.query:
        out.append(f.invalid(path, parts.query, "query parameters are not permitted in the URL"))
    return out


def _client_config(config: dict[str, Any], path: str) -> list[Cause]:
    url, service = config.get("url"), config.get("service")
    if (url is None) == (service is None):
        return [f.required(path, "exactly one of url or service is required")]
    out: list[Cause] = []
    if url is not None:
        return _webhook_url(_s(url), f.child(path, "url"))
    service = _dict(service)
    sp = f.child(path, "service")
    for key in ("name", "namespace"):
        if not _s(service.get(key)):
            out.append(f.required(f.child(sp, key), f"service {key} is required"))
    port = _int(service.get("port"))
    if port is not None and names.is_valid_port_num(port):
        out.append(
            f.invalid(
                f.child(sp, "port"), port, "port is not valid: " + ", ".join(names.is_valid_port_num(port))
            )
        )
    svc_path = service.get("path")
    if isinstance(svc_path, str) and svc_path and not svc_path.startswith("/"):
        out.append(f.invalid(f.child(sp, "path"), svc_path, "must start with a '/'"))
    return out


def _webhook_name(value: str, path: str) -> list[Cause]:
    if not value:
        return [f.required(path)]
    msgs = names.is_dns1123_subdomain(value)
    if not msgs and len(value.split(".")) < 3:
        msgs = ["should be a domain with at least three segments separated by dots"]
    return f.invalid_each(path, value, msgs)


def _webhooks(obj: dict[str, Any], *, mutating: bool) -> list[Cause]:
    out: list[Cause] = []
    seen: set[str] = set()
    for i, hook in enumerate(_list(obj.get("webhooks"))):
        hook = _dict(hook)
        p = f.index("webhooks", i)
        hook_name = _s(hook.get("name"))
        out += _webhook_name(hook_name, f.child(p, "name"))
        if hook_name and hook_name in seen:
            out.append(f.duplicate(f.child(p, "name"), hook_name))
        seen.add(hook_name)
        for j, rule in enumerate(_list(hook.get("rules"))):
            out += _rule(_dict(rule), f.index(f.child(p, "rules"), j))
        versions = _list(hook.get("admissionReviewVersions"))
        if not versions:
            out.append(f.required(f.child(p, "admissionReviewVersions"), "must specify one of v1, v1beta1"))
        elif not any(v in REVIEW_VERSIONS for v in versions):
            out.append(
                f.invalid(
                    f.child(p, "admissionReviewVersions"),
                    versions,
                    "must include at least one of v1, v1beta1",
                )
            )
        side = hook.get("sideEffects")
        if side is None:
            out.append(f.required(f.child(p, "sideEffects"), "must specify one of None, NoneOnDryRun"))
        elif side not in SIDE_EFFECTS:
            out.append(f.not_supported(f.child(p, "sideEffects"), side, SIDE_EFFECTS))
        for key, allowed in (("failurePolicy", FAILURE_POLICIES), ("matchPolicy", MATCH_POLICIES)):
            value = hook.get(key)
            if value is not None and value not in allowed:
                out.append(f.not_supported(f.child(p, key), value, allowed))
        if mutating:
            value = hook.get("reinvocationPolicy")
            if value is not None and value not in REINVOCATION_POLICIES:
                out.append(f.not_supported(f.child(p, "reinvocationPolicy"), value, REINVOCATION_POLICIES))
        timeout = _int(hook.get("timeoutSeconds"))
        if timeout is not None and not 1 <= timeout <= 30:
            out.append(
                f.invalid(
                    f.child(p, "timeoutSeconds"),
                    timeout,
                    "the timeout value must be between 1 and 30 seconds",
                )
            )
        out += meta.validate_label_selector(hook.get("namespaceSelector"), f.child(p, "namespaceSelector"))
        out += meta.validate_label_selector(hook.get("objectSelector"), f.child(p, "objectSelector"))
        out += _client_config(_dict(hook.get("clientConfig")), f.child(p, "clientConfig"))
    return out


def create_mutating_webhook_configuration(obj: dict[str, Any]) -> list[Cause]:
    return _webhooks(obj, mutating=True)


def create_validating_webhook_configuration(obj: dict[str, Any]) -> list[Cause]:
    return _webhooks(obj, mutating=False)


# -- ValidatingAdmissionPolicy (+Binding) ------------------------------------------------------------

VALIDATION_ACTIONS = ("Audit", "Deny", "Warn")
PARAM_NOT_FOUND_ACTIONS = ("Allow", "Deny")


def _match_resources(match: dict[str, Any], path: str, *, required_rules: bool) -> list[Cause]:
    out: list[Cause] = []
    policy = match.get("matchPolicy")
    if policy is not None and policy not in MATCH_POLICIES:
        out.append(f.not_supported(f.child(path, "matchPolicy"), policy, MATCH_POLICIES))
    out += meta.validate_label_selector(match.get("namespaceSelector"), f.child(path, "namespaceSelector"))
    out += meta.validate_label_selector(match.get("objectSelector"), f.child(path, "objectSelector"))
    rules = _list(match.get("resourceRules"))
    if required_rules and not rules:
        out.append(f.required(f.child(path, "resourceRules")))
    for key in ("resourceRules", "excludeResourceRules"):
        for i, rule in enumerate(_list(match.get(key))):
            out += _rule(_dict(rule), f.index(f.child(path, key), i))
    return out


def create_validating_admission_policy(obj: dict[str, Any]) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    out: list[Cause] = []
    kind = spec.get("paramKind")
    if isinstance(kind, dict):
        for key in ("apiVersion", "kind"):
            if not _s(kind.get(key)):
                out.append(f.required(f.child("spec.paramKind", key)))
    match = spec.get("matchConstraints")
    if not isinstance(match, dict):
        out.append(f.required("spec.matchConstraints"))
    else:
        out += _match_resources(match, "spec.matchConstraints", required_rules=True)
    validations = _list(spec.get("validations"))
    annotations = _list(spec.get("auditAnnotations"))
    if not validations and not annotations:
        out.append(
            f.required("spec.validations", "validations or auditAnnotations must contain at least one item")
        )
    for i, validation in enumerate(validations):
        if not _s(_dict(validation).get("expression")).strip():
            out.append(f.required(f.child(f.index("spec.validations", i), "expression")))
    for i, annotation in enumerate(annotations):
        p = f.index("spec.auditAnnotations", i)
        annotation = _dict(annotation)
        if not _s(annotation.get("key")):
            out.append(f.required(f.child(p, "key")))
        if not _s(annotation.get("valueExpression")).strip():
            out.append(f.required(f.child(p, "valueExpression")))
    policy = spec.get("failurePolicy")
    if policy is not None and policy not in FAILURE_POLICIES:
        out.append(f.not_supported("spec.failurePolicy", policy, FAILURE_POLICIES))
    seen: set[str] = set()
    for i, variable in enumerate(_list(spec.get("variables"))):
        p = f.index("spec.variables", i)
        var_name = _s(_dict(variable).get("name"))
        if not var_name:
            out.append(f.required(f.child(p, "name")))
        elif names.is_c_identifier(var_name):
            out += f.invalid_each(f.child(p, "name"), var_name, names.is_c_identifier(var_name))
        elif var_name in seen:
            out.append(f.duplicate(f.child(p, "name"), var_name))
        seen.add(var_name)
        if not _s(_dict(variable).get("expression")).strip():
            out.append(f.required(f.child(p, "expression")))
    return out


def create_validating_admission_policy_binding(obj: dict[str, Any]) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    out: list[Cause] = []
    if not _s(spec.get("policyName")):
        out.append(f.required("spec.policyName"))
    actions = _list(spec.get("validationActions"))
    if not actions:
        out.append(f.required("spec.validationActions"))
    seen: set[str] = set()
    for i, action in enumerate(actions):
        p = f.index("spec.validationActions", i)
        if action not in VALIDATION_ACTIONS:
            out.append(f.not_supported(p, action, VALIDATION_ACTIONS))
        if action in seen:
            out.append(f.duplicate(p, action))
        seen.add(_s(action))
    if "Deny" in seen and "Warn" in seen:
        out.append(
            f.invalid(
                "spec.validationActions",
                actions,
                "must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)",
            )
        )
    ref = spec.get("paramRef")
    if isinstance(ref, dict):
        action = ref.get("parameterNotFoundAction")
        if action is None:
            out.append(f.required("spec.paramRef.parameterNotFoundAction"))
        elif action not in PARAM_NOT_FOUND_ACTIONS:
            out.append(
                f.not_supported("spec.paramRef.parameterNotFoundAction", action, PARAM_NOT_FOUND_ACTIONS)
            )
        if ref.get("name") and ref.get("selector") is not None:
            out.append(f.forbidden("spec.paramRef.name", "name and selector are mutually exclusive"))
    match = spec.get("matchResources")
    if isinstance(match, dict):
        out += _match_resources(match, "spec.matchResources", required_rules=False)
    return out


# -- API priority and fairness -----------------------------------------------------------------------

DISTINGUISHER_TYPES = ("ByNamespace", "ByUser")
SUBJECT_KINDS = ("Group", "ServiceAccount", "User")
PRIORITY_LEVEL_TYPES = ("Exempt", "Limited")
LIMIT_RESPONSE_TYPES = ("Queue", "Reject")
FLOW_VERBS = ("*", "create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
MAX_MATCHING_PRECEDENCE = 10000
MAX_QUEUES = 512
MAX_HASH_BITS = 60
_NS_INTRO = "each member of this list must be '*' or a DNS-1123 label; "
_SUBJECT_FIELDS = {"ServiceAccount": "serviceAccount", "User": "user", "Group": "group"}


def _flow_subject(subject: dict[str, Any], path: str) -> list[Cause]:
    kind = subject.get("kind")
    if kind not in _SUBJECT_FIELDS:
        return [f.not_supported(f.child(path, "kind"), kind or "", SUBJECT_KINDS)]
    own = _SUBJECT_FIELDS[kind]
    out: list[Cause] = []
    body = subject.get(own)
    if not isinstance(body, dict):
        out.append(f.required(f.child(path, own), f"{own} is required when subject kind is '{kind}'"))
    else:
        sub_name = _s(body.get("name"))
        if not sub_name:
            out.append(f.required(f.child(path, own, "name")))
        elif kind == "ServiceAccount" and sub_name != "*":
            out += f.invalid_each(f.child(path, own, "name"), sub_name, names.is_dns1123_subdomain(sub_name))
        if kind == "ServiceAccount":
            namespace = _s(body.get("namespace"))
            if not namespace:
                out.append(
                    f.required(f.child(path, own, "namespace"), "must specify namespace for service account")
                )
            else:
                out += f.invalid_each(
                    f.child(path, own, "namespace"), namespace, names.is_dns1123_label(namespace)
                )
    for other_kind, other in _SUBJECT_FIELDS.items():
        if other != own and subject.get(other) is not None:
            out.append(
                f.forbidden(
                    f.child(path, other), f"{other} is forbidden when subject kind is not '{other_kind}'"
                )
            )
    return out


def _flow_verbs(verbs: list[Any], path: str) -> list[Cause]:
    if not verbs:
        return [f.required(path, "verbs must contain at least one value")]
    if "*" in verbs:
        return (
            [f.invalid(path, verbs, "if '*' is present, must not specify other verbs")]
            if len(verbs) > 1
            else []
        )
    if not set(verbs) <= set(FLOW_VERBS):
        return [f.not_supported(path, verbs, FLOW_VERBS)]
    return []


def _flow_resource_rule(rule: dict[str, Any], path: str) -> list[Cause]:
    out = _flow_verbs(_list(rule.get("verbs")), f.child(path, "verbs"))
    for key, noun, missing in (
        ("apiGroups", "api groups", "resource rules must supply at least one api group"),
        ("resources", "resources", "resource rules must supply at least one resource"),
    ):
        values = _list(rule.get(key))
        if not values:
            out.append(f.required(f.child(path, key), missing))
        elif len(values) > 1 and "*" in values:
            out.append(
                f.invalid(f.child(path, key), values, f"if '*' is present, must not specify other {noun}")
            )
    namespaces = _list(rule.get("namespaces"))
    if not namespaces and not rule.get("clusterScope"):
        out.append(
            f.required(
                f.child(path, "namespaces"),
                "resource rules that are not cluster scoped must supply at least one namespace",
            )
        )
    elif "*" in namespaces:
        if len(namespaces) > 1:
            out.append(
                f.invalid(
                    f.child(path, "namespaces"),
                    namespaces,
                    "if '*' is present, must not specify other namespaces",
                )
            )
    else:
        for i, namespace in enumerate(namespaces):
            out += [
                f.invalid(f.index(f.child(path, "namespaces"), i), namespace, _NS_INTRO + msg)
                for msg in names.is_dns1123_label(_s(namespace))
            ]
    return out


def _flow_non_resource_rule(rule: dict[str, Any], path: str) -> list[Cause]:
    out = _flow_verbs(_list(rule.get("verbs")), f.child(path, "verbs"))
    urls = _list(rule.get("nonResourceURLs"))
    if not urls:
        out.append(
            f.required(f.child(path, "nonResourceURLs"), "nonResourceURLs must contain at least one value")
        )
    elif "*" in urls:
        if len(urls) > 1:
            out.append(
                f.invalid(
                    f.child(path, "nonResourceURLs"),
                    urls,
                    "if '*' is present, must not specify other non-resource URLs",
                )
            )
    else:
        for i, url in enumerate(urls):
            url = _s(url)
            up = f.index(f.child(path, "nonResourceURLs"), i)
            if not url.startswith("/"):
                out.append(f.invalid(up, url, "must start with slash"))
            elif "*" in url[:-1] or (url.endswith("*") and not url.endswith("/*")):
                out.append(f.invalid(up, url, "wildcard can only do suffix glob matching"))
            elif "//" in url:
                out.append(f.invalid(up, url, "must not contain double slashes"))
    return out


def _conditions_status(obj: dict[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    seen: set[str] = set()
    for i, cond in enumerate(_list(_dict(obj.get("status")).get("conditions"))):
        kind = _s(_dict(cond).get("type"))
        p = f.index("status.conditions", i)
        if kind in seen:
            out.append(f.duplicate(f.child(p, "type"), kind))
        seen.add(kind)
        if not kind:
            out.append(f.required(f.child(p, "type"), "must not be empty"))
    return out


def _mandatory(obj: dict[str, Any], fixed: dict[str, dict[str, Any]]) -> list[Cause]:
    obj_name = _s(_dict(obj.get("metadata")).get("name"))
    if obj_name in fixed and not f.semantic_equal(obj.get("spec"), fixed[obj_name]):
        return [f.invalid("spec", obj.get("spec"), f"spec of '{obj_name}' must equal the fixed value")]
    return []


def create_flow_schema(
    obj: dict[str, Any], *, mandatory: dict[str, dict[str, Any]] | None = None
) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    out: list[Cause] = []
    obj_name = _s(_dict(obj.get("metadata")).get("name"))
    precedence = _int(spec.get("matchingPrecedence")) or 0
    if precedence <= 0:
        out.append(f.invalid("spec.matchingPrecedence", precedence, "must be a positive value"))
    if precedence > MAX_MATCHING_PRECEDENCE:
        out.append(
            f.invalid(
                "spec.matchingPrecedence", precedence, f"must not be greater than {MAX_MATCHING_PRECEDENCE}"
            )
        )
    if precedence == 1 and obj_name != "exempt":
        out.append(
            f.invalid(
                "spec.matchingPrecedence",
                precedence,
                "only the schema named 'exempt' may have matchingPrecedence 1",
            )
        )
    method = spec.get("distinguisherMethod")
    if isinstance(method, dict) and method.get("type") not in DISTINGUISHER_TYPES:
        out.append(
            f.not_supported("spec.distinguisherMethod.type", method.get("type") or "", DISTINGUISHER_TYPES)
        )
    level = _s(_dict(spec.get("priorityLevelConfiguration")).get("name"))
    if not level:
        out.append(f.required("spec.priorityLevelConfiguration.name", "must reference a priority level"))
    else:
        out += f.invalid_each(
            "spec.priorityLevelConfiguration.name", level, names.is_dns1123_subdomain(level)
        )
    for i, rule in enumerate(_list(spec.get("rules"))):
        rule = _dict(rule)
        p = f.index("spec.rules", i)
        subjects = _list(rule.get("subjects"))
        if not subjects:
            out.append(f.required(f.child(p, "subjects"), "subjects must contain at least one value"))
        for j, subject in enumerate(subjects):
            out += _flow_subject(_dict(subject), f.index(f.child(p, "subjects"), j))
        resource_rules, non_resource_rules = (
            _list(rule.get("resourceRules")),
            _list(rule.get("nonResourceRules")),
        )
        if not resource_rules and not non_resource_rules:
            out.append(
                f.required(p, "at least one of resourceRules and nonResourceRules has to be non-empty")
            )
        for j, resource_rule in enumerate(resource_rules):
            out += _flow_resource_rule(_dict(resource_rule), f.index(f.child(p, "resourceRules"), j))
        for j, non_resource_rule in enumerate(non_resource_rules):
            out += _flow_non_resource_rule(
                _dict(non_resource_rule), f.index(f.child(p, "nonResourceRules"), j)
            )
    out += _mandatory(obj, flowcontrol.MANDATORY_FLOW_SCHEMAS)
    return out + _conditions_status(obj)


def _required_entropy_bits(deck: int, hand: int) -> int:
    return math.ceil(math.log2(deck) * hand)


def _queuing(queuing: dict[str, Any], path: str) -> list[Cause]:
    out: list[Cause] = []
    limit = _int(queuing.get("queueLengthLimit")) or 0
    queues = _int(queuing.get("queues")) or 0
    hand = _int(queuing.get("handSize")) or 0
    if limit <= 0:
        out.append(f.invalid(f.child(path, "queueLengthLimit"), limit, "must be positive"))
    if queues <= 0:
        out.append(f.invalid(f.child(path, "queues"), queues, "must be positive"))
    elif queues > MAX_QUEUES:
        out.append(f.invalid(f.child(path, "queues"), queues, f"must not be greater than {MAX_QUEUES}"))
    if hand <= 0:
        out.append(f.invalid(f.child(path, "handSize"), hand, "must be positive"))
    elif hand > queues:
        out.append(
            f.invalid(f.child(path, "handSize"), hand, f"should not be greater than queues ({queues})")
        )
    elif _required_entropy_bits(queues, hand) > MAX_HASH_BITS:
        out.append(
            f.invalid(
                f.child(path, "handSize"),
                hand,
                f"required entropy bits of deckSize {queues} and handSize {hand} should not be greater than "
                f"{MAX_HASH_BITS}",
            )
        )
    return out


def _shares_and_lending(config: dict[str, Any], path: str) -> list[Cause]:
    out: list[Cause] = []
    shares = _int(config.get("nominalConcurrencyShares"))
    if shares is not None and shares < 0:
        out.append(
            f.invalid(f.child(path, "nominalConcurrencyShares"), shares, "must be a non-negative integer")
        )
    lendable = _int(config.get("lendablePercent"))
    if lendable is not None and not 0 <= lendable <= 100:
        out.append(
            f.invalid(f.child(path, "lendablePercent"), lendable, "must be between 0 and 100, inclusive")
        )
    return out


def create_priority_level(
    obj: dict[str, Any], *, mandatory: dict[str, dict[str, Any]] | None = None
) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    obj_name = _s(_dict(obj.get("metadata")).get("name"))
    kind = spec.get("type")
    out: list[Cause] = []
    if (obj_name == "exempt") != (kind == "Exempt"):
        out.append(
            f.invalid("spec.type", kind or "", "type must be 'Exempt' if and only if name is 'exempt'")
        )
    limited, exempt = spec.get("limited"), spec.get("exempt")
    if kind == "Exempt":
        if limited is not None:
            out.append(f.forbidden("spec.limited", "must be nil if the type is not Limited"))
        if isinstance(exempt, dict):
            out += _shares_and_lending(exempt, "spec.exempt")
    elif kind == "Limited":
        if exempt is not None:
            out.append(f.forbidden("spec.exempt", "must be nil if the type is Limited"))
        if not isinstance(limited, dict):
            out.append(f.required("spec.limited", "must not be empty when type is Limited"))
        else:
            out += _shares_and_lending(limited, "spec.limited")
            borrowing = _int(limited.get("borrowingLimitPercent"))
            if borrowing is not None and borrowing < 0:
                out.append(
                    f.invalid(
                        "spec.limited.borrowingLimitPercent",
                        borrowing,
                        "if specified, must be a non-negative integer",
                    )
                )
            response = _dict(limited.get("limitResponse"))
            rp = "spec.limited.limitResponse"
            rtype = response.get("type")
            if rtype == "Reject":
                if response.get("queuing") is not None:
                    out.append(
                        f.forbidden(
                            f.child(rp, "queuing"), "must be nil if limited.limitResponse.type is not Limited"
                        )
                    )
            elif rtype == "Queue":
                queuing = response.get("queuing")
                if not isinstance(queuing, dict):
                    out.append(
                        f.required(
                            f.child(rp, "queuing"),
                            "must not be empty if limited.limitResponse.type is Limited",
                        )
                    )
                else:
                    out += _queuing(queuing, f.child(rp, "queuing"))
            else:
                out.append(f.not_supported(f.child(rp, "type"), rtype or "", LIMIT_RESPONSE_TYPES))
    else:
        out.append(f.not_supported("spec.type", kind or "", PRIORITY_LEVEL_TYPES))
    out += _mandatory(obj, flowcontrol.MANDATORY_PRIORITY_LEVELS)
    return out + _conditions_status(obj)


def status_flowcontrol(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    return _conditions_status(new)


# -- APIService --------------------------------------------------------------------------------------


def create_api_service(obj: dict[str, Any]) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    group, version = _s(spec.get("group")), _s(spec.get("version"))
    out: list[Cause] = []
    md_name = _s(_dict(obj.get("metadata")).get("name"))
    wanted = f"{version}.{group}"
    if md_name and not names.is_valid_path_segment_name(md_name) and md_name != wanted:
        out.append(f.invalid("metadata.name", md_name, f'must be `spec.version+"."+spec.group`: "{wanted}"'))
    if not group and version != "v1":
        out.append(f.required("spec.group", "only v1 may have an empty group and it better be legacy kube"))
    if group:
        out += f.invalid_each("spec.group", group, names.is_dns1123_subdomain(group))
    out += f.invalid_each("spec.version", version, names.is_dns1035_label(version))
    group_priority = _int(spec.get("groupPriorityMinimum")) or 0
    if not 0 < group_priority <= 20000:
        out.append(
            f.invalid("spec.groupPriorityMinimum", group_priority, "must be positive and less than 20000")
        )
    version_priority = _int(spec.get("versionPriority")) or 0
    if not 0 < version_priority <= 1000:
        out.append(f.invalid("spec.versionPriority", version_priority, "must be positive and less than 1000"))
    service = spec.get("service")
    ca_bundle = _s(spec.get("caBundle"))
    skip_verify = bool(spec.get("insecureSkipTLSVerify"))
    if not isinstance(service, dict):
        if ca_bundle:
            size = len(base64.b64decode(ca_bundle + "==", validate=False)) if ca_bundle else 0
            out.append(
                f.invalid("spec.caBundle", f"{size} bytes", "local APIServices may not have a caBundle")
            )
        if skip_verify:
            out.append(
                f.invalid(
                    "spec.insecureSkipTLSVerify", True, "local APIServices may not have insecureSkipTLSVerify"
                )
            )
        return out
    if not _s(service.get("namespace")):
        out.append(f.required("spec.service.namespace"))
    if not _s(service.get("name")):
        out.append(f.required("spec.service.name"))
    port = _int(service.get("port"))
    if port is not None and names.is_valid_port_num(port):
        out.append(
            f.invalid(
                "spec.service.port", port, "port is not valid: " + ", ".join(names.is_valid_port_num(port))
            )
        )
    if skip_verify and ca_bundle:
        out.append(f.invalid("spec.insecureSkipTLSVerify", True, "may not be true if caBundle is present"))
    return out


def status_api_service(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    for i, cond in enumerate(_list(_dict(new.get("status")).get("conditions"))):
        cond = _dict(cond)
        p = f.index("status.conditions", i)
        if not _s(cond.get("type")):
            out.append(f.required(f.child(p, "type")))
        status = cond.get("status")
        if status not in ("True", "False", "Unknown"):
            out.append(f.not_supported(f.child(p, "status"), status or "", ("False", "True", "Unknown")))
    return out
