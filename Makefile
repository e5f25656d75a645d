# BuonoComune: `make run` starts the app with demo data, `make test` runs the suite.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
HOST ?= 127.0.0.1
PORT ?= 8000

# The first Python >= 3.12 found: python3.13, python3.12, then pyenv's installs (3.13 before
# 3.12). A plain python3 is not tried: on Debian 12 it is 3.11.
PYENV_ROOT_DIR := $(or $(shell pyenv root 2>/dev/null),$(HOME)/.pyenv)
PYTHON_CANDIDATES := python3.13 python3.12 \
	$(sort $(wildcard $(PYENV_ROOT_DIR)/versions/3.13*/bin/python3)) \
	$(sort $(wildcard $(PYENV_ROOT_DIR)/versions/3.12*/bin/python3))
BASE_PYTHON ?= $(shell for p in $(PYTHON_CANDIDATES); do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then \
		command -v $$p; break; fi; done)

.PHONY: run test test-pg test-fast lint format typecheck seed bench messages check-migrations clean venv \
	system-packages system-packages-run

$(BIN)/.installed: pyproject.toml
	@if [ ! -x "$(PY)" ]; then \
		if [ -z "$(BASE_PYTHON)" ]; then \
			echo "BuonoComune needs Python 3.12 or newer, and none was found."; \
			echo "Tried: python3.13, python3.12 (on the PATH), then $(PYENV_ROOT_DIR)/versions/3.13* and 3.12*."; \
			echo "Install one (Debian 13: 'sudo apt-get install -y python3 python3-venv' gives 3.13;"; \
			echo "elsewhere 'pyenv install 3.13'), or run make with BASE_PYTHON=/path/to/python3.12, and run make again."; \
			exit 1; fi; \
		echo "Creating $(VENV) with $(BASE_PYTHON)"; \
		"$(BASE_PYTHON)" -m venv $(VENV); fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

venv: $(BIN)/.installed

# libzbar0, gettext and (for the tests) chromium: installed when run as root, otherwise the
# command to install them is printed.
system-packages:
	@.ci/system-packages test

system-packages-run:
	@.ci/system-packages run

run: system-packages-run venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py compilemessages --ignore '.venv' -v0
	$(PY) manage.py seed_demo
	@echo
	@echo "  App (beneficiari e cassieri):  http://$(HOST):$(PORT)/"
	@echo "  Amministrazione (personale):   http://$(HOST):$(PORT)/admin/"
	@echo "  API e documentazione:          http://$(HOST):$(PORT)/api/docs/"
	@echo "  Accessi demo: python manage.py seed_demo --json (riassunto qui sotto)"
	@$(PY) manage.py seed_demo --logins
	@echo
	$(PY) manage.py runserver $(HOST):$(PORT)

seed: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo

# The PostgreSQL of `make test` and `make test-pg` (pytest creates and drops test_<name>).
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/buonocomune
PG_ANSWERS = $(PY) -c "import psycopg; psycopg.connect('$(PG_TEST_URL)', dbname='postgres', \
	connect_timeout=3).close()" >/dev/null 2>&1

# The suite on SQLite (or on DATABASE_URL), then, when PostgreSQL answers at PG_TEST_URL, the
# tests marked postgresql (the redemption's database function, real concurrency, dropped
# connections, the ranking in SQL, a Celery worker) on it. TEST_PG=0 leaves them out.
test: system-packages venv
	$(PY) -m pytest $(PYTEST_ARGS)
	@if [[ "$$DATABASE_URL" == postgres* || "$(TEST_PG)" == 0 ]]; then exit 0; \
	elif $(PG_ANSWERS); then \
		echo "== tests marked postgresql, on $(PG_TEST_URL)"; \
		DATABASE_URL="$(PG_TEST_URL)" $(PY) -m pytest -m postgresql $(PYTEST_ARGS); \
	else echo "PostgreSQL does not answer at $(PG_TEST_URL): the tests marked postgresql" \
		"were skipped (set PG_TEST_URL, or make test-pg)."; fi

# The whole suite on PostgreSQL at PG_TEST_URL.
test-pg: system-packages venv
	DATABASE_URL="$(PG_TEST_URL)" $(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# mypy with django-stubs, as configured in pyproject.toml (strict on core, on the vouchers and
# merchants services and selectors, and on the reports but their admin).
typecheck: venv
	$(BIN)/mypy

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

check-migrations: venv
	$(PY) manage.py makemigrations --check --dry-run

messages: venv
	$(PY) manage.py makemessages -l it -l en --ignore '.venv/*' --ignore 'tests/*' --ignore 'bench/*'
	$(PY) manage.py makemessages -d djangojs -l it -l en --ignore '.venv/*' --ignore 'staticfiles/*'
	$(PY) manage.py compilemessages --ignore '.venv'

bench: venv
	$(PY) -m pip install --quiet -e '.[dev,tills]'
	$(PY) bench/redeem.py

clean:
	rm -rf $(VENV) db.sqlite3* staticfiles .pytest_cache
