"""Plausibility bounds of prices (价格合理性检查), kept as data.

A price typed in the wrong unit turns GEP wrong by a power of ten and nothing else notices it:
``product_price.rice`` 2400 with the unit 元/kg (instead of 元/t) made agricultural products
× 1000 (GEP +726 % on the Jiangxi example), a reservoir construction cost in 元 written where the
table says 万元 made flood regulation and water conservation × 10 000.

The bounds table (default ``src/qingshan/data/tables/price_bounds.csv``) has columns
``price_key, unit, lower, upper, source``: ``price_key`` is a key of the price table or a pattern
(``product_price.*``); the exact key applies, else the longest matching pattern. The price, converted
from its own unit into the bound's ``unit`` (元/kg → 元/t ×1000), must lie within ``[lower, upper]``
(either may be empty); a price whose unit does not convert is left to the method that uses it. The
bounds are wide (about 10-30 × either side of the literature values of ``prices_default.csv``): they
catch the factors 1000 and 10 000 of unit mistakes, not a debatable price.

A price outside its bounds stops the run with an :class:`~qingshan.core.errors.InputError` naming
the price table, the row and the key. A price that is genuinely right is accepted by listing its
key in the run's ``[options] price_bounds_accept``; it is then reported as a QC notice.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from qingshan.core.errors import InputError, QingshanError
from qingshan.core.notices import Notice, notice
from qingshan.core.tables import parse_bounds, read_csv_table
from qingshan.core.units import conversion_factor
from qingshan.valuation.prices import PriceRow, PriceTable

__all__ = ["PriceBound", "PriceBounds", "check_price_bounds"]


@dataclass(frozen=True)
class PriceBound:
    """One row of the bounds table."""

    key: str
    unit: str
    lower: float | None
    upper: float | None
    source: str


@dataclass(frozen=True)
class PriceBounds:
    """The price bounds table; :meth:`matching` gives the row that applies to a key."""

    bounds: tuple[PriceBound, ...]
    path: str = "<memory>"

    @classmethod
    def default(cls) -> PriceBounds:
        """The bounds shipped with Qingshan."""
        return cls.from_csv(Path(str(resources.files("qingshan.data") / "tables" / "price_bounds.csv")))

    @classmethod
    def from_csv(cls, path: str | Path) -> PriceBounds:
        """Read ``price_key, unit, lower, upper, source``."""
        what_zh = "价格合理范围表"
        df = read_csv_table(path, ["price_key", "unit", "lower", "upper", "source"], what="price bounds table",
                            what_zh=what_zh)
        out = []
        for line, r in enumerate(df.to_dict("records"), start=2):
            lo, hi = parse_bounds(r, path=path, line=line, what_zh=what_zh)
            out.append(PriceBound(str(r["price_key"]).strip(), str(r["unit"]).strip(), lo, hi, str(r["source"])))
        return cls(tuple(out), str(path))

    def matching(self, key: str) -> PriceBound | None:
        """The row of ``key``, else the row of its longest matching pattern, else ``None``."""
        rows = [b for b in self.bounds if fnmatch.fnmatchcase(key, b.key)]
        exact = [b for b in rows if b.key == key]
        return exact[0] if exact else max(rows, key=lambda b: len(b.key)) if rows else None


def _finding(row: PriceRow, b: PriceBound, value: float) -> tuple[str, str] | None:
    """The message (en, zh) when ``row`` lies outside ``b``; ``value`` is the price in the bound's unit."""
    if b.upper is not None and value > b.upper:
        side, side_zh, limit = "above", "高于", b.upper
    elif b.lower is not None and value < b.lower:
        side, side_zh, limit = "below", "低于", b.lower
    else:
        return None
    en = (f"Row {row.line}: price {row.key} = {row.value:g} {row.unit} ({row.price_year}, region {row.region}) is "
          f"{value:.4g} {b.unit}, {side} the plausible {limit:g} {b.unit} ({b.source})")
    zh = (f"价格表第 {row.line} 行：{row.key} = {row.value:g} {row.unit}（{row.price_year} 年，区域 {row.region}），"
          f"折合 {value:.4g} {b.unit}，{side_zh}合理范围 {limit:g} {b.unit}")
    return en, zh


def check_price_bounds(prices: PriceTable, *, bounds: PriceBounds | None = None, accept: Iterable[str] = ()) -> None:
    """Compare every price of ``prices`` with its bound (see module docstring).

    Prices outside their bounds raise one :class:`InputError` naming the price table, the first
    rows and their keys; keys listed in ``accept`` become QC notices instead.
    """
    bounds = bounds or PriceBounds.default()
    accepted = {str(a).strip() for a in accept}
    errors: list[tuple[str, str]] = []
    for row in prices.rows:
        b = bounds.matching(row.key)
        if b is None:
            continue
        try:
            value = row.value * conversion_factor(row.unit, b.unit)
        except QingshanError:
            continue  # a unit of another kind (元/hm2 for a per-tonne key): the method says what it needs
        found = _finding(row, b, value)
        if found is None:
            continue
        if row.key in accepted:
            notice(Notice("price_bounds", found[0], found[1], file=prices.path, field="value"))
        else:
            errors.append(found)
    if errors:
        more = f" (and {len(errors) - 1} more row(s))" if len(errors) > 1 else ""
        raise InputError(
            errors[0][0] + more,
            errors[0][1] + (f"（另有 {len(errors) - 1} 行）" if len(errors) > 1 else ""),
            file=prices.path, field="value",
            fix="Check the price and its unit (元/t vs 元/kg, 元 vs 万元, 元/kWh vs 元/MWh). If it is genuinely right, "
                "list its key in [options] price_bounds_accept; it is then reported as a QC notice.",
            fix_zh="请检查价格及其单位（元/t 与 元/kg、元 与 万元、元/kWh 与 元/MWh）。若价格确实无误，请在 [options] "
                   "price_bounds_accept 中列出其价格键，该价格将作为质量控制提示保留。",
        )
