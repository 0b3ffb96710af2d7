"""ClientConfig and kubeconfig loading, and the whole client over HTTPS against a real ``kyb server``."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kybernetes.api.errors import StatusError
from kybernetes.client import (
    ApiClient,
    ApiConnectionError,
    Backoff,
    ClientConfig,
    ConfigError,
    Informer,
    RetryPolicy,
)
from tests.client.conftest import configmap
from tests.e2e.conftest import KybServer

QUICK = RetryPolicy(max_attempts=2, base_delay=0.01, max_elapsed=2)


def _kubeconfig(user: dict[str, Any], cluster: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "c1", "cluster": cluster or {"server": "https://10.0.0.1:6443/"}},
            {"name": "c2", "cluster": {"server": "http://127.0.0.1:8080", "insecure-skip-tls-verify": True}},
        ],
        "users": [{"name": "u1", "user": user}, {"name": "u2", "user": {"token": "other"}}],
        "contexts": [
            {"name": "one", "context": {"cluster": "c1", "user": "u1"}},
            {"name": "two", "context": {"cluster": "c2", "user": "u2"}},
        ],
        "current-context": "one",
    }


def test_kubeconfig_parsing(tmp_path: Path) -> None:
    doc = _kubeconfig(
        {
            "token": "abc",
            "client-certificate-data": base64.b64encode(b"CERT").decode(),
            "client-key": "k.pem",
        },
        {"server": "https://10.0.0.1:6443/", "certificate-authority-data": base64.b64encode(b"CA").decode()},
    )
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(doc))
    cfg = ClientConfig.from_kubeconfig(path)
    assert cfg.server == "https://10.0.0.1:6443" and cfg.ca_data == b"CA" and cfg.token == "abc"
    assert cfg.client_cert_data == b"CERT" and cfg.client_key_file == str(tmp_path / "k.pem")
    assert cfg.headers()["Authorization"] == "Bearer abc"

    two = ClientConfig.from_kubeconfig(path, context="two")
    assert two.server == "http://127.0.0.1:8080" and two.insecure and two.token == "other"
    assert two.ssl_context() is None  # plain HTTP

    token_file = tmp_path / "tok"
    token_file.write_text("from-file\n")
    cfg = ClientConfig("https://x", token_file=str(token_file), insecure=True)
    assert cfg.bearer_token() == "from-file"
    ctx = cfg.ssl_context()
    assert ctx is not None and ctx.verify_mode == ssl.CERT_NONE

    with pytest.raises(ConfigError):
        ClientConfig.from_kubeconfig(path, context="missing")
    with pytest.raises(ConfigError):
        ClientConfig.from_kubeconfig_dict(_kubeconfig({"exec": {"command": "aws"}}))
    with pytest.raises(ConfigError):
        ClientConfig.from_kubeconfig(tmp_path / "nope")


@pytest.fixture(scope="module")
def kyb_server() -> Iterator[KybServer]:
    server = KybServer().start()
    try:
        yield server
    finally:
        server.cleanup()


def _client_cert(data_dir: Path) -> tuple[bytes, bytes]:
    """A client certificate signed by the server's CA (``kyb server`` accepts those as credentials)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    pki = data_dir / "pki"
    ca_key = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-client")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


async def test_https_through_real_kubeconfig(kyb_server: KybServer) -> None:
    async with ApiClient.from_kubeconfig(str(kyb_server.kubeconfig)) as api:
        assert api.config.is_https and api.config.ca_data and api.config.token
        version = await api.request("GET", "/version")
        assert version["major"] == "1"
        await api.namespaces.create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "client-tls"}}
        )
        await api.configmaps.create(configmap("tls", "client-tls", a="1"))
        with pytest.raises(StatusError) as exc:
            await api.configmaps.create(configmap("tls", "client-tls"))
        assert exc.value.code == 409

        inf = Informer(api.configmaps, namespace="client-tls", backoff=Backoff(initial=0.05, maximum=0.2))
        seen: list[str] = []
        inf.add_event_handler(on_update=lambda old, new: seen.append(new["data"]["a"]))
        inf.start()
        try:
            assert await inf.wait_synced(5)
            await api.configmaps.patch("tls", {"data": {"a": "2"}}, namespace="client-tls")
            for _ in range(250):
                if seen:
                    break
                await asyncio.sleep(0.02)
            assert seen == ["2"]
        finally:
            await inf.stop()


async def test_client_certificate_and_bad_credentials(kyb_server: KybServer) -> None:
    doc = yaml.safe_load(kyb_server.kubeconfig.read_text())
    cert, key = _client_cert(kyb_server.data_dir)
    doc["users"][0]["user"] = {
        "client-certificate-data": base64.b64encode(cert).decode(),
        "client-key-data": base64.b64encode(key).decode(),
    }
    cfg = ClientConfig.from_kubeconfig_dict(doc)
    assert cfg.token is None
    async with ApiClient(cfg, retry=QUICK) as api:
        listed = await api.namespaces.list()
        assert any(n["metadata"]["name"] == "default" for n in listed["items"])

    anonymous = ClientConfig(server=cfg.server, ca_data=cfg.ca_data)
    async with ApiClient(anonymous, retry=QUICK) as api:
        with pytest.raises(StatusError) as exc:
            await api.namespaces.list()
        assert exc.value.code == 401

    wrong_ca = ClientConfig(server=cfg.server, token="x")  # system CAs do not trust the server
    async with ApiClient(wrong_ca, retry=QUICK) as api:
        with pytest.raises(ApiConnectionError):
            await api.namespaces.list()

    insecure = ClientConfig(
        server=cfg.server,
        token=yaml.safe_load(kyb_server.kubeconfig.read_text())["users"][0]["user"]["token"],
        insecure=True,
    )
    async with ApiClient(insecure, retry=QUICK) as api:
        assert (await api.namespaces.get("default"))["metadata"]["name"] == "default"
