# The README's two commands: `make demo` and `make test`. Both build .venv from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-now test-ahead faketime lint typecheck unit venv clean bench

# How far ahead `test-ahead` moves every clock. Three years: no literal date written into a
# test today survives it, and the run says so long before the calendar gets there.
AHEAD ?= +3y

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/bazaar demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

# The whole suite twice: today, then with every clock $(AHEAD) (test-ahead).
test: test-now test-ahead

# One pass at today's date: lint, types, every test.
test-now: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest -q

# The suite once more with every clock moved $(AHEAD): each Python process the tests start
# (through tests/support/clock_ahead_site/sitecustomize.py) and the redis-server (through
# libfaketime), so a test pinned to a date fails today instead of on the day the calendar
# passes it. tests/conftest.py refuses to run if the clock did not move.
test-ahead: $(STAMP) faketime
	BAZAAR_CLOCK_AHEAD='$(AHEAD)' \
	PYTHONPATH='$(CURDIR):$(CURDIR)/tests/support/clock_ahead_site' \
	$(BIN)/pytest -q -p no:cacheprovider

# Debian's faketime (libfaketime); installed when missing, as CI (root) can.
faketime:
	@command -v faketime >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get install -y -qq faketime >/dev/null 2>&1 || \
	     (apt-get update -qq && apt-get install -y -qq faketime >/dev/null)); \
	  else \
	    echo "make test-ahead needs Debian's faketime: sudo apt-get install faketime" >&2; \
	    exit 1; \
	  fi; }

clean:
	rm -rf $(VENV) bazaar-data .pytest_cache .mypy_cache .ruff_cache
