"""The Node object of a real kubelet: registration, status updates and the Lease heartbeat.

``machine_info(root)`` reads the machine: cpu (``os.cpu_count``), memory (``/proc/meminfo`` MemTotal),
ephemeral-storage (``statvfs`` of the kubelet's root dir), kernel, OS image (``/etc/os-release``
PRETTY_NAME), architecture; allocatable is capacity minus ``system_reserved`` and ``kube_reserved``.
``NodeStatusManager`` registers the Node (labels ``kubernetes.io/hostname|os|arch``, the instance type when
given, taints, addresses InternalIP/Hostname, nodeInfo with ``<runtime>://<version>`` and kubelet version,
``daemonEndpoints.kubeletEndpoint.Port``, conditions Ready/MemoryPressure/DiskPressure/PIDPressure with
upstream's reasons); re-registration of an existing Node patches its labels and status. It then renews the
Lease ``kube-node-lease/<node>`` every ``heartbeat_interval`` and recomputes the status every
``node_status_update_frequency``, PATCHing ``nodes/status`` when it changed or when
``node_status_report_frequency`` passed since the last report (condition heartbeat times move only then).
Conditions other than Ready come from ``set_pressure`` (the eviction manager); ``set_condition`` pins
any condition (a simulated node reporting a problem).

The same class registers the simulated nodes of ``kubelet/simulated.py`` (many per process, one shared
client): they pass the machine facts (``machine``: capacity, nodeInfo fields) instead of probing the
host, a runtime whose ``status()`` is constant, and drive ``renew_lease`` / ``update_once`` from their own
batched loops instead of ``lease_loop`` / ``status_loop``. ``conditions_for(node)`` gives the conditions
this manager reports, stamped against an observed Node (for a simulated node's stage templates).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import platform
import socket
import time
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

from kybernetes.api.meta import Obj, format_micro_time, now_rfc3339
from kybernetes.api.quota import format_quantity
from kybernetes.api.validation.quantity import parse as parse_quantity
from kybernetes.client import ApiClient, StatusError
from kybernetes.kubelet.options import KUBELET_VERSION, KubeletOptions
from kybernetes.kubelet.runtime import RuntimeStatus

__all__ = ["NodeStatusManager", "detect_node_ip", "machine_info"]

log = logging.getLogger(__name__)
LEASE_NAMESPACE = "kube-node-lease"
ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}
PRESSURE = {
    "MemoryPressure": (
        ("KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
    ),
    "DiskPressure": (
        ("KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("KubeletHasDiskPressure", "kubelet has disk pressure"),
    ),
    "PIDPressure": (
        ("KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("KubeletHasInsufficientPID", "kubelet has insufficient PID available"),
    ),
}


class RuntimeStatusSource(Protocol):
    """The part of ``Runtime`` the node status needs (a simulated node has no other)."""

    async def status(self) -> RuntimeStatus: ...


def _meminfo() -> dict[str, int]:
    out: dict[str, int] = {}
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        for line in f:
            key, _, rest = line.partition(":")
            parts = rest.split()
            if parts and parts[0].isdigit():
                out[key] = int(parts[0]) * (1024 if len(parts) > 1 and parts[1] == "kB" else 1)
    return out


def _os_image() -> str:
    with contextlib.suppress(OSError), open("/etc/os-release") as f:
        for line in f:
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    return f"{platform.system()} {platform.release()}"


def _machine_id() -> str:
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        with contextlib.suppress(OSError), open(path) as f:
            return f.read().strip()
    return hashlib.md5(socket.gethostname().encode()).hexdigest()


def _boot_id() -> str:
    with contextlib.suppress(OSError), open("/proc/sys/kernel/random/boot_id") as f:
        return f.read().strip()
    return ""


def machine_info(root: Path) -> dict[str, Any]:
    """Capacity and nodeInfo facts of this machine (blocking: call from a thread)."""
    mem = _meminfo().get("MemTotal", 0)
    root.mkdir(parents=True, exist_ok=True)
    vfs = os.statvfs(root)
    return {
        "capacity": {
            "cpu": str(os.cpu_count() or 1),
            "memory": format_quantity(Fraction(mem), "memory") if mem else "0",
            "ephemeral-storage": format_quantity(Fraction(vfs.f_blocks * vfs.f_frsize), "storage"),
        },
        "kernelVersion": platform.release(),
        "osImage": _os_image(),
        "operatingSystem": platform.system().lower(),
        "architecture": ARCH.get(platform.machine(), platform.machine()),
        "machineID": _machine_id(),
        "bootID": _boot_id(),
    }


def detect_node_ip() -> str:
    """The address of the default route's interface (no packet is sent), else loopback."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("10.255.255.255", 1))
        return str(s.getsockname()[0])
    return "127.0.0.1"


def _subtract(capacity: Mapping[str, str], *reserved: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in capacity.items():
        amount = parse_quantity(value)
        for res in reserved:
            if name in res:
                amount -= parse_quantity(res[name])
        out[name] = format_quantity(max(amount, Fraction(0)), name)
    return out


class NodeStatusManager:
    """Registers the Node, posts its status and renews its Lease (see the module docstring)."""

    def __init__(
        self,
        api: ApiClient,
        runtime: RuntimeStatusSource,
        node_name: str,
        *,
        root_dir: Path | None = None,
        options: KubeletOptions,
        node_ip: str,
        machine: Mapping[str, Any] | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> None:
        if root_dir is None and machine is None:
            raise ValueError("NodeStatusManager needs root_dir (to read the machine) or machine facts")
        self.api = api
        self.runtime = runtime
        self.node_name = node_name
        self.root_dir = root_dir
        self.options = options
        self.node_ip = node_ip
        self.machine = dict(machine) if machine is not None else None
        self.annotations = dict(annotations or {})
        self.info: dict[str, Any] = dict(machine or {})
        self.allocatable: dict[str, str] = {}
        self._allocatable_key: tuple[Any, ...] | None = None
        self.uid = ""
        self._pressure: dict[str, bool] = {k: False for k in PRESSURE}
        self._overrides: dict[str, tuple[str, str, str]] = {}  # type -> (status, reason, message)
        self._desired: list[Obj] = []  # the conditions of the last compute_status
        self._conditions: dict[str, Obj] = {}
        self._posted: Obj | None = None
        self._last_report = 0.0
        self._wake = asyncio.Event()
        self.lease_renewals = 0

    # --- the object -------------------------------------------------------------------------------------
    def labels(self) -> dict[str, str]:
        labels = {
            "kubernetes.io/hostname": self.options.hostname or self.node_name,
            "kubernetes.io/os": self.info.get("operatingSystem", "linux"),
            "kubernetes.io/arch": self.info.get("architecture", "amd64"),
            "beta.kubernetes.io/os": self.info.get("operatingSystem", "linux"),
            "beta.kubernetes.io/arch": self.info.get("architecture", "amd64"),
        }
        if self.options.instance_type:
            labels["node.kubernetes.io/instance-type"] = self.options.instance_type
            labels["beta.kubernetes.io/instance-type"] = self.options.instance_type
        labels.update(self.options.node_labels)
        return labels

    async def _runtime_condition(self) -> tuple[bool, str, str]:
        try:
            rs = await self.runtime.status()
        except Exception as exc:
            return False, "", f"container runtime is down: {exc}"
        if not rs.ready:
            return False, f"{rs.name}://{rs.version}", "container runtime is down"
        if not rs.network_ready:
            return False, f"{rs.name}://{rs.version}", "container runtime network not ready"
        return True, f"{rs.name}://{rs.version}", ""

    async def compute_status(self) -> Obj:
        ok, runtime_version, problem = await self._runtime_condition()
        conds: dict[str, tuple[str, str, str]] = {
            "Ready": ("True", "KubeletReady", "kubelet is posting ready status")
            if ok
            else ("False", "KubeletNotReady", problem)
        }
        for ctype, ((r_ok, m_ok), (r_bad, m_bad)) in PRESSURE.items():
            bad = self._pressure.get(ctype, False)
            conds[ctype] = ("True", r_bad, m_bad) if bad else ("False", r_ok, m_ok)
        for ctype, (status, reason, message) in self._overrides.items():
            _, r0, m0 = conds.get(ctype, ("", "", ""))
            conds[ctype] = (status, reason or r0, message or m0)
        self._desired = [
            {"type": t, "status": s, "reason": r, "message": m} for t, (s, r, m) in conds.items()
        ]
        capacity = {**self.info["capacity"], "pods": str(self.options.max_pods)}
        # allocatable only changes with capacity or the reservations: parse quantities once, not every
        # update (a simulated-node process recomputes thousands of statuses per round)
        key = (
            tuple(capacity.items()),
            tuple(self.options.system_reserved.items()),
            tuple(self.options.kube_reserved.items()),
        )
        if key != self._allocatable_key:
            self._allocatable_key = key
            self.allocatable = _subtract(capacity, self.options.system_reserved, self.options.kube_reserved)
        hostname = self.options.hostname or self.node_name
        return {
            "capacity": capacity,
            "allocatable": self.allocatable,
            "addresses": [
                {"type": "InternalIP", "address": self.node_ip},
                {"type": "Hostname", "address": hostname},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.options.port}},
            "nodeInfo": {
                "machineID": self.info.get("machineID", ""),
                "systemUUID": self.info.get("systemUUID", self.info.get("machineID", "")),
                "bootID": self.info.get("bootID", ""),
                "kernelVersion": self.info.get("kernelVersion", ""),
                "osImage": self.info.get("osImage", ""),
                "containerRuntimeVersion": runtime_version
                or (self._posted or {}).get("nodeInfo", {}).get("containerRuntimeVersion", ""),
                "kubeletVersion": self.info.get("kubeletVersion", KUBELET_VERSION),
                "kubeProxyVersion": "",
                "operatingSystem": self.info.get("operatingSystem", "linux"),
                "architecture": self.info.get("architecture", "amd64"),
            },
            "conditions": [dict(c) for c in self._desired],
        }

    def _stamp(self, status: Obj, now: str) -> Obj:
        before = {c["type"]: c for c in (self._posted or {}).get("conditions") or []}
        out = dict(status)
        out["conditions"] = []
        for cond in status["conditions"]:
            prev = before.get(cond["type"])
            transition = prev["lastTransitionTime"] if prev and prev["status"] == cond["status"] else now
            out["conditions"].append({**cond, "lastHeartbeatTime": now, "lastTransitionTime": transition})
        return out

    @staticmethod
    def _strip(status: Obj | None) -> Obj | None:
        if status is None:
            return None
        return {
            **status,
            "conditions": [
                {k: v for k, v in c.items() if k not in ("lastHeartbeatTime", "lastTransitionTime")}
                for c in status.get("conditions") or []
            ],
        }

    # --- registration ----------------------------------------------------------------------------------
    async def register(self) -> Obj:
        if self.machine is not None:
            self.info = dict(self.machine)
        else:
            assert self.root_dir is not None
            self.info = await asyncio.to_thread(machine_info, self.root_dir)
        status = self._stamp(await self.compute_status(), now_rfc3339())
        spec: Obj = {}
        if self.options.register_with_taints:
            spec["taints"] = [dict(t) for t in self.options.register_with_taints]
        if self.options.pod_cidr:
            spec["podCIDR"] = self.options.pod_cidr
            spec["podCIDRs"] = [self.options.pod_cidr]
        node: Obj = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": self.node_name, "labels": self.labels()},
            "spec": spec,
            "status": status,
        }
        if self.annotations:
            node["metadata"]["annotations"] = dict(self.annotations)
        fresh = True
        try:
            created = await self.api.nodes.create(node)
        except StatusError as exc:
            if exc.code != 409:
                raise
            fresh = False
            await self.api.nodes.patch(self.node_name, {"metadata": {"labels": self.labels()}})
            created = await self.api.nodes.patch(self.node_name, {"status": status}, subresource="status")
        self.uid = str((created.get("metadata") or {}).get("uid") or "")
        self._posted = status
        self._last_report = time.monotonic()
        if fresh:
            # A new Node has no Lease yet (or a stale one of an earlier Node of that name): create first,
            # which saves a PATCH -> 404 per node when thousands of simulated nodes register.
            try:
                await self.api.leases.create(self._lease())
                self.lease_renewals += 1
                return created
            except StatusError as exc:
                if exc.code != 409:
                    raise
        await self.renew_lease()
        return created

    # --- status updates --------------------------------------------------------------------------------
    def set_pressure(self, ctype: str, value: bool) -> None:
        """Set MemoryPressure / DiskPressure / PIDPressure; the next update posts it (promptly)."""
        if self._pressure.get(ctype) != value:
            self._pressure[ctype] = value
            self._wake.set()

    async def set_condition(self, ctype: str, status: str, reason: str = "", message: str = "") -> None:
        """Pin condition ``ctype`` (e.g. Ready False) and post it now, as a kubelet reporting a problem;
        the pin holds for every later update."""
        self._overrides[ctype] = (status, reason, message)
        await self.update_once(force=True)

    def conditions_for(self, observed: Obj | None, now: str | None = None) -> list[Obj]:
        """The conditions this node reports, stamped ``now`` against ``observed`` (a Node as the API has
        it): a condition whose status differs there transitions now."""
        now = now or now_rfc3339()
        before = {c.get("type"): c for c in ((observed or {}).get("status") or {}).get("conditions") or []}
        out = []
        for cond in self._desired:
            prev = before.get(cond["type"]) or {}
            same = prev.get("status") == cond["status"] and prev.get("lastTransitionTime")
            transition = prev["lastTransitionTime"] if same else now
            out.append({**cond, "lastHeartbeatTime": now, "lastTransitionTime": transition})
        return out

    async def update_once(self, *, force: bool = False) -> bool:
        """Recompute the status; PATCH when changed or due. True when a PATCH was sent."""
        status = await self.compute_status()
        due = time.monotonic() - self._last_report >= self.options.node_status_report_frequency
        if not force and not due and self._strip(status) == self._strip(self._posted):
            return False
        stamped = self._stamp(status, now_rfc3339())
        try:
            await self.api.nodes.patch(self.node_name, {"status": stamped}, subresource="status")
        except StatusError as exc:
            if exc.code != 404:
                raise
            await self.register()  # the Node was deleted: register again, as upstream does
            return True
        self._posted = stamped
        self._last_report = time.monotonic()
        return True

    async def status_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.options.node_status_update_frequency)
            self._wake.clear()
            try:
                await self.update_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("node status update of %s failed: %s", self.node_name, exc)

    # --- the lease -------------------------------------------------------------------------------------
    def _lease(self) -> Obj:
        md: Obj = {"name": self.node_name, "namespace": LEASE_NAMESPACE}
        if self.uid:
            md["ownerReferences"] = [
                {"apiVersion": "v1", "kind": "Node", "name": self.node_name, "uid": self.uid}
            ]
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": md,
            "spec": {
                "holderIdentity": self.node_name,
                "leaseDurationSeconds": self.options.node_lease_duration_seconds,
                "renewTime": format_micro_time(),
            },
        }

    async def renew_lease(self) -> None:
        patch = {"spec": {"renewTime": format_micro_time(), "holderIdentity": self.node_name}}
        try:
            await self.api.leases.patch(self.node_name, patch, namespace=LEASE_NAMESPACE)
        except StatusError as exc:
            if exc.code != 404:
                raise
            try:
                await self.api.leases.create(self._lease())
            except StatusError as exc2:
                if exc2.code != 409:
                    raise
        self.lease_renewals += 1

    async def lease_loop(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.renew_lease()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("lease renewal of %s failed: %s", self.node_name, exc)
            await asyncio.sleep(max(0.0, self.options.heartbeat_interval - (time.monotonic() - started)))
