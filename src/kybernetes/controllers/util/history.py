"""Helpers shared by the workload controllers (StatefulSet, DaemonSet, Job).

ControllerRevisions (apps/v1) are immutable snapshots of a workload's pod template: ``data`` is the
patch that restores it (``{"spec": {"template": {..., "$patch": "replace"}}}``), ``revision`` a number
that grows with every new (or re-used, on rollback) template, and the name ``<parent>-<hash>`` where the
hash covers the data and the parent's ``status.collisionCount`` (bumped when a different revision already
owns a name). StatefulSet pods carry the revision *name* in their ``controller-revision-hash`` label,
DaemonSet pods the bare hash, as upstream does. The hash is FNV-32a over canonical JSON, encoded in the
``generateName`` alphabet; its values differ from upstream's (which hashes Go structs) but have the same
shape and stability.

``Expectations`` is the controllers' guard against stale informer caches: after creating (or deleting)
``n`` pods for a key, the controller waits until its informer has observed them before acting on that
key again (or until the expectations expire).

Neighbours: ``statefulset.py`` and ``daemonset.py`` use the revision helpers; ``job.py`` and
``daemonset.py`` use ``Expectations``. Everything writes through ``kybernetes.client``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from kybernetes.api.errors import StatusError
from kybernetes.client import ApiClient

__all__ = [
    "CONTROLLER_REVISION_HASH_LABEL",
    "REVISION_HASH_LABEL",
    "Expectations",
    "create_revision",
    "hash_data",
    "is_controlled_by",
    "new_revision",
    "next_revision_number",
    "owner_reference",
    "revision_data",
    "revision_template",
    "sort_revisions",
    "truncate_history",
]

# the label on pods (StatefulSet and DaemonSet) naming their revision
CONTROLLER_REVISION_HASH_LABEL = "controller-revision-hash"
# the label on StatefulSet ControllerRevisions carrying their hash
REVISION_HASH_LABEL = "controller.kubernetes.io/hash"
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"


# --- ownership ----------------------------------------------------------------------------------------
def owner_reference(owner: Mapping[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    """A controller ownerReference to ``owner`` (blockOwnerDeletion, as upstream controllers set)."""
    md = owner["metadata"]
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": md["name"],
        "uid": md["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def is_controlled_by(obj: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    uid = (owner.get("metadata") or {}).get("uid")
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller") and ref.get("uid") == uid:
            return True
    return False


# --- hashing ------------------------------------------------------------------------------------------


def _fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for byte in data:
        h ^= byte
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def hash_data(data: Any, collision_count: int | None = None) -> str:
    """FNV-32a of canonical JSON of ``data`` plus the collision count, safe-encoded (upstream's
    ``ComputeHash`` / ``HashControllerRevision`` shape)."""
    raw = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    if collision_count:
        raw += str(collision_count).encode()
    # base-27 digits in the generateName alphabet, at most 10 of them
    value = _fnv32a(raw)
    out = []
    while True:
        value, rem = divmod(value, len(_ALPHANUMS))
        out.append(_ALPHANUMS[rem])
        if not value:
            break
    return "".join(out)[:10]


# --- revisions ----------------------------------------------------------------------------------------
def revision_data(template: Mapping[str, Any] | None) -> dict[str, Any]:
    """The patch a revision stores: the pod template, replacing (not merging) on rollback."""
    tmpl = copy.deepcopy(dict(template or {}))
    tmpl["$patch"] = "replace"
    return {"spec": {"template": tmpl}}


def revision_template(revision: Mapping[str, Any]) -> dict[str, Any]:
    """The pod template a revision restores."""
    data = revision.get("data") or {}
    tmpl = copy.deepcopy(dict(((data.get("spec") or {}).get("template")) or {}))
    tmpl.pop("$patch", None)
    return tmpl


def next_revision_number(revisions: Iterable[Mapping[str, Any]]) -> int:
    return max((int(r.get("revision") or 0) for r in revisions), default=0) + 1


def sort_revisions(revisions: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Oldest first: by revision number, then creation time, then name."""
    return sorted(
        revisions,
        key=lambda r: (
            int(r.get("revision") or 0),
            (r.get("metadata") or {}).get("creationTimestamp") or "",
            (r.get("metadata") or {}).get("name") or "",
        ),
    )


def new_revision(
    parent: Mapping[str, Any],
    *,
    api_version: str,
    kind: str,
    template_labels: Mapping[str, str] | None,
    data: Mapping[str, Any],
    revision: int,
    collision_count: int | None,
    hash_label: str = REVISION_HASH_LABEL,
) -> dict[str, Any]:
    """A ControllerRevision object for ``parent`` (not yet created)."""
    md = parent["metadata"]
    digest = hash_data(data, collision_count)
    labels = dict(template_labels or {})
    labels[hash_label] = digest
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": f"{md['name'][:223]}-{digest}",
            "namespace": md.get("namespace"),
            "labels": labels,
            "ownerReferences": [owner_reference(parent, api_version, kind)],
        },
        "data": dict(data),
        "revision": revision,
    }


async def create_revision(
    api: ApiClient,
    parent: Mapping[str, Any],
    *,
    api_version: str,
    kind: str,
    template_labels: Mapping[str, str] | None,
    data: Mapping[str, Any],
    revision: int,
    collision_count: int,
    hash_label: str = REVISION_HASH_LABEL,
) -> tuple[dict[str, Any], int]:
    """Create a revision, bumping the collision count while another revision with different data owns
    the name. Returns the stored revision (an existing equal one counts) and the collision count used."""
    while True:
        rev = new_revision(
            parent,
            api_version=api_version,
            kind=kind,
            template_labels=template_labels,
            data=data,
            revision=revision,
            collision_count=collision_count,
            hash_label=hash_label,
        )
        try:
            return await api.controllerrevisions.create(rev), collision_count
        except StatusError as exc:
            if exc.code != 409:
                raise
        existing = await api.controllerrevisions.get(
            rev["metadata"]["name"], namespace=rev["metadata"]["namespace"]
        )
        if is_controlled_by(existing, parent) and existing.get("data") == rev["data"]:
            return existing, collision_count
        collision_count += 1


async def truncate_history(
    api: ApiClient,
    revisions: Iterable[Mapping[str, Any]],
    live: set[str],
    limit: int,
) -> None:
    """Delete the oldest revisions whose names are not in ``live`` beyond ``limit`` of them."""
    dead = [r for r in sort_revisions(revisions) if r["metadata"]["name"] not in live]
    for rev in dead[: max(0, len(dead) - max(0, limit))]:
        try:
            await api.controllerrevisions.delete(
                rev["metadata"]["name"], namespace=rev["metadata"]["namespace"]
            )
        except StatusError as exc:
            if exc.code != 404:
                raise


# --- expectations -------------------------------------------------------------------------------------
@dataclass
class _Expect:
    adds: int = 0
    deletes: int = 0
    at: float = 0.0


class Expectations:
    """Per-key counts of creations and deletions not yet seen by the informer (client-go's
    ``ControllerExpectations``). ``satisfied`` is true when none are pending or they expired."""

    def __init__(self, ttl: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._items: dict[str, _Expect] = {}

    def expect(self, key: str, adds: int = 0, deletes: int = 0) -> None:
        self._items[key] = _Expect(adds, deletes, self._clock())

    def raise_(self, key: str, adds: int = 0, deletes: int = 0) -> None:
        item = self._items.setdefault(key, _Expect(at=self._clock()))
        item.adds += adds
        item.deletes += deletes

    def observe_add(self, key: str) -> None:
        item = self._items.get(key)
        if item is not None:
            item.adds -= 1

    def observe_delete(self, key: str) -> None:
        item = self._items.get(key)
        if item is not None:
            item.deletes -= 1

    def lower(self, key: str, adds: int = 0, deletes: int = 0) -> None:
        """Give up on expectations that will not be met (a create or delete failed)."""
        item = self._items.get(key)
        if item is not None:
            item.adds -= adds
            item.deletes -= deletes

    def satisfied(self, key: str) -> bool:
        item = self._items.get(key)
        if item is None:
            return True
        if item.adds <= 0 and item.deletes <= 0:
            return True
        return self._clock() - item.at > self.ttl

    def forget(self, key: str) -> None:
        self._items.pop(key, None)
