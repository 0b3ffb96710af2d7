"""Object metadata semantics and list behaviour through the official Python client."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from tests.e2e.conftest import KybServer, wait_for


def _deployment(name: str, replicas: int = 1) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]},
            },
        },
    }


def test_server_sets_metadata(kyb: KybServer, ns: str) -> None:
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    with kyb.api_client() as api:
        core = client.CoreV1Api(api)
        before = datetime.now(UTC).replace(microsecond=0)
        cm = core.create_namespaced_config_map(
            ns,
            client.V1ConfigMap(
                metadata=client.V1ObjectMeta(
                    name="meta",
                    uid="00000000-0000-0000-0000-000000000000",
                    creation_timestamp=datetime(2000, 1, 1, tzinfo=UTC),
                    generation=42,
                ),
                data={"a": "b"},
            ),
        )
        meta = cm.metadata
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", meta.uid)
        assert meta.uid != "00000000-0000-0000-0000-000000000000"
        assert meta.creation_timestamp >= before
        assert meta.resource_version and meta.resource_version.isdigit()
        assert meta.namespace == ns
        again = core.read_namespaced_config_map("meta", ns)
        assert again.metadata.uid == meta.uid
        assert again.metadata.resource_version == meta.resource_version
        # creationTimestamp sent on update is ignored; a different uid is rejected as immutable
        again.metadata.creation_timestamp = datetime(2001, 1, 1, tzinfo=UTC)
        again.data = {"a": "c"}
        updated = core.replace_namespaced_config_map("meta", ns, again)
        assert updated.metadata.uid == meta.uid
        assert updated.metadata.creation_timestamp == meta.creation_timestamp
        assert int(updated.metadata.resource_version) > int(meta.resource_version)
        updated.metadata.uid = "11111111-1111-1111-1111-111111111111"
        with pytest.raises(ApiException) as info:
            core.replace_namespaced_config_map("meta", ns, updated)
        # upstream: the body's uid becomes a storage precondition (rest.DefaultUpdatedObjectInfo), whose
        # failure InterpretUpdateError maps to 409 Conflict
        assert info.value.status == 409, info.value.body
        status = json.loads(info.value.body)
        assert status["reason"] == "Conflict"
        assert status["message"] == (
            f'Operation cannot be fulfilled on configmaps "meta": Precondition failed: UID in precondition: '
            f"11111111-1111-1111-1111-111111111111, UID in object meta: {meta.uid}"
        )


def test_generation_tracks_spec_only(kyb: KybServer, ns: str) -> None:
    from kubernetes import client

    with kyb.api_client() as api:
        apps = client.AppsV1Api(api)
        dep = apps.create_namespaced_deployment(ns, _deployment("gen"))
        assert dep.metadata.generation == 1
        dep = apps.patch_namespaced_deployment("gen", ns, {"metadata": {"labels": {"extra": "x"}}})
        assert dep.metadata.generation == 1
        dep = apps.patch_namespaced_deployment_status(
            "gen", ns, {"status": {"replicas": 1, "observedGeneration": 1}}
        )
        assert dep.metadata.generation == 1
        assert dep.status.replicas == 1
        dep = apps.patch_namespaced_deployment("gen", ns, {"spec": {"replicas": 4}})
        assert dep.metadata.generation == 2
        dep = apps.patch_namespaced_deployment(
            "gen",
            ns,
            {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}},
        )
        assert dep.metadata.generation == 3
        # an update that changes nothing changes neither generation nor resourceVersion
        rv = dep.metadata.resource_version
        same = apps.replace_namespaced_deployment("gen", ns, dep)
        assert same.metadata.generation == 3
        assert same.metadata.resource_version == rv


def test_status_is_dropped_on_create_and_main_resource_update(kyb: KybServer, ns: str) -> None:
    from kubernetes import client

    with kyb.api_client() as api:
        apps = client.AppsV1Api(api)
        body = _deployment("nostatus")
        body["status"] = {"replicas": 5, "readyReplicas": 5, "observedGeneration": 7}
        dep = apps.create_namespaced_deployment(ns, body)
        # upstream serialises the (non-pointer) empty status struct as "status": {}
        assert dep.status is not None
        assert dep.status.replicas is None and dep.status.observed_generation is None
        dep = apps.patch_namespaced_deployment("nostatus", ns, {"status": {"replicas": 3}})
        assert dep.status is not None and dep.status.replicas is None
        # and spec sent to the status subresource is ignored
        dep = apps.patch_namespaced_deployment_status(
            "nostatus", ns, {"spec": {"replicas": 9}, "status": {"replicas": 2}}
        )
        assert dep.spec.replicas == 1
        assert dep.status.replicas == 2
        stored = apps.read_namespaced_deployment("nostatus", ns)
        assert stored.spec.replicas == 1 and stored.status.replicas == 2


def test_generate_name(kyb: KybServer, ns: str) -> None:
    from kubernetes import client

    with kyb.api_client() as api:
        core = client.CoreV1Api(api)
        names = set()
        for _ in range(3):
            cm = core.create_namespaced_config_map(
                ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(generate_name="gen-"))
            )
            assert cm.metadata.generate_name == "gen-"
            assert re.fullmatch(r"gen-[a-z0-9]{5}", cm.metadata.name), cm.metadata.name
            names.add(cm.metadata.name)
        assert len(names) == 3


def test_finalizers_hold_deletion(kyb: KybServer, ns: str) -> None:
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    with kyb.api_client() as api:
        core = client.CoreV1Api(api)
        core.create_namespaced_config_map(
            ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="held", finalizers=["example.com/hold"]))
        )
        core.delete_namespaced_config_map("held", ns)
        held = core.read_namespaced_config_map("held", ns)
        assert held.metadata.deletion_timestamp is not None
        assert held.metadata.finalizers == ["example.com/hold"]
        assert held.metadata.deletion_grace_period_seconds == 0
        # a second delete keeps it too (and does not move the timestamp)
        core.delete_namespaced_config_map("held", ns)
        assert (
            core.read_namespaced_config_map("held", ns).metadata.deletion_timestamp
            == held.metadata.deletion_timestamp
        )
        # while deleting, other updates work but no new finalizer can be added
        core.patch_namespaced_config_map("held", ns, {"metadata": {"labels": {"still": "here"}}})
        with pytest.raises(ApiException) as forbidden:
            core.patch_namespaced_config_map(
                "held", ns, {"metadata": {"finalizers": ["example.com/hold", "example.com/more"]}}
            )
        assert forbidden.value.status == 422
        assert "no new finalizers can be added if the object is being deleted" in forbidden.value.body
        core.patch_namespaced_config_map("held", ns, {"metadata": {"finalizers": None}})
        with pytest.raises(ApiException) as info:
            core.read_namespaced_config_map("held", ns)
        assert info.value.status == 404


def test_delete_preconditions(kyb: KybServer, ns: str) -> None:
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    with kyb.api_client() as api:
        core = client.CoreV1Api(api)
        cm = core.create_namespaced_config_map(
            ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="pre"))
        )
        with pytest.raises(ApiException) as info:
            core.delete_namespaced_config_map(
                "pre",
                ns,
                body=client.V1DeleteOptions(preconditions=client.V1Preconditions(uid="not-the-uid")),
            )
        assert info.value.status == 409
        assert json.loads(info.value.body)["reason"] == "Conflict"
        core.delete_namespaced_config_map(
            "pre", ns, body=client.V1DeleteOptions(preconditions=client.V1Preconditions(uid=cm.metadata.uid))
        )
        with pytest.raises(ApiException):
            core.read_namespaced_config_map("pre", ns)


def test_pagination(kyb: KybServer, ns: str) -> None:
    from kubernetes import client

    with kyb.api_client() as api:
        core = client.CoreV1Api(api)
        expected = {f"page-{i:02d}" for i in range(25)}
        for name in sorted(expected):
            core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name)))
        seen: list[str] = []
        pages: list[int] = []
        token = None
        first_rv = None
        while True:
            page = core.list_namespaced_config_map(ns, limit=10, _continue=token)
            pages.append(len(page.items))
            seen += [i.metadata.name for i in page.items]
            first_rv = first_rv or page.metadata.resource_version
            # every page is served at the resourceVersion of the first
            assert page.metadata.resource_version == first_rv
            token = page.metadata._continue
            if not token:
                break
            if len(pages) == 1:
                # a write in between pages must not show up in the paginated list
                core.create_namespaced_config_map(
                    ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="page-zz"))
                )
        assert pages[:2] == [10, 10] and len(pages) == 3
        assert len(seen) == len(set(seen))
        assert expected <= set(seen)
        assert "page-zz" not in seen
        assert seen == sorted(seen)


def test_pagination_exact_page_sizes(kyb: KybServer, ns: str) -> None:
    from kubernetes import client

    with kyb.api_client() as api:
        core = client.CoreV1Api(api)
        for i in range(25):
            core.create_namespaced_secret(
                ns, client.V1Secret(metadata=client.V1ObjectMeta(name=f"s-{i:02d}"))
            )
        sizes = []
        token = None
        while True:
            page = core.list_namespaced_secret(ns, limit=10, _continue=token)
            sizes.append(len(page.items))
            token = page.metadata._continue
            if not token:
                break
            # no selectors, so upstream's etcd3 list counts what is left after this page
            assert page.metadata.remaining_item_count == 25 - sum(sizes)
        assert sizes == [10, 10, 5]


def test_invalid_continue_token(kyb: KybServer, ns: str) -> None:
    resp = kyb.request(
        "GET", f"/api/v1/namespaces/{ns}/configmaps", query={"limit": "1", "continue": "garbage"}
    )
    # upstream: a token that does not decode is a 400 (storage.DecodeContinue -> NewBadRequest); 410 is
    # only for a well-formed token whose revision was compacted
    assert resp.status == 400, resp.body
    body = resp.json()
    assert body["kind"] == "Status" and body["code"] == 400
    assert body["reason"] == "BadRequest"
    assert body["message"].startswith("invalid continue token: continue key is not valid"), body


def test_list_at_exact_resource_version(kyb: KybServer, ns: str) -> None:
    from kubernetes import client

    with kyb.api_client() as api:
        core = client.CoreV1Api(api)
        core.create_namespaced_config_map(
            ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="old"), data={"v": "1"})
        )
        rv = core.list_namespaced_config_map(ns).metadata.resource_version
        core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="new")))
        core.patch_namespaced_config_map("old", ns, {"data": {"v": "2"}})
        past = core.list_namespaced_config_map(ns, resource_version=rv, resource_version_match="Exact")
        assert past.metadata.resource_version == rv
        by_name = {i.metadata.name: i for i in past.items}
        assert "new" not in by_name
        assert by_name["old"].data == {"v": "1"}
        now = core.list_namespaced_config_map(ns, resource_version=rv, resource_version_match="NotOlderThan")
        assert int(now.metadata.resource_version) >= int(rv)
        assert {i.metadata.name for i in now.items} >= {"old", "new"}
        # resourceVersion="0": any version is acceptable, served from the latest here
        any_rv = core.list_namespaced_config_map(ns, resource_version="0")
        assert any_rv.items is not None


def test_resource_version_match_requires_resource_version(kyb: KybServer, ns: str) -> None:
    resp = kyb.request("GET", f"/api/v1/namespaces/{ns}/configmaps", query={"resourceVersionMatch": "Exact"})
    assert resp.status == 422
    assert resp.json()["reason"] == "Invalid"


def test_get_at_future_resource_version_times_out(kyb: KybServer, ns: str) -> None:
    rv = kyb.request("GET", f"/api/v1/namespaces/{ns}/configmaps").json()["metadata"]["resourceVersion"]
    future = str(int(rv) + 1_000_000)
    resp = kyb.request(
        "GET",
        f"/api/v1/namespaces/{ns}/configmaps",
        query={"resourceVersion": future, "resourceVersionMatch": "NotOlderThan", "timeoutSeconds": "1"},
    )
    # upstream waits for the store to reach it, then answers 504 "Too large resource version"
    assert resp.status == 504
    body = resp.json()
    assert body["reason"] == "Timeout"
    assert "Too large resource version" in body["message"]


def test_list_by_label_selector_and_field_selector(kyb: KybServer, ns: str) -> None:
    from kubernetes import client

    with kyb.api_client() as api:
        core = client.CoreV1Api(api)
        for name, tier in (("a", "front"), ("b", "back"), ("c", "front")):
            core.create_namespaced_config_map(
                ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels={"tier": tier}))
            )
        front = core.list_namespaced_config_map(ns, label_selector="tier=front")
        assert sorted(i.metadata.name for i in front.items) == ["a", "c"]
        one = core.list_namespaced_config_map(ns, field_selector="metadata.name=b")
        assert [i.metadata.name for i in one.items] == ["b"]
        cross = core.list_config_map_for_all_namespaces(
            label_selector="tier=back", field_selector=f"metadata.namespace={ns}"
        )
        assert [(i.metadata.namespace, i.metadata.name) for i in cross.items] == [(ns, "b")]


def test_delete_collection(kyb: KybServer, ns: str) -> None:
    from kubernetes import client

    with kyb.api_client() as api:
        core = client.CoreV1Api(api)
        for name, tier in (("x1", "junk"), ("x2", "junk"), ("keep", "gold")):
            core.create_namespaced_config_map(
                ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels={"tier": tier}))
            )
        core.delete_collection_namespaced_config_map(ns, label_selector="tier=junk")
        left = wait_for(
            lambda: (
                sorted(
                    i.metadata.name for i in core.list_namespaced_config_map(ns, label_selector="tier").items
                )
                == ["keep"]
            ),
            timeout=10,
            what="delete collection",
        )
        assert left


def test_python_client_patch_types(kyb: KybServer, ns: str) -> None:
    from kubernetes import client

    with kyb.api_client() as api:
        apps = client.AppsV1Api(api)
        apps.create_namespaced_deployment(ns, _deployment("pt", replicas=2))
        # the client sends dict patches as strategic merge
        dep = apps.patch_namespaced_deployment(
            "pt", ns, {"spec": {"template": {"spec": {"containers": [{"name": "side", "image": "busybox"}]}}}}
        )
        assert sorted(c.name for c in dep.spec.template.spec.containers) == ["c", "side"]
        # and list patches as JSON patch
        dep = apps.patch_namespaced_deployment(
            "pt", ns, [{"op": "replace", "path": "/spec/replicas", "value": 7}]
        )
        assert dep.spec.replicas == 7
        # server-side apply through the client
        applied = apps.patch_namespaced_deployment(
            "pt",
            ns,
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "pt"},
                "spec": {"replicas": 3},
            },
            field_manager="e2e-ssa",
            force=True,
            _content_type="application/apply-patch+yaml",
        )
        assert applied.spec.replicas == 3
        managers = {m.manager: m.operation for m in applied.metadata.managed_fields}
        assert managers.get("e2e-ssa") == "Apply"
