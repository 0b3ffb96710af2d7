# Debian packages the containerd runtime and its tests need: containerd (with ctr), runc, the CNI
# plugins (/usr/lib/cni), busybox-static and umoci (to build images locally: there is no registry) and
# iproute2. Installed when missing and we are root; otherwise the containerd tests are skipped
# (or fail when CI=true). A system containerd the package may start is left alone: kybernetes runs its
# own with its own root, state and socket.
CONTAINERD_DEBS := containerd runc containernetworking-plugins busybox-static umoci iproute2

.PHONY: containerd-deps
containerd-deps:
	@missing=""; \
	for pkg in $(CONTAINERD_DEBS); do \
	  dpkg-query -W -f='$${Status}' $$pkg 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	      || { echo "could not install$$missing"; exit 1; }; \
	  else echo "missing$$missing (apt-get install$$missing); containerd tests will be skipped unless CI=true"; fi; \
	fi
