"""Streaming protocols of the kubelet API: what ``kubectl logs/exec/attach/port-forward`` speak.

- ``channels``: the websocket channel protocol (``v5.channel.k8s.io``, ``v4``, ``channel.k8s.io``, base64
  variants) and the final ``Status`` messages of exec/attach;
- ``spdy``: SPDY/3.1 framing with zlib-dictionary header compression;
- ``remotecommand``: exec/attach over classic SPDY (remotecommand v5..v2 and ``channel.k8s.io``);
- ``portforward``: the server side of port-forward over SPDY (inside websocket messages or classic) and
  over the websocket channel protocol (``v4.channel.k8s.io`` with ``?ports=``);
- ``logs``: CRI-format log files served as ``kubectl logs`` expects (tail, since, timestamps, follow).
"""
