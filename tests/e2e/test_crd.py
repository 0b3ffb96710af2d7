"""CustomResourceDefinitions end to end: establish, discover, CRUD with schema validation and printer columns,
scale and status subresources, and removal."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
import yaml

from tests.e2e.conftest import KybServer, unique, wait_for

CRD_NAME = "crontabs.stable.example.com"

CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names:
    plural: crontabs
    singular: crontab
    kind: CronTab
    listKind: CronTabList
    shortNames: [ct]
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [cronSpec]
            properties:
              cronSpec:
                type: string
                description: The schedule, in cron format.
              image:
                type: string
              replicas:
                type: integer
                minimum: 0
                maximum: 10
              size:
                type: string
                enum: [small, large]
          status:
            type: object
            properties:
              replicas:
                type: integer
              labelSelector:
                type: string
              phase:
                type: string
    additionalPrinterColumns:
    - name: Spec
      type: string
      jsonPath: .spec.cronSpec
    - name: Replicas
      type: integer
      jsonPath: .spec.replicas
    - name: Size
      type: string
      jsonPath: .spec.size
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
        labelSelectorPath: .status.labelSelector
"""

CR = """\
apiVersion: stable.example.com/v1
kind: CronTab
metadata:
  name: {name}
spec:
  cronSpec: "*/5 * * * *"
  image: my-cron-image
  replicas: 2
  size: small
"""


def table(text: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in text.strip().splitlines()]


def _wait_established(kyb: KybServer) -> None:
    out = kyb.kubectl(
        "wait", "--for=condition=Established", f"crd/{CRD_NAME}", "--timeout=30s", timeout=40
    ).stdout
    assert out.strip() == f"customresourcedefinition.apiextensions.k8s.io/{CRD_NAME} condition met"


@pytest.fixture(scope="module")
def crd(kyb: KybServer) -> Iterator[str]:
    """The CronTab CRD, established; yields a namespace for the custom resources."""
    out = kyb.kubectl("apply", "-f", "-", input=CRD).stdout
    assert out.strip() == f"customresourcedefinition.apiextensions.k8s.io/{CRD_NAME} created"
    _wait_established(kyb)
    yield kyb.create_namespace(unique("crd"))
    kyb.kubectl("delete", "crd", CRD_NAME, "--ignore-not-found", "--wait=false")


def test_crd_status_and_discovery(kyb: KybServer, crd: str) -> None:
    obj = kyb.kubectl_json("get", "crd", CRD_NAME)
    conditions = {c["type"]: c["status"] for c in obj["status"]["conditions"]}
    assert conditions["Established"] == "True"
    assert conditions["NamesAccepted"] == "True"
    accepted = obj["status"]["acceptedNames"]
    assert accepted["kind"] == "CronTab" and accepted["plural"] == "crontabs"
    assert obj["status"]["storedVersions"] == ["v1"]
    rows = [
        line.split()
        for line in kyb.kubectl("api-resources", "--api-group=stable.example.com").stdout.splitlines()
    ]
    assert rows[1] == ["crontabs", "ct", "stable.example.com/v1", "true", "CronTab"]
    resp = kyb.request("GET", "/apis/stable.example.com/v1")
    assert resp.status == 200
    resources = {r["name"]: r for r in resp.json()["resources"]}
    assert {"crontabs", "crontabs/status", "crontabs/scale"} <= set(resources)
    assert resources["crontabs"]["kind"] == "CronTab" and resources["crontabs"]["namespaced"] is True


def test_empty_list(kyb: KybServer, crd: str) -> None:
    res = kyb.kubectl("get", "crontabs", "-n", crd)
    assert res.stdout == ""
    assert f"No resources found in {crd} namespace." in res.stderr


def test_create_and_get_with_printer_columns(kyb: KybServer, crd: str) -> None:
    out = kyb.kubectl("apply", "-n", crd, "-f", "-", input=CR.format(name="my-cron")).stdout
    assert out.strip() == "crontab.stable.example.com/my-cron created"
    rows = table(kyb.kubectl("get", "crontabs", "-n", crd).stdout)
    assert rows[0] == ["NAME", "SPEC", "REPLICAS", "SIZE", "AGE"]
    assert rows[1][:4] == ["my-cron", "*/5 * * * *", "2", "small"]
    assert (
        kyb.kubectl("get", "ct", "-n", crd, "-o", "name").stdout.strip()
        == "crontab.stable.example.com/my-cron"
    )
    obj = kyb.kubectl_json("get", "crontab", "my-cron", "-n", crd)
    assert obj["apiVersion"] == "stable.example.com/v1" and obj["kind"] == "CronTab"
    assert obj["metadata"]["generation"] == 1
    assert obj["metadata"]["uid"]
    assert obj["spec"]["replicas"] == 2
    listed = json.loads(kyb.kubectl("get", "crontabs", "-n", crd, "-o", "json").stdout)
    assert [i["kind"] for i in listed["items"]] == ["CronTab"]
    raw = kyb.request("GET", f"/apis/stable.example.com/v1/namespaces/{crd}/crontabs").json()
    assert raw["kind"] == "CronTabList" and raw["apiVersion"] == "stable.example.com/v1"
    assert kyb.kubectl("apply", "-n", crd, "-f", "-", input=CR.format(name="my-cron")).stdout.strip() == (
        "crontab.stable.example.com/my-cron unchanged"
    )


def test_invalid_custom_resources_rejected(kyb: KybServer, crd: str) -> None:
    missing = CR.format(name="bad").replace('  cronSpec: "*/5 * * * *"\n', "")
    res = kyb.kubectl("create", "-n", crd, "-f", "-", input=missing, check=False)
    assert res.returncode != 0
    assert 'The CronTab "bad" is invalid' in res.stderr
    assert "spec.cronSpec: Required value" in res.stderr

    res = kyb.kubectl(
        "create", "-n", crd, "-f", "-", input=CR.format(name="bad").replace("small", "huge"), check=False
    )
    assert res.returncode != 0
    assert 'spec.size: Unsupported value: "huge": supported values: "small", "large"' in res.stderr

    res = kyb.kubectl(
        "create",
        "-n",
        crd,
        "-f",
        "-",
        input=CR.format(name="bad").replace("replicas: 2", "replicas: 11"),
        check=False,
    )
    assert res.returncode != 0
    assert (
        "spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10"
        in res.stderr
    )

    res = kyb.kubectl(
        "create",
        "-n",
        crd,
        "-f",
        "-",
        input=CR.format(name="bad").replace("replicas: 2", "replicas: two"),
        check=False,
    )
    assert res.returncode != 0
    assert "spec.replicas in body must be of type integer" in res.stderr

    resp = kyb.request(
        "POST",
        f"/apis/stable.example.com/v1/namespaces/{crd}/crontabs",
        {"apiVersion": "stable.example.com/v1", "kind": "CronTab", "metadata": {"name": "bad"}, "spec": {}},
    )
    assert resp.status == 422
    body = resp.json()
    assert body["reason"] == "Invalid"
    assert body["details"]["group"] == "stable.example.com" and body["details"]["kind"] == "CronTab"
    assert any(
        c["field"] == "spec.cronSpec" and c["reason"] == "FieldValueRequired"
        for c in body["details"]["causes"]
    )
    assert kyb.kubectl("get", "crontab", "bad", "-n", crd, check=False).returncode != 0


def test_unknown_fields_pruned_or_rejected(kyb: KybServer, crd: str) -> None:
    extra = CR.format(name="pruned").replace("  size: small\n", "  size: small\n  extra: field\n")
    res = kyb.kubectl("create", "-n", crd, "-f", "-", input=extra, check=False)
    assert res.returncode != 0
    assert 'unknown field "spec.extra"' in res.stderr
    out = kyb.kubectl("create", "-n", crd, "--validate=false", "-f", "-", input=extra).stdout
    assert out.strip() == "crontab.stable.example.com/pruned created"
    spec = kyb.kubectl_json("get", "crontab", "pruned", "-n", crd)["spec"]
    assert "extra" not in spec
    assert spec["size"] == "small"


def test_scale_custom_resource(kyb: KybServer, crd: str) -> None:
    kyb.kubectl("apply", "-n", crd, "-f", "-", input=CR.format(name="scaled"))
    out = kyb.kubectl("scale", "crontab", "scaled", "-n", crd, "--replicas=5").stdout
    assert out.strip() == "crontab.stable.example.com/scaled scaled"
    obj = kyb.kubectl_json("get", "crontab", "scaled", "-n", crd)
    assert obj["spec"]["replicas"] == 5
    assert obj["metadata"]["generation"] == 2
    kyb.kubectl(
        "patch",
        "crontab",
        "scaled",
        "-n",
        crd,
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status":{"replicas":4,"labelSelector":"app=cron"}}',
    )
    scale = kyb.request("GET", f"/apis/stable.example.com/v1/namespaces/{crd}/crontabs/scaled/scale").json()
    assert scale["apiVersion"] == "autoscaling/v1" and scale["kind"] == "Scale"
    assert scale["spec"]["replicas"] == 5
    assert scale["status"] == {"replicas": 4, "selector": "app=cron"}
    res = kyb.kubectl("scale", "crontab", "scaled", "-n", crd, "--replicas=50", check=False)
    assert res.returncode != 0
    assert kyb.kubectl_json("get", "crontab", "scaled", "-n", crd)["spec"]["replicas"] == 5


def test_status_subresource_is_separate(kyb: KybServer, crd: str) -> None:
    kyb.kubectl("apply", "-n", crd, "-f", "-", input=CR.format(name="stat"))
    # status written through the main resource is ignored
    kyb.kubectl("patch", "crontab", "stat", "-n", crd, "--type=merge", "-p", '{"status":{"phase":"Ignored"}}')
    obj = kyb.kubectl_json("get", "crontab", "stat", "-n", crd)
    assert "status" not in obj, obj  # never written through the status subresource yet
    # the status subresource changes status only and does not bump generation
    out = kyb.kubectl(
        "patch",
        "crontab",
        "stat",
        "-n",
        crd,
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status":{"phase":"Running"},"spec":{"replicas":9}}',
    ).stdout
    assert out.strip() == "crontab.stable.example.com/stat patched"
    obj = kyb.kubectl_json("get", "crontab", "stat", "-n", crd)
    assert obj["status"]["phase"] == "Running"
    assert obj["spec"]["replicas"] == 2
    assert obj["metadata"]["generation"] == 1
    # a spec change through the main resource keeps the status
    kyb.kubectl("patch", "crontab", "stat", "-n", crd, "--type=merge", "-p", '{"spec":{"size":"large"}}')
    obj = kyb.kubectl_json("get", "crontab", "stat", "-n", crd)
    assert obj["status"]["phase"] == "Running"
    assert obj["metadata"]["generation"] == 2


def test_explain_custom_resource(kyb: KybServer, crd: str) -> None:
    out = kyb.kubectl("explain", "crontabs.spec.cronSpec").stdout
    assert re.search(r"KIND:\s+CronTab", out)
    assert re.search(r"FIELD:\s+cronSpec\s+<string>", out)
    assert "The schedule, in cron format." in out


def test_delete_custom_resource(kyb: KybServer, crd: str) -> None:
    kyb.kubectl("apply", "-n", crd, "-f", "-", input=CR.format(name="doomed"))
    out = kyb.kubectl("delete", "crontab", "doomed", "-n", crd).stdout
    assert out.strip() == 'crontab.stable.example.com "doomed" deleted'
    res = kyb.kubectl("get", "crontab", "doomed", "-n", crd, check=False)
    assert res.returncode != 0
    assert 'Error from server (NotFound): crontabs.stable.example.com "doomed" not found' in res.stderr


def test_delete_crd_removes_resource(kyb: KybServer, crd: str) -> None:
    kyb.kubectl("apply", "-n", crd, "-f", "-", input=CR.format(name="leftover"))
    out = kyb.kubectl("delete", "crd", CRD_NAME, timeout=60).stdout
    assert out.strip() == f'customresourcedefinition.apiextensions.k8s.io "{CRD_NAME}" deleted'

    def gone() -> bool:
        names = kyb.kubectl("api-resources", "-o", "name").stdout.split()
        return "crontabs.stable.example.com" not in names

    wait_for(gone, timeout=30, what="crontabs gone from api-resources")
    res = kyb.kubectl("get", "crontabs", "-n", crd, check=False)
    assert res.returncode != 0
    assert 'the server doesn\'t have a resource type "crontabs"' in res.stderr
    assert kyb.request("GET", f"/apis/stable.example.com/v1/namespaces/{crd}/crontabs").status == 404
    # instances went with the definition: re-creating it shows an empty list
    kyb.kubectl("apply", "-f", "-", input=CRD)
    _wait_established(kyb)

    def served() -> object:
        resp = kyb.request("GET", f"/apis/stable.example.com/v1/namespaces/{crd}/crontabs")
        return resp if resp.status == 200 else None

    items = wait_for(served, timeout=15, what="crontabs served again")
    assert items.status == 200
    assert items.json()["items"] == []


def test_crd_validation(kyb: KybServer) -> None:
    bad = yaml.safe_load(CRD)
    bad["metadata"]["name"] = "wrong.stable.example.com"
    res = kyb.kubectl("create", "-f", "-", input=yaml.safe_dump(bad), check=False)
    assert res.returncode != 0
    assert "is invalid" in res.stderr
    assert "metadata.name" in res.stderr
    assert 'must be spec.names.plural+"."+spec.group' in res.stderr
