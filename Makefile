# The two commands of the README: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Serving needs the runtime dependencies only; lint, test and bench also the test tools
# (Playwright, mypy, schemathesis: hundreds of MB). Each stamp says its install is current.
SERVE_INSTALLED := $(VENV)/.installed-serve
INSTALLED := $(VENV)/.installed
# `make serve PORT=8080 HOST=0.0.0.0`; not taken from the environment, where shells set HOST.
HOST := 127.0.0.1
PORT := 8000

.PHONY: serve test test-long lint bench clean console

$(SERVE_INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(SERVE_INSTALLED)

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(INSTALLED)

# The self-hosted GraphiQL console, built from npm packages (skipped with a warning without node).
console:
	scripts/build-console

serve: $(SERVE_INSTALLED) console
	$(BIN)/rujuk serve --seed-demo --host $(HOST) --port $(PORT)

lint: $(INSTALLED)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo

test: $(INSTALLED) lint console
	$(BIN)/pytest

# Everything, with the minutes-long runs marked `long` (the 5-minute soak).
test-long: $(INSTALLED) lint console
	$(BIN)/pytest -m ''

bench: $(INSTALLED)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
