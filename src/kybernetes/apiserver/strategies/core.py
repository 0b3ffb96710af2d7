"""Strategies of the core/v1 kinds: each binds its validation rules, defaulter, table printer and
field-selector rules; pods (graceful deletion, QoS, ephemeral containers), namespaces (Terminating,
always-pending deletion), nodes, services (IP and node-port allocation, quota on update), claims,
bindings (a create that is ``pods/binding``) and the computed ComponentStatus add behaviour of their own."""

from __future__ import annotations

import ipaddress
import random
from typing import Any

from kybernetes.api import defaults, errors, selectors
from kybernetes.api.pods import compute_qos_class
from kybernetes.api.tables import cluster as cluster_tables
from kybernetes.api.tables import core as core_tables
from kybernetes.api.tables import events as events_tables
from kybernetes.api.tables import pods as pods_tables
from kybernetes.api.tables import storage as storage_tables
from kybernetes.api.validation import TypeRules, names
from kybernetes.api.validation import apps as apps_validation
from kybernetes.api.validation import core as core_validation
from kybernetes.apiserver.strategies.base import ServerContext, StoreReader, Strategy
from kybernetes.apiserver.strategies.component_status import DEPRECATION_WARNING, component_statuses

DEFAULT_POD_GRACE_SECONDS = 30
TERMINAL_PHASES = ("Succeeded", "Failed")


class PodStrategy(Strategy):
    rules = TypeRules(
        create=core_validation.create_pod,
        update=core_validation.update_pod,
        status=core_validation.status_pod,
        subresource=core_validation.update_pod_ephemeral_containers_subresource,
    )
    printer = pods_tables.POD
    field_rules = selectors.POD_FIELDS

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_pod(obj)

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        obj["status"] = {"phase": "Pending"}

    async def before_create(self, store: StoreReader, obj: dict[str, Any]) -> None:
        # After defaulting (requests default to limits) and mutating admission (LimitRanger), as upstream
        # computes it on the decoded, defaulted and admitted pod.
        obj.setdefault("status", {})["qosClass"] = compute_qos_class(obj)

    # ``pods/ephemeralcontainers`` is written like ``/status``: a subresource that owns one part of the pod.
    status_subresources = ("status", "ephemeralcontainers")

    def prepare_for_subresource_update(
        self, subresource: str, new: dict[str, Any], old: dict[str, Any]
    ) -> None:
        if subresource == "ephemeralcontainers":
            self._keep_all_but_ephemeral_containers(new, old)
        else:
            self.prepare_for_status_update(new, old)

    @staticmethod
    def _keep_all_but_ephemeral_containers(new: dict[str, Any], old: dict[str, Any]) -> None:
        """``pods/ephemeralcontainers`` changes ``spec.ephemeralContainers`` only (upstream's
        ``dropNonEphemeralContainerUpdates``): the rest of the spec and the status stay as stored."""
        spec = raw if isinstance(raw := new.get("spec"), dict) else {}
        wanted = spec.get("ephemeralContainers")
        kept = dict(old.get("spec") or {})
        if wanted is None:
            kept.pop("ephemeralContainers", None)
        else:
            kept["ephemeralContainers"] = wanted
        new["spec"] = kept
        if "status" in old:
            new["status"] = old["status"]
        else:
            new.pop("status", None)

    def grace_period(self, obj: dict[str, Any], requested: int | None) -> int | None:
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        if not spec.get("nodeName") or status.get("phase") in TERMINAL_PHASES:
            return 0  # never ran, or done: nothing to stop
        if requested is not None:
            return max(0, requested)
        md_grace = (obj.get("metadata") or {}).get("deletionGracePeriodSeconds")
        if md_grace is not None:
            return int(md_grace)
        value = spec.get("terminationGracePeriodSeconds")
        return int(value) if isinstance(value, int) else DEFAULT_POD_GRACE_SECONDS

    def deletion_pending(self, obj: dict[str, Any]) -> bool:
        return bool((obj.get("metadata") or {}).get("deletionGracePeriodSeconds"))


class NamespaceStrategy(Strategy):
    rules = TypeRules(
        name_fn=names.name_is_dns_label,
        create=core_validation.create_namespace,
        update=core_validation.update_namespace,
        status=core_validation.status_namespace,
    )
    printer = core_tables.NAMESPACE
    field_rules = selectors.NAMESPACE_FIELDS

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_namespace(obj)

    deletion_always_pending = True

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        obj["status"] = {"phase": "Active"}

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_for_update(new, old)
        # spec.finalizers change only through /finalize
        if "spec" in old:
            new["spec"] = old["spec"]

    def on_delete_requested(self, obj: dict[str, Any]) -> None:
        obj.setdefault("status", {})["phase"] = "Terminating"

    def deletion_pending(self, obj: dict[str, Any]) -> bool:
        return bool((obj.get("spec") or {}).get("finalizers"))


class NodeStrategy(Strategy):
    rules = TypeRules(
        create=core_validation.create_node,
        update=core_validation.update_node,
        status=core_validation.status_node,
    )
    printer = core_tables.NODE
    field_rules = selectors.NODE_FIELDS

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_node(obj)

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        """The kubelet registers its Node with status; keep it (as upstream does)."""


class PersistentVolumeClaimStrategy(Strategy):
    rules = TypeRules(
        create=core_validation.create_persistent_volume_claim,
        update=core_validation.update_persistent_volume_claim,
    )
    printer = storage_tables.PERSISTENT_VOLUME_CLAIM

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_pvc(obj)

    charges_quota_on_update = True


class BindingStrategy(Strategy):
    """``POST namespaces/<ns>/bindings`` binds the pod the Binding names, as ``pods/<name>/binding``."""

    create_as_subresource = ("pods", "binding")


class ComponentStatusStrategy(Strategy):
    """Computed on each read from the control plane's leases and the store, never stored."""

    printer = cluster_tables.COMPONENT_STATUS

    computed = True
    read_warnings = (DEPRECATION_WARNING,)

    async def computed_items(self, ctx: ServerContext) -> list[dict[str, Any]]:
        return await component_statuses(ctx)


class ServiceStrategy(Strategy):
    """Allocates cluster IPs and node ports, and keeps them across updates."""

    rules = TypeRules(
        name_fn=names.name_is_dns1035_label,
        create=core_validation.create_service,
        update=core_validation.update_service,
    )
    printer = core_tables.SERVICE
    field_rules = selectors.SERVICE_FIELDS

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_service(obj)

    charges_quota_on_update = True

    service_cidr = ipaddress.ip_network("10.96.0.0/12")
    node_port_range = (30000, 32767)

    async def _used(self, store: StoreReader) -> tuple[set[str], set[int]]:
        ips: set[str] = set()
        ports: set[int] = set()
        result = await store.list(None)
        for svc in result.items:
            spec = svc.get("spec") or {}
            for ip in spec.get("clusterIPs") or [spec.get("clusterIP")]:
                if ip:
                    ips.add(ip)
            for port in spec.get("ports") or []:
                if isinstance(port, dict) and port.get("nodePort"):
                    ports.add(int(port["nodePort"]))
        return ips, ports

    def _pick_ip(self, used: set[str]) -> str:
        net = self.service_cidr
        for _ in range(2048):
            offset = random.randint(10, min(net.num_addresses - 2, 1 << 20))
            ip = str(net.network_address + offset)
            if ip not in used:
                return ip
        raise errors.StatusError(500, "InternalError", "no cluster IP addresses left in the service range")

    async def before_create(self, store: StoreReader, obj: dict[str, Any]) -> None:
        spec = obj.setdefault("spec", {})
        svc_type = spec.get("type", "ClusterIP")
        if svc_type == "ExternalName":
            return
        used_ips, used_ports = await self._used(store)
        requested = spec.get("clusterIP")
        if requested == "None":
            spec["clusterIPs"] = ["None"]
        elif requested:
            self._check_in_range(obj, requested)
            if requested in used_ips:
                raise errors.invalid(
                    "Service",
                    obj["metadata"]["name"],
                    [
                        errors.Cause(
                            "spec.clusterIPs",
                            f'Invalid value: []string{{"{requested}"}}: failed to allocate IP {requested}: '
                            "provided IP is already allocated",
                        )
                    ],
                )
            spec["clusterIPs"] = [requested]
        else:
            ip = self._pick_ip(used_ips)
            spec["clusterIP"] = ip
            spec["clusterIPs"] = [ip]
        if svc_type in ("NodePort", "LoadBalancer"):
            for port in spec.get("ports") or []:
                if isinstance(port, dict) and not port.get("nodePort"):
                    port["nodePort"] = self._pick_port(used_ports)
                    used_ports.add(port["nodePort"])
            spec.setdefault("externalTrafficPolicy", "Cluster")
        if svc_type == "LoadBalancer":
            spec.setdefault("allocateLoadBalancerNodePorts", True)
        obj["status"] = {"loadBalancer": {}}

    def _check_in_range(self, obj: dict[str, Any], requested: str) -> None:
        try:
            inside = ipaddress.ip_address(requested) in self.service_cidr
        except ValueError:
            return  # a malformed address is validation's to report
        if not inside:
            raise errors.invalid(
                "Service",
                obj["metadata"]["name"],
                [
                    errors.Cause(
                        "spec.clusterIPs[0]",
                        f'Invalid value: "{requested}": provided IP is not in the valid range. '
                        f"The range of valid IPs is {self.service_cidr}",
                    )
                ],
            )

    def _pick_port(self, used: set[int]) -> int:
        low, high = self.node_port_range
        for _ in range(4096):
            port = random.randint(low, high)
            if port not in used:
                return port
        raise errors.StatusError(500, "InternalError", "no node ports left in the range")

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """Allocated cluster IPs and node ports survive an update that leaves them out (as upstream)."""
        super().prepare_for_update(new, old)
        spec = new.get("spec")
        if not isinstance(spec, dict):
            return
        old_spec = old.get("spec") or {}
        if spec.get("type", "ClusterIP") != "ExternalName":
            for key in ("clusterIP", "clusterIPs"):
                if not spec.get(key) and old_spec.get(key):
                    spec[key] = old_spec[key]
        old_ports = {
            (p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
            for p in old_spec.get("ports") or []
            if isinstance(p, dict)
        }
        if spec.get("type") in ("NodePort", "LoadBalancer"):
            for port in spec.get("ports") or []:
                if isinstance(port, dict) and not port.get("nodePort"):
                    kept = old_ports.get((port.get("port"), port.get("protocol", "TCP")))
                    if kept:
                        port["nodePort"] = kept

    async def before_update(self, store: StoreReader, new: dict[str, Any], old: dict[str, Any]) -> None:
        """Ports newly added to a NodePort/LoadBalancer service get a node port."""
        spec = new.setdefault("spec", {})
        if spec.get("type") in ("NodePort", "LoadBalancer"):
            if any(isinstance(p, dict) and not p.get("nodePort") for p in spec.get("ports") or []):
                _, used = await self._used(store)
                for port in spec.get("ports") or []:
                    if isinstance(port, dict) and not port.get("nodePort"):
                        port["nodePort"] = self._pick_port(used)
                        used.add(port["nodePort"])


class EndpointsStrategy(Strategy):
    rules = TypeRules(create=core_validation.create_endpoints)
    printer = core_tables.ENDPOINTS

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_endpoints(obj)


class ConfigMapStrategy(Strategy):
    rules = TypeRules(create=core_validation.create_config_map, update=core_validation.update_config_map)
    printer = core_tables.CONFIG_MAP


class SecretStrategy(Strategy):
    rules = TypeRules(create=core_validation.create_secret, update=core_validation.update_secret)
    printer = core_tables.SECRET
    field_rules = selectors.SECRET_FIELDS

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_secret(obj)


class EventStrategy(Strategy):
    rules = TypeRules(create=core_validation.create_event)
    printer = events_tables.EVENT
    field_rules = selectors.EVENT_FIELDS


class ServiceAccountStrategy(Strategy):
    printer = core_tables.SERVICE_ACCOUNT


class PersistentVolumeStrategy(Strategy):
    rules = TypeRules(
        name_fn=names.path_segment_name,
        create=core_validation.create_persistent_volume,
        update=core_validation.update_persistent_volume,
    )
    printer = storage_tables.PERSISTENT_VOLUME

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_pv(obj)


class ResourceQuotaStrategy(Strategy):
    rules = TypeRules(create=core_validation.create_resource_quota)
    printer = core_tables.RESOURCE_QUOTA


class LimitRangeStrategy(Strategy):
    rules = TypeRules(create=core_validation.create_limit_range)

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_limit_range(obj)


class PodTemplateStrategy(Strategy):
    rules = TypeRules(create=core_validation.create_pod_template)
    printer = core_tables.POD_TEMPLATE

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_pod_template_kind(obj)


class ReplicationControllerStrategy(Strategy):
    rules = TypeRules(
        create=core_validation.create_replication_controller, status=apps_validation.status_replicas
    )
    printer = core_tables.REPLICATION_CONTROLLER
    field_rules = selectors.REPLICATION_CONTROLLER_FIELDS
    tracks_generation = True

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_replication_controller(obj)
