# Haven: the commands a newcomer needs. Every target bootstraps .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
RUNTIME := $(VENV)/.installed

PG_URL ?= postgres://postgres@127.0.0.1:5432/test

.PHONY: run test check pytest pytest-postgres bench clean

# What running needs, and no more (evidence screenshots included: they drive the system's Chromium).
$(RUNTIME): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[screenshots]'
	touch $(RUNTIME)

# Everything testing needs besides.
$(STAMP): $(RUNTIME) pyproject.toml integrations/threatexchange/pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet -e integrations/threatexchange
	touch $(STAMP)

## run: the whole product on the embedded default (SQLite in ./var, demo organisation on first
## start): the web app and the background worker (scans, rechecks, sharing, monthly reports)
run: $(RUNTIME)
	$(BIN)/haven serve --demo --worker --host 127.0.0.1 --port 8000

## test: everything CI runs (lint, types, import contracts, the suite on SQLite and on PostgreSQL)
test: check pytest pytest-postgres

check: $(STAMP)
	$(BIN)/ruff check src tests benchmarks integrations
	$(BIN)/ruff format --check src tests benchmarks integrations
	$(BIN)/mypy
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/pytest

# The web tests again on PostgreSQL when a server is reachable; CI requires it (HAVEN_TEST_REQUIRE_POSTGRES=1).
pytest-postgres: $(STAMP)
	@if $(BIN)/python -c "import psycopg; psycopg.connect('$(PG_URL)', connect_timeout=3).close()" 2>/dev/null; then \
		echo "== web tests on PostgreSQL ($(PG_URL))"; \
		HAVEN_TEST_DATABASE_URL=$(PG_URL) $(BIN)/pytest tests/web; \
	elif [ "$$HAVEN_TEST_REQUIRE_POSTGRES" = "1" ]; then \
		echo "PostgreSQL at $(PG_URL) is required (HAVEN_TEST_REQUIRE_POSTGRES=1) but not reachable"; exit 1; \
	else \
		echo "PostgreSQL suite NOT RUN: no server at $(PG_URL) (set PG_URL to point at one)"; \
	fi

## bench: the benchmark scripts (installs the peers they compare against)
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python benchmarks/bench_hashing.py
	$(BIN)/python benchmarks/bench_sharing.py --pg $(PG_URL)
	$(BIN)/python benchmarks/bench_federation.py --pg $(PG_URL)
	$(BIN)/python benchmarks/bench_reports.py --pg $(PG_URL)

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
