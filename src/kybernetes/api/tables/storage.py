"""Printers for volumes: PersistentVolume, PersistentVolumeClaim (core) and StorageClass
(``storage.k8s.io``), as upstream's ``printers.go`` prints them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kybernetes.api.tables._base import (
    Column,
    Obj,
    Printer,
    age,
    age_column,
    dig,
    items,
    mapping,
    name,
    name_column,
    quantity,
    text,
)

_V1 = "io.k8s.api.core.v1."
_BETA_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"
_ACCESS_MODES = (
    ("ReadWriteOnce", "RWO"),
    ("ReadOnlyMany", "ROX"),
    ("ReadWriteMany", "RWX"),
    ("ReadWriteOncePod", "RWOP"),
)


def access_modes(modes: list[Any]) -> str:
    """``GetAccessModesAsString``: RWO, ROX, RWX, RWOP in that order, duplicates dropped."""
    present = set(map(str, modes))
    return ",".join(short for mode, short in _ACCESS_MODES if mode in present)


def _volume_class(obj: Obj) -> str:
    annotations = mapping(obj, "metadata", "annotations")
    if _BETA_CLASS_ANNOTATION in annotations:
        return str(annotations[_BETA_CLASS_ANNOTATION])
    return text(obj, "spec", "storageClassName")


def _phase(obj: Obj) -> str:
    if dig(obj, "metadata", "deletionTimestamp") is not None:
        return "Terminating"
    return text(obj, "status", "phase")


def _pv_cells(pv: Obj, now: datetime) -> list[Any]:
    claim = dig(pv, "spec", "claimRef")
    claim_text = f"{text(claim, 'namespace')}/{text(claim, 'name')}" if isinstance(claim, dict) else ""
    return [
        name(pv),
        quantity(dig(pv, "spec", "capacity", "storage")),
        access_modes(items(pv, "spec", "accessModes")),
        text(pv, "spec", "persistentVolumeReclaimPolicy"),
        _phase(pv),
        claim_text,
        _volume_class(pv),
        text(pv, "spec", "volumeAttributesClassName") or "<unset>",
        text(pv, "status", "reason"),
        age(pv, now),
        text(pv, "spec", "volumeMode") or "<unset>",
    ]


PERSISTENT_VOLUME = Printer(
    (
        name_column(),
        Column("Capacity", doc=(_V1 + "PersistentVolumeSpec", "capacity")),
        Column("Access Modes", doc=(_V1 + "PersistentVolumeSpec", "accessModes")),
        Column("Reclaim Policy", doc=(_V1 + "PersistentVolumeSpec", "persistentVolumeReclaimPolicy")),
        Column("Status", doc=(_V1 + "PersistentVolumeStatus", "phase")),
        Column("Claim", doc=(_V1 + "PersistentVolumeSpec", "claimRef")),
        Column("StorageClass", doc="StorageClass of the pv"),
        Column("VolumeAttributesClass", doc="VolumeAttributesClass of the pv"),
        Column("Reason", doc=(_V1 + "PersistentVolumeStatus", "reason")),
        age_column(),
        Column("VolumeMode", priority=1, doc=(_V1 + "PersistentVolumeSpec", "volumeMode")),
    ),
    _pv_cells,
)


def _pvc_cells(pvc: Obj, now: datetime) -> list[Any]:
    volume = text(pvc, "spec", "volumeName")
    capacity, modes = "", ""
    if volume:
        modes = access_modes(items(pvc, "status", "accessModes"))
        capacity = quantity(dig(pvc, "status", "capacity", "storage"))
    return [
        name(pvc),
        _phase(pvc),
        volume,
        capacity,
        modes,
        _volume_class(pvc),
        text(pvc, "spec", "volumeAttributesClassName") or "<unset>",
        age(pvc, now),
        text(pvc, "spec", "volumeMode") or "<unset>",
    ]


PERSISTENT_VOLUME_CLAIM = Printer(
    (
        name_column(),
        Column("Status", doc=(_V1 + "PersistentVolumeClaimStatus", "phase")),
        Column("Volume", doc=(_V1 + "PersistentVolumeClaimSpec", "volumeName")),
        Column("Capacity", doc=(_V1 + "PersistentVolumeClaimStatus", "capacity")),
        Column("Access Modes", doc=(_V1 + "PersistentVolumeClaimStatus", "accessModes")),
        Column("StorageClass", doc="StorageClass of the pvc"),
        Column("VolumeAttributesClass", doc="VolumeAttributesClass of the pvc"),
        age_column(),
        Column("VolumeMode", priority=1, doc=(_V1 + "PersistentVolumeClaimSpec", "volumeMode")),
    ),
    _pvc_cells,
)

_DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


def _storage_class_cells(sc: Obj, now: datetime) -> list[Any]:
    annotations = mapping(sc, "metadata", "annotations")
    is_default = any(annotations.get(key) == "true" for key in _DEFAULT_CLASS_ANNOTATIONS)
    return [
        name(sc) + (" (default)" if is_default else ""),
        text(sc, "provisioner"),
        text(sc, "reclaimPolicy") or "Delete",
        text(sc, "volumeBindingMode") or "Immediate",
        bool(dig(sc, "allowVolumeExpansion")),
        age(sc, now),
    ]


_SC = "io.k8s.api.storage.v1.StorageClass"
STORAGE_CLASS = Printer(
    (
        name_column(),
        Column("Provisioner", doc=(_SC, "provisioner")),
        Column("ReclaimPolicy", doc=(_SC, "reclaimPolicy")),
        Column("VolumeBindingMode", doc=(_SC, "volumeBindingMode")),
        Column("AllowVolumeExpansion", doc=(_SC, "allowVolumeExpansion")),
        age_column(),
    ),
    _storage_class_cells,
)


# --- CSI objects and volume attachments (storage.k8s.io/v1) -------------------------------------------

_ST = "io.k8s.api.storage.v1."


def _flag(obj: Obj, field: str, default: bool) -> bool:
    value = dig(obj, "spec", field)
    return default if value is None else bool(value)


def _csi_driver_cells(obj: Obj, now: datetime) -> list[Any]:
    modes = ",".join(str(m) for m in items(obj, "spec", "volumeLifecycleModes")) or "<none>"
    audiences = [text(t, "audience") for t in items(obj, "spec", "tokenRequests")]
    return [
        name(obj),
        _flag(obj, "attachRequired", True),
        _flag(obj, "podInfoOnMount", False),
        _flag(obj, "storageCapacity", False),
        ",".join(audiences) if audiences else "<unset>",
        _flag(obj, "requiresRepublish", False),
        modes,
        age(obj, now),
    ]


CSI_DRIVER = Printer(
    (
        name_column(),
        Column("AttachRequired", "boolean", (_ST + "CSIDriverSpec", "attachRequired")),
        Column("PodInfoOnMount", "boolean", (_ST + "CSIDriverSpec", "podInfoOnMount")),
        Column("StorageCapacity", "boolean", (_ST + "CSIDriverSpec", "storageCapacity")),
        Column("TokenRequests", doc=(_ST + "CSIDriverSpec", "tokenRequests")),
        Column("RequiresRepublish", "boolean", (_ST + "CSIDriverSpec", "requiresRepublish")),
        Column("Modes", doc=(_ST + "CSIDriverSpec", "volumeLifecycleModes")),
        age_column(),
    ),
    _csi_driver_cells,
)

CSI_NODE = Printer(
    (
        name_column(),
        Column("Drivers", "integer", "Drivers indicates the number of CSI drivers registered on the node"),
        age_column(),
    ),
    lambda obj, now: [name(obj), len(items(obj, "spec", "drivers")), age(obj, now)],
)

CSI_STORAGE_CAPACITY = Printer(
    (
        name_column(),
        Column("StorageClassName", doc=(_ST + "CSIStorageCapacity", "storageClassName")),
        Column("Capacity", doc=(_ST + "CSIStorageCapacity", "capacity")),
    ),
    lambda obj, now: [
        name(obj),
        text(obj, "storageClassName"),
        "<unset>" if dig(obj, "capacity") is None else quantity(dig(obj, "capacity")),
    ],
)

VOLUME_ATTACHMENT = Printer(
    (
        name_column(),
        Column("Attacher", format="name", doc=(_ST + "VolumeAttachmentSpec", "attacher")),
        Column("PV", doc=(_ST + "VolumeAttachmentSource", "persistentVolumeName")),
        Column("Node", doc=(_ST + "VolumeAttachmentSpec", "nodeName")),
        Column("Attached", "boolean", (_ST + "VolumeAttachmentStatus", "attached")),
        age_column(),
    ),
    lambda obj, now: [
        name(obj),
        text(obj, "spec", "attacher"),
        text(obj, "spec", "source", "persistentVolumeName"),
        text(obj, "spec", "nodeName"),
        bool(dig(obj, "status", "attached")),
        age(obj, now),
    ],
)
