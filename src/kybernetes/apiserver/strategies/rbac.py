"""Strategies of rbac.authorization.k8s.io kinds: roles, cluster roles and their bindings."""

from __future__ import annotations

from typing import Any

from kybernetes.api import defaults
from kybernetes.api.tables import other as other_tables
from kybernetes.api.validation import TypeRules, names
from kybernetes.api.validation import rbac as rbac_validation
from kybernetes.apiserver.strategies.base import Strategy


class RoleStrategy(Strategy):
    rules = TypeRules(name_fn=names.path_segment_name, create=rbac_validation.create_role)


class RoleBindingStrategy(Strategy):
    rules = TypeRules(
        name_fn=names.path_segment_name,
        create=rbac_validation.create_role_binding,
        update=rbac_validation.update_role_binding,
    )
    printer = other_tables.ROLE_BINDING

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_binding(obj)


class ClusterRoleStrategy(Strategy):
    rules = TypeRules(name_fn=names.path_segment_name, create=rbac_validation.create_cluster_role)


class ClusterRoleBindingStrategy(Strategy):
    rules = TypeRules(
        name_fn=names.path_segment_name,
        create=rbac_validation.create_cluster_role_binding,
        update=rbac_validation.update_cluster_role_binding,
    )
    printer = other_tables.CLUSTER_ROLE_BINDING

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_binding(obj)
