"""Container runtimes behind ``kybernetes.kubelet.runtime.Runtime``.

``process`` (``ProcessRuntime``): containers as plain host processes, isolation-free, with cgroup v1
limits and bind mounts when root. ``crilog``: the CRI log format writer and reader every runtime and the
kubelet's log server share.
"""

from kybernetes.kubelet.runtimes.process import NotFoundError, ProcessRuntime, StartContainerError

__all__ = ["NotFoundError", "ProcessRuntime", "StartContainerError"]
