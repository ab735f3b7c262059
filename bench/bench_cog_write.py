#!/usr/bin/env python
"""Time GDAL COG creation settings on one float64 layer (what Qingshan writes per cell).

Writes an N×N float64 layer (a smooth field plus noise, NaN border, like a water-yield layer) with
each setting, in alternating rounds, and prints the median seconds and file size. Timings only,
never asserted (the machine may be shared: compare within one run).

    .venv/bin/python bench/bench_cog_write.py --size 3000 --rounds 3
"""

# ruff: noqa: T201
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

SETTINGS: dict[str, dict[str, object]] = {
    "deflate6 p3 (before)": {"compress": "deflate", "predictor": 3},
    "deflate1 p3": {"compress": "deflate", "predictor": 3, "level": 1},
    "zstd1 p3": {"compress": "zstd", "predictor": 3, "level": 1},
    "zstd1 p3 threads": {"compress": "zstd", "predictor": 3, "level": 1, "num_threads": "ALL_CPUS"},
    "lzw p3": {"compress": "lzw", "predictor": 3},
    "none": {"compress": "none"},
}


def layer(n: int) -> np.ndarray:
    rng = np.random.default_rng(42)
    y, x = np.mgrid[0:n, 0:n] / n
    a = 800 + 300 * np.sin(6 * x) * np.cos(4 * y) + rng.normal(0, 5, (n, n))
    a[:, : n // 20] = np.nan
    return a


def write(path: Path, a: np.ndarray, opts: dict[str, object], overviews: bool) -> float:
    prof = {"driver": "COG", "dtype": "float64", "count": 1, "height": a.shape[0], "width": a.shape[1],
            "crs": "EPSG:32650", "transform": Affine(30, 0, 400000, 0, -30, 3400000), "nodata": np.nan,
            "blocksize": 256, "overviews": "auto" if overviews else "none", **opts}
    t0 = time.perf_counter()
    with rasterio.open(path, "w", **prof) as ds:
        ds.write(a, 1)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    arr = layer(a.size)
    times: dict[tuple[str, bool], list[float]] = {}
    sizes: dict[tuple[str, bool], int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(a.rounds):
            for name, opts in SETTINGS.items():
                for ovr in (True, False):
                    p = Path(tmp) / "x.tif"
                    times.setdefault((name, ovr), []).append(write(p, arr, opts, ovr))
                    sizes[(name, ovr)] = p.stat().st_size
                    p.unlink()
    print(f"| setting ({a.size}², float64) | overviews | median s | MB |")
    print("|---|---|---|---|")
    for (name, ovr), ts in times.items():
        print(f"| {name} | {'auto' if ovr else 'none'} | {statistics.median(ts):.2f} | {sizes[(name, ovr)] / 1e6:.1f} |")


if __name__ == "__main__":
    main()
