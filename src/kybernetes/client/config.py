"""Where the API server is and how to prove who we are: ``ClientConfig`` and kubeconfig loading.

A ``ClientConfig`` is plain data (server URL, CA, bearer token, client certificate, ``insecure``); it
knows how to build the ``ssl.SSLContext`` and the ``Authorization`` header a request needs and nothing
about HTTP itself (that is ``rest.py``). ``from_kubeconfig`` reads the subset of kubeconfig that
``kubectl`` and client-go's ``clientcmd`` use for static credentials: clusters (``server``,
``certificate-authority[-data]``, ``insecure-skip-tls-verify``, ``tls-server-name``), users (``token``,
``tokenFile``, ``client-certificate[-data]``, ``client-key[-data]``) and contexts (``current-context`` or an
explicit one). Relative file paths are resolved against the kubeconfig's directory, as clientcmd does.
Exec and auth-provider plugins are not supported: they raise ``ConfigError``.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["ClientConfig", "ConfigError", "default_kubeconfig_path"]

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class ConfigError(ValueError):
    """The kubeconfig (or in-cluster environment) cannot be turned into a ``ClientConfig``."""


def default_kubeconfig_path() -> Path:
    """``$KUBECONFIG`` (its first entry) or ``~/.kube/config``."""
    env = os.environ.get("KUBECONFIG", "")
    for part in env.split(os.pathsep):
        if part:
            return Path(part).expanduser()
    return Path("~/.kube/config").expanduser()


@dataclass
class ClientConfig:
    """Connection parameters of one API server (all optional except ``server``).

    ``*_data`` fields hold PEM bytes; ``*_file`` fields name PEM files. ``insecure`` skips TLS
    verification (like ``insecure-skip-tls-verify``); a plain ``http://`` server needs no TLS at all.
    """

    server: str
    ca_data: bytes | None = None
    ca_file: str | None = None
    token: str | None = None
    token_file: str | None = None
    client_cert_data: bytes | None = None
    client_key_data: bytes | None = None
    client_cert_file: str | None = None
    client_key_file: str | None = None
    insecure: bool = False
    tls_server_name: str | None = None
    user_agent: str = "kybernetes-client/v0.1.0"
    # Default timeout of one non-watch request, in seconds.
    request_timeout: float = 30.0
    extra_headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.server = self.server.rstrip("/")

    # --- loading --------------------------------------------------------------------------------------
    @classmethod
    def from_kubeconfig(
        cls, path: str | os.PathLike[str] | None = None, context: str | None = None
    ) -> ClientConfig:
        """Load ``context`` (default: ``current-context``) from the kubeconfig at ``path``.

        ``path`` defaults to ``$KUBECONFIG`` or ``~/.kube/config``.
        """
        kube_path = Path(path).expanduser() if path is not None else default_kubeconfig_path()
        try:
            doc = yaml.safe_load(kube_path.read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read kubeconfig {kube_path}: {exc}") from exc
        if not isinstance(doc, dict):
            raise ConfigError(f"kubeconfig {kube_path} is not a mapping")
        return cls.from_kubeconfig_dict(doc, context=context, base_dir=kube_path.parent)

    @classmethod
    def from_kubeconfig_dict(
        cls, doc: dict[str, Any], *, context: str | None = None, base_dir: Path | None = None
    ) -> ClientConfig:
        """Like ``from_kubeconfig`` for an already parsed document."""
        base = base_dir or Path.cwd()
        ctx_name = context or doc.get("current-context")
        if not ctx_name:
            raise ConfigError("kubeconfig has no current-context and no context was given")
        ctx = _named(doc, "contexts", ctx_name, "context")
        cluster = _named(doc, "clusters", ctx.get("cluster"), "cluster")
        user_name = ctx.get("user")
        user = _named(doc, "users", user_name, "user") if user_name else {}
        if "exec" in user or "auth-provider" in user:
            raise ConfigError(f"user {user_name!r}: exec and auth-provider credentials are not supported")
        server = cluster.get("server")
        if not server:
            raise ConfigError(f"cluster {ctx.get('cluster')!r} has no server")

        def path_of(value: Any) -> str | None:
            if not value:
                return None
            p = Path(str(value)).expanduser()
            return str(p if p.is_absolute() else base / p)

        def data_of(value: Any) -> bytes | None:
            if not value:
                return None
            try:
                return base64.b64decode(value)
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"invalid base64 data in kubeconfig: {exc}") from exc

        return cls(
            server=str(server),
            ca_data=data_of(cluster.get("certificate-authority-data")),
            ca_file=path_of(cluster.get("certificate-authority")),
            insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
            tls_server_name=cluster.get("tls-server-name"),
            token=user.get("token"),
            token_file=path_of(user.get("tokenFile")),
            client_cert_data=data_of(user.get("client-certificate-data")),
            client_key_data=data_of(user.get("client-key-data")),
            client_cert_file=path_of(user.get("client-certificate")),
            client_key_file=path_of(user.get("client-key")),
        )

    @classmethod
    def in_cluster(cls, sa_dir: Path = SERVICE_ACCOUNT_DIR) -> ClientConfig:
        """The config of a pod: ``KUBERNETES_SERVICE_HOST/PORT`` and the mounted service account token."""
        host = os.environ.get("KUBERNETES_SERVICE_HOST")
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        if not host:
            raise ConfigError("not running in a cluster: KUBERNETES_SERVICE_HOST is not set")
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        ca = sa_dir / "ca.crt"
        return cls(
            server=f"https://{host}:{port}",
            ca_file=str(ca) if ca.exists() else None,
            token_file=str(sa_dir / "token"),
        )

    # --- use ------------------------------------------------------------------------------------------
    @property
    def is_https(self) -> bool:
        return self.server.lower().startswith("https://")

    def bearer_token(self) -> str | None:
        """The token, re-read from ``token_file`` on every call (projected tokens rotate)."""
        if self.token:
            return self.token
        if self.token_file:
            try:
                return Path(self.token_file).read_text().strip() or None
            except OSError:
                return None
        return None

    def headers(self) -> dict[str, str]:
        """Headers every request carries: user agent, authorization, extras."""
        out = {"User-Agent": self.user_agent, **self.extra_headers}
        token = self.bearer_token()
        if token:
            out["Authorization"] = f"Bearer {token}"
        return out

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context for an ``https://`` server (None for plain HTTP)."""
        if not self.is_https:
            return None
        if self.insecure:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            cadata = self.ca_data.decode() if self.ca_data else None
            if cadata or self.ca_file:
                ctx = ssl.create_default_context(cafile=self.ca_file, cadata=cadata)
            else:
                ctx = ssl.create_default_context()
        if self.client_cert_data or self.client_cert_file:
            _load_client_cert(ctx, self)
        return ctx


def _named(doc: dict[str, Any], section: str, name: Any, inner: str) -> dict[str, Any]:
    for entry in doc.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            value = entry.get(inner) or {}
            if not isinstance(value, dict):
                raise ConfigError(f"{section} entry {name!r} is malformed")
            return value
    raise ConfigError(f"kubeconfig has no entry {name!r} in {section}")


def _load_client_cert(ctx: ssl.SSLContext, cfg: ClientConfig) -> None:
    """``load_cert_chain`` reads only files: spill inline PEM data to private temp files briefly."""
    with tempfile.TemporaryDirectory(prefix="kyb-client-") as tmp:
        cert_file = cfg.client_cert_file
        key_file = cfg.client_key_file
        if cfg.client_cert_data:
            cert_file = os.path.join(tmp, "client.crt")
            _write_private(cert_file, cfg.client_cert_data)
        if cfg.client_key_data:
            key_file = os.path.join(tmp, "client.key")
            _write_private(key_file, cfg.client_key_data)
        if cert_file is None:
            raise ConfigError("client key given without a client certificate")
        ctx.load_cert_chain(cert_file, key_file)


def _write_private(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
