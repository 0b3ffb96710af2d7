"""The mandatory API priority and fairness objects upstream's apiserver keeps from start:
PriorityLevelConfigurations and FlowSchemas named ``exempt`` and ``catch-all``
(``k8s.io/apiserver/pkg/apis/flowcontrol/bootstrap``). They are stored so clients see what a v1.32
cluster shows; no request is classified by them yet (there is no API priority and fairness)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from kybernetes.api import errors
from kybernetes.apiserver import meta
from kybernetes.storage import KeyExistsError

if TYPE_CHECKING:
    from kybernetes.apiserver.context import ApiContext

_GV = "flowcontrol.apiserver.k8s.io/v1"
_AUTOUPDATE = {"apf.kubernetes.io/autoupdate-spec": "true"}
_ALL_RESOURCES = {
    "verbs": ["*"],
    "apiGroups": ["*"],
    "resources": ["*"],
    "clusterScope": True,
    "namespaces": ["*"],
}
_ALL_NON_RESOURCES = {"verbs": ["*"], "nonResourceURLs": ["*"]}


def _group(name: str) -> dict[str, Any]:
    return {"kind": "Group", "group": {"name": name}}


PRIORITY_LEVELS: dict[str, dict[str, Any]] = {
    "exempt": {"type": "Exempt", "exempt": {"nominalConcurrencyShares": 0, "lendablePercent": 0}},
    "catch-all": {
        "type": "Limited",
        "limited": {"nominalConcurrencyShares": 5, "lendablePercent": 0, "limitResponse": {"type": "Reject"}},
    },
}

FLOW_SCHEMAS: dict[str, dict[str, Any]] = {
    "exempt": {
        "priorityLevelConfiguration": {"name": "exempt"},
        "matchingPrecedence": 1,
        "rules": [
            {
                "subjects": [_group("system:masters")],
                "resourceRules": [_ALL_RESOURCES],
                "nonResourceRules": [_ALL_NON_RESOURCES],
            }
        ],
    },
    "catch-all": {
        "priorityLevelConfiguration": {"name": "catch-all"},
        "matchingPrecedence": 10000,
        "distinguisherMethod": {"type": "ByUser"},
        "rules": [
            {
                "subjects": [_group("system:unauthenticated"), _group("system:authenticated")],
                "resourceRules": [_ALL_RESOURCES],
                "nonResourceRules": [_ALL_NON_RESOURCES],
            }
        ],
    },
}


async def ensure_mandatory_configuration(ctx: ApiContext) -> None:
    """Create the mandatory objects that are missing (existing ones are left as they are)."""
    for plural, kind, specs in (
        ("prioritylevelconfigurations", "PriorityLevelConfiguration", PRIORITY_LEVELS),
        ("flowschemas", "FlowSchema", FLOW_SCHEMAS),
    ):
        rs = ctx.store_for("flowcontrol.apiserver.k8s.io", "v1", plural)
        for name, spec in specs.items():
            if await rs.try_get(None, name) is not None:
                continue
            obj = {
                "apiVersion": _GV,
                "kind": kind,
                "metadata": {
                    "name": name,
                    "uid": meta.new_uid(),
                    "creationTimestamp": meta.now_rfc3339(),
                    "generation": 1,
                    "annotations": dict(_AUTOUPDATE),
                },
                "spec": spec,
            }
            with contextlib.suppress(KeyExistsError, errors.StatusError):
                await rs.create(obj)
