# Qingshan 青山 — two commands on a fresh machine:
#   make demo   create .venv if missing, install, run the embedded Jiangxi example
#   make test   same install, run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)

.PHONY: demo test lint docs install clean bench

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[web,dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: install
	$(BIN)/qingshan demo --output out/jiangxi-2019

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check src tests
	$(BIN)/mypy

docs: install
	$(BIN)/python -m qingshan.docs

clean:
	rm -rf out test-artifacts .pytest_cache
