# zkml-market: `make demo` runs the whole flow on the embedded chain, `make test` runs the tests.
# Both install what they need first (a virtual environment, the native crate, npm peers), from
# the locks: constraints.txt (Python), prover/native/Cargo.lock (Rust), package-lock.json (npm).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install native-adx test test-fast demo demo-all bench lint format lock clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# the native crate is rebuilt when any Rust source or the build config changes
$(STAMP): $(VENV)/bin/python pyproject.toml constraints.txt prover/native/Cargo.toml prover/native/Cargo.lock $(shell find prover/native/src -name '*.rs')
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test,lint]'
	$(MAKE) --no-print-directory native-adx
	@touch $@

# a second build of the crate with the BMI2/ADX instructions, for arkworks' assembly field
# multiplication; prover.kernels loads it instead of the portable build where the CPU has both
# (and it is not older than the portable one). Written under its final name only when complete.
ADX_TARGET := prover/native/target/adx
native-adx:
	RUSTFLAGS="-C target-feature=+bmi2,+adx" cargo build --quiet --release --locked \
		--manifest-path prover/native/Cargo.toml --target-dir $(ADX_TARGET)
	cp $(ADX_TARGET)/release/lib_native.so prover/_native_adx.abi3.so.tmp
	mv prover/_native_adx.abi3.so.tmp prover/_native_adx.abi3.so

install: $(STAMP) node_modules/.package-lock.json

# two test processes (pytest-xdist), a module each at a time, the longest modules first
TEST_PROCESSES ?= 2

test: install
	$(VENV)/bin/pytest -n $(TEST_PROCESSES) --dist loadscope --no-loadscope-reorder

test-fast: install
	$(VENV)/bin/pytest -n $(TEST_PROCESSES) --dist loadscope --no-loadscope-reorder -m 'not slow'

demo: install
	$(VENV)/bin/zkmarket demo

# the demo, then an accuracy audit and a trustless retrieval with the same weights
demo-all: install
	$(VENV)/bin/zkmarket demo --all

bench: install
	$(PY) -m pip install --quiet -c constraints.txt -e '.[bench]'
	$(PY) -m benchmarks

# ruff (lint + format check) and mypy on the Python packages, rustfmt + clippy on the crate,
# solhint on the contracts; configuration in pyproject.toml, .solhint.json
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	cd prover/native && cargo fmt --check && cargo clippy --release --all-targets --locked -- -D warnings
	npx solhint --disc 'contracts/**/*.sol'

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .
	cd prover/native && cargo fmt

# regenerate constraints.txt from pyproject.toml (newest versions that fit), then `make install`
lock: $(VENV)/bin/python
	$(PY) -m pip install --quiet pip-tools
	$(VENV)/bin/pip-compile --quiet --extra test --extra lint --extra bench --strip-extras --no-emit-index-url \
	    --no-emit-find-links --output-file constraints.txt pyproject.toml

clean:
	rm -rf $(VENV) node_modules prover/native/target prover/_native*.so
