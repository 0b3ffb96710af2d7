"""One small strategy per resource that differs from the default; ``strategy_for`` picks it."""

from __future__ import annotations

from kybernetes.api.registry import ResourceInfo
from kybernetes.apiserver.strategies.apiextensions import CRDStrategy
from kybernetes.apiserver.strategies.base import Strategy
from kybernetes.apiserver.strategies.batch import JobStrategy
from kybernetes.apiserver.strategies.cluster import APIServiceStrategy, CertificateSigningRequestStrategy
from kybernetes.apiserver.strategies.core import NamespaceStrategy, NodeStrategy, PodStrategy, ServiceStrategy
from kybernetes.apiserver.strategies.custom import CustomResourceStrategy

_BY_KIND: dict[tuple[str, str], type[Strategy]] = {
    ("", "Pod"): PodStrategy,
    ("", "Namespace"): NamespaceStrategy,
    ("", "Node"): NodeStrategy,
    ("", "Service"): ServiceStrategy,
    ("batch", "Job"): JobStrategy,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): CRDStrategy,
    ("certificates.k8s.io", "CertificateSigningRequest"): CertificateSigningRequestStrategy,
    ("apiregistration.k8s.io", "APIService"): APIServiceStrategy,
}


def strategy_for(info: ResourceInfo) -> Strategy:
    if info.custom:
        return CustomResourceStrategy(info)
    return _BY_KIND.get((info.group, info.kind), Strategy)(info)
