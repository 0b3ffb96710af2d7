"""Pod workers: one task per pod uid, serialising everything the kubelet does to that pod.

A ``PodWorker`` sleeps until woken (a pod update from the API or a manifest, a container state change
seen by the relist, a probe result, a timer it set itself) and then runs ``sync`` once, level-triggered:

1. deleted (``deletionTimestamp``) or removed -> ``terminate``: preStop hooks and SIGTERM/SIGKILL within
   the grace period (app containers first, then sidecars), sandbox stopped, containers and volumes
   removed, final status posted, and for an API pod ``DELETE`` with ``gracePeriodSeconds=0`` and a uid
   precondition, so the deletion completes only after its containers stopped;
2. terminal (evicted, or finished under restartPolicy Never/OnFailure) -> nothing runs any more;
3. otherwise: the sandbox (``run_sandbox``; pod IP), the volumes (``volumes.py``; ``FailedMount``), the
   ephemeral containers not started yet (each runs once, never restarted, even while initialization is
   incomplete, as upstream starts them before the init containers), the init containers in order (each must exit 0; restartPolicy ``Always`` init containers are sidecars:
   started in order, kept running, and a startup probe gates the next one), then the app containers;
   exited containers restart per restartPolicy with the CrashLoopBackOff back-off (``back-off 10s
   restarting failed container=c pod=p_ns(uid)``), first restart immediate as upstream;
4. the status is computed (``status_manager.compute_status``) and posted if it changed.

Liveness/startup failures from the prober arrive through ``kill_for_probe``; the kill itself happens in
the worker's next sync, so nothing touches a pod outside its worker. Starting one container instance is
``container_start.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

from kybernetes.api.errors import StatusError
from kybernetes.api.meta import Obj
from kybernetes.kubelet.container_names import pod_log_dir, qualified_pod_name, sandbox_labels
from kybernetes.kubelet.container_start import start_container
from kybernetes.kubelet.pod_state import ContainerRecord, PodState
from kybernetes.kubelet.probe_handlers import HandlerTarget, run_handler
from kybernetes.kubelet.runtime import PortMapping, SandboxConfig
from kybernetes.kubelet.status_manager import compute_status
from kybernetes.kubelet.volumes import VolumeError
from kybernetes.kubelet.worker_context import WorkerContext, go_duration

__all__ = ["PodWorker"]

log = logging.getLogger(__name__)
MIN_GRACE = 2.0
RETRY = 1.0


def _should_restart(rec: ContainerRecord, policy: str) -> bool:
    if rec.sidecar:
        return True
    if rec.init:
        return policy != "Never" and not rec.succeeded
    if policy == "Always":
        return True
    return policy == "OnFailure" and not rec.succeeded


class PodWorker:
    """Serialised lifecycle of one pod (see the module docstring)."""

    def __init__(self, ctx: WorkerContext, state: PodState) -> None:
        self.ctx = ctx
        self.state = state
        self.removed = False
        self.done = asyncio.Event()
        self._wake = asyncio.Event()
        self._deadline: float | None = None
        self._kills: list[tuple[str, str, str, str]] = []
        self._evict_message: str | None = None
        self._task: asyncio.Task[None] | None = None

    # --- control ----------------------------------------------------------------------------------------
    def start(self) -> None:
        self._wake.set()  # the first sync happens at once, not after sync_frequency
        self._task = asyncio.get_running_loop().create_task(self.run(), name=f"pod-worker:{self.state.uid}")

    def update(self, pod: Obj) -> None:
        self.state.pod = pod
        self.wake()

    def wake(self) -> None:
        self._wake.set()

    def remove(self) -> None:
        self.removed = True
        self.wake()

    def kill_for_probe(self, name: str, container_id: str, kind: str, message: str) -> None:
        self._kills.append((name, container_id, kind, message))
        self.wake()

    def request_eviction(self, message: str) -> None:
        """Evict the pod in its next sync (the eviction manager calls this)."""
        self._evict_message = message
        self.wake()

    def _after(self, delay: float) -> None:
        at = time.monotonic() + max(delay, 0.01)
        if self._deadline is None or at < self._deadline:
            self._deadline = at

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def run(self) -> None:
        try:
            while True:
                timeout = self.ctx.options.sync_frequency
                if self._deadline is not None:
                    timeout = min(timeout, max(0.0, self._deadline - time.monotonic()))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
                self._wake.clear()
                self._deadline = None
                try:
                    if await self.sync():
                        return
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("sync of pod %s/%s failed", self.state.namespace, self.state.name)
                    self._after(RETRY)
        finally:
            self.done.set()

    # --- one sync ---------------------------------------------------------------------------------------
    async def sync(self) -> bool:
        """One reconciliation; True when the pod is gone and the worker should end."""
        st = self.state
        md = st.pod.get("metadata") or {}
        if self.removed or md.get("deletionTimestamp"):
            grace = md.get("deletionGracePeriodSeconds")
            if grace is None:
                grace = st.spec.get(
                    "terminationGracePeriodSeconds", self.ctx.options.default_termination_grace
                )
            if self.removed and st.source == "api" and not md.get("deletionTimestamp"):
                grace = 0  # vanished from the API without a graceful deletion: kill promptly
            await self.terminate(float(grace))
            if not self.removed and st.source == "api":
                await self._finish_deletion()
            await self._cleanup()
            return True
        if self._evict_message is not None and not st.terminal_phase:
            await self.evict(self._evict_message)
        await self._refresh()
        await self._probe_kills()
        if st.terminal_phase:
            await self._post()
            return False
        if not await self._ensure_sandbox():
            await self._post()
            return False
        volumes = await self._ensure_volumes()
        if volumes is None:
            await self._post()
            return False
        await self._run_ephemeral(volumes)
        if await self._run_init(volumes):
            st.initialized = True
            await self._run_app(volumes)
            await self._check_completion()
        await self._post()
        return False

    async def _post(self) -> None:
        ctx, st = self.ctx, self.state
        status = compute_status(
            st,
            runtime_name=ctx.runtime_name,
            host_ip=ctx.node_ip,
            ready=lambda r: (
                ctx.probes.is_ready(st.uid, r.name, r.container_id)
                and ctx.probes.is_started(st.uid, r.name, r.container_id)
            ),
            started=lambda r: ctx.probes.is_started(st.uid, r.name, r.container_id),
        )
        if not await ctx.status.post(st, status):
            self._after(RETRY)

    async def _refresh(self) -> None:
        for rec in self.state.containers.values():
            if rec.container_id:
                try:
                    rec.status = await self.ctx.runtime.container_status(rec.container_id)
                except Exception as exc:
                    log.debug("status of %s failed: %s", rec.container_id, exc)

    async def _probe_kills(self) -> None:
        kills, self._kills = self._kills, []
        for name, cid, kind, _message in kills:
            rec = self.state.containers.get(name)
            if rec is None or rec.container_id != cid or not rec.running:
                continue
            spec = self._spec_of(name)
            self.ctx.recorder.normal(
                self.state.pod, "Killing", f"Container {name} failed {kind} probe, will be restarted"
            )
            probe = spec.get(f"{kind}Probe") or {}
            grace = probe.get(
                "terminationGracePeriodSeconds", self.state.spec.get("terminationGracePeriodSeconds")
            )
            rec.killed_for = kind
            await self._kill(rec, spec, float(grace if grace is not None else 30), announce=False)
            with contextlib.suppress(Exception):
                rec.status = await self.ctx.runtime.container_status(cid)

    def _spec_of(self, name: str) -> Mapping[str, Any]:
        for kind in ("initContainers", "containers", "ephemeralContainers"):
            for c in self.state.spec.get(kind) or []:
                if c.get("name") == name:
                    return dict(c)
        return {}

    # --- sandbox and volumes ----------------------------------------------------------------------------
    def _sandbox_config(self) -> SandboxConfig:
        st, o = self.state, self.ctx.options
        spec = st.spec
        dns_servers: tuple[str, ...] = ()
        searches: tuple[str, ...] = ()
        if (
            spec.get("dnsPolicy", "ClusterFirst") in ("ClusterFirst", "ClusterFirstWithHostNet")
            and o.cluster_dns
        ):
            dns_servers = tuple(o.cluster_dns)
            d = o.cluster_domain
            searches = (f"{st.namespace}.svc.{d}", f"svc.{d}", d)
        ports = tuple(
            PortMapping(int(p["containerPort"]), int(p.get("hostPort") or 0), str(p.get("protocol") or "TCP"))
            for c in spec.get("containers") or []
            for p in c.get("ports") or []
            if p.get("hostPort")
        )
        return SandboxConfig(
            name=st.name,
            namespace=st.namespace,
            uid=st.uid,
            hostname=str(spec.get("hostname") or st.name),
            log_directory=str(pod_log_dir(self.ctx.root_dir, st.pod)),
            dns_servers=dns_servers,
            dns_searches=searches,
            dns_options=("ndots:5",) if dns_servers else (),
            port_mappings=ports,
            labels=sandbox_labels(st.pod),
            annotations=dict((st.pod.get("metadata") or {}).get("annotations") or {}),
            host_network=bool(spec.get("hostNetwork")),
        )

    async def _ensure_sandbox(self) -> bool:
        st, rt = self.state, self.ctx.runtime
        if st.sandbox_id:
            try:
                ss = await rt.sandbox_status(st.sandbox_id)
                if ss.state == "ready":
                    st.pod_ip = ss.ip or st.pod_ip or self.ctx.node_ip
                    return True
            except Exception as exc:
                log.debug("sandbox %s status failed: %s", st.sandbox_id, exc)
            self.ctx.recorder.normal(
                st.pod, "SandboxChanged", "Pod sandbox changed, it will be killed and re-created."
            )
            await self._stop_all(0.0)
        try:
            await asyncio.to_thread(pod_log_dir(self.ctx.root_dir, st.pod).mkdir, parents=True, exist_ok=True)
            st.sandbox_id = await rt.run_sandbox(self._sandbox_config())
            ss = await rt.sandbox_status(st.sandbox_id)
        except Exception as exc:
            self.ctx.recorder.warning(
                st.pod, "FailedCreatePodSandBox", f"Failed to create pod sandbox: {exc}"
            )
            self._after(RETRY * 2)
            return False
        st.pod_ip = ss.ip or self.ctx.node_ip
        return True

    async def _ensure_volumes(self) -> dict[str, tuple[str, bool]] | None:
        st = self.state
        try:
            return await self.ctx.volumes.setup(
                st.pod, host_ip=self.ctx.node_ip, pod_ip=st.pod_ip, allocatable=self.ctx.allocatable()
            )
        except VolumeError as exc:
            self.ctx.recorder.warning(st.pod, "FailedMount", str(exc))
            self._after(RETRY * 2)
            return None

    # --- containers -------------------------------------------------------------------------------------
    async def _start_or_restart(
        self, rec: ContainerRecord, c: Mapping[str, Any], volumes: Mapping[str, tuple[str, bool]]
    ) -> bool:
        """Start a first instance, or a new one after an exit (with back-off). True when started."""
        st, ctx = self.state, self.ctx
        if rec.exited and rec.status is not None:
            key = f"{st.uid}/{rec.name}"
            finished = rec.status.finished_at or time.time()
            now = time.time()
            if ctx.restart_backoff.in_backoff_since(key, finished, now):
                delay = ctx.restart_backoff.get(key)
                rec.waiting_reason = "CrashLoopBackOff"
                rec.waiting_message = (
                    f"back-off {go_duration(delay)} restarting failed container={rec.name} "
                    f"pod={qualified_pod_name(st.pod)}"
                )
                ctx.recorder.warning(
                    st.pod,
                    "BackOff",
                    f"Back-off restarting failed container {rec.name} in pod {qualified_pod_name(st.pod)}",
                )
                self._after(ctx.restart_backoff.remaining(key, finished, now))
                return False
            ctx.restart_backoff.next(key, finished)
            ctx.probes.stop_container(st.uid, rec.name)
        retry = await start_container(ctx, st, rec, c, volumes)
        if retry is not None:
            self._after(retry)
            return False
        return True

    async def _run_init(self, volumes: Mapping[str, tuple[str, bool]]) -> bool:
        """Drive init containers; True once every one completed (sidecars: started)."""
        st = self.state
        policy = str(st.spec.get("restartPolicy") or "Always")
        for c in st.spec.get("initContainers") or []:
            rec = st.record(dict(c), init=True)
            if rec.sidecar:
                if not rec.running and not await self._start_or_restart(rec, c, volumes):
                    return False
                if not self.ctx.probes.is_started(st.uid, rec.name, rec.container_id) and not st.initialized:
                    return False
                continue
            if st.initialized:
                continue
            if rec.succeeded:
                continue
            if rec.running:
                return False
            if rec.exited and not _should_restart(rec, policy):
                rec.waiting_reason = ""
                st.terminal_phase = "Failed"
                await self._stop_all(0.0)
                return False
            await self._start_or_restart(rec, c, volumes)
            return False
        return True

    async def _run_ephemeral(self, volumes: Mapping[str, tuple[str, bool]]) -> None:
        """Start each ephemeral container that never ran (restartPolicy Never semantics: an exited one stays
        exited; one that could not be created yet, e.g. its image is missing, is retried)."""
        st = self.state
        for c in st.spec.get("ephemeralContainers") or []:
            rec = st.record(dict(c), init=False, ephemeral=True)
            if rec.container_id:
                continue
            await self._start_or_restart(rec, c, volumes)

    async def _run_app(self, volumes: Mapping[str, tuple[str, bool]]) -> None:
        st = self.state
        policy = str(st.spec.get("restartPolicy") or "Always")
        for c in st.spec.get("containers") or []:
            rec = st.record(dict(c), init=False)
            if rec.running:
                continue
            if rec.exited and not _should_restart(rec, policy):
                rec.waiting_reason = rec.waiting_message = ""
                continue
            if rec.waiting_reason == "PodInitializing":
                rec.waiting_reason = "ContainerCreating"
            await self._start_or_restart(rec, c, volumes)

    async def _check_completion(self) -> None:
        """Under restartPolicy Never/OnFailure: all app containers done for good -> the pod is terminal."""
        st = self.state
        policy = str(st.spec.get("restartPolicy") or "Always")
        apps = [st.containers.get(str(c.get("name"))) for c in st.spec.get("containers") or []]
        if policy == "Always" or not apps:
            return
        if all(r is not None and r.exited and not _should_restart(r, policy) for r in apps):
            st.terminal_phase = "Succeeded" if all(r is not None and r.succeeded for r in apps) else "Failed"
            await self._stop_all(float(st.spec.get("terminationGracePeriodSeconds") or 30))

    # --- termination ------------------------------------------------------------------------------------
    async def _kill(
        self, rec: ContainerRecord, spec: Mapping[str, Any], grace: float, *, announce: bool = True
    ) -> None:
        ctx, st = self.ctx, self.state
        if not rec.container_id:
            return
        if announce:
            ctx.recorder.normal(st.pod, "Killing", f"Stopping container {rec.name}")
        deadline = time.monotonic() + grace
        hook = (spec.get("lifecycle") or {}).get("preStop")
        if isinstance(hook, Mapping) and rec.running and grace > 0:
            target = HandlerTarget(ctx.runtime, rec.container_id, spec, st.pod_ip or ctx.node_ip, ctx.node_ip)
            try:
                ok, message = await asyncio.wait_for(run_handler(hook, target, grace), grace)
            except TimeoutError:
                ok, message = False, f"preStop hook did not complete within {grace:g}s"
            if not ok:
                ctx.recorder.warning(st.pod, "FailedPreStopHook", f"PreStopHook failed: {message}".strip())
        remaining = max(deadline - time.monotonic(), min(MIN_GRACE, grace))
        try:
            await ctx.runtime.stop_container(rec.container_id, remaining)
        except Exception as exc:
            log.warning("stopping container %s failed: %s", rec.container_id, exc)

    async def _stop_all(self, grace: float) -> None:
        """Stop every running container (app containers, then sidecars and init containers) and the sandbox."""
        st = self.state
        self.ctx.probes.stop_pod(st.uid)
        await self._refresh()
        running = [r for r in st.containers.values() if r.running]
        apps = [r for r in running if not r.init]
        started = time.monotonic()
        await asyncio.gather(*(self._kill(r, self._spec_of(r.name), grace) for r in apps))
        rest = max(0.0, grace - (time.monotonic() - started))
        await asyncio.gather(*(self._kill(r, self._spec_of(r.name), rest) for r in running if r.init))
        if st.sandbox_id:
            with contextlib.suppress(Exception):
                await self.ctx.runtime.stop_sandbox(st.sandbox_id)
        await self._refresh()
        for rec in st.containers.values():
            if rec.exited:
                rec.waiting_reason = rec.waiting_message = ""

    async def terminate(self, grace: float) -> None:
        st = self.state
        st.terminating = True
        await self._stop_all(grace)
        apps = [st.containers.get(str(c.get("name"))) for c in st.spec.get("containers") or []]
        if not st.terminal_phase:
            ok = all(r is None or r.status is None or r.succeeded for r in apps)
            st.terminal_phase = "Succeeded" if ok else "Failed"
        st.terminated = True
        await self._post()

    async def evict(self, message: str) -> None:
        """Hard eviction (called from the worker's owner): Failed/Evicted, containers killed at once."""
        st = self.state
        st.terminal_phase, st.reason, st.message = "Failed", "Evicted", message
        self.ctx.recorder.warning(st.pod, "Evicted", message)
        await self._stop_all(0.0)
        await self._post()

    async def _finish_deletion(self) -> None:
        st = self.state
        try:
            await self.ctx.api.pods.delete(
                st.name, namespace=st.namespace, grace_period_seconds=0, preconditions={"uid": st.uid}
            )
        except StatusError as exc:
            if exc.code not in (404, 409):
                log.warning("final delete of pod %s/%s failed: %s", st.namespace, st.name, exc)

    async def _cleanup(self) -> None:
        st, ctx = self.state, self.ctx
        ctx.probes.stop_pod(st.uid)
        for rec in st.containers.values():
            for cid in (rec.previous_id, rec.container_id):
                if cid:
                    with contextlib.suppress(Exception):
                        await ctx.runtime.remove_container(cid)
        await ctx.volumes.teardown(st.uid)  # before the sandbox: a runtime may share the pod directory
        if st.sandbox_id:
            with contextlib.suppress(Exception):
                await ctx.runtime.remove_sandbox(st.sandbox_id)
        ctx.restart_backoff.forget_prefix(st.uid + "/")
        ctx.pull_backoff.forget_prefix(st.uid + "/")
        ctx.status.forget(st.uid)
