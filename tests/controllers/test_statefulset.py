"""StatefulSet controller against a real API server, with a fake kubelet making pods Running and Ready."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.client import ApiClient, SharedInformerFactory
from kybernetes.controllers.statefulset import StatefulSetController
from tests.controllers._batch_fixtures import (
    FakeKubelet,
    Server,
    api,
    eventually,
    kubectl,
    make_namespace,
    pod_template,
    running,
    server,
)

__all__ = ["api", "server"]

pytestmark = pytest.mark.timeout(60)


def statefulset(name: str, ns: str, replicas: int = 3, **spec: Any) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": pod_template({"app": name}, image="nginx:1"),
            **spec,
        },
    }


async def _pods(api: ApiClient, ns: str) -> dict[str, dict]:
    return {p["metadata"]["name"]: p for p in (await api.pods.list(namespace=ns))["items"]}


async def test_ordered_creation_pvcs_and_scale_down(server: Server, api: ApiClient) -> None:
    ns = await make_namespace(api, "sts-ordered")
    claims = [
        {
            "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        }
    ]
    deleted: list[str] = []
    watch = SharedInformerFactory(api)
    watch.informer(api.pods, namespace=ns).add_event_handler(
        None, None, lambda pod: deleted.append(getattr(pod, "obj", pod)["metadata"]["name"])
    )
    watch.start()
    try:
        async with running(api, [StatefulSetController]), FakeKubelet(api, ns) as kubelet:
            kubelet.paused = True
            await api.statefulsets.create(statefulset("web", ns, volumeClaimTemplates=claims))
            await eventually(lambda: _pods(api, ns), what="web-0")
            # OrderedReady: nothing else until web-0 runs and is ready
            assert list(await _pods(api, ns)) == ["web-0"]
            kubelet.paused = False
            kubelet.poke()

            async def all_ready() -> dict | None:
                sts = await api.statefulsets.get("web", namespace=ns)
                return sts if (sts.get("status") or {}).get("readyReplicas") == 3 else None

            sts = await eventually(all_ready, what="3 ready")
            pods = await _pods(api, ns)
            assert sorted(pods) == ["web-0", "web-1", "web-2"]
            # creation order follows ordinals
            created = sorted(pods.values(), key=lambda p: int(p["metadata"]["resourceVersion"]))
            assert [p["metadata"]["name"] for p in created] == ["web-0", "web-1", "web-2"]
            for name, pod in pods.items():
                labels = pod["metadata"]["labels"]
                assert labels["statefulset.kubernetes.io/pod-name"] == name
                assert labels["apps.kubernetes.io/pod-index"] == name.split("-")[1]
                assert labels["controller-revision-hash"] == sts["status"]["updateRevision"]
                assert pod["spec"]["hostname"] == name and pod["spec"]["subdomain"] == "web"
                vol = next(v for v in pod["spec"]["volumes"] if v["name"] == "data")
                assert vol["persistentVolumeClaim"]["claimName"] == f"data-{name}"
            pvcs = sorted(
                p["metadata"]["name"] for p in (await api.persistentvolumeclaims.list(namespace=ns))["items"]
            )
            assert pvcs == ["data-web-0", "data-web-1", "data-web-2"]
            st = sts["status"]
            assert st["replicas"] == 3 and st["currentReplicas"] == 3 and st["updatedReplicas"] == 3
            assert st["currentRevision"] == st["updateRevision"] and st["observedGeneration"] == 1
            revs = (await api.controllerrevisions.list(namespace=ns))["items"]
            assert [r["metadata"]["name"] for r in revs] == [st["updateRevision"]]
            assert revs[0]["revision"] == 1
            code, _out, err = await kubectl(server, "-n", ns, "rollout", "status", "sts/web", "--timeout=10s")
            assert code == 0, err

            # scale down: highest ordinal first
            await api.statefulsets.patch("web", {"spec": {"replicas": 1}}, namespace=ns)

            async def one_left() -> bool:
                return list(await _pods(api, ns)) == ["web-0"]

            await eventually(one_left, what="scaled down")
            await eventually(lambda: len(deleted) >= 2, what="delete events")
            assert deleted[:2] == ["web-2", "web-1"]
            # PVCs are retained by default
            assert len((await api.persistentvolumeclaims.list(namespace=ns))["items"]) == 3
    finally:
        await watch.stop()


async def test_rolling_update_with_partition(server: Server, api: ApiClient) -> None:
    ns = await make_namespace(api, "sts-roll")
    async with running(api, [StatefulSetController]), FakeKubelet(api, ns):
        await api.statefulsets.create(
            statefulset(
                "db",
                ns,
                podManagementPolicy="Parallel",
                updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 1}},
            )
        )

        async def status_where(pred: Any) -> dict | None:
            sts = await api.statefulsets.get("db", namespace=ns)
            return sts if pred(sts.get("status") or {}, sts) else None

        first = await eventually(lambda: status_where(lambda s, _: s.get("readyReplicas") == 3), what="ready")
        old_rev = first["status"]["currentRevision"]
        await api.statefulsets.patch(
            "db",
            {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:2"}]}}}},
            namespace=ns,
        )

        def partitioned(s: dict, sts: dict) -> bool:
            return (
                s.get("observedGeneration") == sts["metadata"]["generation"]
                and s.get("updatedReplicas") == 2
                and s.get("readyReplicas") == 3
            )

        sts = await eventually(lambda: status_where(partitioned), timeout=15, what="partitioned update")
        new_rev = sts["status"]["updateRevision"]
        assert new_rev != old_rev and sts["status"]["currentRevision"] == old_rev
        pods = await _pods(api, ns)
        images = {n: p["spec"]["containers"][0]["image"] for n, p in pods.items()}
        assert images == {"db-0": "nginx:1", "db-1": "nginx:2", "db-2": "nginx:2"}
        assert pods["db-0"]["metadata"]["labels"]["controller-revision-hash"] == old_rev
        code, out, err = await kubectl(server, "-n", ns, "rollout", "status", "sts/db", "--timeout=10s")
        assert code == 0, err
        assert "partitioned roll out complete" in out

        await api.statefulsets.patch(
            "db", {"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}}, namespace=ns
        )
        code, out, err = await kubectl(
            server, "-n", ns, "rollout", "status", "sts/db", "--timeout=20s", timeout=30
        )
        assert code == 0, (out, err)
        sts = await eventually(
            lambda: status_where(
                lambda s, _: s.get("currentRevision") == new_rev and s.get("updatedReplicas") == 3
            ),
            what="rollout complete",
        )
        revs = sorted(
            (await api.controllerrevisions.list(namespace=ns))["items"], key=lambda r: r["revision"]
        )
        assert [r["metadata"]["name"] for r in revs] == [old_rev, new_rev]
        assert revs[1]["data"]["spec"]["template"]["$patch"] == "replace"
        images = {n: p["spec"]["containers"][0]["image"] for n, p in (await _pods(api, ns)).items()}
        assert set(images.values()) == {"nginx:2"}
