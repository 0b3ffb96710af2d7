"""The generic store (``ResourceStore``) in process, on a real SQLite store: keys, reads, lists with
pagination and continue tokens, resourceVersion semantics, compare-and-swap writes, the guaranteed
update's retry on a lost swap, immediate deletion and watches from a revision.

Objects handed to ``ResourceStore.create`` are already prepared (no defaults or validation run here):
that is the contract of the generic store; ``Operations`` does the preparing (``test_operations.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from kybernetes.api import errors
from kybernetes.apiserver.context import ApiContext
from kybernetes.apiserver.resource_store import (
    ResourceStore,
    decode_continue,
    encode_continue,
)
from kybernetes.storage import CompactedError

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def cms(ctx: ApiContext) -> ResourceStore:
    return ctx.store_for("", "v1", "configmaps")


def cm(name: str, namespace: str = "default", **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}"},
        "data": dict(data),
    }


async def test_key_layout_core_group_and_cluster_scope(ctx: ApiContext, cms: ResourceStore) -> None:
    assert cms.key("ns1", "a") == "/registry/configmaps/ns1/a"
    assert cms.list_prefix("ns1") == "/registry/configmaps/ns1/"
    assert cms.list_prefix(None) == "/registry/configmaps/"
    deployments = ctx.store_for("apps", "v1", "deployments")
    assert deployments.key("ns1", "web") == "/registry/apps/deployments/ns1/web"
    nodes = ctx.store_for("", "v1", "nodes")
    assert nodes.key(None, "n1") == "/registry/nodes/n1"
    assert nodes.list_prefix("ignored") == "/registry/nodes/"  # cluster-scoped: no namespace segment
    # the object really is stored under that key, without its resourceVersion
    created = await cms.create(cm("a", "default", k="v"))
    kv = await ctx.store.get("/registry/configmaps/default/a")
    assert kv is not None and kv.mod_revision == int(created["metadata"]["resourceVersion"])
    stored = orjson.loads(kv.value)
    assert stored["metadata"]["resourceVersion"] == "" and stored["data"] == {"k": "v"}


async def test_create_get_and_resource_version_is_the_mod_revision(
    ctx: ApiContext, cms: ResourceStore
) -> None:
    before = await ctx.store.current_revision()
    created = await cms.create(cm("a", x="1"))
    rv = int(created["metadata"]["resourceVersion"])
    assert rv == before + 1 == await ctx.store.current_revision()
    got = await cms.get("default", "a")
    assert got["metadata"]["resourceVersion"] == str(rv) and got["data"] == {"x": "1"}
    assert await cms.try_get("default", "missing") is None
    with pytest.raises(errors.StatusError) as missing:
        await cms.get("default", "missing")
    assert (missing.value.code, missing.value.reason) == (404, "NotFound")
    assert missing.value.to_status()["message"] == 'configmaps "missing" not found'
    assert missing.value.to_status()["details"] == {"name": "missing", "kind": "configmaps"}


async def test_create_twice_is_already_exists_and_dry_run_writes_nothing(
    ctx: ApiContext, cms: ResourceStore
) -> None:
    await cms.create(cm("a"))
    with pytest.raises(errors.StatusError) as dup:
        await cms.create(cm("a"))
    assert (dup.value.code, dup.value.reason) == (409, "AlreadyExists")
    assert dup.value.message == 'configmaps "a" already exists'
    with pytest.raises(errors.StatusError) as dup_dry:
        await cms.create(cm("a"), dry_run=True)
    assert dup_dry.value.reason == "AlreadyExists"
    rev = await ctx.store.current_revision()
    echoed = await cms.create(cm("b", x="y"), dry_run=True)
    assert echoed["data"] == {"x": "y"}
    assert await cms.try_get("default", "b") is None and await ctx.store.current_revision() == rev


async def test_namespace_scoping_of_list_and_get(cms: ResourceStore) -> None:
    for ns in ("default", "kube-system"):
        for name in ("a", "b"):
            await cms.create(cm(name, ns))
    in_default = await cms.list("default")
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in in_default.items] == [
        ("default", "a"),
        ("default", "b"),
    ]
    everywhere = await cms.list(None)
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in everywhere.items] == [
        ("default", "a"),
        ("default", "b"),
        ("kube-system", "a"),
        ("kube-system", "b"),
    ]
    assert await cms.try_get("kube-public", "a") is None
    assert (await cms.get("kube-system", "b"))["metadata"]["uid"] == "uid-kube-system-b"


async def test_list_pages_with_continue_tokens_and_remaining_count(
    ctx: ApiContext, cms: ResourceStore
) -> None:
    for i in range(5):
        await cms.create(cm(f"cm{i}"))
    rev = await ctx.store.current_revision()
    first = await cms.list("default", limit=2)
    assert [o["metadata"]["name"] for o in first.items] == ["cm0", "cm1"]
    assert first.resource_version == rev and first.remaining == 3 and first.continue_token
    assert decode_continue(first.continue_token) == (rev, "/registry/configmaps/default/cm1")
    # a write between pages is not seen: the whole list is served at the first page's revision
    await cms.create(cm("cm2a"))
    second = await cms.list("default", limit=2, continue_token=first.continue_token)
    assert [o["metadata"]["name"] for o in second.items] == ["cm2", "cm3"]
    assert second.resource_version == rev and second.remaining == 1
    assert second.continue_token is not None
    third = await cms.list("default", limit=2, continue_token=second.continue_token)
    assert [o["metadata"]["name"] for o in third.items] == ["cm4"]
    assert third.continue_token is None and third.remaining is None
    # a fresh list sees the new object
    assert [o["metadata"]["name"] for o in (await cms.list("default")).items] == [
        "cm0",
        "cm1",
        "cm2",
        "cm2a",
        "cm3",
        "cm4",
    ]


async def test_list_with_a_filter_fills_pages_and_gives_no_remaining_count(cms: ResourceStore) -> None:
    for i in range(6):
        await cms.create(cm(f"cm{i}", parity="even" if i % 2 == 0 else "odd"))

    def odd(obj: dict[str, Any]) -> bool:
        return obj["data"]["parity"] == "odd"

    page = await cms.list("default", matches=odd, limit=2)
    assert [o["metadata"]["name"] for o in page.items] == ["cm1", "cm3"]
    assert page.remaining is None and page.continue_token is not None
    rest = await cms.list("default", matches=odd, limit=2, continue_token=page.continue_token)
    assert [o["metadata"]["name"] for o in rest.items] == ["cm5"]
    assert rest.continue_token is None


async def test_continue_token_errors(cms: ResourceStore) -> None:
    with pytest.raises(errors.StatusError) as malformed:
        await cms.list("default", continue_token="not-base64-json!")
    assert (malformed.value.code, malformed.value.reason) == (400, "BadRequest")
    assert "continue token is malformed" in malformed.value.message
    other_ns = encode_continue(5, "/registry/configmaps/kube-system/x")
    with pytest.raises(errors.StatusError) as mismatch:
        await cms.list("default", continue_token=other_ns)
    assert mismatch.value.message == (
        "invalid continue token: continue key is not valid: the continue token does not match the request"
    )
    with pytest.raises(errors.StatusError) as with_rv:
        await cms.list(
            "default",
            continue_token=encode_continue(5, "/registry/configmaps/default/x"),
            resource_version="3",
        )
    assert with_rv.value.message == "specifying resource version is not allowed when using continue"
    with pytest.raises(errors.StatusError) as zero:
        await cms.list("default", continue_token=encode_continue(0, "/registry/configmaps/default/x"))
    assert zero.value.message == "0 continue resource version is not allowed when using continue"


async def test_list_at_an_exact_revision_and_resource_version_errors(
    ctx: ApiContext, cms: ResourceStore
) -> None:
    first = await cms.create(cm("a", v="1"))
    at = int(first["metadata"]["resourceVersion"])
    await cms.create(cm("b"))
    exact = await cms.list("default", resource_version=str(at), resource_version_match="Exact")
    assert [o["metadata"]["name"] for o in exact.items] == ["a"] and exact.resource_version == at
    newer = await cms.list("default", resource_version=str(at), resource_version_match="NotOlderThan")
    assert [o["metadata"]["name"] for o in newer.items] == ["a", "b"]
    current = await ctx.store.current_revision()
    with pytest.raises(errors.StatusError) as future:
        await cms.list("default", resource_version=str(current + 100))
    assert (future.value.code, future.value.reason) == (504, "Timeout")
    assert future.value.message == f"Too large resource version: {current + 100}, current: {current}"
    with pytest.raises(errors.StatusError) as bad:
        await cms.list("default", resource_version="abc")
    assert (bad.value.code, bad.value.message) == (
        400,
        "invalid resourceVersion: 'abc' is not a valid resource version",
    )
    with pytest.raises(errors.StatusError) as match_only:
        await cms.list("default", resource_version_match="Exact")
    assert (match_only.value.code, match_only.value.reason) == (422, "Invalid")
    assert match_only.value.causes[0].field == "resourceVersionMatch"
    with pytest.raises(errors.StatusError) as exact_zero:
        await cms.list("default", resource_version="0", resource_version_match="Exact")
    assert exact_zero.value.causes[0].message == (
        'Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"'
    )
    with pytest.raises(errors.StatusError) as unsupported:
        await cms.list("default", resource_version="1", resource_version_match="Newest")
    assert unsupported.value.causes[0].reason == "FieldValueNotSupported"


async def test_list_of_compacted_revision_is_gone(ctx: ApiContext, cms: ResourceStore) -> None:
    old = await cms.create(cm("a"))
    await cms.create(cm("b"))
    await ctx.store.compact(await ctx.store.current_revision())
    with pytest.raises(errors.StatusError) as gone:
        await cms.list(
            "default", resource_version=old["metadata"]["resourceVersion"], resource_version_match="Exact"
        )
    assert (gone.value.code, gone.value.reason) == (410, "Expired")
    # a continue token from before the compaction: 410 with an inconsistent continuation offered
    token = encode_continue(int(old["metadata"]["resourceVersion"]), "/registry/configmaps/default/a")
    with pytest.raises(errors.StatusError) as expired:
        await cms.list("default", limit=1, continue_token=token)
    assert expired.value.code == 410 and expired.value.list_continue is not None
    assert decode_continue(expired.value.list_continue) == (0, "/registry/configmaps/default/a")
    rest = await cms.list("default", limit=1, continue_token=expired.value.list_continue)
    assert [o["metadata"]["name"] for o in rest.items] == ["b"]


async def test_replace_is_compare_and_swap(cms: ResourceStore) -> None:
    created = await cms.create(cm("a", v="1"))
    rv = int(created["metadata"]["resourceVersion"])
    new = cm("a", v="2")
    stored = await cms.replace(new, rv)
    assert int(stored["metadata"]["resourceVersion"]) > rv
    assert (await cms.get("default", "a"))["data"] == {"v": "2"}
    with pytest.raises(errors.StatusError) as stale:
        await cms.replace(cm("a", v="3"), rv)
    assert (stale.value.code, stale.value.reason) == (409, "Conflict")
    assert stale.value.message == (
        'Operation cannot be fulfilled on configmaps "a": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    with pytest.raises(errors.StatusError) as gone:
        await cms.replace(cm("ghost"), rv)
    assert gone.value.reason == "NotFound"
    assert (await cms.get("default", "a"))["data"] == {"v": "2"}


async def test_replace_of_a_marked_object_without_finalizers_deletes_it(cms: ResourceStore) -> None:
    obj = cm("a")
    obj["metadata"]["finalizers"] = ["example.com/hold"]
    obj["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    created = await cms.create(obj)
    released = cm("a")
    released["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    await cms.replace(released, int(created["metadata"]["resourceVersion"]))
    assert await cms.try_get("default", "a") is None


async def test_guaranteed_update_retries_on_a_lost_swap(ctx: ApiContext, cms: ResourceStore) -> None:
    await cms.create(cm("a", n="0"))
    seen: list[str] = []

    async def mutate(current: dict[str, Any]) -> dict[str, Any]:
        seen.append(current["data"]["n"])
        if len(seen) == 1:
            # someone else writes between our read and our swap
            fresh = await cms.get("default", "a")
            fresh["data"]["n"] = "foreign"
            await cms.replace(fresh, int(fresh["metadata"]["resourceVersion"]))
        current["data"]["n"] = current["data"]["n"] + "+mine"
        return current

    old, new = await cms.guaranteed_update("default", "a", mutate)
    assert seen == ["0", "foreign"]
    assert old["data"]["n"] == "foreign" and new["data"]["n"] == "foreign+mine"
    assert (await cms.get("default", "a"))["data"]["n"] == "foreign+mine"


async def test_guaranteed_update_no_change_error_and_dry_run(ctx: ApiContext, cms: ResourceStore) -> None:
    created = await cms.create(cm("a", n="0"))
    rev = await ctx.store.current_revision()
    old, new = await cms.guaranteed_update("default", "a", lambda obj: obj)
    assert old is new and new["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert await ctx.store.current_revision() == rev  # an unchanged object is not written

    def refuse(obj: dict[str, Any]) -> dict[str, Any]:
        raise errors.forbidden("configmaps", "a", "no")

    with pytest.raises(errors.StatusError) as refused:
        await cms.guaranteed_update("default", "a", refuse)
    assert refused.value.code == 403

    def change(obj: dict[str, Any]) -> dict[str, Any]:
        obj["data"]["n"] = "1"
        return obj

    _, dry = await cms.guaranteed_update("default", "a", change, dry_run=True)
    assert dry["data"]["n"] == "1"
    assert (await cms.get("default", "a"))["data"]["n"] == "0" and await ctx.store.current_revision() == rev
    with pytest.raises(errors.StatusError) as missing:
        await cms.guaranteed_update("default", "nope", change)
    assert missing.value.reason == "NotFound"


async def test_guaranteed_update_gives_up_after_bounded_conflicts(cms: ResourceStore) -> None:
    await cms.create(cm("a", n="0"))
    attempts = 0

    async def always_raced(current: dict[str, Any]) -> dict[str, Any]:
        nonlocal attempts
        attempts += 1
        fresh = await cms.get("default", "a")
        fresh["data"]["n"] = str(attempts)
        await cms.replace(fresh, int(fresh["metadata"]["resourceVersion"]))
        current["data"]["n"] = "never"
        return current

    with pytest.raises(errors.StatusError) as conflict:
        await cms.guaranteed_update("default", "a", always_raced)
    assert conflict.value.reason == "Conflict"
    assert attempts == 16  # MAX_UPDATE_RETRIES
    assert (await cms.get("default", "a"))["data"]["n"] == "16"


async def test_delete_now_with_and_without_expected_revision(ctx: ApiContext, cms: ResourceStore) -> None:
    created = await cms.create(cm("a", v="1"))
    rv = int(created["metadata"]["resourceVersion"])
    dry = await cms.delete_now("default", "a", rv, dry_run=True)
    assert dry["data"] == {"v": "1"} and await cms.try_get("default", "a") is not None
    with pytest.raises(errors.StatusError) as stale:
        await cms.delete_now("default", "a", rv - 1)
    assert stale.value.reason == "Conflict"
    deleted = await cms.delete_now("default", "a", rv)
    assert deleted["data"] == {"v": "1"} and deleted["metadata"]["uid"] == "uid-default-a"
    # the returned revision is the deletion's own
    assert int(deleted["metadata"]["resourceVersion"]) == await ctx.store.current_revision()
    assert await cms.try_get("default", "a") is None
    with pytest.raises(errors.StatusError) as missing:
        await cms.delete_now("default", "a", None)
    assert missing.value.reason == "NotFound"
    await cms.create(cm("b"))
    await cms.delete_now("default", "b", None)  # unconditional
    assert await cms.try_get("default", "b") is None


async def _collect(stream: AsyncIterator[Any], count: int) -> list[Any]:
    out: list[Any] = []
    async with asyncio.timeout(10):
        async for event in stream:
            out.append(event)
            if len(out) >= count:
                break
    return out


async def test_watch_from_a_revision_replays_then_follows(cms: ResourceStore) -> None:
    a = await cms.create(cm("a", v="1"))
    start = int(a["metadata"]["resourceVersion"])
    current = await cms.get("default", "a")
    current["data"] = {"v": "2"}
    await cms.replace(current, start)
    stream = cms.watch(None, start)
    follow = asyncio.ensure_future(_collect(stream, 3))
    await asyncio.sleep(0)
    b = await cms.create(cm("b", "kube-system"))
    await cms.delete_now("default", "a", None)
    events = await follow
    assert [(e.type, e.obj["metadata"]["name"]) for e in events] == [
        ("MODIFIED", "a"),
        ("ADDED", "b"),
        ("DELETED", "a"),
    ]
    assert events[0].obj["data"] == {"v": "2"} and events[0].prev is not None
    assert events[0].prev["data"] == {"v": "1"}
    assert events[1].revision == int(b["metadata"]["resourceVersion"])
    assert [e.revision for e in events] == sorted(e.revision for e in events)
    assert events[0].obj["metadata"]["resourceVersion"] == str(events[0].revision)


async def test_watch_in_a_namespace_sees_only_that_namespace(cms: ResourceStore, ctx: ApiContext) -> None:
    start = await ctx.store.current_revision()
    await cms.create(cm("x", "kube-system"))
    await cms.create(cm("y", "default"))
    await cms.create(cm("z", "kube-system"))
    events = await _collect(cms.watch("kube-system", start), 2)
    assert [(e.type, e.obj["metadata"]["name"]) for e in events] == [("ADDED", "x"), ("ADDED", "z")]
    # and a watch of another resource sees none of them
    secrets = ctx.store_for("", "v1", "secrets")
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"}}
    await secrets.create(secret)
    only = await _collect(secrets.watch(None, start), 1)
    assert [(e.type, e.obj["kind"], e.obj["metadata"]["name"]) for e in only] == [("ADDED", "Secret", "s")]


async def test_watch_from_a_compacted_revision_is_gone(ctx: ApiContext, cms: ResourceStore) -> None:
    first = await cms.create(cm("a"))
    await cms.create(cm("b"))
    await ctx.store.compact(await ctx.store.current_revision())
    with pytest.raises(errors.StatusError) as gone:
        await _collect(cms.watch(None, int(first["metadata"]["resourceVersion"]) - 1), 1)
    assert (gone.value.code, gone.value.reason) == (410, "Expired")
    assert not isinstance(gone.value, CompactedError)


async def test_a_view_in_another_version_shares_keys_and_converts(ctx: ApiContext) -> None:
    v2 = ctx.store_for("autoscaling", "v2", "horizontalpodautoscalers")
    v1 = ctx.store_for("autoscaling", "v1", "horizontalpodautoscalers")
    assert (
        v1.key("default", "h")
        == v2.key("default", "h")
        == "/registry/autoscaling/horizontalpodautoscalers/default/h"
    )
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "h", "namespace": "default"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1,
            "maxReplicas": 4,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                }
            ],
        },
    }
    start = await ctx.store.current_revision()
    await v2.create(hpa)
    seen = await v1.get("default", "h")
    assert seen["apiVersion"] == "autoscaling/v1"
    assert (seen["spec"]["maxReplicas"], seen["spec"]["targetCPUUtilizationPercentage"]) == (4, 70)
    assert "metrics" not in seen["spec"]
    # stored once, in the storage version
    kv = await ctx.store.get("/registry/autoscaling/horizontalpodautoscalers/default/h")
    assert kv is not None and orjson.loads(kv.value)["apiVersion"] == "autoscaling/v2"
    # and streamed converted to each watcher's version
    events = await _collect(v1.watch(None, start), 1)
    assert events[0].obj["apiVersion"] == "autoscaling/v1"
    assert events[0].obj["spec"]["targetCPUUtilizationPercentage"] == 70
