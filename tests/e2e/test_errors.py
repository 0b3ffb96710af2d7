"""Errors as kubectl and clients see them: Status bodies with the upstream reason, code and message."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import KybServer

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  a: b\n"

BAD_SELECTOR_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: mismatch}
spec:
  selector:
    matchLabels: {app: one}
  template:
    metadata:
      labels: {app: two}
    spec:
      containers:
      - name: c
        image: nginx
"""


def _status(resp) -> dict:
    assert resp.headers["content-type"].startswith("application/json"), resp.headers
    body = resp.json()
    assert body["kind"] == "Status" and body["apiVersion"] == "v1"
    assert body["status"] == "Failure"
    assert body["code"] == resp.status
    return body


def test_not_found(kyb: KybServer, ns: str) -> None:
    res = kyb.kubectl("get", "deployment", "x", "-n", ns, check=False)
    assert res.returncode != 0
    assert res.stderr.strip() == 'Error from server (NotFound): deployments.apps "x" not found'
    res = kyb.kubectl("get", "pod", "x", "-n", ns, check=False)
    assert res.stderr.strip() == 'Error from server (NotFound): pods "x" not found'
    body = _status(kyb.request("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/x"))
    assert body["reason"] == "NotFound" and body["code"] == 404
    assert body["message"] == 'deployments.apps "x" not found'
    assert body["details"] == {"name": "x", "group": "apps", "kind": "deployments"}


def test_already_exists(kyb: KybServer, ns: str) -> None:
    kyb.kubectl("create", "-n", ns, "-f", "-", input=CM.format(name="dup"))
    res = kyb.kubectl("create", "-n", ns, "-f", "-", input=CM.format(name="dup"), check=False)
    assert res.returncode != 0
    assert "Error from server (AlreadyExists)" in res.stderr
    assert 'configmaps "dup" already exists' in res.stderr
    body = _status(
        kyb.request(
            "POST",
            f"/api/v1/namespaces/{ns}/configmaps",
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dup"}},
        )
    )
    assert body["code"] == 409 and body["reason"] == "AlreadyExists"
    assert body["details"]["name"] == "dup" and body["details"]["kind"] == "configmaps"


def test_conflict_on_stale_resource_version(kyb: KybServer, ns: str) -> None:
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    with kyb.api_client() as api:
        core = client.CoreV1Api(api)
        core.create_namespaced_config_map(
            ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cas"), data={"v": "0"})
        )
        first = core.read_namespaced_config_map("cas", ns)
        second = core.read_namespaced_config_map("cas", ns)
        first.data = {"v": "1"}
        core.replace_namespaced_config_map("cas", ns, first)
        second.data = {"v": "2"}
        with pytest.raises(ApiException) as info:
            core.replace_namespaced_config_map("cas", ns, second)
        assert info.value.status == 409
        body = json.loads(info.value.body)
        assert body["reason"] == "Conflict"
        assert body["message"] == (
            'Operation cannot be fulfilled on configmaps "cas": the object has been modified; '
            "please apply your changes to the latest version and try again"
        )
        assert core.read_namespaced_config_map("cas", ns).data == {"v": "1"}


def test_update_without_resource_version_is_unconditional(kyb: KybServer, ns: str) -> None:
    kyb.kubectl("create", "configmap", "uncond", "-n", ns, "--from-literal=v=0")
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "uncond"}, "data": {"v": "9"}}
    resp = kyb.request("PUT", f"/api/v1/namespaces/{ns}/configmaps/uncond", body)
    assert resp.status == 200, resp.body
    assert resp.json()["data"] == {"v": "9"}


def test_update_name_mismatch_is_bad_request(kyb: KybServer, ns: str) -> None:
    kyb.kubectl("create", "configmap", "right", "-n", ns)
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "wrong"}}
    resp = kyb.request("PUT", f"/api/v1/namespaces/{ns}/configmaps/right", body)
    assert resp.status == 400
    assert _status(resp)["reason"] == "BadRequest"


def test_invalid_name(kyb: KybServer, ns: str) -> None:
    res = kyb.kubectl("create", "-n", ns, "-f", "-", input=CM.format(name="Bad_Name"), check=False)
    assert res.returncode != 0
    assert 'The ConfigMap "Bad_Name" is invalid' in res.stderr
    assert 'metadata.name: Invalid value: "Bad_Name"' in res.stderr
    assert "a lowercase RFC 1123 subdomain" in res.stderr
    resp = kyb.request(
        "POST",
        f"/api/v1/namespaces/{ns}/configmaps",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}},
    )
    body = _status(resp)
    assert resp.status == 422 and body["reason"] == "Invalid"
    assert body["details"]["name"] == "Bad_Name" and body["details"]["kind"] == "ConfigMap"
    causes = body["details"]["causes"]
    assert any(c["reason"] == "FieldValueInvalid" and c["field"] == "metadata.name" for c in causes), causes
    listed = kyb.kubectl("get", "cm", "-n", ns, "-o", "name").stdout
    assert "Bad_Name" not in listed


def test_pod_without_image_is_invalid(kyb: KybServer, ns: str) -> None:
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    with kyb.api_client() as api:
        core = client.CoreV1Api(api)
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "noimage"},
            "spec": {"containers": [{"name": "c"}]},
        }
        with pytest.raises(ApiException) as info:
            core.create_namespaced_pod(ns, pod)
        assert info.value.status == 422
        body = json.loads(info.value.body)
        assert body["reason"] == "Invalid"
        assert body["message"].startswith('Pod "noimage" is invalid')
        causes = body["details"]["causes"]
        assert any(
            c["field"] == "spec.containers[0].image" and c["reason"] == "FieldValueRequired" for c in causes
        ), causes
        with pytest.raises(ApiException) as missing:
            core.read_namespaced_pod("noimage", ns)
        assert missing.value.status == 404


def test_deployment_selector_must_match_template(kyb: KybServer, ns: str) -> None:
    res = kyb.kubectl("create", "-n", ns, "-f", "-", input=BAD_SELECTOR_DEPLOYMENT, check=False)
    assert res.returncode != 0
    assert 'The Deployment "mismatch" is invalid' in res.stderr
    assert "spec.template.metadata.labels" in res.stderr
    assert "`selector` does not match template `labels`" in res.stderr
    assert kyb.kubectl("get", "deploy", "mismatch", "-n", ns, check=False).returncode != 0


def test_deployment_invalid_causes_listed(kyb: KybServer, ns: str) -> None:
    resp = kyb.request(
        "POST",
        f"/apis/apps/v1/namespaces/{ns}/deployments",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "multi-bad"},
            "spec": {
                "replicas": -2,
                "selector": {"matchLabels": {"app": "x"}},
                "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c"}]}},
            },
        },
    )
    assert resp.status == 422
    fields = {c["field"] for c in _status(resp)["details"]["causes"]}
    assert {"spec.replicas", "spec.template.spec.containers[0].image"} <= fields


def test_unknown_field_strict_with_create_f(kyb: KybServer, ns: str) -> None:
    manifest = CM.format(name="strict") + "bogus: 1\n"
    res = kyb.kubectl("create", "-n", ns, "-f", "-", input=manifest, check=False)
    assert res.returncode != 0
    assert 'unknown field "bogus"' in res.stderr
    assert "strict decoding error" in res.stderr
    assert kyb.kubectl("get", "cm", "strict", "-n", ns, check=False).returncode != 0
    nested = CM.format(name="strict").replace("  name: strict\n", "  name: strict\n  labelz: {a: b}\n")
    res = kyb.kubectl("create", "-n", ns, "-f", "-", input=nested, check=False)
    assert res.returncode != 0
    assert 'unknown field "metadata.labelz"' in res.stderr


def test_unknown_field_warn_and_ignore(kyb: KybServer, ns: str) -> None:
    manifest = CM.format(name="{name}") + "bogus: 1\n"
    warned = kyb.kubectl(
        "create", "-n", ns, "--validate=warn", "-f", "-", input=manifest.format(name="warned")
    )
    assert warned.stdout.strip() == "configmap/warned created"
    assert 'Warning: unknown field "bogus"' in warned.stderr
    ignored = kyb.kubectl(
        "create", "-n", ns, "--validate=false", "-f", "-", input=manifest.format(name="ignored")
    )
    assert ignored.stdout.strip() == "configmap/ignored created"
    assert "bogus" not in ignored.stderr
    for name in ("warned", "ignored"):
        assert "bogus" not in kyb.kubectl_json("get", "cm", name, "-n", ns)


def test_unknown_field_default_is_warn(kyb: KybServer, ns: str) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dflt"}, "bogus": 1}
    resp = kyb.request("POST", f"/api/v1/namespaces/{ns}/configmaps", body)
    assert resp.status == 201, resp.body
    assert resp.warnings == ['299 - "unknown field \\"bogus\\""'], resp.warnings
    assert resp.warnings[0].startswith("299 ")
    assert "bogus" not in resp.json()


def test_malformed_json_is_bad_request(kyb: KybServer, ns: str) -> None:
    resp = kyb.request("POST", f"/api/v1/namespaces/{ns}/configmaps", b'{"apiVersion": "v1", "kind": ')
    assert resp.status == 400
    assert _status(resp)["reason"] == "BadRequest"
    yaml_resp = kyb.request(
        "POST",
        f"/api/v1/namespaces/{ns}/configmaps",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n",
        content_type="application/yaml",
    )
    assert yaml_resp.status == 400
    assert _status(yaml_resp)["reason"] == "BadRequest"
    wrong_type = kyb.request(
        "POST",
        f"/api/v1/namespaces/{ns}/configmaps",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "wt"}, "data": "not-a-map"},
    )
    assert wrong_type.status == 400
    assert _status(wrong_type)["reason"] == "BadRequest"


def test_malformed_body_via_python_client(kyb: KybServer, ns: str) -> None:
    with kyb.api_client() as api:
        url = f"{api.configuration.host}/api/v1/namespaces/{ns}/configmaps"
        headers = {"Accept": "application/json", "Authorization": f"Bearer {kyb._kubeconfig_parts()[2]}"}
        # a JSON document that is not an object
        resp = api.call_api(
            "POST", url, header_params={**headers, "Content-Type": "application/json"}, body="{x"
        )
        assert resp.status == 400
        resp.read()
        assert json.loads(resp.data)["reason"] == "BadRequest"
        # YAML that does not parse
        resp = api.call_api(
            "POST",
            url,
            header_params={**headers, "Content-Type": "application/yaml"},
            body="metadata: [unclosed\n",
        )
        assert resp.status == 400
        resp.read()
        assert json.loads(resp.data)["reason"] == "BadRequest"


def test_python_client_create_sends_no_content_type(kyb: KybServer, ns: str) -> None:
    """The official client (v37) sends create/replace bodies without Content-Type; upstream reads them as JSON."""
    resp = kyb.request(
        "POST",
        f"/api/v1/namespaces/{ns}/configmaps",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "no-ctype"}},
        content_type="",
    )
    assert resp.status == 201, resp.body


def test_kind_mismatch_is_bad_request(kyb: KybServer, ns: str) -> None:
    resp = kyb.request(
        "POST",
        f"/api/v1/namespaces/{ns}/configmaps",
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "k"}},
    )
    assert resp.status == 400
    assert _status(resp)["reason"] == "BadRequest"


def test_create_in_missing_namespace(kyb: KybServer) -> None:
    res = kyb.kubectl("create", "-n", "no-such-ns", "-f", "-", input=CM.format(name="x"), check=False)
    assert res.returncode != 0
    assert (
        'Error from server (NotFound): error when creating "STDIN": namespaces "no-such-ns" not found'
        in res.stderr
    )
    body = _status(
        kyb.request(
            "POST",
            "/api/v1/namespaces/no-such-ns/configmaps",
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}},
        )
    )
    assert body["code"] == 404 and body["reason"] == "NotFound"
    assert body["message"] == 'namespaces "no-such-ns" not found'


def test_namespace_mismatch_between_url_and_body(kyb: KybServer, ns: str) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m", "namespace": "other"}}
    resp = kyb.request("POST", f"/api/v1/namespaces/{ns}/configmaps", body)
    assert resp.status == 400
    assert "does not match the namespace" in _status(resp)["message"]


def test_unknown_path_is_404_status(kyb: KybServer) -> None:
    resp = kyb.request("GET", "/apis/nothing.example.com/v1/widgets")
    assert resp.status == 404
    resp = kyb.request("GET", "/api/v1/flurbs")
    assert resp.status == 404
    assert _status(resp)["reason"] == "NotFound"


def test_method_not_allowed(kyb: KybServer, ns: str) -> None:
    resp = kyb.request(
        "POST", f"/api/v1/namespaces/{ns}/configmaps/named", {"apiVersion": "v1", "kind": "ConfigMap"}
    )
    assert resp.status == 405
    assert _status(resp)["reason"] == "MethodNotAllowed"


def test_unauthenticated_is_401(kyb: KybServer) -> None:
    import http.client
    import ssl
    from urllib.parse import urlsplit

    server, ca, _token = kyb._kubeconfig_parts()
    parts = urlsplit(server)
    conn = http.client.HTTPSConnection(
        parts.hostname or "", parts.port, context=ssl.create_default_context(cadata=ca.decode()), timeout=10
    )
    try:
        conn.request("GET", "/api/v1/namespaces", headers={"Authorization": "Bearer wrong"})
        resp = conn.getresponse()
        body = json.loads(resp.read())
    finally:
        conn.close()
    assert resp.status == 401
    assert body["reason"] == "Unauthorized"
