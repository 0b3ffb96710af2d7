"""The prober: liveness, readiness and startup probes of running containers (``pkg/kubelet/prober``).

``ProbeManager.start(pod, container, container_id, ...)`` starts one worker task per probe of a freshly
started container; ``stop_container`` / ``stop_pod`` cancel them. A worker waits ``initialDelaySeconds``,
then runs its handler (``probe_handlers.run_handler``) every ``periodSeconds`` with ``timeoutSeconds``,
and flips its result only after ``successThreshold`` consecutive successes or ``failureThreshold``
consecutive failures. As upstream:

- readiness starts False (True when there is no readiness probe) and drives the container's ``ready``;
- startup starts False and, while not succeeded, gates the liveness and readiness workers (they idle);
  a container without a startup probe is ``started`` as soon as it runs;
- a liveness (or startup) failure calls ``on_failure`` once: the pod worker kills the container with the
  ``Killing`` event ``Container c failed liveness probe, will be restarted`` and the normal restart path
  takes over; every failed attempt records ``Unhealthy`` (``Liveness probe failed: <output>``).

Result changes call ``on_change(pod_uid)`` so the status manager posts the new readiness. Timings are
multiplied by ``KubeletOptions.probe_time_scale`` (tests only).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kybernetes.client import EventRecorder
from kybernetes.kubelet.probe_handlers import HandlerTarget, run_handler
from kybernetes.kubelet.runtime import Runtime

__all__ = ["ContainerProbeState", "ProbeManager"]

log = logging.getLogger(__name__)

KINDS = (("startup", "startupProbe"), ("liveness", "livenessProbe"), ("readiness", "readinessProbe"))


@dataclass
class ContainerProbeState:
    """Probe results of one container instance (``container_id``)."""

    container_id: str
    ready: bool = False
    started: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


FailureFn = Callable[[str, str, str, str, str], None]  # (pod uid, container, container id, kind, message)


class ProbeManager:
    """Probe workers for every running container of the node."""

    def __init__(
        self,
        runtime: Runtime,
        recorder: EventRecorder | None,
        *,
        on_change: Callable[[str], None],
        on_failure: FailureFn,
        time_scale: float = 1.0,
        min_period: float = 0.0,
    ) -> None:
        self.runtime = runtime
        self.recorder = recorder
        self.on_change = on_change
        self.on_failure = on_failure
        self.time_scale = time_scale
        self.min_period = min_period
        self._states: dict[tuple[str, str], ContainerProbeState] = {}

    # --- results ------------------------------------------------------------------------------------------
    def state(self, uid: str, container: str) -> ContainerProbeState | None:
        return self._states.get((uid, container))

    def is_ready(self, uid: str, container: str, container_id: str) -> bool:
        st = self._states.get((uid, container))
        return bool(st and st.container_id == container_id and st.ready)

    def is_started(self, uid: str, container: str, container_id: str) -> bool:
        st = self._states.get((uid, container))
        return bool(st and st.container_id == container_id and st.started)

    # --- lifecycle ----------------------------------------------------------------------------------------
    def start(
        self, pod: Mapping[str, Any], container: Mapping[str, Any], container_id: str, pod_ip: str
    ) -> None:
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        name = str(container.get("name") or "")
        self.stop_container(uid, name)
        has_startup = isinstance(container.get("startupProbe"), Mapping)
        has_readiness = isinstance(container.get("readinessProbe"), Mapping)
        st = ContainerProbeState(container_id, ready=not has_readiness, started=not has_startup)
        self._states[(uid, name)] = st
        target = HandlerTarget(self.runtime, container_id, container, pod_ip)
        for kind, key in KINDS:
            probe = container.get(key)
            if isinstance(probe, Mapping):
                task = asyncio.get_running_loop().create_task(
                    self._worker(pod, uid, name, kind, probe, target, st), name=f"probe:{kind}:{uid}/{name}"
                )
                st.tasks.append(task)

    def stop_container(self, uid: str, name: str) -> None:
        st = self._states.pop((uid, name), None)
        if st is not None:
            for task in st.tasks:
                task.cancel()

    def stop_pod(self, uid: str) -> None:
        for key in [k for k in self._states if k[0] == uid]:
            self.stop_container(*key)

    async def close(self) -> None:
        tasks = [t for st in self._states.values() for t in st.tasks]
        self._states.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # --- one worker -----------------------------------------------------------------------------------------
    def _seconds(self, probe: Mapping[str, Any], key: str, default: float) -> float:
        value = probe.get(key)
        return float(value if isinstance(value, int | float) else default) * self.time_scale

    async def _worker(
        self,
        pod: Mapping[str, Any],
        uid: str,
        name: str,
        kind: str,
        probe: Mapping[str, Any],
        target: HandlerTarget,
        st: ContainerProbeState,
    ) -> None:
        delay = self._seconds(probe, "initialDelaySeconds", 0)
        period = max(self.min_period, self._seconds(probe, "periodSeconds", 10))
        timeout = max(0.05, self._seconds(probe, "timeoutSeconds", 1))
        success_threshold = int(probe.get("successThreshold") or 1)
        failure_threshold = int(probe.get("failureThreshold") or 3)
        successes = failures = 0
        label = kind.capitalize()
        await asyncio.sleep(delay)
        while True:
            if kind != "startup" and not st.started:
                await asyncio.sleep(min(period, 0.1))
                continue
            if kind == "startup" and st.started:
                return
            ok, message = await run_handler(probe, target, timeout)
            if ok:
                successes, failures = successes + 1, 0
                if successes >= (1 if kind != "readiness" else success_threshold):
                    self._succeeded(uid, kind, st)
            else:
                successes, failures = 0, failures + 1
                if self.recorder is not None:
                    self.recorder.warning(pod, "Unhealthy", f"{label} probe failed: {message.strip()}")
                if failures >= failure_threshold and self._failed(uid, name, kind, st, message):
                    return
            await asyncio.sleep(period)

    def _succeeded(self, uid: str, kind: str, st: ContainerProbeState) -> None:
        if kind == "startup" and not st.started:
            st.started = True
            self.on_change(uid)
        elif kind == "readiness" and not st.ready:
            st.ready = True
            self.on_change(uid)

    def _failed(self, uid: str, name: str, kind: str, st: ContainerProbeState, message: str) -> bool:
        """Apply a threshold of failures; True when the worker should end (the container is killed)."""
        if kind == "readiness":
            if st.ready:
                st.ready = False
                self.on_change(uid)
            return False
        st.ready = False
        self.on_failure(uid, name, st.container_id, kind, message)
        return True
