# memdash developer tasks. Every command runs through .venv/bin/..., so nothing needs `source`.
# `make test` on a new machine does everything: venv, Python packages, Debian packages, tests.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON       ?= $(shell command -v python3.11 || command -v python3)
VENV         ?= .venv
PY           := $(VENV)/bin/python
# Extras of pyproject.toml to install (make install EXTRAS=dashboard,dev for a light venv without torch)
EXTRAS       ?= dashboard,embed,dev,postgres,redis,nat
# Installed before the extras whenever they include `embed`, so pip never picks a CUDA build of torch.
# Elsewhere: make install TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH        ?= torch==2.13.0
TORCH_INDEX  ?=
# Debian packages the tests need (Chromium for the dashboard's browser tests, at /usr/bin/chromium;
# PostgreSQL 15 without pgvector for the postgres store's tests, at /usr/lib/postgresql/15/bin; HAProxy for
# deploy/haproxy.cfg in front of two dashboards, at /usr/sbin/haproxy).
APT_PACKAGES ?= chromium postgresql-15 haproxy
CONFIG       ?= configs/demo.yml
PORT         ?= 8501
# Extra pytest arguments, e.g. PYTEST_ARGS='-k cli -x'. Serial on purpose: on 2 cores pytest-xdist did not pay
# (measured once: -n 2 about as fast as serial, -n 4 slower; each worker repeats the imports and servers).
PYTEST_ARGS  ?=

comma := ,
# The install stamp is keyed on pyproject.toml's content and the extras: a second `make test` installs
# nothing, a changed pyproject.toml or EXTRAS reinstalls.
INSTALL_KEY := $(shell sha256sum pyproject.toml | cut -c1-16)-$(subst $(comma),-,$(EXTRAS))
STAMP       := $(VENV)/.memdash-installed-$(INSTALL_KEY)

.PHONY: help venv install apt run test bench screenshots lint clean

help:
	@echo "make run    - set up, then open the dashboard on the demo store (http://localhost:$(PORT))"
	@echo "make test   - set up (venv, packages, Debian packages), then run the tests"
	@echo "make bench  - latency, LoCoMo, dashboard and concurrency benchmarks, printed as tables"
	@echo "make screenshots - the README pictures, from a copy of the demo store"
	@echo "make lint   - ruff check . and the layering contracts (lint-imports)"
	@echo "make venv | install | apt | clean"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

venv: $(PY)

$(STAMP): | $(PY)
ifneq ($(and $(TORCH),$(findstring embed,$(EXTRAS))),)
	$(PY) -m pip install --progress-bar off $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) '$(TORCH)'
endif
	$(PY) -m pip install --progress-bar off -e '.[$(EXTRAS)]'
	rm -f $(VENV)/.memdash-installed-*
	touch $@

install: $(STAMP)

# Installs only what is missing. Needs root (no sudo); outside CI a non-root user gets a warning instead.
apt:
	@missing=""; \
	for pkg in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${db:Status-Abbrev}' $$pkg 2>/dev/null | grep -q '^ii' || missing="$$missing $$pkg"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	  if [ "$${CI:-}" = true ]; then echo "make apt: cannot install$$missing (need root and apt-get)" >&2; exit 1; fi; \
	  echo "make apt: skipped, not root or no apt-get; missing:$$missing (browser tests will fail)" >&2; exit 0; \
	fi; \
	echo "make apt: installing$$missing"; \
	apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null

run: install
	$(VENV)/bin/memdash run --config $(CONFIG) --port $(PORT)

test: install apt
	@rc=0; $(PY) -m pytest -p no:cacheprovider $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests (exit 5): failing" >&2; fi; \
	exit $$rc

bench: install
	$(PY) -m bench.latency
	$(PY) -m bench.locomo
	$(PY) -m bench.dashboard
	$(PY) -m bench.first_table
	$(PY) -m bench.concurrency
	$(PY) -m bench.history

screenshots: install apt
	$(PY) docs/screenshots/make.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

clean:
	rm -rf build dist .pytest_cache .ruff_cache *.egg-info $(VENV)/.memdash-installed-*
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
