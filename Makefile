# MAPnet: `make run` runs one region, `make test` runs the checks. Both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint typecheck pytest contracts bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "MAPnet needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/mapnet up --demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy contracts mapnet services bench tests

pytest: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck pytest

contracts: $(STAMP)
	$(BIN)/mapnet contracts export

bench: $(STAMP)
	$(BIN)/python -m bench.bus

clean:
	rm -rf $(VENV) .mapnet .pytest_cache .mypy_cache .ruff_cache
