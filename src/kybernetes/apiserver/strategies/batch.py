"""Jobs: the server generates the selector and template labels from the Job's uid (upstream's
``generateSelector``) unless ``spec.manualSelector`` is set."""

from __future__ import annotations

from typing import Any

from kybernetes.api.defaults import apply_job_selector
from kybernetes.apiserver.strategies.base import Strategy


class JobStrategy(Strategy):
    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        super().prepare_for_create(obj)
        apply_job_selector(obj)
