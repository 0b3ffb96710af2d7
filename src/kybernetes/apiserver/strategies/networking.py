"""Strategies of networking.k8s.io and discovery.k8s.io kinds: ingresses, ingress classes, network
policies and endpoint slices."""

from __future__ import annotations

from typing import Any

from kybernetes.api import defaults
from kybernetes.api.tables import networking as networking_tables
from kybernetes.api.tables import other as other_tables
from kybernetes.api.validation import TypeRules
from kybernetes.api.validation import networking as networking_validation
from kybernetes.api.validation import other as other_validation
from kybernetes.apiserver.strategies.base import Strategy


class EndpointSliceStrategy(Strategy):
    rules = TypeRules(
        create=other_validation.create_endpoint_slice, update=other_validation.update_endpoint_slice
    )
    printer = other_tables.ENDPOINT_SLICE

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_endpoint_slice(obj)


class IngressStrategy(Strategy):
    rules = TypeRules(
        create=networking_validation.create_ingress, status=networking_validation.status_ingress
    )
    printer = networking_tables.INGRESS
    tracks_generation = True


class IngressClassStrategy(Strategy):
    rules = TypeRules(
        create=networking_validation.create_ingress_class, update=networking_validation.update_ingress_class
    )
    printer = networking_tables.INGRESS_CLASS
    tracks_generation = True

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_ingress_class(obj)


class NetworkPolicyStrategy(Strategy):
    rules = TypeRules(create=networking_validation.create_network_policy)
    printer = networking_tables.NETWORK_POLICY
    tracks_generation = True

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_network_policy(obj)
