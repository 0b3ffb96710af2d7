"""The node agent (kubelet) and its runtimes.

``simulated``: ``SimulatedNodes``, a kwok-style agent that registers many fake nodes from one process
with the kubelet's own node status and Lease code (``node_status``), and moves their objects through
stages loaded as data (``stages/``: kwok-shaped ``Stage`` files, the shipped pod and node profiles).
"""

from kybernetes.kubelet.simulated import DEFAULT_STAGES, SimulatedNodes, Stage, load_simulated_stages

__all__ = ["DEFAULT_STAGES", "SimulatedNodes", "Stage", "load_simulated_stages"]
