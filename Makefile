# okno — the two commands a newcomer needs are `make run` and `make test`.
# Installs come from uv.lock: exactly the versions the suite passed with. uv itself is bootstrapped
# from PyPI into .tools/, so a machine with only python3 is enough.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .tools
UV_VERSION := 0.13.8
UV := $(TOOLS)/bin/uv
STAMP := $(VENV)/.installed
# The pages' front-end assets (htmx, bpmn-js, axe-core), from the npm lock, served from the package.
VENDOR := api/pages/vendor
VENDOR_STAMP := $(VENDOR)/node_modules/.installed
# The Node tools the suite runs (bpmnlint on the exported BPMN), from their own npm lock.
TESTS_JS := tests/js
TESTS_JS_STAMP := $(TESTS_JS)/node_modules/.installed
# Use the machine's Python; never download an interpreter.
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: run test test-postgres bench lint upgrade clean

$(UV):
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)

$(STAMP): $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --extra dev --extra postgres --python $(PYTHON)
	touch $(STAMP)

$(VENDOR_STAMP): $(VENDOR)/package.json $(VENDOR)/package-lock.json
	npm ci --prefix $(VENDOR) --no-audit --no-fund --loglevel=error
	touch $(VENDOR_STAMP)

$(TESTS_JS_STAMP): $(TESTS_JS)/package.json $(TESTS_JS)/package-lock.json
	npm ci --prefix $(TESTS_JS) --no-audit --no-fund --loglevel=error
	touch $(TESTS_JS_STAMP)

run: $(STAMP) $(VENDOR_STAMP)
	$(BIN)/okno run

test: $(STAMP) $(VENDOR_STAMP) $(TESTS_JS_STAMP)
	$(BIN)/pytest

# The same suite on PostgreSQL: on the server OKNO_TEST_DATABASE_URL names
# (postgresql+psycopg://user@host:port/postgres; each test gets a database of its own there), or
# without it on a throwaway server .ci/with-postgres starts and stops (PostgreSQL's programs from
# PATH or /usr/lib/postgresql/*/bin).
test-postgres: $(STAMP) $(VENDOR_STAMP) $(TESTS_JS_STAMP)
ifdef OKNO_TEST_DATABASE_URL
	$(BIN)/pytest
else
	.ci/with-postgres $(BIN)/pytest
endif

bench: $(STAMP)
	$(BIN)/python -m benchmarks

lint: $(STAMP)
	$(BIN)/ruff check engine api tests benchmarks
	$(BIN)/lint-imports

# Refresh the lock to the newest versions pyproject.toml allows, install them, run the suite.
upgrade: $(UV)
	$(UV) lock --upgrade --python $(PYTHON)
	$(UV) sync --locked --extra dev --extra postgres --python $(PYTHON)
	touch $(STAMP)
	$(BIN)/pytest

clean:
	rm -rf $(VENV) $(TOOLS) var .pytest_cache $(VENDOR)/node_modules
