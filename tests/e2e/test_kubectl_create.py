"""``kubectl create -f`` and the typed ``kubectl create <kind>`` generators (protobuf bodies on the wire).

Each test checks kubectl's own message and the stored object, including the server-side defaults upstream
applies to that kind.
"""

from __future__ import annotations

import base64
import ipaddress

from tests.e2e.conftest import KybServer

MULTI_DOC = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: first
data:
  a: "1"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: second
data:
  b: "2"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: multi
spec:
  selector:
    matchLabels: {app: multi}
  template:
    metadata:
      labels: {app: multi}
    spec:
      containers:
      - name: web
        image: nginx:1.25
"""


def test_create_f_multi_document(kyb: KybServer, ns: str) -> None:
    out = kyb.kubectl("create", "-n", ns, "-f", "-", input=MULTI_DOC).stdout
    assert out.splitlines() == [
        "configmap/first created",
        "configmap/second created",
        "deployment.apps/multi created",
    ]
    first = kyb.kubectl_json("get", "-n", ns, "configmap", "first")
    assert first["data"] == {"a": "1"}
    assert first["metadata"]["namespace"] == ns
    dep = kyb.kubectl_json("get", "-n", ns, "deployment", "multi")
    # upstream defaults for apps/v1 Deployment
    assert dep["spec"]["replicas"] == 1
    assert dep["spec"]["revisionHistoryLimit"] == 10
    assert dep["spec"]["progressDeadlineSeconds"] == 600
    assert dep["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
    }
    pod_spec = dep["spec"]["template"]["spec"]
    assert pod_spec["restartPolicy"] == "Always"
    assert pod_spec["dnsPolicy"] == "ClusterFirst"
    assert pod_spec["schedulerName"] == "default-scheduler"
    assert pod_spec["terminationGracePeriodSeconds"] == 30
    container = pod_spec["containers"][0]
    assert container["imagePullPolicy"] == "IfNotPresent"  # tagged, not :latest
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert container["terminationMessagePolicy"] == "File"


def test_create_deployment(kyb: KybServer, ns: str) -> None:
    out = kyb.kubectl("create", "deployment", "web", "-n", ns, "--image=nginx", "--replicas=2").stdout
    assert out.strip() == "deployment.apps/web created"
    dep = kyb.kubectl_json("get", "-n", ns, "deployment", "web")
    assert dep["apiVersion"] == "apps/v1" and dep["kind"] == "Deployment"
    assert dep["spec"]["replicas"] == 2
    assert dep["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert dep["spec"]["template"]["metadata"]["labels"] == {"app": "web"}
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["name"] == "nginx" and container["image"] == "nginx"
    assert container["imagePullPolicy"] == "Always"  # untagged image means :latest
    assert dep["metadata"]["generation"] == 1
    assert dep["metadata"]["labels"] == {"app": "web"}


def test_create_namespace(kyb: KybServer) -> None:
    out = kyb.kubectl("create", "namespace", "typed-ns").stdout
    assert out.strip() == "namespace/typed-ns created"
    obj = kyb.kubectl_json("get", "namespace", "typed-ns")
    assert obj["status"]["phase"] == "Active"
    assert obj["spec"]["finalizers"] == ["kubernetes"]
    assert obj["metadata"]["labels"]["kubernetes.io/metadata.name"] == "typed-ns"


def test_create_configmap_from_literal(kyb: KybServer, ns: str) -> None:
    out = kyb.kubectl(
        "create", "configmap", "cfg", "-n", ns, "--from-literal=color=blue", "--from-literal=size=9"
    ).stdout
    assert out.strip() == "configmap/cfg created"
    assert kyb.kubectl_json("get", "-n", ns, "cm", "cfg")["data"] == {"color": "blue", "size": "9"}


def test_create_secret_generic(kyb: KybServer, ns: str) -> None:
    out = kyb.kubectl(
        "create", "secret", "generic", "creds", "-n", ns, "--from-literal=password=hunter2"
    ).stdout
    assert out.strip() == "secret/creds created"
    encoded = kyb.kubectl("get", "-n", ns, "secret", "creds", "-o", "jsonpath={.data.password}").stdout
    assert base64.b64decode(encoded).decode() == "hunter2"
    secret = kyb.kubectl_json("get", "-n", ns, "secret", "creds")
    assert secret["type"] == "Opaque"
    assert "stringData" not in secret


def test_create_service_clusterip(kyb: KybServer, ns: str) -> None:
    out = kyb.kubectl("create", "service", "clusterip", "svc", "-n", ns, "--tcp=80:8080").stdout
    assert out.strip() == "service/svc created"
    svc = kyb.kubectl_json("get", "-n", ns, "service", "svc")
    spec = svc["spec"]
    assert spec["type"] == "ClusterIP"
    assert ipaddress.ip_address(spec["clusterIP"]) in ipaddress.ip_network("10.96.0.0/12")
    assert spec["clusterIPs"] == [spec["clusterIP"]]
    assert spec["ports"] == [{"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080}]
    assert spec["selector"] == {"app": "svc"}
    assert spec["sessionAffinity"] == "None"
    assert spec["ipFamilies"] == ["IPv4"]
    assert spec["ipFamilyPolicy"] == "SingleStack"
    assert spec["internalTrafficPolicy"] == "Cluster"


def test_create_service_ips_are_unique(kyb: KybServer, ns: str) -> None:
    ips = set()
    for i in range(3):
        kyb.kubectl("create", "service", "clusterip", f"u{i}", "-n", ns, "--tcp=80")
        ips.add(kyb.kubectl("get", "-n", ns, "svc", f"u{i}", "-o", "jsonpath={.spec.clusterIP}").stdout)
    assert len(ips) == 3
    headless = kyb.kubectl("create", "service", "clusterip", "hl", "-n", ns, "--clusterip=None").stdout
    assert headless.strip() == "service/hl created"
    assert kyb.kubectl("get", "-n", ns, "svc", "hl", "-o", "jsonpath={.spec.clusterIP}").stdout == "None"


def test_create_job(kyb: KybServer, ns: str) -> None:
    out = kyb.kubectl("create", "job", "once", "-n", ns, "--image=busybox", "--", "echo", "hi").stdout
    assert out.strip() == "job.batch/once created"
    job = kyb.kubectl_json("get", "-n", ns, "job", "once")
    spec = job["spec"]
    assert spec["completions"] == 1 and spec["parallelism"] == 1
    assert spec["backoffLimit"] == 6
    container = spec["template"]["spec"]["containers"][0]
    assert container["command"] == ["echo", "hi"]
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    # the Job strategy generates a selector and labels the template with it
    uid = job["metadata"]["uid"]
    assert spec["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"] == uid
    labels = spec["template"]["metadata"]["labels"]
    assert labels["batch.kubernetes.io/controller-uid"] == uid
    assert labels["batch.kubernetes.io/job-name"] == "once"


def test_create_cronjob(kyb: KybServer, ns: str) -> None:
    out = kyb.kubectl(
        "create", "cronjob", "tick", "-n", ns, "--image=busybox", "--schedule=*/5 * * * *", "--", "date"
    ).stdout
    assert out.strip() == "cronjob.batch/tick created"
    spec = kyb.kubectl_json("get", "-n", ns, "cronjob", "tick")["spec"]
    assert spec["schedule"] == "*/5 * * * *"
    assert spec["concurrencyPolicy"] == "Allow"
    assert spec["suspend"] is False
    assert spec["successfulJobsHistoryLimit"] == 3
    assert spec["failedJobsHistoryLimit"] == 1
    assert spec["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"] == ["date"]


def test_create_cronjob_bad_schedule_is_invalid(kyb: KybServer, ns: str) -> None:
    res = kyb.kubectl(
        "create", "cronjob", "bad", "-n", ns, "--image=busybox", "--schedule=not a schedule", check=False
    )
    assert res.returncode != 0
    assert "spec.schedule" in res.stderr
    assert "not found" in kyb.kubectl("get", "-n", ns, "cronjob", "bad", check=False).stderr


def test_create_serviceaccount(kyb: KybServer, ns: str) -> None:
    out = kyb.kubectl("create", "serviceaccount", "robot", "-n", ns).stdout
    assert out.strip() == "serviceaccount/robot created"
    assert kyb.kubectl("get", "-n", ns, "sa", "robot", "-o", "name").stdout.strip() == "serviceaccount/robot"


def test_create_role_and_rolebinding(kyb: KybServer, ns: str) -> None:
    out = kyb.kubectl("create", "role", "reader", "-n", ns, "--verb=get,list", "--resource=pods").stdout
    assert out.strip() == "role.rbac.authorization.k8s.io/reader created"
    role = kyb.kubectl_json("get", "-n", ns, "role", "reader")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]
    out = kyb.kubectl(
        "create", "rolebinding", "read-it", "-n", ns, "--role=reader", f"--serviceaccount={ns}:robot"
    ).stdout
    assert out.strip() == "rolebinding.rbac.authorization.k8s.io/read-it created"
    binding = kyb.kubectl_json("get", "-n", ns, "rolebinding", "read-it")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "robot", "namespace": ns}]


def test_create_priorityclass(kyb: KybServer) -> None:
    out = kyb.kubectl("create", "priorityclass", "high", "--value=1000", "--description=important").stdout
    assert out.strip() == "priorityclass.scheduling.k8s.io/high created"
    pc = kyb.kubectl_json("get", "priorityclass", "high")
    assert pc["value"] == 1000
    assert pc["description"] == "important"
    assert pc["preemptionPolicy"] == "PreemptLowerPriority"
    assert "namespace" not in pc["metadata"]


def test_create_quota(kyb: KybServer, ns: str) -> None:
    out = kyb.kubectl("create", "quota", "caps", "-n", ns, "--hard=pods=10,cpu=2,memory=1Gi").stdout
    assert out.strip() == "resourcequota/caps created"
    quota = kyb.kubectl_json("get", "-n", ns, "quota", "caps")
    assert quota["spec"]["hard"] == {"pods": "10", "cpu": "2", "memory": "1Gi"}


def test_create_pdb(kyb: KybServer, ns: str) -> None:
    out = kyb.kubectl("create", "pdb", "keep", "-n", ns, "--selector=app=web", "--min-available=1").stdout
    assert out.strip() == "poddisruptionbudget.policy/keep created"
    pdb = kyb.kubectl_json("get", "-n", ns, "pdb", "keep")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"] == {"matchLabels": {"app": "web"}}


def test_run_creates_pending_pod(kyb: KybServer, ns: str) -> None:
    out = kyb.kubectl("run", "solo", "-n", ns, "--image=nginx", "--labels=app=solo").stdout
    assert out.strip() == "pod/solo created"
    pod = kyb.kubectl_json("get", "-n", ns, "pod", "solo")
    assert pod["metadata"]["labels"] == {"app": "solo"}
    assert pod["status"]["phase"] == "Pending"
    assert pod["spec"]["containers"][0]["image"] == "nginx"
    # PodSpec defaults upstream
    assert pod["spec"]["enableServiceLinks"] is True
    assert pod["spec"]["securityContext"] == {}


def test_service_cluster_ip_requests(kyb: KybServer, ns: str) -> None:
    kyb.kubectl("create", "service", "nodeport", "np", "-n", ns, "--tcp=80")
    svc = kyb.kubectl_json("get", "-n", ns, "svc", "np")
    assert 30000 <= svc["spec"]["ports"][0]["nodePort"] <= 32767
    assert svc["spec"]["externalTrafficPolicy"] == "Cluster"
    taken = svc["spec"]["clusterIP"]
    dup = kyb.kubectl(
        "create", "service", "clusterip", "dup", "-n", ns, "--tcp=80", f"--clusterip={taken}", check=False
    )
    assert dup.returncode != 0
    assert "provided IP is already allocated" in dup.stderr
    out_of_range = kyb.kubectl(
        "create",
        "service",
        "clusterip",
        "outside",
        "-n",
        ns,
        "--tcp=80",
        "--clusterip=192.168.1.1",
        check=False,
    )
    assert out_of_range.returncode != 0
    assert 'Service "outside" is invalid' in out_of_range.stderr
    assert "is not in the valid range" in out_of_range.stderr
    assert kyb.kubectl("get", "-n", ns, "svc", "outside", check=False).returncode != 0
