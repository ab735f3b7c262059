#!/usr/bin/env python
"""Seeded InVEST 3.20 inputs for the Qingshan ↔ InVEST comparison, without InVEST.

Needs Qingshan's venv (numpy, scipy, rasterio, shapely, pyogrio; the fields come from ``qingshan.synth``,
which ``qingshan synth`` builds whole accounting datasets with). Two kinds:

* ``--size N``: synthetic N×N grid at 30 m in EPSG:32650, the same random stream and layer
  formulas as ``/work/shared/tools/invest-bench/gen_data.py`` (seed 42 reproduces
  ``/work/invest/data_N`` raster for raster); the watershed vector is one polygon equal to the
  raster extent (gen_data.py delineates D8 basins with pygeoprocessing instead; per-pixel outputs
  do not depend on it).
  Above ``LEAN_ABOVE`` (4 096) cells a side the whole-grid fields do not fit in memory (a dozen float64
  grids, ~25 GB at 10 000²): :func:`write_lean` draws the same fields on a coarse grid (at most 4 096² cells,
  the same random stream) and builds the layers strip by strip on the fine cells (bilinear fields, a smooth
  sub-coarse-cell detail in the relief, the same formulas) — about 1.3 GB peak at 10 000², the same bytes for
  the same seed, no seams. Statistically close to the whole-grid data, not equal to it (docs/benchmarks.md).
* ``--olinda``: the real Olinda DEM (``tests/data/olinda_dem_utm25s.tif``, 111×111, 90 m) with the
  synthetic layers of ``/work/invest/make_olinda_inputs.py`` (seed 42).

Writes ``dem.tif, lulc.tif, precip.tif, et0.tif, root_restrict_depth.tif, pawc.tif,
erosivity.tif, erodibility.tif, watersheds.gpkg, biophysical_awy.csv, biophysical_sdr.csv`` —
the file names ``run_invest.py`` expects.

    .venv/bin/python validation/gen_inputs.py --size 200 --out /tmp/qs_val/data_200
    .venv/bin/python validation/gen_inputs.py --size 10000 --out /work/invest/bench/data_10000   # strip-wise
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
from scipy import ndimage

from qingshan.synth import (  # shared with `qingshan synth` (same random stream)
    fractal,
    refine_rows,
    relief,
)

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
    sm = fractal(n, rng, hurst=0.9, base_sigma=200 * scale)
    soil = fractal(n, rng, hurst=0.7, base_sigma=60 * scale)
    return _layers(dem, slope, e_pct, noise, urban_noise, sm, soil)


def _layers(dem: np.ndarray, slope: np.ndarray, e_pct: np.ndarray, noise: np.ndarray, urban_noise: np.ndarray,
            sm: np.ndarray, soil: np.ndarray) -> dict[str, np.ndarray]:
    """gen_data.py's formulas from the DEM, its slope [°] and elevation rank (0 low … 1 high) and four noise
    fields in 0..1 — for a whole grid (:func:`synthetic`) or one strip of a large one (:func:`write_lean`)."""
    lulc = np.full(dem.shape, 2, dtype=np.int16)
    lulc[(e_pct > 0.45) | (slope > 18)] = 1
    lulc[(e_pct > 0.25) & (e_pct <= 0.55) & (noise > 0.55) & (slope < 18)] = 3
    crop = (e_pct < 0.35) & (slope < 12)
    lulc[crop] = 4
    lulc[crop & (urban_noise > 0.62)] = 5
    lulc[(e_pct < 0.02) & (slope < 6)] = 6
    lulc[(noise > 0.78) & (slope > 10)] = 7
    precip = (1450 + 0.30 * dem + 120 * (sm - 0.5)).astype("float32")
    et0 = (1060 - 0.11 * dem + 30 * (sm - 0.5)).astype("float32")
    depth, pawc = _soil(slope, soil, lulc == 6)
    erosivity = (4500 + 2.2 * (precip - 1450) + 400 * (sm - 0.5)).astype("float32")
    erodibility = (0.020 + 0.025 * (1 - soil)).astype("float32")
    return {"dem": dem, "lulc": lulc, "precip": precip, "et0": et0, "root_restrict_depth": depth,
            "pawc": pawc, "erosivity": erosivity, "erodibility": erodibility}


LEAN_ABOVE = 4096
"""Grids with more cells a side are built strip by strip (:func:`write_lean`); as ``qingshan.synth.LEAN_ABOVE``."""

STRIP_ROWS = 512
"""Rows built and written at a time by :func:`write_lean` (a multiple of the 256-row tiles)."""

DETAIL_3000 = 0.004
"""Standard deviation of the relief field's detail below the coarse cell at 3 000² (the field runs 0..1 over the
grid; :func:`detail`). Calibrated with 3 fine cells a coarse cell against the whole-grid relief of seed 42:
pits (cells below their 8 neighbours) 0.76 % vs 0.70 %, slope median 6.4° vs 7.6° at 3 000² (without detail:
0.15 %, 5.4°); checked at 6 000²: 0.75 % vs 0.70 %, 4.8° vs 5.3° (unscaled 0.004: 1.1 %)."""


def detail(n: int) -> float:
    """The detail's standard deviation on an n×n grid: :data:`DETAIL_3000` × (3000 / n)^0.6 — the relief field is
    normalised by its range, which grows as its largest scale (∝ n) to the power of its Hurst exponent (0.6),
    so a detail of a fixed size in cells shrinks so in field units (the whole grid's pit share does not change
    with n)."""
    return DETAIL_3000 * (3000.0 / n) ** 0.6


_SIGMA = 1.0  # cells: relief()'s final smoothing of the DEM, and the detail's smoothing
_HALO = int(4.0 * _SIGMA + 0.5)  # rows either side that a Gaussian of _SIGMA reads (scipy's truncate 4)
_DETAIL_STD = 1.0 / (2.0 * np.sqrt(np.pi) * _SIGMA)  # std of unit white noise after that smoothing


def coarse_fields(m: int, seed: int) -> dict[str, np.ndarray]:
    """The fields of :func:`synthetic` on an m×m grid, same random stream (the relief's fBm field ``relief``
    before relief()'s formula, and the four noise fields): the coarse grid of :func:`write_lean`."""
    rng = np.random.default_rng(seed)
    scale = m / 1000.0
    return {"relief": fractal(m, rng, hurst=0.6, base_sigma=140 * scale),  # relief()'s first draw
            "noise": fractal(m, rng, hurst=0.5, base_sigma=25 * scale),
            "urban_noise": fractal(m, rng, hurst=0.3, base_sigma=12 * scale),
            "sm": fractal(m, rng, hurst=0.9, base_sigma=200 * scale),
            "soil": fractal(m, rng, hurst=0.7, base_sigma=60 * scale)}


def _relief_rows(field: np.ndarray, r0: int, n: int, amplitude: float = 1900.0) -> np.ndarray:
    """relief()'s formula on rows ``r0:r0 + len(field)`` of an n×n grid, before its one-cell smoothing."""
    yy = (np.arange(r0, r0 + field.shape[0]) / float(n))[:, None]
    xx = (np.arange(field.shape[1]) / float(n))[None, :]
    tilt = 1.0 - 0.6 * (0.5 * yy + 0.5 * xx)
    fabric = 0.08 * np.sin(2 * np.pi * (3.0 * xx + 1.5 * yy) + 4 * field)
    return np.asarray(40 + amplitude * np.clip(0.55 * field * tilt + 0.45 * tilt * field**2 + fabric * field, 0, None))


def _detail_rows(r0: int, r1: int, n: int, seed: int) -> np.ndarray:
    """Rows ``r0:r1`` of the relief field's detail: white noise drawn row by row (a stream per row), smoothed by
    a one-cell Gaussian, :func:`detail` standard deviation — the same values whatever strips the grid is built in."""
    a0, a1 = max(r0 - _HALO, 0), min(r1 + _HALO, n)
    white = np.stack([np.random.default_rng([seed, 0xDE7A11, r]).standard_normal(n) for r in range(a0, a1)])
    smooth = ndimage.gaussian_filter(white, _SIGMA, mode="reflect")
    return np.asarray(smooth[r0 - a0:r1 - a0] * (detail(n) / _DETAIL_STD))


def lean_rows(coarse: dict[str, np.ndarray], ranks: np.ndarray, r0: int, r1: int, n: int, f: int,
              seed: int) -> dict[str, np.ndarray]:
    """Rows ``r0:r1`` of the eight layers of an n×n grid from its coarse fields (``f`` fine cells a coarse cell).

    DEM: the relief field refined bilinearly plus its detail (:func:`_detail_rows`), relief()'s formula and
    one-cell smoothing on the fine cells; its slope by central differences (one-sided at the grid's edges, as
    ``np.gradient`` on the whole grid); the elevation rank read off ``ranks`` (the coarse DEM's sorted values);
    the noise fields bilinear; then :func:`_layers`' formulas. Rows beyond the strip (a halo) are computed for
    the smoothing and the slope, so that every value depends on its row only."""
    h0, h1 = max(r0 - 1, 0), min(r1 + 1, n)  # the slope reads one row either side
    d0, d1 = max(h0 - _HALO, 0), min(h1 + _HALO, n)  # the smoothing _HALO more
    field = refine_rows(coarse["relief"], d0, d1, n, f) + _detail_rows(d0, d1, n, seed)
    dem_d = ndimage.gaussian_filter(_relief_rows(field, d0, n), _SIGMA, mode="reflect")
    dem_h = dem_d[h0 - d0:h1 - d0].astype("float32")
    gy, gx = np.gradient(dem_h.astype("float64"), PIXEL)
    inner = slice(r0 - h0, r1 - h0)
    dem = dem_h[inner]
    slope = np.degrees(np.arctan(np.hypot(gx[inner], gy[inner])))
    e_pct = np.searchsorted(ranks, dem) / ranks.size
    fine = {k: refine_rows(coarse[k], r0, r1, n, f) for k in ("noise", "urban_noise", "sm", "soil")}
    return _layers(dem, slope, e_pct, fine["noise"], fine["urban_noise"], fine["sm"], fine["soil"])


def write_lean(out: Path, n: int, seed: int, *, lean_above: int = LEAN_ABOVE, strip_rows: int = STRIP_ROWS) -> None:
    """The data set of a grid too large to build whole (:func:`synthetic` holds a dozen float64 grids: ~25 GB
    at 10 000²), strip by strip with memory bounded by the coarse grid and one strip.

    The five fields of :func:`synthetic` (relief and four noise fields) are drawn on a coarse grid of at most
    ``lean_above`` cells a side, ``f = ceil(n / lean_above)`` fine cells a coarse cell (the same random stream:
    the coarse fields are those of ``synthetic(m)``), then refined bilinearly ``strip_rows`` rows at a time;
    the DEM gets a smooth detail of :data:`DETAIL_M` below the coarse cell (pits and small flats, as the whole
    grid's one-cell smoothing leaves them); the layers follow from gen_data.py's formulas (:func:`_layers`) on
    the fine cells, the elevation rank read off the coarse DEM's distribution. Every value depends on its row
    only, never on the strips: the same bytes for the same seed whatever ``strip_rows``, hence no seams."""
    import rasterio
    from rasterio.windows import Window

    f = -(-n // lean_above)
    m = -(-n // f)
    coarse = coarse_fields(m, seed)
    ranks = np.sort(ndimage.gaussian_filter(_relief_rows(coarse["relief"], 0, m), _SIGMA).astype("float32").ravel())
    transform = Affine(PIXEL, 0.0, X0, 0.0, -PIXEL, Y_BOTTOM + n * PIXEL)
    out.mkdir(parents=True, exist_ok=True)
    profile = {"driver": "GTiff", "height": n, "width": n, "count": 1, "crs": f"EPSG:{EPSG}", "transform": transform,
               "tiled": True, "blockxsize": 256, "blockysize": 256, "compress": "deflate", "BIGTIFF": "IF_SAFER"}
    files = {}
    try:
        for r0 in range(0, n, strip_rows):
            r1 = min(r0 + strip_rows, n)
            for name, arr in lean_rows(coarse, ranks, r0, r1, n, f, seed).items():
                if name not in files:
                    files[name] = rasterio.open(out / f"{name}.tif", "w", **profile, dtype=arr.dtype,
                                                nodata=-1 if name == "lulc" else -9999.0)
                files[name].write(arr, 1, window=Window(0, r0, n, r1 - r0))
    finally:
        for ds in files.values():
            ds.close()
    write_vectors_tables(out, f"EPSG:{EPSG}", transform, n, n)


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
    write_vectors_tables(out, crs, transform, *layers["dem"].shape)


def write_vectors_tables(out: Path, crs: str, transform: Affine, h: int, w: int) -> None:
    """The one-polygon watershed vector (ws_id = 1, the h×w grid's extent) and the two biophysical tables."""
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
    ap.add_argument("--lean-above", type=int, default=LEAN_ABOVE,
                    help=f"build grids with more cells a side strip by strip from a coarse grid (default {LEAN_ABOVE})")
    ap.add_argument("--strip-rows", type=int, default=STRIP_ROWS, help=f"rows a strip (default {STRIP_ROWS})")
    a = ap.parse_args()
    if a.olinda:
        with rasterio.open(OLINDA) as ds:
            dem, crs, transform = ds.read(1), ds.crs.to_wkt(), ds.transform
        write_dataset(a.out, olinda(dem, transform.a, a.seed), crs, transform)
    elif a.size and a.size > a.lean_above:
        write_lean(a.out, a.size, a.seed, lean_above=a.lean_above, strip_rows=a.strip_rows)
    elif a.size:
        t = Affine(PIXEL, 0.0, X0, 0.0, -PIXEL, Y_BOTTOM + a.size * PIXEL)
        write_dataset(a.out, synthetic(a.size, a.seed), f"EPSG:{EPSG}", t)
    else:
        ap.error("give --size N or --olinda")
    print(f"wrote {a.out}")  # noqa: T201


if __name__ == "__main__":
    main()
