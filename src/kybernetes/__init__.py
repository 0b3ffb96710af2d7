"""kybernetes: a small Kubernetes-compatible orchestrator.

Layers, lowest first: ``_lib`` (stdlib helpers), ``api`` (vocabulary: registry, selectors, patches,
Status errors, schemas, tables), ``storage`` (revisioned KV), ``apiserver`` and ``client``, then the
components, and ``cli`` which wires them together.
"""

__version__ = "0.1.0"
KUBERNETES_VERSION = "v1.32.4"
