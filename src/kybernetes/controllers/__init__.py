"""The control loops of kube-controller-manager, one module per controller; ``manager`` runs them."""
