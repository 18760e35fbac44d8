# archsearch — every entry point a user needs. `make test` and `make demo` work on a fresh clone.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# pip on these machines prints one warning per package for an absent local index; hide only those.
PIP_QUIET := grep -v "is ignored: it is neither a file nor a directory" || true

export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: help venv instance lint test test-slow test-all test-ui test-scale demo study ui bench clean

help:
	@echo "make test   - create .venv if needed, run make lint, then the fast test suite"
	@echo "make lint   - ruff (lint and format check) and import-linter (the layer contracts in pyproject.toml)"
	@echo "make demo   - create .venv if needed and run the main job on the embedded default"
	@echo "make study  - replicated campaigns per agent and dataset (study: in the config) and the study report"
	@echo "make ui     - start the Dagster UI on http://127.0.0.1:3000"
	@echo "make test-ui - drive the Dagster UI in Debian's chromium (apt-get install chromium)"
	@echo "make test-scale - Celery workers on Redis with a Postgres instance (apt: postgresql, redis-server)"
	@echo "make test-slow / test-all / bench / clean"

# The venv is rebuilt only when pyproject.toml changes (stamp file).
$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "archsearch needs Python >= 3.11, found " + sys.version' 
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing torch==2.13.0 ..."
	@$(BIN)/python -m pip install -q torch==2.13.0 2>&1 | $(PIP_QUIET)
	@echo "installing archsearch and its dependencies ..."
	@$(BIN)/python -m pip install -q -e '.[dev]' 2>&1 | $(PIP_QUIET)
	@$(BIN)/python -c "import torch, dagster, archsearch" 
	@touch $@

venv: $(VENV)/.installed

# Style (ruff) and architecture (import-linter: pipelines > assets > archsearch > models, no cycles).
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

test: venv lint
	$(BIN)/python -m pytest -q -n 2  # two workers: the CI machine has two cores

test-slow: venv
	$(BIN)/python -m pytest -q -m slow

test-all: venv
	$(BIN)/python -m pytest -q -m "not ui and not scale"

# The browser test: a real `dagster dev` driven through Debian's chromium (apt-get install chromium).
test-ui: venv
	$(BIN)/python -m pytest -q -m ui tests/ui

# Scale-out: real PostgreSQL + Redis on loopback and two Celery workers (apt: postgresql, redis-server).
test-scale: venv
	$(BIN)/python -m pytest -q -m scale tests/scale

$(DAGSTER_HOME)/dagster.yaml:
	@mkdir -p "$(DAGSTER_HOME)"
	@cp pipelines/dagster.yaml "$@"

instance: $(DAGSTER_HOME)/dagster.yaml

demo: venv instance
	$(BIN)/python -m pipelines.demo

study: venv instance
	$(BIN)/python -m pipelines.study

ui: venv instance
	$(BIN)/dagster dev -h 127.0.0.1 -p 3000 -w workspace.yaml

# Every benchmark that needs no prior materialization (bench/probe.py reads the cached features).
bench: venv
	$(BIN)/python bench/decode.py
	$(BIN)/python bench/store_read.py
	$(BIN)/python bench/features.py --videos 16
	$(BIN)/python bench/heads.py --dagster
	$(BIN)/python bench/search.py

clean:
	rm -rf .archsearch .dagster_home .pytest_cache .artifacts
