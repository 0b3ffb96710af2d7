"""What the kubelet knows about each pod it runs: the typed records the pod workers write and the status
manager reads.

``PodState`` (one per pod uid) holds the pod as last seen, its sandbox and IP, and a ``ContainerRecord``
per container: the current runtime instance (id and last ``ContainerStatus``), the previous instance (for
``lastState`` and ``logs --previous``), the restart count and, while the container is not running, the
waiting reason and message (ContainerCreating, PodInitializing, CrashLoopBackOff, ErrImagePull, ...).
A pod the kubelet ended itself (evicted, or every container finished under restartPolicy Never or
OnFailure) carries ``terminal_phase`` and, when evicted, ``reason``/``message``. Ephemeral containers
(``spec.ephemeralContainers``, added through ``pods/ephemeralcontainers``) have records too, marked
``ephemeral``: they run once and are never restarted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from kybernetes.api.meta import Obj
from kybernetes.kubelet.runtime import ContainerStatus

__all__ = ["ContainerRecord", "PodState", "is_sidecar"]


def is_sidecar(container: dict[str, Any]) -> bool:
    return container.get("restartPolicy") == "Always"


@dataclass
class ContainerRecord:
    name: str
    init: bool = False
    sidecar: bool = False
    ephemeral: bool = False
    container_id: str = ""
    status: ContainerStatus | None = None
    previous_id: str = ""
    previous: ContainerStatus | None = None
    restart_count: int = 0
    waiting_reason: str = "ContainerCreating"
    waiting_message: str = ""
    image_id: str = ""
    log_path: str = ""
    previous_log_path: str = ""
    killed_for: str = ""  # "liveness" / "startup" / "postStart": why the kubelet killed the current instance

    @property
    def running(self) -> bool:
        return self.status is not None and self.status.state == "running"

    @property
    def exited(self) -> bool:
        return self.status is not None and self.status.state == "exited"

    @property
    def succeeded(self) -> bool:
        return self.exited and self.status is not None and self.status.exit_code == 0


@dataclass
class PodState:
    uid: str
    pod: Obj
    source: str = "api"  # "api" or "file" (a static pod)
    sandbox_id: str = ""
    pod_ip: str = ""
    containers: dict[str, ContainerRecord] = field(default_factory=dict)
    start_time: float = field(default_factory=time.time)
    initialized: bool = False
    terminal_phase: str = ""
    reason: str = ""
    message: str = ""
    terminating: bool = False
    terminated: bool = False

    @property
    def namespace(self) -> str:
        return str((self.pod.get("metadata") or {}).get("namespace") or "default")

    @property
    def name(self) -> str:
        return str((self.pod.get("metadata") or {}).get("name") or "")

    @property
    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = self.pod.get("spec") or {}
        return spec

    def record(self, container: dict[str, Any], *, init: bool, ephemeral: bool = False) -> ContainerRecord:
        name = str(container.get("name") or "")
        rec = self.containers.get(name)
        if rec is None:
            rec = self.containers[name] = ContainerRecord(
                name, init=init, sidecar=init and is_sidecar(container), ephemeral=ephemeral
            )
            if not ephemeral and (init or self.spec.get("initContainers")):
                rec.waiting_reason = "PodInitializing"
        return rec
