#!/usr/bin/env python
# ruff: noqa  (verbatim copy of invest-bench run_invest.py; runs in the InVEST venv)
"""Copied unchanged (apart from these header lines) from /work/shared/tools/invest-bench/run_invest.py
(Qingshan invest-bench tooling); runs in the InVEST venv, not in Qingshan's.

Run one InVEST model (3.20.x) programmatically on a dataset made by gen_data.py.

Usage (wrap with /usr/bin/time -v for peak RSS):
    python run_invest.py awy    data_1000 ws/awy_1000    [--n-workers -1]
    python run_invest.py carbon data_1000 ws/carbon_1000
    python run_invest.py sdr    data_1000 ws/sdr_1000    [--flow-dir MFD|D8]

Writes <workspace>/args.json (exact args passed to MODEL.execute) and
<workspace>/bench.json (wall time + a few headline outputs).
"""
import argparse
import csv
import json
import logging
import os
import sys
import time


def build_args(model, data, ws, n_workers, flow_dir):
    D = lambda name: os.path.abspath(os.path.join(data, name))
    common = {"workspace_dir": os.path.abspath(ws), "results_suffix": "", "n_workers": n_workers}
    if model == "awy":
        return {**common,
                "lulc_path": D("lulc.tif"),
                "depth_to_root_rest_layer_path": D("root_restrict_depth.tif"),
                "precipitation_path": D("precip.tif"),
                "pawc_path": D("pawc.tif"),
                "eto_path": D("et0.tif"),
                "watersheds_path": D("watersheds.gpkg"),
                "biophysical_table_path": D("biophysical_awy.csv"),
                "seasonality_constant": 5.0,   # Zhang coefficient; ~5 for humid SE China
                }
    if model == "carbon":
        return {**common,
                "lulc_bas_path": D("lulc.tif"),
                "carbon_pools_path": D("carbon_pools.csv"),
                "calc_sequestration": True,
                "lulc_alt_path": D("lulc_alt.tif"),
                "lulc_bas_year": 2020,
                "lulc_alt_year": 2030,
                "do_valuation": True,
                "price_per_metric_ton_of_c": 300.0,
                "discount_rate": 3.0,
                "rate_change": 0.0,
                }
    if model == "sdr":
        return {**common,
                "dem_path": D("dem.tif"),
                "erosivity_path": D("erosivity.tif"),
                "erodibility_path": D("erodibility.tif"),
                "lulc_path": D("lulc.tif"),
                "watersheds_path": D("watersheds.gpkg"),
                "biophysical_table_path": D("biophysical_sdr.csv"),
                "threshold_flow_accumulation": 1000,
                "k_param": 2.0,
                "sdr_max": 0.8,
                "ic_0_param": 0.5,
                "l_max": 122,
                "flow_dir_algorithm": flow_dir,
                }
    raise SystemExit(f"unknown model {model}")


def headline(model, ws):
    out = {}
    try:
        if model == "awy":
            p = os.path.join(ws, "output", "watershed_results_wyield.csv")
            rows = list(csv.DictReader(open(p)))
            out["watersheds"] = len(rows)
            out["wyield_vol_m3_total"] = sum(float(r["wyield_vol"]) for r in rows)
            out["wyield_mn_mm_first"] = float(rows[0]["wyield_mn"])
            out["columns"] = list(rows[0].keys())
        elif model == "carbon":
            import glob
            rep = glob.glob(os.path.join(ws, "*.html"))
            out["report"] = [os.path.basename(r) for r in rep]
            from osgeo import gdal
            import numpy as np
            for name in ("c_storage_bas.tif", "c_storage_alt.tif", "c_change_bas_alt.tif", "npv_alt.tif"):
                p = os.path.join(ws, name)
                if os.path.exists(p):
                    ds = gdal.Open(p); b = ds.GetRasterBand(1); a = b.ReadAsArray().astype("float64")
                    nd = b.GetNoDataValue(); a = a[a != nd] if nd is not None else a
                    out[name + "_sum"] = float(a.sum())
        elif model == "sdr":
            from osgeo import ogr
            ds = ogr.Open(os.path.join(ws, "watershed_results_sdr.gpkg") if os.path.exists(os.path.join(ws, "watershed_results_sdr.gpkg")) else os.path.join(ws, "watershed_results_sdr.shp"))
            lyr = ds.GetLayer()
            fields = [lyr.GetLayerDefn().GetFieldDefn(i).GetName() for i in range(lyr.GetLayerDefn().GetFieldCount())]
            tot = {k: 0.0 for k in fields if k.lower() in ("usle_tot", "sed_export", "sed_dep", "avoid_exp", "avoid_eros", "sed_retent")}
            for f in lyr:
                for k in tot:
                    tot[k] += float(f.GetField(k) or 0)
            out["fields"] = fields
            out["totals_t"] = tot
    except Exception as e:  # keep the timing even if summarising fails
        out["headline_error"] = repr(e)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", choices=["awy", "carbon", "sdr"])
    ap.add_argument("data")
    ap.add_argument("workspace")
    ap.add_argument("--n-workers", type=int, default=-1)
    ap.add_argument("--flow-dir", default="MFD", choices=["MFD", "D8"])
    ap.add_argument("--validate-only", action="store_true")
    a = ap.parse_args()

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    import natcap.invest
    if a.model == "awy":
        from natcap.invest import annual_water_yield as M
    elif a.model == "carbon":
        from natcap.invest import carbon as M
    else:
        from natcap.invest.sdr import sdr as M

    args = build_args(a.model, a.data, a.workspace, a.n_workers, a.flow_dir)
    os.makedirs(a.workspace, exist_ok=True)
    with open(os.path.join(a.workspace, "args.json"), "w") as fh:
        json.dump({"model": M.MODEL_SPEC.model_id, "invest_version": natcap.invest.__version__, "args": args}, fh, indent=2)

    problems = M.validate(args)
    if problems:
        print("VALIDATION:", problems)
        if a.validate_only:
            sys.exit(1)
    if a.validate_only:
        print("validation OK"); return

    t = time.perf_counter()
    M.execute(args)
    wall = time.perf_counter() - t
    res = {"model": a.model, "data": a.data, "wall_s": round(wall, 2), "n_workers": a.n_workers,
           "flow_dir": a.flow_dir if a.model == "sdr" else None, **headline(a.model, a.workspace)}
    with open(os.path.join(a.workspace, "bench.json"), "w") as fh:
        json.dump(res, fh, indent=2)
    print("BENCH", json.dumps(res))


if __name__ == "__main__":
    main()
