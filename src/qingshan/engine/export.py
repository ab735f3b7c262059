"""Exports of a run: XLSX in the accounting-table layout, CSV, GeoPackage, COG rasters, provenance.

All files are written into a temporary folder beside the output folder, which replaces the
output folder only when every file is complete.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from qingshan.aggregate.regions import LEVELS, RegionSet
from qingshan.core.grid import Grid
from qingshan.core.params import ecosystem_label, top_ecosystem
from qingshan.core.spec import CATEGORY_ZH, Category
from qingshan.engine.config import RunConfig
from qingshan.engine.qc import report_rows, write_report_files
from qingshan.indicators import registry
from qingshan.io.rasters import ACCOUNTED_SCOPE, write_cog

__all__ = ["QC_SHEET", "export_all", "export_tables", "region_geometries", "summary_table"]

YI = 1e8  # 亿元 per CNY
QC_SHEET = "质量控制 QC"
EQUAL_AREA = "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +datum=WGS84 +units=m"


def export_all(results: pd.DataFrame, regions: RegionSet, layers: dict[int, dict[str, np.ndarray]], grid: Grid | None,
               config: RunConfig, provenance: dict[str, Any], run_id: str, *, cogs: Sequence[Path] = (),
               dest: Path | None = None) -> list[Path]:
    """Write every export of a run into the new folder ``dest`` (the run's artifact staging folder),
    or, without it, atomically into ``config.run.output``.

    ``cogs``: COG files already written (block-wise engine), moved into ``rasters/`` under their names.
    """
    from qingshan.engine.run import replace_dir

    final = Path(config.run.output)
    if dest is None:
        final.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest if dest is not None else Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    base_year = int(provenance.get("base_year", 0) or config.run.base_year or config.run.years[0])
    files = export_tables(results, regions, tmp, base_year=base_year, provenance={**provenance, "run_id": run_id})
    files.append(_write_gpkg(results, regions, tmp / "regions.gpkg"))
    if grid is not None:
        for year, comps in layers.items():
            for name, arr in comps.items():
                ind, comp = name.split(".", 1)
                unit = registry().get(ind).component(comp).unit
                path = tmp / "rasters" / f"{ind}.{comp}.{year}.tif"
                write_cog(path, arr, grid, units=f"{unit} per cell per year", description=f"{ind}/{comp} {year}",
                          scope=ACCOUNTED_SCOPE)
                files.append(path)
    for cog in cogs:  # on the same file system, so a rename
        path = tmp / "rasters" / Path(cog).name
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(cog, path)
        files.append(path)
    if dest is not None:
        return files
    replace_dir(tmp, final)
    return [final / f.relative_to(tmp) for f in files]


def export_tables(results: pd.DataFrame, regions: RegionSet | None, out: Path, *, base_year: int,
                  provenance: dict[str, Any]) -> list[Path]:
    """CSV, XLSX and provenance JSON (shared by ``account`` and ``value``)."""
    out.mkdir(parents=True, exist_ok=True)
    named = _with_names(results, regions)
    csv = out / "results.csv"
    named.to_csv(csv, index=False, encoding="utf-8-sig")
    prov = out / "provenance.json"
    prov.write_text(json.dumps(provenance, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    xlsx = out / "gep_accounts.xlsx"
    _write_xlsx(named, xlsx, base_year=base_year, provenance=provenance)
    files = [csv, xlsx, prov]
    if isinstance(provenance.get("qc"), dict):
        files += write_report_files(provenance["qc"], out, str(provenance.get("run_id", "")))
    return files


def _with_names(results: pd.DataFrame, regions: RegionSet | None) -> pd.DataFrame:
    df = results.copy()
    if regions is not None:
        df.insert(1, "region_name", [regions.get(c).name if c in regions else "" for c in df["region_code"]])
        df.insert(2, "level", [regions.get(c).level if c in regions else "" for c in df["region_code"]])
    else:
        if "region_name" not in df.columns:
            df.insert(1, "region_name", "")
        df.insert(2, "level", "")
    reg = registry()
    df.insert(4, "indicator_zh", [reg.get(i).name_zh for i in df["indicator"]])
    return df


def summary_table(named: pd.DataFrame, region_code: str, year: int) -> pd.DataFrame:
    """GEP summary of one region and year: one row per indicator, class subtotals and GEP."""
    reg = registry()
    sub = named[(named["region_code"] == region_code) & (named["year"] == year)]
    rows = []
    total = sub["value"].sum(skipna=True)
    for cat in Category:
        cat_rows = sub[sub["category"] == cat.value]
        for ind, grp in cat_rows.groupby("indicator", sort=False):
            spec = reg.get(str(ind))
            units = sorted(set(grp["unit"]))  # the indicator's quantity: the sum of its components if one unit
            qty = grp["quantity"].sum() if len(units) == 1 else np.nan
            v = grp["value"].sum(skipna=True)
            rows.append({
                "类别 Category": f"{CATEGORY_ZH[cat]} {cat.value}",
                "指标 Indicator": f"{spec.name_zh} {spec.name_en}",
                "实物量 Quantity": qty,
                "单位 Unit": units[0] if len(units) == 1 else "(several)",
                "价值量 Value (亿元)": v / YI,
                "可比价值量 Comparable (亿元)": grp["value_comparable"].sum(skipna=True) / YI,
                "占总比 Share of GEP (%)": 100 * v / total if total else np.nan,
            })
        cv = cat_rows["value"].sum(skipna=True)
        rows.append({"类别 Category": f"{CATEGORY_ZH[cat]}小计 {cat.value} subtotal", "指标 Indicator": "",
                     "价值量 Value (亿元)": cv / YI,
                     "可比价值量 Comparable (亿元)": cat_rows["value_comparable"].sum(skipna=True) / YI,
                     "占总比 Share of GEP (%)": 100 * cv / total if total else np.nan})
    rows.append({"类别 Category": "生态产品总值 GEP", "价值量 Value (亿元)": total / YI,
                 "可比价值量 Comparable (亿元)": sub["value_comparable"].sum(skipna=True) / YI,
                 "占总比 Share of GEP (%)": 100.0 if total else np.nan})
    return pd.DataFrame(rows)


def _pivot(named: pd.DataFrame, column: str, year: int, scale: float) -> pd.DataFrame:
    sub = named[named["year"] == year]
    p = sub.pivot_table(index=["region_code", "region_name", "level"], columns="indicator_zh", values=column, aggfunc="sum")
    p = p / scale
    p["GEP"] = p.sum(axis=1)
    order = {lvl: i for i, lvl in enumerate(LEVELS)}
    p = p.reset_index()
    p["_o"] = p["level"].map(lambda x: order.get(x, 9))
    return p.sort_values(["_o", "region_code"]).drop(columns="_o")


def _write_xlsx(named: pd.DataFrame, path: Path, *, base_year: int, provenance: dict[str, Any]) -> None:
    years = sorted(int(y) for y in named["year"].unique())
    roots = sorted(named.loc[named["level"] == _top_level(named), "region_code"].unique())
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        for y in years:
            for code in roots[:3]:
                summary_table(named, code, y).to_excel(xw, sheet_name=f"GEP总表 {code} {y}"[:31], index=False)
        for y in years:
            _pivot(named, "value", y, 1e8).to_excel(xw, sheet_name=f"价值量 Value {y} 亿元"[:31], index=False)
            _pivot(named, "value_comparable", y, 1e8).to_excel(xw, sheet_name=f"可比价 {base_year}价 {y}"[:31], index=False)
            phys = named[named["year"] == y].pivot_table(index=["region_code", "region_name", "level"],
                                                         columns=["indicator_zh", "component", "unit"], values="quantity", aggfunc="sum")
            phys.columns = [f"{a}/{b} [{c}]" for a, b, c in phys.columns]
            phys.reset_index().to_excel(xw, sheet_name=f"实物量 Physical {y}"[:31], index=False)
            _write_ecosystem_sheets(xw, named[(named["year"] == y) & named["region_code"].isin(roots)], y)
        named.to_excel(xw, sheet_name="明细 Detail", index=False)
        if isinstance(provenance.get("qc"), dict):
            pd.DataFrame(report_rows(provenance["qc"]), columns=["部分 Section", "项目 Item", "说明 Detail"]).to_excel(
                xw, sheet_name=QC_SHEET, index=False)
        pd.DataFrame(
            [(k, _cell_text(v)) for k, v in provenance.items()], columns=["key", "value"]
        ).to_excel(xw, sheet_name="来源 Provenance", index=False)


def _write_ecosystem_sheets(xw: Any, sub: pd.DataFrame, year: int) -> None:
    """Value by first-level ecosystem (second-level rows rolled up), and by subtype when any is given."""
    def pivot(df: pd.DataFrame) -> pd.DataFrame:
        p = df.pivot_table(index=["region_code", "indicator_zh"], columns="ecosystem", values="value", aggfunc="sum") / 1e8
        p.columns = [ecosystem_label(str(c)) for c in p.columns]
        return p.reset_index()

    pivot(sub.assign(ecosystem=sub["ecosystem"].map(top_ecosystem))).to_excel(
        xw, sheet_name=f"生态系统 Ecosystem {year}"[:31], index=False)
    detailed = sub[sub["ecosystem"] != sub["ecosystem"].map(top_ecosystem)]
    if not detailed.empty:
        pivot(detailed).to_excel(xw, sheet_name=f"生态系统细分 Subtype {year}"[:31], index=False)


XLSX_CELL_MAX = 32_000  # Excel holds at most 32 767 characters in a cell


def _cell_text(value: object) -> object:
    """A provenance value as cell text; long JSON is cut with a pointer to provenance.json."""
    if not isinstance(value, dict | list):
        return value
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= XLSX_CELL_MAX else text[:XLSX_CELL_MAX] + " … (truncated; see provenance.json)"


def _top_level(named: pd.DataFrame) -> str:
    present = [lvl for lvl in LEVELS if lvl in set(named["level"])]
    return present[0] if present else ""


def region_geometries(regions: RegionSet) -> dict[str, tuple[str, float]]:
    """GeoJSON geometry (simplified, EPSG:4326) and area [km2] of every region."""
    gdf = _all_levels(regions)
    areas = gdf.to_crs(EQUAL_AREA).area / 1e6
    simple = gdf.to_crs("EPSG:4326").simplify(0.003, preserve_topology=True)
    return {code: (json.dumps(g.__geo_interface__), float(a)) for code, g, a in zip(gdf["code"], simple, areas, strict=True)}


def _all_levels(regions: RegionSet) -> gpd.GeoDataFrame:
    leaves = regions.leaves[["code", "geometry"]].copy()
    frames = [leaves]
    current = leaves
    while True:
        parents = current["code"].map(lambda c: regions.get(c).parent)
        if parents.isna().all():
            break
        up = current.assign(code=parents).dropna(subset=["code"]).dissolve(by="code").reset_index()[["code", "geometry"]]
        frames.append(up)
        current = up
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=regions.leaves.crs)


def _write_gpkg(results: pd.DataFrame, regions: RegionSet, path: Path) -> Path:
    gdf = _all_levels(regions)
    gdf["name"] = [regions.get(c).name for c in gdf["code"]]
    gdf["level"] = [regions.get(c).level for c in gdf["code"]]
    for (year,), sub in results.groupby(["year"]):
        pv = sub.pivot_table(index="region_code", columns="indicator", values="value", aggfunc="sum") / YI
        pv.columns = [f"{c}_{year}_yi" for c in pv.columns]
        pv[f"gep_{year}_yi"] = pv.sum(axis=1)
        gdf = gdf.merge(pv, left_on="code", right_index=True, how="left")
    for level in [lvl for lvl in LEVELS if lvl in set(gdf["level"])]:
        gdf[gdf["level"] == level].to_file(path, layer=level, driver="GPKG")
    return path
