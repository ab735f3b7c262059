"""Prices (定价) with their year, region and source; deflators for comparable prices.

Price table columns: ``price_key, value, unit, price_year, region, source``. ``region`` is a
GB/T 2260 code or ``*`` (any region). A lookup for (key, accounting year, region) takes the row
of the region itself, else of its nearest ancestor, else ``*`` — this hierarchy is explicit and
recorded with every value. Among those rows, the one whose ``price_year`` equals the accounting
year is used; otherwise, under the ``deflate`` policy, the latest earlier price year — or, when
every price year is later, the earliest later one — is carried to the accounting year with the
deflator series, ``price × index[accounting year] / index[price year]`` (price year, target year
and factor are recorded); under the ``exact`` policy a missing year is an error. There is never a
silent zero.

Deflator table columns: ``year, index, source`` (any base; only ratios are used).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal, NoReturn

from qingshan.core.errors import InputError, MissingPriceError
from qingshan.core.tables import parse_float, read_csv_table
from qingshan.core.units import is_price_unit

__all__ = ["Deflator", "PriceRow", "PriceTable", "ResolvedPrice"]

YearPolicy = Literal["exact", "deflate"]

MAX_ANNUAL_INDEX_FACTOR = 1.5
"""Largest plausible change of a price index from one year to the next (× or ÷; n years apart: its n-th power).

China's CPI rose at most 24.1 % in a year since 1978 (1994, NBS 中国统计年鉴), the GDP deflator about as much;
a series with one year written on base 1 (or 1 = 上年) among years on base 100 jumps by × 100, which
otherwise moved every deflated price silently (GEP −86 % on the Jiangxi example)."""


@dataclass(frozen=True)
class PriceRow:
    """One price: ``value`` [unit] at the price level of ``price_year`` in ``region``."""

    key: str
    value: float
    unit: str
    price_year: int
    region: str
    source: str
    line: int = 0  # CSV line in the price table (header = 1); 0 when not read from a file


@dataclass(frozen=True)
class ResolvedPrice:
    """A price ready to use in an accounting year, with how it was obtained."""

    key: str
    value: float  # at the accounting year's price level, in ``unit``
    unit: str
    row: PriceRow
    factor: float  # deflator ratio applied (1.0 if none)
    note: str


@dataclass(frozen=True)
class Deflator:
    """Price-index series by year (e.g. CPI or GDP deflator)."""

    index: dict[int, float]
    source: str
    path: str = "<memory>"

    @classmethod
    def from_csv(cls, path: str | Path) -> Deflator:
        """Read ``year, index, source``."""
        df = read_csv_table(path, ["year", "index", "source"], what="deflator table", what_zh="价格指数表")
        idx = {}
        for i, r in enumerate(df.itertuples(index=False), start=2):
            idx[int(parse_float(r.year, path=path, field="year", row=i, what_zh="价格指数表"))] = parse_float(
                r.index, path=path, field="index", row=i, what_zh="价格指数表"
            )
        _check_index_steps(idx, path)
        return cls(index=idx, source="; ".join(sorted(set(df["source"]))), path=str(path))

    def ratio(self, from_year: int, to_year: int) -> float:
        """Factor that moves a value at ``from_year`` prices to ``to_year`` prices."""
        for y in (from_year, to_year):
            if y not in self.index:
                raise MissingPriceError(
                    f"The deflator series has no index for {y}",
                    f"价格指数表缺少 {y} 年的指数",
                    file=self.path,
                    field="year",
                    fix=f"Add a row '{y},<index>,<source>' to the deflator table (years present: {min(self.index)}–{max(self.index)}).",
                    fix_zh=f"请在价格指数表中添加 '{y},<指数>,<来源>' 一行。",
                )
        return self.index[to_year] / self.index[from_year]


def _check_index_steps(idx: dict[int, float], path: str | Path) -> None:
    """Refuse a non-positive index or a step between consecutive years of the series beyond
    :data:`MAX_ANNUAL_INDEX_FACTOR` (a year on another base: 1 instead of 100, or 上年 = 100)."""
    years = sorted(idx)
    for y in years:
        if idx[y] <= 0:
            raise InputError(
                f"The deflator index of {y} is {idx[y]:g}: an index must be positive",
                f"价格指数表 {y} 年的指数为 {idx[y]:g}：指数必须为正数",
                file=path, field="index",
                fix="Give every year's index on one base year (e.g. 2005 = 100).",
                fix_zh="请将各年指数统一到同一基期（例如 2005 年 = 100）。",
            )
    for a, b in itertools.pairwise(years):
        step, limit = idx[b] / idx[a], MAX_ANNUAL_INDEX_FACTOR ** (b - a)
        if not 1 / limit <= step <= limit:
            raise InputError(
                f"The deflator index moves from {idx[a]:g} ({a}) to {idx[b]:g} ({b}), × {step:.4g}: more than a price index "
                f"changes in {b - a} year(s) (at most × {limit:g} or ÷ {limit:g}); the two years look written on different bases",
                f"价格指数表从 {a} 年的 {idx[a]:g} 变为 {b} 年的 {idx[b]:g}（× {step:.4g}），超出价格指数 {b - a} 年内的合理变化"
                f"（至多 × {limit:g} 或 ÷ {limit:g}）：两年的指数似乎采用了不同基期",
                file=path, field="index",
                fix=f"Write every year on the same base (e.g. 2005 = 100, not 1 and not 上年 = 100); check the rows of {a} and {b}.",
                fix_zh=f"请将各年指数统一到同一基期（例如 2005 年 = 100，不要写成 1 或上年 = 100）；请检查 {a} 年和 {b} 年两行。",
            )


@dataclass(frozen=True)
class PriceTable:
    """All price rows, with the deflator used to carry prices across years."""

    rows: tuple[PriceRow, ...]
    deflator: Deflator | None = None
    policy: YearPolicy = "deflate"
    path: str = "<memory>"

    @classmethod
    def from_csv(cls, path: str | Path, *, deflator: Deflator | None = None, policy: YearPolicy = "deflate") -> PriceTable:
        """Read a price table; a unit that is not currency per something is an error."""
        df = read_csv_table(
            path, ["price_key", "value", "unit", "price_year", "region", "source"], what="price table", what_zh="价格表"
        )
        rows = []
        seen: set[tuple[str, int, str]] = set()
        for i, r in enumerate(df.itertuples(index=False), start=2):
            key = str(r.price_key).strip()
            if not key:
                continue
            unit = str(r.unit).strip()
            if not is_price_unit(unit):
                raise InputError(
                    f"Row {i}: price unit '{unit}' of '{key}' is not a currency per unit",
                    f"价格表第 {i} 行 '{key}' 的单位 '{unit}' 不是货币单位",
                    file=path,
                    field="unit",
                    fix="Write prices as currency per physical unit, e.g. 'CNY/m3', '元/t', 'CNY/kWh'.",
                    fix_zh="价格单位应为货币/实物单位，例如 '元/m3'、'元/t'、'元/kWh'。",
                )
            year = int(parse_float(r.price_year, path=path, field="price_year", row=i, what_zh="价格表"))
            region = str(r.region).strip() or "*"
            if (key, year, region) in seen:
                raise InputError(
                    f"Row {i}: duplicate price '{key}' for {year}, region {region}",
                    f"价格表第 {i} 行：'{key}' 在 {year} 年、区域 {region} 重复",
                    file=path,
                    field="price_key",
                    fix="Keep one row per key, price year and region.",
                    fix_zh="每个价格键、年份和区域只保留一行。",
                )
            seen.add((key, year, region))
            rows.append(
                PriceRow(key, parse_float(r.value, path=path, field="value", row=i, what_zh="价格表"), unit, year, region, str(r.source), i)
            )
        return cls(rows=tuple(rows), deflator=deflator, policy=policy, path=str(path))

    def keys(self) -> set[str]:
        """All price keys present."""
        return {r.key for r in self.rows}

    @cached_property
    def _by_key_region(self) -> dict[tuple[str, str], list[PriceRow]]:
        """Rows by (key, region), in table order (built once: lookups are per result row)."""
        out: dict[tuple[str, str], list[PriceRow]] = {}
        for r in self.rows:
            out.setdefault((r.key, r.region), []).append(r)
        return out

    @cached_property
    def _picked(self) -> dict[tuple[str, int, str], ResolvedPrice]:
        """:meth:`_pick_year` answers by (key, year, scope): regions that fall back to one scope share them."""
        return {}

    def resolve(self, key: str, year: int, region: str, ancestors: Sequence[str] = ()) -> ResolvedPrice:
        """The price of ``key`` for accounting ``year`` in ``region`` (see module docstring)."""
        for scope in (region, *ancestors, "*"):
            cands = self._by_key_region.get((key, scope))
            if cands:
                picked = self._picked.get((key, year, scope))
                if picked is None:
                    picked = self._picked[(key, year, scope)] = self._pick_year(key, year, cands)
                return picked
        raise MissingPriceError(
            f"No price '{key}' for region {region} (or its parents, or '*')",
            f"价格表中没有 '{key}' 适用于区域 {region}（或其上级、或 '*'）的价格",
            file=self.path,
            field=key,
            fix=f"Add a row '{key},<value>,<unit>,{year},*,<source>' to the price table.",
            fix_zh=f"请在价格表中添加一行 '{key},<价格>,<单位>,{year},*,<来源>'。",
        )

    def _pick_year(self, key: str, year: int, cands: list[PriceRow]) -> ResolvedPrice:
        """The row of ``year``; else, under ``deflate``, the latest earlier or the earliest later row, deflated."""
        exact = [r for r in cands if r.price_year == year]
        if exact:
            r = exact[0]
            return ResolvedPrice(key, r.value, r.unit, r, 1.0, f"{r.price_year} price")
        earlier = sorted((r for r in cands if r.price_year < year), key=lambda r: r.price_year)
        later = sorted((r for r in cands if r.price_year > year), key=lambda r: r.price_year)
        years = sorted(r.price_year for r in cands)
        if self.policy == "exact" or self.deflator is None:
            self._no_year(key, year, years)
        r = earlier[-1] if earlier else later[0]
        missing = [y for y in (r.price_year, year) if y not in self.deflator.index]
        if missing:
            raise MissingPriceError(
                f"Price '{key}' of {r.price_year} cannot be carried to {year}: the deflator series has no index for "
                f"{', '.join(map(str, missing))}",
                f"价格 '{key}' 无法由 {r.price_year} 年换算到 {year} 年：价格指数表缺少 {'、'.join(map(str, missing))} 年的指数",
                file=self.deflator.path,
                field="year",
                fix=f"Add rows '<year>,<index>,<source>' for {', '.join(map(str, missing))} to the deflator table "
                f"{self.deflator.path}, or add a {year} row for '{key}' to the price table {self.path}.",
                fix_zh=f"请在价格指数表 {self.deflator.path} 中添加 {'、'.join(map(str, missing))} 年的指数行，"
                f"或在价格表 {self.path} 中添加 '{key}' 的 {year} 年价格。",
            )
        f = self.deflator.ratio(r.price_year, year)
        direction = "carried forward" if r.price_year < year else "deflated back"
        return ResolvedPrice(key, r.value * f, r.unit, r, f, f"{r.price_year} price × deflator {f:.4f} → {year} ({direction})")

    def _no_year(self, key: str, year: int, years: list[int]) -> NoReturn:
        """Raise: no row of ``year`` and the policy or a missing deflator forbids using another year."""
        if self.policy == "exact":
            why, why_zh = "the year policy is 'exact'", "价格年份策略为 'exact'"
            fix = f"Add a {year} row for '{key}', or set [prices] year_policy = 'deflate' with a deflator table covering {years[0]}–{year}."
            fix_zh = f"请为 '{key}' 添加 {year} 年价格，或设置 [prices] year_policy = 'deflate' 并提供价格指数表。"
        else:
            why, why_zh = "no deflator series is configured", "未配置价格指数表"
            fix = f"Add a {year} row for '{key}', or set [tables] deflator = 'deflator.csv' (columns year,index,source) covering {min(years[0], year)}–{max(years[-1], year)}."
            fix_zh = f"请为 '{key}' 添加 {year} 年价格，或在 [tables] 中设置 deflator（列：year,index,source）。"
        raise MissingPriceError(
            f"No price '{key}' for {year} ({why}; price years present: {years})",
            f"价格 '{key}' 缺少 {year} 年的数值（{why_zh}；现有年份：{years}）",
            file=self.path,
            field=key,
            fix=fix,
            fix_zh=fix_zh,
        )
