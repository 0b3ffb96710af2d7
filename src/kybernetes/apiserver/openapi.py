"""OpenAPI v3 documents (``/openapi/v3`` and ``/openapi/v3/<api|apis/group>/<version>``), as pure functions.

kubectl reads these for three things:

* ``apply``/``create`` look up the ``patch`` operation tagged with the object's
  ``x-kubernetes-group-version-kind`` and check that it declares the ``fieldValidation`` query parameter
  (then they leave validation to the server with ``fieldValidation=Strict``). kubectl stops at the *first*
  patch operation it finds for a GVK, so every patch operation here carries the same parameters.
* ``explain`` finds the component schema carrying the GVK and walks ``properties`` / ``$ref`` /
  single-element ``allOf``.
* the root document's ``serverRelativeURL`` hashes key kubectl's on-disk cache.

Schemas come from ``kybernetes.api.schemas`` (kubernetes-validate's JSON-schema flavour of the v1.32
definitions) converted to upstream's published OpenAPI 3.0 shape: ``#/$defs/X`` becomes
``#/components/schemas/X``, a ``$ref`` with sibling keys is wrapped in ``allOf`` as upstream does, type
lists widened with ``null`` collapse to the single type, the synthetic ``enum`` on ``apiVersion``/``kind``
is dropped, ``IntOrString`` and ``Quantity`` become upstream's ``oneOf`` forms. Custom resources
(``ResourceInfo.custom`` or rows without a known schema) get a schema built from their CRD's
``openAPIV3Schema`` plus the standard ``apiVersion``/``kind``/``metadata`` fields, named like upstream
(``com.example.stable.v1.CronTab``).

Built documents are memoised by the content of the registry rows of their group-version (and the CRD
schemas they use), so callers can ask on every request; a cold build of every group takes a few tens of
milliseconds. Returned documents are shared between callers: treat them as read-only. Discovery lives in
the sibling ``discovery`` module; the HTTP routes that serve these documents live with the server.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import threading
from collections import OrderedDict
from typing import Any

import orjson

from kybernetes.api import schemas
from kybernetes.api.registry import Registry, ResourceInfo, SubresourceInfo
from kybernetes.apiserver.discovery import subresource_gvk

OPENAPI_VERSION = "3.0.0"
INFO = {"title": "Kubernetes", "version": "v1.32.4"}
COMPONENT_PREFIX = "#/components/schemas/"

_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
OBJECT_META = _META + "ObjectMeta"
LIST_META = _META + "ListMeta"
STATUS = _META + "Status"
DELETE_OPTIONS = _META + "DeleteOptions"
PATCH = _META + "Patch"
API_RESOURCE_LIST = _META + "APIResourceList"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"

PATCH_CONTENT_TYPES = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)
_RESPONSE_TYPES = ("application/json", "application/yaml")
_LIST_RESPONSE_TYPES = ("application/json", "application/json;stream=watch", "application/yaml")

# Subresources that stream or upgrade instead of answering an object.
_CONNECT_SUBRESOURCES = {"exec", "attach", "portforward", "proxy"}
_TEXT_SUBRESOURCES = {"log"}

_APIVERSION_DESCRIPTION = (
    "APIVersion defines the versioned schema of this representation of an object. Servers should convert "
    "recognized schemas to the latest internal value, and may reject unrecognized values. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"
)
_KIND_DESCRIPTION = (
    "Kind is a string value representing the REST resource this object represents. Servers may infer this "
    "from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"
)
_METADATA_DESCRIPTION = (
    "Standard object's metadata. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
_LIST_METADATA_DESCRIPTION = (
    "Standard list metadata. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)

# Upstream's OpenAPI v3 forms of the two scalar "union" types (the JSON-schema flavour has oneOf lists
# widened with null).
_SPECIAL_DEFINITIONS: dict[str, dict[str, Any]] = {
    INT_OR_STRING: {
        "description": (
            "IntOrString is a type that can hold an int32 or a string. When used in JSON or YAML marshalling "
            "and unmarshalling, it produces or consumes the inner type."
        ),
        "format": "int-or-string",
        "oneOf": [{"type": "integer"}, {"type": "string"}],
        "x-kubernetes-int-or-string": True,
    },
    QUANTITY: {
        "description": (
            "Quantity is a fixed-point representation of a number, serialized as a string such as "
            '"100m", "1Gi" or "1.5" (a plain JSON number is accepted too).'
        ),
        "oneOf": [{"type": "string"}, {"type": "number"}],
    },
}


# ---------------------------------------------------------------------------------------------------------
# Schema conversion (JSON-schema flavour -> OpenAPI 3.0 components), memoised per definition name


def _component_ref(name: str) -> str:
    return COMPONENT_PREFIX + name


def single_type(value: Any) -> str | None:
    """A schema ``type`` (a name or a list of names) as one type name, ``null`` left out."""
    if isinstance(value, str):
        return None if value == "null" else value
    if isinstance(value, list):
        kept = [t for t in value if isinstance(t, str) and t != "null"]
        return kept[0] if kept else None
    return None


def _convert(node: Any, *, type_meta: bool = False) -> Any:
    """Convert one schema node; ``type_meta`` marks an ``apiVersion``/``kind`` property (enum dropped)."""
    if isinstance(node, list):
        return [_convert(x) for x in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref":
            continue
        if key == "type":
            single = single_type(value)
            if single is not None:
                out["type"] = single
        elif key == "enum" and type_meta:
            continue
        elif key == "properties" and isinstance(value, dict):
            out[key] = {
                prop: _convert(sub, type_meta=prop in ("apiVersion", "kind")) for prop, sub in value.items()
            }
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            out[key] = _convert(value)
        elif key in ("allOf", "anyOf", "oneOf") and isinstance(value, list):
            out[key] = [_convert(x) for x in value]
        else:
            out[key] = copy.deepcopy(value)
    ref = node.get("$ref")
    if isinstance(ref, str):
        target = {"$ref": _component_ref(schemas.ref_name(ref))}
        if not out:
            return target
        return {"allOf": [target], **out}
    return out


@functools.cache
def converted_definition(name: str) -> dict[str, Any] | None:
    """The OpenAPI v3 component schema of a built-in definition (shared: do not mutate)."""
    if name in _SPECIAL_DEFINITIONS:
        return _SPECIAL_DEFINITIONS[name]
    source = schemas.get(name)
    if source is None:
        return None
    return _convert(source)


def _refs_in(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(schemas.ref_name(ref))
        for value in node.values():
            _refs_in(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs_in(value, found)


@functools.cache
def _direct_refs(name: str) -> frozenset[str]:
    found: set[str] = set()
    if name not in _SPECIAL_DEFINITIONS:
        _refs_in(schemas.get(name), found)
    return frozenset(found)


@functools.cache
def definition_closure(name: str) -> frozenset[str]:
    """``name`` and every definition it references, transitively (only names that exist)."""
    seen: set[str] = set()
    stack = [name]
    while stack:
        current = stack.pop()
        if current in seen or schemas.get(current) is None:
            continue
        seen.add(current)
        stack.extend(_direct_refs(current) - seen)
    return frozenset(seen)


@functools.cache
def _gvk_index() -> dict[tuple[str, str, str], str]:
    """(group, version, kind) -> definition name, from the definitions' ``x-kubernetes-group-version-kind``."""
    index: dict[tuple[str, str, str], str] = {}
    for name, definition in schemas.definitions().items():
        for gvk in definition.get("x-kubernetes-group-version-kind") or ():
            key = (gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", ""))
            index.setdefault(key, name)
    return index


def custom_schema_name(group: str, version: str, kind: str) -> str:
    """Upstream's component name of a custom kind: ``stable.example.com``/v1/CronTab ->
    ``com.example.stable.v1.CronTab``."""
    reversed_group = ".".join(reversed(group.split("."))) if group else "io.k8s.api.core"
    return f"{reversed_group}.{version}.{kind}"


def _is_builtin(info: ResourceInfo) -> bool:
    return not info.custom and bool(info.schema_name) and schemas.get(info.schema_name or "") is not None


def _kind_schema_name(info: ResourceInfo) -> str:
    if _is_builtin(info):
        return info.schema_name or ""
    return custom_schema_name(info.group, info.version, info.kind)


def _list_schema_name(info: ResourceInfo) -> str:
    if _is_builtin(info) and schemas.get(f"{info.schema_name}List") is not None:
        return f"{info.schema_name}List"
    return custom_schema_name(info.group, info.version, info.list_kind)


def _gvk_ext(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "kind": kind, "version": version}


def _custom_kind_schema(info: ResourceInfo, crd_schema: dict[str, Any] | None) -> dict[str, Any]:
    """A custom kind's component: the CRD's openAPIV3Schema plus the standard type/object metadata."""
    schema: dict[str, Any] = copy.deepcopy(crd_schema) if isinstance(crd_schema, dict) else {}
    if not schema:
        schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    schema.setdefault("type", "object")
    properties = dict(schema.get("properties") or {})
    properties["apiVersion"] = {"description": _APIVERSION_DESCRIPTION, "type": "string"}
    properties["kind"] = {"description": _KIND_DESCRIPTION, "type": "string"}
    properties["metadata"] = {
        "allOf": [{"$ref": _component_ref(OBJECT_META)}],
        "description": _METADATA_DESCRIPTION,
    }
    schema["properties"] = dict(sorted(properties.items()))
    schema["x-kubernetes-group-version-kind"] = [_gvk_ext(info.group, info.version, info.kind)]
    return schema


def _custom_list_schema(info: ResourceInfo) -> dict[str, Any]:
    return {
        "description": f"{info.list_kind} is a list of {info.kind}",
        "properties": {
            "apiVersion": {"description": _APIVERSION_DESCRIPTION, "type": "string"},
            "items": {
                "description": f"List of {info.plural}.",
                "items": {"$ref": _component_ref(_kind_schema_name(info))},
                "type": "array",
            },
            "kind": {"description": _KIND_DESCRIPTION, "type": "string"},
            "metadata": {
                "allOf": [{"$ref": _component_ref(LIST_META)}],
                "description": _LIST_METADATA_DESCRIPTION,
            },
        },
        "required": ["items"],
        "type": "object",
        "x-kubernetes-group-version-kind": [_gvk_ext(info.group, info.version, info.list_kind)],
    }


# ---------------------------------------------------------------------------------------------------------
# Parameters


def _param(name: str, where: str, type_: str, description: str, *, required: bool = False) -> dict[str, Any]:
    param: dict[str, Any] = {"description": description, "in": where, "name": name}
    if required:
        param["required"] = True
    param["schema"] = {"type": type_, "uniqueItems": True}
    return param


def _q(name: str, type_: str, description: str) -> dict[str, Any]:
    return _param(name, "query", type_, description)


P_PRETTY = _q("pretty", "string", "If 'true', then the output is pretty printed.")
P_NAMESPACE = _param(
    "namespace", "path", "string", "object name and auth scope, such as for teams and projects", required=True
)
P_DRY_RUN = _q(
    "dryRun",
    "string",
    "When present, indicates that modifications should not be persisted. Valid values are: "
    "- All: all dry run stages will be processed",
)
P_FIELD_MANAGER = _q(
    "fieldManager",
    "string",
    "fieldManager is a name associated with the actor or entity that is making these changes. "
    "It is required for apply requests (application/apply-patch).",
)
P_FIELD_VALIDATION = _q(
    "fieldValidation",
    "string",
    "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) "
    "containing unknown or duplicate fields. Valid values are: - Ignore: drop unknown fields silently. "
    "- Warn: drop unknown fields with a warning (the default). - Strict: fail the request on unknown or "
    "duplicate fields.",
)
P_FORCE = _q(
    "force",
    "boolean",
    'Force is going to "force" Apply requests: the caller re-acquires conflicting fields owned by other '
    "managers. It must be unset for non-apply patch requests.",
)
P_ALLOW_WATCH_BOOKMARKS = _q(
    "allowWatchBookmarks", "boolean", 'allowWatchBookmarks requests watch events with type "BOOKMARK".'
)
P_CONTINUE = _q(
    "continue", "string", "The continue option should be set when retrieving more results from the server."
)
P_FIELD_SELECTOR = _q(
    "fieldSelector", "string", "A selector to restrict the list of returned objects by their fields."
)
P_LABEL_SELECTOR = _q(
    "labelSelector", "string", "A selector to restrict the list of returned objects by their labels."
)
P_LIMIT = _q("limit", "integer", "limit is a maximum number of responses to return for a list call.")
P_RESOURCE_VERSION = _q(
    "resourceVersion",
    "string",
    "resourceVersion sets a constraint on what resource versions a request may be served from.",
)
P_RESOURCE_VERSION_MATCH = _q(
    "resourceVersionMatch",
    "string",
    "resourceVersionMatch determines how resourceVersion is applied to list calls.",
)
P_SEND_INITIAL_EVENTS = _q(
    "sendInitialEvents",
    "boolean",
    "sendInitialEvents=true may be set together with watch=true to start the watch stream with synthetic "
    "events for the current state of the collection.",
)
P_TIMEOUT_SECONDS = _q(
    "timeoutSeconds", "integer", "Timeout for the list/watch call, regardless of any activity or inactivity."
)
P_WATCH = _q(
    "watch",
    "boolean",
    "Watch for changes to the described resources and return them as a stream of add, update, and remove "
    "notifications. Specify resourceVersion.",
)
P_GRACE_PERIOD_SECONDS = _q(
    "gracePeriodSeconds", "integer", "The duration in seconds before the object should be deleted."
)
P_ORPHAN_DEPENDENTS = _q("orphanDependents", "boolean", "Deprecated: please use the PropagationPolicy.")
P_PROPAGATION_POLICY = _q(
    "propagationPolicy",
    "string",
    "Whether and how garbage collection will be performed: 'Orphan', 'Background' or 'Foreground'.",
)

_WRITE_PARAMS = [P_DRY_RUN, P_FIELD_MANAGER, P_FIELD_VALIDATION]
_PATCH_PARAMS = [P_DRY_RUN, P_FIELD_MANAGER, P_FIELD_VALIDATION, P_FORCE]
_LIST_PARAMS = [
    P_ALLOW_WATCH_BOOKMARKS,
    P_CONTINUE,
    P_FIELD_SELECTOR,
    P_LABEL_SELECTOR,
    P_LIMIT,
    P_RESOURCE_VERSION,
    P_RESOURCE_VERSION_MATCH,
    P_SEND_INITIAL_EVENTS,
    P_TIMEOUT_SECONDS,
    P_WATCH,
]
_DELETE_PARAMS = [P_DRY_RUN, P_GRACE_PERIOD_SECONDS, P_ORPHAN_DEPENDENTS, P_PROPAGATION_POLICY]
_DELETE_COLLECTION_PARAMS = [
    P_CONTINUE,
    P_DRY_RUN,
    P_FIELD_SELECTOR,
    P_GRACE_PERIOD_SECONDS,
    P_LABEL_SELECTOR,
    P_LIMIT,
    P_ORPHAN_DEPENDENTS,
    P_PROPAGATION_POLICY,
    P_RESOURCE_VERSION,
    P_RESOURCE_VERSION_MATCH,
    P_SEND_INITIAL_EVENTS,
    P_TIMEOUT_SECONDS,
]
_LOG_PARAMS = [
    _q("container", "string", "The container for which to stream logs."),
    _q("follow", "boolean", "Follow the log stream of the pod."),
    _q("insecureSkipTLSVerifyBackend", "boolean", "Skip verifying the serving certificate of the backend."),
    _q("limitBytes", "integer", "The number of bytes to read from the server before terminating the output."),
    _q("previous", "boolean", "Return previous terminated container logs."),
    _q("sinceSeconds", "integer", "A relative time in seconds before the current time to show logs from."),
    _q("tailLines", "integer", "The number of lines from the end of the logs to show."),
    _q("timestamps", "boolean", "Add an RFC3339 timestamp at the beginning of every line of log output."),
]
_STREAM_PARAMS = {
    "container": _q("container", "string", "The container in which to execute the command."),
    "stderr": _q("stderr", "boolean", "Redirect the standard error stream of the pod for this call."),
    "stdin": _q("stdin", "boolean", "Redirect the standard input stream of the pod for this call."),
    "stdout": _q("stdout", "boolean", "Redirect the standard output stream of the pod for this call."),
    "tty": _q("tty", "boolean", "TTY if true indicates that a tty will be allocated for the call."),
}
_CONNECT_PARAMS: dict[str, list[dict[str, Any]]] = {
    "exec": [
        _q(
            "command",
            "string",
            "Command is the remote command to execute. argv array. Not executed within a shell.",
        ),
        *_STREAM_PARAMS.values(),
    ],
    "attach": list(_STREAM_PARAMS.values()),
    "portforward": [_q("ports", "integer", "List of ports to forward.")],
    "proxy": [_q("path", "string", "Path is the URL path to use for the current proxy request.")],
}


# ---------------------------------------------------------------------------------------------------------
# Operations and paths


def _camel(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in text.replace("-", ".").split(".") if part)


def _group_words(group: str) -> str:
    """Upstream's operation-id spelling of a group: "" -> Core, rbac.authorization.k8s.io -> RbacAuthorization."""
    if not group:
        return "Core"
    return _camel(group.removesuffix(".k8s.io"))


def _tag(group: str, version: str) -> str:
    words = _group_words(group)
    return f"{words[:1].lower()}{words[1:]}_{version}"


def _schema_ref(name: str) -> dict[str, str]:
    return {"$ref": _component_ref(name)}


def _responses(schema: dict[str, Any], codes: tuple[str, ...], types: tuple[str, ...]) -> dict[str, Any]:
    labels = {"200": "OK", "201": "Created", "202": "Accepted"}
    out: dict[str, Any] = {}
    for code in codes:
        out[code] = {"content": {t: {"schema": schema} for t in types}, "description": labels[code]}
    out["401"] = {"description": "Unauthorized"}
    return out


class _DocumentBuilder:
    """Accumulates the paths and component names of one group-version document."""

    def __init__(self, group: str, version: str) -> None:
        self.group = group
        self.version = version
        self.prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
        self.gv_words = f"{_group_words(group)}{_camel(version)}"
        self.tag = _tag(group, version)
        self.paths: dict[str, dict[str, Any]] = {}
        self.builtin_names: set[str] = set()
        self.custom_components: dict[str, dict[str, Any]] = {}

    def _path(self, path: str, params: list[dict[str, Any]]) -> dict[str, Any]:
        item = self.paths.setdefault(path, {})
        if params:
            item["parameters"] = params
        return item

    def _operation(
        self,
        *,
        description: str,
        operation_id: str,
        action: str,
        gvk: tuple[str, str, str] | None,
        params: list[dict[str, Any]],
        responses: dict[str, Any],
        request_body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        op: dict[str, Any] = {"description": description, "operationId": operation_id}
        if params:
            op["parameters"] = list(params)
        if request_body is not None:
            op["requestBody"] = request_body
        op["responses"] = responses
        op["tags"] = [self.tag]
        op["x-kubernetes-action"] = action
        if gvk is not None:
            op["x-kubernetes-group-version-kind"] = _gvk_ext(*gvk)
        return op

    def _body(self, schema_name: str) -> dict[str, Any]:
        return {"content": {"*/*": {"schema": _schema_ref(schema_name)}}, "required": True}

    def _patch_body(self) -> dict[str, Any]:
        return {"content": {t: {"schema": _schema_ref(PATCH)} for t in PATCH_CONTENT_TYPES}, "required": True}

    def _delete_body(self) -> dict[str, Any]:
        return {"content": {"*/*": {"schema": _schema_ref(DELETE_OPTIONS)}}}

    def _object_operations(
        self,
        verbs: set[str],
        *,
        gvk: tuple[str, str, str],
        schema_name: str,
        words: str,
        the: str,
        a: str,
        delete_options: bool,
        delete_returns_object: bool = False,
    ) -> dict[str, Any]:
        """The get/post/put/patch/delete operations on one object or subresource, for those of ``verbs``
        served: ``words`` spell the operation ids, ``the``/``a`` the descriptions ("the specified Pod",
        "a Pod"); ``delete_options`` gives DELETE a ``DeleteOptions`` body; ``delete_returns_object``
        documents the object (not a Status) as DELETE's 200/202 answer, as upstream does for the
        resources whose store returns the deleted object."""
        ref = _schema_ref(schema_name)
        ops: dict[str, Any] = {}
        if "get" in verbs:
            ops["get"] = self._operation(
                description=f"read {the}",
                operation_id=f"read{words}",
                action="get",
                gvk=gvk,
                params=[],
                responses=_responses(ref, ("200",), _RESPONSE_TYPES),
            )
        if "create" in verbs:
            ops["post"] = self._operation(
                description=f"create {a}",
                operation_id=f"create{words}",
                action="post",
                gvk=gvk,
                params=_WRITE_PARAMS,
                request_body=self._body(schema_name),
                responses=_responses(ref, ("200", "201", "202"), _RESPONSE_TYPES),
            )
        if "update" in verbs:
            ops["put"] = self._operation(
                description=f"replace {the}",
                operation_id=f"replace{words}",
                action="put",
                gvk=gvk,
                params=_WRITE_PARAMS,
                request_body=self._body(schema_name),
                responses=_responses(ref, ("200", "201"), _RESPONSE_TYPES),
            )
        if "patch" in verbs:
            ops["patch"] = self._operation(
                description=f"partially update {the}",
                operation_id=f"patch{words}",
                action="patch",
                gvk=gvk,
                params=_PATCH_PARAMS,
                request_body=self._patch_body(),
                responses=_responses(ref, ("200", "201"), _RESPONSE_TYPES),
            )
        if "delete" in verbs:
            ops["delete"] = self._operation(
                description=f"delete {a}",
                operation_id=f"delete{words}",
                action="delete",
                gvk=gvk,
                params=_DELETE_PARAMS,
                request_body=self._delete_body() if delete_options else None,
                responses=_responses(
                    ref if delete_returns_object else _schema_ref(STATUS), ("200", "202"), _RESPONSE_TYPES
                ),
            )
        return ops

    def add_discovery_path(self) -> None:
        self.builtin_names.add(API_RESOURCE_LIST)
        self.paths[f"{self.prefix}/"] = {
            "get": {
                "description": "get available resources",
                "operationId": f"get{self.gv_words}APIResources",
                "responses": _responses(_schema_ref(API_RESOURCE_LIST), ("200",), _RESPONSE_TYPES),
                "tags": [self.tag],
            }
        }

    def add_resource(self, info: ResourceInfo, crd_schema: dict[str, Any] | None) -> None:
        kind_name = _kind_schema_name(info)
        list_name = _list_schema_name(info)
        if _is_builtin(info):
            self.builtin_names.add(kind_name)
            if schemas.get(list_name) is not None:
                self.builtin_names.add(list_name)
            else:
                self.custom_components[list_name] = _custom_list_schema(info)
        else:
            self.custom_components[kind_name] = _custom_kind_schema(info, crd_schema)
            self.custom_components[list_name] = _custom_list_schema(info)
            self.builtin_names.add(OBJECT_META)
            self.builtin_names.add(LIST_META)
        self.builtin_names.update((STATUS, DELETE_OPTIONS, PATCH))

        gvk = (info.group, info.version, info.kind)
        kind = info.kind
        scope = "Namespaced" if info.namespaced else ""
        ns_prefix = f"{self.prefix}/namespaces/{{namespace}}" if info.namespaced else self.prefix
        ns_params = [P_NAMESPACE] if info.namespaced else []
        name_param = _param("name", "path", "string", f"name of the {kind}", required=True)
        verbs = set(info.verbs)
        words = f"{self.gv_words}{scope}{kind}"
        kind_ref = _schema_ref(kind_name)

        collection: dict[str, Any] = {}
        if "list" in verbs:
            collection["get"] = self._operation(
                description=f"list or watch objects of kind {kind}",
                operation_id=f"list{words}",
                action="list",
                gvk=gvk,
                params=_LIST_PARAMS,
                responses=_responses(_schema_ref(list_name), ("200",), _LIST_RESPONSE_TYPES),
            )
        if "create" in verbs:
            collection["post"] = self._operation(
                description=f"create a {kind}",
                operation_id=f"create{words}",
                action="post",
                gvk=gvk,
                params=_WRITE_PARAMS,
                request_body=self._body(kind_name),
                responses=_responses(kind_ref, ("200", "201", "202"), _RESPONSE_TYPES),
            )
        if "deletecollection" in verbs:
            collection["delete"] = self._operation(
                description=f"delete collection of {kind}",
                operation_id=f"delete{self.gv_words}Collection{scope}{kind}",
                action="deletecollection",
                gvk=gvk,
                params=_DELETE_COLLECTION_PARAMS,
                request_body=self._delete_body(),
                responses=_responses(_schema_ref(STATUS), ("200",), _RESPONSE_TYPES),
            )
        if collection:
            self._path(f"{ns_prefix}/{info.plural}", [*ns_params, P_PRETTY]).update(collection)

        if info.namespaced and "list" in verbs:
            self._path(f"{self.prefix}/{info.plural}", [P_PRETTY])["get"] = self._operation(
                description=f"list or watch objects of kind {kind}",
                operation_id=f"list{self.gv_words}{kind}ForAllNamespaces",
                action="list",
                gvk=gvk,
                params=_LIST_PARAMS,
                responses=_responses(_schema_ref(list_name), ("200",), _LIST_RESPONSE_TYPES),
            )

        item = self._object_operations(
            verbs - {"create"},  # creating is on the collection
            gvk=gvk,
            schema_name=kind_name,
            words=words,
            the=f"the specified {kind}",
            a=f"a {kind}",
            delete_options=True,
            delete_returns_object=info.delete_response_is_object,
        )
        item_path = f"{ns_prefix}/{info.plural}/{{name}}"
        if item:
            self._path(item_path, [name_param, *ns_params, P_PRETTY]).update(item)

        for sub in info.subresources:
            self._add_subresource(info, sub, item_path, [name_param, *ns_params], words, kind_name)

    def _add_subresource(
        self,
        info: ResourceInfo,
        sub: SubresourceInfo,
        item_path: str,
        path_params: list[dict[str, Any]],
        words: str,
        kind_name: str,
    ) -> None:
        gvk = subresource_gvk(info, sub)
        sub_words = _camel(sub.name)
        path = f"{item_path}/{sub.name}"
        ops: dict[str, Any] = {}
        if sub.name in _CONNECT_SUBRESOURCES:
            string_responses = _responses({"type": "string"}, ("200",), ("*/*",))
            params = _CONNECT_PARAMS.get(sub.name, [])
            for verb, method, http in (("get", "get", "Get"), ("create", "post", "Post")):
                if verb in sub.verbs:
                    ops[method] = self._operation(
                        description=f"connect {http.upper()} requests to {sub.name} of {info.kind}",
                        operation_id=f"connect{self.gv_words}{http}{words.removeprefix(self.gv_words)}{sub_words}",
                        action="connect",
                        gvk=gvk,
                        params=params,
                        responses=string_responses,
                    )
            self._path(path, path_params).update(ops)
            return
        if sub.name in _TEXT_SUBRESOURCES:
            if "get" in sub.verbs:
                ops["get"] = self._operation(
                    description=f"read {sub.name} of the specified {info.kind}",
                    operation_id=f"read{words}{sub_words}",
                    action="get",
                    gvk=gvk,
                    params=_LOG_PARAMS,
                    responses=_responses({"type": "string"}, ("200",), ("text/plain", "application/json")),
                )
            self._path(path, [*path_params, P_PRETTY]).update(ops)
            return

        if gvk == (info.group, info.version, info.kind):
            sub_name = kind_name
        else:
            found = _gvk_index().get(gvk)
            sub_name = found if found is not None else kind_name
            if found is not None:
                self.builtin_names.add(found)
        ops = self._object_operations(
            set(sub.verbs),
            gvk=gvk,
            schema_name=sub_name,
            words=f"{words}{sub_words}",
            the=f"{sub.name} of the specified {info.kind}",
            a=f"{sub.name} of a {info.kind}",
            delete_options=False,
        )
        if ops:
            self._path(path, [*path_params, P_PRETTY]).update(ops)

    def document(self) -> dict[str, Any]:
        names: set[str] = set()
        for name in self.builtin_names:
            names |= definition_closure(name)
        components: dict[str, Any] = {}
        for name in names:
            converted = converted_definition(name)
            if converted is not None:
                components[name] = converted
        components.update(self.custom_components)
        return {
            "openapi": OPENAPI_VERSION,
            "info": dict(INFO),
            "paths": dict(sorted(self.paths.items())),
            "components": {"schemas": dict(sorted(components.items()))},
        }


# ---------------------------------------------------------------------------------------------------------
# Public API (memoised)

_CACHE_SIZE = 256
_cache: OrderedDict[tuple[Any, ...], tuple[dict[str, Any], str]] = OrderedDict()
_cache_lock = threading.Lock()  # handlers may build from worker threads

CrdSchemas = dict[tuple[str, str, str], dict[str, Any]]


def _group_version_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def parse_document_path(path: str) -> tuple[str, str] | None:
    """``"api/v1"`` -> ``("", "v1")``, ``"apis/apps/v1"`` -> ``("apps", "v1")``; tolerates a leading
    ``/openapi/v3/`` and a ``?hash=`` query. ``None`` for anything else."""
    path = path.split("?", 1)[0].strip("/")
    path = path.removeprefix("openapi/v3/")
    parts = path.split("/")
    if len(parts) == 2 and parts[0] == "api" and parts[1]:
        return "", parts[1]
    if len(parts) == 3 and parts[0] == "apis" and parts[1] and parts[2]:
        return parts[1], parts[2]
    return None


def _needs_crd_schema(info: ResourceInfo) -> bool:
    return not _is_builtin(info)


def _schema_digest(schema: dict[str, Any] | None) -> str:
    if schema is None:
        return ""
    return hashlib.sha256(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _built(
    registry: Registry, group: str, version: str, crd_schemas: CrdSchemas | None
) -> tuple[dict[str, Any], str] | None:
    infos = tuple(sorted(registry.in_group_version(group, version), key=lambda i: i.plural))
    if not infos:
        return None
    crd_schemas = crd_schemas or {}
    crd_part = tuple(
        (i.plural, _schema_digest(crd_schemas.get((group, version, i.plural))))
        for i in infos
        if _needs_crd_schema(i)
    )
    key = (group, version, infos, crd_part)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    builder = _DocumentBuilder(group, version)
    builder.add_discovery_path()
    for info in infos:
        builder.add_resource(info, crd_schemas.get((group, version, info.plural)))
    doc = builder.document()
    digest = hashlib.sha512(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest().upper()
    with _cache_lock:
        _cache[key] = (doc, digest)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return doc, digest


def openapi_v3_root(registry: Registry, crd_schemas: CrdSchemas | None = None) -> dict[str, Any]:
    """``GET /openapi/v3``: every served group-version with a content-hashed document URL.

    Pass the same ``crd_schemas`` as to ``openapi_v3_document`` so the hashes change with CRD schemas.
    """
    paths: dict[str, dict[str, str]] = {}
    for group, versions in registry.groups().items():
        for version in versions:
            built = _built(registry, group, version, crd_schemas)
            if built is None:
                continue
            gv_path = _group_version_path(group, version)
            paths[gv_path] = {"serverRelativeURL": f"/openapi/v3/{gv_path}?hash={built[1]}"}
    return {"paths": paths}


def openapi_v3_document(
    registry: Registry, path: str, crd_schemas: CrdSchemas | None = None
) -> dict[str, Any] | None:
    """``GET /openapi/v3/<path>`` for ``path`` like ``"api/v1"`` or ``"apis/apps/v1"``; ``None`` if unknown.

    ``crd_schemas`` maps (group, version, plural) to the CRD version's ``openAPIV3Schema``. The returned
    document is shared with the cache: do not mutate it.
    """
    parsed = parse_document_path(path)
    if parsed is None:
        return None
    built = _built(registry, *parsed, crd_schemas)
    return built[0] if built is not None else None


def openapi_v3_document_hash(
    registry: Registry, path: str, crd_schemas: CrdSchemas | None = None
) -> str | None:
    """The hash the root advertises for ``path`` (for ETag / immutable caching headers)."""
    parsed = parse_document_path(path)
    if parsed is None:
        return None
    built = _built(registry, *parsed, crd_schemas)
    return built[1] if built is not None else None


def clear_cache() -> None:
    """Forget built documents (tests; memory is bounded anyway)."""
    with _cache_lock:
        _cache.clear()
