"""Pod volumes materialised on the node, and the runtime ``Mount``s of each container.

Every volume lives at ``<root>/pods/<uid>/volumes/<plugin>/<name>`` with upstream's plugin directory
names (``kubernetes.io~empty-dir``, ``~configmap``, ``~secret``, ``~downward-api``, ``~projected``):

- ``emptyDir``: a directory; ``medium: Memory`` is a tmpfs mount when running as root (``sizeLimit``
  becomes ``size=``), a plain directory otherwise;
- ``configMap`` / ``secret`` / ``downwardAPI`` / ``projected``: files written with ``AtomicWriter``
  (``items`` map keys to paths, ``defaultMode`` / per-item ``mode``, ``optional``); ``setup`` is
  idempotent and rewrites only what changed, so calling it again after a configMap or secret update
  propagates the change to running containers (the ``..data`` symlink swap);
- ``hostPath``: the host path itself, after upstream's ``type`` checks (``DirectoryOrCreate``, ``File``...);
- ``persistentVolumeClaim``: the claim's bound PV, when it is a ``hostPath`` or ``local`` volume.

``mounts_for`` turns a container's ``volumeMounts`` (``subPath``, ``subPathExpr``, ``readOnly``) into
runtime mounts. Failures raise ``VolumeError`` with upstream's message (``configmap "x" not found``); the
pod worker turns them into ``FailedMount`` events and keeps the pod in ContainerCreating. Objects come
from a ``VolumeSource`` (the kubelet's caches); file-system work runs in threads.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import shutil
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from kybernetes.api.meta import Obj
from kybernetes.api.validation.quantity import parse as parse_quantity
from kybernetes.kubelet.atomic_writer import AtomicWriter, FileProjection
from kybernetes.kubelet.env import ConfigError, ObjectSource, expand, field_value, resource_value
from kybernetes.kubelet.runtime import Mount

__all__ = ["VolumeError", "VolumeManager", "VolumeSource", "mounts_for"]

log = logging.getLogger(__name__)

PLUGIN_DIRS = {
    "emptyDir": "kubernetes.io~empty-dir",
    "configMap": "kubernetes.io~configmap",
    "secret": "kubernetes.io~secret",
    "downwardAPI": "kubernetes.io~downward-api",
    "projected": "kubernetes.io~projected",
}
READ_ONLY_KINDS = frozenset({"configMap", "secret", "downwardAPI", "projected"})


class VolumeError(Exception):
    """A volume cannot be set up; ``message`` is what the FailedMount event says."""


class VolumeSource(ObjectSource, Protocol):
    async def get_pvc(self, namespace: str, name: str) -> Obj | None: ...

    async def get_pv(self, name: str) -> Obj | None: ...


def _kind(volume: Mapping[str, Any]) -> str:
    for key in (*PLUGIN_DIRS, "hostPath", "persistentVolumeClaim"):
        if isinstance(volume.get(key), Mapping):
            return key
    return "unsupported"


def _mode(value: Any, default: int) -> int:
    return int(value) if isinstance(value, int) else default


# --- payloads --------------------------------------------------------------------------------------------
def _key_payload(
    data: Mapping[str, bytes], src: Mapping[str, Any], kind: str, name: str, default_mode: int
) -> dict[str, FileProjection]:
    items = src.get("items")
    if not items:
        return {k: (v, default_mode) for k, v in data.items()}
    out: dict[str, FileProjection] = {}
    for item in items:
        key = str(item.get("key") or "")
        if key not in data:
            if src.get("optional"):
                continue
            raise VolumeError(f"{kind} references non-existent config key: {key}")
        out[str(item.get("path") or key)] = (data[key], _mode(item.get("mode"), default_mode))
    return out


def _cm_bytes(cm: Mapping[str, Any]) -> dict[str, bytes]:
    data = {str(k): str(v).encode() for k, v in (cm.get("data") or {}).items()}
    data.update({str(k): base64.b64decode(str(v)) for k, v in (cm.get("binaryData") or {}).items()})
    return data


def _secret_bytes(secret: Mapping[str, Any]) -> dict[str, bytes]:
    return {str(k): base64.b64decode(str(v)) for k, v in (secret.get("data") or {}).items()}


class _Context:
    def __init__(
        self, pod: Mapping[str, Any], host_ip: str, pod_ip: str, allocatable: Mapping[str, str]
    ) -> None:
        self.pod = pod
        self.host_ip = host_ip
        self.pod_ip = pod_ip
        self.allocatable = allocatable
        self.namespace = str((pod.get("metadata") or {}).get("namespace") or "default")


async def _configmap_payload(
    source: VolumeSource, ctx: _Context, src: Mapping[str, Any], default_mode: int
) -> dict[str, FileProjection]:
    name = str(src.get("name") or "")
    cm = await source.get_configmap(ctx.namespace, name)
    if cm is None:
        if src.get("optional"):
            return {}
        raise VolumeError(f'configmap "{name}" not found')
    return _key_payload(_cm_bytes(cm), src, "configMap", name, default_mode)


async def _secret_payload(
    source: VolumeSource, ctx: _Context, src: Mapping[str, Any], default_mode: int, name_key: str
) -> dict[str, FileProjection]:
    name = str(src.get(name_key) or "")
    secret = await source.get_secret(ctx.namespace, name)
    if secret is None:
        if src.get("optional"):
            return {}
        raise VolumeError(f'secret "{name}" not found')
    return _key_payload(_secret_bytes(secret), src, "secret", name, default_mode)


def _downward_payload(ctx: _Context, src: Mapping[str, Any], default_mode: int) -> dict[str, FileProjection]:
    out: dict[str, FileProjection] = {}
    containers = {c.get("name"): c for c in (ctx.pod.get("spec") or {}).get("containers") or []}
    for item in src.get("items") or []:
        mode = _mode(item.get("mode"), default_mode)
        try:
            if isinstance(item.get("fieldRef"), Mapping):
                path = str(item["fieldRef"].get("fieldPath") or "")
                value = field_value(ctx.pod, path, host_ip=ctx.host_ip, pod_ip=ctx.pod_ip)
            elif isinstance(item.get("resourceFieldRef"), Mapping):
                ref = item["resourceFieldRef"]
                container = containers.get(ref.get("containerName")) or {}
                value = resource_value(container, ref, ctx.allocatable)
            else:
                continue
        except ConfigError as exc:
            raise VolumeError(str(exc)) from None
        out[str(item.get("path") or "")] = (value.encode(), mode)
    return out


async def _projected_payload(
    source: VolumeSource, ctx: _Context, src: Mapping[str, Any], default_mode: int
) -> dict[str, FileProjection]:
    out: dict[str, FileProjection] = {}
    for proj in src.get("sources") or []:
        if isinstance(proj.get("configMap"), Mapping):
            out.update(await _configmap_payload(source, ctx, proj["configMap"], default_mode))
        elif isinstance(proj.get("secret"), Mapping):
            out.update(await _secret_payload(source, ctx, proj["secret"], default_mode, "name"))
        elif isinstance(proj.get("downwardAPI"), Mapping):
            out.update(_downward_payload(ctx, proj["downwardAPI"], default_mode))
        # serviceAccountToken and clusterTrustBundle sources are not projected (no token issuer yet)
    return out


# --- hostPath --------------------------------------------------------------------------------------------
_TYPE_CHECKS: dict[str, tuple[Any, str]] = {
    "Directory": (stat.S_ISDIR, "a directory"),
    "File": (stat.S_ISREG, "a file"),
    "Socket": (stat.S_ISSOCK, "a socket file"),
    "CharDevice": (stat.S_ISCHR, "a character device"),
    "BlockDevice": (stat.S_ISBLK, "a block device"),
}


def check_host_path(path: str, type_: str) -> None:
    """Upstream's hostPath type checker (creating for the ``*OrCreate`` types). Blocking."""
    p = Path(path)
    if type_ == "DirectoryOrCreate":
        if not p.exists():
            p.mkdir(mode=0o755, parents=True)
        type_ = "Directory"
    elif type_ == "FileOrCreate":
        if not p.exists():
            p.parent.mkdir(parents=True, exist_ok=True)
            p.touch(mode=0o644)
        type_ = "File"
    check = _TYPE_CHECKS.get(type_)
    if check is None:
        return
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        raise VolumeError(f"hostPath type check failed: {path} is not {check[1]}") from None
    if not check[0](mode):
        raise VolumeError(f"hostPath type check failed: {path} is not {check[1]}")


# --- the manager ---------------------------------------------------------------------------------------
class VolumeManager:
    """Sets up and tears down the volumes of pods under ``root/pods/<uid>/volumes``."""

    def __init__(self, root: Path, source: VolumeSource, *, can_mount: bool | None = None) -> None:
        self.root = root
        self.source = source
        self.can_mount = os.geteuid() == 0 if can_mount is None else can_mount
        self._tmpfs: dict[str, list[Path]] = {}

    def pod_dir(self, uid: str) -> Path:
        return self.root / "pods" / uid

    def volume_dir(self, uid: str, kind: str, name: str) -> Path:
        return self.pod_dir(uid) / "volumes" / PLUGIN_DIRS.get(kind, kind) / name

    async def setup(
        self,
        pod: Mapping[str, Any],
        *,
        host_ip: str = "",
        pod_ip: str = "",
        allocatable: Mapping[str, str] | None = None,
    ) -> dict[str, tuple[str, bool]]:
        """Materialise (or refresh) every volume; returns name -> (host path, mounted read-only)."""
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        ctx = _Context(pod, host_ip, pod_ip, allocatable or {})
        out: dict[str, tuple[str, bool]] = {}
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            name = str(volume.get("name") or "")
            try:
                out[name] = (await self._setup_one(uid, ctx, volume), _kind(volume) in READ_ONLY_KINDS)
            except VolumeError as exc:
                raise VolumeError(f'MountVolume.SetUp failed for volume "{name}" : {exc}') from None
            except OSError as exc:
                raise VolumeError(f'MountVolume.SetUp failed for volume "{name}" : {exc}') from None
        return out

    async def _setup_one(self, uid: str, ctx: _Context, volume: Mapping[str, Any]) -> str:
        kind = _kind(volume)
        name = str(volume.get("name") or "")
        src = volume.get(kind) or {}
        default_mode = _mode(src.get("defaultMode"), 0o644)
        target = self.volume_dir(uid, kind, name)
        payload: dict[str, FileProjection]
        if kind == "emptyDir":
            await asyncio.to_thread(target.mkdir, mode=0o777, parents=True, exist_ok=True)
            if src.get("medium") == "Memory" and self.can_mount:
                await self._mount_tmpfs(uid, target, src.get("sizeLimit"))
            return str(target)
        if kind == "hostPath":
            path = str(src.get("path") or "")
            await asyncio.to_thread(check_host_path, path, str(src.get("type") or ""))
            return path
        if kind == "persistentVolumeClaim":
            return await self._pvc_path(ctx.namespace, str(src.get("claimName") or ""))
        if kind == "configMap":
            payload = await _configmap_payload(self.source, ctx, src, default_mode)
        elif kind == "secret":
            payload = await _secret_payload(self.source, ctx, src, default_mode, "secretName")
        elif kind == "downwardAPI":
            payload = _downward_payload(ctx, src, default_mode)
        elif kind == "projected":
            payload = await _projected_payload(self.source, ctx, src, default_mode)
        else:
            raise VolumeError("volume type not supported by this node")
        await asyncio.to_thread(AtomicWriter(target).write, payload)
        return str(target)

    async def _pvc_path(self, namespace: str, claim: str) -> str:
        pvc = await self.source.get_pvc(namespace, claim)
        if pvc is None:
            raise VolumeError(f'persistentvolumeclaim "{claim}" not found')
        pv_name = (pvc.get("spec") or {}).get("volumeName")
        if not pv_name or (pvc.get("status") or {}).get("phase") not in (None, "Bound"):
            raise VolumeError(f"PVC {namespace}/{claim} is not bound")
        pv = await self.source.get_pv(str(pv_name))
        if pv is None:
            raise VolumeError(f'persistentvolume "{pv_name}" not found')
        spec = pv.get("spec") or {}
        for key in ("hostPath", "local"):
            if isinstance(spec.get(key), Mapping) and spec[key].get("path"):
                path = str(spec[key]["path"])
                if key == "hostPath":
                    await asyncio.to_thread(check_host_path, path, str(spec[key].get("type") or ""))
                return path
        raise VolumeError(f"persistentvolume {pv_name} is neither hostPath nor local")

    async def _mount_tmpfs(self, uid: str, target: Path, size: Any) -> None:
        if await asyncio.to_thread(os.path.ismount, target):
            return
        options = "mode=1777"
        if size:
            with contextlib.suppress(ValueError):
                options += f",size={int(parse_quantity(str(size)))}"
        proc = await asyncio.create_subprocess_exec(
            "mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await proc.communicate()
        if proc.returncode != 0:
            log.warning("tmpfs mount of %s failed (%s); using a directory", target, err.decode().strip())
            return
        self._tmpfs.setdefault(uid, []).append(target)

    async def teardown(self, uid: str) -> None:
        """Unmount tmpfs volumes and remove the pod's directory (host paths and PVs are untouched)."""
        for target in self._tmpfs.pop(uid, []):
            proc = await asyncio.create_subprocess_exec(
                "umount", str(target), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
            )
            await proc.wait()
        pod_dir = self.pod_dir(uid)
        if await asyncio.to_thread(pod_dir.exists):
            await asyncio.to_thread(shutil.rmtree, pod_dir, True)


def mounts_for(
    container: Mapping[str, Any], volumes: Mapping[str, tuple[str, bool]], env: Mapping[str, str]
) -> tuple[Mount, ...]:
    """The runtime mounts of a container's ``volumeMounts`` (``subPath`` directories are created)."""
    mounts: list[Mount] = []
    for vm in container.get("volumeMounts") or []:
        name = str(vm.get("name") or "")
        if name not in volumes:
            raise VolumeError(f'volume "{name}" not found in the pod spec')
        host, forced_ro = volumes[name]
        sub = str(vm.get("subPath") or "")
        if vm.get("subPathExpr"):
            sub = expand(str(vm["subPathExpr"]), env.get)
        if sub:
            if sub.startswith("/") or ".." in sub.split("/"):
                raise VolumeError(f"subPath {sub!r} must be a relative path without '..'")
            path = Path(host) / sub
            if not path.exists() and not path.is_symlink():
                path.mkdir(parents=True, exist_ok=True)
            host = str(path)
        mounts.append(Mount(host, str(vm.get("mountPath") or ""), bool(vm.get("readOnly")) or forced_ro))
    return tuple(mounts)
