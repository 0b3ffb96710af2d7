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
MAX_ATTACHMENT_METADATA_SIZE = 256 * 1024
MAX_VOLUME_ERROR_MESSAGE_SIZE = 1024


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
    out: list[Cause] = []
    attacher = _s(spec.get("attacher"))
    if not attacher:
        out.append(f.required("spec.attacher"))
    source = _dict(spec.get("source"))
    pv, inline = source.get("persistentVolumeName"), source.get("inlineVolumeSpec")
    if pv is None and inline is None:
        out.append(
            f.required("spec.source", "must specify exactly one of inlineVolumeSpec and persistentVolumeName")
        )
    elif pv is not None and inline is not None:
        out.append(
            f.forbidden(
                "spec.source", "must specify exactly one of inlineVolumeSpec and persistentVolumeName"
            )
        )
    elif pv is not None and not _s(pv):
        out.append(
            f.required("spec.source.persistentVolumeName", "must specify non empty persistentVolumeName")
        )
    node = _s(spec.get("nodeName"))
    out += f.invalid_each("spec.nodeName", node, names.is_dns1123_subdomain(node))
    # the v1 checks: the attacher is a CSI driver name, the PV name a path segment
    out += validate_csi_driver_name(attacher, "spec.attacher")
    if _s(pv):
        out += f.invalid_each(
            "spec.source.persistentVolumeName", _s(pv), names.path_segment_name(_s(pv), False)
        )
    return out


def update_volume_attachment(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    out = create_volume_attachment(new)
    if not f.semantic_equal(new.get("spec"), old.get("spec")):
        out.append(f.invalid("spec", new.get("spec"), "field is immutable"))
    return out


def status_volume_attachment(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    status = _dict(new.get("status"))
    out: list[Cause] = []
    metadata = _dict(status.get("attachmentMetadata"))
    if sum(len(_s(k)) + len(_s(v)) for k, v in metadata.items()) > MAX_ATTACHMENT_METADATA_SIZE:
        out.append(f.too_long("status.attachmentMetadata", MAX_ATTACHMENT_METADATA_SIZE))
    for key in ("attachError", "detachError"):
        error = status.get(key)
        if not isinstance(error, dict):
            continue
        if len(_s(error.get("message"))) > MAX_VOLUME_ERROR_MESSAGE_SIZE:
            out.append(f.too_long(f.child("status", key, "message"), MAX_ATTACHMENT_METADATA_SIZE))
        code = error.get("errorCode")
        if isinstance(code, int) and code < 0:
            out.append(
                f.invalid(
                    f.child("status", key, "errorCode"), code, names.inclusive_range_error(0, 2147483647)
                )
            )
    return out


# -- CSIDriver ---------------------------------------------------------------------------------------


def create_csi_driver(obj: dict[str, Any]) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    out: list[Cause] = []
    # upstream's paths: attachRequired is reported as "attachedRequired"
    for key, path in (
        ("attachRequired", "spec.attachedRequired"),
        ("podInfoOnMount", "spec.podInfoOnMount"),
        ("storageCapacity", "spec.storageCapacity"),
    ):
        if spec.get(key) is None:
            out.append(f.required(path))
    policy = spec.get("fsGroupPolicy")
    if policy is not None and policy not in FS_GROUP_POLICIES:
        out.append(f.not_supported("spec.fsGroupPolicy", policy, FS_GROUP_POLICIES))
    seen: set[str] = set()
    for i, token in enumerate(_list(spec.get("tokenRequests"))):
        token = _dict(token)
        audience = _s(token.get("audience"))
        p = f.index("spec.tokenRequests", i)
        if audience in seen:
            out.append(f.duplicate(f.child(p, "audience"), audience))
            continue
        seen.add(audience)
        seconds = token.get("expirationSeconds")
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
    for i, mode in enumerate(_list(spec.get("volumeLifecycleModes"))):
        if mode not in LIFECYCLE_MODES:
            out.append(f.not_supported(f.index("spec.volumeLifecycleModes", i), mode, LIFECYCLE_MODES))
    return out


def update_csi_driver(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    out = create_csi_driver(new)
    spec, old_spec = _dict(new.get("spec")), _dict(old.get("spec"))
    out += f.immutable(spec.get("attachRequired"), old_spec.get("attachRequired"), "spec.attachedRequired")
    out += f.immutable(
        spec.get("volumeLifecycleModes"), old_spec.get("volumeLifecycleModes"), "spec.volumeLifecycleModes"
    )
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
        node_id = _s(driver.get("nodeID"))
        if not node_id:
            out.append(f.required(f.child(p, "nodeID")))
        if len(node_id) > MAX_NODE_ID_LENGTH:
            out.append(
                f.invalid(f.child(p, "nodeID"), node_id, f"must be {MAX_NODE_ID_LENGTH} characters or less")
            )
        out += f.nonnegative(
            _dict(driver.get("allocatable")).get("count"), f.child(p, "allocatable", "count")
        )
        if driver_name in seen:
            out.append(f.duplicate(f.child(p, "name"), driver_name))
        seen.add(driver_name)
        keys: set[str] = set()
        for key in _list(driver.get("topologyKeys")):
            key = _s(key)
            # upstream reports topology key errors at the driver's path
            if not key:
                out.append(f.required(p))
            if key in keys:
                out.append(f.duplicate(p, key))
            keys.add(key)
            out += f.invalid_each(p, key, names.is_qualified_name(key))
    return out


def update_csi_node(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    """Drivers may come and go, but an existing driver entry is immutable."""
    out = create_csi_node(new)
    new_drivers = _list(_dict(new.get("spec")).get("drivers"))
    for before in _list(_dict(old.get("spec")).get("drivers")):
        for after in new_drivers:
            if _dict(before).get("name") == _dict(after).get("name"):
                out += f.immutable(after, before, "spec.drivers")
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
