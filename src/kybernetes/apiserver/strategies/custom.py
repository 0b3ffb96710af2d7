"""Custom resources: no built-in defaults; the CRD's schema is applied by ``Operations``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kybernetes.api import selectors, tables
from kybernetes.api.errors import Cause
from kybernetes.api.tables.custom import custom_printer
from kybernetes.apiserver.strategies.base import Strategy


class CustomResourceStrategy(Strategy):
    tracks_generation = True

    def table_printer(self, crd_columns: list[dict[str, Any]] | None = None) -> tables.Printer:
        """The CRD version's printer columns, or its default AGE column."""
        return custom_printer(crd_columns)

    def selector_rules(self, selectable_fields: Iterable[str] = ()) -> selectors.FieldRules:
        return selectors.custom_field_rules(self.info.namespaced, selectable_fields)

    def default(self, obj: dict[str, Any]) -> None:
        """Schema defaults come from the CRD (``Operations._validate_custom``)."""

    def validate_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        return []
