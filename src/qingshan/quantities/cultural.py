"""Cultural services from statistics: zonal travel cost, spending per visit, hedonic landscape premium.

All three read the statistics table (``region_code, year, item, value, unit, source``) and return
values already in CNY (components valued as reported values), because the price differs by
region and origin zone and is itself statistics.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from qingshan.aggregate.regions import RegionSet
from qingshan.core.errors import InputError
from qingshan.core.params import ParamSet
from qingshan.quantities.statistics import COLUMNS, items_to_components

__all__ = ["TCM_FIELDS", "landscape_hedonic", "recreation_spending", "recreation_zonal_travel_cost", "travel_cost_value"]

TCM_FIELDS = {"visits": "visit", "travel_time": "h", "wage": "CNY/h", "cost": "CNY/visit"}
"""Fields of a travel-cost origin zone (item ``tcm.<zone>.<field>``) and the unit each is read in."""


def travel_cost_value(visits: np.ndarray, travel_time_h: np.ndarray, wage_cny_h: np.ndarray,
                      cost_cny: np.ndarray, time_share: float) -> np.ndarray:
    """Zonal travel-cost value ``Σ_j N_j × (T_j × s × W_j + C_j)`` per zone [CNY].

    Parameters
    ----------
    visits : visits from zone j N_j [visit]; travel_time_h : round-trip and on-site time T_j [h];
    wage_cny_h : wage rate W_j [CNY h-1]; cost_cny : out-of-pocket cost per visit C_j (transport,
    food and lodging, tickets) [CNY visit-1]; time_share : share s of the wage valuing time [1].
    """
    return np.maximum(visits, 0.0) * (np.maximum(travel_time_h, 0.0) * time_share * np.maximum(wage_cny_h, 0.0)
                                      + np.maximum(cost_cny, 0.0))


def _zones(stats: pd.DataFrame | None, regions: RegionSet, year: int) -> pd.DataFrame:
    """Wide table ``region_code, zone, visits, travel_time, wage, cost`` from ``tcm.*`` items."""
    if stats is None or stats.empty:
        return pd.DataFrame(columns=["region_code", "zone", *TCM_FIELDS])
    items = [str(i) for i in stats["item"].unique() if str(i).startswith("tcm.")]
    mapping = {}
    for item in items:
        parts = item.split(".")
        if len(parts) != 3 or parts[2] not in TCM_FIELDS:
            raise InputError(
                f"Travel-cost item '{item}' is not 'tcm.<zone>.<field>' with field one of {', '.join(TCM_FIELDS)}",
                f"旅行费用统计项 '{item}' 应为 'tcm.<客源区>.<字段>'，字段为 {', '.join(TCM_FIELDS)} 之一",
                file=str(stats.attrs.get("path", "statistics table")), field="item",
                fix="Name items e.g. tcm.nanchang.visits, tcm.nanchang.travel_time, tcm.nanchang.wage, tcm.nanchang.cost.",
                fix_zh="例如 tcm.nanchang.visits、tcm.nanchang.travel_time、tcm.nanchang.wage、tcm.nanchang.cost。",
            )
        mapping[item] = (item, "forest", TCM_FIELDS[parts[2]])
    long = items_to_components(stats, regions, year, mapping)
    if long.empty:
        return pd.DataFrame(columns=["region_code", "zone", *TCM_FIELDS])
    long["zone"] = long["component"].str.split(".").str[1]
    long["field"] = long["component"].str.split(".").str[2]
    wide = long.pivot_table(index=["region_code", "zone"], columns="field", values="quantity", aggfunc="sum").reset_index()
    lacking = [f for f in TCM_FIELDS if f not in wide.columns or wide[f].isna().any()]
    if lacking:
        bad = wide[[f for f in TCM_FIELDS if f in wide.columns]].isna().any(axis=1) if set(TCM_FIELDS) & set(wide.columns) else wide.index
        example = wide.loc[bad].iloc[0] if len(wide.loc[bad]) else wide.iloc[0]
        raise InputError(
            f"Travel-cost zone '{example['zone']}' of region {example['region_code']} lacks field(s) {lacking}",
            f"地区 {example['region_code']} 的客源区 '{example['zone']}' 缺少字段 {lacking}",
            file=str(stats.attrs.get("path", "statistics table")), field="item",
            fix="Give visits, travel_time, wage and cost for every origin zone.",
            fix_zh="每个客源区都需给出 visits、travel_time、wage 和 cost。",
        )
    return wide


def recreation_zonal_travel_cost(tables: Mapping[str, pd.DataFrame], params: ParamSet, regions: RegionSet,
                                 year: int, indicator: str) -> pd.DataFrame:
    """Recreation value by the zonal travel-cost method [CNY], ``Σ_j N_j × (T_j × s × W_j + C_j)``.

    Items ``tcm.<zone>.visits`` [visit], ``tcm.<zone>.travel_time`` [h],
    ``tcm.<zone>.wage`` [CNY/h], ``tcm.<zone>.cost`` [CNY/visit] per destination region; s =
    ``travel_time_cost_share`` (30 % of the wage, 江波 et al. 2017). Consumer surplus is not
    added (it needs a demand curve fitted across zones).
    """
    zones = _zones(tables.get("statistics"), regions, year)
    if zones.empty:
        return pd.DataFrame(columns=COLUMNS)
    share = params.scalar("travel_time_cost_share", "1")
    zones["value"] = travel_cost_value(zones["visits"].to_numpy(float), zones["travel_time"].to_numpy(float),
                                       zones["wage"].to_numpy(float), zones["cost"].to_numpy(float), share)
    out = zones.groupby("region_code", as_index=False)["value"].sum()
    return out.assign(component="travel_cost", ecosystem="forest", quantity=out["value"], unit="CNY")[COLUMNS]


def recreation_spending(tables: Mapping[str, pd.DataFrame], params: ParamSet, regions: RegionSet,
                        year: int, indicator: str) -> pd.DataFrame:
    """Recreation value as visits × spending per visit [CNY] (simplified practice, Garzê).

    Items ``ecotourism_visits`` [visit] and ``tourism_spending_per_visit`` [CNY/visit] per
    region; a region with ``tourism_revenue`` [CNY] instead uses that total. Tourism revenue is
    already in GDP — the method choice must stay explicit.
    """
    stats = tables.get("statistics")
    visits = items_to_components(stats, regions, year, {"ecotourism_visits": ("v", "forest", "visit")})
    spend = items_to_components(stats, regions, year, {"tourism_spending_per_visit": ("s", "forest", "CNY/visit")})
    revenue = items_to_components(stats, regions, year, {"tourism_revenue": ("r", "forest", "CNY")})
    vals: dict[str, float] = {}
    per = spend.groupby("region_code")["quantity"].mean()
    for code, n in visits.groupby("region_code")["quantity"].sum().items():
        if code in per.index:
            vals[str(code)] = float(n) * float(per[code])
    for code, r in revenue.groupby("region_code")["quantity"].sum().items():
        vals.setdefault(str(code), float(r))
    rows = [{"region_code": c, "component": "tourism_spending", "ecosystem": "forest", "quantity": v, "unit": "CNY"}
            for c, v in vals.items()]
    return pd.DataFrame(rows, columns=COLUMNS)


def landscape_hedonic(tables: Mapping[str, pd.DataFrame], params: ParamSet, regions: RegionSet,
                      year: int, indicator: str) -> pd.DataFrame:
    """Landscape (amenity) value by the hedonic premium: beneficiary area × premium per m² [CNY].

    Items ``landscape.beneficiary_area`` [m2] (housing or land area benefiting from nearby
    ecosystems) and ``landscape.premium`` [CNY/m2, annual] per region. Returns the headline
    ``beneficiary_area`` [m2] and the value ``landscape_premium`` [CNY].
    """
    stats = tables.get("statistics")
    area = items_to_components(stats, regions, year, {"landscape.beneficiary_area": ("beneficiary_area", "urban", "m2")})
    prem = items_to_components(stats, regions, year, {"landscape.premium": ("p", "urban", "CNY/m2")})
    if area.empty:
        return pd.DataFrame(columns=COLUMNS)
    per = prem.groupby("region_code")["quantity"].mean()
    missing = sorted(set(area["region_code"]) - set(per.index))
    if missing:
        raise InputError(
            f"Landscape value: region(s) {missing[:5]} have a beneficiary area but no 'landscape.premium'",
            f"景观价值：地区 {missing[:5]} 有受益面积但缺少 'landscape.premium'（单位面积溢价）",
            file=str(stats.attrs.get("path", "statistics table")) if stats is not None else None, field="item",
            fix="Add 'landscape.premium' (CNY/m2 per year) for each region with a beneficiary area.",
            fix_zh="请为每个有受益面积的地区添加 'landscape.premium'（元/m2·年）。",
        )
    area = area.groupby(["region_code", "ecosystem"], as_index=False)["quantity"].sum()
    value = area.assign(component="landscape_premium", unit="CNY",
                        quantity=area["quantity"] * area["region_code"].map(per).to_numpy(float))
    return pd.concat([area.assign(component="beneficiary_area", unit="m2"), value], ignore_index=True)[COLUMNS]
