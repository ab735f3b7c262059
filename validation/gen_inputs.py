#!/usr/bin/env python
"""Seeded InVEST 3.20 inputs for the Qingshan ↔ InVEST comparison, without InVEST.

Needs Qingshan's venv (numpy, scipy, rasterio, shapely, pyogrio; the fields come from ``qingshan.synth``,
which ``qingshan synth`` builds whole accounting datasets with). Two kinds:

* ``--size N``: synthetic N×N grid at 30 m in EPSG:32650, the same random stream and layer
  formulas as ``/work/shared/tools/invest-bench/gen_data.py`` (seed 42 reproduces
  ``/work/invest/data_N`` raster for raster); the watershed vector is one polygon equal to the
  raster extent (gen_data.py delineates D8 basins with pygeoprocessing instead; per-pixel outputs
  do not depend on it).
* ``--olinda``: the real Olinda DEM (``tests/data/olinda_dem_utm25s.tif``, 111×111, 90 m) with the
  synthetic layers of ``/work/invest/make_olinda_inputs.py`` (seed 42).

Writes ``dem.tif, lulc.tif, precip.tif, et0.tif, root_restrict_depth.tif, pawc.tif,
erosivity.tif, erodibility.tif, watersheds.gpkg, biophysical_awy.csv, biophysical_sdr.csv`` —
the file names ``run_invest.py`` expects.

    .venv/bin/python validation/gen_inputs.py --size 200 --out /tmp/qs_val/data_200
    .venv/bin/python validation/gen_inputs.py --olinda --out /tmp/qs_val/data_olinda
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyogrio.raw
import rasterio
import shapely
from affine import Affine

from qingshan.synth import fractal, relief  # shared with `qingshan synth` (same random stream)

EPSG = 32650
PIXEL = 30.0
X0, Y_BOTTOM = 400000.0, 3300000.0
OLINDA = Path(__file__).resolve().parents[1] / "tests" / "data" / "olinda_dem_utm25s.tif"

# lucode: (name, lulc_veg, root_depth_mm, kc, usle_c, usle_p) — gen_data.py's table
LULC = {
    1: ("forest", 1, 3000, 1.00, 0.003, 1.0),
    2: ("shrubland", 1, 2000, 0.85, 0.020, 1.0),
    3: ("grassland", 1, 1200, 0.75, 0.040, 1.0),
    4: ("cropland", 1, 800, 0.80, 0.150, 0.4),
    5: ("built-up", 0, 10, 0.30, 0.001, 1.0),
    6: ("water", 0, 1, 1.05, 0.000, 1.0),
    7: ("bare", 0, 10, 0.40, 0.500, 1.0),
}


def _write(path: Path, arr: np.ndarray, crs: str, transform: Affine, nodata: float) -> None:
    with rasterio.open(path, "w", driver="GTiff", height=arr.shape[0], width=arr.shape[1], count=1,
                       dtype=arr.dtype, crs=crs, transform=transform, nodata=nodata,
                       tiled=True, blockxsize=256, blockysize=256, compress="deflate") as dst:
        dst.write(arr, 1)


def _soil(slope_deg: np.ndarray, soil: np.ndarray, water: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    depth = np.clip(2200 * (1 - np.clip(slope_deg / 35, 0, 1)) * (0.5 + 0.5 * soil) + 200, 200, 2400).astype("float32")
    pawc = np.clip(0.08 + 0.14 * soil, 0.0, 1.0).astype("float32")
    pawc[water] = 0.0
    depth[water] = 1.0
    return depth, pawc


def synthetic(n: int, seed: int) -> dict[str, np.ndarray]:
    """gen_data.py's layers (same random stream): dem, lulc, precip, et0, depth, pawc, R, K."""
    rng = np.random.default_rng(seed)
    scale = n / 1000.0
    dem = relief(n, rng)  # qingshan.synth: the same formula and random stream
    gy, gx = np.gradient(dem, PIXEL)
    slope = np.degrees(np.arctan(np.hypot(gx, gy)))
    e_pct = np.argsort(np.argsort(dem.ravel())).reshape(dem.shape) / dem.size
    noise = fractal(n, rng, hurst=0.5, base_sigma=25 * scale)
    urban_noise = fractal(n, rng, hurst=0.3, base_sigma=12 * scale)
    lulc = np.full(dem.shape, 2, dtype=np.int16)
    lulc[(e_pct > 0.45) | (slope > 18)] = 1
    lulc[(e_pct > 0.25) & (e_pct <= 0.55) & (noise > 0.55) & (slope < 18)] = 3
    crop = (e_pct < 0.35) & (slope < 12)
    lulc[crop] = 4
    lulc[crop & (urban_noise > 0.62)] = 5
    lulc[(e_pct < 0.02) & (slope < 6)] = 6
    lulc[(noise > 0.78) & (slope > 10)] = 7
    sm = fractal(n, rng, hurst=0.9, base_sigma=200 * scale)
    precip = (1450 + 0.30 * dem + 120 * (sm - 0.5)).astype("float32")
    et0 = (1060 - 0.11 * dem + 30 * (sm - 0.5)).astype("float32")
    soil = fractal(n, rng, hurst=0.7, base_sigma=60 * scale)
    depth, pawc = _soil(slope, soil, lulc == 6)
    erosivity = (4500 + 2.2 * (precip - 1450) + 400 * (sm - 0.5)).astype("float32")
    erodibility = (0.020 + 0.025 * (1 - soil)).astype("float32")
    return {"dem": dem, "lulc": lulc, "precip": precip, "et0": et0, "root_restrict_depth": depth,
            "pawc": pawc, "erosivity": erosivity, "erodibility": erodibility}


def olinda(dem: np.ndarray, pix: float, seed: int) -> dict[str, np.ndarray]:
    """make_olinda_inputs.py's layers on the real Olinda DEM (same random stream)."""
    rng = np.random.default_rng(seed)
    n_rows, n_cols = dem.shape
    gy, gx = np.gradient(dem.astype("float64"), pix)
    slope = np.degrees(np.arctan(np.hypot(gx, gy)))
    n = max(n_rows, n_cols)
    noise = fractal(n, rng, hurst=0.5, base_sigma=8.0)[:n_rows, :n_cols]
    soil = fractal(n, rng, hurst=0.7, base_sigma=15.0)[:n_rows, :n_cols]
    lulc = np.full(dem.shape, 2, dtype=np.int16)
    lulc[dem <= 40] = 3
    lulc[dem <= 25] = 4
    lulc[(dem <= 25) & (noise > 0.55)] = 5
    lulc[(dem > 55) | (slope > 15)] = 1
    lulc[(noise > 0.85) & (slope > 5) & (dem > 0)] = 7
    lulc[dem <= 0] = 6
    xfrac = (np.arange(n_cols) + 0.5) / n_cols
    precip = np.broadcast_to((1650.0 - 100.0 * xfrac)[None, :] + 5.0 * (noise - 0.5), dem.shape).astype("float32")
    depth, pawc = _soil(slope, soil, lulc == 6)
    full = lambda v: np.full(dem.shape, v, dtype="float32")  # noqa: E731
    return {"dem": dem.astype("float32"), "lulc": lulc, "precip": precip, "et0": full(1000.0),
            "root_restrict_depth": depth, "pawc": pawc, "erosivity": full(5000.0), "erodibility": full(0.03)}


def write_dataset(out: Path, layers: dict[str, np.ndarray], crs: str, transform: Affine) -> None:
    """Rasters, a one-polygon watershed vector (ws_id = 1) and the two biophysical tables."""
    out.mkdir(parents=True, exist_ok=True)
    for name, arr in layers.items():
        _write(out / f"{name}.tif", arr, crs, transform, -1 if name == "lulc" else -9999.0)
    h, w = layers["dem"].shape
    x0, y0 = transform.c, transform.f
    x1, y1 = x0 + w * transform.a, y0 + h * transform.e
    poly = shapely.MultiPolygon([shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))])
    gpkg = out / "watersheds.gpkg"
    gpkg.unlink(missing_ok=True)
    pyogrio.raw.write(gpkg, np.array([shapely.to_wkb(poly)], dtype=object),
                      field_data=[np.array([1], dtype=np.int32)], fields=["ws_id"], crs=crs,
                      geometry_type="MultiPolygon", driver="GPKG", layer="watersheds")
    (out / "biophysical_awy.csv").write_text("lucode,description,lulc_veg,root_depth,kc\n" + "".join(
        f"{k},{v[0]},{v[1]},{v[2]},{v[3]}\n" for k, v in LULC.items()))
    (out / "biophysical_sdr.csv").write_text("lucode,description,usle_c,usle_p\n" + "".join(
        f"{k},{v[0]},{v[4]},{v[5]}\n" for k, v in LULC.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, help="synthetic N×N grid")
    ap.add_argument("--olinda", action="store_true", help="real Olinda DEM + synthetic layers")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    if a.olinda:
        with rasterio.open(OLINDA) as ds:
            dem, crs, transform = ds.read(1), ds.crs.to_wkt(), ds.transform
        write_dataset(a.out, olinda(dem, transform.a, a.seed), crs, transform)
    elif a.size:
        t = Affine(PIXEL, 0.0, X0, 0.0, -PIXEL, Y_BOTTOM + a.size * PIXEL)
        write_dataset(a.out, synthetic(a.size, a.seed), f"EPSG:{EPSG}", t)
    else:
        ap.error("give --size N or --olinda")
    print(f"wrote {a.out}")  # noqa: T201


if __name__ == "__main__":
    main()
