#!/usr/bin/env python
"""Time and peak memory of the numpy engine vs the block-wise (Dask) engine on a synthetic province.

Synthetic, on-grid inputs (seed 42) written as tiled (512²), deflate-compressed GeoTIFFs:
``lulc`` (uint8 MODIS IGBP codes in smooth patches), ``precip``, ``aet`` [mm], ``ndvi`` (float32),
a lon/lat grid of ``--size``² cells of 0.001° (about 100 m) with a nodata margin, and a
province → 4 cities → 36 counties boundary file whose edges cut cells (fractional coverage).
Indicators: water conservation (water_balance), carbon sequestration (nep_from_npp) and climate
regulation (et_energy) of the ``jiangxi-db36-2021`` profile.

Each variant runs in its own process; its wall time covers plan → tables → regions → inputs →
compute → aggregate (leaf rows), i.e. ``account`` without valuation, export and store, which are
the same for both engines (``account`` also writes per-cell COGs, which the block-wise engine
does not yet). Peak memory is the peak summed RSS of the process and its children (Dask workers),
sampled every 0.1 s.

* ``numpy``: the engine with one block as large as the grid (whole arrays, what the numpy engine
  of 0.x did; since the engines were unified ``account`` is block-wise, ``[run] block_size``);
* ``threads``: ``compute_blockwise`` on Dask's threaded scheduler;
* ``cluster``: ``compute_blockwise`` on a ``LocalCluster`` of 2 worker processes × 1 thread;
* ``weights``: ``zone_weights`` alone (shared by both engines), for scale.

The leaf rows of every block-wise variant are checked against the numpy variant (max relative
difference printed). Timings only, never asserted.

    .venv/bin/python bench/bench_blockwise.py --size 6000 --work /tmp/qs_bw_bench
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TABLES = ROOT / "src" / "qingshan" / "data" / "tables"
INDICATORS = ("water_conservation", "carbon_sequestration", "climate_regulation")
RES = 0.001  # degrees per cell
ORIGIN = (110.0, 30.0)  # upper-left corner (lon, lat)
NODATA = -9999.0
TILE = 512


# ----------------------------------------------------------------------------- synthetic data
def _smooth(rng: np.random.Generator, shape: tuple[int, int], y0: int, x0: int, scale: int = 400) -> np.ndarray:
    """A smooth field in [0, 1] that depends only on absolute cell coordinates (window-independent)."""
    yy, xx = np.mgrid[y0 : y0 + shape[0], x0 : x0 + shape[1]].astype(np.float64)
    f = np.sin(yy / scale * 2.1) * np.cos(xx / scale * 1.7) + 0.5 * np.sin((xx + yy) / scale * 3.3)
    return (f + 1.5) / 3.0 + rng.uniform(-0.03, 0.03, shape)


def write_inputs(work: Path, size: int) -> dict[str, Path]:
    """Write the four input rasters window by window (the generator never holds a whole raster)."""
    import rasterio
    from affine import Affine
    from rasterio.windows import Window

    transform = Affine(RES, 0, ORIGIN[0], 0, -RES, ORIGIN[1])
    common = {"driver": "GTiff", "height": size, "width": size, "count": 1, "crs": "EPSG:4326",
              "transform": transform, "tiled": True, "blockxsize": TILE, "blockysize": TILE, "compress": "deflate"}
    specs = {"lulc": ("uint8", 255), "precip": ("float32", NODATA), "aet": ("float32", NODATA), "ndvi": ("float32", NODATA)}
    paths = {n: work / f"{n}.tif" for n in specs}
    if all(p.is_file() for p in paths.values()):
        return paths
    codes = np.array([1, 2, 5, 6, 8, 10, 11, 12, 13, 14, 0, 16])  # forest … water, barren (landcover_modis_igbp.csv)
    dsets = {n: rasterio.open(paths[n], "w", dtype=dt, nodata=nd, **common) for n, (dt, nd) in specs.items()}
    try:
        rng = np.random.default_rng(42)
        margin = size // 50
        for r in range(0, size, 2048):
            for c in range(0, size, 2048):
                h, w = min(2048, size - r), min(2048, size - c)
                f = _smooth(rng, (h, w), r, c)
                yy, xx = np.mgrid[r : r + h, c : c + w]
                outside = (yy < margin) | (xx < margin) | (yy >= size - margin) | (xx >= size - margin)
                lulc = codes[np.minimum((f * len(codes)).astype(int), len(codes) - 1)].astype(np.uint8)
                precip = 1200 + 900 * f
                aet = 500 + 500 * _smooth(rng, (h, w), r + 7, c + 13, 700)
                ndvi = np.clip(0.1 + 0.8 * _smooth(rng, (h, w), r + 3, c + 5, 250), -0.2, 0.95)
                arrays = {"lulc": np.where(outside, 255, lulc), "precip": np.where(outside, NODATA, precip),
                          "aet": np.where(outside, NODATA, aet), "ndvi": np.where(outside, NODATA, ndvi)}
                for n, ds in dsets.items():
                    ds.write(arrays[n].astype(specs[n][0]), 1, window=Window(c, r, w, h))
    finally:
        for ds in dsets.values():
            ds.close()
    return paths


def write_regions(work: Path, size: int) -> Path:
    """Province 36, 4 cities (2 × 2), 36 counties (6 × 6); edges at fractional cells (exact coverage matters)."""
    import geopandas as gpd
    from shapely.geometry import box

    span = size * RES
    x0, y1 = ORIGIN[0] + 0.37 * RES, ORIGIN[1] - 0.61 * RES
    step = (span - 2.0 * RES) / 6
    rows = []
    for i in range(6):
        for j in range(6):
            city = 3601 + (i // 3) * 2 + (j // 3)
            rows.append({
                "province_adcode": "360000", "province_name": "合成省",
                "city_adcode": f"{city}00", "city_name": f"市{city}",
                "district_adcode": f"{city}{i * 6 + j + 1:02d}", "district_name": f"县{i * 6 + j + 1}",
                "geometry": box(x0 + j * step, y1 - (i + 1) * step, x0 + (j + 1) * step, y1 - i * step),
            })
    path = work / "regions.geojson"
    gpd.GeoDataFrame(rows, crs="EPSG:4326").to_file(path, driver="GeoJSON")
    return path


def write_config(work: Path, size: int) -> Path:
    paths = write_inputs(work, size)
    regions = write_regions(work, size)
    inputs = "\n".join(f'{n} = "{p}"' for n, p in paths.items())
    text = f"""[run]
name = "synthetic {size}x{size}"
years = [2019]
profile = "jiangxi-db36-2021"
base_year = 2019
output = "{work / 'out'}"
store = "sqlite:///{work / 'store.sqlite'}"

[regions]
file = "{regions}"

[grid]
reference = "lulc"
resample = false

[inputs]
{inputs}

[tables]
parameters = ["{TABLES / 'params_science.csv'}"]
landcover = "{TABLES / 'landcover_modis_igbp.csv'}"
prices = "{TABLES / 'prices_default.csv'}"
"""
    path = work / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- one variant (child process)
def bench_plan(cfg: object) -> object:
    """The profile's plan restricted to :data:`INDICATORS` (``plan`` would ask for every profile input)."""
    from qingshan.engine.run import Plan
    from qingshan.indicators import registry

    reg = registry()
    profile = reg.profile("jiangxi-db36-2021")
    items = []
    for entry in profile.entries:
        if entry.indicator in INDICATORS:
            spec = reg.get(entry.indicator)
            items.append((spec, spec.method(entry.method or spec.default_method)))
    return Plan(profile=profile, items=tuple(items))


class PeakRSS:
    """Peak of the summed RSS of this process and its descendants [bytes], sampled in a thread."""

    def __init__(self, interval: float = 0.1) -> None:
        import psutil

        self.proc = psutil.Process()
        self.peak = 0
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        total = 0
        for p in [self.proc, *self.proc.children(recursive=True)]:
            with contextlib.suppress(Exception):  # a worker that just exited
                total += p.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            time.sleep(self.interval)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.peak = max(self.peak, self._sample())
        self._stop.set()
        self._thread.join()


def run_variant(variant: str, config_path: Path, block_size: int, out_json: Path) -> None:
    from qingshan.aggregate.zonal import zone_weights
    from qingshan.engine import run as R
    from qingshan.engine.blockwise import compute_blockwise
    from qingshan.engine.config import load_config

    cfg = load_config(config_path)
    client = cluster = None
    if variant == "cluster":
        from dask.distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    with PeakRSS() as rss:
        t0 = time.perf_counter()
        p = bench_plan(cfg)
        tables = R.load_tables(cfg, p)
        regions = R.load_regions(cfg)
        if variant == "numpy":  # the whole grid as one block
            whole = max(R.reference_grid(cfg, cfg.run.years[0]).shape)
            leaf, _, _ = compute_blockwise(cfg, p, tables, regions, block_size=whole)
        elif variant == "weights":
            grid = R.grid_of(cfg.input_path("lulc", 2019))
            zone_weights(regions, grid)
            leaf = None
        else:
            leaf, _, _ = compute_blockwise(cfg, p, tables, regions, block_size=block_size, client=client)
        seconds = time.perf_counter() - t0
    if client is not None:
        client.close()
        cluster.close()
    if leaf is not None:
        leaf.to_csv(out_json.with_suffix(".csv"), index=False, float_format="%.17g")
    out_json.write_text(json.dumps({"variant": variant, "seconds": seconds, "peak_rss_mb": rss.peak / 2**20}))


# ----------------------------------------------------------------------------- driver
def _max_rel_diff(a: Path, b: Path) -> float:
    import pandas as pd

    keys = ["region_code", "year", "indicator", "component", "ecosystem"]
    m = pd.read_csv(a, dtype={"region_code": str}).merge(pd.read_csv(b, dtype={"region_code": str}), on=keys, how="outer", suffixes=("_a", "_b"))
    if m[["quantity_a", "quantity_b"]].isna().any().any():
        return float("inf")
    return float(((m.quantity_a - m.quantity_b).abs() / m.quantity_a.abs()).max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=6000, help="grid side [cells]")
    ap.add_argument("--block-size", type=int, default=1024, help="block side [cells]")
    ap.add_argument("--work", type=Path, default=Path("/tmp/qs_bw_bench"))
    ap.add_argument("--variants", nargs="+", default=["weights", "numpy", "threads", "cluster"])
    ap.add_argument("--run", help=argparse.SUPPRESS)
    args = ap.parse_args()
    work = args.work / str(args.size)
    work.mkdir(parents=True, exist_ok=True)
    if args.run:
        run_variant(args.run, work / "config.toml", args.block_size, work / f"{args.run}.json")
        return
    t = time.perf_counter()
    write_config(work, args.size)
    disk = sum(f.stat().st_size for f in work.glob("*.tif")) / 2**20
    print(f"inputs {args.size}×{args.size} ready in {time.perf_counter() - t:.1f} s ({disk:.0f} MiB on disk)", flush=True)  # noqa: T201
    results = {}
    for v in args.variants:
        subprocess.run([sys.executable, __file__, "--size", str(args.size), "--block-size", str(args.block_size),
                        "--work", str(args.work), "--run", v], check=True)
        results[v] = json.loads((work / f"{v}.json").read_text())
        print(f"{v:8s} {results[v]['seconds']:8.1f} s  peak RSS {results[v]['peak_rss_mb']:8.0f} MiB", flush=True)  # noqa: T201
    print(f"\nmachine: {platform.platform()}, {os.cpu_count()} cores, python {platform.python_version()}")  # noqa: T201
    print(f"grid {args.size}² = {args.size**2 / 1e6:.0f} M cells, block {args.block_size}²")  # noqa: T201
    print(f"{'variant':8s} {'s':>8s} {'MiB':>8s} {'numpy/x time':>13s} {'numpy/x RSS':>12s} {'max rel diff':>13s}")  # noqa: T201
    base = results.get("numpy")
    for v, r in results.items():
        ratio_t = base["seconds"] / r["seconds"] if base else float("nan")
        ratio_m = base["peak_rss_mb"] / r["peak_rss_mb"] if base else float("nan")
        diff = _max_rel_diff(work / "numpy.csv", work / f"{v}.csv") if base and v not in ("numpy", "weights") else float("nan")
        print(f"{v:8s} {r['seconds']:8.1f} {r['peak_rss_mb']:8.0f} {ratio_t:13.2f} {ratio_m:12.2f} {diff:13.1e}")  # noqa: T201


if __name__ == "__main__":
    main()
