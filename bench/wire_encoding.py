"""Microbenchmark: what upstream-faithful JSON encoding costs (``python -m bench.wire_encoding``).

Compares, for a list of 10,000 realistic pods, plain ``orjson.dumps`` with ``codec.dumps`` (Go's HTML
escapes and the trailing newline), and the store's write encoding without and with the Go field
ordering (``codec.upstream_order``), and a list answer end to end (decode from stored bytes, set
kind/apiVersion, encode). Prints best-of-N milliseconds and the ratios.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

import orjson

from kybernetes.apiserver import codec, resource_store

N = 10_000

POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "web-7d4b9c-abcde",
        "generateName": "web-7d4b9c-",
        "namespace": "default",
        "uid": "6c3e0c1e-8e1f-4b6e-9a3b-1234567890ab",
        "creationTimestamp": "2026-12-01T00:00:00Z",
        "labels": {"pod-template-hash": "7d4b9c", "app": "web"},
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": "web-7d4b9c",
                "uid": "0b4e6a52-3c55-4a57-9a53-5b6f1f1a2b3c",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    },
    "spec": {
        "containers": [
            {
                "name": "web",
                "image": "nginx:1.25",
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "resources": {},
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "imagePullPolicy": "IfNotPresent",
            }
        ],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "serviceAccountName": "default",
        "nodeName": "node-1",
        "securityContext": {},
        "schedulerName": "default-scheduler",
        "tolerations": [
            {
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            }
        ],
        "priority": 0,
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
    },
    "status": {
        "phase": "Running",
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": "2026-12-01T00:00:01Z",
            }
        ],
        "hostIP": "10.0.0.1",
        "podIP": "10.244.0.5",
        "startTime": "2026-12-01T00:00:00Z",
        "qosClass": "BestEffort",
    },
}


def best_ms(fn: Callable[[], object], repeat: int = 15) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def _plain_store_encode(obj: dict[str, Any]) -> bytes:
    """The store's encoding before Go ordering: drop resourceVersion, dump."""
    md = dict(obj["metadata"])
    md.pop("resourceVersion", None)
    return orjson.dumps({**obj, "metadata": md})


def main() -> None:
    pods = [copy.deepcopy(POD) for _ in range(N)]
    for i, pod in enumerate(pods):
        pod["metadata"]["name"] = f"web-{i:05d}"
    body = {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": pods}

    plain = best_ms(lambda: orjson.dumps(body))
    ours = best_ms(lambda: codec.dumps(body))
    print(
        f"encode {N} pods: orjson.dumps {plain:.1f} ms, codec.dumps {ours:.1f} ms, ratio {ours / plain:.2f}"
    )

    w_plain = best_ms(lambda: [_plain_store_encode(p) for p in pods], 5)
    w_ours = best_ms(lambda: [resource_store.encode(p) for p in pods], 5)
    print(
        f"store-encode {N} pods: unordered {w_plain:.1f} ms, Go-ordered {w_ours:.1f} ms, "
        f"ratio {w_ours / w_plain:.2f} ({(w_ours - w_plain) / N * 1e3:.2f} us per write)"
    )

    stored_plain = [_plain_store_encode(p) for p in pods]
    stored_ours = [resource_store.encode(p) for p in pods]

    def list_answer(stored: list[bytes], dump: Callable[[Any], bytes]) -> bytes:
        items = []
        for i, raw in enumerate(stored):
            obj = orjson.loads(raw)
            obj.setdefault("metadata", {})["resourceVersion"] = str(i + 2)
            obj["apiVersion"] = "v1"
            obj["kind"] = "Pod"
            items.append(obj)
        return dump(
            {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items}
        )

    l_plain = best_ms(lambda: list_answer(stored_plain, orjson.dumps), 5)
    l_ours = best_ms(lambda: list_answer(stored_ours, codec.dumps), 5)
    print(
        f"list answer {N} pods: before {l_plain:.1f} ms, after {l_ours:.1f} ms, ratio {l_ours / l_plain:.2f}"
    )


if __name__ == "__main__":
    main()
