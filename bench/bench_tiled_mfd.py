"""Tiled MFD accumulation in process (never a timed test): `tiled_flow_accumulation_invest(dem, "MFD", tile)` on the
top-left N² of a benchmark DEM, with the number of tile runs of the perimeter exchange, and optionally the whole-grid
kernels on the same cells with the largest relative difference (docs/benchmarks.md, "Fourth pass").

    .venv/bin/python bench/bench_tiled_mfd.py --size 2048 --tile 512 --whole \\
        --dem /work/invest/bench/data_10000/dem.tif
"""

# ruff: noqa: T201
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from qingshan.kernels import routing as R
from qingshan.kernels import tiled_routing as T


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dem", type=Path, default=Path("/work/invest/bench/data_10000/dem.tif"))
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument("--whole", action="store_true", help="also the whole-grid kernels, and the largest relative difference")
    a = ap.parse_args()
    with rasterio.open(a.dem) as ds:
        dem = ds.read(1, window=Window(0, 0, a.size, a.size)).astype(np.float64)
        if ds.nodata is not None:
            dem[dem == ds.nodata] = np.nan
    runs = {}
    accumulate = T.tiled_accumulate

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        runs["n"] = accumulate(*args, **kwargs)
        return runs["n"]

    T.tiled_accumulate = counted  # type: ignore[assignment]
    t0 = time.perf_counter()
    _, acc = T.tiled_flow_accumulation_invest(dem, "MFD", a.tile)
    print(f"tiled MFD {a.size}², tile {a.tile}: {time.perf_counter() - t0:.1f} s, {runs['n']} tile runs")
    if a.whole:
        t0 = time.perf_counter()
        ref = R.flow_accumulation_invest(R.fill_pits_invest(dem), "MFD")
        print(f"whole grid: {time.perf_counter() - t0:.1f} s, largest relative difference "
              f"{np.nanmax(np.abs(ref - acc) / ref):.1e}")


if __name__ == "__main__":
    main()
