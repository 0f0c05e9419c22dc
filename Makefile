# Two commands matter: `make demo` (the main job) and `make test` (every check).
# Each target creates what is missing and nothing else: a second run reinstalls nothing.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .rempart/tools
UV := $(TOOLS)/bin/uv
VENV := .venv
REMPART := $(VENV)/bin/rempart

export UV_PYTHON := $(shell command -v $(PYTHON))
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: help demo test test-fast lint format stop venv superset-venv system-packages clean

help:
	@echo "make demo   run Rempart end to end on the demo files (embedded PostgreSQL)"
	@echo "make test   run every check: ruff, import contracts, sqlfluff, pytest"
	@echo "make test-fast  the inner loop: ruff, import contracts, unit and integration tests"
	@echo "                without Superset or the slow ones (no browser, a few minutes)"
	@echo "make lint   ruff, import contracts and sqlfluff only"
	@echo "make stop   stop what make demo left running (Superset and its workers, Redis, PostgreSQL)"

# uv, pinned, in a private tools folder: nothing is installed outside the project.
$(UV):
	@echo "==> bootstrapping uv $(UV_VERSION) into $(TOOLS)"
	@$(PYTHON) -m venv $(TOOLS)
	@$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# The pipeline environment, from the lock file; rebuilt only when the lock changes (or this
# recipe). Bytecode is compiled once here: every `rempart` and `dbt` command then starts
# seconds sooner, even where PYTHONDONTWRITEBYTECODE forbids caching it at run time.
$(VENV)/.synced: $(UV) uv.lock pyproject.toml Makefile
	@echo "==> syncing $(VENV) from uv.lock"
	@$(UV) sync --frozen --quiet --compile-bytecode
	@touch $@

venv: $(VENV)/.synced

# Superset's own environment: it needs SQLAlchemy 1.4 and can never share .venv.
VENV_SUPERSET := .venv-superset
$(VENV_SUPERSET)/.synced: $(UV) superset/requirements.txt
	@echo "==> creating $(VENV_SUPERSET) from superset/requirements.txt"
	@test -x $(VENV_SUPERSET)/bin/python || $(UV) venv --quiet $(VENV_SUPERSET)
	@$(UV) pip install --quiet --python $(VENV_SUPERSET)/bin/python -r superset/requirements.txt
	@touch $@

superset-venv: $(VENV_SUPERSET)/.synced

demo: venv superset-venv
	@$(REMPART) db start
	@$(REMPART) examples
	@$(REMPART) run
	@$(REMPART) audit verify
	@$(REMPART) superset start

stop: venv
	@$(REMPART) superset stop
	@$(REMPART) redis stop
	@$(REMPART) db stop

lint: venv
	@echo "==> ruff"
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@echo "==> import contracts (pyproject.toml: the rooms of flows/ and their layers)"
	@PYTHONPATH=superset $(VENV)/bin/lint-imports --no-cache
	@echo "==> sqlfluff (dbt templater, on a throw-away database)"
	@$(REMPART) db scratch -- $(VENV)/bin/sqlfluff lint models dbt_project
	@echo "==> sqlfluff (the loaders' plain SQL, placeholder templater)"
	@$(VENV)/bin/sqlfluff lint --templater placeholder loaders/sql

format: venv
	@$(VENV)/bin/ruff format .
	@$(VENV)/bin/ruff check --fix .
	@$(REMPART) db scratch -- $(VENV)/bin/sqlfluff fix models dbt_project
	@$(VENV)/bin/sqlfluff fix --templater placeholder loaders/sql

# Chromium and its driver for the browser tests: installed if missing and allowed (root or
# sudo -n), else the exact command to run is printed, within seconds, before anything else.
system-packages:
	@bash tests/system_packages.sh

# One pytest process. Two at once (tests/e2e beside tests/unit and tests/integration, each
# with ports of its own through REMPART_TEST_PORTS) took 23 minutes instead of 34 on a fresh
# clone, but widened a race of the browser login's second step; back to one until it is fixed.
test: system-packages lint superset-venv
	@echo "==> pytest"
	@$(VENV)/bin/pytest

# The inner loop: what needs neither Superset nor a browser, nor the slow tests.
test-fast: venv
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@PYTHONPATH=superset $(VENV)/bin/lint-imports --no-cache
	@$(VENV)/bin/pytest tests/unit tests/integration -m "not slow and not e2e"

clean:
	rm -rf target logs .pytest_cache .ruff_cache
