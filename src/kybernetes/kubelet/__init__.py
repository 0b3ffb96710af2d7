"""The node agent (kubelet) and its runtimes.

``simulated``: ``SimulatedNodes``, a kwok-style agent that registers many fake nodes from one process,
heartbeats their Leases and moves their pods through phases as data (``Stage``).
"""

from kybernetes.kubelet.simulated import DEFAULT_STAGES, SimulatedNodes, Stage, load_simulated_stages

__all__ = ["DEFAULT_STAGES", "SimulatedNodes", "Stage", "load_simulated_stages"]
