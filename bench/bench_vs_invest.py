#!/usr/bin/env python
"""Time Qingshan's Budyko water yield and soil retention against InVEST 3.20.2, side by side.

For each grid size (synthetic, ``validation/gen_inputs.py --size N``, seed 42):

* InVEST Annual Water Yield and SDR (D8, MFD), each in a subprocess of the InVEST venv
  (``validation/run_invest.py``): seconds inside ``execute()`` (from its ``bench.json``) and the
  process wall time;
* Qingshan ``compute_indicator`` on the same files, in this process after a warm-up (numba
  kernels compiled and cached): water_conservation/budyko; soil_retention with
  ``ls_formula=invest`` (D8, MFD) and with the default formula (D8, MFD). Reading the rasters is
  included, writing COGs is not (InVEST's time includes writing its GeoTIFFs);
* a plain-numpy implementation of the same per-pixel formulas (Budyko fractp; LS, RKLS, USLE from
  slope and flow accumulation), for scale. Routing cannot be written as array operations, so
  the numpy soil line starts from Qingshan's slope and accumulation.

Prints one table with the ratios InVEST / Qingshan. Timings only, never asserted.

    .venv/bin/python bench/bench_vs_invest.py --sizes 1000 3000 --work /tmp/qs_bench
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import rasterio

ROOT = Path(__file__).resolve().parents[1]
VALIDATION = ROOT / "validation"
sys.path.insert(0, str(VALIDATION))

from run_invest_comparison import landcover_table  # noqa: E402

from qingshan.core.params import LandcoverTable  # noqa: E402
from qingshan.engine.compute import compute_indicator  # noqa: E402
from qingshan.kernels.routing import (  # noqa: E402
    fill_pits_invest,
    flow_accumulation_invest,
    slope_percent_invest,
)


def invest(python: str, model: str, data: Path, ws: Path, flow: str | None) -> tuple[float, float]:
    """(execute() seconds, process wall seconds) of one InVEST run in its own venv."""
    shutil.rmtree(ws, ignore_errors=True)  # InVEST's taskgraph cache would skip the work
    cmd = [python, str(VALIDATION / "run_invest.py"), model, str(data), str(ws)]
    if flow:
        cmd += ["--flow-dir", flow]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    bench = json.loads((ws / "bench.json").read_text())
    return float(bench["wall_s"]), wall


def timed(fn, repeat: int = 1) -> float:  # type: ignore[no-untyped-def]
    """Best wall time of ``repeat`` calls [s]."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def water_inputs(d: Path) -> dict[str, Path]:
    return {"precip": d / "precip.tif", "pet": d / "et0.tif", "lulc": d / "lulc.tif",
            "root_depth": d / "root_restrict_depth.tif", "pawc": d / "pawc.tif"}


def soil_inputs(d: Path, shape: tuple[int, int]) -> dict[str, object]:
    return {"dem": d / "dem.tif", "lulc": d / "lulc.tif", "rain_erosivity": d / "erosivity.tif",
            "soil_erodibility": d / "erodibility.tif", "ndvi": np.zeros(shape)}


def read(p: Path) -> np.ndarray:
    with rasterio.open(p) as ds:
        a = ds.read(1).astype(np.float64)
        if ds.nodata is not None:
            a[a == ds.nodata] = np.nan
        return a


def numpy_water(d: Path, lc: LandcoverTable) -> np.ndarray:
    """InVEST fractp_op in plain numpy (the same formula as Qingshan's budyko layers)."""
    p, et0, lulc, depth, pawc = (read(x) for x in water_inputs(d).values())
    codes = np.where(np.isfinite(lulc), lulc, 0).astype(np.int64)
    lut = lambda col: np.asarray(lc.table[col], dtype=float)[np.searchsorted(lc.codes, codes)]  # noqa: E731
    kc, root, veg = lut("kc"), lut("root_depth_mm"), (lc.table["ecosystem"] == "forest").to_numpy()[np.searchsorted(lc.codes, codes)]
    pet = kc * et0
    with np.errstate(divide="ignore", invalid="ignore"):
        omega = np.minimum(5.0 * np.minimum(root, depth) * pawc / p + 1.25, 5.0)
        phi = pet / p
        fu = 1.0 + phi - (1.0 + phi**omega) ** (1.0 / omega)
        fractp = np.where(veg, np.minimum(phi, fu), np.minimum(pet, p) / p)
    return (1.0 - fractp) * p


def numpy_soil(slope: np.ndarray, fa: np.ndarray, r: np.ndarray, k: np.ndarray, cp: np.ndarray, w: float) -> np.ndarray:
    """InVEST LS, RKLS and avoided erosion in plain numpy from slope [%] and accumulation [px]."""
    a = np.sqrt((fa - 1.0) * w * w)
    th = np.arctan(slope / 100.0)
    s_th = np.sin(th)
    x = np.abs(s_th) + np.abs(np.cos(th))
    s = np.where(slope < 9, 10.8 * s_th + 0.03, 16.8 * s_th - 0.5)
    beta = (s_th / 0.0896) / (3 * s_th**0.8 + 0.56)
    m = np.where(slope > 9, beta / (1 + beta), np.array([0.2, 0.3, 0.4, 0.5, 0.5])[np.digitize(slope, [1, 3.5, 5, 9], right=True)])
    l_fac = np.minimum(((a + w * w) ** (m + 1) - a ** (m + 1)) / (w ** (m + 2) * x**m * 22.13**m), 122.0)
    rkls = l_fac * s * r * k
    return rkls - rkls * cp


def bench_size(n: int, a: argparse.Namespace) -> list[tuple[str, float, float | None]]:
    data = a.work / f"data_{n}"
    if not (data / "dem.tif").exists():
        subprocess.run([sys.executable, str(VALIDATION / "gen_inputs.py"), "--size", str(n), "--out", str(data)], check=True)
    lc = LandcoverTable.from_csv(landcover_table(data, a.work / f"tables_{n}"))
    shape = (n, n)
    rows: list[tuple[str, float, float | None]] = []
    opts = {"budyko_vegetated_ecosystems": ["forest"]}
    t_q = timed(lambda: compute_indicator("water_conservation", water_inputs(data), method="budyko", landcover=lc, options=opts), a.repeat)
    t_np = timed(lambda: numpy_water(data, lc), a.repeat)
    t_inv = invest(a.invest_python, "awy", data, a.work / f"ws/awy_{n}", None) if not a.no_invest else None
    rows.append((f"{n}² water yield (Budyko)", t_q, t_inv, t_np))  # type: ignore[arg-type]
    dem = read(data / "dem.tif")
    for fd in ("D8", "MFD"):
        so = {"ls_formula": "invest", "flow_algorithm": fd, "c_factor": "landcover"}
        t_q = timed(lambda: compute_indicator("soil_retention", soil_inputs(data, shape), landcover=lc, options=so), a.repeat)  # noqa: B023
        filled = fill_pits_invest(dem)
        sl = slope_percent_invest(filled, 30.0, 30.0)
        fa = flow_accumulation_invest(filled, fd)
        r, k = read(data / "erosivity.tif"), read(data / "erodibility.tif")
        cp = np.full(shape, 0.05)
        t_np = timed(lambda: numpy_soil(sl, fa, r, k, cp, 30.0), a.repeat)  # noqa: B023
        t_inv = invest(a.invest_python, "sdr", data, a.work / f"ws/sdr_{n}_{fd}", fd) if not a.no_invest else None
        rows.append((f"{n}² soil retention {fd} (ls_formula=invest)", t_q, t_inv, t_np))  # type: ignore[arg-type]
        so_default = {"flow_algorithm": fd, "c_factor": "landcover"}
        t_d = timed(lambda: compute_indicator("soil_retention", soil_inputs(data, shape), landcover=lc, options=so_default), a.repeat)  # noqa: B023
        rows.append((f"{n}² soil retention {fd} (default formula)", t_d, None, None))  # type: ignore[arg-type]
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", nargs="+", type=int, default=[1000, 3000])
    ap.add_argument("--work", type=Path, default=Path("/tmp/qs_bench"))
    ap.add_argument("--invest-python", default="/work/invest/venv/bin/python")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--no-invest", action="store_true", help="time Qingshan and numpy only")
    a = ap.parse_args()
    warm = a.work / "data_64"
    if not (warm / "dem.tif").exists():
        subprocess.run([sys.executable, str(VALIDATION / "gen_inputs.py"), "--size", "64", "--out", str(warm)], check=True)
    lcw = LandcoverTable.from_csv(landcover_table(warm, a.work / "tables_64"))
    for fd in ("D8", "MFD"):  # compile / load the numba kernels
        compute_indicator("soil_retention", soil_inputs(warm, (64, 64)), landcover=lcw,
                          options={"ls_formula": "invest", "flow_algorithm": fd, "c_factor": "landcover"})
        compute_indicator("soil_retention", soil_inputs(warm, (64, 64)), landcover=lcw, options={"flow_algorithm": fd, "c_factor": "landcover"})
    print("| case | Qingshan s | InVEST execute() s | InVEST process s | InVEST/Qingshan (execute) | numpy formulas s |")  # noqa: T201
    print("|---|---|---|---|---|---|")  # noqa: T201
    for n in a.sizes:
        for name, t_q, t_inv, t_np in bench_size(n, a):  # type: ignore[misc]
            inv = f"{t_inv[0]:.2f} | {t_inv[1]:.2f} | {t_inv[0] / t_q:.2f}" if t_inv else "- | - | -"
            npy = f"{t_np:.2f}" if t_np is not None else "-"
            print(f"| {name} | {t_q:.2f} | {inv} | {npy} |", flush=True)  # noqa: T201


if __name__ == "__main__":
    main()
