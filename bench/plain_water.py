#!/usr/bin/env python
"""The plain-script reference of the whole-process benchmark: water yield (Budyko) with rasterio + numpy only.

Does the same reads, arithmetic and writes as ``qingshan compute water_conservation --method budyko``
on the invest-bench data: reads precipitation, ET0, land cover, root-restricting depth and PAWC and
the InVEST biophysical table (``csv`` module); computes InVEST 3.20.2's ``fractp_op`` (Fu/Zhang Budyko
AET) and the water retained ``Q = max(P − α·P − AET, 0) × cell area`` on vegetated cells (α = 0, the
bench land-cover table's runoff coefficient); writes the same five float64 COGs (``OUT.tif`` [m3 per
cell], ``OUT.aet.tif``, ``OUT.pet.tif``, ``OUT.omega.tif``, ``OUT.wyield.tif`` [mm]) with good settings
(ZSTD level 1, floating-point predictor, all cores, no overviews) — or, with ``--settings before``,
Qingshan's former ones (DEFLATE level 6, overviews). No validation, no tables beyond the CSV.

    python bench/plain_water.py DATA_DIR OUT.tif [--z 5] [--settings good|before] [--dtype float64|float32]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
import rasterio

GOOD = {"compress": "zstd", "level": 1, "predictor": 3, "num_threads": "ALL_CPUS", "overviews": "none"}
BEFORE = {"compress": "deflate", "predictor": 3}


def read(path: Path) -> tuple[np.ndarray, dict]:
    with rasterio.open(path) as ds:
        a = ds.read(1).astype(np.float64)
        if ds.nodata is not None:
            a[a == ds.nodata] = np.nan
        return a, ds.profile


def write(path: Path, a: np.ndarray, profile: dict, opts: dict, dtype: str = "float64") -> None:
    prof = {"driver": "COG", "dtype": dtype, "count": 1, "height": a.shape[0], "width": a.shape[1],
            "crs": profile["crs"], "transform": profile["transform"], "nodata": np.nan, "blocksize": 256, **opts}
    with rasterio.open(path, "w", **prof) as ds:
        ds.write(a.astype(dtype, copy=False), 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--z", type=float, default=5.0, help="Zhang seasonality constant")
    ap.add_argument("--settings", choices=["good", "before"], default="good")
    ap.add_argument("--dtype", choices=["float64", "float32"], default="float64", help="cell type written (InVEST: float32)")
    a = ap.parse_args()
    d = a.data
    p, prof = read(d / "precip.tif")
    et0, _ = read(d / "et0.tif")
    lulc, _ = read(d / "lulc.tif")
    depth, _ = read(d / "root_restrict_depth.tif")
    pawc, _ = read(d / "pawc.tif")
    with open(d / "biophysical_awy.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    n = max(int(r["lucode"]) for r in rows) + 1
    kc_lut, root_lut, veg_lut = np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, dtype=bool)
    for r in rows:
        c = int(r["lucode"])
        kc_lut[c], root_lut[c], veg_lut[c] = float(r["kc"]), float(r["root_depth"]), r["lulc_veg"] == "1"
    codes = np.where(np.isfinite(lulc), lulc, 0).astype(np.int64)
    pet = kc_lut[codes] * et0
    awc = np.minimum(root_lut[codes], depth) * pawc
    veg = veg_lut[codes] & np.isfinite(lulc)
    with np.errstate(divide="ignore", invalid="ignore"):
        omega = np.minimum(a.z * awc / p + 1.25, 5.0)
        phi = pet / p
        aet_fu = np.minimum((1.0 + phi - (1.0 + phi**omega) ** (1.0 / omega)) * p, np.minimum(p, pet))
    aet = np.where(veg, np.where(p > 0, aet_fu, 0.0), np.minimum(pet, p))
    valid = np.isfinite(p) & np.isfinite(et0) & np.isfinite(lulc) & np.isfinite(pawc) & np.isfinite(depth) & (p > 0)
    aet, pet, omega = (np.where(valid, x, np.nan) for x in (aet, pet, omega))
    wyield = p - aet
    cell_m2 = abs(prof["transform"].a * prof["transform"].e)
    q = np.where(veg, np.maximum(p - aet, 0.0), 0.0) * cell_m2 / 1000.0
    q = np.where(np.isfinite(p) & np.isfinite(aet) & np.isfinite(lulc), q, np.nan)
    opts = GOOD if a.settings == "good" else BEFORE
    a.out.parent.mkdir(parents=True, exist_ok=True)
    stem = a.out.with_suffix("")
    write(a.out, q, prof, opts, a.dtype)
    for name, layer in (("aet", aet), ("pet", pet), ("omega", omega), ("wyield", wyield)):
        write(Path(f"{stem}.{name}.tif"), layer, prof, opts, a.dtype)
    print(f"water retained {np.nansum(q):.6g} m3")  # noqa: T201


if __name__ == "__main__":
    main()
