"""The mandatory API priority and fairness configuration of upstream's apiserver
(``k8s.io/apiserver/pkg/apis/flowcontrol/bootstrap``): the ``exempt`` and ``catch-all``
PriorityLevelConfigurations and FlowSchemas, as data. The server creates them at start; validation
requires their specs to keep these fixed values, as upstream's does."""

from __future__ import annotations

from typing import Any

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


MANDATORY_PRIORITY_LEVELS: dict[str, dict[str, Any]] = {
    "exempt": {"type": "Exempt", "exempt": {"nominalConcurrencyShares": 0, "lendablePercent": 0}},
    "catch-all": {
        "type": "Limited",
        "limited": {"nominalConcurrencyShares": 5, "lendablePercent": 0, "limitResponse": {"type": "Reject"}},
    },
}

MANDATORY_FLOW_SCHEMAS: dict[str, dict[str, Any]] = {
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
