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

.PHONY: help install lock demo test lint typecheck format run-sandbox clean

help:
	@echo "make demo     start the sandbox, a Celery worker and the web server with demo data"
	@echo "make test     lint, type-check, check the import rules and run the whole test suite"

# Every package, with its dependencies, at the version and hashes requirements.lock names
# (written by `make lock` from pyproject.toml's pins); the project itself adds nothing.
LOCK := requirements.lock
PIP_VERSION := 26.3

$(VENV)/.installed: pyproject.toml $(LOCK)
	@test -n "$(PYTHON)" || { echo "No Python >= 3.12 found (tried PATH and pyenv)." >&2; exit 1; }
	@echo "Creating $(VENV) with $(PYTHON)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q pip==$(PIP_VERSION)
	$(PY) -m pip install -q --require-hashes -r $(LOCK)
	$(PY) -m pip install -q --no-deps -e .
	@touch $@

install: $(VENV)/.installed

# After changing a pin in pyproject.toml: write requirements.lock again (every platform and
# Python >= 3.12, with hashes), then `make install`. `make lock UPGRADE=1` moves the unpinned
# dependencies to their newest releases too.
lock:
	@test -x $(VENV)/bin/uv || $(PY) -m pip install -q "$$(grep -o '"uv==[^"]*"' pyproject.toml | tr -d '"')"
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --generate-hashes --universal \
	  --python-version 3.12 --quiet $(if $(UPGRADE),--upgrade) --output-file $(LOCK)

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
