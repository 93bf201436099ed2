# make help: the everyday commands. Everything runs in .venv, created on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The CPU build of torch; on a GPU machine use `make TORCH=torch ...` for the CUDA build.
TORCH  ?= torch==2.13.0

.PHONY: help install smoke test test-full bench bench-quick lint format clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/sweep: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/sweep  ## create .venv with torch (CPU by default) and the project

smoke: install  ## the smoke sweep end to end: tiny model, bundled data, ~2 minutes on 2 CPU cores
	$(BIN)/python -m sweep run search_spaces/smoke.yaml

test: install  ## the default test suite (about 16 minutes on 2 CPU cores, two test workers)
	$(BIN)/python -m pytest

test-full: install  ## every test, the slow ones on real data and the real model included
	$(BIN)/python -m pytest -m "not gpu"

bench: install  ## every benchmark on real data and MiniLM, full size (about 4 h on 2 CPU cores)
	$(BIN)/python -m benchmarks

bench-quick: install  ## every benchmark, shrunk (about 25 minutes on 2 CPU cores)
	$(BIN)/python -m benchmarks --quick

lint: install  ## ruff lint and format check, and the type hints checked by mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:  ## remove experiment folders and caches (keeps .venv)
	find results -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
	rm -rf .pytest_cache .ruff_cache
