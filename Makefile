# MAPnet: `make run` runs one region, `make test` runs the checks. Both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

CHROMIUM := /usr/bin/chromium
# The reports' tests render a PDF's first pages to PNG with it (Debian's poppler-utils).
PDFTOPPM := /usr/bin/pdftoppm
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install run test test-slow lint typecheck pytest browser contracts messages bench clean

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

# The portal's browser tests drive Debian's Chromium (Playwright cannot download a browser here);
# the reports' tests draw a PDF's pages with pdftoppm.
browser:
	@test -x $(CHROMIUM) || command -v apt-get >/dev/null || \
		echo "no $(CHROMIUM) and no apt-get: the browser tests will be skipped"
	@test -x $(CHROMIUM) || ! command -v apt-get >/dev/null || { \
		echo "installing Debian's chromium for the browser tests"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }
	@test -x $(PDFTOPPM) || command -v apt-get >/dev/null || \
		echo "no $(PDFTOPPM) and no apt-get: the reports' page images will be skipped"
	@test -x $(PDFTOPPM) || ! command -v apt-get >/dev/null || { \
		echo "installing Debian's poppler-utils for the reports' page images"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq poppler-utils >/dev/null; }

# Test processes, each with its own servers, a test file kept in one process (its module-wide
# servers and regions are set up once): two more than the cores, at most four, as the suite
# waits on servers and subprocesses (a region starting, a benchmark's run) as much as it
# computes. On two cores: one process took 14 minutes, two 10:48, three 9:31 (a smaller suite);
# with today's, three took 13:58. Counted by the venv's Python (built before the recipe runs:
# no `python3` need be on the PATH), from the cores this process may use (taskset's or a
# cpuset's, where the system tells them); two when it cannot tell.
TEST_PROCESSES_BY_CORES := import os; cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1; print(min(cores + 2, 4))
TEST_PROCESSES ?= $(shell $(BIN)/python -c '$(TEST_PROCESSES_BY_CORES)' 2>/dev/null || echo 2)
pytest: $(STAMP) browser
	$(BIN)/pytest -q -n $(TEST_PROCESSES) --dist loadfile --durations=15

# What `make test` leaves out for time: the whole network of ten regions on this machine.
# CI runs it after `make test`.
test-slow: $(STAMP)
	$(BIN)/pytest -q -m slow --durations=5 -s

test: lint typecheck pytest

contracts: $(STAMP)
	$(BIN)/mapnet contracts export

# The portal's texts into its message catalogue template (a test fails when it is stale).
messages: $(STAMP)
	$(BIN)/pybabel extract -F services/portal/babel.cfg -k tr -k N_ --no-location \
		--omit-header --sort-output -o services/portal/locale/messages.pot services/portal

bench: $(STAMP)
	$(BIN)/python -m bench.bus

clean:
	rm -rf $(VENV) .mapnet .pytest_cache .mypy_cache .ruff_cache
