"""Profile rules applied to the leaf rows of a run: the out-of-region deduction (区域外扣减).

GB/T 46869—2025 defines GEP as the value of all ecosystem products of a region **minus the value of
ecosystem products originating outside it** (gep-methodology.md §2 item 4, [V S2]); e.g. transit water
from upstream counted in water supply, or products raised from inputs brought in. A profile states
the rule explicitly::

    [[rules]]
    id = "out_of_region_deduction"
    indicators = ["water_supply", "agricultural_products"]
    missing = "notice"          # or "error": a region without a reported share

For each listed indicator, statistics item ``out_of_region_share.<indicator>`` [1 or percent] gives
the share ``s`` of the region's quantity that originates outside the region; every leaf row of the
indicator (all components and ecosystems) is scaled by ``1 − s``. A share reported for a parent
region applies to its leaves. Each deduction (and each region without a share) is a notice, so it
appears in the quality-control report.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from qingshan.aggregate.regions import RegionSet
from qingshan.core.errors import InputError
from qingshan.core.notices import Notice, notice
from qingshan.core.units import conversion_factor
from qingshan.indicators.profile_rules import SHARE_ITEM

__all__ = ["apply_profile_rules", "out_of_region_deduction"]


def _shares(stats: pd.DataFrame | None, item: str, year: int) -> dict[str, float]:
    """``{region code: share [1]}`` of ``item`` in ``year``; a share outside [0, 1] is an error."""
    if stats is None or stats.empty:
        return {}
    sub = stats[(stats["item"] == item) & (stats["year"].astype(int) == year)]
    out: dict[str, float] = {}
    for r in sub.itertuples(index=False):
        share = float(r.value) * conversion_factor(str(r.unit) or "1", "1")
        if not 0.0 <= share <= 1.0:
            raise InputError(
                f"Statistics item '{item}' for region {r.region_code}, {year}: share {share:g} is not in [0, 1]",
                f"统计项 '{item}'（区域 {r.region_code}，{year} 年）的比例 {share:g} 不在 0–1 之间",
                file=str(stats.attrs.get("path", "statistics table")), field="value",
                fix="Give the share originating outside the region as a fraction (0.2, unit 1) or a percentage (20, unit percent).",
                fix_zh="请以小数（0.2，单位 1）或百分数（20，单位 percent）给出区域外来源的比例。",
            )
        out[str(r.region_code)] = share
    return out


def out_of_region_deduction(leaf: pd.DataFrame, stats: pd.DataFrame | None, regions: RegionSet,
                            rule: Mapping[str, Any]) -> pd.DataFrame:
    """Scale the leaf rows of each listed indicator by ``1 − share`` (see the module docstring)."""
    out = leaf.copy()
    missing_policy = str(rule.get("missing", "notice"))
    for ind in rule["indicators"]:
        item = SHARE_ITEM.format(indicator=ind)
        for year in sorted(int(y) for y in out.loc[out["indicator"] == ind, "year"].unique()):
            shares = _shares(stats, item, year)
            rows = (out["indicator"] == ind) & (out["year"] == year)
            factors, lacking = {}, []
            for code in sorted(set(out.loc[rows, "region_code"].astype(str))):
                found = next((shares[c] for c in (code, *regions.ancestors(code)) if c in shares), None)
                if found is None:
                    lacking.append(code)
                else:
                    factors[code] = 1.0 - found
            if lacking and missing_policy == "error":
                raise InputError(
                    f"Out-of-region deduction (区域外扣减) of '{ind}' {year}: no '{item}' for regions {lacking[:10]}",
                    f"区域外扣减：{year} 年 '{ind}' 缺少区域 {lacking[:10]} 的统计项 '{item}'",
                    field=item,
                    fix=f"Add statistics rows '<region>,{year},{item},<share>,1,<source>' (0 if nothing comes from outside).",
                    fix_zh=f"请添加统计行 '<区划>,{year},{item},<比例>,1,<来源>'（无区域外来源时填 0）。",
                )
            before = float(out.loc[rows, "quantity"].sum())
            scale = out.loc[rows, "region_code"].astype(str).map(factors).fillna(1.0)
            out.loc[rows, "quantity"] = out.loc[rows, "quantity"] * scale
            if factors:
                notice(Notice(code="out_of_region_deduction", severity="info", indicator=ind, year=year,
                              en=f"Out-of-region deduction: {ind} {year} scaled by 1 − {item} in {len(factors)} region(s); "
                                 f"quantity {before:.6g} → {float(out.loc[rows, 'quantity'].sum()):.6g}",
                              zh=f"区域外扣减：{year} 年 {ind} 在 {len(factors)} 个区域按 1 − {item} 扣减"))
            if lacking:
                notice(Notice(code="out_of_region_share_missing", indicator=ind, year=year, field=item,
                              en=f"Out-of-region deduction: no '{item}' for {len(lacking)} region(s) ({', '.join(lacking[:5])}…); nothing deducted there",
                              zh=f"区域外扣减：{len(lacking)} 个区域缺少 '{item}'，未扣减"))
    return out


def apply_profile_rules(leaf: pd.DataFrame, rules: tuple[Mapping[str, Any], ...], stats: pd.DataFrame | None,
                        regions: RegionSet) -> pd.DataFrame:
    """Apply every rule of a profile to the leaf rows, in order."""
    for rule in rules:
        if rule.get("id") == "out_of_region_deduction":
            leaf = out_of_region_deduction(leaf, stats, regions, rule)
    return leaf
