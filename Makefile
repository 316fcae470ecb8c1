# One entry point for every development task. `make demo` and `make test` work on a fresh
# machine: each creates .venv and installs what it needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FULL ?=

.PHONY: install demo test lint unit bench golden clean browser

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m fixtures.demo

lint: $(STAMP)
	$(BIN)/ruff check auditor checks fixtures tests bench
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest tests -x

test: lint
	$(BIN)/python -m pytest tests -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python -m bench.run $(if $(FULL),--full,)

golden: $(STAMP)
	$(BIN)/python -m fixtures.golden

clean:
	rm -rf $(VENV) reports/*/ .pytest_cache .mypy_cache .ruff_cache
