"""The cluster's PKI: a CA, the API server's serving certificate, and the admin credentials.

Generated once into the data directory (private keys 0600) and reused on restart, so kubeconfigs stay
valid. The serving certificate names localhost, 127.0.0.1, ::1, the bind address and ``kubernetes``
service names, as kubeadm's does.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY_DAYS = 3650


@dataclass(frozen=True)
class Pki:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    admin_token: str
    node_token: str  # agents join with it; the API server presents it to kubelets


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def ensure_pki(data_dir: Path, *, hosts: list[str]) -> Pki:
    pki = data_dir / "pki"
    ca_cert_path, ca_key_path = pki / "ca.crt", pki / "ca.key"
    server_cert_path, server_key_path = pki / "apiserver.crt", pki / "apiserver.key"
    token_path = pki / "admin.token"
    now = dt.datetime.now(dt.UTC)
    if not ca_cert_path.exists() or not ca_key_path.exists():
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(_name("kybernetes-ca"))
            .issuer_name(_name("kybernetes-ca"))
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=VALIDITY_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(ca_key, hashes.SHA256())
        )
        _write_private(ca_key_path, _key_pem(ca_key))
        ca_cert_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        server_cert_path.unlink(missing_ok=True)
    loaded = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{ca_key_path}: not the EC private key this server writes")
    ca_key = loaded
    ca_cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
    wanted = sorted(
        set(
            [
                "localhost",
                "127.0.0.1",
                "::1",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
                *hosts,
            ]
        )
    )
    marker = pki / "apiserver.hosts"
    if not server_cert_path.exists() or not marker.exists() or marker.read_text() != ",".join(wanted):
        key = ec.generate_private_key(ec.SECP256R1())
        sans: list[x509.GeneralName] = []
        for host in wanted:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                sans.append(x509.DNSName(host))
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name("kube-apiserver"))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=VALIDITY_DAYS))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        _write_private(server_key_path, _key_pem(key))
        server_cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        marker.write_text(",".join(wanted))
    node_token_path = pki / "node.token"
    for path in (token_path, node_token_path):
        if not path.exists():
            _write_private(path, secrets.token_urlsafe(32).encode())
    return Pki(
        ca_cert_path,
        server_cert_path,
        server_key_path,
        token_path.read_text().strip(),
        node_token_path.read_text().strip(),
    )


def kubeconfig(server_url: str, ca_cert: Path, token: str, *, name: str = "kybernetes") -> str:
    ca_data = base64.b64encode(ca_cert.read_bytes()).decode()
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": name, "cluster": {"server": server_url, "certificate-authority-data": ca_data}}
        ],
        "users": [{"name": f"{name}-admin", "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-admin"}}],
        "current-context": name,
        "preferences": {},
    }
    return yaml.safe_dump(doc, sort_keys=False)
