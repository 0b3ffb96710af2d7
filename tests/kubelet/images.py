"""Test helper: a busybox OCI image archive built locally (umoci + busybox-static), no registry needed.

``busybox_archive()`` builds the archive once per test session (cached in a temporary directory) and
returns its path; import it with ``import_image_archive(socket, path, base_name=BUSYBOX_REPO)`` to get
``BUSYBOX_IMAGE`` in containerd's ``k8s.io`` namespace. ``image_tools_available()`` tells whether the
tools are installed.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from kybernetes.kubelet.runtimes.images import build_busybox_image, image_tools_available

__all__ = ["BUSYBOX_IMAGE", "BUSYBOX_REPO", "BUSYBOX_TAG", "busybox_archive", "image_tools_available"]

BUSYBOX_REPO = "kybernetes.local/busybox"
BUSYBOX_TAG = "test"
BUSYBOX_IMAGE = f"{BUSYBOX_REPO}:{BUSYBOX_TAG}"

_cache: dict[str, Path] = {}


async def busybox_archive() -> Path:
    """The path of an OCI archive of a busybox image tagged ``BUSYBOX_TAG`` (built on first use)."""
    path = _cache.get("busybox")
    if path is not None and path.exists():
        return path
    tmp = Path(tempfile.mkdtemp(prefix="kyb-test-images-"))
    atexit.register(shutil.rmtree, tmp, True)
    path = await build_busybox_image(tmp / "busybox.tar", tag=BUSYBOX_TAG, cmd=("/bin/sh",))
    _cache["busybox"] = path
    return path
