#!/usr/bin/env python
"""Benchmark of ``qingshan revalue`` on a synthetic stored run (docs/benchmarks.md, section "Revaluation").

Builds, in ``--work``, a store with one succeeded run of 100 counties (10 cities, 1 province) × every priced
indicator component of the shipped price table × ecosystems × 10 years (30 730 leaf rows, the issue's case),
recorded exactly as ``account`` records it (values from the value step, sealed ``results.csv``). Then times:

* in-process: ``qingshan.engine.revalue.revalue`` at doubled prices (median of ``--repeat``, after one warm-up);
* whole process: ``qingshan revalue RUN --prices …`` and, as the yardstick, a process that merely reads the
  parent's quantities table (``python -c "import pandas; pandas.read_csv(results.csv)"``), medians.

    .venv/bin/python tools/bench_revalue.py --work /tmp/qs_bench_revalue
"""

from __future__ import annotations

import argparse
import csv
import resource
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pandas as pd

YEARS = list(range(2015, 2025))
LEAF_ROWS_PER_YEAR = 3073


def _regions() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = [{"code": "990000", "name": "合成省", "level": "province", "parent": None,
                                      "area_km2": None, "geometry": None}]
    for c in range(1, 11):
        rows.append({"code": f"99{c:02d}00", "name": f"合成市{c}", "level": "city", "parent": "990000",
                     "area_km2": None, "geometry": None})
        rows += [{"code": f"99{c:02d}{k:02d}", "name": f"合成县{c}-{k}", "level": "county", "parent": f"99{c:02d}00",
                  "area_km2": None, "geometry": None} for k in range(1, 11)]
    return rows


def _leaf_rows(prices_path: Path) -> pd.DataFrame:
    """30 730 leaf rows: per county and year, every priced (indicator, component) × ecosystems, cut to 3 073."""
    from qingshan.core.params import ECOSYSTEM_IDS
    from qingshan.indicators import registry

    with open(prices_path, encoding="utf-8") as fh:
        keys = {r["price_key"] for r in csv.DictReader(fh)}
    pairs = [(s.id, c.id, c.unit) for s in registry() for c in s.components
             if c.price_key and c.id != "*" and c.price_key in keys]
    combos = [(i, c, u, e) for i, c, u in pairs for e in ECOSYSTEM_IDS if "." not in e]
    per_county = LEAF_ROWS_PER_YEAR // 100 + 1
    counties = [r["code"] for r in _regions() if r["level"] == "county"]
    rows = []
    for year in YEARS:
        n = 0
        for k, code in enumerate(counties):
            take = per_county if k < LEAF_ROWS_PER_YEAR - (per_county - 1) * 100 else per_county - 1
            for j in range(take):
                i, c, u, e = combos[(k * 7 + j) % len(combos)]
                rows.append({"region_code": code, "year": year, "indicator": i, "component": c, "ecosystem": e,
                             "quantity": 1000.0 + 37.0 * k + 3.0 * j + 0.5 * (year - 2015), "unit": u})
                n += 1
        assert n == LEAF_ROWS_PER_YEAR, n
    return pd.DataFrame(rows).drop_duplicates(["region_code", "year", "indicator", "component", "ecosystem"])


def build_parent(work: Path) -> tuple[str, str, Path, Path]:
    """A stored, sealed parent run; (store URL, run id, prices CSV, doubled prices CSV)."""
    import qingshan
    from qingshan.aggregate.regions import Region, RegionSet
    from qingshan.engine.export import _with_names
    from qingshan.engine.run import _roll_up_valued
    from qingshan.engine.valuation import value_rows
    from qingshan.store import artifacts, repo
    from qingshan.store.db import open_store, sqlite_url
    from qingshan.valuation.prices import Deflator, PriceTable

    tables = Path(qingshan.__file__).parent / "data" / "tables"
    prices, deflator = work / "prices.csv", work / "deflator.csv"
    shutil.copyfile(tables / "prices_default.csv", prices)
    shutil.copyfile(tables / "deflator_cpi_china.csv", deflator)
    doubled = work / "prices_doubled.csv"
    with open(prices, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    for r in rows[1:]:
        r[1] = repr(float(r[1]) * 2)
    with open(doubled, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)

    region_rows = _regions()
    regions = RegionSet(regions={str(r["code"]): Region(str(r["code"]), str(r["name"]), str(r["level"]),
                                                        None if r["parent"] is None else str(r["parent"]))
                                 for r in region_rows}, leaves=pd.DataFrame({"code": [str(r["code"]) for r in region_rows
                                                                                  if r["level"] == "county"]}))  # type: ignore[arg-type]
    leaf = _leaf_rows(prices)
    defl = Deflator.from_csv(deflator)
    valued, used = value_rows(leaf, prices=PriceTable.from_csv(prices, deflator=defl), regions=regions,
                              base_year=YEARS[0], deflator=defl)
    results = _roll_up_valued(valued, regions)
    url = sqlite_url(work / "qingshan.sqlite")
    factory = open_store(url)
    data_dir = artifacts.data_dir_for(url)
    run_id = str(uuid.uuid4())
    staging = artifacts.make_tmp(artifacts.runs_root(data_dir))
    _with_names(results, regions).to_csv(staging / "results.csv", index=False, encoding="utf-8-sig")
    rel, manifest = artifacts.seal(staging, data_dir, run_id)
    config = {"tables": {"deflator": str(deflator)}, "prices": {"year_policy": "deflate"}}
    repo.start_run(factory, run_id=run_id, name="synthetic 100 counties × 10 years", profile="rcees", years=YEARS,
                   base_year=YEARS[0], config=config, code_version="bench")
    methods = {i: registry_default(i) for i in sorted(set(leaf["indicator"]))}
    repo.finish_run_succeeded(factory, run_id, results=results, regions=region_rows,
                              provenance={"prices": used, "methods": methods, "parameters": {},
                                          "input_hashes": {}, "content_hash": "0" * 64},
                              output_dir=None, content_hash="0" * 64, artifacts_dir=rel, artifacts=manifest)
    print(f"parent {run_id}: {len(leaf)} leaf rows, {len(results)} result rows")  # noqa: T201
    return url, run_id, prices, doubled


def registry_default(indicator: str) -> str:
    from qingshan.indicators import registry

    return registry().get(indicator).default_method


def _median_process(cmd: list[str], repeat: int) -> tuple[float, float]:
    """Median wall and CPU (user + system of the child) seconds of ``cmd``. On a shared machine the CPU time is
    the steadier figure: wall time grows with the load, CPU time much less."""
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        walls.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    if a.work.exists():
        from qingshan.store.artifacts import remove_tree

        remove_tree(a.work)
    a.work.mkdir(parents=True)
    url, run_id, _, doubled = build_parent(a.work)
    from qingshan.engine.revalue import revalue

    revalue(url, run_id, prices=doubled)  # warm-up: imports, unit parsing
    inproc, inproc_cpu = [], []
    for _ in range(a.repeat):
        t, c = time.perf_counter(), time.process_time()
        out = revalue(url, run_id, prices=doubled)
        inproc.append(time.perf_counter() - t)
        inproc_cpu.append(time.process_time() - c)
    csv_path = out.artifacts_dir.parent / run_id / "results.csv"
    exe = str(Path(sys.executable).with_name("qingshan"))
    whole = _median_process([exe, "revalue", run_id, "--prices", str(doubled), "--store", url], a.repeat)
    read = _median_process([sys.executable, "-c", f"import pandas; pandas.read_csv({str(csv_path)!r})"], a.repeat)
    print(f"rows valued: {len(out.results)} result rows from 30 730 leaf rows")  # noqa: T201
    print(f"in-process revalue: median wall {statistics.median(inproc):.3f} s (min {min(inproc):.3f}), "  # noqa: T201
          f"CPU {statistics.median(inproc_cpu):.3f} s")
    print(f"whole process `qingshan revalue`: median wall {whole[0]:.2f} s, CPU {whole[1]:.2f} s")  # noqa: T201
    print(f"whole process reading the quantities table (pandas.read_csv): wall {read[0]:.2f} s, "  # noqa: T201
          f"CPU {read[1]:.2f} s")
    print(f"ratio revalue / read: wall {whole[0] / read[0]:.2f}, CPU {whole[1] / read[1]:.2f}")  # noqa: T201
    import os

    print(f"load average {os.getloadavg()}, {os.cpu_count()} CPUs")  # noqa: T201

if __name__ == "__main__":
    main()
