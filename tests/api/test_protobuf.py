"""Tests for ``kybernetes.api.protobuf``: kubectl's protobuf create bodies decode to its JSON.

The kubectl tests start a tiny capturing HTTP server on 127.0.0.1, point kubectl at it, capture the
``application/vnd.kubernetes.protobuf`` POST of each typed ``kubectl create`` subcommand, decode it,
and compare with what ``kubectl create ... --dry-run=client -o json`` prints for the same command.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kybernetes.api.errors import StatusError
from kybernetes.api.protobuf import (
    MAGIC,
    decode_k8s_protobuf,
    decode_message,
    go_duration,
    is_protobuf_content_type,
    message_name,
)

# --------------------------------------------------------------------------------------------------
# A minimal protobuf encoder for hand-made messages
# --------------------------------------------------------------------------------------------------


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def vfield(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def lfield(number: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return varint(number << 3 | 2) + varint(len(data)) + data


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = lfield(1, api_version) + lfield(2, kind)
    return MAGIC + lfield(1, type_meta) + lfield(2, raw)


def meta(name: str) -> bytes:
    return lfield(1, name)


# --------------------------------------------------------------------------------------------------
# Hand-made messages
# --------------------------------------------------------------------------------------------------


def test_content_type() -> None:
    assert is_protobuf_content_type("application/vnd.kubernetes.protobuf")
    assert is_protobuf_content_type("Application/Vnd.Kubernetes.Protobuf; charset=x")
    assert not is_protobuf_content_type("application/json")
    assert not is_protobuf_content_type(None)
    assert not is_protobuf_content_type("")


@pytest.mark.parametrize(
    ("api_version", "kind", "name"),
    [
        ("apps/v1", "Deployment", "k8s.io.api.apps.v1.Deployment"),
        ("v1", "Namespace", "k8s.io.api.core.v1.Namespace"),
        ("rbac.authorization.k8s.io/v1", "Role", "k8s.io.api.rbac.v1.Role"),
        ("scheduling.k8s.io/v1", "PriorityClass", "k8s.io.api.scheduling.v1.PriorityClass"),
        ("policy/v1", "PodDisruptionBudget", "k8s.io.api.policy.v1.PodDisruptionBudget"),
        ("autoscaling/v2", "HorizontalPodAutoscaler", "k8s.io.api.autoscaling.v2.HorizontalPodAutoscaler"),
        ("networking.k8s.io/v1", "Ingress", "k8s.io.api.networking.v1.Ingress"),
        (
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
        ),
        ("v1", "DeleteOptions", "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions"),
        ("example.com/v1", "Widget", None),
    ],
)
def test_message_name(api_version: str, kind: str, name: str | None) -> None:
    assert message_name(api_version, kind) == name


def test_pointer_zero_is_kept_and_plain_zero_dropped() -> None:
    # DeploymentSpec: replicas *int32 (pointer) = 0, minReadySeconds int32 omitempty = 0.
    spec = vfield(1, 0) + vfield(5, 0)
    body = envelope("apps/v1", "Deployment", lfield(1, meta("d")) + lfield(2, spec))
    obj = decode_k8s_protobuf(body)
    assert obj["spec"]["replicas"] == 0
    assert "minReadySeconds" not in obj["spec"]
    assert obj["spec"]["template"] == {"metadata": {"creationTimestamp": None}, "spec": {"containers": None}}
    assert obj["status"] == {}
    assert list(obj)[:2] == ["kind", "apiVersion"]


def test_empty_strings_are_omitted() -> None:
    # Go's marshaling writes every non-pointer string, even empty ones.
    metadata = lfield(1, "") + lfield(2, "gen-") + lfield(3, "") + lfield(6, "")
    obj = decode_k8s_protobuf(envelope("v1", "ConfigMap", lfield(1, metadata)))
    assert obj == {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {"generateName": "gen-", "creationTimestamp": None},
    }


def test_secret_bytes_are_base64() -> None:
    entry = lfield(1, "key") + lfield(2, b"\x00\xffvalue")
    obj = decode_k8s_protobuf(
        envelope("v1", "Secret", lfield(1, meta("s")) + lfield(2, entry) + lfield(3, ""))
    )
    assert obj["data"] == {"key": base64.b64encode(b"\x00\xffvalue").decode()}
    assert "type" not in obj


def test_times() -> None:
    ts = vfield(1, 1704164645)
    assert (
        decode_message("k8s.io.apimachinery.pkg.apis.meta.v1.Time", ts + vfield(2, 5))
        == "2024-01-02T03:04:05Z"
    )
    micro = vfield(1, 1704164645) + vfield(2, 123456789)
    assert (
        decode_message("k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime", micro)
        == "2024-01-02T03:04:05.123456Z"
    )
    assert decode_message("k8s.io.apimachinery.pkg.apis.meta.v1.Time", b"") is None
    # Go's zero time marshals as null as well.
    assert decode_message("k8s.io.apimachinery.pkg.apis.meta.v1.Time", vfield(1, -62135596800)) is None
    # Pointer times (deletionTimestamp) absent -> omitted; present -> string.
    metadata = meta("x") + lfield(9, ts)
    obj = decode_k8s_protobuf(envelope("v1", "Namespace", lfield(1, metadata)))
    assert obj["metadata"]["deletionTimestamp"] == "2024-01-02T03:04:05Z"


@pytest.mark.parametrize(
    ("nanos", "text"),
    [
        (0, "0s"),
        (30 * 10**9, "30s"),
        (3600 * 10**9, "1h0m0s"),
        (90 * 10**9, "1m30s"),
        (1_500_000_000, "1.5s"),
        (300_000_000, "300ms"),
        (1500, "1.5µs"),
        (7, "7ns"),
        (-2 * 10**9, "-2s"),
    ],
)
def test_duration(nanos: int, text: str) -> None:
    assert go_duration(nanos) == text
    assert decode_message("k8s.io.apimachinery.pkg.apis.meta.v1.Duration", vfield(1, nanos)) == text


def test_int_or_string_and_quantity() -> None:
    ios = "k8s.io.apimachinery.pkg.util.intstr.IntOrString"
    assert decode_message(ios, vfield(1, 0) + vfield(2, 3) + lfield(3, "")) == 3
    assert decode_message(ios, vfield(1, 1) + vfield(2, 0) + lfield(3, "25%")) == "25%"
    assert decode_message(ios, vfield(1, 0) + vfield(2, (1 << 32) - 1)) == -1
    assert decode_message("k8s.io.apimachinery.pkg.api.resource.Quantity", lfield(1, "1Gi")) == "1Gi"
    hard = lfield(1, "cpu") + lfield(2, lfield(1, "2"))
    obj = decode_k8s_protobuf(
        envelope("v1", "ResourceQuota", lfield(1, meta("q")) + lfield(2, lfield(1, hard)))
    )
    assert obj["spec"] == {"hard": {"cpu": "2"}}


def test_raw_extension_and_crd_schema() -> None:
    raw = decode_message("k8s.io.apimachinery.pkg.runtime.RawExtension", lfield(1, b'{"a": [1, 2]}'))
    assert raw == {"a": [1, 2]}
    pkg = "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1"
    inner = lfield(5, "string")
    props = (
        lfield(5, "object")
        + lfield(29, lfield(1, "name") + lfield(2, inner))
        + vfield(38, 1)
        + lfield(30, vfield(1, 1))
        + lfield(8, lfield(1, b'"dflt"'))
    )
    assert decode_message(f"{pkg}.JSONSchemaProps", props) == {
        "type": "object",
        "default": "dflt",
        "properties": {"name": {"type": "string"}},
        "additionalProperties": True,
        "x-kubernetes-preserve-unknown-fields": True,
    }
    with pytest.raises(StatusError):
        decode_message("k8s.io.apimachinery.pkg.runtime.RawExtension", lfield(1, b"{not json"))


def test_inline_and_packed_and_unknown_fields() -> None:
    # Volume.volumeSource is inlined into the volume in JSON.
    volume = lfield(1, "data") + lfield(2, lfield(2, b""))  # emptyDir: {}
    pod_spec = lfield(1, volume) + lfield(2, lfield(1, "c") + lfield(2, "img"))
    unknown = vfield(999, 7) + lfield(1000, b"junk") + varint(1001 << 3 | 5) + b"\x00\x00\x00\x00"
    pod = lfield(1, meta("p")) + lfield(2, pod_spec + unknown)
    obj = decode_k8s_protobuf(envelope("v1", "Pod", pod))
    assert obj["spec"]["volumes"] == [{"name": "data", "emptyDir": {}}]
    assert obj["spec"]["containers"] == [{"name": "c", "image": "img", "resources": {}}]
    # PodSecurityContext.supplementalGroups (repeated int64), packed and unpacked occurrences mixed.
    sec = lfield(4, varint(1) + varint(2) + varint(3)) + vfield(4, 4)
    obj = decode_k8s_protobuf(envelope("v1", "Pod", lfield(2, lfield(14, sec))))
    assert obj["spec"]["securityContext"]["supplementalGroups"] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "magic"),
        (b'{"kind": "Pod"}', "magic"),
        (MAGIC + b"\x0a\x05\x0a\x03", "end of data"),
        (envelope("example.com/v1", "Widget", b""), "no protobuf message known"),
        (MAGIC + lfield(2, b""), "apiVersion/kind"),
        (envelope("v1", "Pod", b"\x0a"), "truncated"),
        (envelope("v1", "Pod", vfield(1, 5)), "wrong wire type"),
        (envelope("v1", "Pod", b"\x0f"), "wire type"),
        (envelope("apps/v1", "Deployment", lfield(2, lfield(1, b"\x01"))), "wrong wire type 2 for int32"),
        (envelope("v1", "Pod", lfield(2, lfield(14, vfield(4, 1) + lfield(4, b"\x80")))), "truncated"),
        (envelope("v1", "Pod", lfield(1, lfield(8, vfield(1, 1 << 62)))), "out of range"),
        (envelope("policy/v1", "PodDisruptionBudget", lfield(2, lfield(1, vfield(1, 2)))), "IntOrString"),
    ],
)
def test_malformed(body: bytes, message: str) -> None:
    with pytest.raises(StatusError) as info:
        decode_k8s_protobuf(body)
    assert info.value.code == 400
    assert info.value.reason == "BadRequest"
    assert message in info.value.message


def test_deep_nesting_is_rejected() -> None:
    props = b""
    for _ in range(300):
        props = lfield(28, props)  # JSONSchemaProps.not
    crd = "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"
    with pytest.raises(StatusError) as info:
        decode_message(crd, props)
    assert info.value.code == 400


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes_only_raise_status_errors(data: bytes) -> None:
    for body in (data, MAGIC + data, envelope("apps/v1", "Deployment", data), envelope("v1", "Pod", data)):
        try:
            result = decode_k8s_protobuf(body)
        except StatusError as exc:
            assert exc.code == 400
        else:
            assert isinstance(result, dict)
            json.dumps(result)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 20), st.integers(0, 5), st.binary(max_size=40)), max_size=12))
def test_field_soup_only_raises_status_errors(parts: list[tuple[int, int, bytes]]) -> None:
    """Structurally plausible fields with random numbers/wire types exercise the typed paths."""
    raw = b""
    for number, wire, payload in parts:
        if wire == 0:
            raw += vfield(number, int.from_bytes(payload[:9] or b"\x00", "little"))
        elif wire == 2:
            raw += lfield(number, payload)
        elif wire == 1:
            raw += varint(number << 3 | 1) + (payload + bytes(8))[:8]
        elif wire == 5:
            raw += varint(number << 3 | 5) + (payload + bytes(4))[:4]
        else:
            raw += varint(number << 3 | wire) + payload
    for api_version, kind in (
        ("v1", "Pod"),
        ("apps/v1", "Deployment"),
        ("v1", "Secret"),
        ("batch/v1", "CronJob"),
    ):
        try:
            json.dumps(decode_k8s_protobuf(envelope(api_version, kind, raw)))
        except StatusError as exc:
            assert exc.code == 400


# --------------------------------------------------------------------------------------------------
# Real kubectl bodies
# --------------------------------------------------------------------------------------------------

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.4",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.23.6",
    "compiler": "gc",
    "platform": "linux/amd64",
}


# Legacy (non-aggregated) discovery for the resources `kubectl create role|clusterrole` resolve.
_RESOURCES: dict[str, list[tuple[str, str, bool]]] = {
    "v1": [
        ("pods", "Pod", True),
        ("configmaps", "ConfigMap", True),
        ("secrets", "Secret", True),
        ("services", "Service", True),
        ("namespaces", "Namespace", False),
        ("nodes", "Node", False),
    ],
    "apps/v1": [("deployments", "Deployment", True)],
    "batch/v1": [("jobs", "Job", True), ("cronjobs", "CronJob", True)],
}


def _discovery() -> dict[str, dict[str, Any]]:
    verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
    docs: dict[str, dict[str, Any]] = {
        "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
    }
    groups = []
    for group_version, resources in _RESOURCES.items():
        resource_list = {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": group_version,
            "resources": [
                {
                    "name": name,
                    "singularName": kind.lower(),
                    "namespaced": namespaced,
                    "kind": kind,
                    "verbs": verbs,
                }
                for name, kind, namespaced in resources
            ],
        }
        if group_version == "v1":
            docs["/api/v1"] = resource_list
            continue
        group, version = group_version.split("/")
        gv = {"groupVersion": group_version, "version": version}
        groups.append({"name": group, "versions": [gv], "preferredVersion": gv})
        docs[f"/apis/{group_version}"] = resource_list
    docs["/apis"] = {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
    return docs


DISCOVERY = _discovery()


@dataclass
class Captured:
    method: str
    path: str
    content_type: str
    body: bytes


@dataclass
class CaptureServer:
    url: str
    requests: list[Captured] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(server: CaptureServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(self, code: int, obj: dict[str, Any]) -> None:
            data = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with server.lock:
                server.requests.append(
                    Captured(self.command, self.path, self.headers.get("Content-Type", ""), body)
                )
            return body

        def do_GET(self) -> None:
            self._record()
            path = self.path.split("?", 1)[0]
            if path == "/version":
                self._send(200, VERSION)
                return
            if path in DISCOVERY:
                self._send(200, DISCOVERY[path])
                return
            self._send(404, _status(404, "NotFound", "not served by the capture server"))

        def do_POST(self) -> None:
            body = self._record()
            try:
                obj = decode_k8s_protobuf(body)
            except StatusError as exc:
                self._send(exc.code, exc.to_status())
                return
            self._send(201, obj)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code}
    return {**status, "reason": reason, "message": message}


@pytest.fixture(scope="module")
def capture_server() -> Iterator[CaptureServer]:
    holder: list[CaptureServer] = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: _handler(holder[0])(*a))
    httpd.daemon_threads = True
    holder.append(CaptureServer(url=f"http://127.0.0.1:{httpd.server_address[1]}"))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def kubectl_env(capture_server: CaptureServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("kubectl")
    kubeconfig = base / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": capture_server.url}}],
                "users": [{"name": "u", "user": {"token": "capture"}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u", "namespace": "default"}}],
                "current-context": "c",
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
    env.update(KUBECONFIG=str(kubeconfig), KUBECACHEDIR=str(base / "cache"), HOME=str(base))
    return env


def _kubectl(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    assert KUBECTL is not None
    return subprocess.run(
        [KUBECTL, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(env["HOME"]),
    )


def _with_flags(args: list[str], *flags: str) -> list[str]:
    """Insert flags before a ``--`` that starts the container command."""
    if "--" in args:
        cut = args.index("--")
        return [*args[:cut], *flags, *args[cut:]]
    return [*args, *flags]


CREATE_COMMANDS: dict[str, str] = {
    "deployment": "deployment web --image=nginx --replicas=2 --port=80",
    "deployment-zero": "deployment idle --image=nginx --image=redis --replicas=0",
    "namespace": "namespace team-a",
    "configmap": "configmap cfg --from-literal=a=1 '--from-literal=greeting=hello world'",
    "secret-generic": "secret generic creds --from-literal=user=admin --from-literal=pass=s3cr3t",
    "secret-docker-registry": "secret docker-registry regcred --docker-server=r.example.com"
    " --docker-username=u --docker-password=p --docker-email=u@example.com",
    "service-clusterip": "service clusterip svc --tcp=80:8080",
    "service-nodeport": "service nodeport np --tcp=443:8443 --node-port=30443",
    "service-headless": "service clusterip headless --clusterip=None",
    "service-externalname": "service externalname ext --external-name=example.com",
    "job": "job once --image=busybox -- echo hi",
    "cronjob": "cronjob tick --image=busybox '--schedule=*/5 * * * *' -- date",
    "serviceaccount": "serviceaccount robot",
    "role": "role reader --verb=get,list,watch --resource=pods,deployments.apps",
    "role-names": "role one --verb=get --resource=configmaps --resource-name=cfg",
    "rolebinding": "rolebinding read --role=reader --user=alice --serviceaccount=default:robot",
    "clusterrole": "clusterrole nodes --verb=get --resource=nodes --non-resource-url=/healthz",
    "clusterrolebinding": "clusterrolebinding nodes --clusterrole=nodes --group=ops",
    "priorityclass": "priorityclass high --value=1000 --description=important",
    "priorityclass-default": "priorityclass low --value=0 --global-default --preemption-policy=Never",
    "quota": "quota q --hard=pods=10,cpu=2,memory=1Gi --scopes=NotTerminating",
    "pdb": "poddisruptionbudget pdb --min-available=1 --selector=app=web",
    "pdb-percent": "poddisruptionbudget pdb2 --max-unavailable=50% --selector=app=web",
    "ingress": "ingress web --class=nginx --rule=foo.com/bar*=svc:8080 --rule=tls.com/=svc:http,tls",
}


@pytest.mark.kubectl  # skipped without kubectl, failed under CI=true (tests/conftest.py)
@pytest.mark.parametrize("case", sorted(CREATE_COMMANDS))
def test_kubectl_create_body_matches_dry_run_json(
    case: str, capture_server: CaptureServer, kubectl_env: dict[str, str]
) -> None:
    args = ["create", *shlex.split(CREATE_COMMANDS[case])]
    with capture_server.lock:
        start = len(capture_server.requests)
    created = _kubectl(_with_flags(args, "--validate=false"), kubectl_env)
    with capture_server.lock:
        posts = [r for r in capture_server.requests[start:] if r.method == "POST"]
    assert len(posts) == 1, (created.stdout, created.stderr, capture_server.requests[start:])
    post = posts[0]
    assert is_protobuf_content_type(post.content_type), post.content_type
    assert post.body.startswith(MAGIC)
    assert created.returncode == 0, created.stderr
    decoded = decode_k8s_protobuf(post.body)

    dry_run = _kubectl(_with_flags(args, "--dry-run=client", "-o", "json"), kubectl_env)
    assert dry_run.returncode == 0, dry_run.stderr
    assert decoded == json.loads(dry_run.stdout)
