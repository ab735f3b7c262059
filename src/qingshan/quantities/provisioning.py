"""Provisioning (物质产品) from statistics: product outputs per region.

Tables
------
statistics : long rows ``region_code, year, item, value, unit, source`` (统计报表).
products : ``item, name_zh, name_en, indicator, ecosystem, unit`` — which indicator each product
    belongs to (agricultural_products, forestry_products …), the ecosystem that supplies it, and
    the unit its price is quoted per.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from qingshan.aggregate.regions import RegionSet
from qingshan.core.errors import InputError, RegionError
from qingshan.core.params import ECOSYSTEMS, ParamSet
from qingshan.quantities.statistics import statistics_path, statistics_unit_factor

__all__ = ["CONVENTIONS", "SECTOR_OF", "output_value_from_statistics", "products_from_statistics"]


def products_from_statistics(
    tables: Mapping[str, pd.DataFrame],
    params: ParamSet,
    regions: RegionSet,
    year: int,
    indicator: str,
) -> pd.DataFrame:
    """Output of each product of ``indicator`` per region, in the product's unit.

    Returns long rows ``region_code, component, ecosystem, quantity, unit`` where ``component``
    is the product item. Rows of one item must all be at one administrative level; the engine
    sums them up to every ancestor.
    """
    stats, products = tables["statistics"], tables["products"]
    mine = products[products["indicator"] == indicator]
    if mine.empty:
        return pd.DataFrame(columns=["region_code", "component", "ecosystem", "quantity", "unit"])
    rows = stats[(stats["year"].astype(int) == year) & stats["item"].isin(mine["item"])]
    out = []
    for r in rows.itertuples(index=False):
        code = str(r.region_code)
        if code not in regions:
            raise RegionError(
                f"Statistics row for '{r.item}' names unknown region code {code}",
                f"统计数据中 '{r.item}' 的行政区划代码 {code} 未知",
                file=statistics_path(stats),
                field="region_code",
                fix="Use codes present in the boundary file (GB/T 2260).",
                fix_zh="请使用边界文件中存在的行政区划代码（GB/T 2260）。",
            )
        prod = mine[mine["item"] == r.item].iloc[0]
        eco = str(prod["ecosystem"])
        if eco not in ECOSYSTEMS:
            raise InputError(
                f"Product '{r.item}' has unknown ecosystem '{eco}'",
                f"产品 '{r.item}' 的生态系统类型 '{eco}' 未知",
                field="ecosystem",
                fix=f"Use one of {', '.join(ECOSYSTEMS)}.",
                fix_zh=f"可用类型：{', '.join(ECOSYSTEMS)}。",
            )
        unit = str(prod["unit"])
        qty = float(r.value) * statistics_unit_factor(stats, r, unit)
        out.append({"region_code": code, "component": str(r.item), "ecosystem": eco, "quantity": qty, "unit": unit})
    frame = pd.DataFrame(out, columns=["region_code", "component", "ecosystem", "quantity", "unit"])
    _check_single_level(frame, regions)
    return frame


def _check_single_level(frame: pd.DataFrame, regions: RegionSet) -> None:
    for item, grp in frame.groupby("component"):
        levels = {regions.get(c).level for c in grp["region_code"]}
        if len(levels) > 1:
            raise InputError(
                f"Statistics for '{item}' mix administrative levels {sorted(levels)}",
                f"'{item}' 的统计数据混合了多个行政级别 {sorted(levels)}",
                field="region_code",
                fix="Give each item at one level only (e.g. all counties); higher levels are summed automatically.",
                fix_zh="每个统计项只在一个级别填报（例如全部县），上级自动汇总。",
            )


SECTOR_OF = {
    "agricultural_products": ("agriculture", "cropland"),
    "forestry_products": ("forestry", "forest"),
    "livestock_products": ("livestock", "grassland"),
    "fishery_products": ("fishery", "wetland"),
}
"""Indicator → (statistics sector, ecosystem credited)."""

CONVENTIONS = {"gross_output": "output_value", "value_added": "value_added"}
"""Option ``provisioning_convention`` → statistics item prefix (总产值 / 增加值)."""


def output_value_from_statistics(
    tables: Mapping[str, pd.DataFrame],
    params: ParamSet,
    regions: RegionSet,
    year: int,
    indicator: str,
) -> pd.DataFrame:
    """Reported output value of a sector per region [CNY] (统计 农林牧渔 总产值 or 增加值).

    Option ``provisioning_convention``: ``"gross_output"`` (default) reads items
    ``output_value.<sector>`` (总产值), ``"value_added"`` reads ``value_added.<sector>``
    (增加值 / 净产值, Garzê used 2010 农林牧渔净产值). Any currency unit (亿元, 万元, 元).
    Component ``output_value``, valued as reported.
    """
    from qingshan.quantities.statistics import items_to_components

    convention = str(params.option("provisioning_convention", "gross_output"))
    if convention not in CONVENTIONS:
        raise InputError(
            f"Option provisioning_convention must be one of {', '.join(CONVENTIONS)}, got '{convention}'",
            f"选项 provisioning_convention 应为 {', '.join(CONVENTIONS)} 之一，实际为 '{convention}'",
            field="provisioning_convention",
            fix="Use gross_output (总产值) or value_added (增加值).",
            fix_zh="请使用 gross_output（总产值）或 value_added（增加值）。",
        )
    sector, eco = SECTOR_OF[indicator]
    item = f"{CONVENTIONS[convention]}.{sector}"
    frame = items_to_components(tables.get("statistics"), regions, year, {item: ("output_value", eco, "CNY")})
    _check_single_level(frame, regions)
    return frame
