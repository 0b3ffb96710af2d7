# Two entry points: `make run` and `make test` (see README.md).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: run test lint system-deps bench fuzz clean

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
	$(VENV)/bin/mypy
	$(PY) -m pytest -q --timeout=600 $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check --fix src tests bench
	$(VENV)/bin/ruff format src tests bench

bench: $(STAMP) system-deps
	$(PY) bench/run_all.py

# Exploratory fuzzing, apart from `make test` (whose property tests are derandomised): the Hypothesis
# suites with fresh random examples (FUZZ_SCALE times as many; failures kept in .hypothesis/ and replayed
# first next time), then schemathesis over every /openapi/v3 document (bench/fuzz_api.py, FUZZ_ARGS).
FUZZ_SCALE ?= 20
FUZZ_ARGS ?= --examples 50 --minutes 30 --quiet
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=explore FUZZ_SCALE=$(FUZZ_SCALE) $(PY) -m pytest -q --timeout=3600 \
	  tests/apiserver/test_fuzz.py tests/api/test_patch_fuzz.py
	$(PY) bench/fuzz_api.py $(FUZZ_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
