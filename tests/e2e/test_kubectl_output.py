"""``kubectl get`` output: server-side Tables (columns, wide columns), json/yaml/name/jsonpath/custom-columns,
labels and selectors, ``-A`` and ``get all``."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterator

import pytest
import yaml

from tests.e2e.conftest import KybServer, unique

PODS = """\
apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {{app: {app}, env: {env}}}}}
spec:
  containers:
  - name: main
    image: nginx:1.25
"""


@pytest.fixture(scope="module")
def world(kyb: KybServer) -> Iterator[str]:
    """One namespace with three pods, a deployment and a service; returns the namespace."""
    ns = kyb.create_namespace(unique("out"))
    docs = "---\n".join(
        PODS.format(name=name, app=app, env=env)
        for name, app, env in (("web-1", "web", "a"), ("web-2", "web", "b"), ("db-1", "db", "c"))
    )
    kyb.kubectl("create", "-n", ns, "-f", "-", input=docs)
    kyb.kubectl("create", "deployment", "web", "-n", ns, "--image=nginx", "--replicas=2")
    kyb.kubectl("create", "service", "clusterip", "web", "-n", ns, "--tcp=80:8080")
    yield ns


def table(text: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in text.strip().splitlines()]


AGE = re.compile(r"^\d+(s|m\d*s?|h\d*m?|d\d*h?|y\d*d?)$")


def test_pods_default_table(kyb: KybServer, world: str) -> None:
    rows = table(kyb.kubectl("get", "pods", "-n", world).stdout)
    assert rows[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    body = {r[0]: r for r in rows[1:]}
    assert set(body) == {"web-1", "web-2", "db-1"}
    _name, ready, status, restarts, age = body["web-1"]
    assert (ready, status, restarts) == ("0/1", "Pending", "0")
    assert AGE.match(age), age


def test_pods_wide_table(kyb: KybServer, world: str) -> None:
    rows = table(kyb.kubectl("get", "pods", "web-1", "-n", world, "-o", "wide").stdout)
    assert rows[0] == [
        "NAME",
        "READY",
        "STATUS",
        "RESTARTS",
        "AGE",
        "IP",
        "NODE",
        "NOMINATED NODE",
        "READINESS GATES",
    ]
    assert rows[1][0] == "web-1"
    assert rows[1][5:] == ["<none>", "<none>", "<none>", "<none>"]


def test_deployments_table(kyb: KybServer, world: str) -> None:
    rows = table(kyb.kubectl("get", "deployments", "-n", world).stdout)
    assert rows[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert rows[1][:4] == ["web", "0/2", "0", "0"]
    wide = table(kyb.kubectl("get", "deploy", "-n", world, "-o", "wide").stdout)
    assert wide[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    assert wide[1][5:] == ["nginx", "nginx", "app=web"]


def test_services_table(kyb: KybServer, world: str) -> None:
    rows = table(kyb.kubectl("get", "svc", "-n", world).stdout)
    assert rows[0] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    name, kind, cluster_ip, external, ports, _age = rows[1]
    assert (name, kind, external, ports) == ("web", "ClusterIP", "<none>", "80/TCP")
    assert ipaddress.ip_address(cluster_ip) in ipaddress.ip_network("10.96.0.0/12")
    wide = table(kyb.kubectl("get", "svc", "-n", world, "-o", "wide").stdout)
    assert wide[0][-1] == "SELECTOR"
    assert wide[1][-1] == "app=web"


def test_other_kinds_tables(kyb: KybServer, world: str) -> None:
    kyb.kubectl("create", "configmap", "two", "-n", world, "--from-literal=a=1", "--from-literal=b=2")
    kyb.kubectl("create", "secret", "generic", "one", "-n", world, "--from-literal=a=1")
    cms = {r[0]: r for r in table(kyb.kubectl("get", "cm", "-n", world).stdout)}
    assert cms["NAME"] == ["NAME", "DATA", "AGE"]
    assert cms["two"][1] == "2"
    secrets = {r[0]: r for r in table(kyb.kubectl("get", "secrets", "-n", world).stdout)}
    assert secrets["NAME"] == ["NAME", "TYPE", "DATA", "AGE"]
    assert secrets["one"][1:3] == ["Opaque", "1"]
    nss = {r[0]: r for r in table(kyb.kubectl("get", "ns").stdout)}
    assert nss["NAME"] == ["NAME", "STATUS", "AGE"]
    assert nss[world][1] == "Active"


def test_output_json_list(kyb: KybServer, world: str) -> None:
    doc = json.loads(kyb.kubectl("get", "pods", "-n", world, "-o", "json").stdout)
    assert doc["kind"] == "List" and doc["apiVersion"] == "v1"
    assert len(doc["items"]) == 3
    for item in doc["items"]:
        assert item["kind"] == "Pod" and item["apiVersion"] == "v1"
        assert item["metadata"]["namespace"] == world
    one = json.loads(kyb.kubectl("get", "deploy", "web", "-n", world, "-o", "json").stdout)
    assert one["kind"] == "Deployment" and one["apiVersion"] == "apps/v1"


def test_output_yaml(kyb: KybServer, world: str) -> None:
    doc = yaml.safe_load(kyb.kubectl("get", "pod", "web-1", "-n", world, "-o", "yaml").stdout)
    assert doc["kind"] == "Pod" and doc["apiVersion"] == "v1"
    assert doc["metadata"]["name"] == "web-1"
    assert doc["spec"]["containers"][0]["image"] == "nginx:1.25"
    many = yaml.safe_load(kyb.kubectl("get", "pods", "-n", world, "-o", "yaml").stdout)
    assert many["kind"] == "List"
    assert sorted(i["metadata"]["name"] for i in many["items"]) == ["db-1", "web-1", "web-2"]


def test_output_name(kyb: KybServer, world: str) -> None:
    out = kyb.kubectl("get", "pods", "-n", world, "-o", "name").stdout.split()
    assert out == ["pod/db-1", "pod/web-1", "pod/web-2"]
    assert kyb.kubectl("get", "deploy", "-n", world, "-o", "name").stdout.split() == ["deployment.apps/web"]


def test_output_jsonpath(kyb: KybServer, world: str) -> None:
    out = kyb.kubectl("get", "pods", "-n", world, "-o", "jsonpath={.items[*].metadata.name}").stdout
    assert out.split() == ["db-1", "web-1", "web-2"]
    out = kyb.kubectl(
        "get",
        "pods",
        "-n",
        world,
        "-o",
        'jsonpath={range .items[*]}{.metadata.name}={.metadata.labels.env}{"\\n"}{end}',
    ).stdout
    assert out.splitlines() == ["db-1=c", "web-1=a", "web-2=b"]


def test_output_custom_columns(kyb: KybServer, world: str) -> None:
    out = kyb.kubectl(
        "get",
        "pods",
        "-n",
        world,
        "-o",
        "custom-columns=NAME:.metadata.name,APP:.metadata.labels.app,IMAGE:.spec.containers[0].image",
    ).stdout
    rows = table(out)
    assert rows[0] == ["NAME", "APP", "IMAGE"]
    assert ["web-2", "web", "nginx:1.25"] in rows[1:]
    assert ["db-1", "db", "nginx:1.25"] in rows[1:]


def test_show_labels(kyb: KybServer, world: str) -> None:
    rows = table(kyb.kubectl("get", "pods", "-n", world, "--show-labels").stdout)
    assert rows[0][-1] == "LABELS"
    labels = {r[0]: r[-1] for r in rows[1:]}
    assert labels["web-1"] == "app=web,env=a"
    assert labels["db-1"] == "app=db,env=c"
    out = kyb.kubectl("get", "pods", "-n", world, "-L", "env", "--no-headers").stdout
    assert {r[0]: r[-1] for r in table(out)}["web-2"] == "b"


def _names(kyb: KybServer, *args: str) -> list[str]:
    out = kyb.kubectl("get", *args, "-o", "name").stdout.split()
    return sorted(n.split("/", 1)[1] for n in out)


def test_label_selectors(kyb: KybServer, world: str) -> None:
    assert _names(kyb, "pods", "-n", world, "-l", "app=web") == ["web-1", "web-2"]
    assert _names(kyb, "pods", "-n", world, "-l", "env in (a,c)") == ["db-1", "web-1"]
    assert _names(kyb, "pods", "-n", world, "-l", "env notin (a,c)") == ["web-2"]
    assert _names(kyb, "pods", "-n", world, "-l", "app!=web") == ["db-1"]
    assert _names(kyb, "pods", "-n", world, "-l", "app=web,env=b") == ["web-2"]
    assert _names(kyb, "pods", "-n", world, "-l", "env") == ["db-1", "web-1", "web-2"]
    assert _names(kyb, "pods", "-n", world, "-l", "!env") == []
    empty = kyb.kubectl("get", "pods", "-n", world, "-l", "app=nothing")
    assert empty.stdout == ""
    assert f"No resources found in {world} namespace." in empty.stderr


def test_field_selectors(kyb: KybServer, world: str) -> None:
    assert _names(kyb, "pods", "-n", world, "--field-selector", "metadata.name=web-2") == ["web-2"]
    assert _names(kyb, "pods", "-n", world, "--field-selector", "metadata.name!=web-2") == ["db-1", "web-1"]
    assert _names(kyb, "pods", "-n", world, "--field-selector", "status.phase=Pending") == [
        "db-1",
        "web-1",
        "web-2",
    ]
    assert _names(kyb, "pods", "-n", world, "--field-selector", "spec.nodeName=") == [
        "db-1",
        "web-1",
        "web-2",
    ]
    assert _names(kyb, "pods", "-A", "--field-selector", f"metadata.namespace={world}") == [
        "db-1",
        "web-1",
        "web-2",
    ]
    bad = kyb.kubectl("get", "pods", "-n", world, "--field-selector", "spec.bogus=x", check=False)
    assert bad.returncode != 0
    assert "BadRequest" in bad.stderr
    assert "field label not supported: spec.bogus" in bad.stderr


def test_all_namespaces(kyb: KybServer, world: str) -> None:
    rows = table(kyb.kubectl("get", "pods", "-A").stdout)
    assert rows[0] == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    mine = [r for r in rows[1:] if r[0] == world]
    assert sorted(r[1] for r in mine) == ["db-1", "web-1", "web-2"]
    doc = json.loads(kyb.kubectl("get", "deploy", "-A", "-o", "json").stdout)
    assert any(i["metadata"]["namespace"] == world for i in doc["items"])


def test_get_all(kyb: KybServer, world: str) -> None:
    out = kyb.kubectl("get", "all", "-n", world).stdout
    assert "pod/web-1" in out and "pod/db-1" in out
    assert "service/web" in out
    assert "deployment.apps/web" in out
    names = kyb.kubectl("get", "all", "-n", world, "-o", "name").stdout.split()
    assert {"pod/web-1", "service/web", "deployment.apps/web"} <= set(names)
    # configmaps are not in the "all" category
    assert not any(n.startswith("configmap/") for n in names)


def test_sort_and_no_headers(kyb: KybServer, world: str) -> None:
    out = kyb.kubectl("get", "pods", "-n", world, "--no-headers", "--sort-by=.metadata.labels.env").stdout
    assert [r[0] for r in table(out)] == ["web-1", "web-2", "db-1"]


def test_get_several_named(kyb: KybServer, world: str) -> None:
    rows = table(kyb.kubectl("get", "pods", "web-2", "db-1", "-n", world).stdout)
    assert [r[0] for r in rows[1:]] == ["web-2", "db-1"]
    mixed = kyb.kubectl("get", "pods", "web-2", "nope", "-n", world, check=False)
    assert mixed.returncode != 0
    assert "web-2" in mixed.stdout
    assert 'Error from server (NotFound): pods "nope" not found' in mixed.stderr


def test_chunked_get(kyb: KybServer, world: str) -> None:
    # kubectl pages with limit/continue; the printed result is the whole list
    out = kyb.kubectl("get", "pods", "-n", world, "--chunk-size=1", "-o", "name").stdout.split()
    assert out == ["pod/db-1", "pod/web-1", "pod/web-2"]
    rows = table(kyb.kubectl("get", "pods", "-n", world, "--chunk-size=2").stdout)
    assert [r[0] for r in rows] == ["NAME", "db-1", "web-1", "web-2"]
