# The two commands a new user needs: `make run` and `make test`. Everything else is a step of those.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test install install-dev lint typecheck pytest faults security migrate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUNTIME_STAMP): requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $(RUNTIME_STAMP)

$(DEV_STAMP): $(RUNTIME_STAMP) requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(DEV_STAMP)

## The runtime only (what `make run` needs).
install: $(RUNTIME_STAMP)

## The runtime plus the test, lint and type-check tools.
install-dev: $(DEV_STAMP)

## Install, migrate, create an admin if none exists, then run gunicorn and a Celery worker (Ctrl-C stops both).
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py ensure_admin
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	PATH="$(abspath $(BIN)):$$PATH" ./scripts/run.sh

## Install and run the whole suite: lint, format check, types, tests.
test: install-dev lint typecheck pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck:
	$(BIN)/mypy .

pytest:
	$(BIN)/pytest $(PYTEST_ARGS)

## Fault injection against real processes (gunicorn, Celery, Redis, PostgreSQL when DATABASE_URL names it).
faults: install-dev
	$(BIN)/pytest -m faults $(PYTEST_ARGS)

## Security probes: advisory classes, hostile input, throttles, and a bounded schemathesis run.
security: install-dev
	$(BIN)/pytest -m security $(PYTEST_ARGS)

migrate: install
	$(BIN)/python manage.py migrate --noinput

clean:
	rm -rf $(VENV)
