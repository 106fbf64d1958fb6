# The two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi
# `make run PORT=5001` when 5000 is taken.
PORT ?= 5000
KAPT_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export KAPT_TEST_POSTGRES_URL
POSTGRES_REACHABLE = $(BIN)/python -c "import sqlalchemy as sa; sa.create_engine('$(KAPT_TEST_POSTGRES_URL)').connect().close()" 2>/dev/null

.PHONY: run demo-reset test install install-test lint typecheck test-sqlite test-postgresql openapi-snapshot clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install -q -e '.[test]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## make run: migrate the SQLite database, load the demo clinic if empty, serve on :$(PORT)
# Development, said out loud: without it the service refuses to start with no secret key.
run: export KAPT_ENV ?= development
run: export KAPT_BASE_URL ?= http://127.0.0.1:$(PORT)
run: install
	$(BIN)/flask db upgrade
	$(BIN)/flask kapt demo-data --if-empty --no-logins
	$(BIN)/flask kapt serve --host 127.0.0.1 --port $(PORT)

## make demo-reset: reload the demo clinic for a new day (only over the demo or an empty database)
demo-reset: export KAPT_ENV ?= development
demo-reset: install
	$(BIN)/flask db upgrade
	$(BIN)/flask kapt demo-data --reset

## make test: ruff, mypy, the suite on SQLite and (when reachable) on PostgreSQL
test: install-test lint typecheck
	@if $(POSTGRES_REACHABLE); then \
		echo "Running the suite on SQLite and on PostgreSQL side by side (logs follow)"; \
		KAPT_TEST_PASSES=both $(MAKE) --no-print-directory test-sqlite > .test-sqlite.log 2>&1 & sqlite_pid=$$!; \
		KAPT_TEST_PASSES=both $(MAKE) --no-print-directory test-postgresql > .test-postgresql.log 2>&1; postgres_status=$$?; \
		wait $$sqlite_pid; sqlite_status=$$?; \
		echo "SQLite pass exit $$sqlite_status, PostgreSQL pass exit $$postgres_status"; \
		echo "===== SQLite ====="; cat .test-sqlite.log; \
		echo "===== PostgreSQL ====="; cat .test-postgresql.log; \
		test $$sqlite_status -eq 0 -a $$postgres_status -eq 0; \
	else \
		echo "PostgreSQL not reachable at $(KAPT_TEST_POSTGRES_URL): SQLite only"; \
		$(MAKE) --no-print-directory test-sqlite; \
	fi

lint: install-test
	$(BIN)/ruff check kapt_api tests $(wildcard bench) deploy wsgi.py .ci
	$(BIN)/ruff format --check kapt_api tests $(wildcard bench) deploy wsgi.py .ci

typecheck: install-test
	$(BIN)/mypy

test-sqlite: install-test
	KAPT_TEST_DB=sqlite $(BIN)/pytest

test-postgresql: install-test
	KAPT_TEST_DB=postgresql $(BIN)/pytest

## make openapi-snapshot: a deliberate change to the contract, written to the snapshot its test compares
openapi-snapshot: install
	KAPT_ENV=test $(BIN)/python -c "import pathlib; from kapt_api import create_app; \
	app = create_app({'KAPT_ENV': 'test', 'SQLALCHEMY_DATABASE_URI': 'sqlite://'}); \
	pathlib.Path('tests/openapi_snapshot.json').write_bytes(app.test_client().get('/openapi.json').data)" > /dev/null

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
