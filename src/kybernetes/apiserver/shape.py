"""Shape checks at the write boundary: what a client sent must decode as the Go type it stands for.

Upstream decodes every request body (and every patch result) into a typed Go struct before any
code reads it, so a body of the wrong JSON shape (``true``, a list, ``{"metadata": "x"}``,
``{"target": {"name": ["n"]}}``) fails there with a 400 and never reaches the registry. Our objects
stay plain dicts, so the same guarantee is given here, once, before the handlers and the strategies
treat the value as a dict: ``decode_as`` checks a value against a built-in definition (the same
walker the resource writes use, ``check_types``) and raises upstream's 400 BadRequest
("json: cannot unmarshal ... into Go struct field ..."); ``require_object`` is the top-level check for
values that have no definition of their own.
"""

from __future__ import annotations

import re
from typing import Any

from kybernetes.api import errors
from kybernetes.api.validation import check_types

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def require_object(value: Any, go_type: str) -> dict[str, Any]:
    """``value`` if it is a JSON object, else upstream's 400 for unmarshalling it into ``go_type``."""
    if not isinstance(value, dict):
        raise errors.cannot_unmarshal(value, go_type)
    return value


def decode_as(schema_name: str, value: Any) -> dict[str, Any]:
    """``value`` if it decodes as the built-in definition ``schema_name``, else a 400 naming the first
    field of the wrong type (as upstream's decoder reports the first)."""

    short = schema_name.rsplit(".", 1)[-1]
    group_version = schema_name.rsplit(".", 2)[-2]
    obj = require_object(value, f"{group_version}.{short}")
    problems = check_types(schema_name, obj)
    if problems:
        raise errors.bad_request(problems[0])
    return obj


def check_metadata(kind: str, obj: dict[str, Any]) -> None:
    """``metadata``, when present, must decode as an ObjectMeta (the part every kind shares)."""
    if "metadata" not in obj or obj["metadata"] is None:
        return
    md = obj["metadata"]
    if not isinstance(md, dict):
        raise errors.bad_request(
            f"json: cannot unmarshal {errors.json_kind(md)} into Go struct field {kind}.metadata of type v1.ObjectMeta"
        )

    problems = check_types(OBJECT_META, md)
    if problems:
        # the walker names paths from the value it was given: put them under metadata, as upstream does
        raise errors.bad_request(re.sub(r"(Go struct field \w+\.)", r"\1metadata.", problems[0], count=1))
