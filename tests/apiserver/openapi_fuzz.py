"""An OpenAPI-driven fuzzer of the API server: schemathesis cases from our own ``/openapi/v3`` documents.

Shared by the bounded CI test (``tests/apiserver/test_openapi_fuzz.py``: derandomised, no example
database, a few examples per operation) and the exploratory long run (``bench/fuzz_api.py``,
``make fuzz``: a random or given seed, many examples, a stored example database that replays what it
found before).

- ``threaded_server(tmp_path)``: the real aiohttp app on a fresh SQLite store, served on a loopback port
  by an event loop in its own thread (schemathesis calls are synchronous ``requests``);
- ``seed_objects(url)``: one object named ``fuzz`` of the common kinds in namespace ``default``, so that
  PUT/PATCH/subresource cases reach the code that decodes and applies their bodies rather than a 404;
- ``fuzz(url, ...)``: for every operation of every group-version document, positive and negative
  cases (bodies of any shape, wrong-typed fields, every declared media type, odd query strings), each
  checked with schemathesis' ``not_a_server_error``: every answer must be below 500;
- ``probe_shapes(url, group_version)``: the deterministic shape phase, derived from the same document:
  for every operation that takes a body and every media type it declares, top-level bodies of every
  non-object JSON type and objects with each documented field (and each ObjectMeta field) of a wrong
  type. Each must answer a 4xx Status (never a 5xx) that changed nothing; a non-object must be refused.
  Random generation rarely reaches a given field with a given wrong type; this reaches all of them.

Watches are fuzzed as lists (``watch`` is dropped from the query: a watch would stream until its
timeout), and the legacy ``/watch/`` paths are skipped for the same reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.database import ExampleDatabase
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error

from tests.inprocess import serve

FUZZ_NAME = "fuzz"
NAMESPACE = "default"
_CONTAINERS = [{"name": "c", "image": "busybox"}]
_TEMPLATE = {"metadata": {"labels": {"app": FUZZ_NAME}}, "spec": {"containers": _CONTAINERS}}
_SELECTOR = {"matchLabels": {"app": FUZZ_NAME}}

# (collection path, body): namespaced paths are under /namespaces/default.
SEEDS: list[tuple[str, dict[str, Any]]] = [
    ("/api/v1/namespaces", {}),
    ("/api/v1/nodes", {}),
    (
        "/api/v1/persistentvolumes",
        {
            "spec": {
                "capacity": {"storage": "1Gi"},
                "hostPath": {"path": "/tmp"},
                "accessModes": ["ReadWriteOnce"],
            }
        },
    ),
    ("/api/v1/namespaces/default/configmaps", {"data": {"a": "1"}}),
    ("/api/v1/namespaces/default/secrets", {"stringData": {"a": "1"}}),
    ("/api/v1/namespaces/default/serviceaccounts", {}),
    ("/api/v1/namespaces/default/pods", {"spec": {"containers": _CONTAINERS}}),
    (
        "/api/v1/namespaces/default/services",
        {"spec": {"ports": [{"port": 80}], "selector": {"app": FUZZ_NAME}}},
    ),
    ("/api/v1/namespaces/default/endpoints", {}),
    ("/api/v1/namespaces/default/events", {"involvedObject": {"kind": "Pod", "name": FUZZ_NAME}}),
    ("/api/v1/namespaces/default/limitranges", {"spec": {"limits": [{"type": "Container"}]}}),
    ("/api/v1/namespaces/default/resourcequotas", {"spec": {"hard": {"pods": "100"}}}),
    (
        "/api/v1/namespaces/default/replicationcontrollers",
        {"spec": {"replicas": 1, "selector": {"app": FUZZ_NAME}, "template": _TEMPLATE}},
    ),
    (
        "/api/v1/namespaces/default/persistentvolumeclaims",
        {"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}},
    ),
    ("/api/v1/namespaces/default/podtemplates", {"template": _TEMPLATE}),
    (
        "/apis/apps/v1/namespaces/default/deployments",
        {"spec": {"replicas": 1, "selector": _SELECTOR, "template": _TEMPLATE}},
    ),
    (
        "/apis/apps/v1/namespaces/default/replicasets",
        {"spec": {"replicas": 1, "selector": _SELECTOR, "template": _TEMPLATE}},
    ),
    (
        "/apis/apps/v1/namespaces/default/statefulsets",
        {"spec": {"replicas": 1, "selector": _SELECTOR, "template": _TEMPLATE, "serviceName": FUZZ_NAME}},
    ),
    ("/apis/apps/v1/namespaces/default/daemonsets", {"spec": {"selector": _SELECTOR, "template": _TEMPLATE}}),
    ("/apis/apps/v1/namespaces/default/controllerrevisions", {"revision": 1, "data": {}}),
    (
        "/apis/batch/v1/namespaces/default/jobs",
        {"spec": {"template": {**_TEMPLATE, "spec": {"containers": _CONTAINERS, "restartPolicy": "Never"}}}},
    ),
    (
        "/apis/batch/v1/namespaces/default/cronjobs",
        {
            "spec": {
                "schedule": "* * * * *",
                "jobTemplate": {
                    "spec": {
                        "template": {
                            **_TEMPLATE,
                            "spec": {"containers": _CONTAINERS, "restartPolicy": "Never"},
                        }
                    }
                },
            }
        },
    ),
    (
        "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
        {"spec": {"minAvailable": 1, "selector": _SELECTOR}},
    ),
    (
        "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers",
        {
            "spec": {
                "maxReplicas": 3,
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": FUZZ_NAME},
            }
        },
    ),
    ("/apis/coordination.k8s.io/v1/namespaces/default/leases", {"spec": {"holderIdentity": "x"}}),
    ("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", {"addressType": "IPv4", "endpoints": []}),
    (
        "/apis/events.k8s.io/v1/namespaces/default/events",
        {
            "eventTime": "2026-01-01T00:00:00.000000Z",
            "reportingController": "x/y",
            "reportingInstance": "x",
            "action": "a",
            "reason": "r",
            "type": "Normal",
        },
    ),
    ("/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles", {"rules": []}),
    (
        "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
        {"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": FUZZ_NAME}},
    ),
    ("/apis/rbac.authorization.k8s.io/v1/clusterroles", {"rules": []}),
    (
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        {"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": FUZZ_NAME}},
    ),
    ("/apis/scheduling.k8s.io/v1/priorityclasses", {"value": 10}),
    ("/apis/storage.k8s.io/v1/storageclasses", {"provisioner": "x"}),
]


# Served by the pod's node agent; the in-process server has none, and says so with a 503 Status.
_NODE_STREAMS = ("log", "exec", "attach", "portforward")


@dataclass
class Failure:
    operation: str
    mode: str
    message: str


@dataclass
class Report:
    operations: int = 0
    cases: int = 0
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0
    request_seconds: float = 0.0
    answers: Counter[str] = field(default_factory=Counter)  # "METHOD media-type status" -> count


@contextlib.contextmanager
def threaded_server(tmp_path: Path, *, start_timeout: float = 30.0) -> Iterator[str]:
    """``tests.inprocess.serve`` on an event loop of its own thread; yields the base URL."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop: asyncio.Event | None = None
    url: list[str] = []
    errors: list[BaseException] = []

    async def main() -> None:
        nonlocal stop
        stop = asyncio.Event()
        async with serve(tmp_path) as srv:
            url.append(srv.url)
            ready.set()
            await stop.wait()

    def run() -> None:
        try:
            loop.run_until_complete(main())
        except BaseException as exc:  # surfaced to the caller below
            errors.append(exc)
            ready.set()
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="fuzz-apiserver", daemon=True)
    thread.start()
    if not ready.wait(start_timeout) or errors:
        raise RuntimeError(f"the API server did not start: {errors}")
    try:
        yield url[0]
    finally:
        assert stop is not None
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)


def seed_objects(url: str, session: requests.Session, *, under: str = "") -> None:
    """Create the ``fuzz`` objects whose collection path starts with ``under`` (409 is fine)."""
    for path, body in SEEDS:
        if not path.startswith(under):
            continue
        obj = {"metadata": {"name": FUZZ_NAME}, **body}
        resp = session.post(url + path, json=obj, timeout=10)
        if resp.status_code not in (201, 409):
            raise AssertionError(f"seeding {path}: {resp.status_code} {resp.text[:300]}")


def documents(url: str, session: requests.Session, only: str | None = None) -> dict[str, dict[str, Any]]:
    """Every group-version OpenAPI v3 document the server lists (or just ``only``, e.g. ``"api/v1"``)."""
    index = session.get(url + "/openapi/v3", timeout=10).json()
    if only is not None and only not in index["paths"]:
        raise AssertionError(f"/openapi/v3 does not list {only}: {sorted(index['paths'])}")
    out = {}
    for gv, ref in sorted(index["paths"].items()):
        if only is not None and gv != only:
            continue
        resp = session.get(url + ref["serverRelativeURL"], timeout=30)
        resp.raise_for_status()
        out[gv] = resp.json()
    return out


def _fixed_path_parameters(operation: Any) -> dict[str, str]:
    """Aim writes at the seeded objects; deletes keep generated names, so the seeds survive the run."""
    fixed = {}
    names = {p.name for p in operation.path_parameters}
    if "namespace" in names:
        fixed["namespace"] = NAMESPACE
    if "name" in names and operation.method.upper() != "DELETE":
        fixed["name"] = FUZZ_NAME
    return fixed


def fuzz(
    url: str,
    *,
    examples: int,
    derandomize: bool,
    seed: int | None = None,
    database: ExampleDatabase | None = None,
    modes: tuple[str, ...] = ("positive", "negative"),
    shrink: bool = False,
    time_budget: float | None = None,
    only: str | None = None,
    progress: bool = False,
) -> Report:
    """Run ``examples`` cases per operation and generation mode; collect every server error."""
    report = Report()
    started = time.monotonic()
    session = requests.Session()
    session.headers["User-Agent"] = "kyb-fuzz"
    seed_objects(url, session)
    docs = documents(url, session, only)
    phases = [Phase.explicit, Phase.reuse, Phase.generate] + ([Phase.shrink] if shrink else [])
    for gv, doc in docs.items():
        schema = schemathesis.openapi.from_dict(doc)
        for result in schema.get_all_operations():
            operation = result.ok()
            if "/watch/" in operation.path:
                continue
            report.operations += 1
            for mode in modes:
                if time_budget is not None and time.monotonic() - started > time_budget:
                    report.seconds = time.monotonic() - started
                    return report
                strategy = operation.as_strategy(
                    generation_mode=schemathesis.GenerationMode(mode),
                    path_parameters=_fixed_path_parameters(operation),
                )
                failure = _run_operation(
                    url,
                    session,
                    operation,
                    mode,
                    strategy,
                    examples,
                    derandomize,
                    seed,
                    database,
                    phases,
                    report,
                )
                if failure is not None:
                    report.failures.append(Failure(operation.label, mode, failure))
                if progress:
                    print(f"{gv} {operation.label} [{mode}] cases={report.cases}", flush=True)
            if operation.method.upper() == "DELETE":
                # a delete-collection case may have removed seeds: put them back for the next operation
                seed_objects(url, session, under=operation.path.replace("{namespace}", NAMESPACE))
    report.seconds = time.monotonic() - started
    return report


def _run_operation(
    url: str,
    session: requests.Session,
    operation: Any,
    mode: str,
    strategy: Any,
    examples: int,
    derandomize: bool,
    seed: int | None,
    database: ExampleDatabase | None,
    phases: list[Phase],
    report: Report,
) -> str | None:
    def run_case(case: Any) -> None:
        if isinstance(case.query, dict):
            case.query.pop("watch", None)  # a watch streams until its timeout: fuzz it as a list
        report.cases += 1
        sent = time.monotonic()
        response = case.call(base_url=url, session=session, timeout=20)
        report.request_seconds += time.monotonic() - sent
        ctype = (case.media_type or "-").split(";", 1)[0]
        report.answers[f"{case.method.upper()} {ctype} {response.status_code}"] += 1
        if response.status_code == 503 and operation.path.rsplit("/", 1)[-1] in _NODE_STREAMS:
            return  # a pod bound (by an earlier case) to a node: this server has no node agents to reach
        case.validate_response(response, checks=[not_a_server_error])

    # Hypothesis keys its example database and its derandomised random stream on the test function;
    # one function serves every operation, so tell them apart (as pytest parametrisation does).
    run_case._hypothesis_internal_add_digest = f"{operation.label} {mode}".encode()  # type: ignore[attr-defined]
    run = settings(
        max_examples=examples,
        derandomize=derandomize,
        database=database,
        deadline=None,
        phases=phases,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        print_blob=False,
    )(given(case=strategy)(run_case))
    if seed is not None:
        run = _seeded(run, seed)
    try:
        run()
    except Unsatisfiable:
        return None  # nothing to generate (e.g. no negative variant of a parameterless GET)
    except Exception as exc:  # one operation's failure must not hide the others'
        return f"{type(exc).__name__}: {exc}"[:2000]
    return None


def _seeded(test: Any, seed_value: int) -> Any:
    from hypothesis import seed

    return seed(seed_value)(test)


# --- the shape phase: every documented request body, given values of every wrong JSON type ----------------
TOP_LEVEL_SHAPES: list[Any] = [True, None, 5, "x", [], [{"a": 1}]]
# two wrong JSON types per declared type: a scalar and a container of the other kind
_WRONG_FOR = {
    "object": ["x", [1]],
    "string": [5, {"a": 1}],
    "integer": ["x", [1]],
    "number": ["x", {"a": 1}],
    "boolean": ["x", [1]],
    "array": ["x", {"a": 1}],
}
_META_FIELDS = {
    "name": "string",
    "generateName": "string",
    "namespace": "string",
    "resourceVersion": "string",
    "labels": "object",
    "annotations": "object",
    "finalizers": "array",
    "ownerReferences": "array",
}
JSON_PATCH_SHAPES: list[Any] = [
    True,
    "x",
    5,
    {"op": "add"},
    [1],
    ["x"],
    [{"op": 5, "path": "/a"}],
    [{"op": "add"}],
]


@dataclass
class ShapeCase:
    method: str
    path: str  # concrete, under the server root
    media_type: str
    body: bytes
    parent: str | None  # the object the write is aimed at (GET it to see that a refusal changed nothing)
    must_refuse: bool  # a top-level shape no decoder accepts: a 4xx is the only right answer


def _resolve(doc: dict[str, Any], schema: Any, depth: int = 0) -> dict[str, Any]:
    while isinstance(schema, dict) and "$ref" in schema and depth < 20:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        depth += 1
    if isinstance(schema, dict) and "allOf" in schema and len(schema["allOf"]) == 1:
        return _resolve(doc, schema["allOf"][0], depth + 1)
    return schema if isinstance(schema, dict) else {}


def _kind_of(doc: dict[str, Any], schema: Any) -> str | None:
    resolved = _resolve(doc, schema)
    kind = resolved.get("type")
    if kind is None and "properties" in resolved:
        kind = "object"
    return kind if kind in _WRONG_FOR else None


def _wrong_bodies(doc: dict[str, Any], schema: dict[str, Any]) -> list[Any]:
    """For each documented top-level field (and each ObjectMeta field), the object with it mistyped."""
    out: list[Any] = []
    props = schema.get("properties") or {}
    for prop, prop_schema in sorted(props.items()):
        if prop in ("apiVersion", "kind"):
            continue
        kind = _kind_of(doc, prop_schema)
        for wrong in _WRONG_FOR.get(kind or "", []):
            out.append({prop: wrong})
        if prop == "metadata":
            for field_name, field_kind in _META_FIELDS.items():
                out.extend({"metadata": {field_name: wrong}} for wrong in _WRONG_FOR[field_kind])
    return out


def _concrete(path: str, method: str) -> tuple[str, str | None]:
    concrete = path.replace("{namespace}", NAMESPACE).replace("{name}", FUZZ_NAME)
    if "{" in concrete:
        concrete = concrete.split("{", 1)[0] + "fuzz-param" + concrete.split("}", 1)[1]
    parent = None
    if "{name}" in path:
        parent = path.split("{name}", 1)[0].replace("{namespace}", NAMESPACE) + FUZZ_NAME
    return concrete, parent


def shape_cases(doc: dict[str, Any]) -> Iterator[ShapeCase]:
    """Deterministic cases for every operation of ``doc`` that takes a body, for every media type."""
    import orjson

    for path, item in sorted(doc.get("paths", {}).items()):
        if "/watch/" in path:
            continue
        for method in ("post", "put", "patch", "delete"):
            op = item.get(method)
            if not op or "requestBody" not in op:
                continue
            concrete, parent = _concrete(path, method)
            for media_type, content in sorted(op["requestBody"].get("content", {}).items()):
                wire_type = "application/json" if media_type == "*/*" else media_type
                if method == "patch":
                    # a patch is documented as a generic object: its fields are the resource's
                    answer = (op.get("responses", {}).get("200", {}).get("content") or {}).get(
                        "application/json"
                    )
                    target_schema = _resolve(doc, (answer or {}).get("schema"))
                else:
                    target_schema = _resolve(doc, content.get("schema"))
                wrong = _wrong_bodies(doc, target_schema)
                if media_type == "application/json-patch+json":
                    tops = JSON_PATCH_SHAPES
                    wrong = [
                        [{"op": "add", "path": "/" + "/".join(_path_of(w)), "value": _leaf_of(w)}]
                        for w in wrong
                    ]
                else:
                    tops = TOP_LEVEL_SHAPES
                for body in tops:
                    yield ShapeCase(
                        method.upper(), concrete, wire_type, orjson.dumps(body), parent, method != "delete"
                    )
                for body in wrong:
                    yield ShapeCase(method.upper(), concrete, wire_type, orjson.dumps(body), parent, False)


def _path_of(nested: dict[str, Any]) -> list[str]:
    out = []
    cur: Any = nested
    while isinstance(cur, dict) and len(cur) == 1:
        key = next(iter(cur))
        out.append(key)
        cur = cur[key]
        if key != "metadata":
            break
    return out


def _leaf_of(nested: dict[str, Any]) -> Any:
    cur: Any = nested
    for key in _path_of(nested):
        cur = cur[key]
    return cur


def probe_shapes(url: str, group_version: str) -> Report:
    """Send every ``shape_cases`` case of one document; a 5xx, a refusal that is not a Status, a
    top-level non-object that is accepted, or a refusal that changed its object, is a failure."""
    report = Report()
    started = time.monotonic()
    session = requests.Session()
    session.headers["User-Agent"] = "kyb-fuzz"
    seed_objects(url, session)
    doc = documents(url, session, group_version)[group_version]
    labels: set[str] = set()
    known: dict[str, requests.Response] = {}  # parent -> its last GET, until a write may have changed it
    for case in shape_cases(doc):
        labels.add(f"{case.method} {case.path}")
        before = None
        if case.parent:
            before = known.get(case.parent) or session.get(url + case.parent, timeout=10)
            known[case.parent] = before
        params = {"fieldManager": "kyb-fuzz"} if case.media_type == "application/apply-patch+yaml" else None
        resp = session.request(
            case.method,
            url + case.path,
            data=case.body,
            headers={"Content-Type": case.media_type},
            params=params,
            timeout=20,
        )
        report.cases += 1
        report.answers[f"{case.method} {case.media_type} {resp.status_code}"] += 1
        label = f"{case.method} {case.path} [{case.media_type}] {case.body[:120]!r}"
        problem = None
        if resp.status_code >= 500:
            problem = f"answered {resp.status_code}: {resp.text[:300]}"
        elif resp.status_code >= 400:
            try:
                status = resp.json()
            except ValueError:
                status = {}
            if status.get("kind") != "Status" or status.get("code") != resp.status_code:
                problem = f"refused without a Status: {resp.text[:300]}"
            elif before is not None and before.status_code == 200:
                after = session.get(url + case.parent, timeout=10) if case.parent else None
                if after is None or after.status_code != 200 or after.json() != before.json():
                    problem = "a refused write changed its object"
        elif case.must_refuse:
            problem = f"a body that is not an object was accepted ({resp.status_code}): {resp.text[:200]}"
        if problem:
            report.failures.append(Failure(label, "shape", problem))
        if case.method == "DELETE" or resp.status_code < 300:
            # a write may have gone through: put the seeds of this collection back, forget what we saw
            known.clear()
            seed_objects(
                url, session, under=(case.parent or case.path).rsplit("/", 1)[0] if case.parent else case.path
            )
    report.operations = len(labels)
    report.seconds = time.monotonic() - started
    return report
