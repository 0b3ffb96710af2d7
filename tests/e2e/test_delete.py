"""DELETE through the official Python client against a real ``kyb server``.

* What comes back is what upstream's registries return (and what the client's strictly typed models
  expect): a ``V1Service`` for a Service, a ``V1Pod`` for a Pod, a Status for a ConfigMap.
* An unconditional DELETE never answers 409 because someone else wrote the object at the same moment:
  other threads keep patching the very objects being deleted (pods deleted with
  ``gracePeriodSeconds: 0``, objects held by a finalizer, a DaemonSet its controller is writing to).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tests.e2e.conftest import KybServer, wait_for

ROUNDS = 30
HAMMER_THREADS = 2
TEST_BUDGET_SECONDS = 120.0


def test_delete_service_returns_the_service(kyb: KybServer, ns: str) -> None:
    from kubernetes import client

    with kyb.api_client() as api:
        core = client.CoreV1Api(api)
        created = core.create_namespaced_service(
            ns,
            client.V1Service(
                metadata=client.V1ObjectMeta(name="web"),
                spec=client.V1ServiceSpec(selector={"app": "web"}, ports=[client.V1ServicePort(port=80)]),
            ),
        )
        deleted = core.delete_namespaced_service("web", ns)
        assert isinstance(deleted, client.V1Service)
        assert deleted.metadata.name == "web"
        assert deleted.metadata.uid == created.metadata.uid
        assert deleted.spec.cluster_ip == created.spec.cluster_ip


def test_delete_returns_parse_for_status_and_object_kinds(kyb: KybServer, ns: str) -> None:
    from kubernetes import client

    with kyb.api_client() as api:
        core = client.CoreV1Api(api)
        cm = core.create_namespaced_config_map(
            ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cm"))
        )
        status = core.delete_namespaced_config_map("cm", ns)
        # typed as a Status (older clients) or a plain object (newer ones): either way a Success Status
        fields = status if isinstance(status, dict) else status.to_dict()
        assert fields["kind"] == "Status" and fields["status"] == "Success"
        assert fields["details"]["name"] == "cm" and fields["details"]["uid"] == cm.metadata.uid

        core.create_namespaced_pod(
            ns,
            client.V1Pod(
                metadata=client.V1ObjectMeta(name="p"),
                spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")]),
            ),
        )
        pod = core.delete_namespaced_pod("p", ns, grace_period_seconds=0)
        assert isinstance(pod, client.V1Pod) and pod.metadata.name == "p"

        sa = core.create_namespaced_service_account(
            ns, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="sa"))
        )
        gone = core.delete_namespaced_service_account("sa", ns)
        assert isinstance(gone, client.V1ServiceAccount) and gone.metadata.uid == sa.metadata.uid


# --- no 409 for an unconditional delete -------------------------------------------------------------
@contextmanager
def _hammer(kyb: KybServer, patch: Callable[[Any, str], None], names: list[str]) -> Iterator[list[int]]:
    """Threads that keep patching every name in ``names`` (404s ignored); yields the count of patches."""
    from kubernetes.client.rest import ApiException

    stop = threading.Event()
    done: list[int] = [0]
    failures: list[BaseException] = []

    def run() -> None:
        deadline = time.monotonic() + TEST_BUDGET_SECONDS
        with kyb.api_client() as api:
            while not stop.is_set() and time.monotonic() < deadline:
                for name in list(names):
                    try:
                        patch(api, name)
                        done[0] += 1
                    except ApiException as exc:
                        if exc.status != 404:  # a patch without resourceVersion never conflicts either
                            failures.append(exc)
                            return
                if not names:
                    time.sleep(0.005)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(HAMMER_THREADS)]
    for t in threads:
        t.start()
    try:
        yield done
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        assert not any(t.is_alive() for t in threads)
        assert not failures, failures[:3]


def _label_patch(kind: str, ns: str) -> Callable[[Any, str], None]:
    from kubernetes import client

    counter = iter(range(10**9))

    def patch(api: Any, name: str) -> None:
        body = {"metadata": {"labels": {"hammer": str(next(counter))}}}
        if kind == "pod":
            client.CoreV1Api(api).patch_namespaced_pod(name, ns, body)
        elif kind == "configmap":
            client.CoreV1Api(api).patch_namespaced_config_map(name, ns, body)
        else:
            client.AppsV1Api(api).patch_namespaced_daemon_set(name, ns, body)

    return patch


def test_graceless_pod_delete_never_conflicts_with_concurrent_writes(kyb: KybServer, ns: str) -> None:
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    names: list[str] = []
    conflicts: list[str] = []
    with kyb.api_client() as api, _hammer(kyb, _label_patch("pod", ns), names) as patched:
        core = client.CoreV1Api(api)
        for i in range(ROUNDS):
            name = f"hammered-{i}"
            core.create_namespaced_pod(
                ns,
                client.V1Pod(
                    metadata=client.V1ObjectMeta(name=name),
                    spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")]),
                ),
            )
            names.append(name)
            # let the patchers land a few writes on it first
            start = patched[0]
            wait_for(lambda start=start: patched[0] >= start + 2, timeout=10, interval=0.002, what="patches")
            try:
                deleted = core.delete_namespaced_pod(name, ns, grace_period_seconds=0)
                assert isinstance(deleted, client.V1Pod)
            except ApiException as exc:
                if exc.status == 409:
                    conflicts.append(f"{name}: {exc.body}")
                else:
                    raise
            names.remove(name)
        assert patched[0] > ROUNDS
    assert conflicts == []


def test_finalizer_release_and_delete_never_conflict_with_concurrent_writes(kyb: KybServer, ns: str) -> None:
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    names: list[str] = []
    conflicts: list[str] = []
    with kyb.api_client() as api, _hammer(kyb, _label_patch("configmap", ns), names) as patched:
        core = client.CoreV1Api(api)
        for i in range(ROUNDS):
            name = f"held-{i}"
            core.create_namespaced_config_map(
                ns,
                client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, finalizers=["example.com/hold"])),
            )
            names.append(name)
            start = patched[0]
            wait_for(lambda start=start: patched[0] >= start + 2, timeout=10, interval=0.002, what="patches")
            try:
                marked = core.delete_namespaced_config_map(name, ns)
                # held: the object itself comes back (the client types it as a plain object)
                assert marked["kind"] == "ConfigMap" and marked["metadata"]["deletionTimestamp"]
                # the finalizer's owner releases it (JSON merge patch, no resourceVersion): removed
                core.patch_namespaced_config_map(name, ns, {"metadata": {"finalizers": None}})
                # a second, unconditional delete of an object already gone or going is not a conflict
                try:
                    core.delete_namespaced_config_map(name, ns)
                except ApiException as exc:
                    if exc.status != 404:
                        raise
            except ApiException as exc:
                if exc.status == 409:
                    conflicts.append(f"{name}: {exc.body}")
                else:
                    raise
            names.remove(name)
            wait_for(lambda name=name: _gone(core, name, ns), timeout=10, what=f"{name} removed")
    assert conflicts == []


def _gone(core: Any, name: str, ns: str) -> bool:
    from kubernetes.client.rest import ApiException

    try:
        core.read_namespaced_config_map(name, ns)
    except ApiException as exc:
        return exc.status == 404
    return False


def test_daemonset_delete_right_after_create_never_conflicts(kyb: KybServer, ns: str) -> None:
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    names: list[str] = []
    conflicts: list[str] = []
    with kyb.api_client() as api, _hammer(kyb, _label_patch("daemonset", ns), names):
        apps = client.AppsV1Api(api)
        for i in range(ROUNDS // 2):
            name = f"ds-{i}"
            apps.create_namespaced_daemon_set(
                ns,
                client.V1DaemonSet(
                    metadata=client.V1ObjectMeta(name=name),
                    spec=client.V1DaemonSetSpec(
                        selector=client.V1LabelSelector(match_labels={"app": name}),
                        template=client.V1PodTemplateSpec(
                            metadata=client.V1ObjectMeta(labels={"app": name}),
                            spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")]),
                        ),
                    ),
                ),
            )
            names.append(name)
            try:
                apps.delete_namespaced_daemon_set(name, ns, propagation_policy="Background")
            except ApiException as exc:
                if exc.status == 409:
                    conflicts.append(f"{name}: {exc.body}")
                else:
                    raise
            names.remove(name)
    assert conflicts == []
