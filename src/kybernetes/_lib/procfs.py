"""Facts about a process read from /proc, one copy for the pid files of ``kyb`` and of containerd.

- ``start_time(pid)``: the kernel start time (field 22 of /proc/<pid>/stat), "" when the process is gone;
  a pid plus its start time names one process even after the pid is reused.
- ``alive(pid)``: the process exists and is not a zombie.

Stdlib only (``_lib`` is the bottom layer).
"""

from __future__ import annotations

from pathlib import Path


def _stat_fields(pid: int) -> list[str]:
    # the command name (field 2) may hold spaces and parentheses: the fields proper start after the last ")"
    return Path("/proc", str(pid), "stat").read_text().rsplit(")", 1)[1].split()


def start_time(pid: int) -> str:
    """The kernel start time of ``pid`` (field 22 of /proc/<pid>/stat), "" when it is gone."""
    try:
        return _stat_fields(pid)[19]
    except (OSError, IndexError):
        return ""


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (exists and is not a zombie)."""
    try:
        state = _stat_fields(pid)[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
