"""Discovery as kubectl sees it: ``api-resources`` (names, short names, groups, scope) and ``explain``."""

from __future__ import annotations

import re

from tests.e2e.conftest import KybServer


def _resources(kyb: KybServer) -> dict[tuple[str, str], list[str]]:
    """(name, apiversion) -> the columns of `kubectl api-resources -o wide`."""
    out = kyb.kubectl("api-resources", "--no-headers").stdout
    rows: dict[tuple[str, str], list[str]] = {}
    for line in out.splitlines():
        cols = line.split()
        # NAME [SHORTNAMES] APIVERSION NAMESPACED KIND
        if len(cols) == 5:
            name, short, version, namespaced, kind = cols
        else:
            name, version, namespaced, kind = cols
            short = ""
        rows[(name, version)] = [short, namespaced, kind]
    return rows


def test_api_resources_lists_core_and_group_resources(kyb: KybServer) -> None:
    rows = _resources(kyb)
    assert rows[("pods", "v1")] == ["po", "true", "Pod"]
    assert rows[("namespaces", "v1")] == ["ns", "false", "Namespace"]
    assert rows[("services", "v1")] == ["svc", "true", "Service"]
    assert rows[("deployments", "apps/v1")] == ["deploy", "true", "Deployment"]
    short, namespaced, kind = rows[("customresourcedefinitions", "apiextensions.k8s.io/v1")]
    assert set(short.split(",")) == {"crd", "crds"}
    assert (namespaced, kind) == ("false", "CustomResourceDefinition")
    for key in [("jobs", "batch/v1"), ("cronjobs", "batch/v1"), ("roles", "rbac.authorization.k8s.io/v1")]:
        assert key in rows, key


def test_api_resources_filters(kyb: KybServer) -> None:
    out = kyb.kubectl("api-resources", "--api-group=apps", "-o", "name").stdout.split()
    assert "deployments.apps" in out
    assert "pods" not in out
    cluster = kyb.kubectl("api-resources", "--namespaced=false", "-o", "name").stdout.split()
    assert "namespaces" in cluster and "nodes" in cluster
    assert "pods" not in cluster
    wide = kyb.kubectl("api-resources", "-o", "wide").stdout
    header = wide.splitlines()[0].split()
    assert header[-2:] == ["VERBS", "CATEGORIES"]
    pods_line = next(line for line in wide.splitlines() if line.startswith("pods "))
    for verb in ("create", "delete", "get", "list", "patch", "update", "watch"):
        assert verb in pods_line
    assert "all" in pods_line


def test_short_names_resolve(kyb: KybServer) -> None:
    assert kyb.kubectl("get", "po").returncode == 0
    assert kyb.kubectl("get", "deploy").returncode == 0
    out = kyb.kubectl("get", "ns", "default", "-o", "name").stdout.strip()
    assert out == "namespace/default"


def test_explain_field(kyb: KybServer) -> None:
    out = kyb.kubectl("explain", "deployment.spec.replicas").stdout
    assert re.search(r"KIND:\s+Deployment", out)
    # kubectl >= 1.27 explains from OpenAPI v3: group and version on separate lines
    assert re.search(r"^GROUP:\s+apps$", out, re.MULTILINE), out
    assert re.search(r"^VERSION:\s+v1$", out, re.MULTILINE), out
    assert re.search(r"FIELD:\s+replicas\s+<integer>", out)
    assert "Number of desired pods" in out


def test_explain_resource_lists_fields(kyb: KybServer) -> None:
    out = kyb.kubectl("explain", "pods.spec.containers").stdout
    assert re.search(r"FIELD:\s+containers\s+<\[\]Container>", out)
    for field in ("image", "name", "ports", "resources"):
        assert re.search(rf"^\s+{field}\s+<", out, re.M), field


def test_version_and_unknown_resource(kyb: KybServer) -> None:
    out = kyb.kubectl("version", "-o", "json").stdout
    assert '"major": "1"' in out
    bad = kyb.kubectl("get", "flurbs", check=False)
    assert bad.returncode != 0
    assert 'the server doesn\'t have a resource type "flurbs"' in bad.stderr


def test_health_endpoints_and_cluster_info(kyb: KybServer) -> None:
    for path in ("/healthz", "/livez", "/readyz"):
        assert kyb.kubectl("get", "--raw", path).stdout.strip() == "ok"
    out = kyb.kubectl("cluster-info").stdout
    assert "Kubernetes control plane is running at https://127.0.0.1:" in out
