"""kube-scheduler: the scheduling queue, the plugin framework and the plugins."""
