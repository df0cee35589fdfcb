# Two commands: `make demo` and `make test`. Everything else is a helper for them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
# Find a Python >= 3.12 by running candidates: PATH first, then pyenv's installed versions
# (pyenv shims refuse to run without PYENV_VERSION, so call the interpreters directly).
PYTHON ?= $(shell for c in python3.13 python3.12 python3 \
	$$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV); do \
	  $$c -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 && { command -v $$c || echo $$c; } && break; \
	done)

# mypy's Django plugin imports the settings, which need SECRET_KEY and CREDENTIAL_KEYS:
# DEBUG=true fills them from var/dev-secrets.json (generated on first use), as the tests do.
MYPY := DEBUG=true $(VENV)/bin/mypy

.PHONY: help install demo test lint typecheck format run-sandbox clean

help:
	@echo "make demo     start the sandbox, a Celery worker and the web server with demo data"
	@echo "make test     lint, type-check, check the import rules and run the whole test suite"

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "No Python >= 3.12 found (tried PATH and pyenv)." >&2; exit 1; }
	@echo "Creating $(VENV) with $(PYTHON)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

install: $(VENV)/.installed

demo: install
	DEMO=true $(PY) manage.py demo $(if $(WORKERS),--workers $(WORKERS)) $(if $(REDFLAG_PEOPLE),--redflag-people $(REDFLAG_PEOPLE))

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(MYPY)
	$(VENV)/bin/lint-imports
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(MYPY)

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) var
