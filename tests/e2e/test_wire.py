"""Wire fidelity against a running ``kyb server`` over HTTPS: large bodies through kubectl, the official
client and slow chunked uploads; protobuf DeleteOptions as Helm sends them; trailing slashes as
clients that join ``base + "/" + path`` send them; Status bytes as upstream writes them.
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.apiserver.test_wire import delete_options_pb, secret_pb
from tests.e2e.conftest import KybServer

pytestmark = pytest.mark.timeout(300)

MIB = 1024 * 1024


def test_kubectl_create_f_900kb_configmap(kyb_sqlite: KybServer, ns: str, tmp_path: Path) -> None:
    data = {f"key-{i:03d}": (chr(97 + i % 26) * 9000) for i in range(100)}  # 900 KB of data
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"}, "data": data}
    path = tmp_path / "big.json"
    path.write_text(json.dumps(manifest))
    assert path.stat().st_size > 900_000
    out = kyb_sqlite.kubectl("create", "-n", ns, "-f", str(path), timeout=120).stdout
    assert out.strip() == "configmap/big created"
    got = kyb_sqlite.kubectl_json("get", "-n", ns, "configmap", "big")
    assert got["data"] == data


def test_official_client_large_secret_and_delete_options(kyb_sqlite: KybServer, ns: str) -> None:
    from kubernetes import client

    core = client.CoreV1Api(kyb_sqlite.api_client())
    payload = {f"k{i:03d}": base64.b64encode(bytes([i]) * 9000).decode() for i in range(110)}
    body = client.V1Secret(metadata=client.V1ObjectMeta(name="big-secret"), data=payload)
    assert len(json.dumps(payload)) > 1.25 * MIB
    created = core.create_namespaced_secret(ns, body)
    assert created.data == payload
    replaced = core.replace_namespaced_secret(
        "big-secret", ns, client.V1Secret(metadata=created.metadata, data={**payload, "extra": "eA=="})
    )
    assert replaced.data["extra"] == "eA==" and replaced.data["k109"] == payload["k109"]
    status = core.delete_namespaced_secret(
        "big-secret", ns, body=client.V1DeleteOptions(propagation_policy="Background", grace_period_seconds=0)
    )
    assert status["status"] == "Success"  # this client returns DELETE answers as a plain dict


def _https(kyb: KybServer) -> tuple[http.client.HTTPSConnection, str]:
    server, ca, token = kyb._kubeconfig_parts()
    parts = urlsplit(server)
    ctx = ssl.create_default_context(cadata=ca.decode())
    return http.client.HTTPSConnection(
        parts.hostname or "127.0.0.1", parts.port, context=ctx, timeout=60
    ), token


def test_slow_chunked_upload_over_tls(kyb_sqlite: KybServer, ns: str) -> None:
    data = {f"k{i:03d}": base64.b64encode(bytes([i]) * 8192).decode() for i in range(110)}
    body = json.dumps(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "slow"}, "data": data}
    ).encode()
    assert len(body) > MIB

    def pieces() -> Iterator[bytes]:
        for start in range(0, len(body), 32 * 1024):
            yield body[start : start + 32 * 1024]
            time.sleep(0.01)  # pace the upload: the server sees the body arrive over ~0.4 s

    conn, token = _https(kyb_sqlite)
    try:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        conn.request(
            "POST", f"/api/v1/namespaces/{ns}/secrets", body=pieces(), headers=headers, encode_chunked=True
        )
        resp = conn.getresponse()
        answer = resp.read()
    finally:
        conn.close()
    assert resp.status == 201, answer[:500]
    assert json.loads(answer)["data"] == data


def test_helm_style_protobuf_secret_and_delete_options(kyb_sqlite: KybServer, ns: str) -> None:
    pb = "application/vnd.kubernetes.protobuf"
    release = base64.b64encode(bytes(range(256)) * 13)  # ~4.4 KB, as Helm's release payloads
    name = "sh.helm.release.v1.demo.v1"
    created = kyb_sqlite.request(
        "POST",
        f"/api/v1/namespaces/{ns}/secrets",
        secret_pb(name, {"release": release}, {"owner": "helm"}),
        content_type=pb,
    )
    assert created.status == 201, created.body
    assert base64.b64decode(created.json()["data"]["release"]) == release
    deleted = kyb_sqlite.request(
        "DELETE",
        f"/api/v1/namespaces/{ns}/secrets/{name}",
        delete_options_pb(propagation="Background"),
        content_type=pb,
    )
    assert deleted.status == 200, deleted.body
    assert deleted.json()["status"] == "Success"
    listed = kyb_sqlite.kubectl_json("get", "-n", ns, "secrets", "-l", "owner=helm")
    assert listed["items"] == []


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
    ],
)
def test_trailing_slash_paths_answer(kyb_sqlite: KybServer, path: str) -> None:
    resp = kyb_sqlite.request("GET", path)
    assert resp.status == 200, resp.body[:300]
    same = kyb_sqlite.request("GET", path.rstrip("/"))
    assert resp.body == same.body


def test_kubectl_get_raw_with_trailing_slash(kyb_sqlite: KybServer) -> None:
    doc = json.loads(kyb_sqlite.kubectl("get", "--raw", "/apis/apps/v1/").stdout)
    assert doc["kind"] == "APIResourceList" and doc["groupVersion"] == "apps/v1"
    assert kyb_sqlite.kubectl("get", "--raw", "/readyz/").stdout == "ok"


def test_not_found_status_bytes(kyb_sqlite: KybServer, ns: str) -> None:
    resp = kyb_sqlite.request("GET", f"/api/v1/namespaces/{ns}/configmaps/missing")
    assert resp.status == 404
    assert resp.body == (
        b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        b'"message":"configmaps \\"missing\\" not found","reason":"NotFound",'
        b'"details":{"name":"missing","kind":"configmaps"},"code":404}\n'
    )
    # kubectl prints upstream's message from that body
    out = kyb_sqlite.kubectl("get", "-n", ns, "configmap", "missing", check=False)
    assert out.returncode == 1
    assert 'Error from server (NotFound): configmaps "missing" not found' in out.stderr
