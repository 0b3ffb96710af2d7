"""Names, labels and paths the kubelet gives runtime objects, so it can find its own after a restart.

Sandboxes and containers carry upstream's ``io.kubernetes.*`` labels (pod name, namespace, uid, container
name) plus the restart count as an annotation; container ids in the API are ``<runtime>://<id>``; logs
live under ``<root>/logs/pods/<ns>_<name>_<uid>/<container>/<restartCount>.log`` as upstream's
``/var/log/pods`` layout.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kybernetes.api.meta import meta_of as _md

__all__ = [
    "ANNOTATION_RESTART_COUNT",
    "LABEL_CONTAINER_NAME",
    "LABEL_POD_NAME",
    "LABEL_POD_NAMESPACE",
    "LABEL_POD_UID",
    "container_labels",
    "container_log_path",
    "pod_log_dir",
    "qualified_pod_name",
    "sandbox_labels",
]

LABEL_POD_NAME = "io.kubernetes.pod.name"
LABEL_POD_NAMESPACE = "io.kubernetes.pod.namespace"
LABEL_POD_UID = "io.kubernetes.pod.uid"
LABEL_CONTAINER_NAME = "io.kubernetes.container.name"
ANNOTATION_RESTART_COUNT = "io.kubernetes.container.restartCount"


def qualified_pod_name(pod: Mapping[str, Any]) -> str:
    """``name_namespace(uid)``, the form upstream's messages use."""
    md = _md(pod)
    return f"{md.get('name')}_{md.get('namespace')}({md.get('uid')})"


def sandbox_labels(pod: Mapping[str, Any]) -> dict[str, str]:
    md = _md(pod)
    labels = {str(k): str(v) for k, v in (md.get("labels") or {}).items()}
    labels.update(
        {
            LABEL_POD_NAME: str(md.get("name") or ""),
            LABEL_POD_NAMESPACE: str(md.get("namespace") or ""),
            LABEL_POD_UID: str(md.get("uid") or ""),
        }
    )
    return labels


def container_labels(pod: Mapping[str, Any], container: str) -> dict[str, str]:
    md = _md(pod)
    return {
        LABEL_POD_NAME: str(md.get("name") or ""),
        LABEL_POD_NAMESPACE: str(md.get("namespace") or ""),
        LABEL_POD_UID: str(md.get("uid") or ""),
        LABEL_CONTAINER_NAME: container,
    }


def pod_log_dir(root: Path, pod: Mapping[str, Any]) -> Path:
    md = _md(pod)
    return root / "logs" / "pods" / f"{md.get('namespace')}_{md.get('name')}_{md.get('uid')}"


def container_log_path(root: Path, pod: Mapping[str, Any], container: str, restart_count: int) -> Path:
    return pod_log_dir(root, pod) / container / f"{restart_count}.log"
