# Two entry points (see README): `make run` and `make test`. Everything else is a step of those.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUN_DIR ?= var

.PHONY: setup venv collector protos kql run test test-fast go-test lint bench clean

setup: venv collector protos kql

venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $@

collector:
	otelcol/build.sh

protos: venv
	@if [ -f tools/gen_protos.py ]; then $(PY) tools/gen_protos.py; fi

kql:
	@if [ -f kusto/validate/package-lock.json ]; then npm ci --prefix kusto/validate --no-audit --no-fund --silent; fi

# Receiver + collector on the embedded local sink ($(RUN_DIR)/sink/otlp.jsonl). Ctrl-C stops both.
run: setup
	$(PY) -m receiver.devstack --run-dir $(RUN_DIR)

test: setup lint go-test
	$(PY) -m pytest -q

# Our collector component (otelcol/otaprecv, the OTel-Arrow receiver) has its own Go tests.
go-test:
	cd otelcol/otaprecv && GOPROXY=$${GOPROXY:-https://proxy.golang.org} GOSUMDB=off go test -count=1 ./...

test-fast: venv protos
	$(PY) -m pytest -q -m "not e2e"

lint: venv protos
	$(VENV)/bin/ruff check receiver kusto loadtest tools
	$(VENV)/bin/mypy

bench: setup
	$(PY) -m loadtest.bench

clean:
	rm -rf $(VENV) otelcol/build otelcol/.build-stamp $(RUN_DIR)
