"""Streaming protocols of the kubelet API: what ``kubectl logs/exec/attach/port-forward`` speak.

- ``channels``: the websocket channel protocol (``v5.channel.k8s.io``, ``v4``, base64 variants) and the
  final ``Status`` messages of exec/attach;
- ``spdy``: SPDY/3.1 framing with zlib-dictionary header compression;
- ``portforward``: the server side of port-forward over SPDY carried in websocket messages;
- ``logs``: CRI-format log files served as ``kubectl logs`` expects (tail, since, timestamps, follow).
"""
