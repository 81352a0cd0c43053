# Vigil — every task starts here. Needs only Python 3.11+ and make.
#   make run    serve the API on http://127.0.0.1:8000 (SQLite under var/, no other services)
#   make test   run the whole suite (SQLite and in-process backends unless VIGIL_TEST_* are set)

PYTHON ?= python3
VENV   := .venv
PY     := $(abspath $(VENV))/bin/python
BACKEND := backend
HOST ?= 127.0.0.1
PORT ?= 8000

.DEFAULT_GOAL := help
.PHONY: help run test lint format migrate worker bench lock clean admin seed

help:
	@echo "make run      serve the API on http://$(HOST):$(PORT) (docs at /docs)"
	@echo "make test     run the test suite"
	@echo "make lint     ruff (lint + format check) and mypy"
	@echo "make format   apply ruff's fixes and formatting"
	@echo "make migrate  bring the database to the newest migration"
	@echo "make worker   run a worker process (jobs from Redis + polling loops)"
	@echo "make admin    create a platform admin (asks for email and password)"
	@echo "make seed     load the demo company (50 people, groups) and print its logins"
	@echo "make bench    run the benchmarks in bench/"
	@echo "make lock     re-pin backend/requirements*.txt from backend/pyproject.toml"

$(VENV)/bin/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Vigil needs Python 3.11 or newer (found: $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: $(VENV)/bin/python $(BACKEND)/requirements.txt
	$(PY) -m pip install --quiet -r $(BACKEND)/requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime $(BACKEND)/requirements-dev.txt
	$(PY) -m pip install --quiet -r $(BACKEND)/requirements-dev.txt
	touch $@

migrate: $(VENV)/.runtime
	cd $(BACKEND) && $(PY) -m scripts.migrate

run: migrate
	@echo ""
	@echo "  Vigil API:  http://$(HOST):$(PORT)    docs: http://$(HOST):$(PORT)/docs"
	@echo "  Database:   $${VIGIL_DATABASE_URL:-SQLite file var/vigil.db}"
	@echo "  Sign in:    POST /api/v1/auth/register creates a company and its admin;"
	@echo "              or 'make seed' for a demo company (logins printed),"
	@echo "              and 'make admin' for an operator account."
	@echo "  Email:      without VIGIL_SMTP_HOST, messages are written to var/outbox/"
	@echo ""
	cd $(BACKEND) && $(PY) -m uvicorn main:app --host $(HOST) --port $(PORT) \
		--no-access-log --timeout-graceful-shutdown 30

worker: migrate
	cd $(BACKEND) && $(PY) -m worker

admin: migrate
	cd $(BACKEND) && $(PY) -m scripts.create_admin

seed: migrate
	cd $(BACKEND) && $(PY) -m scripts.seed_data

test: $(VENV)/.dev
	cd $(BACKEND) && $(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	cd $(BACKEND) && $(PY) -m ruff check . ../bench
	cd $(BACKEND) && $(PY) -m ruff format --check . ../bench
	cd $(BACKEND) && $(PY) -m mypy .

format: $(VENV)/.dev
	cd $(BACKEND) && $(PY) -m ruff check --fix . ../bench && $(PY) -m ruff format . ../bench

bench: $(VENV)/.dev
	$(PY) bench/run_all.py

lock: $(VENV)/.dev
	cd $(BACKEND) && $(PY) -m piptools compile --quiet --strip-extras --no-emit-index-url \
		--no-emit-trusted-host --no-emit-find-links -o requirements.txt pyproject.toml
	cd $(BACKEND) && $(PY) -m piptools compile --quiet --strip-extras --extra dev \
		--no-emit-index-url --no-emit-trusted-host --no-emit-find-links \
		-o requirements-dev.txt pyproject.toml

clean:
	rm -rf $(VENV) var .pytest_cache $(BACKEND)/.pytest_cache $(BACKEND)/.mypy_cache $(BACKEND)/.ruff_cache
