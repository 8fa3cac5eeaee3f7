# innsync task runner: people and CI run the same targets. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3.11
PORT ?= 8080
# pytest-xdist workers; each has databases of its own (tests/databases.py). 2 matches CI's cores
# (4 was tried: CPU-bound tests then took twice as long and the suite 50 % longer). worksteal:
# an idle worker takes queued tests from the other, so a long test near the end leaves no core idle.
TEST_WORKERS ?= 2
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z][a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --quiet
	@touch $@

.PHONY: install
install: $(VENV)/.synced ## Create the environment from the lockfile

.PHONY: run
run: install ## Run innsync on SQLite at http://127.0.0.1:$(PORT)
	$(BIN)/innsync serve --host 127.0.0.1 --port $(PORT)

.PHONY: lint
lint: install ## ruff (lint and format check) and import-linter
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

.PHONY: types
types: install ## mypy --strict
	$(BIN)/mypy

.PHONY: migrations-check
migrations-check: install ## Fail when the models and the migrations drift apart
	@rm -f .migrations-check.sqlite3
	INNSYNC_DATABASE_URL=sqlite:///.migrations-check.sqlite3 $(BIN)/innsync migrate --quiet
	INNSYNC_DATABASE_URL=sqlite:///.migrations-check.sqlite3 $(BIN)/alembic -c src/innsync/db/alembic.ini check
	@rm -f .migrations-check.sqlite3*

.PHONY: unit
unit: install ## Run the test suite only
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal --durations=40 $(PYTEST_ARGS)

# Not part of `make test`: tracing every line costs the suite about 80 % more CPU (measured on
# tests/sync and tests/inbound: 308 s against 173 s), which the 15-minute budget cannot carry.
.PHONY: coverage
coverage: install ## The test suite with a line and branch coverage report
	$(BIN)/pytest -n $(TEST_WORKERS) --cov --cov-report=term $(PYTEST_ARGS)

.PHONY: slow
slow: install ## The slow fault runs (chaos restarts the local PostgreSQL), in one process
	$(BIN)/pytest -n 0 -m slow $(PYTEST_ARGS)

.PHONY: test
test: lint types migrations-check unit ## Lint, types, migration drift and the whole suite

.PHONY: format
format: install ## Format the code
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

.PHONY: clean
clean: ## Remove the environments
	rm -rf $(TOOLS) $(VENV)
