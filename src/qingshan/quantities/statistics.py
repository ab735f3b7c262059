"""Table methods that read items of the statistics table (统计报表) into components.

Statistics rows: ``region_code, year, item, value, unit, source``. Each method maps statistics
items to its components; values are converted to the component's unit (errors name the item).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

import numpy as np
import pandas as pd

from qingshan.aggregate.regions import RegionSet
from qingshan.core.errors import InputError, RegionError, UnitsError
from qingshan.core.params import ParamSet
from qingshan.core.tables import parse_float
from qingshan.core.units import conversion_factor

__all__ = [
    "STATISTICS_COLUMNS",
    "check_statistics_rows",
    "energy_from_statistics",
    "flood_from_registers",
    "items_to_components",
    "reported_values",
    "statistics_path",
    "statistics_unit_factor",
    "visits_from_statistics",
    "water_supply_from_statistics",
]

COLUMNS = ["region_code", "component", "ecosystem", "quantity", "unit"]
STATISTICS_COLUMNS = ["region_code", "year", "item", "value", "unit", "source"]
_WHAT_ZH = "统计数据表"


def check_statistics_rows(stats: pd.DataFrame, path: str | Path) -> pd.DataFrame:
    """Every row of a statistics table parsed and checked; errors name the file, the row and the column.

    Returns the table with ``year`` as int, ``value`` as float, codes and items stripped, blank
    rows dropped and the index set to the CSV line number (header = line 1); ``attrs["path"]`` is
    the file. ``value`` must be a finite plain number (no ``inf``/``NaN``, empty cell, thousands
    separator or text). A second row with the same ``region_code, year, item`` (and ``ecosystem``
    where that column exists) is an error naming both rows.
    """
    keys = ["region_code", "year", "item", *(["ecosystem"] if "ecosystem" in stats.columns else [])]
    rows, lines = [], []
    seen: dict[tuple[str, ...], int] = {}
    for line, rec in enumerate(stats.to_dict("records"), start=2):
        if all(str(rec.get(c, "")).strip() == "" for c in ("region_code", "year", "item", "value")):
            continue
        rec = {k: (v.strip() if isinstance(v, str) else v) for k, v in rec.items()}
        for col in ("region_code", "item"):
            if rec[col] == "":
                _row_error(path, line, col, f"'{col}' is empty", f"'{col}' 列为空",
                           "Fill in the region code (GB/T 2260) and the item of every row, or delete the row.",
                           "请为每行填写行政区划代码（GB/T 2260）和统计项，或删除该行。")
        year = parse_float(rec["year"], path=path, field="year", row=line, what_zh=_WHAT_ZH)
        if year != int(year):
            _row_error(path, line, "year", f"year '{rec['year']}' is not a whole number", f"年份 '{rec['year']}' 不是整数",
                       "Write the calendar year, e.g. 2019.", "请填写年份，例如 2019。")
        rec["year"] = int(year)
        rec["value"] = parse_float(rec["value"], path=path, field="value", row=line, what_zh=_WHAT_ZH)
        key = tuple(str(rec[k]) for k in keys)
        if key in seen:
            what = ", ".join(f"{k} {v}" for k, v in zip(keys, key, strict=True))
            raise InputError(
                f"Rows {seen[key]} and {line} are duplicates ({what}): the statistic would be counted twice",
                f"{_WHAT_ZH}第 {seen[key]} 行与第 {line} 行重复（{what}），该统计值会被重复计算",
                file=path, field="item",
                fix=f"Keep one row per {', '.join(keys)}: delete one of rows {seen[key]} and {line}, or sum them into one.",
                fix_zh=f"每个 {', '.join(keys)} 只保留一行：删除第 {seen[key]} 行或第 {line} 行之一，或将两行合并。",
            )
        seen[key] = line
        rows.append(rec)
        lines.append(line)
    out = pd.DataFrame(rows, columns=list(stats.columns), index=pd.Index(lines, name="line"))
    out.attrs["path"] = str(path)
    return out


def _row_error(path: str | Path, line: int, field: str, en: str, zh: str, fix: str, fix_zh: str) -> NoReturn:
    raise InputError(f"Row {line}: {en}", f"{_WHAT_ZH}第 {line} 行：{zh}", file=path, field=field, fix=fix, fix_zh=fix_zh)


def items_to_components(stats: pd.DataFrame | None, regions: RegionSet, year: int,
                        mapping: Mapping[str, tuple[str, str, str]]) -> pd.DataFrame:
    """Rows for each statistics ``item`` in ``mapping`` → (component, ecosystem, unit)."""
    if stats is None or stats.empty:
        return pd.DataFrame(columns=COLUMNS)
    sub = stats[(stats["year"].astype(int) == year) & stats["item"].isin(list(mapping))]
    out = []
    for r in sub.itertuples(index=False):
        code = str(r.region_code)
        if code not in regions:
            raise RegionError(
                f"Statistics row for '{r.item}' names unknown region code {code}",
                f"统计数据中 '{r.item}' 的行政区划代码 {code} 未知",
                file=statistics_path(stats), field="region_code",
                fix="Use codes present in the boundary file (GB/T 2260).",
                fix_zh="请使用边界文件中存在的行政区划代码（GB/T 2260）。",
            )
        comp, eco, unit = mapping[str(r.item)]
        out.append({"region_code": code, "component": comp, "ecosystem": eco,
                    "quantity": float(r.value) * statistics_unit_factor(stats, r, unit), "unit": unit})
    return pd.DataFrame(out, columns=COLUMNS)


def water_supply_from_statistics(tables: Mapping[str, pd.DataFrame], params: ParamSet, regions: RegionSet,
                                 year: int, indicator: str) -> pd.DataFrame:
    """Water use by sector (items ``water_use.<sector>``) [m3] (水资源公报)."""
    sectors = ("domestic", "industry", "agriculture", "ecological", "raw_water")
    mapping = {f"water_use.{s}": (s, "wetland", "m3") for s in sectors}
    return items_to_components(tables.get("statistics"), regions, year, mapping)


def energy_from_statistics(tables: Mapping[str, pd.DataFrame], params: ParamSet, regions: RegionSet,
                           year: int, indicator: str) -> pd.DataFrame:
    """Hydropower generation (item ``hydropower_generation``) [kWh]."""
    return items_to_components(tables.get("statistics"), regions, year,
                               {"hydropower_generation": ("hydropower", "wetland", "kWh")})


def visits_from_statistics(tables: Mapping[str, pd.DataFrame], params: ParamSet, regions: RegionSet,
                           year: int, indicator: str) -> pd.DataFrame:
    """Visits to ecosystems (item ``ecotourism_visits``) [visit] (文旅统计)."""
    return items_to_components(tables.get("statistics"), regions, year,
                               {"ecotourism_visits": ("visits", "forest", "visit")})


def reported_values(tables: Mapping[str, pd.DataFrame], params: ParamSet, regions: RegionSet,
                    year: int, indicator: str) -> pd.DataFrame:
    """A value reported by a study (item ``non_use_value``) [CNY]."""
    return items_to_components(tables.get("statistics"), regions, year,
                               {"non_use_value": ("non_use", "wetland", "CNY")})


def flood_from_registers(tables: Mapping[str, pd.DataFrame], params: ParamSet, regions: RegionSet,
                         year: int, indicator: str) -> pd.DataFrame:
    """Flood-regulation storage from registers [m3].

    - reservoirs: ``reservoir_flood_share × reservoir_total_storage`` (Garzê: 0.35 × 总库容);
      a reported ``reservoir_flood_storage`` item is used as is;
    - lakes: ``e^a × A^b × T`` [10⁴ m3] from ``lake_area`` [km2] with the regional equation of
      parameters ``lake_model_a``, ``lake_model_b``, ``lake_exchange_times`` (饶恩明 et al. 2014;
      only the Qinghai–Tibet row is verified);
    - marshes: ``marsh_detention_depth × marsh_area``;
    - vegetation: a reported ``vegetation_flood_storage`` item (storm rainfall − storm runoff).
    """
    stats = tables.get("statistics")
    direct = items_to_components(stats, regions, year, {
        "reservoir_flood_storage": ("reservoirs", "wetland", "m3"),
        "vegetation_flood_storage": ("vegetation", "forest", "m3"),
    })
    raw = items_to_components(stats, regions, year, {
        "reservoir_total_storage": ("reservoirs", "wetland", "m3"),
        "lake_area": ("lakes", "wetland", "km2"),
        "marsh_area": ("marshes", "wetland", "m2"),
    })
    frames = [direct]
    if not raw.empty:
        res = raw[raw["unit"] == "m3"].copy()
        res["quantity"] *= params.scalar("reservoir_flood_share", "1")
        lakes = raw[raw["unit"] == "km2"].copy()
        if not lakes.empty:
            a, b = params.scalar("lake_model_a", "1"), params.scalar("lake_model_b", "1")
            t = params.scalar("lake_exchange_times", "1")
            lakes["quantity"] = np.exp(a) * np.power(lakes["quantity"], b) * t * 1e4
            lakes["unit"] = "m3"
        marsh = raw[raw["unit"] == "m2"].copy()
        marsh["quantity"] *= params.scalar("marsh_detention_depth", "m")
        marsh["unit"] = "m3"
        frames += [res, lakes, marsh]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(frames, ignore_index=True).groupby(["region_code", "component", "ecosystem", "unit"], as_index=False)["quantity"].sum()[COLUMNS]


def statistics_path(stats: pd.DataFrame) -> str:
    """Path of the statistics table (for error messages)."""
    return str(stats.attrs.get("path", "statistics table"))


def statistics_unit_factor(stats: pd.DataFrame, row: object, unit: str) -> float:
    """Unit conversion of a statistics row; errors name the table, the item and the column."""
    try:
        return conversion_factor(str(row.unit), unit)  # type: ignore[attr-defined]
    except UnitsError as exc:
        exc.file, exc.field = statistics_path(stats), "unit"
        exc.en = f"Statistics item '{row.item}' (region {row.region_code}): {exc.en}"  # type: ignore[attr-defined]
        raise
