"""Decode-time checks against the OpenAPI definitions (``check_types``, ``check_unknown_fields``) and
custom resources against structural schemas (``validate_custom``, ``prune_unknown``...)."""

from __future__ import annotations

from typing import Any

from kybernetes.api.validation import (
    apply_custom_defaults,
    check_types,
    check_unknown_fields,
    decode_error_message,
    prune_unknown,
    strict_error_message,
    unknown_custom_fields,
    validate_custom,
)
from kybernetes.api.validation.schema import base64_error

DEPLOYMENT = "io.k8s.api.apps.v1.Deployment"
POD = "io.k8s.api.core.v1.Pod"


def test_wrong_types_like_go_decoder() -> None:
    errs = check_types(DEPLOYMENT, {"spec": {"replicas": "three"}})
    assert errs == [
        "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"
    ]
    assert decode_error_message("Deployment", "v1", errs[0]) == (
        'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into Go '
        "struct field DeploymentSpec.spec.replicas of type int32"
    )


def test_type_errors_nested_and_collections() -> None:
    obj: dict[str, Any] = {
        "metadata": {"labels": ["a"]},
        "spec": {"containers": {"name": "x"}, "hostNetwork": "yes", "terminationGracePeriodSeconds": 1.5},
    }
    assert check_types(POD, obj) == [
        "json: cannot unmarshal array into Go struct field ObjectMeta.metadata.labels of type map[string]string",
        "json: cannot unmarshal object into Go struct field PodSpec.spec.containers of type []v1.Container",
        "json: cannot unmarshal string into Go struct field PodSpec.spec.hostNetwork of type bool",
        "json: cannot unmarshal number 1.5 into Go struct field PodSpec.spec.terminationGracePeriodSeconds of type int64",
    ]
    assert check_types(POD, {"spec": "x"}) == [
        "json: cannot unmarshal string into Go struct field Pod.spec of type v1.PodSpec"
    ]


def test_quantity_int_or_string_and_bytes() -> None:
    pod = {"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": "lots"}}}]}}
    assert check_types(POD, pod) == [
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    ]
    ok = {"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": 1, "memory": "1Gi"}}}]}}
    assert check_types(POD, ok) == []
    svc = {"spec": {"ports": [{"port": 80, "targetPort": True}]}}
    assert check_types("io.k8s.api.core.v1.Service", svc) == [
        "json: cannot unmarshal bool into Go struct field ServicePort.spec.ports.targetPort of type int32"
    ]
    assert check_types("io.k8s.api.core.v1.Secret", {"data": {"a": "abc!"}}) == [
        "illegal base64 data at input byte 3"
    ]
    assert base64_error("YQ==") is None
    assert base64_error("YQ") == "illegal base64 data at input byte 0"
    assert check_types(POD, {"metadata": {"creationTimestamp": None}, "spec": None}) == []


def test_unknown_fields() -> None:
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x", "foo": 1},
        "spec": {
            "replicas": 1,
            "bar": 2,
            "template": {"spec": {"containers": [{"name": "c", "image": "x", "imagePullPolicyy": "Always"}]}},
        },
    }
    unknown = check_unknown_fields(DEPLOYMENT, obj)
    assert unknown == [
        'unknown field "metadata.foo"',
        'unknown field "spec.bar"',
        'unknown field "spec.template.spec.containers[0].imagePullPolicyy"',
    ]
    assert strict_error_message(unknown[:2]) == (
        'strict decoding error: unknown field "metadata.foo", unknown field "spec.bar"'
    )
    # maps (labels, data) and free-form fields accept any key
    cm = {"data": {"anything": "x"}, "metadata": {"labels": {"a": "b"}}}
    assert check_unknown_fields("io.k8s.api.core.v1.ConfigMap", cm) == []


SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "replicas": {"type": "integer", "minimum": 1, "maximum": 10},
                "size": {"type": "string", "enum": ["S", "M", "L"]},
                "name": {"type": "string", "minLength": 3, "maxLength": 5, "pattern": "^[a-z]+$"},
                "tags": {"type": "array", "maxItems": 2, "minItems": 1, "items": {"type": "string"}},
                "port": {"x-kubernetes-int-or-string": True},
                "when": {"type": "string", "format": "date-time"},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "mode": {"type": "string", "default": "fast"},
            },
        },
        "status": {"type": "object", "properties": {"ok": {"type": "boolean"}}},
    },
}


def cr(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": "S", **spec},
    }


def messages(causes: list[Any]) -> list[str]:
    return [f"{c.field}: {c.message}" for c in causes]


def test_custom_type_errors() -> None:
    causes = validate_custom(cr(replicas="string"), SCHEMA)
    assert messages(causes) == [
        'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"'
    ]
    assert causes[0].reason == "FieldValueTypeInvalid"
    assert validate_custom(cr(replicas=3, port="http", when="2024-01-01T00:00:00Z"), SCHEMA) == []
    assert messages(validate_custom(cr(port=True), SCHEMA)) == [
        'spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"'
    ]


def test_custom_constraints() -> None:
    obj = cr(replicas=0, name="AB", tags=["a", "b", "c"], when="nope")
    obj["spec"]["size"] = "XL"
    assert messages(validate_custom(obj, SCHEMA)) == [
        'spec.size: Unsupported value: "XL": supported values: "S", "M", "L"',
        "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1",
        'spec.name: Invalid value: "AB": spec.name in body should be at least 3 chars long',
        "spec.name: Invalid value: \"AB\": spec.name in body should match '^[a-z]+$'",
        "spec.tags: Too many: 3: must have at most 2 items",
        'spec.when: Invalid value: "nope": spec.when in body must be of type date-time: "nope"',
    ]
    obj = cr(replicas=11, name="abcdef", tags=[])
    assert messages(validate_custom(obj, SCHEMA)) == [
        "spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10",
        "spec.name: Too long: may not be more than 5 bytes",
        "spec.tags: Invalid value: 0: spec.tags in body should have at least 1 items",
    ]
    obj = cr()
    del obj["spec"]["size"]
    assert messages(validate_custom(obj, SCHEMA)) == ["spec.size: Required value"]


def test_prune_and_unknown() -> None:
    obj = cr(bogus=1, extra={"anything": {"goes": True}}, labels={"a": "b"})
    obj["metadata"]["junk"] = 1
    obj["top"] = 2
    assert unknown_custom_fields(obj, SCHEMA) == [
        'unknown field "metadata.junk"',
        'unknown field "spec.bogus"',
        'unknown field "top"',
    ]
    pruned = prune_unknown(obj, SCHEMA)
    assert pruned == {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": "S", "extra": {"anything": {"goes": True}}, "labels": {"a": "b"}},
    }
    assert "bogus" in obj["spec"]  # the input is not modified


def test_custom_defaults() -> None:
    obj = cr()
    apply_custom_defaults(obj, SCHEMA)
    assert obj["spec"]["mode"] == "fast"
