# Warden: `make run` starts everything with demo data, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Tests, the fault tests and the benchmarks run with the development keys, which the system
# checks refuse otherwise when DEBUG is off (apps/core/checks.py).
TEST_ENV := WARDEN_ALLOW_DEV_KEYS=1
STAMP := $(VENV)/.installed

.PHONY: run test soak bench lint install clean chromium

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q '.[dev,embedded,suites]' -e clients/python
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) manage.py runstack

# Browser tests drive Debian's chromium. Install it where we may (root, or passwordless sudo);
# otherwise stop with the one command that brings it.
CHROMIUM ?= /usr/bin/chromium
chromium:
	@if [ -x "$(CHROMIUM)" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then SUDO=; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO=sudo; \
	else echo "browser tests need chromium: run 'sudo apt-get install chromium' (or set CHROMIUM=/path)"; exit 1; fi; \
	echo "installing Debian's chromium for the browser tests"; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	test -x "$(CHROMIUM)" || { echo "chromium did not install at $(CHROMIUM)"; exit 1; }

test: $(STAMP) chromium
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m mypy
	$(TEST_ENV) $(PY) manage.py check --fail-level WARNING
	$(TEST_ENV) $(PY) manage.py makemigrations --check --dry-run >/dev/null || (echo "models changed without a migration"; exit 1)
	$(TEST_ENV) WARDEN_CHROMIUM=$(CHROMIUM) $(PY) -m pytest

# Fault tests: Warden over a private PostgreSQL and Redis that they stop, freeze and kill.
soak: $(STAMP)
	$(TEST_ENV) $(PY) -m pytest -m fault -s tests/faults

bench: $(STAMP)
	@set -e; for b in tests/bench/bench_*.py; do echo "== $$b"; $(TEST_ENV) $(PY) $$b; done

lint: $(STAMP)
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

clean:
	rm -rf $(VENV) var
