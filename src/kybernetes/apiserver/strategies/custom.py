"""Custom resources: no built-in defaults or validation; the CRD's schema is applied by Operations."""

from __future__ import annotations

from typing import Any

from kybernetes.api.errors import Cause
from kybernetes.apiserver.strategies.base import Strategy


class CustomResourceStrategy(Strategy):
    def default(self, obj: dict[str, Any]) -> None:
        """Schema defaults of CRDs are not applied yet."""

    def validate_create(self, obj: dict[str, Any]) -> list[Cause]:
        from kybernetes.api.validation import validate_object_meta

        return validate_object_meta(self.info, obj)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        from kybernetes.api.validation import validate_object_meta

        return validate_object_meta(self.info, new)

    def validate_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        return []
