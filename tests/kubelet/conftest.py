"""The kubelet tests share the controllers' in-process server fixtures."""

from tests.controllers._node_fixtures import api, server

__all__ = ["api", "server"]
