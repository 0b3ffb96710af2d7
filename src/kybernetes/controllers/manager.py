"""kube-controller-manager: run the enabled controllers in one process, under leader election.

``ControllerManager(api, controllers=..., options=..., leader_elect=True)`` and ``await run(stop)``:

- **which controllers**: ``CONTROLLERS`` maps a name to ``"module:Class"``. The enabled ones are imported
  when the manager is created (not when this module is), and one that cannot be imported (no module,
  an import error inside it, no such ``Controller`` class) stops the manager from being created at all
  (``ControllerLoadError``), as upstream's kube-controller-manager refuses to start: a controller never
  goes missing silently.
  ``controllers`` uses upstream's ``--controllers`` syntax: ``None`` or ``["*"]`` for every registered
  controller, ``"name"`` to enable one, ``"-name"`` to disable one (``["*", "-garbagecollector"]``);
  an unknown name is a ``ValueError``.
- **one term of leadership** (``_lead``): a fresh ``SharedInformerFactory`` and ``ControllerContext``;
  every controller is constructed (registering its informer handlers), awaited ``prepare()`` if it has
  one (the garbage collector discovers resources there), informers are started and synced, then each
  controller runs with ``workers`` workers (class attribute, overridable with
  ``options.extra["concurrent_<name>_syncs"]``). A controller that crashes is logged and restarted
  after a pause; the others keep running.
- **leader election** on the Lease ``kube-system/kube-controller-manager`` (upstream timings: 15 s lease,
  10 s renew deadline, 2 s retry; all configurable). Losing the lease cancels every controller and stops
  the informers; ``run`` then returns (upstream exits the process), unless ``recampaign=True``, in which
  case it campaigns again. A clean stop releases the lease (``release_on_cancel``) so a standby takes
  over at its next retry; a crashed leader's lease expires after ``lease_duration``. Without leader election the controllers simply run until ``stop``.

Controllers live in sibling modules (``replicaset.py``, ``deployment.py``, ``garbagecollector.py``,
``namespace.py``, ``serviceaccount.py``, ...); their shared skeleton is ``base.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import logging
import socket
import uuid
from typing import Any

from kybernetes.client import ApiClient, LeaderElector, SharedInformerFactory
from kybernetes.controllers.base import Controller, ControllerContext, ControllerOptions

log = logging.getLogger(__name__)

CONTROLLERS: dict[str, str] = {
    "serviceaccount": "kybernetes.controllers.serviceaccount:ServiceAccountController",
    "namespace": "kybernetes.controllers.namespace:NamespaceController",
    "garbagecollector": "kybernetes.controllers.garbagecollector:GarbageCollector",
    "replicaset": "kybernetes.controllers.replicaset:ReplicaSetController",
    "deployment": "kybernetes.controllers.deployment:DeploymentController",
    "statefulset": "kybernetes.controllers.statefulset:StatefulSetController",
    "daemonset": "kybernetes.controllers.daemonset:DaemonSetController",
    "job": "kybernetes.controllers.job:JobController",
    "cronjob": "kybernetes.controllers.cronjob:CronJobController",
    "nodelifecycle": "kybernetes.controllers.nodelifecycle:NodeLifecycleController",
    "resourcequota": "kybernetes.controllers.resourcequota:ResourceQuotaController",
    "disruption": "kybernetes.controllers.disruption:DisruptionController",
    "horizontalpodautoscaling": "kybernetes.controllers.podautoscaler:HorizontalPodAutoscalerController",
}
# Registered but off unless named explicitly (upstream: bootstrapsigner, tokencleaner).
DISABLED_BY_DEFAULT: set[str] = set()

LEASE_NAMESPACE = "kube-system"
LEASE_NAME = "kube-controller-manager"
CONTROLLER_RESTART_DELAY = 5.0


def enabled_controllers(spec: list[str] | None, registry: dict[str, str] | None = None) -> list[str]:
    """Resolve ``--controllers`` syntax against the registry (order of the registry)."""
    registry = CONTROLLERS if registry is None else registry
    items = ["*"] if not spec else [s.strip() for s in spec if s.strip()]
    star = "*" in items
    enabled = {i for i in items if i != "*" and not i.startswith("-")}
    disabled = {i[1:] for i in items if i.startswith("-")}
    unknown = (enabled | disabled) - set(registry)
    if unknown:
        raise ValueError(f"unknown controllers: {', '.join(sorted(unknown))}")
    out = []
    for name in registry:
        if name in disabled:
            continue
        if name in enabled or (star and name not in DISABLED_BY_DEFAULT):
            out.append(name)
    return out


class ControllerLoadError(ImportError):
    """A requested controller cannot be imported; the manager refuses to start without it."""


def load_controller(name: str, path: str) -> type[Controller]:
    """Import ``module:Class``, a ``Controller`` subclass; ``ControllerLoadError`` when that fails."""
    module_name, _, class_name = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise ControllerLoadError(f"controller {name}: cannot import {module_name}: {exc}") from exc
    cls = getattr(module, class_name, None) if class_name else None
    if not (isinstance(cls, type) and issubclass(cls, Controller)):
        raise ControllerLoadError(f"controller {name}: {module_name} has no Controller class {class_name!r}")
    return cls


class ControllerManager:
    """See the module docstring."""

    def __init__(
        self,
        api: ApiClient,
        *,
        controllers: list[str] | None = None,
        options: ControllerOptions | None = None,
        leader_elect: bool = True,
        identity: str | None = None,
        lease_namespace: str = LEASE_NAMESPACE,
        lease_name: str = LEASE_NAME,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        recampaign: bool = False,
        release_on_cancel: bool = True,
        sync_timeout: float | None = 60.0,
        registry: dict[str, str] | None = None,
    ) -> None:
        self.api = api
        self.registry = dict(CONTROLLERS if registry is None else registry)
        self.names = enabled_controllers(controllers, self.registry)
        # every enabled controller imported now: one that cannot be is an error before anything runs
        self.classes: dict[str, type[Controller]] = {
            name: load_controller(name, self.registry[name]) for name in self.names
        }
        self.options = options or ControllerOptions()
        self.leader_elect = leader_elect
        self.identity = identity or f"{socket.gethostname()}_{uuid.uuid4()}"
        self.lease_namespace = lease_namespace
        self.lease_name = lease_name
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.recampaign = recampaign
        self.release_on_cancel = release_on_cancel
        self.sync_timeout = sync_timeout
        self.controllers: dict[str, Controller] = {}
        self.context: ControllerContext | None = None
        self.elector: LeaderElector | None = None
        self.leading = asyncio.Event()  # set while the controllers run (this instance leads)
        self.terms = 0  # how many times this instance started leading
        self.lost_leadership = False

    # --- running --------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run until ``stop`` is set, the task is cancelled, or (without ``recampaign``) leadership is lost."""
        stop = stop or asyncio.Event()
        if not self.leader_elect:
            await self._until(stop, self._lead())
            return
        while not stop.is_set():
            self.elector = LeaderElector(
                self.api,
                self.lease_namespace,
                self.lease_name,
                self.identity,
                lease_duration=self.lease_duration,
                renew_deadline=self.renew_deadline,
                retry_period=self.retry_period,
                on_started_leading=self._lead,
                on_new_leader=lambda holder: log.info("controller manager leader is %s", holder),
                release_on_cancel=self.release_on_cancel,
            )
            await self._until(stop, self.elector.run(), on_stop=self.elector.stop)
            if stop.is_set():
                return
            self.lost_leadership = True
            log.error("%s: leader election lost", self.identity)
            if not self.recampaign:
                return

    @staticmethod
    async def _until(stop: asyncio.Event, coro: Any, on_stop: Any = None) -> None:
        main = asyncio.ensure_future(coro)
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({main, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if not main.done():
                if on_stop is not None:
                    on_stop()
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(asyncio.shield(main), timeout=15.0)
                main.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await main
        finally:
            stopper.cancel()
            if not main.done():
                main.cancel()
                try:
                    await main
                except asyncio.CancelledError:
                    pass
                except Exception:
                    log.exception("controller manager: error while stopping")

    def build(self, ctx: ControllerContext) -> dict[str, Controller]:
        built: dict[str, Controller] = {}
        for name, cls in self.classes.items():
            try:
                built[name] = cls(ctx)
            except Exception:
                log.exception("could not construct controller %s", name)
        return built

    async def _lead(self) -> None:
        """One term of leadership: informers, controllers, until cancelled."""
        self.terms += 1
        informers = SharedInformerFactory(self.api)
        ctx = ControllerContext(self.api, informers, self.options)
        self.context = ctx
        self.controllers = self.build(ctx)
        tasks: list[asyncio.Task[None]] = []
        try:
            for name, controller in list(self.controllers.items()):
                prepare = getattr(controller, "prepare", None)
                if prepare is not None and inspect.iscoroutinefunction(prepare):
                    try:
                        await prepare()
                    except Exception:
                        log.exception("controller %s failed to prepare; skipping it", name)
                        del self.controllers[name]
            informers.start()
            if not await informers.wait_for_cache_sync(self.sync_timeout):
                log.warning(
                    "informer caches not synced after %ss; starting controllers anyway", self.sync_timeout
                )
            log.info("%s: starting controllers %s", self.identity, ", ".join(self.controllers))
            tasks = [
                asyncio.create_task(self._run_controller(name, c), name=f"controller:{name}")
                for name, c in self.controllers.items()
            ]
            self.leading.set()
            await asyncio.gather(*tasks)
        finally:
            self.leading.clear()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await informers.stop()
            for name, recorder in ctx.recorders.items():
                try:
                    await recorder.stop(timeout=2.0)
                except Exception:
                    log.exception("event recorder %s did not stop cleanly", name)

    def workers_for(self, name: str, controller: Controller) -> int:
        extra = self.options.extra.get(f"concurrent_{name}_syncs")
        return int(extra if extra is not None else getattr(controller, "workers", 2))

    async def _run_controller(self, name: str, controller: Controller) -> None:
        while True:
            try:
                await controller.run(self.workers_for(name, controller))
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("controller %s crashed; restarting in %ss", name, CONTROLLER_RESTART_DELAY)
            await asyncio.sleep(CONTROLLER_RESTART_DELAY)
            assert self.context is not None
            cls = type(controller)
            controller = cls(self.context)
            self.controllers[name] = controller


async def run_controller_manager(api: ApiClient, stop: asyncio.Event | None = None, **kwargs: Any) -> None:
    """``ControllerManager(api, **kwargs).run(stop)``."""
    await ControllerManager(api, **kwargs).run(stop)
