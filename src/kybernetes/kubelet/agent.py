"""The node agent: ``Kubelet`` turns the pods bound to its node into runtime containers and reports back.

Everything goes through the API (``kybernetes.client``): a pod informer with the field selector
``spec.nodeName=<node>`` feeds one ``PodWorker`` per pod uid (``pod_workers.py``); static pods come from
``KubeletOptions.pod_manifest_path`` (``static_pods.py``) and are mirrored into the API. Around them:

- ``node_status.NodeStatusManager``: Node registration, status updates, the Lease heartbeat;
- a relist loop (upstream's PLEG): every ``pleg_relist_period`` the runtime's containers are listed and
  the worker of any pod whose container changed state is woken;
- ``probes.ProbeManager``: liveness/readiness/startup workers; results wake the pod's worker;
- ``status_manager.StatusManager``: the one place pod statuses are PATCHed;
- ``eviction.EvictionManager``: node-pressure conditions and evictions;
- at start-up, runtime sandboxes of pods this kubelet no longer has are stopped and removed, and those of
  pods it still runs are adopted (containers, restart counts).

``find_container`` and ``sandbox_of`` serve the streaming server (logs, exec, attach, port-forward);
containers are looked up among the init, app and ephemeral containers.
``run(stop)`` runs until ``stop`` is set; the runtime is started and closed by the kubelet unless
``manage_runtime=False``. Containers keep running when the kubelet stops (as upstream), except what the
runtime's ``close`` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

from kybernetes._lib.tasks import TaskOwner
from kybernetes.api.meta import Obj
from kybernetes.client import ApiClient, EventRecorder, SharedInformerFactory
from kybernetes.client.informer import DeletedFinalStateUnknown, Informer
from kybernetes.kubelet.container_names import LABEL_POD_UID
from kybernetes.kubelet.eviction import EvictionManager
from kybernetes.kubelet.node_status import NodeStatusManager, detect_node_ip
from kybernetes.kubelet.object_cache import ObjectCache
from kybernetes.kubelet.options import KubeletOptions
from kybernetes.kubelet.pod_state import PodState
from kybernetes.kubelet.pod_workers import PodWorker
from kybernetes.kubelet.probes import ProbeManager
from kybernetes.kubelet.runtime import Runtime
from kybernetes.kubelet.static_pods import ANNOTATION_MIRROR, is_mirror_pod, mirror_pod, read_manifests
from kybernetes.kubelet.status_manager import StatusManager
from kybernetes.kubelet.volumes import VolumeManager
from kybernetes.kubelet.worker_context import WorkerContext

__all__ = ["Kubelet", "KubeletOptions"]

log = logging.getLogger(__name__)
TERMINAL = ("Succeeded", "Failed")


def _log_crash(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("kubelet loop %s failed", task.get_name(), exc_info=task.exception())


class Kubelet:
    """The node agent for ``node_name`` (see the module docstring)."""

    def __init__(
        self,
        api: ApiClient,
        runtime: Runtime,
        node_name: str,
        *,
        root_dir: Path,
        options: KubeletOptions | None = None,
        manage_runtime: bool = True,
    ) -> None:
        self.api = api
        self.runtime = runtime
        self.node_name = node_name
        self.root_dir = Path(root_dir)
        self.options = options or KubeletOptions()
        self.manage_runtime = manage_runtime
        self.node_ip = self.options.node_ip or detect_node_ip()
        self.runtime_name = "unknown"
        self.recorder = EventRecorder(api, "kubelet", node_name)
        self.objects = ObjectCache(api, ttl=min(max(self.options.sync_frequency / 2, 0.1), 10.0))
        self.node_status = NodeStatusManager(
            api, runtime, node_name, root_dir=self.root_dir, options=self.options, node_ip=self.node_ip
        )
        self.status = StatusManager(api)
        self.probes = ProbeManager(
            runtime,
            self.recorder,
            on_change=self._wake_uid,
            on_failure=self._probe_failed,
            time_scale=self.options.probe_time_scale,
            min_period=self.options.probe_min_period,
        )
        self.workers: dict[str, PodWorker] = {}
        self._reapers = TaskOwner("kubelet-reapers", logger=log)  # forget each worker once it is done
        self.static_pods: dict[str, Obj] = {}
        self.informers = SharedInformerFactory(api)
        self.pod_informer: Informer = self.informers.informer(
            api.pods, field_selector=f"spec.nodeName={node_name}"
        )
        self.pod_informer.add_event_handler(
            self._on_pod, lambda old, new: self._on_pod(new), self._on_pod_gone
        )
        self.eviction = EvictionManager(
            runtime=runtime,
            root_dir=self.root_dir,
            thresholds=self.options.eviction_hard,
            interval=self.options.eviction_monitoring_interval,
            transition_period=self.options.eviction_pressure_transition_period,
            pods=lambda: [w.state for w in self.workers.values()],
            evict=lambda st, message: self._request_eviction(st.uid, message),
            set_pressure=self.node_status.set_pressure,
        )
        self.ready = asyncio.Event()
        self._ctx: WorkerContext | None = None
        self._mirror_wake = asyncio.Event()
        self._defer_start = True  # workers created before adoption start after it

    # --- the streaming server's lookups -----------------------------------------------------------------
    def _state_by_name(self, namespace: str, pod: str) -> PodState:
        for worker in self.workers.values():
            st = worker.state
            if st.namespace == namespace and st.name == pod:
                return st
        raise LookupError(f'pod "{pod}" not found on node {self.node_name} (namespace {namespace})')

    def find_container(
        self, namespace: str, pod: str, container: str | None, *, previous: bool = False
    ) -> tuple[Runtime, str, str]:
        """``(runtime, container id, log path)`` of a container (its previous instance with ``previous``)."""
        st = self._state_by_name(namespace, pod)
        names = [str(c.get("name")) for c in st.spec.get("containers") or []]
        all_names = [
            str(c.get("name"))
            for kind in ("initContainers", "containers", "ephemeralContainers")
            for c in st.spec.get(kind) or []
        ]
        if container is None:
            if len(names) != 1:
                raise LookupError(
                    f"a container name must be specified for pod {pod}, choose one of: [{' '.join(names)}]"
                )
            container = names[0]
        rec = st.containers.get(container)
        if container not in all_names or rec is None:
            raise LookupError(f"container {container} is not valid for pod {pod}")
        if previous:
            cid, path = rec.previous_id, rec.previous_log_path
            if not cid and rec.exited and rec.waiting_reason:  # exited, waiting for its restart
                cid, path = rec.container_id, rec.log_path
            if not cid:
                raise LookupError(f'previous terminated container "{container}" in pod "{pod}" not found')
            return self.runtime, cid, path
        if not rec.container_id:
            reason = rec.waiting_reason or "ContainerCreating"
            raise LookupError(f'container "{container}" in pod "{pod}" is waiting to start: {reason}')
        return self.runtime, rec.container_id, rec.log_path

    def sandbox_of(self, namespace: str, pod: str) -> str:
        st = self._state_by_name(namespace, pod)
        if not st.sandbox_id:
            raise LookupError(f'pod "{pod}" has no running sandbox')
        return st.sandbox_id

    # --- pod sources ------------------------------------------------------------------------------------
    def _wake_uid(self, uid: str) -> None:
        worker = self.workers.get(uid)
        if worker is not None:
            worker.wake()

    def _probe_failed(self, uid: str, name: str, cid: str, kind: str, message: str) -> None:
        worker = self.workers.get(uid)
        if worker is not None:
            worker.kill_for_probe(name, cid, kind, message)

    def _request_eviction(self, uid: str, message: str) -> None:
        worker = self.workers.get(uid)
        if worker is not None:
            worker.request_eviction(message)

    def _ensure_worker(self, pod: Obj, source: str) -> None:
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        if not uid or self._ctx is None:
            return
        worker = self.workers.get(uid)
        if worker is not None:
            if source == "api" or worker.state.source == source:
                worker.update(pod)
            return
        self.objects.register_pod(pod)  # a new pod's volumes and env see current values
        worker = PodWorker(self._ctx, PodState(uid, pod, source=source))
        self.workers[uid] = worker
        if not self._defer_start:
            worker.start()
        self._reapers.spawn(self._reap(uid, worker), name=f"reap:{uid}")

    async def _reap(self, uid: str, worker: PodWorker) -> None:
        await worker.done.wait()
        if self.workers.get(uid) is worker:
            del self.workers[uid]

    def _on_pod(self, pod: Obj) -> None:
        if self._ctx is None:
            return
        if is_mirror_pod(pod):
            return
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        phase = (pod.get("status") or {}).get("phase")
        deleting = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
        if uid not in self.workers and phase in TERMINAL and not deleting:
            return  # finished before this kubelet knew it: nothing to run
        self._ensure_worker(pod, "api")

    def _on_pod_gone(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        pod = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        if is_mirror_pod(pod):
            self._mirror_wake.set()
            return
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        worker = self.workers.get(uid)
        if worker is not None and worker.state.source == "api":
            worker.remove()

    # --- static pods ------------------------------------------------------------------------------------
    async def _static_loop(self) -> None:
        path = self.options.pod_manifest_path
        assert path is not None
        while True:
            try:
                pods = await asyncio.to_thread(read_manifests, Path(path), self.node_name)
                for uid in set(self.static_pods) - set(pods):
                    worker = self.workers.get(uid)
                    if worker is not None:
                        worker.remove()
                    await self._delete_mirror(self.static_pods[uid])
                for uid, pod in pods.items():
                    if uid not in self.static_pods:
                        self._ensure_worker(pod, "file")
                self.static_pods = pods
                await self._sync_mirrors()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("static pods: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._mirror_wake.wait(), self.options.file_check_frequency)
            self._mirror_wake.clear()

    async def _sync_mirrors(self) -> None:
        for pod in self.static_pods.values():
            md = pod["metadata"]
            current = self.pod_informer.get(md["name"], md["namespace"])
            want = md["annotations"]["kubernetes.io/config.hash"]
            if current is not None:
                if ((current.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_MIRROR) == want:
                    if not (current.get("metadata") or {}).get("deletionTimestamp"):
                        continue
                await self._delete_mirror(current)
            try:
                await self.api.pods.create(mirror_pod(pod, self.node_status.uid))
            except Exception as exc:
                log.debug("mirror pod %s: %s", md["name"], exc)
            else:
                self.status.forget(md["uid"])
                worker = self.workers.get(md["uid"])
                if worker is not None:
                    worker.wake()

    async def _delete_mirror(self, pod: Obj) -> None:
        md = pod.get("metadata") or {}
        with contextlib.suppress(Exception):
            await self.api.pods.delete(
                str(md.get("name")), namespace=str(md.get("namespace")), grace_period_seconds=0
            )

    # --- relist (PLEG) ----------------------------------------------------------------------------------
    async def relist_once(self) -> None:
        statuses = {s.id: s.state for s in await self.runtime.list_containers()}
        for worker in list(self.workers.values()):
            for rec in worker.state.containers.values():
                if not rec.container_id:
                    continue
                known = rec.status.state if rec.status is not None else None
                if statuses.get(rec.container_id, "exited") != known:
                    worker.wake()
                    break

    async def _relist_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.pleg_relist_period)
            try:
                await self.relist_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("relist failed: %s", exc)

    async def _adopt_or_clean(self) -> None:
        """Adopt sandboxes of pods still bound here; stop and remove the others."""
        wanted = {str((p.get("metadata") or {}).get("uid")): p for p in self.pod_informer.list()}
        wanted.update(self.static_pods)
        try:
            sandboxes = await self.runtime.list_sandboxes()
        except Exception as exc:
            log.warning("listing sandboxes failed: %s", exc)
            return
        for sid, config in sandboxes:
            uid = config.uid or config.labels.get(LABEL_POD_UID, "")
            worker = self.workers.get(uid)
            if uid in wanted and worker is not None and not worker.state.sandbox_id:
                await self._adopt(worker.state, sid)
                continue
            with contextlib.suppress(Exception):
                for cs in await self.runtime.list_containers(sid):
                    await self.runtime.stop_container(cs.id, 0)
                    await self.runtime.remove_container(cs.id)
                await self.runtime.stop_sandbox(sid)
                await self.runtime.remove_sandbox(sid)

    async def _adopt(self, st: PodState, sandbox_id: str) -> None:
        st.sandbox_id = sandbox_id
        inits = {str(c.get("name")): c for c in st.spec.get("initContainers") or []}
        apps = {str(c.get("name")): c for c in st.spec.get("containers") or []}
        ephemerals = {str(c.get("name")): c for c in st.spec.get("ephemeralContainers") or []}
        for cs in sorted(await self.runtime.list_containers(sandbox_id), key=lambda s: s.attempt):
            spec = inits.get(cs.name) or apps.get(cs.name) or ephemerals.get(cs.name)
            if spec is None:
                continue
            rec = st.record(dict(spec), init=cs.name in inits, ephemeral=cs.name in ephemerals)
            if rec.container_id:
                rec.previous_id, rec.previous, rec.previous_log_path = (
                    rec.container_id,
                    rec.status,
                    rec.log_path,
                )
            rec.container_id, rec.status, rec.restart_count = cs.id, cs, cs.attempt
            rec.log_path, rec.waiting_reason = cs.log_path, ""
        st.initialized = any(r.container_id for r in st.containers.values() if not r.init and not r.ephemeral)
        with contextlib.suppress(Exception):
            ss = await self.runtime.sandbox_status(sandbox_id)
            st.pod_ip = ss.ip or st.pod_ip or self.node_ip
        # Probe state lives in this process: an adopted container that is still running gets its probe
        # workers again (readiness starts False until a probe succeeds, or True without a readiness
        # probe, as for a new container); without this it would stay not ready (ContainersNotReady).
        for rec in st.containers.values():
            spec = inits.get(rec.name) or apps.get(rec.name)
            if (
                spec is not None
                and rec.container_id
                and rec.status is not None
                and rec.status.state == "running"
            ):
                self.probes.start(st.pod, spec, rec.container_id, st.pod_ip or self.node_ip)

    # --- running ----------------------------------------------------------------------------------------
    async def _register(self, stop: asyncio.Event) -> None:
        delay = 0.2
        while not stop.is_set():
            try:
                await self.node_status.register()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("registering node %s failed: %s; retrying in %.1fs", self.node_name, exc, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                delay = min(delay * 2, 7.0)

    async def run(self, stop: asyncio.Event) -> None:
        """Register the node and run pods until ``stop`` is set."""
        tasks: list[asyncio.Task[Any]] = []
        if self.manage_runtime:
            await self.runtime.start()
        try:
            rs = await self.runtime.status()
            self.runtime_name = rs.name
            await asyncio.to_thread(self.root_dir.mkdir, parents=True, exist_ok=True)
            await self._register(stop)
            if stop.is_set():
                return
            self._ctx = WorkerContext(
                api=self.api,
                runtime=self.runtime,
                runtime_name=self.runtime_name,
                node_name=self.node_name,
                node_ip=self.node_ip,
                root_dir=self.root_dir,
                options=self.options,
                volumes=VolumeManager(self.root_dir, self.objects),
                source=self.objects,
                env_source=self.objects.current,
                recorder=self.recorder,
                probes=self.probes,
                status=self.status,
                allocatable=lambda: self.node_status.allocatable,
            )
            self.informers.start()
            await self.pod_informer.wait_synced()
            if self.options.pod_manifest_path is not None:
                self.static_pods = await asyncio.to_thread(
                    read_manifests, Path(self.options.pod_manifest_path), self.node_name
                )
            for pod in self.pod_informer.list():
                self._on_pod(pod)
            for pod in self.static_pods.values():
                self._ensure_worker(pod, "file")
            await self._adopt_or_clean()
            self._defer_start = False
            for worker in list(self.workers.values()):
                worker.start()
            loops = [self.node_status.lease_loop(), self.node_status.status_loop(), self._relist_loop()]
            if self.eviction.thresholds:
                loops.append(self.eviction.loop())
            if self.options.pod_manifest_path is not None:
                loops.append(self._static_loop())
            tasks = [asyncio.create_task(c) for c in loops]
            for task in tasks:
                task.add_done_callback(_log_crash)
            self.ready.set()
            await stop.wait()
        finally:
            await self._shutdown(tasks)

    async def _shutdown(self, tasks: list[asyncio.Task[Any]]) -> None:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await asyncio.gather(*(w.stop() for w in list(self.workers.values())), return_exceptions=True)
        await self._reapers.close()
        await self.probes.close()
        await self.informers.stop()
        with contextlib.suppress(Exception):
            await self.recorder.stop(2.0)
        if self.manage_runtime:
            with contextlib.suppress(Exception):
                await self.runtime.close()
