# Mailroom: `make run` starts the app with its local services; `make test` runs the whole suite.
# Both install what they need (a Python 3.11 venv from requirements-dev.txt, npm ci).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test lint deps clean

deps: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: deps
	$(PY) -m tools.run_local

test: deps
	$(PY) -m pytest

lint: deps
	$(PY) -m ruff check .
	$(PY) -m mypy

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
