"""The value step shared by ``account`` and ``value``: physical rows → current and comparable values."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from qingshan.core.errors import UnitsError, UnknownIndicatorError
from qingshan.core.spec import ComponentSpec, IndicatorSpec
from qingshan.core.units import is_currency
from qingshan.indicators import registry
from qingshan.valuation.prices import Deflator, PriceTable, ResolvedPrice
from qingshan.valuation.value import unit_factors, value_in_cny

if TYPE_CHECKING:  # not imported at run time: revaluation needs no polygons (geopandas)
    from qingshan.aggregate.regions import RegionSet

__all__ = ["ROLL_UP_KEYS", "component_spec", "roll_up_valued", "value_rows"]


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
    out = rows.copy()
    if out.empty:
        return out.assign(category=[], price=[], price_unit=[], value=[], value_comparable=[]), []
    cats, keys = _categories_and_keys(out)
    q = out["quantity"].to_numpy(dtype=float)
    years = out["year"].to_numpy()
    value = np.full(len(out), np.nan)
    used: dict[tuple[str, int, str], dict[str, object]] = {}
    # one price lookup per distinct (key, year, region), one unit conversion per distinct unit pair: a
    # revaluation values ~30 000 rows in well under a second, with the numbers of a row-by-row loop
    codes, uniques = _factorize_rows(keys, years, out["region_code"])
    ancestry: dict[str, list[str]] = {}
    resolved: list[ResolvedPrice | None] = []
    for key, year, region in uniques:
        if key is None:
            resolved.append(None)
            continue
        code = str(region)
        if code not in ancestry:
            ancestry[code] = _ancestors(code, regions, ancestors_of)
        rp = prices.resolve(key, int(year), region, ancestry[code])
        resolved.append(rp)
        used[(key, int(year), rp.row.region)] = {
            "price_key": key, "year": int(year), "value": rp.value, "unit": rp.unit,
            "price_year": rp.row.price_year, "region": rp.row.region, "source": rp.row.source, "note": rp.note,
            "target_year": int(year), "factor": rp.factor,
        }
    units = out["unit"].to_numpy(dtype=object)
    price = np.array([np.nan if x is None else x.value for x in resolved], dtype=float)[codes]
    price_unit = np.array([None if x is None else x.unit for x in resolved], dtype=object)[codes]
    pairs = pd.Series(list(zip(units.tolist(), price_unit.tolist(), strict=True)), dtype=object)
    pcodes, puniques = pd.factorize(pairs)
    for j, (qu, pu) in enumerate(puniques):
        at = np.flatnonzero(pcodes == j)
        if pu is not None:
            cf, mag = _factors_or_raise(out, int(at[0]), keys, resolved[codes[at[0]]], prices.path)
            value[at] = q[at] * price[at] * cf * mag
        elif is_currency(str(qu)):  # a reported value in currency: the value itself (as value_in_cny(q, u, 1, "1"))
            cf, mag = unit_factors(str(qu), "1")
            value[at] = q[at] * 1.0 * cf * mag
    out["category"] = cats
    out["price"] = price
    out["price_unit"] = price_unit
    out["value"] = value
    out["value_comparable"] = _comparable_values(value, years, base_year, deflator)
    return out, list(used.values())


def _factorize_rows(*columns: Any) -> tuple[np.ndarray, list[tuple[Any, ...]]]:
    """Codes of the distinct rows of ``columns`` and those rows, in order of first appearance (vectorised)."""
    combined = np.zeros(len(columns[0]), dtype=np.int64)
    factors = []
    for col in columns:
        c, u = pd.factorize(pd.Series(col, dtype=object), use_na_sentinel=False)
        combined = combined * len(u) + c
        factors.append((c, u))
    codes, _ = pd.factorize(combined)
    firsts = np.unique(codes, return_index=True)[1]  # first row of each code, codes in order 0, 1, …
    columns_at_firsts = [[_none_for_nan(v) for v in np.asarray(u, dtype=object)[c[firsts]].tolist()] for c, u in factors]
    return codes, list(zip(*columns_at_firsts, strict=True))


def _none_for_nan(v: Any) -> Any:
    """``pd.factorize`` turns None into NaN: back to None (a row without a price key)."""
    return None if isinstance(v, float) and v != v else v


def _categories_and_keys(out: pd.DataFrame) -> tuple[np.ndarray, list[str | None]]:
    """Category and price key of every row (looked up once per distinct indicator and component)."""
    reg = registry()
    codes, pairs = _factorize_rows(out["indicator"], out["component"])
    cats, keys = [], []
    for j, (ind, comp_id) in enumerate(pairs):
        spec = reg.get(ind)
        try:
            comp = component_spec(spec, comp_id)
        except UnknownIndicatorError as exc:
            i = int(np.flatnonzero(codes == j)[0])
            exc.en = f"Region {out['region_code'].iat[i]}, {out['year'].iat[i]}: {exc.en}"
            raise
        cats.append(spec.category.value)
        keys.append(comp.price_key.replace("{item}", str(comp_id)) if comp.price_key is not None else None)
    return np.array(cats, dtype=object)[codes], list(np.array(keys, dtype=object)[codes])


def _factors_or_raise(out: pd.DataFrame, i: int, keys: list[str | None], rp: ResolvedPrice | None,
                      path: str) -> tuple[float, float]:
    """:func:`unit_factors` of row ``i``'s quantity and price units; a mismatch raises naming that row."""
    assert rp is not None
    try:
        return unit_factors(str(out["unit"].iat[i]), rp.unit)
    except UnitsError:
        _value(next(out.iloc[[i]].itertuples(index=False)), str(keys[i]), rp, path)  # raises the detailed error
        raise


def _comparable_values(value: np.ndarray, years: np.ndarray, base_year: int, deflator: Deflator | None) -> np.ndarray:
    """Values at base-year prices: the value in the base year, value × deflator ratio otherwise (NaN without one)."""
    out = value.copy()
    for year in np.unique(years):
        if int(year) == base_year:
            continue
        at = years == year
        out[at] = value[at] * deflator.ratio(int(year), base_year) if deflator is not None else np.nan
    return out


ROLL_UP_KEYS = ["year", "indicator", "category", "component", "ecosystem", "unit", "price_unit"]


def roll_up_valued(valued: pd.DataFrame, ancestors: Callable[[str], Sequence[str]]) -> pd.DataFrame:
    """Valued leaf rows plus every ancestor region's rows (sums of its leaves), with ``price = value / quantity``.

    The same operations, in the same order, as ``account``'s roll-up (``engine.run._roll_up_valued`` over
    ``aggregate.zonal.roll_up``), so sums are identical to the last bit (test
    ``test_roll_up_valued_equals_the_account_roll_up``), for callers that have the hierarchy but no polygons.
    """
    vals = ["quantity", "value", "value_comparable"]
    v = valued.copy()
    v["price_unit"] = v["price_unit"].fillna("")
    has_value = v["value"].notna()
    v[["value", "value_comparable"]] = v[["value", "value_comparable"]].astype(float)
    frames = [v]
    ancestor_map = {code: list(ancestors(code)) for code in v["region_code"].unique()}
    depth = max((len(a) for a in ancestor_map.values()), default=0)
    for d in range(depth):
        at_depth = {c: a[d] for c, a in ancestor_map.items() if len(a) > d}  # codes without one: NaN, dropped
        mapped = v.assign(region_code=v["region_code"].map(at_depth)).dropna(subset=["region_code"])
        if mapped.empty:
            continue
        frames.append(mapped.groupby(["region_code", *ROLL_UP_KEYS], as_index=False, sort=False)[vals].sum())
    rolled = pd.concat(frames, ignore_index=True)
    unvalued = set(v.loc[~has_value, "component"]) - set(v.loc[has_value, "component"])
    rolled.loc[rolled["component"].isin(unvalued), ["value", "value_comparable"]] = np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        rolled["price"] = np.where(rolled["quantity"] > 0, rolled["value"] / rolled["quantity"], np.nan)
    rolled["price_unit"] = rolled["price_unit"].replace("", None)
    return rolled.reset_index(drop=True)
