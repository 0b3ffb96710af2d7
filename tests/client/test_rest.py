"""ResourceClient verbs, Status errors and retries against the in-process API server over HTTP."""

from __future__ import annotations

import asyncio
import time

import pytest

from kybernetes.api.errors import StatusError
from kybernetes.client import (
    ApiClient,
    ApiConnectionError,
    ResourceExpiredError,
    RetryPolicy,
    status_error_from,
)
from tests.client.conftest import FAST_RETRY, Server, TcpProxy, configmap, pod


async def test_crud_roundtrip(api: ApiClient) -> None:
    cms = api.configmaps
    created = await cms.create(configmap("one", a="1"))
    assert created["metadata"]["uid"] and created["data"] == {"a": "1"}
    got = await cms.get("one", namespace="default")
    assert got["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]

    got["data"]["b"] = "2"
    updated = await cms.update(got)
    assert updated["data"] == {"a": "1", "b": "2"}

    merged = await cms.patch("one", {"data": {"a": None, "c": "3"}}, namespace="default")
    assert merged["data"] == {"b": "2", "c": "3"}
    jsonp = await cms.patch(
        "one", [{"op": "replace", "path": "/data/b", "value": "20"}], namespace="default", patch_type="json"
    )
    assert jsonp["data"]["b"] == "20"

    listed = await cms.list(namespace="default")
    assert listed["kind"] == "ConfigMapList"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["one"]

    await cms.delete("one", namespace="default")
    with pytest.raises(StatusError) as exc:
        await cms.get("one", namespace="default")
    assert exc.value.code == 404 and exc.value.reason == "NotFound"
    assert exc.value.name == "one" and exc.value.kind == "configmaps"


async def test_errors_become_status_errors(api: ApiClient) -> None:
    cms = api.configmaps
    first = await cms.create(configmap("dup"))
    with pytest.raises(StatusError) as exists:
        await cms.create(configmap("dup"))
    assert (exists.value.code, exists.value.reason) == (409, "AlreadyExists")

    stale = dict(first, data={"x": "1"})
    await cms.update(dict(first, data={"x": "0"}))
    with pytest.raises(StatusError) as conflict:
        await cms.update(stale)
    assert (conflict.value.code, conflict.value.reason) == (409, "Conflict")

    with pytest.raises(StatusError) as invalid:
        await cms.create(configmap("Not_Valid"))
    assert invalid.value.code == 422 and invalid.value.reason == "Invalid"
    assert any(c.field == "metadata.name" for c in invalid.value.causes)

    with pytest.raises(StatusError) as bad:
        await api.pods.list(label_selector="a in (")
    assert bad.value.code == 400

    with pytest.raises(ValueError):
        await cms.get("dup")  # namespaced resource without a namespace


async def test_list_selectors_and_pagination(api: ApiClient) -> None:
    for i in range(7):
        await api.pods.create(pod(f"p{i}", labels={"app": "web" if i % 2 else "db", "i": str(i)}))
    web = await api.pods.list(namespace="default", label_selector="app=web")
    assert sorted(p["metadata"]["name"] for p in web["items"]) == ["p1", "p3", "p5"]
    by_field = await api.pods.list(field_selector="metadata.name=p4")
    assert [p["metadata"]["name"] for p in by_field["items"]] == ["p4"]

    page = await api.pods.list(namespace="default", limit=3)
    assert len(page["items"]) == 3 and page["metadata"]["continue"]
    rest = await api.pods.list(namespace="default", limit=10, continue_=page["metadata"]["continue"])
    assert len(rest["items"]) == 4
    items, rv = await api.pods.list_all(page_size=2)
    assert len(items) == 7 and int(rv) > 0


async def test_server_side_apply_and_strategic(api: ApiClient) -> None:
    cm = configmap("applied", k="v1")
    out = await api.configmaps.apply(cm, field_manager="one")
    assert out["data"] == {"k": "v1"}
    with pytest.raises(StatusError) as conflict:
        await api.configmaps.apply(configmap("applied", k="v2"), field_manager="two")
    assert conflict.value.code == 409
    forced = await api.configmaps.apply(configmap("applied", k="v2"), field_manager="two", force=True)
    assert forced["data"] == {"k": "v2"}

    await api.pods.create(pod("sp"))
    patched = await api.pods.patch(
        "sp",
        {"spec": {"containers": [{"name": "c", "image": "busybox:2"}]}},
        namespace="default",
        patch_type="strategic",
    )
    assert patched["spec"]["containers"][0]["image"] == "busybox:2"
    with pytest.raises(ValueError):
        await api.configmaps.patch("applied", {}, namespace="default", patch_type="apply")


async def test_delete_options(api: ApiClient) -> None:
    created = await api.configmaps.create(configmap("pre"))
    with pytest.raises(StatusError) as conflict:
        await api.configmaps.delete("pre", namespace="default", preconditions={"uid": "not-the-uid"})
    assert conflict.value.code == 409
    dry = await api.configmaps.delete("pre", namespace="default", dry_run=True)
    assert dry
    await api.configmaps.get("pre", namespace="default")
    await api.configmaps.delete(
        "pre",
        namespace="default",
        preconditions={"uid": created["metadata"]["uid"]},
        propagation_policy="Background",
        grace_period_seconds=0,
    )
    with pytest.raises(StatusError):
        await api.configmaps.get("pre", namespace="default")


async def test_subresources(api: ApiClient) -> None:
    await api.nodes.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
    await api.pods.create(pod("bind-me"))
    await api.pods.create_subresource(
        "bind-me",
        "binding",
        {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": "bind-me"},
            "target": {"kind": "Node", "name": "n1"},
        },
        namespace="default",
    )
    bound = await api.pods.get("bind-me", namespace="default")
    assert bound["spec"]["nodeName"] == "n1"

    bound["status"] = {"phase": "Running"}
    status = await api.pods.update_status(bound)
    assert status["status"]["phase"] == "Running"
    patched = await api.pods.patch(
        "bind-me", {"status": {"message": "hi"}}, namespace="default", subresource="status"
    )
    assert patched["status"]["message"] == "hi"

    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "default"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "d"}},
            "template": {
                "metadata": {"labels": {"app": "d"}},
                "spec": {"containers": [{"name": "c", "image": "x"}]},
            },
        },
    }
    await api.resource("apps", "v1", "deployments").create(deployment)
    scale = await api.deployments.get_scale("d", namespace="default")
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 1
    await api.deployments.scale("d", 4, namespace="default")
    assert (await api.deployments.get("d", namespace="default"))["spec"]["replicas"] == 4

    await api.pods.create_subresource(
        "bind-me",
        "eviction",
        {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": "bind-me", "namespace": "default"},
        },
        namespace="default",
    )
    try:
        got = await api.pods.get("bind-me", namespace="default")
    except StatusError as exc:
        assert exc.code == 404
    else:
        assert got["metadata"].get("deletionTimestamp")  # graceful deletion may keep it a while


async def test_resource_addressing(api: ApiClient) -> None:
    assert api.pods.path("ns", "p", "binding") == "/api/v1/namespaces/ns/pods/p/binding"
    assert api.nodes.path(None, "n") == "/api/v1/nodes/n"
    assert api.deployments.path("ns") == "/apis/apps/v1/namespaces/ns/deployments"
    assert api.resource("apps", "v1", "deployments") is api.deployments
    assert api.client_for(api.leases.info) is api.leases
    custom = api.resource("example.com", "v1", "widgets", namespaced=True, kind="Widget")
    assert custom.path("ns", "w") == "/apis/example.com/v1/namespaces/ns/widgets/w"
    with pytest.raises(ValueError):
        api.resource("example.com", "v1", "gadgets")
    with pytest.raises(AttributeError):
        api.not_a_resource  # noqa: B018


async def test_watch_events_and_bookmarks(api: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from kybernetes.apiserver import handlers

    monkeypatch.setattr(handlers, "BOOKMARK_INTERVAL", 0.2)
    start = await api.configmaps.list(namespace="default")
    rv = start["metadata"]["resourceVersion"]
    seen: list[tuple[str, str]] = []
    async with api.configmaps.watch(namespace="default", resource_version=rv, timeout_seconds=5) as stream:

        async def writer() -> None:
            await api.configmaps.create(configmap("w1"))
            await api.configmaps.patch("w1", {"data": {"a": "b"}}, namespace="default")
            await api.configmaps.delete("w1", namespace="default")

        task = asyncio.create_task(writer())
        async for event in stream:
            seen.append((event.type, event.object["metadata"].get("name", "")))
            if event.type == "BOOKMARK" and len(seen) > 3:
                break
        await task
        last_rv = stream.resource_version
    assert seen[:3] == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]
    assert seen[-1][0] == "BOOKMARK"
    assert last_rv and int(last_rv) > int(rv)


async def test_watch_expired_raises(api: ApiClient, server: Server) -> None:
    rv = (await api.configmaps.list(namespace="default"))["metadata"]["resourceVersion"]
    for i in range(3):
        await api.configmaps.create(configmap(f"c{i}"))
    await server.ctx.store.compact(await server.ctx.store.current_revision())
    with pytest.raises(ResourceExpiredError) as exc:
        async for _ in api.configmaps.watch(namespace="default", resource_version=rv, timeout_seconds=5):
            pass
    assert exc.value.code == 410
    assert isinstance(exc.value, StatusError)


async def test_retries_on_429_and_5xx(api: ApiClient, server: Server) -> None:
    server.faults.inject(429, 2, headers={"Retry-After": "0"})
    await api.configmaps.create(configmap("after-429"))  # 429 is retried even for create
    assert server.faults.served == 2

    server.faults.inject(503, 2)
    assert (await api.configmaps.get("after-429", namespace="default"))["metadata"]["name"] == "after-429"

    server.faults.inject(503, 1)
    with pytest.raises(StatusError) as exc:  # a create that may have happened is not retried
        await api.configmaps.create(configmap("after-503"))
    assert exc.value.code == 503

    server.faults.inject(500, 10)
    started = time.monotonic()
    with pytest.raises(StatusError):
        await api.configmaps.get("after-429", namespace="default")
    assert time.monotonic() - started < 3
    assert len(server.faults.answers) == 10 - FAST_RETRY.max_attempts
    server.faults.answers.clear()


async def test_retries_on_connection_failure(server: Server, proxy: TcpProxy) -> None:
    policy = RetryPolicy(max_attempts=20, base_delay=0.02, max_delay=0.1, max_elapsed=5.0)
    async with ApiClient(proxy.url, retry=policy) as api:
        await api.configmaps.create(configmap("before"))
        await proxy.cut()

        async def heal() -> None:
            await asyncio.sleep(0.3)
            await proxy.restore()

        task = asyncio.create_task(heal())
        # nothing could be sent while cut: even a create is retried until the server is back
        created = await api.configmaps.create(configmap("during"))
        assert created["metadata"]["name"] == "during"
        await task

    async with ApiClient(proxy.url, retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_elapsed=1)) as api:
        await proxy.cut()
        started = time.monotonic()
        with pytest.raises(ApiConnectionError):
            await api.configmaps.get("before", namespace="default")
        assert time.monotonic() - started < 2


def test_status_error_parsing() -> None:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": 'ConfigMap "x" is invalid: data: bad',
        "reason": "Invalid",
        "code": 422,
        "details": {
            "name": "x",
            "kind": "ConfigMap",
            "causes": [{"reason": "FieldValueInvalid", "message": "bad", "field": "data"}],
            "retryAfterSeconds": 3,
        },
    }
    err = status_error_from(422, body)
    assert (err.code, err.reason, err.name, err.kind, err.retry_after_seconds) == (
        422,
        "Invalid",
        "x",
        "ConfigMap",
        3,
    )
    assert err.causes[0].field == "data" and err.causes[0].message == "bad"
    plain = status_error_from(502, b"<html>bad gateway</html>", {"Retry-After": "7"})
    assert (plain.code, plain.reason, plain.retry_after_seconds) == (502, "Unknown", 7)
    assert "bad gateway" in plain.message
    assert isinstance(status_error_from(410, b""), ResourceExpiredError)


def test_retry_policy_delays() -> None:
    policy = RetryPolicy(base_delay=0.1, max_delay=1.0, jitter=0.5)
    delays = [policy.delay(n) for n in range(1, 8)]
    assert all(0.05 <= d <= 1.0 for d in delays)
    assert delays[-1] >= 0.5  # capped growth
    assert policy.delay(1, retry_after=3) == 3
    assert policy.delay(1, retry_after=100) == policy.max_retry_after
