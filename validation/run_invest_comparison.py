#!/usr/bin/env python
"""Compare Qingshan with InVEST 3.20.2 per pixel and in total, on identical inputs.

* Water: Qingshan's Budyko layers (``water_conservation``, method ``budyko``: ``aet``,
  ``wyield``) against InVEST Annual Water Yield ``output/per_pixel/{aet,wyield}.tif``.
* Soil: Qingshan's soil retention with ``ls_formula = "invest"`` and ``c_factor = "landcover"``
  (``ls``, ``rkls``, ``usle``, ``avoided_erosion = rkls − usle``) against InVEST SDR
  ``intermediate_outputs/ls.tif``, ``rkls.tif``, ``usle.tif``, ``avoided_erosion.tif``, D8 and MFD.

Cases: synthetic 200² and 1000² (``gen_inputs.py --size N``) and the real Olinda DEM
(``gen_inputs.py --olinda``). By default the InVEST workspaces of ``/work/invest/ws`` are read
(``awy_<case>_none``, ``sdr_<case>_<D8|MFD>``) with their inputs ``/work/invest/data_<case>``; with
``--regenerate`` the inputs are generated into ``--work`` and InVEST is run there from its venv
(``--invest-python``; build it with ``validation/install_invest.sh``).

Per-pixel statistic: relative difference ``|q − i| / |i|`` over pixels valid in both where the
InVEST value is not 0 (median, 95th percentile, max); totals over the same pixels (m³ for water,
t for soil: t/ha × pixel area / 10⁴). InVEST sets rkls/usle/avoided_erosion to nodata on stream
pixels; the column ``stream share`` is the share of Qingshan's all-pixel total on those pixels.

    .venv/bin/python validation/run_invest_comparison.py                     # read /work/invest
    .venv/bin/python validation/run_invest_comparison.py --regenerate --work /tmp/qs_val \\
        --invest-python /work/invest/venv/bin/python --cases 200 olinda
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio

from qingshan.core.params import LandcoverTable
from qingshan.engine.compute import compute_indicator

HERE = Path(__file__).resolve().parent
INVEST_ROOT = Path("/work/invest")
ECOSYSTEM_OF_VEG = {1: "forest", 0: "other"}  # lulc_veg → a vegetated / non-vegetated ecosystem type


def read(path: Path) -> tuple[np.ndarray, float]:
    """Band 1 as float64 with nodata → NaN, and the pixel area [m2]."""
    with rasterio.open(path) as ds:
        a = ds.read(1).astype(np.float64)
        if ds.nodata is not None:
            a[a == ds.nodata] = np.nan
        return a, abs(ds.transform.a * ds.transform.e)


def landcover_table(data: Path, out: Path) -> Path:
    """Qingshan land-cover table (+ meta) from InVEST's two biophysical tables."""
    awy = pd.read_csv(data / "biophysical_awy.csv")
    sdr = pd.read_csv(data / "biophysical_sdr.csv")
    t = awy.merge(sdr[["lucode", "usle_c", "usle_p"]], on="lucode")
    df = pd.DataFrame({
        "code": t["lucode"], "name_zh": t["description"], "name_en": t["description"],
        "ecosystem": t["lulc_veg"].map(ECOSYSTEM_OF_VEG), "kc": t["kc"], "root_depth_mm": t["root_depth"],
        "usle_c": t["usle_c"], "usle_p": t["usle_p"], "runoff_coef_rcees_2017": 0.0,
    })
    out.mkdir(parents=True, exist_ok=True)
    path = out / "landcover_invest.csv"
    df.to_csv(path, index=False)
    src = "InVEST biophysical table of the comparison data (validation/gen_inputs.py)"
    pd.DataFrame({"column": ["kc", "root_depth_mm", "usle_c", "usle_p", "runoff_coef_rcees_2017"],
                  "unit": ["1", "mm", "1", "1", "1"], "source": [src] * 4 + ["unused (0)"]}).to_csv(
        path.with_suffix(".meta.csv"), index=False)
    return path


def stats(ours: np.ndarray, ref: np.ndarray, px_area: float, to_total: float) -> dict[str, float]:
    """Per-pixel relative differences and totals over pixels valid in both."""
    both = np.isfinite(ours) & np.isfinite(ref)
    nz = both & (ref != 0)
    rel = np.abs(ours[nz] - ref[nz]) / np.abs(ref[nz])
    t_ours = float(ours[both].sum()) * px_area * to_total
    t_ref = float(ref[both].sum()) * px_area * to_total
    return {
        "pixels": int(both.sum()),
        "median_rel": float(np.median(rel)) if rel.size else 0.0,
        "p95_rel": float(np.percentile(rel, 95)) if rel.size else 0.0,
        "max_rel": float(rel.max()) if rel.size else 0.0,
        "total_qingshan": t_ours,
        "total_invest": t_ref,
        "total_rel": (t_ours - t_ref) / t_ref if t_ref else 0.0,
        "all_pixels_qingshan": float(np.nansum(ours)) * px_area * to_total,
    }


def run_invest(python: str, model: str, data: Path, ws: Path, flow_dir: str | None) -> None:
    """Run InVEST in its own venv (validation/run_invest.py), in a subprocess."""
    cmd = [python, str(HERE / "run_invest.py"), model, str(data), str(ws)]
    if flow_dir:
        cmd += ["--flow-dir", flow_dir]
    subprocess.run(cmd, check=True, capture_output=True)


def prepare(case: str, a: argparse.Namespace) -> tuple[Path, Path]:
    """Inputs and workspace root of one case, generating and running InVEST if asked."""
    if not a.regenerate:
        return a.invest_root / f"data_{case}", a.invest_root / "ws"
    data, ws = a.work / f"data_{case}", a.work / "ws"
    gen = ["--olinda"] if case == "olinda" else ["--size", case]
    subprocess.run([sys.executable, str(HERE / "gen_inputs.py"), *gen, "--out", str(data)], check=True)
    run_invest(a.invest_python, "awy", data, ws / f"awy_{case}_none", None)
    for fd in ("D8", "MFD"):
        run_invest(a.invest_python, "sdr", data, ws / f"sdr_{case}_{fd}", fd)
    return data, ws


def compare_case(case: str, a: argparse.Namespace) -> list[dict[str, object]]:
    """All comparison rows of one case."""
    data, ws = prepare(case, a)
    lc = LandcoverTable.from_csv(landcover_table(data, a.work / f"tables_{case}"))
    z = json.loads((ws / f"awy_{case}_none" / "args.json").read_text())["args"]["seasonality_constant"]
    water = compute_indicator(
        "water_conservation",
        {"precip": data / "precip.tif", "pet": data / "et0.tif", "lulc": data / "lulc.tif",
         "root_depth": data / "root_restrict_depth.tif", "pawc": data / "pawc.tif"},
        method="budyko", landcover=lc, overrides={"zhang_z": z},
        options={"budyko_vegetated_ecosystems": ["forest"]},
    )
    rows = []
    for layer in ("aet", "wyield"):
        ref, px = read(ws / f"awy_{case}_none" / "output" / "per_pixel" / f"{layer}.tif")
        rows.append({"case": case, "model": "AWY", "flow": "-", "layer": layer, "unit": "m3",
                     **stats(water.intermediates[layer], ref, px, 1e-3)})
    for fd in ("D8", "MFD"):
        w = ws / f"sdr_{case}_{fd}"
        l_max = json.loads((w / "args.json").read_text())["args"]["l_max"]
        dem, _ = read(data / "dem.tif")
        soil = compute_indicator(
            "soil_retention",
            {"dem": data / "dem.tif", "lulc": data / "lulc.tif", "rain_erosivity": data / "erosivity.tif",
             "soil_erodibility": data / "erodibility.tif", "ndvi": np.zeros(dem.shape)},
            landcover=lc, options={"ls_formula": "invest", "flow_algorithm": fd, "c_factor": "landcover",
                                   "l_max": float(l_max)},
        )
        ref, px = read(w / "intermediate_outputs" / "ls.tif")
        rows.append({"case": case, "model": "SDR", "flow": fd, "layer": "ls", "unit": "px",
                     **stats(soil.intermediates["ls"], ref, px, 1.0 / px)})  # total = Σ LS
        for layer in ("rkls", "usle", "avoided_erosion"):
            ref, px = read(w / f"{layer}.tif")
            row = stats(soil.intermediates[layer], ref, px, 1e-4)
            row["stream_share"] = 1.0 - row["total_qingshan"] / row["all_pixels_qingshan"]
            rows.append({"case": case, "model": "SDR", "flow": fd, "layer": layer, "unit": "t", **row})
        rows.append(_default_formula_row(case, fd, data, lc, w))
    return rows


def _default_formula_row(case: str, fd: str, data: Path, lc: LandcoverTable, w: Path) -> dict[str, object]:
    """Qingshan's default (Chinese-practice) LS against InVEST: the legitimate difference."""
    dem, _ = read(data / "dem.tif")
    soil = compute_indicator(
        "soil_retention",
        {"dem": data / "dem.tif", "lulc": data / "lulc.tif", "rain_erosivity": data / "erosivity.tif",
         "soil_erodibility": data / "erodibility.tif", "ndvi": np.zeros(dem.shape)},
        landcover=lc, options={"flow_algorithm": fd, "c_factor": "landcover"},
    )
    ref, px = read(w / "avoided_erosion.tif")
    return {"case": case, "model": "SDR", "flow": fd, "layer": "avoided_erosion (ls_formula=rusle_mccool)",
            "unit": "t", **stats(soil.intermediates["avoided_erosion"], ref, px, 1e-4)}


def markdown(rows: list[dict[str, object]]) -> str:
    """The table of docs/validation.md."""
    head = ("| case | model | flow | layer | pixels | median rel. diff | p95 | max | total Qingshan | "
            "total InVEST | total diff | stream share |\n|---|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        share = r.get("stream_share")
        lines.append(
            f"| {r['case']} | {r['model']} | {r['flow']} | {r['layer']} | {r['pixels']} | {r['median_rel']:.1e} | "
            f"{r['p95_rel']:.1e} | {r['max_rel']:.1e} | {r['total_qingshan']:.6g} {r['unit']} | "
            f"{r['total_invest']:.6g} {r['unit']} | {r['total_rel']:+.1e} | "
            f"{'-' if share is None else f'{share:.1%}'} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", nargs="+", default=["200", "1000", "olinda"])
    ap.add_argument("--invest-root", type=Path, default=INVEST_ROOT, help="folder with data_<case>/ and ws/")
    ap.add_argument("--invest-python", default=str(INVEST_ROOT / "venv" / "bin" / "python"))
    ap.add_argument("--work", type=Path, default=Path("/tmp/qingshan_validation"), help="scratch folder")
    ap.add_argument("--regenerate", action="store_true", help="generate inputs and run InVEST in --work")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON")
    a = ap.parse_args()
    rows = [r for case in a.cases for r in compare_case(case, a)]
    print(markdown(rows))  # noqa: T201
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
