"""Validation of the CSI objects of ``storage.k8s.io/v1`` (CSIDriver, CSINode, CSIStorageCapacity) and
VolumeAttachment, after upstream's ``pkg/apis/storage/validation`` (StorageClass lives in ``other``)."""

from __future__ import annotations

from typing import Any

from kybernetes.api.errors import Cause
from kybernetes.api.validation import field as f
from kybernetes.api.validation import meta, names
from kybernetes.api.validation.podspec import _dict, _list, _s

FS_GROUP_POLICIES = ("File", "None", "ReadWriteOnceWithFSType")
LIFECYCLE_MODES = ("Ephemeral", "Persistent")
MAX_NODE_ID_LENGTH = 192


def validate_csi_driver_name(driver: Any, path: str) -> list[Cause]:
    """``ValidateCSIDriverName``: required, at most 63 characters, a (lower-cased) DNS subdomain."""
    driver = _s(driver)
    out: list[Cause] = []
    if not driver:
        out.append(f.required(path))
    if len(driver) > 63:
        out.append(f.too_long(path, 63))
    out += f.invalid_each(path, driver, names.is_dns1123_subdomain(driver.lower()))
    return out


# -- VolumeAttachment --------------------------------------------------------------------------------


def create_volume_attachment(obj: dict[str, Any]) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    out = validate_csi_driver_name(spec.get("attacher"), "spec.attacher")
    node = _s(spec.get("nodeName"))
    if not node:
        out.append(f.required("spec.nodeName"))
    else:
        out += f.invalid_each("spec.nodeName", node, names.is_dns1123_subdomain(node))
    source = _dict(spec.get("source"))
    has_pv = bool(_s(source.get("persistentVolumeName")))
    has_inline = source.get("inlineVolumeSpec") is not None
    if has_pv == has_inline:
        out.append(
            f.required("spec.source", "must specify exactly one of inlineVolumeSpec and persistentVolumeName")
        )
    elif has_pv:
        pv = _s(source["persistentVolumeName"])
        out += f.invalid_each("spec.source.persistentVolumeName", pv, names.path_segment_name(pv, False))
    return out


def update_volume_attachment(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    out = create_volume_attachment(new)
    if not f.semantic_equal(new.get("spec"), old.get("spec")):
        out.append(f.invalid("spec", new.get("spec"), "field is immutable"))
    return out


def status_volume_attachment(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    status = _dict(new.get("status"))
    out: list[Cause] = []
    for key in ("attachError", "detachError"):
        error = status.get(key)
        if isinstance(error, dict) and len(_s(error.get("message"))) > 1024:
            out.append(f.too_long(f.child("status", key, "message"), 1024))
    return out


# -- CSIDriver ---------------------------------------------------------------------------------------


def create_csi_driver(obj: dict[str, Any]) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    out = validate_csi_driver_name(_dict(obj.get("metadata")).get("name"), "name")
    if spec.get("attachRequired") is None:
        out.append(f.required("spec.attachRequired"))
    if spec.get("podInfoOnMount") is None:
        out.append(f.required("spec.podInfoOnMount"))
    policy = spec.get("fsGroupPolicy")
    if policy is not None and policy not in FS_GROUP_POLICIES:
        out.append(f.not_supported("spec.fsGroupPolicy", policy, FS_GROUP_POLICIES))
    for i, mode in enumerate(_list(spec.get("volumeLifecycleModes"))):
        if mode not in LIFECYCLE_MODES:
            out.append(f.not_supported(f.index("spec.volumeLifecycleModes", i), mode, LIFECYCLE_MODES))
    seen: set[str] = set()
    for i, token in enumerate(_list(spec.get("tokenRequests"))):
        audience = _s(_dict(token).get("audience"))
        p = f.index("spec.tokenRequests", i)
        if audience in seen:
            out.append(
                f.duplicate(
                    f.child(p, "audience"),
                    audience,
                    "may not specify more than one token request per audience",
                )
            )
        seen.add(audience)
        seconds = _dict(token).get("expirationSeconds")
        if isinstance(seconds, int) and not isinstance(seconds, bool):
            if seconds < 600:
                out.append(
                    f.invalid(
                        f.child(p, "expirationSeconds"),
                        seconds,
                        "may not specify a duration less than 10 minutes",
                    )
                )
            elif seconds > 1 << 32:
                out.append(
                    f.invalid(
                        f.child(p, "expirationSeconds"),
                        seconds,
                        "may not specify a duration larger than 2^32 seconds",
                    )
                )
    return out


def update_csi_driver(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    out = create_csi_driver(new)
    spec, old_spec = _dict(new.get("spec")), _dict(old.get("spec"))
    for key in ("attachRequired", "fsGroupPolicy", "volumeLifecycleModes"):
        out += f.immutable(spec.get(key), old_spec.get(key), f.child("spec", key))
    return out


# -- CSINode -----------------------------------------------------------------------------------------


def create_csi_node(obj: dict[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    seen: set[str] = set()
    for i, driver in enumerate(_list(_dict(obj.get("spec")).get("drivers"))):
        driver = _dict(driver)
        p = f.index("spec.drivers", i)
        driver_name = _s(driver.get("name"))
        out += validate_csi_driver_name(driver_name, f.child(p, "name"))
        if driver_name in seen:
            out.append(f.duplicate(f.child(p, "name"), driver_name))
        seen.add(driver_name)
        node_id = _s(driver.get("nodeID"))
        if not node_id:
            out.append(f.required(f.child(p, "nodeID"), "nodeID must be provided"))
        elif len(node_id) > MAX_NODE_ID_LENGTH:
            out.append(
                f.invalid(f.child(p, "nodeID"), node_id, f"must be {MAX_NODE_ID_LENGTH} characters or less")
            )
        keys: set[str] = set()
        for j, key in enumerate(_list(driver.get("topologyKeys"))):
            kp = f.index(f.child(p, "topologyKeys"), j)
            key = _s(key)
            if not key:
                out.append(f.required(kp))
            elif key in keys:
                out.append(f.duplicate(kp, key))
            else:
                out += f.invalid_each(kp, key, names.is_qualified_name(key))
            keys.add(key)
        count = _dict(driver.get("allocatable")).get("count")
        out += f.nonnegative(count, f.child(p, "allocatable", "count"))
    return out


def update_csi_node(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    out = create_csi_node(new)
    old_drivers = {_s(_dict(d).get("name")): _dict(d) for d in _list(_dict(old.get("spec")).get("drivers"))}
    for i, driver in enumerate(_list(_dict(new.get("spec")).get("drivers"))):
        driver = _dict(driver)
        before = old_drivers.get(_s(driver.get("name")))
        if before is None:
            continue
        p = f.index("spec.drivers", i)
        out += f.immutable(driver.get("nodeID"), before.get("nodeID"), f.child(p, "nodeID"))
        out += f.immutable(driver.get("allocatable"), before.get("allocatable"), f.child(p, "allocatable"))
        out += f.immutable(driver.get("topologyKeys"), before.get("topologyKeys"), f.child(p, "topologyKeys"))
    return out


# -- CSIStorageCapacity ------------------------------------------------------------------------------


def create_csi_storage_capacity(obj: dict[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    class_name = _s(obj.get("storageClassName"))
    if not class_name:
        out.append(f.required("storageClassName"))
    else:
        out += f.invalid_each("storageClassName", class_name, names.is_dns1123_subdomain(class_name))
    out += meta.validate_label_selector(obj.get("nodeTopology"), "nodeTopology")
    for key in ("capacity", "maximumVolumeSize"):
        value = obj.get(key)
        if isinstance(value, str) and value.startswith("-"):
            out.append(f.invalid(key, value, "must be greater than or equal to 0"))
    return out


def update_csi_storage_capacity(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    out = create_csi_storage_capacity(new)
    for key in ("storageClassName", "nodeTopology"):
        out += f.immutable(new.get(key), old.get(key), key)
    return out
