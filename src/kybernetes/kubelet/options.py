"""``KubeletOptions``: every knob of the node agent, with upstream's defaults.

Timings that tests shorten (restart back-off, probe and relist periods, heartbeat, status report
frequency, eviction interval) are plain fields here, so tests change configuration, never code paths.
The CLI (``kyb agent`` / the embedded agent) builds one of these from its flags; ``agent.py`` consumes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DEFAULT_EVICTION_HARD", "KUBELET_VERSION", "KubeletOptions"]

KUBELET_VERSION = "v1.32.4"
DEFAULT_EVICTION_HARD: dict[str, str] = {"memory.available": "100Mi", "nodefs.available": "10%"}


@dataclass
class KubeletOptions:
    """Configuration of one ``Kubelet`` (names follow the upstream flags where one exists)."""

    # --- the node object -------------------------------------------------------------------------------
    node_labels: dict[str, str] = field(default_factory=dict)
    register_with_taints: list[dict[str, str]] = field(default_factory=list)
    instance_type: str = ""
    node_ip: str = ""  # InternalIP; detected from the default route when empty
    hostname: str = ""  # Hostname address; the node name when empty
    pod_cidr: str = ""
    max_pods: int = 110
    system_reserved: dict[str, str] = field(default_factory=dict)  # {"cpu": "100m", "memory": "256Mi"}
    kube_reserved: dict[str, str] = field(default_factory=dict)
    # --- the kubelet's own server (streaming: logs, exec, attach, port-forward) ---------------------------
    address: str = "0.0.0.0"
    port: int = 10250
    # --- heartbeats ------------------------------------------------------------------------------------
    node_lease_duration_seconds: int = 40
    heartbeat_interval: float = 10.0  # Lease renewal
    node_status_update_frequency: float = 10.0  # how often status is computed (patched only on change)
    node_status_report_frequency: float = 300.0  # patch at least this often even without changes
    # --- pods ------------------------------------------------------------------------------------------
    pod_manifest_path: Path | None = None
    file_check_frequency: float = 20.0
    sync_frequency: float = 60.0  # periodic resync of every pod worker (configMap/secret volume refresh)
    pleg_relist_period: float = 1.0  # how often the runtime's containers are listed for state changes
    restart_backoff_base: float = 10.0
    restart_backoff_max: float = 300.0
    restart_backoff_reset: float = 600.0  # a container that ran this long restarts without back-off
    image_pull_backoff_base: float = 10.0
    image_pull_backoff_max: float = 300.0
    probe_min_period: float = 0.0  # tests may scale probes down: period = max(min, periodSeconds*scale)
    probe_time_scale: float = 1.0  # multiplies initialDelay/period/timeout seconds of probes and hooks
    default_termination_grace: float = 30.0
    # --- eviction --------------------------------------------------------------------------------------
    eviction_hard: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_EVICTION_HARD))
    eviction_monitoring_interval: float = 10.0
    eviction_pressure_transition_period: float = 300.0
    # --- misc ------------------------------------------------------------------------------------------
    cluster_dns: list[str] = field(default_factory=list)
    cluster_domain: str = "cluster.local"
