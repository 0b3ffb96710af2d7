"""The mandatory API priority and fairness objects upstream's apiserver keeps from start:
PriorityLevelConfigurations and FlowSchemas named ``exempt`` and ``catch-all``
(``k8s.io/apiserver/pkg/apis/flowcontrol/bootstrap``). They are stored so clients see what a v1.32
cluster shows; no request is classified by them yet (there is no API priority and fairness)."""

from __future__ import annotations

import contextlib
import copy

from kybernetes.api import errors, meta
from kybernetes.api.flowcontrol import MANDATORY_FLOW_SCHEMAS, MANDATORY_PRIORITY_LEVELS
from kybernetes.apiserver.resource_store import StoreLocator
from kybernetes.storage import KeyExistsError

_GV = "flowcontrol.apiserver.k8s.io/v1"
_AUTOUPDATE = {"apf.kubernetes.io/autoupdate-spec": "true"}


async def ensure_mandatory_configuration(ctx: StoreLocator) -> None:
    """Create the mandatory objects that are missing (existing ones are left as they are)."""
    for plural, kind, specs in (
        ("prioritylevelconfigurations", "PriorityLevelConfiguration", MANDATORY_PRIORITY_LEVELS),
        ("flowschemas", "FlowSchema", MANDATORY_FLOW_SCHEMAS),
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
                "spec": copy.deepcopy(spec),
            }
            with contextlib.suppress(KeyExistsError, errors.StatusError):
                await rs.create(obj)
