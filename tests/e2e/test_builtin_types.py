"""The rest of upstream v1.32's default types, through kubectl and the official client: discovery lists
them, each one is created from a minimal manifest with ``kubectl apply``, read back with upstream's
Table columns and defaults, rejected with 422 and field causes when invalid, and deleted.
APIServices (local ones synced by the server, Available conditions) and computed ComponentStatuses
are covered here too."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import KybServer, unique, wait_for

pytestmark = pytest.mark.kubectl


def _csr_pem(common_name: str) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode()


# (resource as kubectl names it, namespaced, manifest builder, expected Table header)
def _manifests(name: str) -> list[tuple[str, bool, dict[str, Any], list[str]]]:
    md = {"name": name}
    return [
        (
            "ingressclasses.networking.k8s.io",
            False,
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "IngressClass",
                "metadata": md,
                "spec": {"controller": "example.com/ingress"},
            },
            ["NAME", "CONTROLLER", "PARAMETERS", "AGE"],
        ),
        (
            "ingresses.networking.k8s.io",
            True,
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": md,
                "spec": {
                    "rules": [
                        {
                            "host": "web.example.com",
                            "http": {
                                "paths": [
                                    {
                                        "path": "/",
                                        "pathType": "Prefix",
                                        "backend": {"service": {"name": "web", "port": {"number": 80}}},
                                    }
                                ]
                            },
                        }
                    ]
                },
            },
            ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"],
        ),
        (
            "networkpolicies.networking.k8s.io",
            True,
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": md,
                "spec": {"podSelector": {}},
            },
            ["NAME", "POD-SELECTOR", "AGE"],
        ),
        (
            "certificatesigningrequests.certificates.k8s.io",
            False,
            {
                "apiVersion": "certificates.k8s.io/v1",
                "kind": "CertificateSigningRequest",
                "metadata": md,
                "spec": {
                    "request": _csr_pem(name),
                    "signerName": "kubernetes.io/kube-apiserver-client",
                    "usages": ["client auth"],
                },
            },
            ["NAME", "AGE", "SIGNERNAME", "REQUESTOR", "REQUESTEDDURATION", "CONDITION"],
        ),
        (
            "runtimeclasses.node.k8s.io",
            False,
            {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": md, "handler": "runc"},
            ["NAME", "HANDLER", "AGE"],
        ),
        (
            "csidrivers.storage.k8s.io",
            False,
            {"apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver", "metadata": md, "spec": {}},
            [
                "NAME",
                "ATTACHREQUIRED",
                "PODINFOONMOUNT",
                "STORAGECAPACITY",
                "TOKENREQUESTS",
                "REQUIRESREPUBLISH",
                "MODES",
                "AGE",
            ],
        ),
        (
            "csinodes.storage.k8s.io",
            False,
            {
                "apiVersion": "storage.k8s.io/v1",
                "kind": "CSINode",
                "metadata": md,
                "spec": {"drivers": [{"name": "hostpath.csi.k8s.io", "nodeID": name}]},
            },
            ["NAME", "DRIVERS", "AGE"],
        ),
        (
            "csistoragecapacities.storage.k8s.io",
            True,
            {
                "apiVersion": "storage.k8s.io/v1",
                "kind": "CSIStorageCapacity",
                "metadata": md,
                "storageClassName": "standard",
                "capacity": "10Gi",
            },
            ["NAME", "STORAGECLASSNAME", "CAPACITY"],
        ),
        (
            "volumeattachments.storage.k8s.io",
            False,
            {
                "apiVersion": "storage.k8s.io/v1",
                "kind": "VolumeAttachment",
                "metadata": md,
                "spec": {
                    "attacher": "hostpath.csi.k8s.io",
                    "nodeName": "node-1",
                    "source": {"persistentVolumeName": "pv-1"},
                },
            },
            ["NAME", "ATTACHER", "PV", "NODE", "ATTACHED", "AGE"],
        ),
        (
            "validatingwebhookconfigurations.admissionregistration.k8s.io",
            False,
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingWebhookConfiguration",
                "metadata": md,
                "webhooks": [
                    {
                        "name": "check.example.com",
                        "admissionReviewVersions": ["v1"],
                        "sideEffects": "None",
                        "clientConfig": {"service": {"name": "hook", "namespace": "default"}},
                        "rules": [
                            {
                                "operations": ["CREATE"],
                                "apiGroups": [""],
                                "apiVersions": ["v1"],
                                "resources": ["pods"],
                            }
                        ],
                    }
                ],
            },
            ["NAME", "WEBHOOKS", "AGE"],
        ),
        (
            "mutatingwebhookconfigurations.admissionregistration.k8s.io",
            False,
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "MutatingWebhookConfiguration",
                "metadata": md,
                "webhooks": [
                    {
                        "name": "mutate.example.com",
                        "admissionReviewVersions": ["v1"],
                        "sideEffects": "None",
                        "clientConfig": {"url": "https://hook.example.com/mutate"},
                    }
                ],
            },
            ["NAME", "WEBHOOKS", "AGE"],
        ),
        (
            "validatingadmissionpolicies.admissionregistration.k8s.io",
            False,
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingAdmissionPolicy",
                "metadata": md,
                "spec": {
                    "matchConstraints": {
                        "resourceRules": [
                            {
                                "apiGroups": ["apps"],
                                "apiVersions": ["v1"],
                                "operations": ["CREATE"],
                                "resources": ["deployments"],
                            }
                        ]
                    },
                    "validations": [{"expression": "object.spec.replicas <= 5"}],
                },
            },
            ["NAME", "VALIDATIONS", "PARAMKIND", "AGE"],
        ),
        (
            "validatingadmissionpolicybindings.admissionregistration.k8s.io",
            False,
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingAdmissionPolicyBinding",
                "metadata": md,
                "spec": {"policyName": name, "validationActions": ["Deny"]},
            },
            ["NAME", "POLICYNAME", "PARAMREF", "AGE"],
        ),
        (
            "prioritylevelconfigurations.flowcontrol.apiserver.k8s.io",
            False,
            {
                "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
                "kind": "PriorityLevelConfiguration",
                "metadata": md,
                "spec": {"type": "Limited", "limited": {"limitResponse": {"type": "Queue", "queuing": {}}}},
            },
            ["NAME", "TYPE", "NOMINALCONCURRENCYSHARES", "QUEUES", "HANDSIZE", "QUEUELENGTHLIMIT", "AGE"],
        ),
        (
            "flowschemas.flowcontrol.apiserver.k8s.io",
            False,
            {
                "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
                "kind": "FlowSchema",
                "metadata": md,
                "spec": {
                    "priorityLevelConfiguration": {"name": name},
                    "rules": [
                        {
                            "subjects": [{"kind": "Group", "group": {"name": "team-a"}}],
                            "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}],
                        }
                    ],
                },
            },
            ["NAME", "PRIORITYLEVEL", "MATCHINGPRECEDENCE", "DISTINGUISHERMETHOD", "AGE", "MISSINGPL"],
        ),
    ]


NEW_RESOURCES = {
    ("componentstatuses", "v1"),
    ("apiservices", "apiregistration.k8s.io/v1"),
    ("mutatingwebhookconfigurations", "admissionregistration.k8s.io/v1"),
    ("validatingwebhookconfigurations", "admissionregistration.k8s.io/v1"),
    ("validatingadmissionpolicies", "admissionregistration.k8s.io/v1"),
    ("validatingadmissionpolicybindings", "admissionregistration.k8s.io/v1"),
    ("certificatesigningrequests", "certificates.k8s.io/v1"),
    ("flowschemas", "flowcontrol.apiserver.k8s.io/v1"),
    ("prioritylevelconfigurations", "flowcontrol.apiserver.k8s.io/v1"),
    ("ingresses", "networking.k8s.io/v1"),
    ("ingressclasses", "networking.k8s.io/v1"),
    ("networkpolicies", "networking.k8s.io/v1"),
    ("runtimeclasses", "node.k8s.io/v1"),
    ("csidrivers", "storage.k8s.io/v1"),
    ("csinodes", "storage.k8s.io/v1"),
    ("csistoragecapacities", "storage.k8s.io/v1"),
    ("volumeattachments", "storage.k8s.io/v1"),
}


def test_api_resources_lists_every_new_type(kyb_sqlite: KybServer) -> None:
    out = kyb_sqlite.kubectl("api-resources", "--no-headers").stdout
    listed = set()
    short: dict[str, str] = {}
    for line in out.splitlines():
        cols = line.split()
        listed.add((cols[0], cols[-3]))
        if len(cols) == 5:
            short[cols[0]] = cols[1]
    assert NEW_RESOURCES <= listed, NEW_RESOURCES - listed
    assert short["componentstatuses"] == "cs"
    assert short["certificatesigningrequests"] == "csr"
    assert short["ingresses"] == "ing"
    assert short["networkpolicies"] == "netpol"
    extensions = kyb_sqlite.kubectl(
        "api-resources", "--categories=api-extensions", "-o", "name"
    ).stdout.split()
    assert "apiservices.apiregistration.k8s.io" in extensions
    assert "validatingwebhookconfigurations.admissionregistration.k8s.io" in extensions


def test_each_new_type_round_trips_through_kubectl(kyb_sqlite: KybServer, ns: str) -> None:
    name = unique("t")
    manifests = _manifests(name)
    docs = "\n---\n".join(yaml.safe_dump(m) for _, _, m, _ in manifests)
    kyb_sqlite.kubectl("apply", "-n", ns, "-f", "-", input=docs)
    for resource, namespaced, manifest, header in manifests:
        scope = ["-n", ns] if namespaced else []
        got = kyb_sqlite.kubectl_json("get", resource, name, *scope)
        assert got["kind"] == manifest["kind"] and got["metadata"]["uid"], resource
        table = kyb_sqlite.kubectl("get", resource, name, *scope).stdout.splitlines()
        assert table[0].split() == header, (resource, table)
        assert table[1].split()[0] == name, (resource, table)
        listed = kyb_sqlite.kubectl("get", resource, *scope, "-o", "name").stdout.split()
        assert any(entry.endswith("/" + name) for entry in listed), (resource, listed)
    for resource, namespaced, _, _ in reversed(manifests):
        scope = ["-n", ns] if namespaced else []
        kyb_sqlite.kubectl("delete", resource, name, *scope)
        missing = kyb_sqlite.kubectl("get", resource, name, *scope, check=False)
        assert missing.returncode != 0 and "NotFound" in missing.stderr, resource


def test_defaults_are_applied(kyb_sqlite: KybServer, ns: str) -> None:
    name = unique("d")
    manifests = {m["kind"]: m for _, _, m, _ in _manifests(name)}
    wanted = [
        "CSIDriver",
        "ValidatingWebhookConfiguration",
        "NetworkPolicy",
        "PriorityLevelConfiguration",
        "FlowSchema",
    ]
    kyb_sqlite.kubectl(
        "apply", "-n", ns, "-f", "-", input="\n---\n".join(yaml.safe_dump(manifests[k]) for k in wanted)
    )
    driver = kyb_sqlite.kubectl_json("get", "csidriver", name)["spec"]
    assert driver == {
        "attachRequired": True,
        "fsGroupPolicy": "ReadWriteOnceWithFSType",
        "podInfoOnMount": False,
        "requiresRepublish": False,
        "seLinuxMount": False,
        "storageCapacity": False,
        "volumeLifecycleModes": ["Persistent"],
    }
    hook = kyb_sqlite.kubectl_json("get", "validatingwebhookconfiguration", name)["webhooks"][0]
    assert (hook["failurePolicy"], hook["matchPolicy"], hook["timeoutSeconds"]) == ("Fail", "Equivalent", 10)
    assert hook["namespaceSelector"] == {} and hook["objectSelector"] == {}
    assert hook["clientConfig"]["service"]["port"] == 443
    assert hook["rules"][0]["scope"] == "*"
    policy = kyb_sqlite.kubectl_json("get", "networkpolicy", name, "-n", ns)["spec"]
    assert policy["policyTypes"] == ["Ingress"]
    level = kyb_sqlite.kubectl_json("get", "prioritylevelconfiguration", name)["spec"]["limited"]
    assert level["nominalConcurrencyShares"] == 30 and level["lendablePercent"] == 0
    assert level["limitResponse"]["queuing"] == {"handSize": 8, "queueLengthLimit": 50, "queues": 64}
    schema = kyb_sqlite.kubectl_json("get", "flowschema", name)
    assert schema["spec"]["matchingPrecedence"] == 1000
    assert schema["metadata"]["generation"] == 1


@pytest.mark.parametrize(
    ("path", "body", "causes"),
    [
        (
            "/apis/networking.k8s.io/v1/namespaces/default/ingresses",
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": "bad"},
                "spec": {
                    "rules": [
                        {
                            "host": "1.2.3.4",
                            "http": {
                                "paths": [
                                    {"path": "/", "backend": {}},
                                    {
                                        "path": "/b",
                                        "pathType": "Prefix",
                                        "backend": {"service": {"name": "web"}},
                                    },
                                ]
                            },
                        }
                    ]
                },
            },
            {
                "spec.rules[0].host",
                "spec.rules[0].http.paths[0].pathType",
                "spec.rules[0].http.paths[1].backend",
            },
        ),
        (
            "/apis/certificates.k8s.io/v1/certificatesigningrequests",
            {
                "apiVersion": "certificates.k8s.io/v1",
                "kind": "CertificateSigningRequest",
                "metadata": {"name": "bad"},
                "spec": {"request": base64.b64encode(b"not a pem").decode(), "usages": ["flying"]},
            },
            {"spec.request", "spec.signerName", "spec.usages[0]"},
        ),
        (
            "/apis/storage.k8s.io/v1/volumeattachments",
            {
                "apiVersion": "storage.k8s.io/v1",
                "kind": "VolumeAttachment",
                "metadata": {"name": "bad"},
                "spec": {"source": {}},
            },
            {"spec.attacher", "spec.nodeName", "spec.source"},
        ),
        (
            "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingWebhookConfiguration",
                "metadata": {"name": "bad"},
                "webhooks": [{"name": "short", "clientConfig": {}, "timeoutSeconds": 60}],
            },
            {
                "webhooks[0].name",
                "webhooks[0].admissionReviewVersions",
                "webhooks[0].sideEffects",
                "webhooks[0].clientConfig",
                "webhooks[0].timeoutSeconds",
            },
        ),
        (
            "/apis/flowcontrol.apiserver.k8s.io/v1/prioritylevelconfigurations",
            {
                "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
                "kind": "PriorityLevelConfiguration",
                "metadata": {"name": "bad"},
                "spec": {"type": "Limited"},
            },
            {"spec.limited"},
        ),
        (
            "/apis/apiregistration.k8s.io/v1/apiservices",
            {
                "apiVersion": "apiregistration.k8s.io/v1",
                "kind": "APIService",
                "metadata": {"name": "wrong"},
                "spec": {
                    "group": "metrics.k8s.io",
                    "version": "v1beta1",
                    "groupPriorityMinimum": 0,
                    "versionPriority": 100,
                },
            },
            {"metadata.name", "spec.groupPriorityMinimum"},
        ),
    ],
    ids=["ingress", "csr", "volumeattachment", "webhook", "prioritylevel", "apiservice"],
)
def test_invalid_objects_are_rejected_with_causes(
    kyb_sqlite: KybServer, path: str, body: dict[str, Any], causes: set[str]
) -> None:
    resp = kyb_sqlite.request("POST", path, body)
    assert resp.status == 422, resp.body[:500]
    status = resp.json()
    assert status["reason"] == "Invalid"
    assert {c["field"] for c in status["details"]["causes"]} == causes, status


def test_csr_approval_through_kubectl_and_client(kyb_sqlite: KybServer) -> None:
    from kubernetes import client

    name = unique("csr")
    manifest = next(m for _, _, m, _ in _manifests(name) if m["kind"] == "CertificateSigningRequest")
    manifest["status"] = {"conditions": [{"type": "Approved", "status": "True", "reason": "Sneaky"}]}
    kyb_sqlite.kubectl("apply", "-f", "-", input=yaml.safe_dump(manifest))
    created = kyb_sqlite.kubectl_json("get", "csr", name)
    assert not created.get("status", {}).get("conditions"), "a CSR cannot be created pre-approved"
    assert kyb_sqlite.kubectl("get", "csr", name, "--no-headers").stdout.split()[-1] == "Pending"
    kyb_sqlite.kubectl("certificate", "approve", name)
    cond = kyb_sqlite.kubectl_json("get", "csr", name)["status"]["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == ("Approved", "True", "KubectlApprove")
    assert cond["lastUpdateTime"] and cond["lastTransitionTime"]
    assert kyb_sqlite.kubectl("get", "csr", name, "--no-headers").stdout.split()[-1] == "Approved"
    selected = kyb_sqlite.kubectl(
        "get", "csr", "--field-selector", "spec.signerName=kubernetes.io/kube-apiserver-client", "-o", "name"
    ).stdout.split()
    assert f"certificatesigningrequest.certificates.k8s.io/{name}" in selected
    with kyb_sqlite.api_client() as api:
        certs = client.CertificatesV1Api(api)
        csr = certs.read_certificate_signing_request(name)
        csr.status.conditions.append(
            client.V1CertificateSigningRequestCondition(type="Denied", status="True", reason="Late")
        )
        with pytest.raises(client.ApiException) as raised:
            certs.replace_certificate_signing_request_approval(name, csr)
        assert raised.value.status == 422
        assert "mutually exclusive" in raised.value.body
        # a write to the main resource cannot touch the approval
        csr = certs.read_certificate_signing_request(name)
        csr.status.conditions = []
        kept = certs.replace_certificate_signing_request(name, csr)
        assert [c.type for c in kept.status.conditions] == ["Approved"]
    # the signer's write: /status may set the certificate once, but not add approval conditions
    path = f"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}/status"
    current = kyb_sqlite.request("GET", path).json()
    current["status"]["certificate"] = _self_signed_pem(name)
    issued = kyb_sqlite.request("PUT", path, current)
    assert issued.status == 200, issued.body[:500]
    assert kyb_sqlite.kubectl("get", "csr", name, "--no-headers").stdout.split()[-1] == "Approved,Issued"
    sneaky = issued.json()
    sneaky["status"]["certificate"] = _self_signed_pem(name)
    again = kyb_sqlite.request("PUT", path, sneaky)
    assert again.status == 422 and "may not modify existing certificate content" in again.body.decode()
    kyb_sqlite.kubectl("delete", "csr", name)


def _self_signed_pem(common_name: str) -> str:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode()


def test_get_apiservices_lists_local_group_versions(kyb: KybServer) -> None:
    lines = kyb.kubectl("get", "apiservices").stdout.splitlines()
    assert lines[0].split() == ["NAME", "SERVICE", "AVAILABLE", "AGE"]
    rows = {line.split()[0]: line.split()[1:3] for line in lines[1:]}
    for expected in (
        "v1.",
        "v1.apps",
        "v2.autoscaling",
        "v1.batch",
        "v1.networking.k8s.io",
        "v1.certificates.k8s.io",
        "v1.flowcontrol.apiserver.k8s.io",
    ):
        assert rows[expected] == ["Local", "True"], (expected, rows.get(expected))
    # the aggregator serves its own group: upstream registers no APIService for it
    assert "v1.apiregistration.k8s.io" not in rows
    apps = kyb.kubectl_json("get", "apiservice", "v1.apps")
    assert apps["spec"] == {
        "group": "apps",
        "version": "v1",
        "groupPriorityMinimum": 17800,
        "versionPriority": 15,
    }
    assert apps["metadata"]["labels"] == {"kube-aggregator.kubernetes.io/automanaged": "onstart"}
    cond = apps["status"]["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == ("Available", "True", "Local")
    assert cond["message"] == "Local APIServices are always available"


def test_apiservices_through_the_client(kyb_sqlite: KybServer) -> None:
    from kubernetes import client

    with kyb_sqlite.api_client() as api:
        listed = client.ApiregistrationV1Api(api).list_api_service()
    by_name = {item.metadata.name: item for item in listed.items}
    served = {
        f"{gv.split('/')[-1]}.{gv.split('/')[0] if '/' in gv else ''}"
        for gv in _served_group_versions(kyb_sqlite)
        if not gv.startswith("apiregistration.k8s.io/")
    }
    assert served <= set(by_name), served - set(by_name)
    assert by_name["v1."].spec.service is None
    assert by_name["v1."].spec.group_priority_minimum == 18000


def _served_group_versions(kyb: KybServer) -> set[str]:
    out = kyb.kubectl("api-versions").stdout.split()
    return {gv for gv in out if gv}


def test_crd_group_versions_get_local_apiservices(kyb: KybServer) -> None:
    group = f"{unique('g')}.example.com"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                    },
                }
            ],
        },
    }
    kyb.kubectl("apply", "-f", "-", input=yaml.safe_dump(crd))
    name = f"v1.{group}"
    service = wait_for(
        lambda: (
            (r := kyb.kubectl("get", "apiservice", name, "-o", "json", check=False)).returncode == 0
            and yaml.safe_load(r.stdout)
        ),
        timeout=20,
        what="the CRD's APIService",
    )
    assert service["spec"]["groupPriorityMinimum"] == 1000 and service["spec"]["versionPriority"] == 100
    assert service["metadata"]["labels"] == {"kube-aggregator.kubernetes.io/automanaged": "true"}
    kyb.kubectl("delete", "crd", f"widgets.{group}")
    wait_for(
        lambda: kyb.kubectl("get", "apiservice", name, check=False).returncode != 0,
        timeout=20,
        what="the CRD's APIService to go",
    )


def test_service_backed_apiservice_reports_why_it_is_unavailable(kyb: KybServer) -> None:
    group = f"{unique('m')}.metrics.example.com"
    name = f"v1beta1.{group}"
    ns = kyb.create_namespace()
    manifest = {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": name},
        "spec": {
            "group": group,
            "version": "v1beta1",
            "groupPriorityMinimum": 100,
            "versionPriority": 100,
            "insecureSkipTLSVerify": True,
            "service": {"name": "metrics", "namespace": ns},
        },
    }
    kyb.kubectl("apply", "-f", "-", input=yaml.safe_dump(manifest))

    def available() -> str:
        row = kyb.kubectl("get", "apiservice", name, "--no-headers").stdout.split()
        return " ".join(row[2:-1])

    wait_for(lambda: available() == "False (ServiceNotFound)", timeout=20, what="ServiceNotFound")
    assert kyb.kubectl_json("get", "apiservice", name)["spec"]["service"]["port"] == 443
    kyb.kubectl("create", "service", "clusterip", "metrics", "-n", ns, "--tcp=443:4443")
    endpoints = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "metrics", "namespace": ns},
        "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "443-4443", "port": 4443}]}],
    }
    kyb.kubectl("apply", "-f", "-", input=yaml.safe_dump(endpoints))
    wait_for(lambda: available() == "False (FailedDiscoveryCheck)", timeout=30, what="FailedDiscoveryCheck")
    # an unavailable aggregated group version stays out of discovery: kubectl keeps working cleanly
    result = kyb.kubectl("api-resources", "-o", "name")
    assert group not in result.stdout and "couldn't get resource list" not in result.stderr
    kyb.kubectl("delete", "apiservice", name)


def test_componentstatuses_without_scheduler_and_controller_manager(kyb: KybServer) -> None:
    """The API suite's server runs neither: both show Unhealthy; the store answers."""
    result = kyb.kubectl("get", "cs")
    assert "v1 ComponentStatus is deprecated in v1.19+" in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "MESSAGE", "ERROR"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert list(rows) == ["scheduler", "controller-manager", "etcd-0"]
    assert rows["etcd-0"][1:3] == ["Healthy", "ok"]
    assert rows["scheduler"][1] == "Unhealthy" and "kube-system/kube-scheduler" in lines[1]
    assert rows["controller-manager"][1] == "Unhealthy"
    watch = kyb.request("GET", "/api/v1/componentstatuses", query={"watch": "true"})
    assert watch.status == 405


@pytest.fixture(scope="module")
def kyb_full() -> Any:
    server = KybServer(components=True).start()
    try:
        yield server
    finally:
        server.cleanup()


def test_componentstatuses_follow_leader_leases(kyb_full: KybServer) -> None:
    from kubernetes import client

    def healthy() -> dict[str, str]:
        with kyb_full.api_client() as api:
            items = client.CoreV1Api(api).list_component_status().items
        return {i.metadata.name: i.conditions[0].status for i in items}

    wait_for(
        lambda: healthy() == {"scheduler": "True", "controller-manager": "True", "etcd-0": "True"},
        timeout=40,
        interval=0.5,
        what="all components healthy",
    )
    one = kyb_full.kubectl_json("get", "componentstatus", "scheduler")
    assert one["conditions"] == [{"type": "Healthy", "status": "True", "message": "ok"}]


def test_mandatory_flowcontrol_objects_exist(kyb_sqlite: KybServer) -> None:
    levels = kyb_sqlite.kubectl("get", "prioritylevelconfigurations", "--no-headers").stdout.splitlines()
    rows = {line.split()[0]: line.split()[1:-1] for line in levels}
    assert rows["exempt"] == ["Exempt", "<none>", "<none>", "<none>", "<none>"]
    assert rows["catch-all"] == ["Limited", "5", "<none>", "<none>", "<none>"]
    schemas = kyb_sqlite.kubectl("get", "flowschemas", "--no-headers").stdout.splitlines()
    by_name = {line.split()[0]: line.split() for line in schemas}
    assert by_name["exempt"][1:3] == ["exempt", "1"]
    assert by_name["catch-all"][1:4] == ["catch-all", "10000", "ByUser"]
    # upstream keeps the mandatory objects' specs fixed
    changed = kyb_sqlite.kubectl(
        "patch",
        "prioritylevelconfiguration",
        "catch-all",
        "--type=merge",
        "-p",
        '{"spec":{"limited":{"nominalConcurrencyShares":6}}}',
        check=False,
    )
    assert changed.returncode != 0 and "spec of 'catch-all' must equal the fixed value" in changed.stderr
    one = {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "FlowSchema",
        "metadata": {"name": unique("fs")},
        "spec": {"priorityLevelConfiguration": {"name": "exempt"}, "matchingPrecedence": 1},
    }
    resp = kyb_sqlite.request("POST", "/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas", one)
    assert resp.status == 422
    assert "only the schema named 'exempt' may have matchingPrecedence 1" in resp.body.decode()


def test_runtime_class_admission(kyb_sqlite: KybServer, ns: str) -> None:
    rc = unique("rc")
    kyb_sqlite.kubectl(
        "apply",
        "-f",
        "-",
        input=yaml.safe_dump(
            {
                "apiVersion": "node.k8s.io/v1",
                "kind": "RuntimeClass",
                "metadata": {"name": rc},
                "handler": "runc",
                "overhead": {"podFixed": {"cpu": "250m", "memory": "64Mi"}},
                "scheduling": {
                    "nodeSelector": {"sandbox": "gvisor"},
                    "tolerations": [{"key": "sandbox", "operator": "Exists", "effect": "NoSchedule"}],
                },
            }
        ),
    )

    def pod(name: str, runtime_class: str, selector: dict[str, str] | None = None) -> str:
        spec: dict[str, Any] = {
            "runtimeClassName": runtime_class,
            "containers": [{"name": "c", "image": "busybox"}],
        }
        if selector:
            spec["nodeSelector"] = selector
        return yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec})

    kyb_sqlite.kubectl("apply", "-n", ns, "-f", "-", input=pod("sandboxed", rc))
    spec = kyb_sqlite.kubectl_json("get", "pod", "sandboxed", "-n", ns)["spec"]
    assert spec["overhead"] == {"cpu": "250m", "memory": "64Mi"}
    assert spec["nodeSelector"] == {"sandbox": "gvisor"}
    assert {"key": "sandbox", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    missing = kyb_sqlite.kubectl(
        "apply", "-n", ns, "-f", "-", input=pod("nope", unique("absent")), check=False
    )
    assert (
        missing.returncode != 0
        and "pod rejected: RuntimeClass" in missing.stderr
        and "not found" in missing.stderr
    )
    conflict = kyb_sqlite.kubectl(
        "apply", "-n", ns, "-f", "-", input=pod("clash", rc, {"sandbox": "kata"}), check=False
    )
    assert (
        conflict.returncode != 0
        and "conflict: runtimeClass.scheduling.nodeSelector[sandbox]" in conflict.stderr
    )
    kyb_sqlite.kubectl("delete", "runtimeclass", rc)


def test_default_ingress_class_admission(kyb_sqlite: KybServer, ns: str) -> None:
    name = unique("default")
    ingress_class = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": name, "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"}},
        "spec": {"controller": "example.com/ingress"},
    }
    kyb_sqlite.kubectl("apply", "-f", "-", input=yaml.safe_dump(ingress_class))
    try:
        kyb_sqlite.kubectl("create", "ingress", "web", "-n", ns, "--rule=web.example.com/=web:80")
        assert kyb_sqlite.kubectl_json("get", "ingress", "web", "-n", ns)["spec"]["ingressClassName"] == name
        kyb_sqlite.kubectl(
            "create", "ingress", "other", "-n", ns, "--class=mine", "--rule=o.example.com/=web:80"
        )
        assert (
            kyb_sqlite.kubectl_json("get", "ingress", "other", "-n", ns)["spec"]["ingressClassName"] == "mine"
        )
    finally:
        kyb_sqlite.kubectl("delete", "ingressclass", name)
