"""The write pipelines (``Operations``) in process, on a real SQLite store, without HTTP: create, update
(PUT), patch, server-side apply and delete, with what each stamps, keeps, refuses and leaves unchanged.

Each test goes through the public ``Operations`` methods and reads the result back through the store,
so the tests hold whichever module a kind's behaviour lives in.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from kybernetes.api import errors
from kybernetes.apiserver.context import ApiContext
from kybernetes.apiserver.options import DeleteOptions, WriteOptions
from tests.inprocess import DELETE, DRY, MERGE, WRITE, ops

pytestmark = pytest.mark.timeout(30)

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def write(**kw: Any) -> WriteOptions:
    return WriteOptions(
        dry_run=kw.get("dry_run", False),
        field_manager=kw.get("field_manager"),
        field_validation=kw.get("field_validation", "Strict"),
        force=kw.get("force", False),
    )


def delete(**kw: Any) -> DeleteOptions:
    return DeleteOptions(
        grace_period_seconds=kw.get("grace"),
        propagation_policy=kw.get("policy"),
        precondition_uid=kw.get("uid"),
        precondition_rv=kw.get("rv"),
        dry_run=kw.get("dry_run", False),
    )


def cm(name: str | None = None, **data: str) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name} if name else {}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": dict(data)}


def deployment(name: str, replicas: int = 1, image: str = "busybox") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
        },
    }


def pod(name: str, node: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


# --- create ----------------------------------------------------------------------------------------


async def test_create_stamps_server_metadata_and_ignores_client_values(ctx: ApiContext) -> None:
    body = cm("a", k="v")
    body["metadata"].update(
        uid="client-uid",
        creationTimestamp="2001-01-01T00:00:00Z",
        resourceVersion="12345",
        generation=7,
        deletionTimestamp="2001-01-01T00:00:00Z",
        selfLink="/api/v1/x",
    )
    out = await ops(ctx, "", "v1", "configmaps").create(body, "default", WRITE, manager="tester")
    md = out.obj["metadata"]
    assert out.created is True and out.warnings == []
    assert md["uid"] != "client-uid" and re.fullmatch(r"[0-9a-f-]{36}", md["uid"])
    assert md["creationTimestamp"] != "2001-01-01T00:00:00Z" and RFC3339.match(md["creationTimestamp"])
    assert md["namespace"] == "default"
    for key in ("generation", "deletionTimestamp", "selfLink"):
        assert key not in md, key
    stored = await ctx.store_for("", "v1", "configmaps").get("default", "a")
    assert stored["metadata"]["resourceVersion"] == md["resourceVersion"] != "12345"
    assert stored["metadata"]["uid"] == md["uid"]


async def test_generate_name(ctx: ApiContext) -> None:
    o = ops(ctx, "", "v1", "configmaps")
    body = cm()
    body["metadata"]["generateName"] = "web-"
    first = (await o.create(body, "default", WRITE, manager=None)).obj
    second = (
        await o.create(cm() | {"metadata": {"generateName": "web-"}}, "default", WRITE, manager=None)
    ).obj
    for obj in (first, second):
        assert re.fullmatch(r"web-[bcdfghjklmnpqrstvwxz2456789]{5}", obj["metadata"]["name"])
        assert obj["metadata"]["generateName"] == "web-"
    assert first["metadata"]["name"] != second["metadata"]["name"]
    # a name given beside generateName wins
    named = (
        await o.create(
            {"metadata": {"name": "fixed", "generateName": "web-"}}, "default", WRITE, manager=None
        )
    ).obj
    assert named["metadata"]["name"] == "fixed"


async def test_managed_fields_record_the_manager(ctx: ApiContext) -> None:
    o = ops(ctx, "", "v1", "configmaps")
    created = (await o.create(cm("a", k="v"), "default", WRITE, manager="tester")).obj
    entries = created["metadata"]["managedFields"]
    assert [(e["manager"], e["operation"], e["apiVersion"], e["fieldsType"]) for e in entries] == [
        ("tester", "Update", "v1", "FieldsV1")
    ]
    assert entries[0]["fieldsV1"] == {"f:data": {".": {}, "f:k": {}}}
    updated = cm("a", k="v", other="x")
    out = await o.update("a", "default", updated, WRITE, subresource=None, manager="second")
    managers = {e["manager"]: e["fieldsV1"] for e in out.obj["metadata"]["managedFields"]}
    assert managers == {
        "tester": {"f:data": {".": {}, "f:k": {}}},
        "second": {"f:data": {"f:other": {}}},
    }


async def test_dry_run_create_update_patch_delete_leave_the_store_unchanged(ctx: ApiContext) -> None:
    o = ops(ctx, "", "v1", "configmaps")
    await o.create(cm("a", k="v"), "default", WRITE, manager=None)
    rev = await ctx.store.current_revision()
    dry_created = await o.create(cm("b", k="v"), "default", DRY, manager=None)
    assert dry_created.obj["metadata"]["name"] == "b" and dry_created.obj["metadata"]["uid"]
    dry_updated = await o.update("a", "default", cm("a", k="changed"), DRY, subresource=None, manager=None)
    assert dry_updated.obj["data"] == {"k": "changed"}
    dry_patched = await o.patch(
        "a", "default", MERGE, b'{"data":{"k":"patched"}}', DRY, subresource=None, manager=None
    )
    assert dry_patched.obj["data"] == {"k": "patched"}
    obj, deleted = await o.delete("a", "default", delete(dry_run=True))
    assert deleted is True and obj["metadata"]["name"] == "a"
    rs = ctx.store_for("", "v1", "configmaps")
    assert await ctx.store.current_revision() == rev
    assert await rs.try_get("default", "b") is None
    assert (await rs.get("default", "a"))["data"] == {"k": "v"}


async def test_field_validation_strict_warn_ignore(ctx: ApiContext) -> None:
    o = ops(ctx, "", "v1", "configmaps")
    body = cm("a", k="v") | {"bogus": 1}
    with pytest.raises(errors.StatusError) as strict:
        await o.create(dict(body), "default", write(field_validation="Strict"), manager=None)
    assert (strict.value.code, strict.value.reason) == (400, "BadRequest")
    assert strict.value.message == 'strict decoding error: unknown field "bogus"'
    warned = await o.create(dict(body), "default", write(field_validation="Warn"), manager=None)
    assert warned.warnings == ['unknown field "bogus"'] and "bogus" not in warned.obj
    ignored = await o.create(
        cm("b") | {"bogus": 1}, "default", write(field_validation="Ignore"), manager=None
    )
    assert ignored.warnings == [] and "bogus" not in ignored.obj
    stored = await ctx.store_for("", "v1", "configmaps").get("default", "a")
    assert "bogus" not in stored
    # the same on an update and a patch
    with pytest.raises(errors.StatusError) as strict_update:
        await o.update("a", "default", cm("a") | {"bogus": 2}, WRITE, subresource=None, manager=None)
    assert strict_update.value.message == 'strict decoding error: unknown field "bogus"'
    patched = await o.patch(
        "a",
        "default",
        MERGE,
        b'{"spec":{"x":1}}',
        write(field_validation="Warn"),
        subresource=None,
        manager=None,
    )
    assert patched.warnings == ['unknown field "spec"'] and "spec" not in patched.obj


async def test_kind_and_namespace_checks(ctx: ApiContext) -> None:
    o = ops(ctx, "", "v1", "configmaps")
    with pytest.raises(errors.StatusError) as wrong_kind:
        await o.create({"kind": "Secret", "metadata": {"name": "a"}}, "default", WRITE, manager=None)
    assert wrong_kind.value.message == (
        "the kind in the body (Secret) does not match the expected kind (ConfigMap) of this endpoint"
    )
    with pytest.raises(errors.StatusError) as wrong_version:
        await o.create({"apiVersion": "v2", "metadata": {"name": "a"}}, "default", WRITE, manager=None)
    assert wrong_version.value.code == 400 and "(v2)" in wrong_version.value.message
    with pytest.raises(errors.StatusError) as wrong_ns:
        await o.create(
            {"metadata": {"name": "a", "namespace": "kube-system"}}, "default", WRITE, manager=None
        )
    assert wrong_ns.value.message == (
        "the namespace of the provided object does not match the namespace sent on the request"
    )
    with pytest.raises(errors.StatusError) as no_ns:
        await o.create(cm("a"), "nowhere", WRITE, manager=None)
    assert (no_ns.value.code, no_ns.value.message) == (404, 'namespaces "nowhere" not found')
    # a cluster-scoped resource drops a namespace from the body
    ns = await ops(ctx, "", "v1", "namespaces").create(
        {"metadata": {"name": "team-a", "namespace": "default"}}, None, WRITE, manager=None
    )
    assert "namespace" not in ns.obj["metadata"]


async def test_invalid_object_is_422_with_causes(ctx: ApiContext) -> None:
    o = ops(ctx, "", "v1", "configmaps")
    with pytest.raises(errors.StatusError) as invalid:
        await o.create(cm("Bad_Name"), "default", WRITE, manager=None)
    status = invalid.value.to_status()
    assert (status["code"], status["reason"], status["status"]) == (422, "Invalid", "Failure")
    assert status["details"]["name"] == "Bad_Name" and status["details"]["kind"] == "ConfigMap"
    causes = status["details"]["causes"]
    assert [(c["reason"], c["field"]) for c in causes] == [("FieldValueInvalid", "metadata.name")]
    assert status["message"].startswith(
        'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"'
    )
    assert await ctx.store_for("", "v1", "configmaps").try_get("default", "Bad_Name") is None


# --- update / patch ----------------------------------------------------------------------------------


async def test_generation_bumps_on_spec_changes_only(ctx: ApiContext) -> None:
    o = ops(ctx, "apps", "v1", "deployments")
    created = (await o.create(deployment("web"), "default", WRITE, manager=None)).obj
    assert created["metadata"]["generation"] == 1
    relabelled = await o.patch(
        "web",
        "default",
        MERGE,
        b'{"metadata":{"labels":{"tier":"front"}}}',
        WRITE,
        subresource=None,
        manager=None,
    )
    assert relabelled.obj["metadata"]["generation"] == 1
    status = await o.patch(
        "web",
        "default",
        MERGE,
        b'{"status":{"observedGeneration":1}}',
        WRITE,
        subresource="status",
        manager=None,
    )
    assert status.obj["metadata"]["generation"] == 1
    scaled = await o.patch(
        "web", "default", MERGE, b'{"spec":{"replicas":3}}', WRITE, subresource=None, manager=None
    )
    assert scaled.obj["metadata"]["generation"] == 2
    again = await o.patch(
        "web", "default", MERGE, b'{"spec":{"replicas":3}}', WRITE, subresource=None, manager=None
    )
    assert again.obj["metadata"]["generation"] == 2
    assert again.obj["metadata"]["resourceVersion"] == scaled.obj["metadata"]["resourceVersion"]  # no-op
    # kinds without generation tracking never get one
    cms = ops(ctx, "", "v1", "configmaps")
    await cms.create(cm("a", k="1"), "default", WRITE, manager=None)
    changed = await cms.update("a", "default", cm("a", k="2"), WRITE, subresource=None, manager=None)
    assert "generation" not in changed.obj["metadata"]


async def test_update_keeps_server_metadata_and_checks_resource_version(ctx: ApiContext) -> None:
    o = ops(ctx, "", "v1", "configmaps")
    created = (await o.create(cm("a", k="1"), "default", WRITE, manager=None)).obj
    body = cm("a", k="2")
    body["metadata"].update(uid=created["metadata"]["uid"], creationTimestamp="2001-01-01T00:00:00Z")
    body["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
    updated = (await o.update("a", "default", body, WRITE, subresource=None, manager=None)).obj
    assert updated["metadata"]["creationTimestamp"] == created["metadata"]["creationTimestamp"]
    assert updated["metadata"]["uid"] == created["metadata"]["uid"]
    assert int(updated["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    # the same (now stale) resourceVersion again: 409, nothing written
    stale = cm("a", k="3")
    stale["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
    with pytest.raises(errors.StatusError) as conflict:
        await o.update("a", "default", stale, WRITE, subresource=None, manager=None)
    status = conflict.value.to_status()
    assert (status["code"], status["reason"]) == (409, "Conflict")
    assert status["details"] == {"name": "a", "kind": "configmaps"}
    assert status["message"] == (
        'Operation cannot be fulfilled on configmaps "a": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    wrong_uid = cm("a", k="4")
    wrong_uid["metadata"]["uid"] = "someone-else"
    with pytest.raises(errors.StatusError) as uid_conflict:
        await o.update("a", "default", wrong_uid, WRITE, subresource=None, manager=None)
    assert (
        uid_conflict.value.reason == "Conflict"
        and "Precondition failed: UID in precondition" in uid_conflict.value.message
    )
    with pytest.raises(errors.StatusError) as renamed:
        await o.update("a", "default", cm("b"), WRITE, subresource=None, manager=None)
    assert renamed.value.message == "the name of the object (b) does not match the name on the URL (a)"
    assert (await ctx.store_for("", "v1", "configmaps").get("default", "a"))["data"] == {"k": "2"}


async def test_update_and_patch_of_a_missing_object_are_404(ctx: ApiContext) -> None:
    o = ops(ctx, "", "v1", "configmaps")
    with pytest.raises(errors.StatusError) as put:
        await o.update("ghost", "default", cm("ghost"), WRITE, subresource=None, manager=None)
    with pytest.raises(errors.StatusError) as patch:
        await o.patch("ghost", "default", MERGE, b"{}", WRITE, subresource=None, manager=None)
    for exc in (put.value, patch.value):
        assert exc.to_status() == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": 'configmaps "ghost" not found',
            "reason": "NotFound",
            "details": {"name": "ghost", "kind": "configmaps"},
            "code": 404,
        }


async def test_patch_types(ctx: ApiContext) -> None:
    o = ops(ctx, "apps", "v1", "deployments")
    await o.create(deployment("web"), "default", WRITE, manager=None)
    strategic = b'{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"nginx"}]}}}}'
    out = await o.patch(
        "web",
        "default",
        "application/strategic-merge-patch+json",
        strategic,
        WRITE,
        subresource=None,
        manager=None,
    )
    # strategic merge: containers merge by name
    assert [c["name"] for c in out.obj["spec"]["template"]["spec"]["containers"]] == ["side", "c"]
    merge = b'{"spec":{"template":{"spec":{"containers":[{"name":"only","image":"nginx"}]}}}}'
    out = await o.patch("web", "default", MERGE, merge, WRITE, subresource=None, manager=None)
    assert [c["name"] for c in out.obj["spec"]["template"]["spec"]["containers"]] == [
        "only"
    ]  # merge: replaced
    json_patch = orjson.dumps([{"op": "replace", "path": "/spec/replicas", "value": 5}])
    out = await o.patch(
        "web", "default", "application/json-patch+json", json_patch, WRITE, subresource=None, manager=None
    )
    assert out.obj["spec"]["replicas"] == 5
    failing = orjson.dumps([{"op": "test", "path": "/spec/replicas", "value": 1}])
    with pytest.raises(errors.StatusError) as failed:
        await o.patch(
            "web", "default", "application/json-patch+json", failing, WRITE, subresource=None, manager=None
        )
    assert (failed.value.code, failed.value.reason) == (422, "Invalid")
    stored = await ctx.store_for("apps", "v1", "deployments").get("default", "web")
    assert stored["spec"]["replicas"] == 5 and stored["metadata"]["generation"] == 4


async def test_status_subresource_write_keeps_spec_and_main_write_keeps_status(ctx: ApiContext) -> None:
    o = ops(ctx, "apps", "v1", "deployments")
    created = (await o.create(deployment("web"), "default", WRITE, manager=None)).obj
    assert created["status"] == {}  # a client's status is dropped on create
    body = deployment("web", replicas=9)
    body["status"] = {"replicas": 4, "observedGeneration": 1}
    body["metadata"]["labels"] = {"ignored": "on-status"}
    status_write = (await o.update("web", "default", body, WRITE, subresource="status", manager=None)).obj
    assert status_write["status"] == {"replicas": 4, "observedGeneration": 1}
    assert status_write["spec"]["replicas"] == 1 and "labels" not in status_write["metadata"]
    main = deployment("web", replicas=2)
    main["status"] = {"replicas": 100}
    main_write = (await o.update("web", "default", main, WRITE, subresource=None, manager=None)).obj
    assert main_write["spec"]["replicas"] == 2
    assert main_write["status"] == {"replicas": 4, "observedGeneration": 1}
    stored = await ctx.store_for("apps", "v1", "deployments").get("default", "web")
    assert (stored["spec"]["replicas"], stored["status"]["replicas"]) == (2, 4)


async def test_server_side_apply_creates_then_tracks_ownership_and_conflicts(ctx: ApiContext) -> None:
    o = ops(ctx, "", "v1", "configmaps")
    body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: one\n"
    created = await o.apply("a", "default", body, write(field_manager="alice"), subresource=None)
    assert created.created is True and created.obj["data"] == {"k": "one"}
    assert [(e["manager"], e["operation"]) for e in created.obj["metadata"]["managedFields"]] == [
        ("alice", "Apply")
    ]
    stored = await ctx.store_for("", "v1", "configmaps").get("default", "a")
    assert [(e["manager"], e["operation"]) for e in stored["metadata"]["managedFields"]] == [
        ("alice", "Apply")
    ]
    other = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: two\n"
    with pytest.raises(errors.StatusError) as conflict:
        await o.apply("a", "default", other, write(field_manager="bob"), subresource=None)
    assert (conflict.value.code, conflict.value.reason) == (409, "Conflict")
    assert [(c.reason, c.field) for c in conflict.value.causes] == [("FieldManagerConflict", ".data.k")]
    assert conflict.value.causes[0].message == 'conflict with "alice"'
    forced = await o.apply("a", "default", other, write(field_manager="bob", force=True), subresource=None)
    assert forced.created is False and forced.obj["data"] == {"k": "two"}
    assert {e["manager"] for e in forced.obj["metadata"]["managedFields"]} == {"bob"}
    with pytest.raises(errors.StatusError) as no_manager:
        await o.apply("a", "default", other, WRITE, subresource=None)
    assert no_manager.value.message == (
        "PATCH with application/apply-patch+yaml requires the fieldManager query parameter"
    )


# --- delete ------------------------------------------------------------------------------------------


async def test_delete_without_finalizers_removes_at_once(ctx: ApiContext) -> None:
    o = ops(ctx, "", "v1", "configmaps")
    created = (await o.create(cm("a"), "default", WRITE, manager=None)).obj
    obj, deleted = await o.delete("a", "default", DELETE)
    assert deleted is True and obj["metadata"]["uid"] == created["metadata"]["uid"]
    assert await ctx.store_for("", "v1", "configmaps").try_get("default", "a") is None
    with pytest.raises(errors.StatusError) as again:
        await o.delete("a", "default", DELETE)
    assert again.value.reason == "NotFound"


async def test_delete_preconditions(ctx: ApiContext) -> None:
    o = ops(ctx, "", "v1", "configmaps")
    created = (await o.create(cm("a"), "default", WRITE, manager=None)).obj
    with pytest.raises(errors.StatusError) as uid:
        await o.delete("a", "default", delete(uid="other"))
    assert uid.value.message == (
        'Operation cannot be fulfilled on configmaps "a": Precondition failed: UID in precondition: other, '
        f"UID in object meta: {created['metadata']['uid']}"
    )
    with pytest.raises(errors.StatusError) as rv:
        await o.delete("a", "default", delete(rv="1"))
    assert rv.value.reason == "Conflict" and "ResourceVersion in precondition: 1" in rv.value.message
    _, deleted = await o.delete(
        "a", "default", delete(uid=created["metadata"]["uid"], rv=created["metadata"]["resourceVersion"])
    )
    assert deleted is True


async def test_finalizers_hold_a_deletion_until_removed(ctx: ApiContext) -> None:
    o = ops(ctx, "", "v1", "configmaps")
    body = cm("a")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    await o.create(body, "default", WRITE, manager=None)
    obj, deleted = await o.delete("a", "default", DELETE)
    assert deleted is False
    md = obj["metadata"]
    assert RFC3339.match(md["deletionTimestamp"]) and md["deletionGracePeriodSeconds"] == 0
    assert md["finalizers"] == ["example.com/hold"]
    rs = ctx.store_for("", "v1", "configmaps")
    assert (await rs.get("default", "a"))["metadata"]["deletionTimestamp"] == md["deletionTimestamp"]
    # a second delete changes nothing
    again, deleted_again = await o.delete("a", "default", DELETE)
    assert deleted_again is False and again["metadata"]["resourceVersion"] == md["resourceVersion"]
    # removing the last finalizer removes the object
    await o.patch(
        "a", "default", MERGE, b'{"metadata":{"finalizers":null}}', WRITE, subresource=None, manager=None
    )
    assert await rs.try_get("default", "a") is None


async def test_foreground_and_orphan_finalizers_whether_or_not_a_collector_runs(ctx: ApiContext) -> None:
    """As upstream: the API server adds the GC's finalizers for Foreground/Orphan deletes; the
    garbage collector (wherever it runs) removes them."""
    o = ops(ctx, "", "v1", "configmaps")
    await o.create(cm("b"), "default", WRITE, manager=None)
    obj, deleted = await o.delete("b", "default", delete(policy="Foreground"))
    assert deleted is False and obj["metadata"]["finalizers"] == ["foregroundDeletion"]
    await o.create(cm("c"), "default", WRITE, manager=None)
    obj, deleted = await o.delete("c", "default", delete(policy="Orphan"))
    assert deleted is False and obj["metadata"]["finalizers"] == ["orphan"]
    await o.create(cm("d"), "default", WRITE, manager=None)
    _, deleted = await o.delete("d", "default", delete(policy="Background"))
    assert deleted is True


async def test_graceful_pod_deletion(ctx: ApiContext) -> None:
    o = ops(ctx, "", "v1", "pods")
    rs = ctx.store_for("", "v1", "pods")
    # never scheduled: removed at once
    await o.create(pod("pending"), "default", WRITE, manager=None)
    _, deleted = await o.delete("pending", "default", DELETE)
    assert deleted is True and await rs.try_get("default", "pending") is None
    # on a node: marked with the pod's grace period and left for the kubelet
    body = pod("running", node="n1")
    body["spec"]["terminationGracePeriodSeconds"] = 45
    await o.create(body, "default", WRITE, manager=None)
    obj, deleted = await o.delete("running", "default", DELETE)
    assert deleted is False
    assert obj["metadata"]["deletionGracePeriodSeconds"] == 45 and RFC3339.match(
        obj["metadata"]["deletionTimestamp"]
    )
    # a shorter grace period shortens it, a longer one does not lengthen it
    obj, _ = await o.delete("running", "default", delete(grace=60))
    assert obj["metadata"]["deletionGracePeriodSeconds"] == 45
    obj, _ = await o.delete("running", "default", delete(grace=5))
    assert obj["metadata"]["deletionGracePeriodSeconds"] == 5
    # grace 0 (the kubelet's final delete, or --force): gone
    _, deleted = await o.delete("running", "default", delete(grace=0))
    assert deleted is True and await rs.try_get("default", "running") is None
    # the default grace period is 30 s
    await o.create(pod("default-grace", node="n1"), "default", WRITE, manager=None)
    obj, deleted = await o.delete("default-grace", "default", DELETE)
    assert (deleted, obj["metadata"]["deletionGracePeriodSeconds"]) == (False, 30)


async def test_namespace_deletion_goes_terminating_and_blocks_new_content(ctx: ApiContext) -> None:
    nss = ops(ctx, "", "v1", "namespaces")
    created = (await nss.create({"metadata": {"name": "team"}}, None, WRITE, manager=None)).obj
    assert created["status"] == {"phase": "Active"} and created["spec"] == {"finalizers": ["kubernetes"]}
    obj, deleted = await nss.delete("team", None, DELETE)
    assert deleted is False and obj["status"]["phase"] == "Terminating"
    with pytest.raises(errors.StatusError) as refused:
        await ops(ctx, "", "v1", "configmaps").create(cm("a"), "team", WRITE, manager=None)
    status = refused.value.to_status()
    assert (status["code"], status["reason"]) == (403, "Forbidden")
    assert status["message"] == (
        'configmaps "a" is forbidden: unable to create new content in namespace team because it is being terminated'
    )
    assert status["details"]["causes"] == [
        {
            "reason": "NamespaceTerminating",
            "message": "namespace team is being terminated",
            "field": "metadata.namespace",
        }
    ]
