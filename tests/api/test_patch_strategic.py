"""Strategic merge patch: upstream strategicpatch semantics over OpenAPI patch metadata."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api.errors import StatusError
from kybernetes.api.patch import apply_strategic_merge_patch, strategic_supported

DEPLOYMENT = "io.k8s.api.apps.v1.Deployment"
POD = "io.k8s.api.core.v1.Pod"

ITEM: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "nested": {
            "type": "array",
            "items": {"type": "object"},
            "x-kubernetes-patch-strategy": "merge",
            "x-kubernetes-patch-merge-key": "name",
        },
        "plain": {"type": "array", "items": {"type": "string"}},
    },
}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "mergingList": {
            "type": "array",
            "items": ITEM,
            "x-kubernetes-patch-strategy": "merge",
            "x-kubernetes-patch-merge-key": "name",
        },
        "mergingIntList": {
            "type": "array",
            "items": {"type": "integer"},
            "x-kubernetes-patch-strategy": "merge",
        },
        "nonMergingList": {"type": "array", "items": {"type": "object"}},
        "retainKeysMap": {"type": "object", "x-kubernetes-patch-strategy": "retainKeys"},
        "replaceMap": {"type": "object", "x-kubernetes-patch-strategy": "replace"},
        "map": {"type": "object"},
    },
}


def smp(obj: dict[str, Any], patch: dict[str, Any], schema: Any = SCHEMA) -> dict[str, Any]:
    before_obj, before_patch = copy.deepcopy(obj), copy.deepcopy(patch)
    out = apply_strategic_merge_patch(obj, patch, schema)
    assert obj == before_obj and patch == before_patch, "inputs must not be modified"
    return out


def names(items: list[dict[str, Any]]) -> list[Any]:
    return [i["name"] for i in items]


class TestMaps:
    def test_recursive_merge_and_null_deletes(self) -> None:
        out = smp({"map": {"a": 1, "b": {"c": 1, "d": 2}}}, {"map": {"a": None, "b": {"d": 3}, "e": 5}})
        assert out == {"map": {"b": {"c": 1, "d": 3}, "e": 5}}

    def test_null_for_missing_key_is_ignored(self) -> None:
        assert smp({"map": {}}, {"map": {"x": None}, "new": {"a": None, "b": 1}}) == {
            "map": {},
            "new": {"b": 1},
        }

    def test_patch_replace_directive_in_map(self) -> None:
        out = smp({"map": {"a": 1, "b": 2}}, {"map": {"$patch": "replace", "c": 3}})
        assert out == {"map": {"c": 3}}

    def test_patch_delete_directive_in_map(self) -> None:
        assert smp({"map": {"a": 1}, "x": 1}, {"map": {"$patch": "delete"}}) == {"map": {}, "x": 1}

    def test_top_level_replace(self) -> None:
        assert smp({"a": 1, "b": 2}, {"$patch": "replace", "c": 1}) == {"c": 1}

    def test_patch_merge_directive_in_map_is_rejected_like_upstream(self) -> None:
        with pytest.raises(StatusError) as err:
            smp({"map": {"a": 1}}, {"map": {"$patch": "merge"}})
        assert err.value.code == 422
        assert "unknown patch type: merge" in err.value.message

    def test_replace_strategy_field(self) -> None:
        assert smp({"replaceMap": {"a": 1}}, {"replaceMap": {"b": 2}}) == {"replaceMap": {"b": 2}}

    def test_new_value_has_directives_removed(self) -> None:
        out = smp({}, {"map": {"a": {"$patch": "delete"}, "b": [{"$patch": "replace"}, {"name": "x"}]}})
        assert out == {"map": {"b": [{"name": "x"}]}}

    def test_type_change_replaces(self) -> None:
        assert smp({"map": {"a": [1]}}, {"map": {"a": {"b": 1}}}) == {"map": {"a": {"b": 1}}}


class TestMergingLists:
    def test_merge_by_key_keeps_other_fields(self) -> None:
        out = smp(
            {"mergingList": [{"name": "a", "v": 1, "keep": True}, {"name": "b"}]},
            {"mergingList": [{"name": "a", "v": 2}]},
        )
        assert out == {"mergingList": [{"name": "a", "v": 2, "keep": True}, {"name": "b"}]}

    def test_new_items_go_first_without_set_element_order(self) -> None:
        out = smp({"mergingList": [{"name": "a"}]}, {"mergingList": [{"name": "b"}]})
        assert names(out["mergingList"]) == ["b", "a"]

    def test_delete_item_directive(self) -> None:
        out = smp(
            {"mergingList": [{"name": "a"}, {"name": "b"}, {"name": "a", "dup": 1}]},
            {"mergingList": [{"name": "a", "$patch": "delete"}, {"name": "c"}]},
        )
        assert names(out["mergingList"]) == ["c", "b"]

    def test_delete_missing_item_is_noop(self) -> None:
        out = smp({"mergingList": [{"name": "a"}]}, {"mergingList": [{"name": "zz", "$patch": "delete"}]})
        assert out == {"mergingList": [{"name": "a"}]}

    def test_replace_list_directive(self) -> None:
        out = smp(
            {"mergingList": [{"name": "a", "x": 1}, {"name": "b"}]},
            {"mergingList": [{"$patch": "replace"}, {"name": "c"}]},
        )
        assert out == {"mergingList": [{"name": "c"}]}

    def test_merge_list_directive_rejected(self) -> None:
        with pytest.raises(StatusError) as err:
            smp({"mergingList": [{"name": "a"}]}, {"mergingList": [{"$patch": "merge"}]})
        assert err.value.code == 422

    def test_missing_merge_key(self) -> None:
        with pytest.raises(StatusError) as err:
            smp({"mergingList": [{"name": "a"}]}, {"mergingList": [{"value": 1}]})
        assert err.value.code == 422
        assert "does not contain declared merge key: name" in err.value.message

    def test_nested_merging_list(self) -> None:
        out = smp(
            {
                "mergingList": [
                    {"name": "a", "nested": [{"name": "x", "v": 1}, {"name": "y"}], "plain": ["p"]}
                ]
            },
            {"mergingList": [{"name": "a", "nested": [{"name": "x", "v": 2}], "plain": ["q"]}]},
        )
        assert out == {
            "mergingList": [{"name": "a", "nested": [{"name": "x", "v": 2}, {"name": "y"}], "plain": ["q"]}]
        }

    def test_nested_item_field_deleted_with_null(self) -> None:
        out = smp(
            {"mergingList": [{"name": "a", "v": 1, "w": 2}]}, {"mergingList": [{"name": "a", "v": None}]}
        )
        assert out == {"mergingList": [{"name": "a", "w": 2}]}

    def test_non_merging_list_replaced(self) -> None:
        out = smp({"nonMergingList": [{"name": "a"}, {"name": "b"}]}, {"nonMergingList": [{"name": "c"}]})
        assert out == {"nonMergingList": [{"name": "c"}]}

    def test_list_of_lists(self) -> None:
        with pytest.raises(StatusError) as err:
            smp({"mergingIntList": [[1]]}, {"mergingIntList": [[2]]})
        assert err.value.code == 422
        assert err.value.message == "the server rejected our request due to an error in our request"

    def test_mixed_element_types(self) -> None:
        with pytest.raises(StatusError) as err:
            smp({"mergingIntList": [1]}, {"mergingIntList": ["a"]})
        assert err.value.code == 422


class TestPrimitiveLists:
    def test_union(self) -> None:
        assert smp({"mergingIntList": [1, 2]}, {"mergingIntList": [2, 3]}) == {"mergingIntList": [1, 2, 3]}

    def test_new_scalars_before_later_live_ones(self) -> None:
        assert smp({"mergingIntList": [1, 2]}, {"mergingIntList": [3, 2]}) == {"mergingIntList": [3, 1, 2]}

    def test_delete_from_primitive_list(self) -> None:
        out = smp({"mergingIntList": [1, 2, 3, 2]}, {"$deleteFromPrimitiveList/mergingIntList": [2, 9]})
        assert out == {"mergingIntList": [1, 3]}

    def test_delete_from_missing_list_adds_nothing(self) -> None:
        assert smp({}, {"$deleteFromPrimitiveList/mergingIntList": [1]}) == {}

    def test_delete_from_list_without_merge_strategy(self) -> None:
        out = smp({"nonMergingList": ["a", "b"]}, {"$deleteFromPrimitiveList/nonMergingList": ["a"]})
        assert out == {"nonMergingList": ["b"]}

    def test_bad_prefix(self) -> None:
        with pytest.raises(StatusError) as err:
            smp({"mergingIntList": [1]}, {"$deleteFromPrimitiveList": [1]})
        assert err.value.code == 400
        assert err.value.message == "invalid patch format of primitive list"


class TestSetElementOrder:
    def test_order_follows_directive_with_server_only_items(self) -> None:
        live = {
            "mergingList": [
                {"name": 1, "other": "a"},
                {"name": 2, "value": 2},
                {"name": 7},
                {"name": 9},
                {"name": 8},
                {"name": 3, "value": 3},
                {"name": 4, "value": 4},
            ]
        }
        patch = {"$setElementOrder/mergingList": [{"name": 2}, {"name": 1}, {"name": 4}, {"name": 3}]}
        assert names(smp(live, patch)["mergingList"]) == [2, 1, 7, 9, 8, 4, 3]

    def test_new_items_placed_by_order(self) -> None:
        live = {"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}]}
        patch = {
            "$setElementOrder/mergingList": [{"name": 4}, {"name": 1}, {"name": 2}, {"name": 3}],
            "mergingList": [{"name": 4, "value": 4}, {"name": 3, "value": 3}],
        }
        out = smp(live, patch)["mergingList"]
        assert out == [
            {"name": 4, "value": 4},
            {"name": 1, "other": "a"},
            {"name": 2, "value": 2, "other": "b"},
            {"name": 3, "value": 3},
        ]

    def test_int_list(self) -> None:
        out = smp(
            {"mergingIntList": [1, 2, 4]},
            {"$setElementOrder/mergingIntList": [1, 2, 3], "mergingIntList": [3]},
        )
        assert out == {"mergingIntList": [1, 2, 3, 4]}

    def test_patch_order_must_match(self) -> None:
        with pytest.raises(StatusError) as err:
            smp(
                {"mergingList": [{"name": "a"}]},
                {"$setElementOrder/mergingList": [{"name": "a"}], "mergingList": [{"name": "b"}]},
            )
        assert err.value.code == 422
        assert "doesn't match $setElementOrder list" in err.value.message

    def test_not_a_list(self) -> None:
        with pytest.raises(StatusError):
            smp({"mergingList": [{"name": "a"}]}, {"$setElementOrder/mergingList": "x"})


class TestRetainKeys:
    def test_clears_unlisted_keys(self) -> None:
        out = smp(
            {"retainKeysMap": {"name": "type1", "value": "foo"}},
            {"retainKeysMap": {"$retainKeys": ["name", "other"], "name": "type2", "other": "bar"}},
        )
        assert out == {"retainKeysMap": {"name": "type2", "other": "bar"}}

    def test_patch_keys_must_be_retained(self) -> None:
        with pytest.raises(StatusError) as err:
            smp({"retainKeysMap": {}}, {"retainKeysMap": {"$retainKeys": ["a"], "b": 1}})
        assert err.value.code == 400
        assert err.value.message == "invalid patch format of retainKeys"

    def test_not_a_list(self) -> None:
        with pytest.raises(StatusError) as err:
            smp({"retainKeysMap": {}}, {"retainKeysMap": {"$retainKeys": "a"}})
        assert err.value.code == 400

    def test_deployment_strategy(self) -> None:
        live = deployment()
        patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": None}}}
        assert smp(live, patch, DEPLOYMENT)["spec"]["strategy"] == {"type": "Recreate"}

    def test_volumes_merge_and_retain_keys(self) -> None:
        live = {"spec": {"volumes": [{"name": "v", "emptyDir": {}}, {"name": "w", "emptyDir": {}}]}}
        patch = {
            "spec": {
                "$setElementOrder/volumes": [{"name": "v"}, {"name": "w"}],
                "volumes": [{"$retainKeys": ["configMap", "name"], "configMap": {"name": "cm"}, "name": "v"}],
            }
        }
        out = smp(live, patch, POD)
        assert out["spec"]["volumes"] == [
            {"name": "v", "configMap": {"name": "cm"}},
            {"name": "w", "emptyDir": {}},
        ]


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "labels": {"app": "web"},
            "finalizers": ["a", "b"],
            "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "o", "uid": "u1"}],
        },
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "nginx:1.25",
                            "imagePullPolicy": "IfNotPresent",
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                            "resources": {},
                        },
                        {"name": "side", "image": "busybox"},
                    ],
                    "restartPolicy": "Always",
                },
            },
        },
    }


class TestKubernetesTypes:
    def test_kubectl_apply_image_change(self) -> None:
        patch = {
            "spec": {
                "template": {
                    "spec": {
                        "$setElementOrder/containers": [{"name": "web"}],
                        "containers": [{"image": "nginx:1.26", "name": "web"}],
                    }
                }
            }
        }
        out = smp(deployment(), patch, DEPLOYMENT)
        expected = deployment()
        expected["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
        assert out == expected

    def test_kubectl_apply_removes_container_and_env(self) -> None:
        patch = {
            "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "spec": {
                "replicas": 2,
                "template": {
                    "spec": {
                        "$setElementOrder/containers": [{"name": "web"}],
                        "containers": [
                            {
                                "$setElementOrder/env": [{"name": "B"}],
                                "env": [{"$patch": "delete", "name": "A"}],
                                "name": "web",
                            },
                            {"$patch": "delete", "name": "side"},
                        ],
                    }
                },
            },
        }
        out = smp(deployment(), patch, DEPLOYMENT)
        containers = out["spec"]["template"]["spec"]["containers"]
        assert names(containers) == ["web"]
        assert containers[0]["env"] == [{"name": "B", "value": "2"}]
        assert containers[0]["image"] == "nginx:1.25"
        assert out["spec"]["replicas"] == 2
        assert out["metadata"]["annotations"] == {"kubectl.kubernetes.io/last-applied-configuration": "{}"}

    def test_ports_merge_by_container_port(self) -> None:
        patch = {
            "spec": {
                "template": {"spec": {"containers": [{"name": "web", "ports": [{"containerPort": 443}]}]}}
            }
        }
        out = smp(deployment(), patch, DEPLOYMENT)
        ports = out["spec"]["template"]["spec"]["containers"][0]["ports"]
        assert ports == [{"containerPort": 443}, {"containerPort": 80, "protocol": "TCP"}]

    def test_metadata_lists(self) -> None:
        patch = {
            "metadata": {
                "finalizers": ["c", "a"],
                "ownerReferences": [{"uid": "u1", "controller": True}, {"uid": "u2", "name": "p"}],
                "labels": {"app": None, "x": "y"},
            }
        }
        out = smp(deployment(), patch, DEPLOYMENT)["metadata"]
        assert sorted(out["finalizers"]) == ["a", "b", "c"]
        assert {o["uid"]: o for o in out["ownerReferences"]}["u1"]["controller"] is True
        assert {o["uid"] for o in out["ownerReferences"]} == {"u1", "u2"}
        assert out["labels"] == {"x": "y"}

    def test_delete_finalizer(self) -> None:
        out = smp(deployment(), {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}, DEPLOYMENT)
        assert out["metadata"]["finalizers"] == ["b"]

    def test_conditions_merge_by_type(self) -> None:
        live = {
            "status": {
                "conditions": [{"type": "Ready", "status": "False"}, {"type": "Init", "status": "True"}]
            }
        }
        out = smp(live, {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}, POD)
        assert out["status"]["conditions"] == [
            {"type": "Ready", "status": "True"},
            {"type": "Init", "status": "True"},
        ]

    def test_atomic_list_replaced(self) -> None:
        live = {"spec": {"containers": [{"name": "c", "args": ["a", "b"]}]}}
        out = smp(live, {"spec": {"containers": [{"name": "c", "args": ["z"]}]}}, POD)
        assert out["spec"]["containers"][0]["args"] == ["z"]

    def test_unknown_fields_merge_as_maps(self) -> None:
        out = smp({"spec": {"custom": {"a": 1}}}, {"spec": {"custom": {"b": 2}}}, POD)
        assert out == {"spec": {"custom": {"a": 1, "b": 2}}}

    def test_custom_resources_without_schema(self) -> None:
        assert not strategic_supported(None)
        assert not strategic_supported("com.example.v1.Thing")
        assert strategic_supported(DEPLOYMENT)
        out = smp({"spec": {"items": [1, 2], "m": {"a": 1}}}, {"spec": {"items": [3], "m": {"b": 1}}}, None)
        assert out == {"spec": {"items": [3], "m": {"a": 1, "b": 1}}}

    def test_bad_documents(self) -> None:
        with pytest.raises(StatusError) as err:
            apply_strategic_merge_patch({}, [1], POD)  # type: ignore[arg-type]
        assert err.value.code == 400
