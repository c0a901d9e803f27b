# Two commands: `make test` and `make demo`. Both set everything up first (idempotent).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.eqrobot-installed
# System libraries the Python wheels need: open3d loads libusb-1.0.
APT_PACKAGES := libusb-1.0-0
PYTEST_ARGS ?=

.PHONY: setup apt venv test lint pytest demo bench clean-venv help

help:
	@echo "make setup  - create $(VENV), install system libraries and eqrobot[ros,test] (idempotent)"
	@echo "make test   - setup, then ruff and the whole test suite (what CI runs)"
	@echo "make demo   - setup, then the end-to-end demo (eqrobot demo)"
	@echo "make bench  - setup, then the benchmarks (long; writes bench/)"

setup: apt $(STAMP)

apt:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing system libraries:$$missing"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing </dev/null; \
	else \
	  echo "missing system libraries:$$missing"; \
	  echo "install them with: sudo apt-get install -y$$missing   (then run make again)"; exit 1; \
	fi

$(PY):
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "eqrobot needs Python >= 3.10"'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

venv: $(PY)

# Reinstalls only when the dependency list or the pins change.
$(STAMP): setup.py setup.cfg constraints.txt package.xml | $(PY)
	$(PIP) install -q -c constraints.txt -e '.[ros,test]'
	$(PIP) install -q -c constraints.txt --no-deps escnn  # its py3nj needs gfortran; escnn runs without it
	@touch $(STAMP)

lint: setup
	$(VENV)/bin/ruff check .

pytest: setup
	$(PY) -m pytest $(PYTEST_ARGS)

test: setup
	$(VENV)/bin/ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

demo: setup
	$(VENV)/bin/eqrobot demo

bench: setup
	$(VENV)/bin/eqrobot bench registration --out bench
	$(VENV)/bin/eqrobot bench nav --out bench/nav

clean-venv:
	rm -rf $(VENV)
