# Qingshan 青山 — two commands on a fresh machine:
#   make demo   create .venv if missing, install, run the embedded Jiangxi example
#   make test   same install, run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
# pytest-xdist workers for make test (auto: one per core, at most 4); TEST_WORKERS=0 runs in one process
TEST_WORKERS ?= auto
STAMP   = $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)
VENDOR  = src/qingshan/api/static/vendor/manifest.json

.PHONY: demo serve test lint docs install clean bench bench-load bench-scale

install: $(STAMP) $(VENDOR)

# Map and chart libraries (MapLibre GL JS, ECharts) from the npm registry, shipped with the package.
$(VENDOR): web/package.json web/package-lock.json web/build.mjs
	@command -v npm >/dev/null || (apt-get update -qq && apt-get install -y -qq nodejs npm)
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[web,dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: install
	tools/ensure_system_deps.sh --reports
	$(BIN)/qingshan demo --output out/jiangxi-2019

serve: install
	$(BIN)/qingshan serve --store sqlite:///$(CURDIR)/out/qingshan.sqlite

test: install
	tools/ensure_system_deps.sh
	$(BIN)/ruff check src tests
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --maxprocesses 4

lint: install
	$(BIN)/ruff check src tests
	$(BIN)/mypy

# Whole-process benchmark (never a timed test): Qingshan's CLI vs InVEST 3.20.2 vs a plain rasterio + numpy
# script, inputs on disk → outputs on disk, /usr/bin/time -v, alternating rounds (docs/benchmarks.md). InVEST's
# venv: bash validation/install_invest.sh /work/invest/venv (without it, the InVEST column is left out).
INVEST_PY   ?= /work/invest/venv/bin/python
BENCH_DIR   ?= /tmp/qs_bench_whole
BENCH_SIZES ?= 64 1000 3000
bench: install
	$(BIN)/python bench/bench_whole.py --sizes $(BENCH_SIZES) --rounds 3 --work $(BENCH_DIR) \
	    $(if $(wildcard $(INVEST_PY)),--invest-python $(INVEST_PY),--no-invest)

# Scaling benchmark (never a timed test): whole `qingshan account` runs on synthetic regions up to a Jiangxi-sized
# 13 600² grid at 30 m, and on 1, 2 and 4 dask.distributed workers (docs/benchmarks.md).
SCALE_DIR   ?= /tmp/qs_bench_scale
SCALE_SIZES ?= 3000 13600
bench-scale: install
	$(BIN)/python bench/bench_scale.py --sizes $(SCALE_SIZES) --workers 1 2 4 --work $(SCALE_DIR)

# Load benchmark of the dashboard reads (never a timed test): 200 clients with wrk, SQLite and PostgreSQL.
bench-load: install
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	tools/ensure_system_deps.sh
	$(BIN)/python bench/load_dashboard.py --backend sqlite --clients 200 --workers 2
	$(BIN)/python bench/load_dashboard.py --backend postgresql --clients 200 --workers 2

docs: install
	$(BIN)/python -m qingshan.docs

clean:
	rm -rf out test-artifacts .pytest_cache
