"""What a pod worker needs from the kubelet: runtime, options, caches, recorder, prober, status manager.

One ``WorkerContext`` is built by ``agent.Kubelet`` and shared by every pod worker; it is a plain bag of
collaborators so ``pod_workers.py`` and ``container_start.py`` stay testable without a whole kubelet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kybernetes._lib.backoff import KeyedBackoff
from kybernetes.client import ApiClient, EventRecorder
from kybernetes.kubelet.env import ObjectSource
from kybernetes.kubelet.options import KubeletOptions
from kybernetes.kubelet.probes import ProbeManager
from kybernetes.kubelet.runtime import Runtime
from kybernetes.kubelet.status_manager import StatusManager
from kybernetes.kubelet.volumes import VolumeManager, VolumeSource

__all__ = ["WorkerContext", "go_duration"]


def go_duration(seconds: float) -> str:
    """A duration the way Go's ``time.Duration.String`` prints it: ``10s``, ``1m20s``, ``5m0s``, ``200ms``."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        ms = seconds * 1000
        return f"{ms:g}ms" if ms >= 1 else f"{seconds * 1e6:g}µs"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{secs:.9f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{int(hours)}h{int(minutes)}m{text}"
    if minutes:
        return f"{int(minutes)}m{text}"
    return text


@dataclass
class WorkerContext:
    api: ApiClient
    runtime: Runtime
    runtime_name: str
    node_name: str
    node_ip: str
    root_dir: Path
    options: KubeletOptions
    volumes: VolumeManager
    source: VolumeSource
    recorder: EventRecorder
    probes: ProbeManager
    status: StatusManager
    allocatable: Callable[[], dict[str, str]]
    # Current (uncached) configMaps and secrets for the environment of a container being started;
    # ``source`` (cached) when unset. Cached reads are fine only for volume refreshes.
    env_source: ObjectSource | None = None
    restart_backoff: KeyedBackoff = field(init=False)
    pull_backoff: KeyedBackoff = field(init=False)

    def __post_init__(self) -> None:
        o = self.options
        self.restart_backoff = KeyedBackoff(
            o.restart_backoff_base, o.restart_backoff_max, o.restart_backoff_reset
        )
        self.pull_backoff = KeyedBackoff(o.image_pull_backoff_base, o.image_pull_backoff_max)
