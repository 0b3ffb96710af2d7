"""Strategies of the small groups: leases, events.k8s.io events, horizontal pod autoscalers, pod
disruption budgets and priority classes."""

from __future__ import annotations

from typing import Any

from kybernetes.api import defaults, selectors
from kybernetes.api.tables import events as events_tables
from kybernetes.api.tables import other as other_tables
from kybernetes.api.validation import TypeRules, names
from kybernetes.api.validation import other as other_validation
from kybernetes.apiserver.strategies.base import Strategy


class LeaseStrategy(Strategy):
    rules = TypeRules(create=other_validation.create_lease)
    printer = other_tables.LEASE


class EventV1Strategy(Strategy):
    rules = TypeRules(create=other_validation.create_events_event)
    printer = events_tables.EVENT
    field_rules = selectors.EVENT_V1_FIELDS


class HorizontalPodAutoscalerStrategy(Strategy):
    rules = TypeRules(name_fn=names.path_segment_name, create=other_validation.create_hpa)
    printer = other_tables.HPA
    tracks_generation = True

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_hpa(obj)


class PodDisruptionBudgetStrategy(Strategy):
    rules = TypeRules(create=other_validation.create_pdb)
    printer = other_tables.PDB
    tracks_generation = True


class PriorityClassStrategy(Strategy):
    rules = TypeRules(
        create=other_validation.create_priority_class, update=other_validation.update_priority_class
    )
    printer = other_tables.PRIORITY_CLASS

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_priority_class(obj)
