"""Server-side apply, managedFields bookkeeping for other writes, and the FieldsV1 format."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api.errors import StatusError
from kybernetes.api.patch import server_side_apply, update_managed_fields
from kybernetes.api.patch.fieldset import from_fields_v1, object_fields, path_string, to_fields_v1

DEPLOYMENT = "io.k8s.api.apps.v1.Deployment"
T0, T1, T2, T3 = (f"2024-01-0{i}T00:00:00Z" for i in range(1, 5))


def config(image: str = "nginx:1.25", replicas: int | None = 1, **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": image, "ports": [{"containerPort": 80}]}]},
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "ns"},
        "spec": spec,
    }
    obj["metadata"].update(extra)
    return obj


def apply(
    live: dict[str, Any] | None, cfg: dict[str, Any], manager: str = "kubectl", **kw: Any
) -> dict[str, Any]:
    before = copy.deepcopy(live), copy.deepcopy(cfg)
    kw.setdefault("force", False)
    kw.setdefault("now", T1)
    out = server_side_apply(live, cfg, manager=manager, schema_name=DEPLOYMENT, **kw)
    assert (live, cfg) == before, "inputs must not be modified"
    return out


def entries(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["manager"], e["operation"]): e for e in obj["metadata"].get("managedFields", [])}


def fields(obj: dict[str, Any], manager: str, operation: str = "Apply") -> dict[str, Any]:
    return entries(obj)[(manager, operation)]["fieldsV1"]


def created_by_update(manager: str = "kubectl-client-side-apply") -> dict[str, Any]:
    obj = config()
    obj["metadata"]["uid"] = "u"
    obj["metadata"]["resourceVersion"] = "1"
    return update_managed_fields(None, obj, manager=manager, now=T0, schema_name=DEPLOYMENT)


class TestCreate:
    def test_apply_creates_with_managed_fields(self) -> None:
        out = apply(None, config())
        assert out["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
        [entry] = out["metadata"]["managedFields"]
        assert entry == {
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "time": T1,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {
                            "f:containers": {
                                'k:{"name":"web"}': {
                                    ".": {},
                                    "f:image": {},
                                    "f:name": {},
                                    "f:ports": {
                                        'k:{"containerPort":80,"protocol":"TCP"}': {
                                            ".": {},
                                            "f:containerPort": {},
                                        }
                                    },
                                }
                            }
                        },
                    },
                }
            },
        }

    def test_update_manager_on_create(self) -> None:
        obj = created_by_update()
        assert obj["metadata"]["uid"] == "u"
        [entry] = obj["metadata"]["managedFields"]
        assert (entry["manager"], entry["operation"], entry["time"]) == (
            "kubectl-client-side-apply",
            "Update",
            T0,
        )
        spec = entry["fieldsV1"]["f:spec"]
        assert spec["f:replicas"] == {} and spec["f:selector"] == {}
        assert "." not in spec and "." not in spec["f:template"]
        assert spec["f:template"]["f:metadata"]["f:labels"] == {".": {}, "f:app": {}}
        assert "." not in spec["f:template"]["f:spec"]["f:containers"]
        assert "f:metadata" not in entry["fieldsV1"] or "f:uid" not in entry["fieldsV1"]["f:metadata"]


class TestApply:
    def test_reapply_is_noop_and_keeps_time(self) -> None:
        first = apply(None, config())
        again = apply(first, config(), now=T2)
        assert again == first

    def test_change_updates_time(self) -> None:
        first = apply(None, config())
        second = apply(first, config(image="nginx:1.26"), now=T2)
        assert entries(second)[("kubectl", "Apply")]["time"] == T2
        assert second["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"

    def test_conflict_with_update_manager(self) -> None:
        live = created_by_update()
        with pytest.raises(StatusError) as err:
            apply(live, config(replicas=3))
        status = err.value.to_status()
        assert status["code"] == 409 and status["reason"] == "Conflict"
        assert status["message"] == (
            'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas'
        )
        assert status["details"]["causes"] == [
            {
                "reason": "FieldManagerConflict",
                "message": 'conflict with "kubectl-client-side-apply" using apps/v1',
                "field": ".spec.replicas",
            }
        ]

    def test_same_values_are_shared_not_conflicting(self) -> None:
        live = created_by_update()
        out = apply(live, config())
        assert "f:replicas" in fields(out, "kubectl")["f:spec"]
        assert "f:replicas" in fields(out, "kubectl-client-side-apply", "Update")["f:spec"]

    def test_force_takes_ownership(self) -> None:
        live = created_by_update()
        out = apply(live, config(replicas=3), force=True)
        assert out["spec"]["replicas"] == 3
        assert "f:replicas" in fields(out, "kubectl")["f:spec"]
        assert "f:replicas" not in fields(out, "kubectl-client-side-apply", "Update")["f:spec"]

    def test_multiple_conflicts_between_appliers(self) -> None:
        live = apply(None, config(), manager="a")
        with pytest.raises(StatusError) as err:
            apply(live, config(image="x", replicas=2), manager="b")
        assert err.value.message == (
            'Apply failed with 2 conflicts: conflicts with "a":\n- .spec.replicas\n'
            '- .spec.template.spec.containers[name="web"].image'
        )
        assert [c.field for c in err.value.causes] == [
            ".spec.replicas",
            '.spec.template.spec.containers[name="web"].image',
        ]
        assert {c.message for c in err.value.causes} == {'conflict with "a"'}

    def test_removed_fields_are_pruned(self) -> None:
        live = apply(None, config(labels={"a": "1", "b": "2"}))
        out = apply(live, config(replicas=None, labels={"a": "1"}))
        assert out["metadata"]["labels"] == {"a": "1"}
        assert "replicas" not in out["spec"]
        assert "f:replicas" not in fields(out, "kubectl")["f:spec"]

    def test_removed_fields_owned_by_others_stay(self) -> None:
        live = apply(None, config(labels={"a": "1"}), manager="one")
        live = apply(live, config(labels={"a": "1"}), manager="two")
        out = apply(live, config(labels={}), manager="one")
        assert out["metadata"]["labels"] == {"a": "1"}

    def test_removing_list_items(self) -> None:
        cfg = config()
        cfg["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "busybox"})
        live = apply(None, cfg)
        out = apply(live, config())
        assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["web"]

    def test_map_list_merge_keeps_fields_of_others(self) -> None:
        live = created_by_update()
        live = update_managed_fields(
            live,
            _with(
                live,
                lambda o: o["spec"]["template"]["spec"]["containers"][0].update(imagePullPolicy="Always"),
            ),
            manager="defaulter",
            now=T1,
            schema_name=DEPLOYMENT,
        )
        cfg = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}},
        }
        out = apply(live, cfg, manager="mine", now=T2)
        [container] = out["spec"]["template"]["spec"]["containers"]
        assert container["imagePullPolicy"] == "Always"
        assert container["ports"] == [{"containerPort": 80}]
        assert out["spec"]["replicas"] == 1

    def test_port_key_uses_protocol_default(self) -> None:
        live = apply(None, config())
        live["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] = "TCP"
        out = apply(live, config(image="nginx:2"), now=T2)
        assert out["spec"]["template"]["spec"]["containers"][0]["ports"] == [
            {"containerPort": 80, "protocol": "TCP"}
        ]

    def test_set_lists_union_and_atomic_lists_replace(self) -> None:
        live = apply(None, config(finalizers=["a"]), manager="one")
        out = apply(live, config(finalizers=["b"]), manager="two")
        assert out["metadata"]["finalizers"] == ["a", "b"]
        assert fields(out, "two")["f:metadata"]["f:finalizers"] == {'v:"b"': {}}
        cfg = config()
        cfg["spec"]["template"]["spec"]["containers"][0]["args"] = ["x", "y"]
        live = apply(None, cfg)
        cfg["spec"]["template"]["spec"]["containers"][0]["args"] = ["z"]
        out = apply(live, cfg, now=T2)
        assert out["spec"]["template"]["spec"]["containers"][0]["args"] == ["z"]

    def test_live_metadata_is_kept(self) -> None:
        live = created_by_update()
        out = apply(live, config())
        assert out["metadata"]["uid"] == "u" and out["metadata"]["resourceVersion"] == "1"

    def test_bad_configurations(self) -> None:
        cfg = config()
        cfg["metadata"]["managedFields"] = []
        with pytest.raises(StatusError) as err:
            apply(None, cfg)
        assert (err.value.code, err.value.message) == (400, "metadata.managedFields must be nil")
        with pytest.raises(StatusError) as err:
            apply(apply(None, config()), {**config(), "apiVersion": "apps/v1beta1"})
        assert err.value.code == 400 and "Incorrect version specified in apply patch" in err.value.message
        dup = config()
        dup["spec"]["template"]["spec"]["containers"].append({"name": "web"})
        with pytest.raises(StatusError) as err:
            apply(None, dup)
        assert err.value.code == 422 and 'duplicate entries for key [name="web"]' in err.value.message
        nokey = config()
        nokey["spec"]["template"]["spec"]["containers"].append({"image": "x"})
        with pytest.raises(StatusError) as err:
            apply(None, nokey)
        assert err.value.code == 422

    def test_ignored_fields(self) -> None:
        cfg = {**config(), "status": {"replicas": 5}}
        out = apply(None, cfg, ignored_fields=[("f:status",)])
        assert "f:status" not in fields(out, "kubectl")

    def test_last_applied_annotation_synced_for_kubectl(self) -> None:
        key = "kubectl.kubernetes.io/last-applied-configuration"
        live = apply(None, config(annotations={key: "{}"}), manager="other")
        out = apply(live, config(replicas=1), force=True)
        assert out["metadata"]["annotations"][key].startswith('{"apiVersion":"apps/v1"')

    def test_custom_resource_without_schema(self) -> None:
        cr = {
            "apiVersion": "x.io/v1",
            "kind": "Thing",
            "metadata": {"name": "t", "finalizers": ["f"]},
            "spec": {"a": 1},
        }
        out = server_side_apply(None, cr, manager="m", force=False, schema_name=None, now=T1)
        fv1 = out["metadata"]["managedFields"][0]["fieldsV1"]
        assert fv1["f:metadata"]["f:finalizers"] == {'v:"f"': {}}
        assert fv1["f:spec"] == {".": {}, "f:a": {}}


def _with(obj: dict[str, Any], change: Any) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    change(out)
    return out


class TestUpdateManagedFields:
    def test_update_moves_ownership(self) -> None:
        live = apply(None, config())
        scaled = _with(live, lambda o: o["spec"].update(replicas=5))
        out = update_managed_fields(live, scaled, manager="kubectl-scale", now=T2, schema_name=DEPLOYMENT)
        assert "f:replicas" not in fields(out, "kubectl")["f:spec"]
        assert fields(out, "kubectl-scale", "Update") == {"f:spec": {"f:replicas": {}}}
        with pytest.raises(StatusError) as err:
            apply(out, config(replicas=1), now=T3)
        assert 'conflict with "kubectl-scale" using apps/v1: .spec.replicas' in err.value.message

    def test_noop_update_adds_no_entry(self) -> None:
        live = apply(None, config())
        out = update_managed_fields(live, copy.deepcopy(live), manager="x", now=T2, schema_name=DEPLOYMENT)
        assert out == live

    def test_removed_fields_leave_all_managers(self) -> None:
        live = apply(None, config(labels={"a": "1"}))
        out = update_managed_fields(
            live,
            _with(live, lambda o: o["metadata"].pop("labels")),
            manager="x",
            now=T2,
            schema_name=DEPLOYMENT,
        )
        assert "f:metadata" not in fields(out, "kubectl")

    def test_same_manager_accumulates(self) -> None:
        live = created_by_update("m")
        out = update_managed_fields(
            live,
            _with(live, lambda o: o["metadata"].update(labels={"x": "y"})),
            manager="m",
            now=T1,
            schema_name=DEPLOYMENT,
        )
        [entry] = out["metadata"]["managedFields"]
        assert entry["time"] == T1
        assert "f:replicas" in entry["fieldsV1"]["f:spec"]
        assert entry["fieldsV1"]["f:metadata"]["f:labels"] == {".": {}, "f:x": {}}

    def test_reset_with_empty_list(self) -> None:
        live = apply(None, config())
        new = _with(live, lambda o: o["metadata"].update(managedFields=[]))
        out = update_managed_fields(live, new, manager="x", now=T2, schema_name=DEPLOYMENT)
        assert "managedFields" not in out["metadata"]

    def test_client_supplied_managed_fields_win(self) -> None:
        live = apply(None, config())
        supplied = [
            {"manager": "y", "operation": "Update", "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
             "fieldsV1": {"f:spec": {"f:paused": {}}}}
        ]  # fmt: skip
        new = _with(live, lambda o: o["metadata"].update(managedFields=supplied))
        out = update_managed_fields(live, new, manager="x", now=T2, schema_name=DEPLOYMENT)
        assert [e["manager"] for e in out["metadata"]["managedFields"]] == ["y"]

    def test_subresource(self) -> None:
        live = apply(None, config())
        new = _with(live, lambda o: o.update(status={"replicas": 1}))
        out = update_managed_fields(
            live, new, manager="ctrl", subresource="status", now=T2, schema_name=DEPLOYMENT
        )
        entry = entries(out)[("ctrl", "Update")]
        assert entry["subresource"] == "status"
        assert entry["fieldsV1"] == {"f:status": {"f:replicas": {}}}

    def test_untypeable_objects_keep_previous_managed_fields(self) -> None:
        live = apply(None, config())
        bad = _with(live, lambda o: o["spec"]["template"]["spec"]["containers"].append({"image": "no-name"}))
        out = update_managed_fields(live, bad, manager="x", now=T2, schema_name=DEPLOYMENT)
        assert out["metadata"]["managedFields"] == live["metadata"]["managedFields"]

    def test_schema_looked_up_from_gvk(self) -> None:
        out = update_managed_fields(None, config(), manager="m", now=T0)
        containers = out["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:template"]["f:spec"][
            "f:containers"
        ]
        assert list(containers) == ['k:{"name":"web"}']


class TestFieldSet:
    def test_round_trip_and_paths(self) -> None:
        fv1 = {
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {
                "f:containers": {'k:{"name": "web"}': {".": {}, "f:image": {}}},
                "f:finalizers": {'v:"x"': {}},
            },
        }
        parsed = from_fields_v1(fv1)
        assert ("f:spec", "f:containers", 'k:{"name":"web"}', "f:image") in parsed
        again = to_fields_v1(parsed)
        assert again["f:spec"]["f:containers"] == {'k:{"name":"web"}': {".": {}, "f:image": {}}}
        assert from_fields_v1(again) == parsed
        assert path_string(("f:spec", "f:containers", 'k:{"name":"web"}', "f:image")) == (
            '.spec.containers[name="web"].image'
        )
        assert path_string(("f:spec", "f:ports", 'k:{"containerPort":80,"protocol":"TCP"}')) == (
            '.spec.ports[containerPort=80,protocol="TCP"]'
        )
        assert path_string(("f:metadata", "f:finalizers", 'v:"a"')) == '.metadata.finalizers[="a"]'

    def test_object_fields_members(self) -> None:
        got = object_fields({"metadata": {"labels": {"a": "b"}, "annotations": {}}, "spec": {"replicas": 1}}, {
            "$ref": "#/$defs/" + DEPLOYMENT
        })  # fmt: skip
        assert got == {
            ("f:metadata", "f:labels", "f:a"),
            ("f:metadata", "f:annotations"),
            ("f:spec", "f:replicas"),
        }


# --- managers of other apiVersions ---------------------------------------------------------------------
HPA_V1 = "io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler"


def _hpa_v1(target: int) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "h", "namespace": "ns"},
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "d"},
            "maxReplicas": 3,
            "targetCPUUtilizationPercentage": target,
        },
    }


def _view(obj: dict[str, Any], api_version: str) -> tuple[dict[str, Any], Any] | None:
    from kybernetes.api import conversion

    version = api_version.rpartition("/")[2]
    schema = f"io.k8s.api.autoscaling.{version}.HorizontalPodAutoscaler"
    return conversion.convert(obj, "autoscaling", "HorizontalPodAutoscaler", version), schema


def test_update_compares_other_managers_in_their_version() -> None:
    # a v2 manager owns spec.metrics; a v1 write changes the CPU target, i.e. v2's metrics
    v2_entry = {
        "manager": "v2-writer",
        "operation": "Update",
        "apiVersion": "autoscaling/v2",
        "time": T0,
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {"f:metrics": {}}},
    }
    old = _hpa_v1(50)
    old["metadata"]["managedFields"] = [v2_entry]
    new = _hpa_v1(70)
    new["metadata"]["managedFields"] = [v2_entry]
    plain = update_managed_fields(old, new, manager="v1-writer", now=T1, schema_name=HPA_V1)
    assert {e["manager"] for e in plain["metadata"]["managedFields"]} == {"v1-writer", "v2-writer"}
    versioned = update_managed_fields(
        old, new, manager="v1-writer", now=T1, schema_name=HPA_V1, versions=_view
    )
    # in v2's terms the metrics changed, so the v2 manager lost them
    assert [e["manager"] for e in versioned["metadata"]["managedFields"]] == ["v1-writer"]


def test_apply_conflicts_with_other_versions_managers() -> None:
    live = server_side_apply(None, _hpa_v1(50), manager="v1-applier", force=False, schema_name=HPA_V1, now=T0)
    v2 = _view(live, "autoscaling/v2")
    assert v2 is not None
    change = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "h", "namespace": "ns"},
        "spec": {
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 90}},
                }
            ]
        },
    }
    with pytest.raises(StatusError) as err:
        server_side_apply(
            v2[0], change, manager="other", force=False, schema_name=v2[1], now=T1, versions=_view
        )
    assert err.value.code == 409
    assert "targetCPUUtilizationPercentage" in err.value.message
    # without the version view the change is invisible to the v1 manager's field set
    server_side_apply(v2[0], change, manager="other", force=False, schema_name=v2[1], now=T1)
