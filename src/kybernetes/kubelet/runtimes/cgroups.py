"""cgroup v1 (cgroupfs driver) helpers for the process runtime: limits, placement, OOM, usage, cleanup.

``CgroupV1.detect()`` finds the ``memory``, ``cpu`` and (optional) ``cpuacct`` hierarchies from
``/proc/self/mounts`` (separate mounts or a combined ``cpu,cpuacct`` one) and returns ``None`` when not
root or when memory or cpu is missing; cgroup v2 (unified) hosts are not handled here. A container's
cgroup is ``<hierarchy>/<parent>/<pod uid>/<container id>`` in each hierarchy, where ``parent`` is
absolute (``"/kybernetes"``) or relative to the cgroup this process already runs in (the default,
``"kybernetes"``: the containers stay inside the limits and accounting of whatever started the node
agent; on a host where the agent runs in the root cgroup both are ``/kybernetes``).

Every method does blocking file I/O (small writes to cgroupfs): call them through
``asyncio.to_thread``. No systemd is involved (PID 1 is often not systemd on these hosts).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CgroupV1", "ContainerCgroup"]

CFS_PERIOD_US = 100_000
_MOUNTS = "/proc/self/mounts"
_SELF_CGROUP = "/proc/self/cgroup"


@dataclass(frozen=True)
class ContainerCgroup:
    """The directories of one container's cgroup (one per distinct hierarchy)."""

    memory: str
    cpu: str
    cpuacct: str  # may equal ``cpu`` (combined mount) or be "" (no cpuacct hierarchy)

    @property
    def dirs(self) -> list[str]:
        return list(dict.fromkeys(d for d in (self.memory, self.cpu, self.cpuacct) if d))

    @property
    def procs_files(self) -> list[str]:
        return [os.path.join(d, "cgroup.procs") for d in self.dirs]


class CgroupV1:
    """The memory/cpu/cpuacct hierarchies and the parent path the runtime puts its pods under."""

    def __init__(self, mounts: dict[str, str], parents: dict[str, str]) -> None:
        self.mounts = mounts  # controller -> mount point
        self.parents = parents  # controller -> absolute cgroup path of the runtime's parent

    @classmethod
    def detect(cls, parent: str = "kybernetes") -> CgroupV1 | None:
        if os.geteuid() != 0:
            return None
        mounts: dict[str, str] = {}
        try:
            with open(_MOUNTS) as f:
                for line in f:
                    fields = line.split()
                    if len(fields) < 4 or fields[2] != "cgroup":
                        continue
                    for option in fields[3].split(","):
                        if option in ("memory", "cpu", "cpuacct") and option not in mounts:
                            mounts[option] = fields[1].replace("\\040", " ")
        except OSError:
            return None
        if "memory" not in mounts or "cpu" not in mounts:
            return None
        own: dict[str, str] = {}
        with contextlib.suppress(OSError), open(_SELF_CGROUP) as f:
            for line in f:
                parts = line.rstrip("\n").split(":", 2)
                if len(parts) == 3:
                    for controller in parts[1].split(","):
                        own[controller] = parts[2] or "/"
        parents = {
            controller: parent if parent.startswith("/") else os.path.join(own.get(controller, "/"), parent)
            for controller in mounts
        }
        if not all(os.access(mount, os.W_OK) for mount in mounts.values()):  # e.g. a read-only cgroupfs
            return None
        return cls(mounts, parents)

    def _dir(self, controller: str, *parts: str) -> str:
        if controller not in self.mounts:
            return ""
        return os.path.join(self.mounts[controller], self.parents[controller].lstrip("/"), *parts)

    def container(self, pod_uid: str, container_id: str) -> ContainerCgroup:
        return ContainerCgroup(
            memory=self._dir("memory", pod_uid, container_id),
            cpu=self._dir("cpu", pod_uid, container_id),
            cpuacct=self._dir("cpuacct", pod_uid, container_id),
        )

    def pod_dirs(self, pod_uid: str) -> list[str]:
        return list(dict.fromkeys(d for c in ("memory", "cpu", "cpuacct") if (d := self._dir(c, pod_uid))))

    @staticmethod
    def create(
        cgroup: ContainerCgroup,
        *,
        memory_limit: int = 0,
        cpu_limit_millis: int = 0,
        cpu_request_millis: int = 0,
    ) -> None:
        """Create the directories and write the limits (0: unlimited). Raises ``OSError``."""
        for directory in cgroup.dirs:
            os.makedirs(directory, exist_ok=True)
        if memory_limit > 0:
            _write(cgroup.memory, "memory.limit_in_bytes", memory_limit)
            # No swap beyond the limit (as runc does for memory-swap = memory), when swap accounting exists.
            with contextlib.suppress(OSError):
                _write(cgroup.memory, "memory.memsw.limit_in_bytes", memory_limit)
        if cpu_limit_millis > 0:
            _write(cgroup.cpu, "cpu.cfs_period_us", CFS_PERIOD_US)
            _write(cgroup.cpu, "cpu.cfs_quota_us", max(1000, cpu_limit_millis * CFS_PERIOD_US // 1000))
        if cpu_request_millis > 0:
            _write(cgroup.cpu, "cpu.shares", max(2, cpu_request_millis * 1024 // 1000))

    @staticmethod
    def pids(cgroup: ContainerCgroup) -> list[int]:
        found: set[int] = set()
        for procs in cgroup.procs_files:
            with contextlib.suppress(OSError), open(procs) as f:
                found.update(int(line) for line in f if line.strip())
        return sorted(found)

    @classmethod
    def kill_all(cls, cgroup: ContainerCgroup, sig: int = signal.SIGKILL) -> int:
        """Signal every process still in the cgroup; returns how many were signalled."""
        count = 0
        for pid in cls.pids(cgroup):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
                count += 1
        return count

    @staticmethod
    def oom_killed(cgroup: ContainerCgroup, exit_code: int) -> bool:
        """Whether the kernel OOM-killed a process of this cgroup (``oom_kill`` counter of
        ``memory.oom_control`` when the kernel has it; else under_oom, or SIGKILL with a failcnt)."""
        if not cgroup.memory:
            return False
        try:
            control = Path(cgroup.memory, "memory.oom_control").read_text()
        except OSError:
            return False
        values = dict(line.split(None, 1) for line in control.splitlines() if " " in line)
        if "oom_kill" in values:
            return int(values["oom_kill"]) > 0
        if values.get("under_oom", "0").strip() == "1":
            return True
        try:
            failcnt = int(Path(cgroup.memory, "memory.failcnt").read_text())
        except (OSError, ValueError):
            failcnt = 0
        return exit_code == 128 + signal.SIGKILL and failcnt > 0

    @staticmethod
    def usage(cgroup: ContainerCgroup) -> tuple[int | None, int | None]:
        """(cpu nanoseconds from cpuacct.usage, memory working set = usage - inactive_file)."""
        cpu: int | None = None
        memory: int | None = None
        if cgroup.cpuacct:
            with contextlib.suppress(OSError, ValueError):
                cpu = int(Path(cgroup.cpuacct, "cpuacct.usage").read_text())
        if cgroup.memory:
            with contextlib.suppress(OSError, ValueError):
                memory = int(Path(cgroup.memory, "memory.usage_in_bytes").read_text())
                inactive = 0
                for line in Path(cgroup.memory, "memory.stat").read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "total_inactive_file":
                        inactive = int(value)
                memory = max(0, memory - inactive)
        return cpu, memory

    @classmethod
    def remove(cls, dirs: list[str], *, timeout: float = 2.0) -> list[str]:
        """rmdir each directory (deepest first), killing stragglers and retrying while the kernel still
        counts exiting tasks; returns the directories that could not be removed."""
        left = []
        deadline = time.monotonic() + timeout
        for directory in sorted(dirs, key=len, reverse=True):
            while True:
                try:
                    os.rmdir(directory)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        left.append(directory)
                        break
                    with contextlib.suppress(OSError), open(os.path.join(directory, "cgroup.procs")) as f:
                        for line in f:
                            with contextlib.suppress(ProcessLookupError, ValueError):
                                os.kill(int(line), signal.SIGKILL)
                    time.sleep(0.02)
        return left


def _write(directory: str, name: str, value: int) -> None:
    with open(os.path.join(directory, name), "w") as f:
        f.write(str(value))
