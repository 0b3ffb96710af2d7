"""Strategies of apps/v1 kinds: deployments, replica sets, stateful sets, daemon sets and controller
revisions (validation, defaults, printers, selectable fields, generation tracking)."""

from __future__ import annotations

from typing import Any

from kybernetes.api import defaults, selectors
from kybernetes.api.tables import apps as apps_tables
from kybernetes.api.validation import TypeRules
from kybernetes.api.validation import apps as apps_validation
from kybernetes.apiserver.strategies.base import Strategy


class DeploymentStrategy(Strategy):
    rules = TypeRules(
        create=apps_validation.create_deployment,
        update=apps_validation.update_deployment,
        status=apps_validation.status_replicas,
    )
    printer = apps_tables.DEPLOYMENT
    tracks_generation = True

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_deployment(obj)


class ReplicaSetStrategy(Strategy):
    rules = TypeRules(
        create=apps_validation.create_replica_set,
        update=apps_validation.update_replica_set,
        status=apps_validation.status_replicas,
    )
    printer = apps_tables.REPLICA_SET
    field_rules = selectors.REPLICA_SET_FIELDS
    tracks_generation = True

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_replica_set(obj)


class StatefulSetStrategy(Strategy):
    rules = TypeRules(
        create=apps_validation.create_stateful_set,
        update=apps_validation.update_stateful_set,
        status=apps_validation.status_replicas,
    )
    printer = apps_tables.STATEFUL_SET
    tracks_generation = True

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_stateful_set(obj)


class DaemonSetStrategy(Strategy):
    rules = TypeRules(
        create=apps_validation.create_daemon_set,
        update=apps_validation.update_daemon_set,
        status=apps_validation.status_replicas,
    )
    printer = apps_tables.DAEMON_SET
    tracks_generation = True

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_daemon_set(obj)


class ControllerRevisionStrategy(Strategy):
    rules = TypeRules(
        create=apps_validation.create_controller_revision, update=apps_validation.update_controller_revision
    )
    printer = apps_tables.CONTROLLER_REVISION
