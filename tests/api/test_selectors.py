"""Label and field selectors: upstream grammar, matching, messages and per-resource field sets."""

from __future__ import annotations

import pytest

from kybernetes.api.errors import StatusError
from kybernetes.api.registry import BUILTIN_RESOURCES, ResourceInfo
from kybernetes.api.selectors import (
    InvalidSelectorError,
    format_label_selector,
    label_selector_from_dict,
    label_selector_from_set,
    object_fields,
    parse_field_selector,
    parse_label_selector,
    validate_field_selector,
)
from kybernetes.api.validation.names import is_qualified_name


def info(group: str, kind: str) -> ResourceInfo:
    return next(i for i in BUILTIN_RESOURCES if i.group == group and i.kind == kind)


def bad(fn, *args) -> str:
    with pytest.raises(StatusError) as caught:
        fn(*args)
    assert caught.value.code == 400
    assert caught.value.reason == "BadRequest"
    return caught.value.message


# --- label selector grammar --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("", ""),
        ("a=b", "a=b"),
        ("a==b", "a==b"),
        ("a!=b", "a!=b"),
        ("a in (y,x)", "a in (x,y)"),
        ("a notin (x)", "a notin (x)"),
        ("a", "a"),
        ("!a", "!a"),
        ("  b = 1 ,  a  ", "a,b=1"),
        ("x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()"),
        ("a=", "a="),
        ("in in (in,notin)", "in in (in,notin)"),
        ("example.com/app=web", "example.com/app=web"),
        ("n>3,m<7", "m<7,n>3"),
    ],
)
def test_parse_round_trips_to_upstream_string(text: str, canonical: str) -> None:
    assert str(parse_label_selector(text)) == canonical


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("", {}, True),
        ("app=web", {"app": "web"}, True),
        ("app=web", {"app": "db"}, False),
        ("app=web", {}, False),
        ("app!=web", {}, True),
        ("app!=web", {"app": "web"}, False),
        ("tier in (fe,be)", {"tier": "be"}, True),
        ("tier in (fe,be)", {}, False),
        ("tier notin (fe)", {}, True),
        ("tier notin (fe)", {"tier": "fe"}, False),
        ("app", {"app": ""}, True),
        ("!app", {"app": ""}, False),
        ("!app", {"other": "x"}, True),
        ("app=web,tier=fe", {"app": "web", "tier": "fe"}, True),
        ("app=web,tier=fe", {"app": "web"}, False),
        ("a=", {"a": ""}, True),
        ("n>3", {"n": "4"}, True),
        ("n>3", {"n": "3"}, False),
        ("n<3", {"n": "x"}, False),
    ],
)
def test_label_matching(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_label_selector(text).matches(labels) is expected


def test_empty_and_exact_match() -> None:
    assert parse_label_selector("").empty
    assert not parse_label_selector("a").empty
    assert parse_label_selector("a=b,c in (d)").requires_exact_match("c") == "d"
    assert parse_label_selector("a!=b").requires_exact_match("a") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a=b!", "found '!', expected: ',' or 'end of string'"),
        (",a", "found ',', expected: !, identifier, or 'end of string'"),
        ("a,", "found '', expected: identifier after ','"),
        ("a in b", "unable to parse requirement: found 'b' expected: '('"),
        ("a=(b", "unable to parse requirement: found '(', expected: identifier"),
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("a in (b c)", "unable to parse requirement: found 'c', expected: ',' or ')'"),
    ],
)
def test_syntax_errors(text: str, message: str) -> None:
    assert bad(parse_label_selector, text) == message


def test_invalid_key_message_is_upstreams() -> None:
    message = bad(parse_label_selector, "Foo_=x")
    assert message.startswith(
        'unable to parse requirement: <nil>: Invalid value: "Foo_": name part must consist'
    )
    assert "regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]'" in message
    assert "(e.g. 'MyName',  or 'my.name',  or '123-abc', " in message


def test_invalid_prefix_and_too_many_slashes() -> None:
    assert "prefix part a lowercase RFC 1123 subdomain" in bad(parse_label_selector, "Ex.com/a=b")
    assert "a qualified name must consist" in bad(parse_label_selector, "a/b/c")


def test_invalid_value_message_is_upstreams() -> None:
    message = bad(parse_label_selector, "app=bad-")
    assert message.startswith(
        'unable to parse requirement: values[0][app]: Invalid value: "bad-": a valid label'
    )
    long_value = "x" * 64
    assert "must be no more than 63 characters" in bad(parse_label_selector, f"app={long_value}")


def test_numeric_operator_needs_integer() -> None:
    message = bad(parse_label_selector, "n>x")
    assert message == (
        "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, "
        "the value must be an integer"
    )


# --- metav1.LabelSelector objects ---------------------------------------------------------------------


def test_selector_from_dict() -> None:
    sel = label_selector_from_dict(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["fe", "be"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "zone", "operator": "Exists"},
                {"key": "env", "operator": "NotIn", "values": ["dev"]},
            ],
        }
    )
    assert str(sel) == "app=web,!canary,env notin (dev),tier in (be,fe),zone"
    assert sel.matches({"app": "web", "tier": "fe", "zone": "a"})
    assert not sel.matches({"app": "web", "tier": "fe", "zone": "a", "canary": "1"})


def test_nil_selects_nothing_and_empty_selects_everything() -> None:
    assert not label_selector_from_dict(None).matches({})
    assert not label_selector_from_dict(None).empty
    assert label_selector_from_dict({}).matches({"a": "b"})
    assert label_selector_from_dict({}).empty
    assert format_label_selector(None) == "<none>"
    assert format_label_selector({}) == "<none>"
    assert format_label_selector({"matchLabels": {"b": "2", "a": "1"}}) == "a=1,b=2"
    assert format_label_selector({"matchExpressions": [{"key": "a", "operator": "Bogus"}]}) == "<error>"


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        (
            {"matchExpressions": [{"key": "a", "operator": "Bogus"}]},
            '"Bogus" is not a valid label selector operator',
        ),
        (
            {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]},
            "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty",
        ),
        (
            {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
            'values: Invalid value: ["x"]: values set must be empty for exists and does not exist',
        ),
    ],
)
def test_invalid_dict_selectors(selector: dict, message: str) -> None:
    with pytest.raises(InvalidSelectorError) as caught:
        label_selector_from_dict(selector)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


def test_invalid_dict_key() -> None:
    with pytest.raises(InvalidSelectorError, match=r'^key: Invalid value: "-a": name part must consist'):
        label_selector_from_dict({"matchLabels": {"-a": "b"}})


def test_selector_from_set() -> None:
    sel = label_selector_from_set({"b": "2", "a": "1"})
    assert str(sel) == "a=1,b=2"
    assert sel.matches({"a": "1", "b": "2", "c": "3"})
    assert label_selector_from_set({}).matches({})


# --- field selectors ----------------------------------------------------------------------------------


def test_field_selector_parse_and_match() -> None:
    sel = parse_field_selector("status.phase!=Running,metadata.name==web,spec.nodeName=n1")
    assert [(r.field, r.operator, r.value) for r in sel.requirements] == [
        ("metadata.name", "==", "web"),
        ("spec.nodeName", "=", "n1"),
        ("status.phase", "!=", "Running"),
    ]
    assert sel.matches({"metadata.name": "web", "spec.nodeName": "n1", "status.phase": "Pending"})
    assert not sel.matches({"metadata.name": "web", "spec.nodeName": "n1", "status.phase": "Running"})
    assert parse_field_selector("").empty
    assert parse_field_selector("a=").matches({})
    assert parse_field_selector("metadata.name=x").requires_exact_match("metadata.name") == "x"


def test_field_selector_escapes() -> None:
    sel = parse_field_selector(r"metadata.name=a\,b\=c\\d")
    assert sel.requirements[0].value == "a,b=c\\d"
    assert str(sel) == r"metadata.name=a\,b\=c\\d"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("foo", "invalid selector: 'foo'; can't understand 'foo'"),
        ("a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"),
        (r"a=b\x", "invalid field selector: invalid escape sequence: \\x"),
        ("a=b\\", "invalid field selector: invalid escape sequence: \\"),
        ("a=b=c", "invalid field selector: unescaped character in value: 61"),
    ],
)
def test_field_selector_errors(text: str, message: str) -> None:
    assert bad(parse_field_selector, text) == message


@pytest.mark.parametrize(
    ("group", "kind", "label", "message"),
    [
        ("", "Pod", "spec.foo", "field label not supported: spec.foo"),
        ("", "Node", "metadata.namespace", "field label not supported: metadata.namespace"),
        ("batch", "Job", "status.failed", 'field label "status.failed" not supported for Job'),
        (
            "apps",
            "Deployment",
            "spec.replicas",
            '"spec.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"',
        ),
    ],
)
def test_unknown_field_labels_are_rejected(group: str, kind: str, label: str, message: str) -> None:
    assert bad(validate_field_selector, info(group, kind), parse_field_selector(f"{label}=x")) == message


def test_validate_converts_aliases() -> None:
    pods = validate_field_selector(info("", "Pod"), parse_field_selector("spec.host=n1"))
    assert str(pods) == "spec.nodeName=n1"
    events = validate_field_selector(
        info("events.k8s.io", "Event"), parse_field_selector("regarding.name=web,reportingController=kubelet")
    )
    assert [r.field for r in events.requirements] == ["involvedObject.name", "reportingComponent"]


def test_pod_fields() -> None:
    pod = {
        "metadata": {"name": "web-1", "namespace": "prod"},
        "spec": {
            "nodeName": "n1",
            "restartPolicy": "Always",
            "schedulerName": "default-scheduler",
            "serviceAccountName": "default",
        },
        "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.5"}], "podIP": "10.0.0.5"},
    }
    fields = object_fields(info("", "Pod"), pod)
    assert fields["metadata.name"] == "web-1"
    assert fields["metadata.namespace"] == "prod"
    assert fields["spec.nodeName"] == "n1"
    assert fields["spec.hostNetwork"] == "false"
    assert fields["status.podIP"] == "10.0.0.5"
    assert fields["status.nominatedNodeName"] == ""
    sel = validate_field_selector(
        info("", "Pod"), parse_field_selector("status.phase=Running,spec.nodeName=n1")
    )
    assert sel.matches(fields)


def test_event_fields_core_and_events_v1() -> None:
    core = {
        "metadata": {"name": "e1", "namespace": "prod"},
        "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "prod", "uid": "u1"},
        "reason": "Started",
        "source": {"component": "kubelet"},
        "type": "Normal",
    }
    fields = object_fields(info("", "Event"), core)
    assert fields["involvedObject.uid"] == "u1"
    assert fields["source"] == "kubelet"
    assert fields["reportingComponent"] == ""
    v1 = {
        "metadata": {"name": "e1", "namespace": "prod"},
        "regarding": {"kind": "Pod", "name": "web-1"},
        "reportingController": "kubelet",
        "reason": "Started",
        "type": "Normal",
    }
    fields = object_fields(info("events.k8s.io", "Event"), v1)
    assert fields["involvedObject.name"] == "web-1"
    assert fields["regarding.name"] == "web-1"
    assert fields["source"] == "kubelet"
    raw = parse_field_selector("regarding.kind=Pod,type=Normal")
    assert raw.matches(fields)
    assert validate_field_selector(info("events.k8s.io", "Event"), raw).matches(fields)


def test_specific_fields_of_other_types() -> None:
    assert object_fields(info("", "Node"), {"metadata": {"name": "n1"}, "spec": {"unschedulable": True}}) == {
        "metadata.name": "n1",
        "metadata.namespace": "",
        "spec.unschedulable": "true",
    }
    secret = object_fields(info("", "Secret"), {"metadata": {"name": "s"}, "type": "Opaque"})
    assert secret["type"] == "Opaque"
    assert (
        object_fields(info("", "Namespace"), {"metadata": {"name": "a"}, "status": {"phase": "Active"}})[
            "status.phase"
        ]
        == "Active"
    )
    assert (
        object_fields(info("batch", "Job"), {"metadata": {"name": "j"}, "status": {"succeeded": 2}})[
            "status.successful"
        ]
        == "2"
    )
    assert (
        object_fields(info("", "ReplicationController"), {"metadata": {"name": "r"}})["status.replicas"]
        == "0"
    )
    svc = object_fields(info("", "Service"), {"metadata": {"name": "s"}, "spec": {"clusterIP": "10.96.0.1"}})
    assert svc["spec.clusterIP"] == "10.96.0.1"
    assert svc["spec.type"] == ""


def test_custom_resource_selectable_fields() -> None:
    crd = ResourceInfo("example.com", "v1", "Widget", "widgets", "widget", namespaced=False, custom=True)
    obj = {"metadata": {"name": "w"}, "spec": {"color": "red", "size": 3}}
    fields = object_fields(crd, obj, selectable_fields=[".spec.color", ".spec.size"])
    assert fields["spec.color"] == "red"
    assert fields["spec.size"] == "3"
    sel = validate_field_selector(
        crd, parse_field_selector("spec.color=red"), selectable_fields=[".spec.color"]
    )
    assert sel.matches(fields)
    assert bad(validate_field_selector, crd, parse_field_selector("metadata.namespace=x")) == (
        "field label not supported: metadata.namespace"
    )


def test_selector_keys_use_the_shared_name_validators() -> None:
    """One copy of ``IsQualifiedName``: the selector and metadata validation give the same messages,
    and an empty name part also fails the regex, as upstream reports both."""
    errs = is_qualified_name("example.com/")
    assert errs[0] == "name part must be non-empty"
    assert errs[1].startswith("name part must consist of alphanumeric characters")
    message = bad(parse_label_selector, "example.com/=x")
    assert message.startswith("unable to parse requirement: ")
    assert all(e in message for e in errs)
