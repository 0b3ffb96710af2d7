"""Discovery documents: aggregated (v2 / v2beta1), negotiation, and the legacy documents."""

from __future__ import annotations

import base64
import dataclasses

import pytest

from kybernetes.api.registry import BUILTIN_RESOURCES, Registry, ResourceInfo, SubresourceInfo
from kybernetes.apiserver.discovery import (
    aggregated_discovery,
    api_group,
    api_group_list,
    api_resource_list,
    api_versions,
    discovery_content_type,
    negotiate_discovery,
    storage_version_hash,
)

V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
KUBECTL_ACCEPT = f"{V2},{V2BETA1},application/json"

CRONTAB = ResourceInfo(
    group="stable.example.com",
    version="v1",
    kind="CronTab",
    plural="crontabs",
    singular="crontab",
    namespaced=True,
    short_names=("ct",),
    categories=("all",),
    subresources=(SubresourceInfo("status", ""),),
    custom=True,
)


@pytest.fixture
def registry() -> Registry:
    return Registry.builtin()


def _aggregated_resources(doc: dict) -> dict[tuple[str, str, str], dict]:
    out = {}
    for item in doc["items"]:
        for version in item["versions"]:
            for res in version["resources"]:
                out[(item["metadata"]["name"], version["version"], res["resource"])] = res
    return out


# --- negotiation ------------------------------------------------------------------------------------------


class TestNegotiation:
    def test_kubectl_132_gets_v2(self) -> None:
        assert negotiate_discovery(KUBECTL_ACCEPT) == (V2, "v2")

    def test_old_kubectl_offering_only_v2beta1(self) -> None:
        assert negotiate_discovery(f"{V2BETA1},application/json") == (V2BETA1, "v2beta1")

    def test_client_order_is_honoured(self) -> None:
        assert negotiate_discovery(f"{V2BETA1},{V2}") == (V2BETA1, "v2beta1")

    @pytest.mark.parametrize("accept", ["application/json", "*/*", "", "application/json, */*"])
    def test_plain_json_means_legacy(self, accept: str) -> None:
        assert negotiate_discovery(accept) is None

    def test_plain_json_first_wins_over_aggregated(self) -> None:
        assert negotiate_discovery(f"application/json,{V2}") is None

    def test_quality_values_reorder(self) -> None:
        assert negotiate_discovery(f"application/json;q=0.5,{V2BETA1};q=0.9") == (V2BETA1, "v2beta1")
        assert negotiate_discovery(f"{V2};q=0,application/json") is None

    def test_whitespace_and_case_tolerated(self) -> None:
        accept = "Application/JSON ; g=apidiscovery.k8s.io ; v=v2 ; as=APIGroupDiscoveryList"
        assert negotiate_discovery(accept) == (V2, "v2")

    def test_unserved_types_are_skipped(self) -> None:
        accept = (
            "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
            "application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList,"
            "application/json;as=Table;v=v1;g=meta.k8s.io,"
            f"{V2BETA1}"
        )
        assert negotiate_discovery(accept) == (V2BETA1, "v2beta1")

    def test_content_type_is_exact(self) -> None:
        assert discovery_content_type("v2") == V2
        assert discovery_content_type("v2beta1") == V2BETA1


# --- aggregated -------------------------------------------------------------------------------------------


class TestAggregated:
    @pytest.mark.parametrize("version", ["v2", "v2beta1"])
    def test_envelope(self, registry: Registry, version: str) -> None:
        doc = aggregated_discovery(registry, core=True, version=version)  # type: ignore[arg-type]
        assert doc["apiVersion"] == f"apidiscovery.k8s.io/{version}"
        assert doc["kind"] == "APIGroupDiscoveryList"
        assert doc["metadata"] == {}

    def test_core_holds_only_the_legacy_group(self, registry: Registry) -> None:
        doc = aggregated_discovery(registry, core=True, version="v2")
        assert [item["metadata"]["name"] for item in doc["items"]] == [""]
        assert [v["version"] for v in doc["items"][0]["versions"]] == ["v1"]
        assert doc["items"][0]["versions"][0]["freshness"] == "Current"

    def test_named_groups_exclude_core(self, registry: Registry) -> None:
        doc = aggregated_discovery(registry, core=False, version="v2")
        names = [item["metadata"]["name"] for item in doc["items"]]
        assert "" not in names
        # the aggregator's own group ranks above every APIService, as upstream lists it
        assert names[:2] == ["apiregistration.k8s.io", "apps"]
        assert set(names) == {i.group for i in BUILTIN_RESOURCES if i.group}

    def test_every_builtin_resource_present(self, registry: Registry) -> None:
        found = _aggregated_resources(aggregated_discovery(registry, core=True, version="v2"))
        found |= _aggregated_resources(aggregated_discovery(registry, core=False, version="v2"))
        for info in BUILTIN_RESOURCES:
            res = found[(info.group, info.version, info.plural)]
            assert res["responseKind"] == {"group": info.group, "version": info.version, "kind": info.kind}
            assert res["scope"] == ("Namespaced" if info.namespaced else "Cluster")
            assert res["singularResource"] == info.singular
            assert res["verbs"] == list(info.verbs)
            assert res.get("shortNames", []) == list(info.short_names)
            assert res.get("categories", []) == list(info.categories)
            assert [s["subresource"] for s in res.get("subresources", [])] == sorted(
                s.name for s in info.subresources
            )

    def test_resource_shape(self, registry: Registry) -> None:
        pods = _aggregated_resources(aggregated_discovery(registry, core=True, version="v2"))[
            ("", "v1", "pods")
        ]
        assert pods["shortNames"] == ["po"]
        assert pods["categories"] == ["all"]
        assert set(pods) >= {"resource", "responseKind", "scope", "singularResource", "verbs", "subresources"}

    def test_subresource_kinds(self, registry: Registry) -> None:
        found = _aggregated_resources(aggregated_discovery(registry, core=False, version="v2"))
        found |= _aggregated_resources(aggregated_discovery(registry, core=True, version="v2"))
        subs = {s["subresource"]: s for s in found[("apps", "v1", "deployments")]["subresources"]}
        assert subs["scale"]["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
        assert subs["scale"]["verbs"] == ["get", "patch", "update"]
        assert subs["status"]["responseKind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
        pod_subs = {s["subresource"]: s for s in found[("", "v1", "pods")]["subresources"]}
        assert pod_subs["eviction"]["responseKind"] == {
            "group": "policy",
            "version": "v1",
            "kind": "Eviction",
        }
        assert pod_subs["eviction"]["verbs"] == ["create"]
        assert pod_subs["log"]["responseKind"] == {"group": "", "version": "v1", "kind": "Pod"}
        assert pod_subs["binding"]["responseKind"] == {"group": "", "version": "v1", "kind": "Binding"}

    def test_custom_resource_appears(self, registry: Registry) -> None:
        registry.add(CRONTAB)
        doc = aggregated_discovery(registry, core=False, version="v2beta1")
        res = _aggregated_resources(doc)[("stable.example.com", "v1", "crontabs")]
        assert res["responseKind"]["kind"] == "CronTab"
        assert res["shortNames"] == ["ct"]
        assert res["categories"] == ["all"]
        assert res["subresources"][0]["responseKind"]["kind"] == "CronTab"
        registry.remove("stable.example.com", "v1", "crontabs")
        names = [
            i["metadata"]["name"] for i in aggregated_discovery(registry, core=False, version="v2")["items"]
        ]
        assert "stable.example.com" not in names

    def test_preferred_version_first(self, registry: Registry) -> None:
        registry.add(CRONTAB)
        registry.add(dataclasses.replace(CRONTAB, version="v2"))
        doc = aggregated_discovery(registry, core=False, version="v2")
        item = next(i for i in doc["items"] if i["metadata"]["name"] == "stable.example.com")
        assert [v["version"] for v in item["versions"]] == ["v1", "v2"]


# --- legacy -----------------------------------------------------------------------------------------------


class TestLegacy:
    def test_api_versions(self) -> None:
        doc = api_versions("10.0.0.1:6443")
        assert doc["kind"] == "APIVersions"
        assert doc["versions"] == ["v1"]
        assert doc["serverAddressByClientCIDRs"] == [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": "10.0.0.1:6443"}
        ]
        assert api_versions()["serverAddressByClientCIDRs"][0]["clientCIDR"] == "0.0.0.0/0"

    def test_api_group_list(self, registry: Registry) -> None:
        doc = api_group_list(registry)
        assert doc["kind"] == "APIGroupList"
        groups = {g["name"]: g for g in doc["groups"]}
        assert "" not in groups
        assert groups["apps"]["versions"] == [{"groupVersion": "apps/v1", "version": "v1"}]
        assert groups["apps"]["preferredVersion"] == {"groupVersion": "apps/v1", "version": "v1"}
        assert groups["autoscaling"]["preferredVersion"]["version"] == "v2"

    def test_api_group(self, registry: Registry) -> None:
        doc = api_group(registry, "batch")
        assert doc is not None
        assert doc["kind"] == "APIGroup"
        assert doc["name"] == "batch"
        assert doc["preferredVersion"] == {"groupVersion": "batch/v1", "version": "v1"}
        assert api_group(registry, "nope.example.com") is None
        assert api_group(registry, "") is None

    def test_core_resource_list(self, registry: Registry) -> None:
        doc = api_resource_list(registry, "", "v1")
        assert doc is not None
        assert doc["kind"] == "APIResourceList"
        assert doc["groupVersion"] == "v1"
        by_name = {r["name"]: r for r in doc["resources"]}
        for info in BUILTIN_RESOURCES:
            if info.group == "":
                assert by_name[info.plural]["kind"] == info.kind
                assert by_name[info.plural]["namespaced"] == info.namespaced
                for sub in info.subresources:
                    assert f"{info.plural}/{sub.name}" in by_name
        pods = by_name["pods"]
        assert pods["singularName"] == "pod"
        assert pods["shortNames"] == ["po"]
        assert pods["categories"] == ["all"]
        assert len(base64.b64decode(pods["storageVersionHash"])) == 8
        log = by_name["pods/log"]
        assert log == {
            "name": "pods/log",
            "singularName": "",
            "namespaced": True,
            "kind": "Pod",
            "verbs": ["get"],
        }
        eviction = by_name["pods/eviction"]
        assert (eviction["group"], eviction["version"], eviction["kind"]) == ("policy", "v1", "Eviction")
        assert by_name["namespaces/finalize"]["verbs"] == ["update"]
        assert by_name["namespaces"]["namespaced"] is False

    def test_group_resource_list(self, registry: Registry) -> None:
        doc = api_resource_list(registry, "apps", "v1")
        assert doc is not None
        assert doc["groupVersion"] == "apps/v1"
        by_name = {r["name"]: r for r in doc["resources"]}
        scale = by_name["deployments/scale"]
        assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
        assert by_name["deployments/status"]["kind"] == "Deployment"
        assert "group" not in by_name["deployments/status"]
        assert by_name["deployments"]["shortNames"] == ["deploy"]

    def test_unknown_group_version(self, registry: Registry) -> None:
        assert api_resource_list(registry, "apps", "v2") is None
        assert api_resource_list(registry, "nope", "v1") is None

    def test_every_builtin_listed(self, registry: Registry) -> None:
        for info in BUILTIN_RESOURCES:
            doc = api_resource_list(registry, info.group, info.version)
            assert doc is not None
            assert info.plural in {r["name"] for r in doc["resources"]}

    def test_custom_resource_listed(self, registry: Registry) -> None:
        registry.add(CRONTAB)
        groups = {g["name"] for g in api_group_list(registry)["groups"]}
        assert "stable.example.com" in groups
        doc = api_resource_list(registry, "stable.example.com", "v1")
        assert doc is not None
        assert [r["name"] for r in doc["resources"]] == ["crontabs", "crontabs/status"]

    def test_storage_version_hash_matches_upstream(self) -> None:
        assert storage_version_hash("", "v1", "Pod") == "xPOwRZ+Yhw8="
        assert storage_version_hash("apps", "v1", "Deployment") == "8aSe+NMegvE="
