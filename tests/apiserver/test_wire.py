"""Wire fidelity of the API server: whole bodies however framed, protobuf bodies for every verb that
takes one, trailing slashes, and JSON bytes as upstream's serializer writes them.

Bodies are sent over raw loopback sockets, slowly and in pieces, so a reader that takes only what has
arrived (the bug these tests pin) fails them. Protobuf bodies are built here from the wire format of
``generated.proto`` (``k8s\\x00`` + ``runtime.Unknown``), independently of the decoder under test.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

pytestmark = pytest.mark.timeout(120)

MIB = 1024 * 1024


# --- protobuf wire format (encoder written for the tests) ------------------------------------------
def _varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _len_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _str_field(number: int, text: str) -> bytes:
    return _len_field(number, text.encode())


def _int_field(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _map_entry(number: int, key: str, value: bytes) -> bytes:
    return _len_field(number, _str_field(1, key) + _len_field(2, value))


def k8s_protobuf(api_version: str, kind: str, raw: bytes) -> bytes:
    """``k8s\\x00`` + runtime.Unknown{typeMeta{apiVersion, kind}, raw}, as client-go sends."""
    type_meta = _str_field(1, api_version) + _str_field(2, kind)
    return b"k8s\x00" + _len_field(1, type_meta) + _len_field(2, raw)


def object_meta(name: str, labels: dict[str, str] | None = None) -> bytes:
    """metav1.ObjectMeta: 1 name, 11 labels (map<string,string>)."""
    out = _str_field(1, name)
    for key, value in (labels or {}).items():
        out += _len_field(11, _str_field(1, key) + _str_field(2, value))
    return out


def secret_pb(name: str, data: dict[str, bytes], labels: dict[str, str] | None = None) -> bytes:
    """core/v1 Secret: 1 metadata, 2 data (map<string,bytes>), 3 type."""
    raw = _len_field(1, object_meta(name, labels))
    for key, value in data.items():
        raw += _map_entry(2, key, value)
    raw += _str_field(3, "helm.sh/release.v1")
    return k8s_protobuf("v1", "Secret", raw)


def delete_options_pb(
    api_version: str = "v1", *, propagation: str | None = None, grace: int | None = None
) -> bytes:
    """meta/v1 DeleteOptions: 1 gracePeriodSeconds, 4 propagationPolicy."""
    raw = b""
    if grace is not None:
        raw += _int_field(1, grace)
    if propagation is not None:
        raw += _str_field(4, propagation)
    return k8s_protobuf(api_version, "DeleteOptions", raw)


# --- raw HTTP over a loopback socket ----------------------------------------------------------------
async def raw_request(
    api: TestClient,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    content_type: str = "application/json",
    chunked: bool = False,
    piece: int = 64 * 1024,
    pause: float = 0.0,
    extra_headers: str = "",
) -> tuple[int, dict[str, str], bytes]:
    """Send one request with the body in ``piece``-sized writes ``pause`` seconds apart; read the answer."""
    assert api.server.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", api.server.port)
    try:
        framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}"
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
            f"Accept: application/json\r\n{framing}\r\n{extra_headers}Connection: close\r\n\r\n"
        )
        writer.write(head.encode())
        await writer.drain()
        for start in range(0, len(body), piece):
            chunk = body[start : start + piece]
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            await writer.drain()
            if pause:
                await asyncio.sleep(pause)
        if chunked:
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        raw = await asyncio.wait_for(reader.read(-1), timeout=60)
    finally:
        writer.close()
    head_bytes, _, payload = raw.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {
        k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)
    }
    if headers.get("transfer-encoding") == "chunked":
        payload = _dechunk(payload)
    return status, headers, payload


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2 :]
    return bytes(out)


def big_configmap(name: str, size: int) -> dict[str, Any]:
    # many keys, so a body cut anywhere is invalid JSON, and a value per key to check afterwards
    per = 8 * 1024
    data = {f"k{i:04d}": chr(97 + i % 26) * per for i in range(size // per)}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def big_secret(name: str, size: int) -> dict[str, Any]:
    """A Secret of ``size`` decoded bytes (under the 1 MiB object limit) whose JSON exceeds 1 MiB."""
    per = 8 * 1024
    data = {f"k{i:04d}": base64.b64encode(bytes([i % 256]) * per).decode() for i in range(size // per)}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": data}


# --- item 13: bodies are read to their end ---------------------------------------------------------
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_large_body_sent_slowly_in_pieces_is_read_whole(api: TestClient, chunked: bool) -> None:
    secret = big_secret("big-" + ("chunked" if chunked else "cl"), 960 * 1024)
    body = json.dumps(secret).encode()
    assert len(body) > 1.25 * MIB
    status, _, payload = await raw_request(
        api, "POST", "/api/v1/namespaces/default/secrets", body, chunked=chunked, piece=50_000, pause=0.01
    )
    assert status == 201, payload[:500]
    got = await api.get(f"/api/v1/namespaces/default/secrets/{secret['metadata']['name']}")
    assert (await got.json())["data"] == secret["data"]


async def test_put_and_patch_bodies_sent_slowly_are_read_whole(api: TestClient) -> None:
    created = await api.post("/api/v1/namespaces/default/secrets", json=big_secret("slow-update", 64 * 1024))
    assert created.status == 201
    secret = big_secret("slow-update", 800 * 1024)
    body = json.dumps(secret).encode()
    assert len(body) > MIB
    status, _, payload = await raw_request(
        api, "PUT", "/api/v1/namespaces/default/secrets/slow-update", body, piece=40_000, pause=0.005
    )
    assert status == 200, payload[:500]
    patch = {"data": {f"p{i:04d}": base64.b64encode(b"x" * 3072).decode() for i in range(60)}}
    status, _, payload = await raw_request(
        api,
        "PATCH",
        "/api/v1/namespaces/default/secrets/slow-update",
        json.dumps(patch).encode(),
        content_type="application/merge-patch+json",
        chunked=True,
        piece=30_000,
        pause=0.005,
    )
    assert status == 200, payload[:500]
    data = json.loads(payload)["data"]
    assert data["p0059"] == patch["data"]["p0059"] and data["k0099"] == secret["data"]["k0099"]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_body_over_3mib_is_413(api: TestClient, chunked: bool) -> None:
    body = json.dumps(big_configmap("too-big", 3 * MIB + 64 * 1024)).encode()
    assert len(body) > 3 * MIB
    status, _, payload = await raw_request(
        api, "POST", "/api/v1/namespaces/default/configmaps", body, chunked=chunked, piece=256 * 1024
    )
    assert status == 413
    status_obj = json.loads(payload)
    assert status_obj["reason"] == "RequestEntityTooLarge"
    assert status_obj["message"] == "Request entity too large: limit is 3145728"


# --- item 15: protobuf bodies for every verb that takes one ----------------------------------------
async def test_protobuf_secret_create_update_and_delete_options(api: TestClient) -> None:
    """Helm's release storage: Secret create/update in protobuf, DELETE with protobuf DeleteOptions."""
    release = base64.b64encode(b"H4sI" + bytes(range(256)) * 16)  # ~4.5 KB, as Helm's releases
    body = secret_pb(
        "sh.helm.release.v1.demo.v1", {"release": release}, {"owner": "helm", "status": "deployed"}
    )
    status, _, payload = await raw_request(
        api,
        "POST",
        "/api/v1/namespaces/default/secrets",
        body,
        content_type="application/vnd.kubernetes.protobuf",
        piece=1000,
        pause=0.002,
    )
    assert status == 201, payload
    created = json.loads(payload)
    assert base64.b64decode(created["data"]["release"]) == release
    assert created["metadata"]["labels"] == {"owner": "helm", "status": "deployed"}
    assert created["type"] == "helm.sh/release.v1"

    # update (PUT) in protobuf with resourceVersion in ObjectMeta (field 6)
    rv = created["metadata"]["resourceVersion"]
    raw = _len_field(
        1, object_meta("sh.helm.release.v1.demo.v1", {"status": "superseded"}) + _str_field(6, rv)
    )
    raw += _map_entry(2, "release", b"v2") + _str_field(3, "helm.sh/release.v1")
    status, _, payload = await raw_request(
        api,
        "PUT",
        "/api/v1/namespaces/default/secrets/sh.helm.release.v1.demo.v1",
        k8s_protobuf("v1", "Secret", raw),
        content_type="application/vnd.kubernetes.protobuf",
    )
    assert status == 200, payload
    assert json.loads(payload)["metadata"]["labels"] == {"status": "superseded"}

    status, _, payload = await raw_request(
        api,
        "DELETE",
        "/api/v1/namespaces/default/secrets/sh.helm.release.v1.demo.v1",
        delete_options_pb(propagation="Background"),
        content_type="application/vnd.kubernetes.protobuf",
    )
    assert status == 200, payload
    assert json.loads(payload)["status"] == "Success"
    gone = await api.get("/api/v1/namespaces/default/secrets/sh.helm.release.v1.demo.v1")
    assert gone.status == 404


async def test_protobuf_delete_options_are_honoured(api: TestClient) -> None:
    """The decoded options take effect: a bad propagationPolicy in protobuf is refused like in JSON."""
    await api.post(
        "/api/v1/namespaces/default/configmaps",
        json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "pb-del"}},
    )
    status, _, payload = await raw_request(
        api,
        "DELETE",
        "/api/v1/namespaces/default/configmaps/pb-del",
        delete_options_pb("meta.k8s.io/v1", propagation="Sideways"),
        content_type="application/vnd.kubernetes.protobuf",
    )
    assert status == 422, payload
    assert "propagationPolicy" in payload.decode()
    assert (await api.get("/api/v1/namespaces/default/configmaps/pb-del")).status == 200


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/vnd.kubernetes.protobuf", delete_options_pb(propagation="Background")),
        ("application/json", b'{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Background"}'),
        ("application/yaml", b"kind: DeleteOptions\napiVersion: v1\npropagationPolicy: Background\n"),
    ],
    ids=["protobuf", "json", "yaml"],
)
async def test_delete_collection_accepts_every_content_type(
    api: TestClient, content_type: str, body: bytes
) -> None:
    label = content_type.rsplit(".", 1)[-1].rsplit("/", 1)[-1]
    for i in range(2):
        resp = await api.post(
            "/api/v1/namespaces/default/configmaps",
            json={
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"dc-{label}-{i}", "labels": {"dc": label}},
            },
        )
        assert resp.status == 201
    status, _, payload = await raw_request(
        api,
        "DELETE",
        f"/api/v1/namespaces/default/configmaps?labelSelector=dc%3D{label}",
        body,
        content_type=content_type,
    )
    assert status == 200, payload
    assert len(json.loads(payload)["items"]) == 2
    left = await (await api.get(f"/api/v1/namespaces/default/configmaps?labelSelector=dc%3D{label}")).json()
    assert left["items"] == []


async def test_delete_with_unknown_content_type_is_415(api: TestClient) -> None:
    status, _, payload = await raw_request(
        api, "DELETE", "/api/v1/namespaces/default/configmaps/whatever", b"{}", content_type="text/csv"
    )
    assert status == 415, payload
    assert json.loads(payload)["reason"] == "UnsupportedMediaType"


# --- item 14: trailing slashes ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "/version/",
        "/api/",
        "/api/v1/",
        "/apis/",
        "/apis/apps/",
        "/apis/apps/v1/",
        "/healthz/",
        "/readyz/",
        "/livez/",
        "/api/v1/namespaces/",
        "/api/v1/namespaces/default/configmaps/",
    ],
)
async def test_one_trailing_slash_is_the_same_path(api: TestClient, path: str) -> None:
    with_slash = await api.get(path)
    without = await api.get(path.rstrip("/"))
    assert without.status == 200
    assert with_slash.status == 200, await with_slash.text()
    if path.startswith(("/healthz", "/readyz", "/livez")):
        assert await with_slash.text() == "ok"
    else:
        a, b = await with_slash.json(), await without.json()
        if "metadata" in a:  # lists: resourceVersion moves on between the two reads
            a["metadata"], b["metadata"] = {}, {}
        assert a == b


# --- item 7: JSON bytes as upstream's serializer writes them ---------------------------------------
async def test_not_found_status_bytes_match_upstream(api: TestClient) -> None:
    status, headers, payload = await raw_request(api, "GET", "/api/v1/namespaces/default/pods/nope")
    assert status == 404
    assert headers["content-type"].startswith("application/json")
    assert payload == (
        b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        b'"message":"pods \\"nope\\" not found","reason":"NotFound",'
        b'"details":{"name":"nope","kind":"pods"},"code":404}\n'
    )
    status, _, payload = await raw_request(api, "GET", "/apis/apps/v1/namespaces/default/deployments/nope")
    assert payload == (
        b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        b'"message":"deployments.apps \\"nope\\" not found","reason":"NotFound",'
        b'"details":{"name":"nope","group":"apps","kind":"deployments"},"code":404}\n'
    )


@pytest.mark.parametrize("path", ["/api/v1/nosuchresources", "/apis/apps/v1/namespaces/default/nosuch"])
async def test_generic_not_found_bytes_match_upstream(api: TestClient, path: str) -> None:
    """A path that names no resource: upstream's NewGenericServerResponse, with an empty details."""
    status, _, payload = await raw_request(api, "GET", path)
    assert status == 404
    assert payload == (
        b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        b'"message":"the server could not find the requested resource","reason":"NotFound",'
        b'"details":{},"code":404}\n'
    )


async def test_invalid_status_causes_in_go_order(api: TestClient) -> None:
    resp = await api.post(
        "/api/v1/namespaces/default/configmaps",
        json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}},
    )
    assert resp.status == 422
    raw = await resp.read()
    assert raw.endswith(b"}\n")
    status_obj = json.loads(raw)
    assert list(status_obj) == [
        "kind",
        "apiVersion",
        "metadata",
        "status",
        "message",
        "reason",
        "details",
        "code",
    ]
    assert list(status_obj["details"]) == ["name", "kind", "causes"]
    assert all(list(c) == ["reason", "message", "field"] for c in status_obj["details"]["causes"])


async def test_objects_lists_and_watch_events_in_go_order_with_newline(api: TestClient) -> None:
    # fields sent in an order unlike upstream's: status first, metadata last, labels unsorted
    body = (
        b'{"data":{"b":"2","a":"1 < 2 & 3 > 2"},"metadata":{"labels":{"z":"1","a":"2"},'
        b'"name":"ordered","namespace":"default"},"apiVersion":"v1","kind":"ConfigMap"}'
    )
    resp = await api.post(
        "/api/v1/namespaces/default/configmaps", data=body, headers={"Content-Type": "application/json"}
    )
    assert resp.status == 201
    raw = await resp.read()
    assert raw.endswith(b"}\n") and raw.count(b"\n") == 1
    assert raw.startswith(
        b'{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"ordered","namespace":"default","uid":'
    )
    assert b'"labels":{"a":"2","z":"1"}' in raw
    # Go's encoder escapes <, > and & in strings
    assert b"1 \\u003c 2 \\u0026 3 \\u003e 2" in raw and b"<" not in raw
    # Go prints map keys sorted: labels and a ConfigMap's data
    assert raw.endswith(b'"data":{"a":"1 \\u003c 2 \\u0026 3 \\u003e 2","b":"2"}}\n')
    created = json.loads(raw)
    assert list(created["metadata"])[:5] == [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ]

    got = await (await api.get("/api/v1/namespaces/default/configmaps/ordered")).read()
    assert got.endswith(b"}\n")
    assert list(json.loads(got)) == ["kind", "apiVersion", "metadata", "data"]

    listed = await (await api.get("/api/v1/namespaces/default/configmaps?labelSelector=z%3D1")).read()
    assert listed.endswith(b"]}\n")
    doc = json.loads(listed)
    assert list(doc) == ["kind", "apiVersion", "metadata", "items"]
    assert list(doc["items"][0]) == ["kind", "apiVersion", "metadata", "data"]
    assert list(doc["items"][0]["metadata"])[:4] == ["name", "namespace", "uid", "resourceVersion"]

    rv = created["metadata"]["resourceVersion"]
    async with api.get(
        f"/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={int(rv) - 1}&timeoutSeconds=2"
    ) as watch:
        line = await asyncio.wait_for(watch.content.readline(), timeout=10)
    assert line.endswith(b"}}\n")
    event = json.loads(line)
    assert list(event) == ["type", "object"]
    assert list(event["object"])[:3] == ["kind", "apiVersion", "metadata"]


async def test_version_is_indented_like_upstream(api: TestClient) -> None:
    raw = await (await api.get("/version")).read()
    assert raw.startswith(b'{\n  "major": "1",\n  "minor": ')
    assert raw.endswith(b"\n}")


def _creatable() -> list[Any]:
    from kybernetes.api.registry import BUILTIN_RESOURCES

    return [r for r in BUILTIN_RESOURCES if "create" in r.verbs and r.plural != "bindings"]


@pytest.mark.parametrize("info", _creatable(), ids=lambda r: f"{r.group or 'core'}.{r.kind}")
async def test_protobuf_create_answers_like_json_for_every_builtin_kind(api: TestClient, info: Any) -> None:
    """A minimal object POSTed in protobuf is decoded, not refused: it gets the answer (code, reason)
    the same object gets in JSON, for every built-in kind."""
    base = f"/api/{info.version}" if not info.group else f"/apis/{info.group}/{info.version}"
    path = f"{base}/namespaces/default/{info.plural}" if info.namespaced else f"{base}/{info.plural}"

    def name(fmt: str) -> str:
        return f"wire-{fmt}-{info.plural}"[:63]

    status, _, pb_payload = await raw_request(
        api,
        "POST",
        path,
        k8s_protobuf(info.group_version, info.kind, _len_field(1, object_meta(name("pb")))),
        content_type="application/vnd.kubernetes.protobuf",
    )
    js = await api.post(
        path, json={"apiVersion": info.group_version, "kind": info.kind, "metadata": {"name": name("js")}}
    )
    js_payload = await js.read()
    assert status not in (400, 415, 500), pb_payload
    assert status == js.status, (pb_payload, js_payload)
    pb_doc, js_doc = json.loads(pb_payload), json.loads(js_payload)
    if status == 201:
        assert pb_doc["metadata"]["name"] == name("pb")
        assert pb_doc["kind"] == info.kind
    else:
        # the causes may differ in detail: protobuf carries Go's zero values (``template: {}``) where
        # the JSON leaves a field out, and our validation reads the dicts as sent
        assert pb_doc["reason"] == js_doc["reason"]


async def test_protobuf_subresource_bodies_scale_and_eviction(api: TestClient) -> None:
    """kubectl scale and client-go's eviction send autoscaling/v1 Scale and policy/v1 Eviction in
    protobuf (the Eviction carrying a protobuf DeleteOptions)."""
    pb = "application/vnd.kubernetes.protobuf"
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "pb-scale"},
        "spec": {
            "selector": {"matchLabels": {"app": "pb"}},
            "template": {
                "metadata": {"labels": {"app": "pb"}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]},
            },
        },
    }
    assert (await api.post("/apis/apps/v1/namespaces/default/deployments", json=deployment)).status == 201
    scale = k8s_protobuf(
        "autoscaling/v1", "Scale", _len_field(1, object_meta("pb-scale")) + _len_field(2, _int_field(1, 4))
    )
    status, _, payload = await raw_request(
        api, "PUT", "/apis/apps/v1/namespaces/default/deployments/pb-scale/scale", scale, content_type=pb
    )
    assert status == 200, payload
    assert json.loads(payload)["spec"]["replicas"] == 4
    got = await (await api.get("/apis/apps/v1/namespaces/default/deployments/pb-scale")).json()
    assert got["spec"]["replicas"] == 4

    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "pb-evict"},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]},
    }
    assert (await api.post("/api/v1/namespaces/default/pods", json=pod)).status == 201
    delete_options = _int_field(1, 0)  # gracePeriodSeconds: 0
    eviction = k8s_protobuf(
        "policy/v1", "Eviction", _len_field(1, object_meta("pb-evict")) + _len_field(2, delete_options)
    )
    status, _, payload = await raw_request(
        api, "POST", "/api/v1/namespaces/default/pods/pb-evict/eviction", eviction, content_type=pb
    )
    assert status == 201, payload
    assert (await api.get("/api/v1/namespaces/default/pods/pb-evict")).status == 404
