"""Metadata validation and the name/label format checks, with upstream's exact messages."""

from __future__ import annotations

from typing import Any

from kybernetes.api.errors import invalid
from kybernetes.api.registry import Registry
from kybernetes.api.validation import names
from tests.api._kinds import validate_create, validate_update

REG = Registry.builtin()
CM = REG.get("", "v1", "configmaps")
NS = REG.get("", "v1", "namespaces")
SVC = REG.get("", "v1", "services")
ROLE = REG.get("rbac.authorization.k8s.io", "v1", "roles")
assert CM and NS and SVC and ROLE

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


def cm(**meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": "default", **meta}}


def messages(causes: list[Any]) -> list[str]:
    return [f"{c.field}: {c.message}" for c in causes]


def test_name_required_unless_generate_name() -> None:
    causes = validate_create(CM, cm())
    assert messages(causes) == ["metadata.name: Required value: name or generateName is required"]
    assert causes[0].reason == "FieldValueRequired"
    assert validate_create(CM, cm(generateName="web-")) == []


def test_subdomain_name_message_exact() -> None:
    causes = validate_create(CM, cm(name="Foo"))
    assert messages(causes) == [f'metadata.name: Invalid value: "Foo": {SUBDOMAIN_MSG}']
    assert causes[0].reason == "FieldValueInvalid"
    err = invalid("ConfigMap", "Foo", causes)
    assert err.message == f'ConfigMap "Foo" is invalid: metadata.name: Invalid value: "Foo": {SUBDOMAIN_MSG}'


def test_generate_name_trailing_dash_allowed_but_bad_chars_not() -> None:
    assert validate_create(CM, cm(generateName="a-")) == []
    causes = validate_create(CM, cm(generateName="A_"))
    assert causes[0].field == "metadata.generateName"


def test_namespace_name_is_dns_label() -> None:
    ns = {"metadata": {"name": "a.b"}}
    assert messages(validate_create(NS, ns)) == ['metadata.name: Invalid value: "a.b": must not contain dots']
    ns = {"metadata": {"name": "A"}}
    assert messages(validate_create(NS, ns)) == [f'metadata.name: Invalid value: "A": {LABEL_MSG}']


def test_namespace_forbidden_on_cluster_scoped() -> None:
    causes = validate_create(NS, {"metadata": {"name": "x", "namespace": "y"}})
    assert messages(causes) == ["metadata.namespace: Forbidden: not allowed on this type"]


def test_namespace_required_and_format() -> None:
    causes = validate_create(CM, {"metadata": {"name": "x"}})
    assert messages(causes) == ["metadata.namespace: Required value"]
    causes = validate_create(CM, {"metadata": {"name": "x", "namespace": "Bad"}})
    assert causes[0].field == "metadata.namespace"


def test_service_name_is_dns1035() -> None:
    svc = {"metadata": {"name": "1abc", "namespace": "d"}, "spec": {"ports": [{"port": 80}]}}
    assert messages(validate_create(SVC, svc)) == [
        'metadata.name: Invalid value: "1abc": a DNS-1035 label must consist of lower case alphanumeric '
        "characters or '-', start with an alphabetic character, and end with an alphanumeric character "
        "(e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
    ]


def test_rbac_names_are_path_segments() -> None:
    role = {"metadata": {"name": "system:Controller", "namespace": "d"}}
    assert validate_create(ROLE, role) == []
    role = {"metadata": {"name": "a/b", "namespace": "d"}}
    assert messages(validate_create(ROLE, role)) == [
        "metadata.name: Invalid value: \"a/b\": may not contain '/'"
    ]


def test_labels() -> None:
    causes = validate_create(CM, cm(name="x", labels={"bad key!": "v", "ok": "-bad"}))
    assert messages(causes) == [
        'metadata.labels: Invalid value: "bad key!": name part must consist of alphanumeric characters, '
        "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  "
        "or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        'metadata.labels: Invalid value: "-bad": a valid label must be an empty string or consist of '
        "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character "
        "(e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
        "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
    ]
    too_long = "a" * 64
    causes = validate_create(CM, cm(name="x", labels={"k": too_long}))
    assert (
        messages(causes)[0]
        == f'metadata.labels: Invalid value: "{too_long}": must be no more than 63 characters'
    )
    causes = validate_create(CM, cm(name="x", labels={"Example.com/x": "v"}))
    assert "prefix part" in causes[0].message


def test_annotations_size_and_keys() -> None:
    causes = validate_create(CM, cm(name="x", annotations={"k": "v" * (256 * 1024)}))
    assert messages(causes) == ["metadata.annotations: Too long: may not be more than 262144 bytes"]
    assert causes[0].reason == "FieldValueTooLong"
    assert validate_create(CM, cm(name="x", annotations={"Example.COM/Key": "v"})) == []
    causes = validate_create(CM, cm(name="x", annotations={"a/b/c": "v"}))
    assert causes[0].message.startswith('Invalid value: "a/b/c": a qualified name must consist of')


def test_finalizers_and_owner_references() -> None:
    causes = validate_create(CM, cm(name="x", finalizers=["ok.io/x", "bad fin"]))
    assert [c.field for c in causes] == ["metadata.finalizers"]
    causes = validate_create(
        CM, cm(name="x", ownerReferences=[{"apiVersion": "", "kind": "", "name": "", "uid": ""}])
    )
    assert messages(causes) == [
        'metadata.ownerReferences.apiVersion: Invalid value: "": version must not be empty',
        'metadata.ownerReferences.kind: Invalid value: "": kind must not be empty',
        'metadata.ownerReferences.name: Invalid value: "": name must not be empty',
        'metadata.ownerReferences.uid: Invalid value: "": uid must not be empty',
    ]
    two = [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "a", "uid": "1", "controller": True},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "b", "uid": "2", "controller": True},
    ]
    causes = validate_create(CM, cm(name="x", ownerReferences=two))
    assert causes[0].message.endswith(
        'Only one reference can have Controller set to true. Found "true" in references for ReplicaSet/a and ReplicaSet/b'
    )


def test_update_name_immutable() -> None:
    old = cm(name="x", uid="u1")
    new = cm(name="y", uid="u1")
    assert messages(validate_update(CM, new, old)) == [
        'metadata.name: Invalid value: "y": field is immutable'
    ]
    new = cm(name="x")  # uid omitted: the server restores it
    assert validate_update(CM, new, old) == []


def test_no_new_finalizers_while_deleting() -> None:
    old = cm(name="x", deletionTimestamp="2024-01-01T00:00:00Z", finalizers=["a.io/x"])
    new = cm(name="x", deletionTimestamp="2024-01-01T00:00:00Z", finalizers=["a.io/x", "b.io/y"])
    assert messages(validate_update(CM, new, old)) == [
        "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, "
        'found new finalizers []string{"b.io/y"}'
    ]


def test_format_helpers() -> None:
    assert names.is_valid_port_name("http") == []
    assert names.is_valid_port_name("-http-") == ["must not begin or end with a hyphen"]
    assert names.is_valid_port_name("1234") == ["must contain at least one letter (a-z)"]
    assert names.is_config_map_key("..a") == ["must not start with '..'"]
    assert names.is_valid_port_num(0) == ["must be between 1 and 65535, inclusive"]
    assert names.is_relaxed_env_var_name("A=B") == [
        "a valid environment variable name must consist only of printable ASCII characters other than '='"
    ]
