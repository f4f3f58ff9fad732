# edgex-smoke: `make smoke` runs the smoke test on the default target; `make test` runs the harness's tests.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
DISTRO ?= podman
IMAGES ?= auto
EDGEX ?= 4.0
PYTEST_ARGS ?=
DISTROS := podman,k8s,k3s,microk8s,kubeedge
RELEASES := 4.0

# Hosts with cgroup v1 hybrid and no CAP_SYS_RESOURCE (like the CI machines) need runc and capped ulimits.
ifneq ($(wildcard /sys/fs/cgroup/unified/.),)
export CONTAINERS_CONF ?= $(CURDIR)/.ci/containers.conf
endif

.PHONY: smoke test unit lint lab-images lab-cluster lab-cluster-down table publish host-packages venv clean

smoke: host-packages venv
	$(PY) -m pytest suites --distro=$(DISTRO) --images=$(IMAGES) --edgex=$(EDGEX) $(PYTEST_ARGS)

# Lint and the harness's own tests (real mosquitto, nginx and podman; the lab infra image is built on first use).
# The podman smoke suite on lab EdgeX images joins this target once lab/pins.toml can pin the EdgeX
# service modules: the Go module proxy refuses them today (see lab/README.md).
test: host-packages venv lint unit

unit: host-packages venv
	$(PY) -m pytest tests $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports

lab-images: host-packages venv
	$(PY) -m lab images

# A real single-node Kubernetes v1.34.4 built from Go modules and run on this host (root required).
lab-cluster: host-packages venv
	$(PY) -m lab.cluster up

lab-cluster-down: venv
	$(PY) -m lab.cluster down

table: venv
	$(PY) -m reports table docs/evidence -o docs/compatibility.md --expect-distros $(DISTROS) --expect-releases $(RELEASES)

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
