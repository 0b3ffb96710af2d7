"""Facts about a process read from /proc, one copy for the pid files of ``kyb`` and of containerd.

- ``start_time(pid)``: the kernel start time (field 22 of /proc/<pid>/stat), "" when the process is gone;
  a pid plus its start time names one process even after the pid is reused.
- ``alive(pid)``: the process exists and is not a zombie.
- ``wait_pid(pid)``: wait for a process that is not our child to exit; ``stop_pid(pid, grace)``: SIGTERM,
  SIGKILL after ``grace`` seconds, and wait for it to be gone.

Stdlib only (``_lib`` is the bottom layer).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
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


async def wait_pid(pid: int) -> int | None:
    """Wait for a process that is not our child to exit (a pidfd, else polling). Its exit code is unknown."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        fd = -1
    if fd >= 0:
        loop = asyncio.get_running_loop()
        gone: asyncio.Future[None] = loop.create_future()

        def exited() -> None:
            if not gone.done():
                gone.set_result(None)

        loop.add_reader(fd, exited)
        try:
            await gone
        finally:
            loop.remove_reader(fd)
            os.close(fd)
    else:
        while alive(pid):  # noqa: ASYNC110 -- no pidfd (kernel < 5.3): nothing to wait on but time
            await asyncio.sleep(0.5)
    return None


async def stop_pid(pid: int, grace: float) -> None:
    """SIGTERM ``pid``, SIGKILL it if it outlives ``grace`` seconds, and wait (10 s more at most) until it
    is gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(wait_pid(pid), grace)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        await asyncio.wait_for(wait_pid(pid), 10)
