"""Admission through kubectl: PriorityClass resolution into pod priority, and built-in classes."""

from __future__ import annotations

import json

from tests.e2e.conftest import KybServer, unique

POD = """
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  priorityClassName: {pc}
  containers:
  - name: c
    image: busybox
"""


def test_builtin_priority_classes_exist(kyb_sqlite: KybServer) -> None:
    out = kyb_sqlite.kubectl("get", "priorityclasses", "-o", "name").stdout
    assert "priorityclass.scheduling.k8s.io/system-node-critical" in out
    assert "priorityclass.scheduling.k8s.io/system-cluster-critical" in out


def test_priority_class_sets_pod_priority(kyb_sqlite: KybServer) -> None:
    pc = unique("high")
    kyb_sqlite.kubectl("create", "priorityclass", pc, "--value=1000", "--preemption-policy=Never")
    name = unique("prio")
    kyb_sqlite.kubectl("create", "-f", "-", input=POD.format(name=name, pc=pc))
    pod = json.loads(kyb_sqlite.kubectl("get", "pod", name, "-o", "json").stdout)
    assert pod["spec"]["priority"] == 1000
    assert pod["spec"]["preemptionPolicy"] == "Never"


def test_unknown_priority_class_is_forbidden(kyb_sqlite: KybServer) -> None:
    name = unique("noprio")
    result = kyb_sqlite.kubectl(
        "create", "-f", "-", input=POD.format(name=name, pc="no-such-class"), check=False
    )
    assert result.returncode != 0
    assert (
        "Forbidden" in result.stderr and "no PriorityClass with name no-such-class was found" in result.stderr
    )
    assert kyb_sqlite.kubectl("get", "pod", name, check=False).returncode != 0
