"""Exports of a run: XLSX in the accounting-table layout, CSV, GeoPackage, COG rasters, provenance.

All files are written into a temporary folder beside the output folder, which replaces the
output folder only when every file is complete.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Sequence
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
from qingshan.engine.workbook import (
    HEAD_ROWS,
    WORKBOOK_UNITS,
    Book,
    number_format_for,
    unit_text,
    workbook_unit,
    write_rows,
    write_table,
)
from qingshan.indicators import registry
from qingshan.io.rasters import ACCOUNTED_SCOPE, write_cog

__all__ = ["QC_SHEET", "export_all", "export_tables", "region_geometries", "summary_table"]

YI = 1e8  # 亿元 per CNY
QC_SHEET = "质量控制 QC"
EQUAL_AREA = "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +datum=WGS84 +units=m"


def export_all(results: pd.DataFrame, regions: RegionSet, layers: dict[int, dict[str, np.ndarray]], grid: Grid | None,
               config: RunConfig, provenance: dict[str, Any], run_id: str, *,
               cogs: Sequence[Path] | Callable[[], Sequence[Path]] = (),
               dest: Path | None = None) -> list[Path]:
    """Write every export of a run into the new folder ``dest`` (the run's artifact staging folder),
    or, without it, atomically into ``config.run.output``.

    ``cogs``: COG files already written (block-wise engine), moved into ``rasters/`` under their names; or a
    callable returning them, called once the tables, the workbook and the regions are written.
    """
    from qingshan.engine.run import replace_dir

    final = Path(config.run.output)
    if dest is None:
        final.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest if dest is not None else Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    base_year = int(provenance.get("base_year", 0) or config.run.base_year or config.run.years[0])
    files = export_tables(results, regions, tmp, base_year=base_year, provenance={**provenance, "run_id": run_id},
                          unit=workbook_unit(config.options))
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
    for cog in cogs() if callable(cogs) else cogs:  # on the same file system, so a rename; after the tables
        path = tmp / "rasters" / Path(cog).name
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(cog, path)
        files.append(path)
    if dest is not None:
        return files
    replace_dir(tmp, final)
    return [final / f.relative_to(tmp) for f in files]


def export_tables(results: pd.DataFrame, regions: RegionSet | None, out: Path, *, base_year: int,
                  provenance: dict[str, Any], unit: str = "亿元") -> list[Path]:
    """CSV, XLSX and provenance JSON (shared by ``account`` and ``value``); ``unit``: the workbook's value unit."""
    out.mkdir(parents=True, exist_ok=True)
    named = _with_names(results, regions)
    csv = out / "results.csv"
    named.to_csv(csv, index=False, encoding="utf-8-sig")
    prov = out / "provenance.json"
    prov.write_text(json.dumps(provenance, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    xlsx = out / "gep_accounts.xlsx"
    _write_xlsx(named, xlsx, base_year=base_year, provenance=provenance, unit=unit)
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


def summary_table(named: pd.DataFrame, region_code: str, year: int, *, scale: float = YI) -> pd.DataFrame:
    """GEP summary of one region and year: one row per indicator, class subtotals and GEP.

    Values in CNY / ``scale`` (亿元 by default, the workbook's unit line names it); shares in percent.
    """
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
                "价值量 Value": v / scale,
                "可比价值量 Comparable": grp["value_comparable"].sum(skipna=True) / scale,
                "占总比 Share of GEP": 100 * v / total if total else np.nan,
            })
        cv = cat_rows["value"].sum(skipna=True)
        rows.append({"类别 Category": f"{CATEGORY_ZH[cat]}小计 {cat.value} subtotal", "指标 Indicator": "",
                     "价值量 Value": cv / scale,
                     "可比价值量 Comparable": cat_rows["value_comparable"].sum(skipna=True) / scale,
                     "占总比 Share of GEP": 100 * cv / total if total else np.nan})
    rows.append({"类别 Category": "生态产品总值 GEP", "价值量 Value": total / scale,
                 "可比价值量 Comparable": sub["value_comparable"].sum(skipna=True) / scale,
                 "占总比 Share of GEP": 100.0 if total else np.nan})
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


def _physical(named: pd.DataFrame, year: int) -> pd.DataFrame:
    """Quantities by indicator and component (rows, with their unit) and region (columns, by level)."""
    sub = named[named["year"] == year]
    p = sub.pivot_table(index=["indicator_zh", "component", "unit"], columns="region_code", values="quantity",
                        aggfunc="sum", sort=False)
    first = sub.drop_duplicates("region_code").set_index("region_code")
    order = {lvl: i for i, lvl in enumerate(LEVELS)}
    codes = sorted(p.columns, key=lambda c: (order.get(first.at[c, "level"], 9), str(c)))
    p = p[codes]
    p.columns = [f"{first.at[c, 'region_name']} {c}".strip() for c in codes]
    p.index.names = ["指标 Indicator", "组分 Component", "单位 Unit"]
    return p.reset_index()


def _region_label(named: pd.DataFrame, roots: list[str]) -> str:
    names = named.drop_duplicates("region_code").set_index("region_code")["region_name"]
    return "、".join(str(names.get(c) or c) for c in roots[:3])


_HEADERS = {"region_code": "地区代码 Region code", "region_name": "地区 Region", "level": "级别 Level",
            "indicator_zh": "指标 Indicator"}


def _put(book: Book, df: pd.DataFrame, sheet: str, title: str, note: str, key_cols: int, *, raw: bool = False) -> None:
    """One table sheet: title, note, then ``df`` with its header frozen, formats and widths.

    ``raw``: keep the data column names (the detail sheet mirrors results.csv).
    """
    df = df if raw else df.rename(columns=_HEADERS)
    formats = [number_format_for(str(c), df[c].dropna().tolist()[:500]) for c in df.columns]
    write_table(book, sheet, df, title=title, note=note, header=HEAD_ROWS, key_cols=key_cols, formats=formats)


def _write_xlsx(named: pd.DataFrame, path: Path, *, base_year: int, provenance: dict[str, Any],
                unit: str = "亿元") -> None:
    """The accounts workbook at ``path`` (written in place once complete; nothing on an error)."""
    scale = WORKBOOK_UNITS[unit]
    years = sorted(int(y) for y in named["year"].unique())
    roots = sorted(named.loc[named["level"] == _top_level(named), "region_code"].unique())
    label = _region_label(named, roots)
    u = unit_text(unit)

    def note(y: int, what: str) -> str:
        return (f"核算区域 Region: {label} ({'、'.join(roots[:3])}) · 核算年份 Year: {y} · 价格基准 Price base: "
                f"{what} · 单位 Unit: {u}")

    current = "当年价 current prices"
    with Book(path) as xw:
        for y in years:
            for code in roots[:3]:
                name = _region_label(named, [code])
                _put(xw, summary_table(named, code, y, scale=scale), f"GEP总表 {code} {y}",
                     f"{name} {y} 年生态产品总值核算表 (GEP summary)",
                     f"核算区域 Region: {name} ({code}) · 核算年份 Year: {y} · 价格基准 Price base: 价值量 {current} "
                     f"{y}; 可比价值量 comparable at {base_year} prices · 单位 Unit: 价值量 {u}; "
                     "实物量见单位列 quantities in the unit column", 2)
        for y in years:
            _put(xw, _pivot(named, "value", y, scale), f"价值量 Value {y} {unit}",
                 f"{label} {y} 年生态产品价值量表（分区域） (GEP value by sub-region)", note(y, f"{current} {y}"), 3)
            _put(xw, _pivot(named, "value_comparable", y, scale), f"可比价 {base_year}价 {y}",
                 f"{label} {y} 年生态产品可比价值量表（{base_year}年价） (comparable value by sub-region)",
                 note(y, f"可比价 {base_year} 年价 comparable at {base_year} prices"), 3)
            _put(xw, _physical(named, y), f"实物量 Physical {y}",
                 f"{label} {y} 年生态产品实物量表 (physical quantities by indicator and sub-region)",
                 f"核算区域 Region: {label} · 核算年份 Year: {y} · 单位 Unit: 见单位列 in the unit column", 3)
            _write_ecosystem_sheets(xw, named[(named["year"] == y) & named["region_code"].isin(roots)], y,
                                    scale=scale, label=label, note=note(y, f"{current} {y}"))
        _put(xw, named, "明细 Detail", f"{label} 生态产品核算明细 (all result rows)",
             "价值量 value, value_comparable: 元 CNY (not scaled); 实物量 quantity: 见 unit 列 in column unit; "
             f"value_comparable at {base_year} prices", 5, raw=True)
        if isinstance(provenance.get("qc"), dict):
            qc = pd.DataFrame(report_rows(provenance["qc"]), columns=["部分 Section", "项目 Item", "说明 Detail"])
            write_table(xw, QC_SHEET, qc, title=None, note=None, header=0, key_cols=0)
        _write_provenance(xw, provenance)


def _write_ecosystem_sheets(xw: Book, sub: pd.DataFrame, year: int, *, scale: float, label: str, note: str) -> None:
    """Value by first-level ecosystem (second-level rows rolled up), and by subtype when any is given."""
    def pivot(df: pd.DataFrame) -> pd.DataFrame:
        p = df.pivot_table(index=["region_code", "indicator_zh"], columns="ecosystem", values="value",
                           aggfunc="sum") / scale
        p.columns = [ecosystem_label(str(c)) for c in p.columns]
        return p.reset_index()

    _put(xw, pivot(sub.assign(ecosystem=sub["ecosystem"].map(top_ecosystem))), f"生态系统 Ecosystem {year}",
         f"{label} {year} 年生态产品价值量表（分生态系统类型） (value by ecosystem type)", note, 2)
    detailed = sub[sub["ecosystem"] != sub["ecosystem"].map(top_ecosystem)]
    if not detailed.empty:
        _put(xw, pivot(detailed), f"生态系统细分 Subtype {year}",
             f"{label} {year} 年生态产品价值量表（分生态系统细类） (value by ecosystem subtype)", note, 2)


PROVENANCE_SHEET = "来源 Provenance"
_PROV_SECTIONS = {"parameters": "参数 Parameters", "prices": "价格 Prices", "methods": "方法 Methods",
                  "input_hashes": "输入文件 Input files (SHA-256)", "emission_caps": "排放上限 Emission caps",
                  "code": "代码版本 Code version", "notices": "提示 Notices"}
_PROV_KEYS = {"run_id": "运行编号 Run id", "content_hash": "内容哈希 Content hash", "profile": "方法配置 Profile",
              "code": "代码版本 Code version", "started": "开始时间 Started", "seconds": "用时 Seconds",
              "qingshan_version": "青山版本 Qingshan version", "python": "Python 版本 Python",
              "command": "命令 Command", "example": "示例数据 Example data", "base_year": "可比价基年 Base year",
              "deflator": "价格指数 Deflator"}  # key/value rows first, in this order


def _write_provenance(book: Book, provenance: dict[str, Any]) -> None:
    """Key/value rows, then one row per method, input file, parameter and price (no JSON in cells)."""
    ws = book.sheet(PROVENANCE_SHEET, widths_from=3)
    ws.put(0, 0, "核算来源 Provenance of the run", book.title)
    ws.put(1, 0, "full record: provenance.json 完整记录见 provenance.json", book.plain_note)
    rows: list[list[Any]] = []
    tables: list[tuple[str, list[str], list[list[Any]]]] = []
    first = [k for k in _PROV_KEYS if k in provenance]
    for key, value in [(k, provenance[k]) for k in first] + [(k, v) for k, v in provenance.items() if k not in first]:
        if key in _PROV_KEYS:
            rows += _kv_rows(_PROV_KEYS[key], value)
        elif key == "qc":
            rows.append(["质量控制 QC", f"see sheet 见工作表 {QC_SHEET}"])
        elif key == "parameters" and isinstance(value, dict):
            tables.append(("参数 Parameters", ["参数 Parameter", "值 Value", "单位 Unit", "来源 Source", "可信度 Certainty"],
                           [[k, *_fields(v, ("value", "unit", "source", "certainty"))] for k, v in value.items()]))
        elif isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
            cols = list(dict.fromkeys(c for r in value for c in r))
            tables.append((_PROV_SECTIONS.get(key, key), cols, [[_cell_text(r.get(c)) for c in cols] for r in value]))
        elif isinstance(value, dict) and all(not isinstance(v, dict | list) for v in value.values()):
            tables.append((_PROV_SECTIONS.get(key, key), ["项目 Item", "值 Value"], [[k, v] for k, v in value.items()]))
        else:
            rows += _kv_rows(key, value)
    nxt = write_rows(ws, 3, "运行 Run", ["项目 Key", "值 Value"], rows)
    for heading, header, body in tables:
        nxt = write_rows(ws, nxt, heading, header, body)
    ws.finish(freeze_row=0, freeze_col=1)


def _kv_rows(name: str, value: object) -> list[list[Any]]:
    """Key/value rows of a nested value: a dict becomes one row per entry (``name · key``)."""
    if isinstance(value, dict):
        return [r for k, v in value.items() for r in _kv_rows(f"{name} · {k}", v)]
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        return [[name, "; ".join(str(v) for v in value)]]
    return [[name, _cell_text(value)]]


def _fields(value: object, names: tuple[str, ...]) -> list[Any]:
    if isinstance(value, dict):
        return [_cell_text(value.get(n)) for n in names]
    if isinstance(value, list | tuple):  # [value, unit]
        return [_cell_text(v) for v in value][: len(names)] + [None] * (len(names) - len(value))
    return [value] + [None] * (len(names) - 1)


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
