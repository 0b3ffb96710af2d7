"""Starting one container instance: image pull policy, config (env, mounts, command), create, start, hook.

``start_container`` is upstream's ``startContainer`` for the kubelet's records: it ensures the image
(``Always`` pulls every time, ``IfNotPresent`` when missing, ``Never`` fails with ``ErrImageNeverPull``;
pull failures are ``ErrImagePull`` then ``ImagePullBackOff`` under the pull back-off), builds the
environment (``env.build_env``; ``CreateContainerConfigError`` on a missing reference), expands
``$(VAR)`` in command and args, resolves the volume mounts, then creates and starts the container with
the ``Pulling``/``Pulled``/``Created``/``Started`` events, rotates the record (current -> previous, the
older one is removed), runs the ``postStart`` hook (a failure kills the container: ``FailedPostStartHook``)
and starts its probes. On failure the record carries the waiting reason and message, and the return value
is the delay after which the pod worker should retry (None on success).

An ephemeral container (``rec.ephemeral``) with a ``targetContainerName`` gets that container's current
instance as ``ContainerConfig.target_container_id`` (``unable to find target container`` while it has
none, retried); one that was created but failed to start is kept, exited (``StartError``), instead of
being removed and retried: ephemeral containers run at most once, as upstream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

from kybernetes.api.validation.quantity import parse
from kybernetes.kubelet.container_names import ANNOTATION_RESTART_COUNT, container_labels, container_log_path
from kybernetes.kubelet.env import ConfigError, build_env, expand_all
from kybernetes.kubelet.pod_state import ContainerRecord, PodState
from kybernetes.kubelet.probe_handlers import HandlerTarget, run_handler
from kybernetes.kubelet.runtime import ContainerConfig, Resources
from kybernetes.kubelet.volumes import VolumeError, mounts_for
from kybernetes.kubelet.worker_context import WorkerContext

__all__ = ["resources_of", "start_container"]

log = logging.getLogger(__name__)
CONFIG_RETRY = 2.0


def _millis(value: Any) -> int:
    try:
        return int(parse(str(value)) * 1000)
    except ValueError:
        return 0


def _bytes(value: Any) -> int:
    try:
        return int(parse(str(value)))
    except ValueError:
        return 0


def resources_of(container: Mapping[str, Any]) -> Resources:
    res = container.get("resources") or {}
    req, lim = res.get("requests") or {}, res.get("limits") or {}
    return Resources(
        cpu_millis_request=_millis(req.get("cpu", lim.get("cpu", 0))),
        cpu_millis_limit=_millis(lim.get("cpu", 0)),
        memory_limit_bytes=_bytes(lim.get("memory", 0)),
    )


def _pull_policy(container: Mapping[str, Any]) -> str:
    policy = container.get("imagePullPolicy")
    if policy:
        return str(policy)
    image = str(container.get("image") or "")
    last = image.rsplit("/", 1)[-1]
    return "IfNotPresent" if ":" in last and not last.endswith(":latest") else "Always"


async def _ensure_image(
    ctx: WorkerContext, st: PodState, rec: ContainerRecord, c: Mapping[str, Any]
) -> float | None:
    image = str(c.get("image") or "")
    policy = _pull_policy(c)
    pod = st.pod
    try:
        present = await ctx.runtime.image_present(image)
    except Exception:
        present = False
    if policy == "Never" and not present:
        rec.waiting_reason = "ErrImageNeverPull"
        rec.waiting_message = f'Container image "{image}" is not present with pull policy of Never'
        ctx.recorder.warning(pod, "ErrImageNeverPull", rec.waiting_message)
        return CONFIG_RETRY
    if policy != "Always" and present:
        ctx.recorder.normal(pod, "Pulled", f'Container image "{image}" already present on machine')
        return None
    key = f"{st.uid}/{rec.name}/image"
    now = time.time()
    last = ctx.pull_backoff.last_update(key)
    if last is not None and ctx.pull_backoff.in_backoff_since(key, last, now):
        rec.waiting_reason = "ImagePullBackOff"
        rec.waiting_message = f'Back-off pulling image "{image}"'
        ctx.recorder.normal(pod, "BackOff", rec.waiting_message)
        return ctx.pull_backoff.remaining(key, last, now)
    ctx.recorder.normal(pod, "Pulling", f'Pulling image "{image}"')
    started = time.monotonic()
    try:
        image_id = await ctx.runtime.pull_image(image)
    except Exception as exc:
        delay = ctx.pull_backoff.next(key, now)
        rec.waiting_reason = "ErrImagePull"
        rec.waiting_message = str(exc) or f'failed to pull image "{image}"'
        ctx.recorder.warning(pod, "Failed", f'Failed to pull image "{image}": {rec.waiting_message}')
        ctx.recorder.warning(pod, "Failed", "Error: ErrImagePull")
        return delay
    ctx.pull_backoff.reset(key)
    rec.image_id = image_id or rec.image_id
    took = time.monotonic() - started
    ctx.recorder.normal(pod, "Pulled", f'Successfully pulled image "{image}" in {took:.3f}s')
    return None


def _config_failed(ctx: WorkerContext, st: PodState, rec: ContainerRecord, message: str) -> float:
    rec.waiting_reason = "CreateContainerConfigError"
    rec.waiting_message = message
    ctx.recorder.warning(st.pod, "Failed", f"Error: {message}")
    return CONFIG_RETRY


async def start_container(
    ctx: WorkerContext,
    st: PodState,
    rec: ContainerRecord,
    c: Mapping[str, Any],
    volumes: Mapping[str, tuple[str, bool]],
) -> float | None:
    """Start a new instance of ``c``; None on success, else the delay before the next attempt."""
    retry = await _ensure_image(ctx, st, rec, c)
    if retry is not None:
        return retry
    try:
        env_list = await build_env(
            st.pod,
            c,
            ctx.env_source or ctx.source,
            host_ip=ctx.node_ip,
            pod_ip=st.pod_ip,
            node_allocatable=ctx.allocatable(),
        )
        env = dict(env_list)
        mounts = await asyncio.to_thread(mounts_for, c, volumes, env)
    except (ConfigError, VolumeError) as exc:
        return _config_failed(ctx, st, rec, str(exc))
    target_id = ""
    target = str(c.get("targetContainerName") or "") if rec.ephemeral else ""
    if target:
        target_rec = st.containers.get(target)
        if target_rec is None or not target_rec.container_id:
            return _config_failed(ctx, st, rec, f"unable to find target container {target}")
        target_id = target_rec.container_id
    attempt = rec.restart_count + 1 if rec.container_id else rec.restart_count
    log_path = container_log_path(ctx.root_dir, st.pod, rec.name, attempt)
    await asyncio.to_thread(log_path.parent.mkdir, parents=True, exist_ok=True)
    config = ContainerConfig(
        name=rec.name,
        image=str(c.get("image") or ""),
        command=expand_all(c.get("command") or [], env),
        args=expand_all(c.get("args") or [], env),
        working_dir=str(c.get("workingDir") or ""),
        env=tuple(env_list),
        mounts=mounts,
        log_path=str(log_path),
        stdin=bool(c.get("stdin")),
        stdin_once=bool(c.get("stdinOnce")),
        tty=bool(c.get("tty")),
        resources=resources_of(c),
        attempt=attempt,
        labels=container_labels(st.pod, rec.name),
        annotations={ANNOTATION_RESTART_COUNT: str(attempt)},
        target_container_id=target_id,
    )
    try:
        cid = await ctx.runtime.create_container(st.sandbox_id, config)
    except Exception as exc:
        rec.waiting_reason, rec.waiting_message = "CreateContainerError", str(exc)
        ctx.recorder.warning(st.pod, "Failed", f"Error: {exc}")
        return CONFIG_RETRY
    ctx.recorder.normal(st.pod, "Created", f"Created container {rec.name}")
    try:
        await ctx.runtime.start_container(cid)
    except Exception as exc:
        if await _started_anyway(ctx, cid):
            log.warning("start of container %s reported %r but the process ran; keeping it", cid, exc)
            await _started(ctx, st, rec, c, cid, attempt, str(log_path))
            return None
        ctx.recorder.warning(st.pod, "Failed", f"Error: {exc}")
        if rec.ephemeral:
            # never retried: the failed instance stays, and its status says how it ended (StartError)
            await _rotate(ctx, rec, cid, attempt, str(log_path))
            return None
        rec.waiting_reason, rec.waiting_message = "RunContainerError", str(exc)
        with contextlib.suppress(Exception):
            await ctx.runtime.remove_container(cid)
        return CONFIG_RETRY
    await _started(ctx, st, rec, c, cid, attempt, str(log_path))
    return None


async def _started_anyway(ctx: WorkerContext, cid: str) -> bool:
    """A start that raised after the process was spawned must not run the command a second time."""
    try:
        status = await ctx.runtime.container_status(cid)
    except Exception:
        return False
    return status.started_at > 0 and status.reason != "StartError"


async def _started(
    ctx: WorkerContext,
    st: PodState,
    rec: ContainerRecord,
    c: Mapping[str, Any],
    cid: str,
    attempt: int,
    log_path: str,
) -> None:
    await _rotate(ctx, rec, cid, attempt, log_path)
    ctx.recorder.normal(st.pod, "Started", f"Started container {rec.name}")
    await _post_start(ctx, st, rec, c)


async def _rotate(ctx: WorkerContext, rec: ContainerRecord, cid: str, attempt: int, log_path: str) -> None:
    if rec.previous_id:
        with contextlib.suppress(Exception):
            await ctx.runtime.remove_container(rec.previous_id)
    if rec.container_id:
        rec.previous_id, rec.previous, rec.previous_log_path = rec.container_id, rec.status, rec.log_path
    rec.container_id, rec.restart_count, rec.log_path = cid, attempt, log_path
    rec.waiting_reason = rec.waiting_message = rec.killed_for = ""
    try:
        rec.status = await ctx.runtime.container_status(cid)
        rec.image_id = rec.status.image_id or rec.image_id
    except Exception as exc:
        log.warning("status of new container %s failed: %s", cid, exc)


async def _post_start(ctx: WorkerContext, st: PodState, rec: ContainerRecord, c: Mapping[str, Any]) -> None:
    hook = (c.get("lifecycle") or {}).get("postStart")
    if isinstance(hook, Mapping):
        target = HandlerTarget(ctx.runtime, rec.container_id, c, st.pod_ip or ctx.node_ip, ctx.node_ip)
        ok, message = await run_handler(hook, target, 60.0 * ctx.options.probe_time_scale + 1)
        if not ok:
            text = f"PostStartHook failed: {message}".strip()
            ctx.recorder.warning(st.pod, "FailedPostStartHook", text)
            rec.killed_for = "postStart"
            ctx.recorder.normal(st.pod, "Killing", f"FailedPostStartHook: container {rec.name}")
            with contextlib.suppress(Exception):
                await ctx.runtime.stop_container(rec.container_id, 0)
            with contextlib.suppress(Exception):
                rec.status = await ctx.runtime.container_status(rec.container_id)
            return
    ctx.probes.start(st.pod, c, rec.container_id, st.pod_ip or ctx.node_ip)
