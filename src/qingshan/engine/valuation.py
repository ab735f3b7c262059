"""The value step shared by ``account`` and ``value``: physical rows → current and comparable values."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from qingshan.aggregate.regions import RegionSet
from qingshan.core.errors import UnitsError, UnknownIndicatorError
from qingshan.core.spec import ComponentSpec, IndicatorSpec
from qingshan.core.units import is_currency
from qingshan.indicators import registry
from qingshan.valuation.prices import Deflator, PriceTable, ResolvedPrice
from qingshan.valuation.value import value_in_cny

__all__ = ["component_spec", "value_rows"]


def component_spec(spec: IndicatorSpec, component: str) -> ComponentSpec:
    """The declared component, or the wildcard ``*`` component for open-ended products."""
    for c in spec.components:
        if c.id == component:
            return c
    for c in spec.components:
        if c.id == "*":
            return c
    raise UnknownIndicatorError(
        f"Indicator '{spec.id}' has no component '{component}'",
        f"指标 '{spec.id}'（{spec.name_zh}）没有组分 '{component}'",
        field="component",
        fix=f"Known components: {', '.join(c.id for c in spec.components)}.",
        fix_zh=f"已知组分：{', '.join(c.id for c in spec.components)}。",
    )


def _comparable(value: float | None, year: int, base_year: int, deflator: Deflator | None) -> float | None:
    """Value at base-year prices (None when it cannot be computed)."""
    if value is None:
        return None
    if year == base_year:
        return value
    return value * deflator.ratio(year, base_year) if deflator is not None else None


def _value(r: Any, key: str, rp: ResolvedPrice, path: str) -> float:
    """``value_in_cny`` of one row; a unit mismatch names the price table, its row and the quantity row."""
    try:
        return value_in_cny(float(r.quantity), r.unit, rp.value, rp.unit)
    except UnitsError as exc:
        where = f"row {rp.row.line} of {path}" if rp.row.line else path
        where_zh = f"{path} 第 {rp.row.line} 行" if rp.row.line else path
        exc.file, exc.field = path, "unit"
        exc.en = (f"Price '{key}' ({where}, {rp.row.value:g} {rp.unit}) cannot value {r.indicator}/{r.component} of region "
                  f"{r.region_code}, {r.year}, given in '{r.unit}'")
        exc.zh = (f"价格 '{key}'（{where_zh}，{rp.row.value:g} {rp.unit}）无法为区域 {r.region_code} {r.year} 年的 "
                  f"{r.indicator}/{r.component}（单位 '{r.unit}'）计价")
        exc.fix = (f"Give the price per {r.unit} in {where} (e.g. CNY/{r.unit}), or convert the quantity to the unit the "
                   f"price is quoted per.")
        exc.fix_zh = f"请在{where_zh}中给出每 {r.unit} 的价格（如 元/{r.unit}），或将实物量换算为价格所对应的单位。"
        raise

def _ancestors(code: str, regions: RegionSet | None, ancestors_of: Callable[[str], Sequence[str]] | None) -> list[str]:
    if regions is not None and code in regions:
        return regions.ancestors(code)
    return list(ancestors_of(code)) if ancestors_of is not None else []


def value_rows(
    rows: pd.DataFrame,
    *,
    prices: PriceTable,
    regions: RegionSet | None,
    base_year: int,
    deflator: Deflator | None,
    ancestors_of: Callable[[str], Sequence[str]] | None = None,
) -> tuple[pd.DataFrame, list[dict[str, object]]]:
    """Add ``category, price, price_unit, value, value_comparable`` to physical rows.

    ``rows`` has ``region_code, year, indicator, component, ecosystem, quantity, unit``. Returns the
    valued rows and the list of prices used (for provenance). A price is looked up for the region,
    then its ancestors in ``regions`` (or, without regions, those ``ancestors_of`` gives), then
    ``*``. Components valued as
    ``reported_value`` keep ``value`` empty (they are physical headlines, valued by other components).
    """
    reg = registry()
    out = rows.copy()
    used: dict[tuple[str, int, str], dict[str, object]] = {}
    cats: list[str] = []
    price_col: list[float | None] = []
    unit_col: list[str | None] = []
    val_col: list[float | None] = []
    cmp_col: list[float | None] = []
    specs: dict[tuple[str, str], tuple[IndicatorSpec, ComponentSpec]] = {}  # lookups memoised: one per distinct
    ancestry: dict[str, list[str]] = {}  # key, not per row (a revaluation values ~30 000 rows in < 1 s)
    resolved: dict[tuple[str, int, str], ResolvedPrice] = {}
    for r in out.itertuples(index=False):
        try:
            spec, comp = specs[(r.indicator, r.component)]
        except KeyError:
            spec = reg.get(r.indicator)
            try:
                comp = component_spec(spec, r.component)
            except UnknownIndicatorError as exc:
                exc.en = f"Region {r.region_code}, {r.year}: {exc.en}"
                raise
            specs[(r.indicator, r.component)] = (spec, comp)
        cats.append(spec.category.value)
        if comp.price_key is None:
            reported = value_in_cny(float(r.quantity), r.unit, 1.0, "1") if is_currency(r.unit) else None
            price_col.append(None)
            unit_col.append(None)
            val_col.append(reported)
            cmp_col.append(_comparable(reported, int(r.year), base_year, deflator))
            continue
        key = comp.price_key.replace("{item}", r.component)
        code = str(r.region_code)
        rp = resolved.get((key, int(r.year), code))
        if rp is None:
            if code not in ancestry:
                ancestry[code] = _ancestors(code, regions, ancestors_of)
            rp = resolved[(key, int(r.year), code)] = prices.resolve(key, int(r.year), r.region_code, ancestry[code])
        value = _value(r, key, rp, prices.path)
        comparable = _comparable(value, int(r.year), base_year, deflator)
        price_col.append(rp.value)
        unit_col.append(rp.unit)
        val_col.append(value)
        cmp_col.append(comparable)
        used[(key, int(r.year), rp.row.region)] = {
            "price_key": key, "year": int(r.year), "value": rp.value, "unit": rp.unit,
            "price_year": rp.row.price_year, "region": rp.row.region, "source": rp.row.source, "note": rp.note,
            "target_year": int(r.year), "factor": rp.factor,
        }
    out["category"] = cats
    out["price"] = price_col
    out["price_unit"] = unit_col
    out["value"] = val_col
    out["value_comparable"] = cmp_col
    return out, list(used.values())
