"""Persistence and /proc helpers for the process runtime (``process.py``).

JSON (de)serialisation of ``SandboxConfig`` / ``ContainerConfig`` (tolerant of unknown keys, so state
written by a newer version still loads), atomic JSON files, and what the runtime reads from ``/proc``:
a process's start time (to tell a live container from a reused pid after a restart) and the CPU and RSS
of all processes of a session (stats without cgroups). All functions block briefly on the filesystem;
the runtime calls the file ones through ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Mapping
from typing import Any

from kybernetes.kubelet.runtime import ContainerConfig, Mount, PortMapping, Resources, SandboxConfig

__all__ = [
    "config_to_dict",
    "container_config_from_dict",
    "proc_alive",
    "proc_start_ticks",
    "read_json",
    "sandbox_config_from_dict",
    "session_usage",
    "write_json",
]

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def config_to_dict(config: SandboxConfig | ContainerConfig) -> dict[str, Any]:
    data = dataclasses.asdict(config)
    data["labels"] = dict(config.labels)
    data["annotations"] = dict(config.annotations)
    return data


def _known(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def sandbox_config_from_dict(data: Mapping[str, Any]) -> SandboxConfig:
    values = _known(SandboxConfig, data)
    for key in ("dns_servers", "dns_searches", "dns_options"):
        if key in values:
            values[key] = tuple(values[key])
    if "port_mappings" in values:
        values["port_mappings"] = tuple(
            PortMapping(**_known(PortMapping, p)) for p in values["port_mappings"]
        )
    return SandboxConfig(**values)


def container_config_from_dict(data: Mapping[str, Any]) -> ContainerConfig:
    values = _known(ContainerConfig, data)
    for key in ("command", "args"):
        if key in values:
            values[key] = tuple(values[key])
    if "env" in values:
        values["env"] = tuple((str(k), str(v)) for k, v in values["env"])
    if "mounts" in values:
        values["mounts"] = tuple(Mount(**_known(Mount, m)) for m in values["mounts"])
    if "resources" in values:
        values["resources"] = Resources(**_known(Resources, values["resources"]))
    return ContainerConfig(**values)


def write_json(path: str, data: Mapping[str, Any]) -> None:
    """Write atomically (temporary file + rename) so a crash never leaves half a state file."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, separators=(",", ":"))
    os.replace(tmp, path)


def read_json(path: str) -> dict[str, Any] | None:
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (index 0 is the state letter)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    return raw[raw.rfind(b")") + 2 :].decode().split()


def proc_start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None when there is no such process."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def proc_alive(pid: int, start_ticks: int) -> bool:
    """True when ``pid`` is the process started at ``start_ticks`` and has not exited (zombies count
    as exited: after a runtime restart they are reaped by someone else, possibly late)."""
    if pid <= 0:
        return False
    fields = _stat_fields(pid)
    if not fields or len(fields) <= 19:
        return False
    return int(fields[19]) == start_ticks and fields[0] not in ("Z", "X")


def session_usage(session: int) -> tuple[int, int]:
    """(cpu nanoseconds, resident bytes) summed over the live processes of a session."""
    cpu_ticks = 0
    rss_pages = 0
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            fields = _stat_fields(int(entry.name))
            if not fields or len(fields) <= 21 or fields[3] != str(session):
                continue
            cpu_ticks += int(fields[11]) + int(fields[12])
            rss_pages += int(fields[21])
    return cpu_ticks * 1_000_000_000 // CLOCK_TICKS, rss_pages * PAGE_SIZE
