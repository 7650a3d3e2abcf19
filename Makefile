# Two commands for a newcomer: `make run` and `make test` (see README).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT

.PHONY: run test install bench eval chaos system-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) 2>/dev/null || python3 -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/flask --app bot init-db
	$(BIN)/flask --app bot kb check
	@echo ""
	@echo "  LINE assistant: http://127.0.0.1:$(PORT)"
	@echo "  Chat simulator (development mode): http://127.0.0.1:$(PORT)/dev/simulator"
	@echo ""
	SCHEDULER_ENABLED=$${SCHEDULER_ENABLED:-true} $(BIN)/python -m bot.serve --port $(PORT) --processes 1 --threads 8

# One pytest-xdist worker per core (each with its own database: tests/conftest.py); PYTEST_ARGS adds options.
test: install
	$(BIN)/python -m pytest -n auto $(PYTEST_ARGS)

eval: install
	$(BIN)/python tools/eval_faq.py

bench: install
	$(BIN)/python -m bench

chaos: install
	$(BIN)/python -m pytest -m slow tests

# Debian packages the browser tests, the PDF font, emoji in the simulator and screenshots, and the
# PostgreSQL run need (CI calls this).
system-deps:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk \
	  fonts-noto-color-emoji postgresql wrk >/dev/null

clean:
	rm -rf $(VENV) instance
