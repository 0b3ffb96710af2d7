"""Static pods: pods read from ``--pod-manifest-path`` files, run by the kubelet, mirrored into the API.

``read_manifests(dir, node)`` parses every ``*.yaml``/``*.yml``/``*.json`` file (one Pod each; hidden
files ignored) the way upstream's file source does: the name becomes ``<name>-<node>``, the namespace
defaults to ``default``, ``spec.nodeName`` is the node, the uid is a hash of the manifest, file name and
node (so an edited manifest is a new pod), API defaults are applied, and the annotations
``kubernetes.io/config.source: file`` and ``kubernetes.io/config.hash`` are set. ``mirror_pod(static)`` is the API object of a static pod: same name and namespace, the annotation
``kubernetes.io/config.mirror: <hash>`` and an owner reference to the Node; the pod informer ignores mirror
pods as something to run, and the kubelet posts the static pod's status onto its mirror.
"""

from __future__ import annotations

import copy
import hashlib
import logging
from pathlib import Path

import orjson
import yaml

from kybernetes.api.defaults import apply_defaults
from kybernetes.api.meta import Obj
from kybernetes.api.registry import Registry

__all__ = [
    "ANNOTATION_CONFIG_HASH",
    "ANNOTATION_CONFIG_SOURCE",
    "ANNOTATION_MIRROR",
    "is_mirror_pod",
    "mirror_pod",
    "read_manifests",
]

log = logging.getLogger(__name__)
ANNOTATION_MIRROR = "kubernetes.io/config.mirror"
ANNOTATION_CONFIG_HASH = "kubernetes.io/config.hash"
ANNOTATION_CONFIG_SOURCE = "kubernetes.io/config.source"
SUFFIXES = (".yaml", ".yml", ".json")


def is_mirror_pod(pod: Obj) -> bool:
    return ANNOTATION_MIRROR in ((pod.get("metadata") or {}).get("annotations") or {})


def _parse(path: Path) -> Obj | None:
    text = path.read_text()
    data = orjson.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if not isinstance(data, dict) or data.get("kind", "Pod") != "Pod":
        log.warning("static pod manifest %s is not a Pod; ignored", path)
        return None
    return data


def _static_pod(data: Obj, path: Path, node: str) -> Obj:
    pod = copy.deepcopy(data)
    pod.setdefault("apiVersion", "v1")
    pod["kind"] = "Pod"
    md = pod.setdefault("metadata", {})
    md["name"] = f"{md.get('name') or path.stem}-{node}"
    md.setdefault("namespace", "default")
    digest = hashlib.md5(orjson.dumps(data, option=orjson.OPT_SORT_KEYS) + str(path).encode() + node.encode())
    uid = digest.hexdigest()
    md["uid"] = uid
    md["annotations"] = {
        **(md.get("annotations") or {}),
        ANNOTATION_CONFIG_HASH: uid,
        ANNOTATION_CONFIG_SOURCE: "file",
    }
    spec = pod.setdefault("spec", {})
    spec["nodeName"] = node
    info = Registry.builtin().get("", "v1", "pods")
    if info is not None:
        apply_defaults(info, pod)
    spec.setdefault("tolerations", []).append({"operator": "Exists", "effect": "NoExecute"})
    pod["status"] = {"phase": "Pending"}
    return pod


def read_manifests(directory: Path, node: str) -> dict[str, Obj]:
    """uid -> static pod for every manifest in ``directory`` (blocking: call from a thread)."""
    pods: dict[str, Obj] = {}
    if not directory.is_dir():
        return pods
    for path in sorted(directory.iterdir()):
        if path.name.startswith(".") or path.suffix not in SUFFIXES or not path.is_file():
            continue
        try:
            data = _parse(path)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            log.warning("cannot read static pod manifest %s: %s", path, exc)
            continue
        if data is not None:
            pod = _static_pod(data, path, node)
            pods[pod["metadata"]["uid"]] = pod
    return pods


def mirror_pod(static: Obj, node_uid: str) -> Obj:
    """The API object mirroring ``static`` (no uid, status or server-side fields)."""
    pod = copy.deepcopy(static)
    md = pod["metadata"]
    md.pop("uid", None)
    md["annotations"] = {
        **md.get("annotations", {}),
        ANNOTATION_MIRROR: md["annotations"][ANNOTATION_CONFIG_HASH],
    }
    node = pod["spec"]["nodeName"]
    if node_uid:
        md["ownerReferences"] = [
            {"apiVersion": "v1", "kind": "Node", "name": node, "uid": node_uid, "controller": True}
        ]
    pod.pop("status", None)
    return pod
