"""The eviction manager: node-pressure eviction as upstream's ``pkg/kubelet/eviction`` does it (hard only).

Every ``eviction_monitoring_interval`` it observes ``memory.available`` (``/proc/meminfo`` MemAvailable)
and ``nodefs.available`` (``statvfs`` of the kubelet's root dir) against ``eviction_hard`` thresholds
(``{"memory.available": "100Mi", "nodefs.available": "10%"}`` by default; quantities or percentages of
capacity). A met threshold sets MemoryPressure / DiskPressure on the Node (kept for
``eviction_pressure_transition_period`` after the last observation, as upstream) and evicts one pod per
round (waiting for the victim's containers to stop before the next): pods whose usage exceeds their
requests first, then lower priority, then larger usage above
requests (``rank_pods``). The victim is marked Failed with reason ``Evicted`` and the message ``The node was
low on resource: memory. Threshold quantity: 100Mi, available: 50Mi. Container c was using ...``.
Static pods and system-critical pods (priority >= 2000000000) are never evicted. ``observe`` is
injectable for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from kybernetes.api.quota import format_quantity
from kybernetes.api.validation.quantity import parse as parse_quantity
from kybernetes.kubelet.pod_state import PodState
from kybernetes.kubelet.runtime import Runtime

__all__ = ["EvictionManager", "Observation", "Threshold", "observe_node", "parse_thresholds", "rank_pods"]

log = logging.getLogger(__name__)
SIGNAL_RESOURCE = {"memory.available": "memory", "nodefs.available": "ephemeral-storage"}
SIGNAL_CONDITION = {"memory.available": "MemoryPressure", "nodefs.available": "DiskPressure"}
CRITICAL_PRIORITY = 2_000_000_000


@dataclass(frozen=True)
class Threshold:
    signal: str
    quantity: int = 0  # bytes
    percentage: float = 0.0  # of capacity

    def value(self, capacity: int) -> int:
        return int(capacity * self.percentage) if self.percentage else self.quantity

    def text(self, capacity: int) -> str:
        return format_quantity(Fraction(self.value(capacity)), "memory")


@dataclass(frozen=True)
class Observation:
    available: int
    capacity: int


def parse_thresholds(spec: Mapping[str, str]) -> list[Threshold]:
    out = []
    for signal, raw in spec.items():
        if signal not in SIGNAL_RESOURCE:
            log.warning("unsupported eviction signal %s ignored", signal)
            continue
        text = str(raw).strip()
        if text.endswith("%"):
            out.append(Threshold(signal, percentage=float(text[:-1]) / 100))
        else:
            out.append(Threshold(signal, quantity=int(parse_quantity(text))))
    return out


def observe_node(root: Path) -> dict[str, Observation]:
    """Current observations of this machine (blocking)."""
    mem: dict[str, int] = {}
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        for line in f:
            key, _, rest = line.partition(":")
            parts = rest.split()
            if parts and parts[0].isdigit():
                mem[key] = int(parts[0]) * 1024
    vfs = os.statvfs(root)
    return {
        "memory.available": Observation(mem.get("MemAvailable", 0), mem.get("MemTotal", 0)),
        "nodefs.available": Observation(vfs.f_bavail * vfs.f_frsize, vfs.f_blocks * vfs.f_frsize),
    }


def _requests(pod: Mapping[str, Any], resource: str) -> int:
    total = 0
    for c in (pod.get("spec") or {}).get("containers") or []:
        value = ((c.get("resources") or {}).get("requests") or {}).get(resource)
        if value is not None:
            with contextlib.suppress(ValueError):
                total += int(parse_quantity(str(value)))
    return total


def rank_pods(states: Sequence[PodState], usage: Mapping[str, int], resource: str) -> list[PodState]:
    """Eviction order: usage above requests first, then lower priority, then more usage above requests."""

    def key(st: PodState) -> tuple[int, int, int]:
        used = usage.get(st.uid, 0)
        over = used - _requests(st.pod, resource)
        return (0 if over > 0 else 1, int(st.spec.get("priority") or 0), -over)

    return sorted(states, key=key)


class EvictionManager:
    """Watches node resources, reports pressure and evicts pods (see the module docstring)."""

    def __init__(
        self,
        *,
        runtime: Runtime,
        root_dir: Path,
        thresholds: Mapping[str, str],
        interval: float,
        transition_period: float,
        pods: Callable[[], Sequence[PodState]],
        evict: Callable[[PodState, str], None],
        set_pressure: Callable[[str, bool], None],
        observe: Callable[[], Awaitable[dict[str, Observation]]] | None = None,
    ) -> None:
        self.runtime = runtime
        self.root_dir = root_dir
        self.thresholds = parse_thresholds(thresholds)
        self.interval = interval
        self.transition_period = transition_period
        self.pods = pods
        self.evict = evict
        self.set_pressure = set_pressure
        self.observe = observe or (lambda: asyncio.to_thread(observe_node, root_dir))
        self._last_seen: dict[str, float] = {}
        self.evictions = 0

    async def _usage(self, states: Sequence[PodState]) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
        per_pod: dict[str, int] = {}
        per_container: dict[str, dict[str, int]] = {}
        for st in states:
            for rec in st.containers.values():
                if not rec.running:
                    continue
                try:
                    stats = await self.runtime.container_stats(rec.container_id)
                except Exception:
                    continue
                per_pod[st.uid] = per_pod.get(st.uid, 0) + stats.memory_working_set_bytes
                per_container.setdefault(st.uid, {})[rec.name] = stats.memory_working_set_bytes
        return per_pod, per_container

    async def synchronize(self) -> PodState | None:
        """One round: observe, update conditions, evict at most one pod (returned)."""
        observations = await self.observe()
        now = time.monotonic()
        met: list[tuple[Threshold, Observation]] = []
        for th in self.thresholds:
            obs = observations.get(th.signal)
            if obs is not None and obs.capacity and obs.available < th.value(obs.capacity):
                met.append((th, obs))
                self._last_seen[th.signal] = now
        for signal, condition in SIGNAL_CONDITION.items():
            seen = self._last_seen.get(signal)
            self.set_pressure(condition, seen is not None and now - seen < max(self.transition_period, 1e-9))
        if not met:
            return None
        th, obs = met[0]
        resource = SIGNAL_RESOURCE[th.signal]
        candidates = [
            st
            for st in self.pods()
            if st.source == "api"
            and not st.terminal_phase
            and not st.terminating
            and int(st.spec.get("priority") or 0) < CRITICAL_PRIORITY
        ]
        if not candidates:
            return None
        usage, per_container = await self._usage(candidates)
        victim = rank_pods(candidates, usage, resource)[0]
        short = "memory" if resource == "memory" else resource
        message = (
            f"The node was low on resource: {short}. Threshold quantity: {th.text(obs.capacity)}, "
            f"available: {format_quantity(Fraction(max(obs.available, 0) // 1024 * 1024), 'memory')}. "
        )
        for c in victim.spec.get("containers") or []:
            used = per_container.get(victim.uid, {}).get(str(c.get("name")), 0)
            request = ((c.get("resources") or {}).get("requests") or {}).get(resource, "0")
            if used:
                message += (
                    f"Container {c.get('name')} was using {format_quantity(Fraction(used // 1024 * 1024), 'memory')}, "
                    f"request is {request}, has larger consumption of {short}. "
                )
        self.evict(victim, message)
        self.evictions += 1
        return victim

    async def wait_cleanup(self, victim: PodState, timeout: float = 30.0) -> bool:  # noqa: ASYNC109
        """Upstream's ``waitForPodsCleanup``: no further eviction until the victim's containers stopped."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if victim.terminal_phase and not any(r.running for r in victim.containers.values()):
                return True
            await asyncio.sleep(min(self.interval, 0.1))
        return False

    async def loop(self) -> None:
        if not self.thresholds:
            return
        while True:
            try:
                victim = await self.synchronize()
                if victim is not None:
                    await self.wait_cleanup(victim)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("eviction manager round failed: %s", exc)
            await asyncio.sleep(self.interval)
