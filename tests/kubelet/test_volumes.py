"""Volumes: the atomic writer (``..data`` swap), hostPath type checks, and on the process runtime
configMap, secret, downwardAPI, projected, emptyDir and PVC (hostPath PV) volumes visible to the container,
with a configMap update reaching the mounted file."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest

from kybernetes.client import ApiClient
from kybernetes.kubelet.atomic_writer import AtomicWriter
from kybernetes.kubelet.volumes import VolumeError, check_host_path
from tests.controllers._node_fixtures import api, eventually, server
from tests.kubelet.test_agent_fixtures import pod_spec, running_kubelet, sh, wait_pod
from tests.needs import unavailable

__all__ = ["api", "server"]
ROOT = os.geteuid() == 0


def test_atomic_writer_swaps_data(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    writer = AtomicWriter(target)
    assert writer.write({"a": (b"1", 0o644), "dir/b": (b"2", 0o600)})
    assert (target / "a").read_text() == "1"
    assert (target / "dir" / "b").read_text() == "2"
    assert (target / "a").is_symlink() and os.readlink(target / "a") == "..data/a"
    assert ((target / "dir" / "b").stat().st_mode & 0o777) == 0o600
    first = os.readlink(target / "..data")
    assert not writer.write({"a": (b"1", 0o644), "dir/b": (b"2", 0o600)})  # unchanged: no new directory
    assert writer.write({"a": (b"changed", 0o644)})
    assert os.readlink(target / "..data") != first
    assert not (target / first).exists()
    assert (target / "a").read_text() == "changed"
    assert not (target / "dir").exists()


def test_host_path_types(tmp_path: Path) -> None:
    check_host_path(str(tmp_path / "new"), "DirectoryOrCreate")
    assert (tmp_path / "new").is_dir()
    check_host_path(str(tmp_path / "f"), "FileOrCreate")
    assert (tmp_path / "f").is_file()
    with pytest.raises(VolumeError, match="is not a directory"):
        check_host_path(str(tmp_path / "f"), "Directory")
    with pytest.raises(VolumeError, match="is not a file"):
        check_host_path(str(tmp_path / "missing"), "File")
    check_host_path(str(tmp_path / "missing"), "")


async def test_volumes_visible_and_updated(api: ApiClient, tmp_path: Path) -> None:
    mnt = tmp_path / "mnt"
    out = tmp_path / "out"
    pv_dir = tmp_path / "pv"
    pv_dir.mkdir()
    (pv_dir / "data").write_text("persistent")
    await api.configmaps.create({"metadata": {"name": "cfg", "namespace": "default"}, "data": {"key": "v1"}})
    secret_data = {"pw": base64.b64encode(b"s3cret").decode()}
    await api.secrets.create({"metadata": {"name": "sec", "namespace": "default"}, "data": secret_data})
    await api.persistentvolumes.create(
        {
            "metadata": {"name": "pv1"},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "hostPath": {"path": str(pv_dir)},
            },
        }
    )
    await api.persistentvolumeclaims.create(
        {
            "metadata": {"name": "claim", "namespace": "default"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
                "volumeName": "pv1",
            },
        }
    )
    await api.persistentvolumeclaims.patch(
        "claim", {"status": {"phase": "Bound"}}, namespace="default", subresource="status"
    )
    volumes: list[dict[str, Any]] = [
        {"name": "cm", "configMap": {"name": "cfg"}},
        {"name": "sec", "secret": {"secretName": "sec", "defaultMode": 0o400}},
        {
            "name": "down",
            "downwardAPI": {"items": [{"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]},
        },
        {
            "name": "proj",
            "projected": {
                "sources": [
                    {"configMap": {"name": "cfg", "items": [{"key": "key", "path": "renamed"}]}},
                    {"secret": {"name": "sec"}},
                ]
            },
        },
        {"name": "scratch", "emptyDir": {}},
        {"name": "data", "persistentVolumeClaim": {"claimName": "claim"}},
    ]
    mounts = [{"name": v["name"], "mountPath": str(mnt / v["name"])} for v in volumes]
    script = (
        f"cat {mnt}/cm/key {mnt}/sec/pw {mnt}/down/name {mnt}/proj/renamed {mnt}/proj/pw {mnt}/data/data > {out};"
        f" echo x > {mnt}/scratch/f; exec sleep 300"
    )
    container = sh("c", script, volumeMounts=mounts)
    async with running_kubelet(api, tmp_path, sync_frequency=0.3) as kubelet:
        created = await api.pods.create(pod_spec("vols", [container], volumes=volumes))
        uid = created["metadata"]["uid"]
        await wait_pod(api, "vols", lambda p: p["status"].get("phase") == "Running")
        base = tmp_path / "kubelet" / "pods" / uid / "volumes"
        cm_file = base / "kubernetes.io~configmap" / "cm" / "key"
        assert cm_file.read_text() == "v1"
        assert ((base / "kubernetes.io~secret" / "sec" / "pw").stat().st_mode & 0o777) == 0o400
        assert (base / "kubernetes.io~projected" / "proj" / "renamed").read_text() == "v1"
        if not ROOT:
            unavailable("the process runtime bind-mounts volumes only as root")
        await eventually(lambda: out.exists() and out.read_text(), timeout=10, what="container output")
        assert out.read_text() == "v1s3cretvolsv1s3cretpersistent"
        assert (base / "kubernetes.io~empty-dir" / "scratch" / "f").read_text() == "x\n"
        _, cid, _ = kubelet.find_container("default", "vols", "c")
        await api.configmaps.patch("cfg", {"data": {"key": "v2"}}, namespace="default")

        async def updated() -> bool:
            result = await kubelet.runtime.exec_sync(cid, ["cat", f"{mnt}/cm/key"], 5)
            return result.stdout == b"v2"

        await eventually(updated, timeout=10, what="configMap update in the container")
        assert cm_file.read_text() == "v2"
