"""validation/gen_inputs.py's strip-wise path for large grids (the 10 000² InVEST benchmark data), at a tiny size:
file names, CRS, dtypes, value ranges, the same bytes for the same seed, the same values whatever the strips."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import rasterio
from scipy import ndimage

from qingshan.synth import relief

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "validation"))
try:
    import gen_inputs
    from run_invest_comparison import landcover_table
finally:
    sys.path.pop(0)

N, LEAN_ABOVE = 100, 40  # 3 fine cells a coarse cell, a 34² coarse grid
RASTERS = {"dem": "float32", "lulc": "int16", "precip": "float32", "et0": "float32", "root_restrict_depth": "float32",
           "pawc": "float32", "erosivity": "float32", "erodibility": "float32"}
RANGES = {"dem": (40.0, 2000.0), "lulc": (1, 7), "precip": (1300.0, 2100.0), "et0": (800.0, 1100.0),
          "root_restrict_depth": (1.0, 2400.0), "pawc": (0.0, 0.22), "erosivity": (4000.0, 6000.0),
          "erodibility": (0.02, 0.045)}


def _read(folder: Path) -> dict[str, np.ndarray]:
    out = {}
    for name in RASTERS:
        with rasterio.open(folder / f"{name}.tif") as ds:
            out[name] = ds.read(1)
    return out


@pytest.fixture(scope="module")
def lean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lean") / "data"
    gen_inputs.write_lean(out, N, 7, lean_above=LEAN_ABOVE, strip_rows=16)
    return out


def test_lean_files_crs_dtypes_and_ranges(lean: Path) -> None:
    assert {p.name for p in lean.iterdir()} == {f"{n}.tif" for n in RASTERS} | {
        "watersheds.gpkg", "biophysical_awy.csv", "biophysical_sdr.csv"}
    for name, dtype in RASTERS.items():
        with rasterio.open(lean / f"{name}.tif") as ds:
            assert ds.crs.to_epsg() == 32650 and ds.dtypes[0] == dtype and ds.shape == (N, N), name
            assert ds.transform.a == 30.0 and ds.transform.e == -30.0 and ds.transform.c == 400000.0
            assert ds.transform.f == 3300000.0 + N * 30.0
            assert ds.profile["tiled"] and ds.compression.value == "DEFLATE"
            a = ds.read(1)
            assert ds.nodata == (-1 if name == "lulc" else -9999.0)
        lo, hi = RANGES[name]
        assert np.isfinite(a).all() and lo <= a.min() and a.max() <= hi, (name, a.min(), a.max())
    lulc = _read(lean)["lulc"]
    assert len(np.unique(lulc)) >= 4  # a mix of classes, not one
    info = pyogrio.read_info(lean / "watersheds.gpkg")
    assert info["features"] == 1 and "32650" in info["crs"]
    assert np.allclose(info["total_bounds"], [400000.0, 3300000.0, 400000.0 + N * 30, 3300000.0 + N * 30])
    table = landcover_table(lean, lean.parent / "tables")  # Qingshan's table from the InVEST tables, as bench_whole
    codes = set(np.loadtxt(table, delimiter=",", skiprows=1, usecols=0, dtype=int))
    assert set(np.unique(lulc)) <= codes


def test_lean_same_bytes_and_no_seams(lean: Path, tmp_path: Path) -> None:
    """Same seed → same bytes; other strip heights (one strip; 7 rows, not a tile multiple) → the same values,
    so strips join without seams; another seed → other values."""
    gen_inputs.write_lean(tmp_path / "again", N, 7, lean_above=LEAN_ABOVE, strip_rows=16)
    for name in [*(f"{n}.tif" for n in RASTERS), "biophysical_awy.csv", "biophysical_sdr.csv"]:
        assert (tmp_path / "again" / name).read_bytes() == (lean / name).read_bytes(), name
    ref = _read(lean)
    for rows in (N, 7):
        gen_inputs.write_lean(tmp_path / f"s{rows}", N, 7, lean_above=LEAN_ABOVE, strip_rows=rows)
        got = _read(tmp_path / f"s{rows}")
        for name in RASTERS:
            assert np.array_equal(got[name], ref[name]), (rows, name)
    gen_inputs.write_lean(tmp_path / "seed8", N, 8, lean_above=LEAN_ABOVE, strip_rows=16)
    assert not np.array_equal(_read(tmp_path / "seed8")["dem"], ref["dem"])


def test_lean_dem_follows_the_coarse_relief(lean: Path) -> None:
    """The coarse fields are the whole-grid generator's (relief() on the coarse grid, same stream); the fine DEM
    follows them at the coarse cells' centres and has pits (the detail) for routing to fill."""
    m = -(-N // 3)
    coarse = gen_inputs.coarse_fields(m, 7)
    whole = ndimage.gaussian_filter(gen_inputs._relief_rows(coarse["relief"], 0, m), 1.0).astype("float32")
    assert np.array_equal(whole, relief(m, np.random.default_rng(7)))
    dem = _read(lean)["dem"].astype("float64")
    centres = dem[1::3, 1::3]
    assert np.corrcoef(centres.ravel(), whole[: centres.shape[0], : centres.shape[1]].ravel())[0, 1] > 0.98
    inner = dem[1:-1, 1:-1]
    neighbours = [dem[1 + dy:N - 1 + dy, 1 + dx:N - 1 + dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]
    assert np.all([inner < x for x in neighbours], axis=0).sum() >= 1  # at least one pit
