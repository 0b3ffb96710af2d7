"""The node agent (kubelet) and its runtimes."""
