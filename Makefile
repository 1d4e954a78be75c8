# Recoup: `make run` to try it, `make test` to check it. Both set themselves up.
SHELL := /bin/bash
# The first interpreter that actually runs and is 3.11+ (pyenv shims may exist but not run).
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501
PORTAL_PORT ?= 8502

.PHONY: run portal test lint bench setup setup-dev clean

$(VENV)/.python:
	@test -n "$(PYTHON)" || { echo "Recoup needs Python 3.11 or newer on the PATH (python3)."; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Recoup needs Python 3.11 or newer; found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@touch $@

$(VENV)/.runtime: $(VENV)/.python requirements.txt
	$(BIN)/pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@touch $@

setup: $(VENV)/.runtime
setup-dev: $(VENV)/.dev

run: setup
	$(BIN)/python -m core migrate
	$(BIN)/python -m core seed-demo --if-empty
	@$(BIN)/python -m core demo-logins || true
	@echo "Recoup is starting on http://localhost:$(PORT) (Ctrl-C stops it)"
	$(BIN)/streamlit run Home.py --server.port $(PORT)

# The debtor portal: its own app and port, for the public side (see README, Debtor portal).
portal: setup
	$(BIN)/python -m core migrate
	@echo "The debtor portal is starting on http://localhost:$(PORTAL_PORT) (links: an account page → Debtor portal → Make a portal link)"
	PYTHONPATH=. $(BIN)/streamlit run portal/app.py --server.port $(PORTAL_PORT)

test: setup-dev
	$(BIN)/pytest

lint: setup-dev
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: setup-dev
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
