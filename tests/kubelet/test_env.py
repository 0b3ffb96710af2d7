"""Environment: ``$(VAR)`` expansion as upstream, fieldRef/resourceFieldRef/configMap/secret references,
envFrom with prefixes, upstream's error messages; and on the process runtime, the values a container sees
plus CreateContainerConfigError for a missing configMap."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from kybernetes.client import ApiClient
from kybernetes.kubelet.env import ConfigError, build_env, expand, resource_value
from tests.controllers._node_fixtures import api, server
from tests.kubelet.test_agent_fixtures import container_status, pod_spec, running_kubelet, sh, wait_pod

__all__ = ["api", "server"]


def test_expand_like_upstream() -> None:
    env = {"A": "1", "B": "two"}
    assert expand("$(A)-$(B)", env.get) == "1-two"
    assert expand("$$(A)", env.get) == "$(A)"
    assert expand("$(MISSING)", env.get) == "$(MISSING)"
    assert expand("$(A", env.get) == "$(A"
    assert expand("a$b$", env.get) == "a$b$"
    assert expand("$$$(A)", env.get) == "$1"


class Source:
    def __init__(self) -> None:
        self.cms = {"cfg": {"data": {"k": "v", "other": "o"}}}
        self.secrets = {"sec": {"data": {"pw": base64.b64encode(b"s3cret").decode()}}}

    async def get_configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.cms.get(name)

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.secrets.get(name)


POD = {
    "metadata": {
        "name": "p",
        "namespace": "ns",
        "uid": "u1",
        "labels": {"app": "web"},
        "annotations": {"a": "b"},
    },
    "spec": {"nodeName": "n1", "serviceAccountName": "sa"},
    "status": {},
}


async def test_build_env() -> None:
    container = {
        "name": "c",
        "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}},
        "envFrom": [
            {"configMapRef": {"name": "cfg"}, "prefix": "CFG_"},
            {"secretRef": {"name": "nope", "optional": True}},
        ],
        "env": [
            {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}}},
            {
                "name": "MEM",
                "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}},
            },
            {"name": "K", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "pw"}}},
            {
                "name": "OPT",
                "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "none", "optional": True}},
            },
            {"name": "BOTH", "value": "$(NAME)/$(K)/$$(NAME)"},
        ],
    }
    env = dict(await build_env(POD, container, Source(), host_ip="10.0.0.1", pod_ip="10.1.0.5"))
    assert env["CFG_k"] == "v" and env["CFG_other"] == "o"
    assert env["NAME"] == "p" and env["APP"] == "web" and env["NODE"] == "n1" and env["IP"] == "10.1.0.5"
    assert env["CPU"] == "500" and env["MEM"] == "64"
    assert env["K"] == "v" and env["PW"] == "s3cret"
    assert "OPT" not in env
    assert env["BOTH"] == "p/v/$(NAME)"


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ({"configMapKeyRef": {"name": "x", "key": "k"}}, 'configmap "x" not found'),
        ({"configMapKeyRef": {"name": "cfg", "key": "zz"}}, "couldn't find key zz in ConfigMap ns/cfg"),
        ({"secretKeyRef": {"name": "y", "key": "k"}}, 'secret "y" not found'),
    ],
)
async def test_missing_references(ref: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        await build_env(POD, {"env": [{"name": "X", "valueFrom": ref}]}, Source())
    assert str(info.value) == message


def test_resource_defaults_to_allocatable() -> None:
    assert resource_value({}, {"resource": "limits.cpu"}, {"cpu": "3"}) == "3"
    assert resource_value(
        {"resources": {"requests": {"memory": "1Gi"}}}, {"resource": "requests.memory"}, {}
    ) == str(1024**3)


async def test_container_sees_env(api: ApiClient, tmp_path: Path) -> None:
    out = tmp_path / "out"
    await api.configmaps.create(
        {"metadata": {"name": "cfg", "namespace": "default"}, "data": {"greeting": "hello"}}
    )
    container = sh(
        "c",
        f'echo "$POD_NAME $NODE $GREETING $COMBINED" > {out}; echo "$@" >> {out}; exec sleep 300',
        args=["x", "$(GREETING)-arg"],
        env=[
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "greeting"}}},
            {"name": "COMBINED", "value": "$(POD_NAME)+$(GREETING)"},
        ],
    )
    async with running_kubelet(api, tmp_path):
        await api.pods.create(pod_spec("envpod", [container]))
        await wait_pod(api, "envpod", lambda p: p["status"].get("phase") == "Running")
        await wait_pod(api, "envpod", lambda p: out.exists() and len(out.read_text().splitlines()) == 2)
        assert out.read_text() == "envpod node-1 hello envpod+hello\nhello-arg\n"


async def test_missing_configmap_is_create_container_config_error(api: ApiClient, tmp_path: Path) -> None:
    container = sh(
        "c",
        "exec sleep 300",
        env=[{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k"}}}],
    )
    async with running_kubelet(api, tmp_path):
        await api.pods.create(pod_spec("cfgerr", [container]))

        def waiting(p: dict[str, Any]) -> bool:
            state = container_status(p).get("state", {}).get("waiting") or {}
            return state.get("reason") == "CreateContainerConfigError"

        pod = await wait_pod(api, "cfgerr", waiting)
        assert container_status(pod)["state"]["waiting"]["message"] == 'configmap "absent" not found'
        assert pod["status"]["phase"] == "Pending"
        await api.configmaps.create(
            {"metadata": {"name": "absent", "namespace": "default"}, "data": {"k": "v"}}
        )
        await wait_pod(
            api, "cfgerr", lambda p: p["status"].get("phase") == "Running", what="starts once created"
        )
