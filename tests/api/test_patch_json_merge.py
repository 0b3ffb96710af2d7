"""JSON patch, merge patch and the content-type dispatcher of ``kybernetes.api.patch``."""

from __future__ import annotations

import copy

import orjson
import pytest

from kybernetes.api.errors import StatusError
from kybernetes.api.patch import (
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    apply_json_patch,
    apply_merge_patch,
    apply_patch,
    supported_patch_types,
)

POD = "io.k8s.api.core.v1.Pod"


def pod() -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "labels": {"app": "web", "tier": "fe"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }


class TestJsonPatch:
    def test_operations(self) -> None:
        obj = pod()
        out = apply_json_patch(
            obj,
            [
                {"op": "replace", "path": "/spec/containers/0/image", "value": "nginx:2"},
                {"op": "add", "path": "/metadata/labels/new", "value": "x"},
                {"op": "remove", "path": "/metadata/labels/tier"},
                {"op": "test", "path": "/metadata/name", "value": "p"},
                {"op": "copy", "from": "/metadata/name", "path": "/metadata/generateName"},
                {"op": "move", "from": "/metadata/generateName", "path": "/metadata/annotations"},
                {"op": "add", "path": "/spec/containers/-", "value": {"name": "d", "image": "busybox"}},
            ],
        )
        assert out["spec"]["containers"][0]["image"] == "nginx:2"
        assert out["metadata"]["labels"] == {"app": "web", "new": "x"}
        assert out["metadata"]["annotations"] == "p"
        assert [c["name"] for c in out["spec"]["containers"]] == ["c", "d"]
        assert obj == pod(), "input must not be modified"

    @pytest.mark.parametrize(
        "ops",
        [
            [{"op": "test", "path": "/metadata/name", "value": "other"}],
            [{"op": "replace", "path": "/metadata/missing", "value": 1}],
            [{"op": "remove", "path": "/spec/nothing"}],
            [{"op": "add", "path": "/a/b/c", "value": 1}],
            [{"op": "bogus", "path": "/metadata"}],
            [{"path": "/metadata"}],
            [{"op": "add", "value": 1}],
            [{"op": "replace", "path": "", "value": [1, 2]}],
            [{"op": "add", "path": 5, "value": 1}],
        ],
    )
    def test_failures_are_422(self, ops: list) -> None:
        with pytest.raises(StatusError) as err:
            apply_json_patch(pod(), ops)
        assert err.value.code == 422
        assert err.value.reason == "Invalid"
        assert err.value.message == "the server rejected our request due to an error in our request"

    @pytest.mark.parametrize("doc", [{"op": "add"}, [1], ["x"], "str", 3])
    def test_bad_documents_are_400(self, doc: object) -> None:
        with pytest.raises(StatusError) as err:
            apply_json_patch(pod(), doc)  # type: ignore[arg-type]
        assert err.value.code == 400
        assert err.value.reason == "BadRequest"

    def test_null_and_empty_documents_are_noops(self) -> None:
        assert apply_json_patch(pod(), None) == pod()  # type: ignore[arg-type]
        assert apply_json_patch(pod(), []) == pod()

    def test_too_many_operations(self) -> None:
        ops = [{"op": "test", "path": "/kind", "value": "Pod"}] * 10001
        with pytest.raises(StatusError) as err:
            apply_json_patch(pod(), ops)
        assert err.value.code == 413


class TestMergePatch:
    def test_rfc7386(self) -> None:
        obj = pod()
        out = apply_merge_patch(
            obj,
            {
                "metadata": {"labels": {"tier": None, "new": "x"}, "annotations": {"a": "b", "gone": None}},
                "spec": {"containers": [{"name": "only"}]},
            },
        )
        assert out["metadata"]["labels"] == {"app": "web", "new": "x"}
        assert out["metadata"]["annotations"] == {"a": "b"}
        assert out["spec"]["containers"] == [{"name": "only"}], "lists are replaced"
        assert obj == pod()

    def test_replaces_scalars_with_objects_and_back(self) -> None:
        out = apply_merge_patch({"a": 1, "b": {"c": 1}}, {"a": {"x": None, "y": 2}, "b": 3})
        assert out == {"a": {"y": 2}, "b": 3}

    def test_scale_patch(self) -> None:
        out = apply_merge_patch({"spec": {"replicas": 1, "x": 1}}, {"spec": {"replicas": 3}})
        assert out == {"spec": {"replicas": 3, "x": 1}}

    @pytest.mark.parametrize("doc", [None, 1, "s", True])
    def test_scalar_documents_are_400(self, doc: object) -> None:
        with pytest.raises(StatusError) as err:
            apply_merge_patch(pod(), doc)
        assert err.value.code == 400
        assert err.value.message == "Invalid JSON Patch"

    def test_list_document_is_422(self) -> None:
        with pytest.raises(StatusError) as err:
            apply_merge_patch(pod(), [1])
        assert err.value.code == 422


class TestDispatcher:
    def test_each_type(self) -> None:
        body = orjson.dumps([{"op": "replace", "path": "/metadata/name", "value": "q"}])
        assert apply_patch(pod(), JSON_PATCH, body, POD)["metadata"]["name"] == "q"
        body = orjson.dumps({"metadata": {"labels": None}})
        assert "labels" not in apply_patch(pod(), MERGE_PATCH + "; charset=utf-8", body, POD)["metadata"]
        body = orjson.dumps({"spec": {"containers": [{"name": "d", "image": "x"}]}})
        out = apply_patch(pod(), STRATEGIC_MERGE_PATCH, body, POD)
        # Upstream puts patch items that are new ahead of the live ones when no $setElementOrder is sent.
        assert [c["name"] for c in out["spec"]["containers"]] == ["d", "c"]

    @pytest.mark.parametrize("ctype", [JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH])
    def test_unparseable_body_is_400(self, ctype: str) -> None:
        with pytest.raises(StatusError) as err:
            apply_patch(pod(), ctype, b"{not json", POD)
        assert err.value.code == 400
        assert err.value.message == "invalid JSON patch"

    def test_strategic_body_must_be_object(self) -> None:
        with pytest.raises(StatusError) as err:
            apply_patch(pod(), STRATEGIC_MERGE_PATCH, b"[1]", POD)
        assert err.value.code == 400

    @pytest.mark.parametrize("ctype", ["application/json", "text/plain", "application/apply-patch+yaml"])
    def test_unsupported_type_is_415(self, ctype: str) -> None:
        with pytest.raises(StatusError) as err:
            apply_patch(pod(), ctype, b"{}", POD)
        assert err.value.code == 415
        assert err.value.reason == "UnsupportedMediaType"
        assert "application/strategic-merge-patch+json" in err.value.message

    def test_strategic_refused_for_custom_resources(self) -> None:
        with pytest.raises(StatusError) as err:
            apply_patch({"spec": {}}, STRATEGIC_MERGE_PATCH, b"{}", None)
        assert err.value.code == 415
        assert err.value.message == (
            "the body of the request was in an unknown format - accepted media types include: "
            "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
        )
        assert supported_patch_types(None) == [JSON_PATCH, MERGE_PATCH, "application/apply-patch+yaml"]

    def test_input_untouched(self) -> None:
        obj = pod()
        before = copy.deepcopy(obj)
        apply_patch(obj, MERGE_PATCH, b'{"metadata":{"labels":{"app":null}}}', POD)
        assert obj == before
