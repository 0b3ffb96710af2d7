"""Property tests: any patch against a Pod or Deployment yields a dict or a ``StatusError``."""

from __future__ import annotations

import copy
import os
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kybernetes.api.errors import StatusError
from kybernetes.api.patch import (
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    apply_patch,
    apply_strategic_merge_patch,
    server_side_apply,
    update_managed_fields,
)

POD = "io.k8s.api.core.v1.Pod"
DEPLOYMENT = "io.k8s.api.apps.v1.Deployment"

CONTAINER = {
    "name": "web",
    "image": "nginx",
    "ports": [{"containerPort": 80, "protocol": "TCP"}],
    "env": [{"name": "A", "value": "1"}],
    "args": ["a"],
}
POD_OBJ = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p", "labels": {"app": "web"}, "finalizers": ["f"]},
    "spec": {
        "containers": [CONTAINER, {"name": "side", "image": "busybox"}],
        "volumes": [{"name": "v", "emptyDir": {}}],
    },
    "status": {"conditions": [{"type": "Ready", "status": "True"}]},
}
DEPLOYMENT_OBJ = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "d", "labels": {"app": "web"}},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "web"}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [CONTAINER]}},
    },
}
TARGETS = [(POD, POD_OBJ), (DEPLOYMENT, DEPLOYMENT_OBJ)]

KEYS = st.sampled_from(
    [
        "metadata", "spec", "status", "labels", "finalizers", "containers", "name", "image", "ports",
        "containerPort", "protocol", "env", "value", "args", "volumes", "emptyDir", "conditions", "type",
        "template", "replicas", "strategy", "rollingUpdate", "selector", "matchLabels", "app", "x",
        "$patch", "$retainKeys", "$setElementOrder/containers", "$setElementOrder/env", "$setElementOrder/finalizers",
        "$deleteFromPrimitiveList/finalizers", "$deleteFromPrimitiveList/args", "$deleteFromPrimitiveList",
        "$setElementOrder",
    ]
)  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 100),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(["web", "side", "replace", "delete", "merge", "TCP", "A", "f", "v", ""]),
)
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=25,
)
DOCS = st.dictionaries(KEYS, JSON, max_size=5)

POINTER_PARTS = st.sampled_from(
    ["metadata", "spec", "labels", "containers", "0", "1", "-", "image", "name", "x", "~1"]
)
POINTERS = st.lists(POINTER_PARTS, max_size=5).map(lambda parts: "".join("/" + p for p in parts))
OPS = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "bogus"]), "path": POINTERS},
    optional={"value": JSON, "from": POINTERS},
)
FUZZ = settings(
    max_examples=int(os.environ.get("PATCH_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def check(result: Any, original: dict[str, Any], before: dict[str, Any]) -> None:
    assert isinstance(result, dict)
    assert original == before, "input object must not be modified"
    orjson.dumps(result)


@FUZZ
@given(st.sampled_from(TARGETS), st.lists(OPS, max_size=6))
def test_json_patch(target: tuple[str, dict[str, Any]], ops: list[dict[str, Any]]) -> None:
    schema, obj = target
    before = copy.deepcopy(obj)
    try:
        check(apply_patch(obj, JSON_PATCH, orjson.dumps(ops), schema), obj, before)
    except StatusError as err:
        assert err.code in (400, 413, 422)


@FUZZ
@given(st.sampled_from(TARGETS), JSON)
def test_merge_patch(target: tuple[str, dict[str, Any]], patch: Any) -> None:
    schema, obj = target
    before = copy.deepcopy(obj)
    try:
        check(apply_patch(obj, MERGE_PATCH, orjson.dumps(patch), schema), obj, before)
    except StatusError as err:
        assert err.code in (400, 422)


@FUZZ
@given(st.sampled_from(TARGETS), DOCS)
def test_strategic_merge_patch(target: tuple[str, dict[str, Any]], patch: dict[str, Any]) -> None:
    schema, obj = target
    before = copy.deepcopy(obj)
    try:
        check(apply_patch(obj, STRATEGIC_MERGE_PATCH, orjson.dumps(patch), schema), obj, before)
    except StatusError as err:
        assert err.code in (400, 422)


def _shaped(patch: dict[str, Any]) -> dict[str, Any]:
    """Nest a random document where strategic directives matter (pod spec, containers, metadata)."""
    return {
        "metadata": {"finalizers": ["g"], **{k: v for k, v in patch.items() if k.startswith("$")}},
        "spec": {"containers": [{"name": "web", **patch}], **patch},
    }


@FUZZ
@given(DOCS, JSON)
def test_strategic_merge_patch_nested(patch: dict[str, Any], obj_noise: Any) -> None:
    obj = copy.deepcopy(POD_OBJ)
    obj["spec"]["noise"] = obj_noise
    before = copy.deepcopy(obj)
    try:
        check(apply_strategic_merge_patch(obj, _shaped(patch), POD), obj, before)
    except StatusError as err:
        assert err.code in (400, 422)


@FUZZ
@given(st.sampled_from(TARGETS), DOCS, st.booleans())
def test_server_side_apply(target: tuple[str, dict[str, Any]], doc: dict[str, Any], force: bool) -> None:
    schema, obj = target
    live = update_managed_fields(None, obj, manager="creator", now="2024-01-01T00:00:00Z", schema_name=schema)
    cfg = {"apiVersion": obj["apiVersion"], "kind": obj["kind"], **doc}
    before = copy.deepcopy(live)
    try:
        out = server_side_apply(
            live, cfg, manager="fuzz", force=force, schema_name=schema, now="2024-01-02T00:00:00Z"
        )
    except StatusError as err:
        assert err.code in (400, 409, 422)
        return
    check(out, live, before)
    update_managed_fields(out, obj, manager="writer", now="2024-01-03T00:00:00Z", schema_name=schema)


@FUZZ
@given(st.sampled_from(TARGETS), DOCS)
def test_update_managed_fields_never_fails(target: tuple[str, dict[str, Any]], doc: dict[str, Any]) -> None:
    schema, obj = target
    live = update_managed_fields(None, obj, manager="creator", now="2024-01-01T00:00:00Z", schema_name=schema)
    new = {**copy.deepcopy(live), **doc}
    out = update_managed_fields(live, new, manager="w", now="2024-01-02T00:00:00Z", schema_name=schema)
    assert isinstance(out, dict)
    orjson.dumps(out)
