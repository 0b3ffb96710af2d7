# Two entry points: `make run` and `make test` (see README.md).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: run test lint system-deps bench clean

include mk/containerd.mk

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# Debian packages the tests need (real etcd). Installed when missing and we are root.
system-deps:
	@if ! command -v etcd >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server etcd-client >/dev/null) \
	      || { echo "could not install etcd-server"; exit 1; }; \
	  else echo "etcd is missing (apt-get install etcd-server); etcd tests will be skipped unless CI=true"; fi; \
	fi
	@# The Debian package starts a system etcd on 2379; our tests start their own on free ports.
	@if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then systemctl stop etcd >/dev/null 2>&1 || true; fi

run: $(STAMP)
	$(VENV)/bin/kyb server

test: $(STAMP) system-deps containerd-deps
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q --timeout=600 $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check --fix src tests bench
	$(VENV)/bin/ruff format src tests bench

bench: $(STAMP) system-deps
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
