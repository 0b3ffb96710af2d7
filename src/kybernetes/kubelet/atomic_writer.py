"""Upstream's ``AtomicWriter`` (``pkg/volume/util/atomic_writer.go``): projected files that change atomically.

A volume directory holds a timestamped data directory (``..2024_01_02_03_04_05.123456789``), a
``..data`` symlink to it and, for each top-level name of the payload, a user-visible symlink
``name -> ..data/name``. An update writes a new timestamped directory, points ``..data_tmp`` at it and
renames it over ``..data`` (one atomic ``rename``), then removes stale user-visible links and the old
directory. Readers therefore see either the old or the new set of files, never a mix, and files read
through their visible path change in place, which is how configMap and secret updates reach a running
container. Blocking file-system work: call from a thread.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path

__all__ = ["DATA_DIR_NAME", "AtomicWriter", "FileProjection", "PayloadError"]

DATA_DIR_NAME = "..data"
_TMP_LINK = "..data_tmp"

FileProjection = tuple[bytes, int]  # content, mode


class PayloadError(ValueError):
    """A payload path is absolute, escapes the volume, or starts with ``..``."""


def _validate(path: str) -> None:
    if not path or path.startswith("/") or path.startswith(".."):
        raise PayloadError(f"invalid path {path!r}: must be relative and may not start with '..'")
    if any(part == ".." for part in path.split("/")):
        raise PayloadError(f"invalid path {path!r}: must not contain '..'")


class AtomicWriter:
    """Writes a whole payload (relative path -> (content, mode)) into ``target`` atomically."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def _current(self) -> Path | None:
        link = self.target / DATA_DIR_NAME
        if not link.is_symlink():
            return None
        return self.target / os.readlink(link)

    @staticmethod
    def _same(ts_dir: Path, payload: Mapping[str, FileProjection]) -> bool:
        existing = {
            str(p.relative_to(ts_dir)) for p in ts_dir.rglob("*") if p.is_file() and not p.is_symlink()
        }
        if existing != set(payload):
            return False
        for rel, (content, mode) in payload.items():
            path = ts_dir / rel
            if path.read_bytes() != content or (path.stat().st_mode & 0o7777) != mode:
                return False
        return True

    def write(self, payload: Mapping[str, FileProjection]) -> bool:
        """Project ``payload``; returns True when files changed (False: already up to date)."""
        for rel in payload:
            _validate(rel)
        self.target.mkdir(parents=True, exist_ok=True)
        old_dir = self._current()
        old_visible = self._visible(old_dir)
        if old_dir is not None and old_dir.is_dir() and self._same(old_dir, payload):
            self._link_visible(payload)
            return False
        stamp = time.strftime("%Y_%m_%d_%H_%M_%S", time.gmtime()) + f".{time.time_ns() % 10**9:09d}"
        ts_dir = self.target / f"..{stamp}"
        ts_dir.mkdir(mode=0o755)
        for rel, (content, mode) in payload.items():
            path = ts_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            path.chmod(mode)
        tmp = self.target / _TMP_LINK
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        tmp.symlink_to(ts_dir.name)
        tmp.replace(self.target / DATA_DIR_NAME)
        new_visible = self._link_visible(payload)
        for name in old_visible - new_visible:
            stale = self.target / name
            if stale.is_symlink():
                stale.unlink()
        if old_dir is not None and old_dir.is_dir() and old_dir != ts_dir:
            shutil.rmtree(old_dir, ignore_errors=True)
        return True

    @staticmethod
    def _visible(ts_dir: Path | None) -> set[str]:
        if ts_dir is None or not ts_dir.is_dir():
            return set()
        return {p.name for p in ts_dir.iterdir()}

    def _link_visible(self, payload: Mapping[str, FileProjection]) -> set[str]:
        names = {rel.split("/", 1)[0] for rel in payload}
        for name in names:
            link = self.target / name
            if not link.is_symlink():
                if link.exists():
                    shutil.rmtree(link) if link.is_dir() else link.unlink()
                link.symlink_to(f"{DATA_DIR_NAME}/{name}")
        return names
