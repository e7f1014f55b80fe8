# zkml-market: `make demo` runs the whole flow on the embedded chain, `make test` runs the tests.
# Both install what they need first (a virtual environment, the native crate, npm peers).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install test test-fast demo demo-all bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# the native crate is rebuilt when any Rust source or the build config changes
$(STAMP): $(VENV)/bin/python pyproject.toml prover/native/Cargo.toml $(shell find prover/native/src -name '*.rs')
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@

install: $(STAMP) node_modules/.package-lock.json

test: install
	$(VENV)/bin/pytest

test-fast: install
	$(VENV)/bin/pytest -m 'not slow'

demo: install
	$(VENV)/bin/zkmarket demo

# the demo, then an accuracy audit and a trustless retrieval with the same weights
demo-all: install
	$(VENV)/bin/zkmarket demo --all

bench: install
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) node_modules prover/native/target prover/_native*.so
