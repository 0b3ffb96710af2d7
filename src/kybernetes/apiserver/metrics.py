"""Prometheus metrics of the API server: request counts and latencies by verb, resource and code."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

REGISTRY = CollectorRegistry()

REQUESTS = Counter(
    "apiserver_request_total",
    "Counter of apiserver requests broken out by verb, group, version, resource, subresource and code.",
    ["verb", "group", "version", "resource", "subresource", "code"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "apiserver_request_duration_seconds",
    "Response latency distribution in seconds for each verb, group, version, resource and subresource.",
    ["verb", "group", "version", "resource", "subresource"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0),
    registry=REGISTRY,
)


def render() -> bytes:
    return generate_latest(REGISTRY)


def verb_of(method: str, has_name: bool, watch: bool) -> str:
    """Upstream's verb labels: GET on a collection is LIST (or WATCH), on an object GET."""
    if watch:
        return "WATCH"
    if method == "GET":
        return "GET" if has_name else "LIST"
    if method == "DELETE" and not has_name:
        return "DELETECOLLECTION"
    return method
