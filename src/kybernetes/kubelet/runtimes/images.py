"""Container images without a registry: build small busybox-based OCI images and import archives.

Machines running kybernetes often have no registry to pull from, so:

- ``build_busybox_image(...)`` makes an OCI image archive (an OCI layout in a tar file) whose root file
  system is the host's static busybox (Debian ``busybox-static``) with its applet links, ``/etc/passwd``,
  ``/etc/group`` and ``/tmp``. It needs ``umoci`` and writes nothing outside the given directory.
- ``build_pause_image(...)`` is the same with ``/bin/busybox sleep 2147483647`` as entrypoint: the CRI
  sandbox ("pause") image kybernetes configures for its own containerd. containerd kills the sandbox
  with SIGKILL, so it needs no signal handling.
- ``import_image_archive(socket, path)`` loads an OCI or docker archive into containerd's ``k8s.io``
  namespace (the one the CRI plugin uses; images elsewhere are invisible to CRI and would be pulled)
  with ``ctr``, which ships with containerd. This is what ``kyb images import FILE`` runs.

All functions are coroutines that run the tools as subprocesses; failures raise ``ImageToolError`` with
the tool's output.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

__all__ = [
    "CRI_NAMESPACE",
    "PAUSE_IMAGE",
    "ImageToolError",
    "build_busybox_image",
    "build_pause_image",
    "busybox_path",
    "ensure_pause_image",
    "image_tools_available",
    "import_image_archive",
]

CRI_NAMESPACE = "k8s.io"
PAUSE_IMAGE = "kybernetes.local/pause:1"
_BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
_PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
_GROUP = "root:x:0:\nnogroup:x:65534:\n"


class ImageToolError(Exception):
    """A tool (umoci, ctr, busybox) failed or is missing."""


def busybox_path() -> str | None:
    """The host's busybox binary if it is statically linked (the only kind usable as a rootfs)."""
    for candidate in _BUSYBOX_CANDIDATES:
        if os.path.isfile(candidate) and _is_static(candidate):
            return candidate
    return None


def _is_static(path: str) -> bool:
    """An ELF file with no PT_INTERP program header (no dynamic loader)."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2:  # 64-bit only
                return False
            order: Literal["little", "big"] = "little" if head[5] == 1 else "big"
            phoff = int.from_bytes(head[32:40], order)
            phentsize = int.from_bytes(head[54:56], order)
            phnum = int.from_bytes(head[56:58], order)
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError:
        return False
    for i in range(phnum):
        if int.from_bytes(table[i * phentsize : i * phentsize + 4], order) == 3:  # PT_INTERP
            return False
    return True


def image_tools_available() -> bool:
    """umoci and a static busybox are present (what building images needs)."""
    return shutil.which("umoci") is not None and busybox_path() is not None


async def _run(*argv: str, limit: float = 120.0) -> str:
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
    except FileNotFoundError as e:
        raise ImageToolError(f"{argv[0]} not found: {e}") from e
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), limit)
    except TimeoutError as e:
        proc.kill()
        await proc.wait()
        raise ImageToolError(f"{' '.join(argv)} timed out after {limit}s") from e
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise ImageToolError(f"{' '.join(argv)} failed ({proc.returncode}): {text.strip()}")
    return text


def _make_rootfs(rootfs: Path, busybox: str) -> None:
    bindir = rootfs / "bin"
    bindir.mkdir(parents=True)
    shutil.copy2(busybox, bindir / "busybox")
    os.chmod(bindir / "busybox", 0o755)
    (rootfs / "etc").mkdir()
    (rootfs / "etc" / "passwd").write_text(_PASSWD)
    (rootfs / "etc" / "group").write_text(_GROUP)
    for d in ("tmp", "root", "proc", "sys", "dev", "var", "usr/bin", "sbin"):
        (rootfs / d).mkdir(parents=True, exist_ok=True)
    os.chmod(rootfs / "tmp", 0o1777)


async def _install_applets(rootfs: Path) -> None:
    """Symlinks /bin/<applet> -> busybox for every applet (``busybox --list``)."""
    listing = await _run(str(rootfs / "bin" / "busybox"), "--list")
    for applet in listing.split():
        if applet in ("busybox",) or "/" in applet:
            continue
        link = rootfs / "bin" / applet
        if not link.exists():
            link.symlink_to("busybox")


async def build_busybox_image(
    out_tar: Path,
    *,
    tag: str = "latest",
    entrypoint: Sequence[str] = (),
    cmd: Sequence[str] = ("/bin/sh",),
    workdir: str = "/",
) -> Path:
    """Build an OCI image archive at ``out_tar`` with a busybox root file system; returns ``out_tar``.

    The archive's index names the image by ``tag`` only (``org.opencontainers.image.ref.name``); give
    the repository when importing (``import_image_archive(..., base_name="kybernetes.local/busybox")``).
    """
    busybox = busybox_path()
    if busybox is None:
        raise ImageToolError("no static busybox found (apt-get install busybox-static)")
    if shutil.which("umoci") is None:
        raise ImageToolError("umoci not found (apt-get install umoci)")
    out_tar = Path(out_tar)
    out_tar.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kyb-image-", dir=out_tar.parent) as tmp:
        layout = Path(tmp) / "layout"
        rootfs = Path(tmp) / "rootfs"
        _make_rootfs(rootfs, busybox)
        await _install_applets(rootfs)
        ref = f"{layout}:{tag}"
        await _run("umoci", "init", "--layout", str(layout))
        await _run("umoci", "new", "--image", ref)
        await _run("umoci", "insert", "--image", ref, str(rootfs), "/")
        config = ["umoci", "config", "--image", ref, "--config.workingdir", workdir]
        config += ["--config.env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
        for arg in entrypoint:
            config += ["--config.entrypoint", arg]
        for arg in cmd:
            config += ["--config.cmd", arg]
        await _run(*config)
        await _run("umoci", "gc", "--layout", str(layout))
        partial = out_tar.with_name(out_tar.name + ".partial")
        await _run("tar", "-C", str(layout), "-cf", str(partial), ".")
        partial.replace(out_tar)
    return out_tar


async def build_pause_image(out_tar: Path) -> Path:
    """The sandbox image: busybox sleeping (almost) forever. Import with base name ``kybernetes.local/pause``."""
    return await build_busybox_image(
        out_tar, tag=PAUSE_IMAGE.rsplit(":", 1)[1], entrypoint=("/bin/busybox", "sleep", "2147483647"), cmd=()
    )


def _ctr_address(socket: str | Path) -> str:
    text = str(socket)
    return text.removeprefix("unix://")


async def import_image_archive(
    socket: str | Path, path: str | Path, *, base_name: str = "", namespace: str = CRI_NAMESPACE
) -> list[str]:
    """Import an OCI or docker image archive into containerd; returns the image names it now has.

    ``base_name`` names images whose archive gives only a tag (as ``build_busybox_image`` does): the
    image becomes ``<base_name>:<tag>``. Docker archives (``docker save``) carry full names already.
    """
    argv = ["ctr", "-a", _ctr_address(socket), "-n", namespace, "images", "import"]
    if base_name:
        argv += ["--base-name", base_name]
    argv.append(str(path))
    out = await _run(*argv, limit=300)
    names: list[str] = []
    for line in out.splitlines():
        # "unpacking <name> (sha256:...)...done"
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "unpacking":
            names.append(parts[1])
    return names


async def ensure_pause_image(socket: str | Path, cache_dir: Path) -> str:
    """Build (once, cached in ``cache_dir``) and import the pause image; returns its name."""
    archive = Path(cache_dir) / "pause.tar"
    if not archive.exists():
        await build_pause_image(archive)
    await import_image_archive(socket, archive, base_name=PAUSE_IMAGE.rsplit(":", 1)[0])
    return PAUSE_IMAGE
