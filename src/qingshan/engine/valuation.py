"""The value step shared by ``account`` and ``value``: physical rows → current and comparable values."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd

from qingshan.aggregate.regions import RegionSet
from qingshan.core.errors import UnknownIndicatorError
from qingshan.core.spec import ComponentSpec, IndicatorSpec
from qingshan.core.units import is_currency
from qingshan.indicators import registry
from qingshan.valuation.prices import Deflator, PriceTable
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
    for r in out.itertuples(index=False):
        spec = reg.get(r.indicator)
        comp = component_spec(spec, r.component)
        cats.append(spec.category.value)
        if comp.price_key is None:
            reported = value_in_cny(float(r.quantity), r.unit, 1.0, "1") if is_currency(r.unit) else None
            price_col.append(None)
            unit_col.append(None)
            val_col.append(reported)
            cmp_col.append(_comparable(reported, int(r.year), base_year, deflator))
            continue
        key = comp.price_key.replace("{item}", r.component)
        ancestors = _ancestors(str(r.region_code), regions, ancestors_of)
        rp = prices.resolve(key, int(r.year), r.region_code, ancestors)
        value = value_in_cny(float(r.quantity), r.unit, rp.value, rp.unit)
        comparable = _comparable(value, int(r.year), base_year, deflator)
        price_col.append(rp.value)
        unit_col.append(rp.unit)
        val_col.append(value)
        cmp_col.append(comparable)
        used[(key, int(r.year), rp.row.region)] = {
            "price_key": key, "year": int(r.year), "value": rp.value, "unit": rp.unit,
            "price_year": rp.row.price_year, "region": rp.row.region, "source": rp.row.source, "note": rp.note,
        }
    out["category"] = cats
    out["price"] = price_col
    out["price_unit"] = unit_col
    out["value"] = val_col
    out["value_comparable"] = cmp_col
    return out, list(used.values())
