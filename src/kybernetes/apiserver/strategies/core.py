"""Strategies of core/v1 kinds that differ from the default: pods, namespaces, nodes, services."""

from __future__ import annotations

import ipaddress
import random
from typing import Any

from kybernetes.api import errors
from kybernetes.api.pods import compute_qos_class
from kybernetes.apiserver.strategies.base import StoreReader, Strategy

DEFAULT_POD_GRACE_SECONDS = 30
TERMINAL_PHASES = ("Succeeded", "Failed")


class PodStrategy(Strategy):
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
    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        """The kubelet registers its Node with status; keep it (as upstream does)."""


class ServiceStrategy(Strategy):
    """Allocates cluster IPs and node ports, and keeps them across updates."""

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
