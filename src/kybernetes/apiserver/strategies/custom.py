"""Custom resources: no built-in defaults; the CRD's schema is applied by ``Operations``."""

from __future__ import annotations

from typing import Any

from kybernetes.api.errors import Cause
from kybernetes.apiserver.strategies.base import Strategy


class CustomResourceStrategy(Strategy):
    def default(self, obj: dict[str, Any]) -> None:
        """Schema defaults come from the CRD (``Operations._validate_custom``)."""

    def validate_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        return []
