# Two commands: `make run` (the demo) and `make test` (the whole suite). Both set up .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint bench screenshots clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/xiaozhi-server demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	@command -v wrk >/dev/null || { echo "make bench needs wrk: apt-get install wrk"; exit 1; }
	$(BIN)/python -m bench

# The pictures in docs/console.md, retaken by the end-to-end tests.
screenshots: $(STAMP)
	XIAOZHI_DOCS_SCREENSHOTS=1 $(BIN)/pytest -q tests/e2e

clean:
	rm -rf $(VENV) data .mypy_cache .ruff_cache .pytest_cache
