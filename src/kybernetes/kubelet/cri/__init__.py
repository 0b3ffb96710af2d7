"""Hand-written subset of the Kubernetes CRI (``runtime.v1``) and its grpcio-tools generated modules.

``api.proto`` holds only what ``kybernetes.kubelet.runtimes.containerd`` uses; run ``regenerate.sh``
after editing it. ``api_pb2``/``api_pb2_grpc`` are generated and committed.
"""
