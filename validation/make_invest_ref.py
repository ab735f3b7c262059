#!/usr/bin/env python
"""Produce the small InVEST reference arrays of ``tests/data/invest_ref/`` (run once, by hand).

For three small DEMs it runs InVEST 3.20.2 SDR (D8 and MFD) from its venv and stores, per case,
``tests/data/invest_ref/<case>.npz`` with the input ``dem`` (float32, NaN = nodata), the cell
size, and InVEST's ``pit_filled_dem``, ``slope`` (%), ``flow_accumulation`` and ``ls`` for D8
and MFD (``*_d8``, ``*_mfd``; NaN = nodata). ``tests/validation/test_invest_formulas.py`` checks
Qingshan's ``ls_formula = "invest"`` chain against them without InVEST.

Cases:
  steep             rows 80:120, cols 80:120 of the synthetic 200² DEM (gen_inputs.py --size 200,
                    seed 42): steep fBm relief with closed depressions
  olinda_coast      rows 24:54, cols 78:108 of the real Olinda DEM: coast with a flat sea (0 m)
  olinda_seanodata  the same window with cells ≤ 0 m set to nodata (the sea as a drain)

    .venv/bin/python validation/make_invest_ref.py --invest-python /work/invest/venv/bin/python
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from gen_inputs import OLINDA, PIXEL, synthetic, write_dataset  # noqa: E402

OUT = HERE.parent / "tests" / "data" / "invest_ref"


def cases() -> dict[str, tuple[np.ndarray, str, Affine]]:
    """The three DEM crops with their CRS and transform."""
    steep = synthetic(200, 42)["dem"][80:120, 80:120]
    t_steep = Affine(PIXEL, 0.0, 0.0, 0.0, -PIXEL, 0.0) * Affine.translation(80, 80)
    with rasterio.open(OLINDA) as ds:
        dem, crs, t = ds.read(1).astype("float32"), ds.crs.to_wkt(), ds.transform
    win = dem[24:54, 78:108]
    t_win = t * Affine.translation(78, 24)
    sea_nd = np.where(win <= 0, np.float32(-9999.0), win)
    return {"steep": (steep, "EPSG:32650", t_steep), "olinda_coast": (win, crs, t_win),
            "olinda_seanodata": (sea_nd, crs, t_win)}


def read(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        a = ds.read(1).astype(np.float64)
        if ds.nodata is not None:
            a[a == ds.nodata] = np.nan
        return a


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--invest-python", default="/work/invest/venv/bin/python")
    a = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (dem, crs, t) in cases().items():
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "data"
            layers = {"dem": dem, "lulc": np.full(dem.shape, 1, dtype="int16"),
                      "erosivity": np.full(dem.shape, 5000.0, dtype="float32"),
                      "erodibility": np.full(dem.shape, 0.03, dtype="float32")}
            write_dataset(data, layers, crs, t)
            arrays: dict[str, np.ndarray] = {"dem": np.where(dem == -9999.0, np.nan, dem).astype("float32"),
                                             "cell_size": np.array(abs(t.a))}
            for fd in ("D8", "MFD"):
                ws = Path(tmp) / f"ws_{fd}"
                subprocess.run([a.invest_python, str(HERE / "run_invest.py"), "sdr", str(data), str(ws),
                                "--flow-dir", fd], check=True, capture_output=True)
                inter = ws / "intermediate_outputs"
                for key, fname in (("pit_filled_dem", "pit_filled_dem"), ("slope", "slope"),
                                   ("flow_accumulation", "flow_accumulation"), ("ls", "ls")):
                    arrays[f"{key}_{fd.lower()}"] = read(inter / f"{fname}.tif")
            np.savez_compressed(OUT / f"{name}.npz", **arrays)
            print(f"wrote {OUT / name}.npz")  # noqa: T201


if __name__ == "__main__":
    main()
