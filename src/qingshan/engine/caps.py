"""Emission caps: bound an ecosystem capacity by the emitted quantity, per region.

Air and water purification are computed on rasters as a *capacity* per cell; what is accounted is
``Q = min(capacity, emissions)`` for each region that reports emissions (RCEES practice, 白玛卓嘎
et al. 2017; verification §9). The cap is regional, so it is applied to the leaf-region rows after
aggregation: every leaf row (all ecosystems) of a capped region is scaled by
``min(1, E_R / C_R)``, which keeps the ecosystem split of the capacity and makes the region total
exactly ``min(C_R, E_R)``. Emissions may be reported at any one level (county, or only the
province): ``C_R`` is then the capacity summed over the leaves under ``R``.

Rules come from the indicator specs: a component's ``cap_item`` (statistics item).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from qingshan.aggregate.regions import RegionSet
from qingshan.core.errors import InputError, RegionError
from qingshan.core.spec import IndicatorSpec, MethodSpec
from qingshan.core.units import conversion_factor
from qingshan.kernels.purification import cap_factor

__all__ = ["REPORT_COLUMNS", "apply_emission_caps", "cap_rules"]

REPORT_COLUMNS = ["region_code", "year", "indicator", "component", "item", "capacity", "emissions", "quantity", "factor", "unit"]

CapRules = Mapping[tuple[str, str], str]


def cap_rules(items: Iterable[tuple[IndicatorSpec, MethodSpec]] | Iterable[IndicatorSpec]) -> dict[tuple[str, str], str]:
    """``{(indicator, component): statistics item}`` for the capped components of ``items``.

    Accepts the ``(spec, method)`` pairs of a plan or bare specs. A method whose id does not end
    in ``capped`` (e.g. a future uncapped capacity method) is not capped.
    """
    out: dict[tuple[str, str], str] = {}
    for it in items:
        spec, method = it if isinstance(it, tuple) else (it, None)
        if method is not None and not method.id.endswith("capped"):
            continue
        for comp in spec.components:
            item = comp.cap_item
            if item:
                out[(spec.id, comp.id)] = str(item)
    return out


def _leaves_under(regions: RegionSet, codes: Iterable[str]) -> dict[str, str]:
    """``{leaf code: ancestor-or-self code in codes}`` for every leaf under one of ``codes``."""
    wanted = set(codes)
    out = {}
    for leaf in regions.leaves["code"].astype(str):
        for c in (leaf, *regions.ancestors(leaf)):
            if c in wanted:
                out[leaf] = c
                break
    return out


def _emissions(stats: pd.DataFrame | None, regions: RegionSet, year: int, item: str, unit: str) -> dict[str, float]:
    """``{region: emissions in unit}`` of one item and year; all rows at one administrative level."""
    if stats is None or stats.empty:
        return {}
    sub = stats[(stats["year"].astype(int) == year) & (stats["item"] == item)]
    out: dict[str, float] = {}
    path = str(stats.attrs.get("path", "statistics table"))
    for r in sub.itertuples(index=False):
        code = str(r.region_code)
        if code not in regions:
            raise RegionError(
                f"Statistics row for '{item}' names unknown region code {code}",
                f"统计数据中 '{item}' 的行政区划代码 {code} 未知",
                file=path, field="region_code",
                fix="Use codes present in the boundary file (GB/T 2260).",
                fix_zh="请使用边界文件中存在的行政区划代码（GB/T 2260）。",
            )
        value = float(r.value) * conversion_factor(str(r.unit), unit)
        if not np.isfinite(value) or value < 0:
            raise InputError(
                f"Emissions '{item}' of region {code} must be a non-negative number, got {r.value}",
                f"地区 {code} 的排放量 '{item}' 应为非负数，实际为 {r.value}",
                file=path, field="value",
                fix="Correct the value (emitted quantity, e.g. t).", fix_zh="请修正数值（排放量，例如 t）。",
            )
        out[code] = out.get(code, 0.0) + value
    levels = {regions.get(c).level for c in out}
    if len(levels) > 1:
        raise InputError(
            f"Emissions '{item}' mix administrative levels {sorted(levels)}",
            f"排放量 '{item}' 混合了多个行政级别 {sorted(levels)}",
            file=path, field="region_code",
            fix="Give each emission item at one level only (e.g. all counties, or only the province).",
            fix_zh="每个排放项只在一个级别填报（例如全部县，或仅省级）。",
        )
    return out


def _missing_error(item: str, indicator: str, missing: list[str], year: int) -> InputError:
    return InputError(
        f"No emissions '{item}' for {len(missing)} region(s) in {year} (e.g. {', '.join(missing[:5])}): "
        f"'{indicator}' is bounded by emissions",
        f"{year} 年有 {len(missing)} 个地区缺少排放量 '{item}'（如 {', '.join(missing[:5])}）：'{indicator}' 以排放量为上限",
        field=item,
        fix=f"Add rows 'REGION,{year},{item},VALUE,t,SOURCE' to the statistics table (any one level), "
            "or set option emission_cap_missing = \"capacity\" to keep the uncapped capacity there.",
        fix_zh=f"请在统计数据表中添加 '{item}' 的行（任一级别），或设置选项 emission_cap_missing = \"capacity\"。",
    )


def apply_emission_caps(leaf_rows: pd.DataFrame, statistics: pd.DataFrame | None, regions: RegionSet,
                        rules: CapRules, *, missing: str = "error") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scale capped components of leaf-region rows so each region's total is ``min(C, E)``.

    Parameters
    ----------
    leaf_rows : rows ``region_code, year, indicator, component, ecosystem, quantity, unit`` of
        leaf regions (the output of aggregation).
    statistics : the statistics table (items such as ``emissions.so2``, any mass unit).
    regions : the administrative hierarchy.
    rules : ``{(indicator, component): item}`` (see :func:`cap_rules`).
    missing : leaves with no emissions row: ``"error"`` (default), ``"capacity"`` (keep the
        uncapped capacity) or ``"zero"`` (nothing received, nothing removed).

    Returns
    -------
    The capped rows (same columns) and a report ``REPORT_COLUMNS`` per capped region.
    """
    if missing not in ("error", "capacity", "zero"):
        raise InputError(
            f"emission_cap_missing must be error, capacity or zero, got '{missing}'",
            f"emission_cap_missing 应为 error、capacity 或 zero，实际为 '{missing}'",
            field="emission_cap_missing", fix="Use one of error, capacity, zero.", fix_zh="可选：error、capacity、zero。",
        )
    out = leaf_rows.copy()
    report = []
    for (indicator, component), item in rules.items():
        sel = (out["indicator"] == indicator) & (out["component"] == component)
        if not sel.any():
            continue
        for year in sorted(out.loc[sel, "year"].unique()):
            rows = sel & (out["year"] == year)
            unit = str(out.loc[rows, "unit"].iloc[0])
            emis = _emissions(statistics, regions, int(year), item, unit)
            owner = _leaves_under(regions, emis)
            leaf_of_row = out.loc[rows, "region_code"].astype(str)
            uncovered = sorted(set(leaf_of_row) - set(owner))
            if uncovered and missing == "error":
                raise _missing_error(item, indicator, uncovered, int(year))
            group = leaf_of_row.map(owner)
            capacity = out.loc[rows, "quantity"].groupby(group).sum()
            factors = {}
            for code, e in emis.items():
                c = float(capacity.get(code, 0.0))
                f = float(cap_factor(c, e))
                factors[code] = f
                report.append({"region_code": code, "year": int(year), "indicator": indicator, "component": component,
                               "item": item, "capacity": c, "emissions": e, "quantity": c * f, "factor": f, "unit": unit})
            fallback = 0.0 if missing == "zero" else 1.0
            scale = group.map(factors).astype(float).fillna(fallback)
            out.loc[rows, "quantity"] = out.loc[rows, "quantity"] * scale.to_numpy()
    return out, pd.DataFrame(report, columns=REPORT_COLUMNS)
