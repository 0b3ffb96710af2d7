"""Strategies of storage.k8s.io kinds: storage classes, CSI drivers and nodes, storage capacities and
volume attachments."""

from __future__ import annotations

from typing import Any

from kybernetes.api import defaults
from kybernetes.api.tables import storage as storage_tables
from kybernetes.api.validation import TypeRules
from kybernetes.api.validation import other as other_validation
from kybernetes.api.validation import storage as storage_validation
from kybernetes.apiserver.strategies.base import Strategy


class StorageClassStrategy(Strategy):
    rules = TypeRules(
        create=other_validation.create_storage_class, update=other_validation.update_storage_class
    )
    printer = storage_tables.STORAGE_CLASS

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_storage_class(obj)


class CSIDriverStrategy(Strategy):
    rules = TypeRules(
        create=storage_validation.create_csi_driver, update=storage_validation.update_csi_driver
    )
    printer = storage_tables.CSI_DRIVER

    def default(self, obj: dict[str, Any]) -> None:
        defaults.default_csi_driver(obj)


class CSINodeStrategy(Strategy):
    rules = TypeRules(create=storage_validation.create_csi_node, update=storage_validation.update_csi_node)
    printer = storage_tables.CSI_NODE


class CSIStorageCapacityStrategy(Strategy):
    rules = TypeRules(
        create=storage_validation.create_csi_storage_capacity,
        update=storage_validation.update_csi_storage_capacity,
    )
    printer = storage_tables.CSI_STORAGE_CAPACITY


class VolumeAttachmentStrategy(Strategy):
    rules = TypeRules(
        create=storage_validation.create_volume_attachment,
        update=storage_validation.update_volume_attachment,
        status=storage_validation.status_volume_attachment,
    )
    printer = storage_tables.VOLUME_ATTACHMENT
