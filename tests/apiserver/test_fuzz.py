"""Random bodies and patches thrown at a live server: it answers a Status (never a 500) and stays sane.

After every request the store must still hold exactly what the API says it holds: each stored object
decodes, carries the right kind of metadata, and a failed write changed nothing.

The examples are derandomised (the ``repro`` Hypothesis profile of ``tests/conftest.py``), so this
passes or fails on the code alone; ``make fuzz`` runs it with fresh random examples, many more of them.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import fuzz_examples

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.text(max_size=20))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
field_names = st.sampled_from(
    [
        "metadata",
        "spec",
        "status",
        "data",
        "kind",
        "apiVersion",
        "name",
        "labels",
        "containers",
        "replicas",
        "selector",
        "template",
        "$patch",
        "$setElementOrder/containers",
        "$retainKeys",
        "image",
        "ports",
    ]
)
structured = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(field_names, inner, max_size=4)),
    max_leaves=25,
)
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: orjson.dumps(v)),
    structured.map(lambda v: orjson.dumps(v)),
)
json_patch_ops = st.lists(
    st.fixed_dictionaries(
        {
            "op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "bogus"]),
            "path": st.sampled_from(
                ["/spec", "/spec/replicas", "/metadata/name", "/data/a", "/x/y", "", "/"]
            ),
        },
        optional={"value": json_values, "from": st.sampled_from(["/data", "/metadata/labels", "/nope"])},
    ),
    max_size=4,
).map(lambda v: orjson.dumps(v))

PATCH_TYPES = [
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
]
TARGETS = [
    ("/api/v1/namespaces/default/configmaps", "cm"),
    ("/apis/apps/v1/namespaces/default/deployments", "web"),
    ("/api/v1/namespaces/default/pods", "pod"),
]

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "i"}]},
        },
    },
}
CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "1"}}
POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "pod"},
    "spec": {"containers": [{"name": "c", "image": "i"}]},
}


async def _assert_status(resp: Any) -> dict[str, Any]:
    assert resp.status < 500, await resp.text()
    body = await resp.read()
    data = json.loads(body)
    if resp.status >= 400:
        assert data["kind"] == "Status" and data["code"] == resp.status and data["message"]
    return data


async def _snapshot(api: TestClient) -> dict[str, Any]:
    out = {}
    for path, _ in TARGETS:
        resp = await api.get(path)
        assert resp.status == 200
        for item in (await resp.json())["items"]:
            out[(path, item["metadata"]["name"])] = item
    return out


@settings(
    max_examples=fuzz_examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
async def test_random_writes_never_break_the_server(api: TestClient, data: st.DataObject) -> None:
    for path, obj in zip([t[0] for t in TARGETS], [CONFIGMAP, DEPLOYMENT, POD], strict=True):
        # the server lives across examples: the seed objects exist after the first one (then 409)
        exists = (await api.get(f"{path}/{obj['metadata']['name']}")).status == 200
        resp = await api.post(path, json=obj)
        assert resp.status == (409 if exists else 201), await resp.text()
    before = await _snapshot(api)
    path, name = data.draw(st.sampled_from(TARGETS))
    action = data.draw(st.sampled_from(["post", "put", "patch"]))
    if action == "post":
        body = data.draw(bodies)
        resp = await api.post(path, data=body, headers={"Content-Type": "application/json"})
    elif action == "put":
        body = data.draw(bodies)
        resp = await api.put(f"{path}/{name}", data=body, headers={"Content-Type": "application/json"})
    else:
        ctype = data.draw(st.sampled_from(PATCH_TYPES))
        body = data.draw(json_patch_ops if ctype == "application/json-patch+json" else bodies)
        resp = await api.patch(
            f"{path}/{name}", data=body, headers={"Content-Type": ctype}, params={"fieldManager": "fuzz"}
        )
    result = await _assert_status(resp)
    after = await _snapshot(api)
    if resp.status >= 400:
        assert after == before, "a failed write changed the store"
    else:
        for (_path, n), item in after.items():
            assert item["metadata"]["name"] == n and item["metadata"]["uid"]
            assert int(item["metadata"]["resourceVersion"]) > 0
        assert result.get("metadata", {}).get("name") or result.get("kind") == "Status"


async def test_oversized_body_is_refused(api: TestClient) -> None:
    big = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "big"},
        "data": {"a": "x" * (3 * 1024 * 1024)},
    }
    resp = await api.post(
        "/api/v1/namespaces/default/configmaps",
        data=orjson.dumps(big),
        headers={"Content-Type": "application/json"},
    )
    assert resp.status == 413
    status = await resp.json()
    assert status["reason"] == "RequestEntityTooLarge"
    resp = await api.get("/api/v1/namespaces/default/configmaps/big")
    assert resp.status == 404
