"""Plausibility bounds of statistics rows (统计数据合理性检查), kept as data.

The bounds table (default ``src/qingshan/data/tables/statistics_bounds.csv``) has columns
``item, unit, basis, lower, upper, severity, source``:

- ``item``: a statistics item or a pattern (``emissions.*``, ``*``); for each basis the most specific
  row applies (the exact item, else the longest matching pattern), so ``value_added.*`` with no bounds
  exempts value added from the ``*`` sign rule.
- ``basis``: what is compared — ``absolute`` (the value in ``unit``; an empty unit compares the value
  as written, for sign rules), ``per_km2`` (the value in ``unit`` per km² of the region's area, from the
  boundary file), ``per_capita`` (per person, when a ``population`` row exists for the region and year).
  A yield per hectare of cropland is bounded through ``per_km2``: cropland is at most the region's
  area, so output per km² of region cannot exceed the highest plausible output per km² of cropland.
  ``per_hm2_<ecosystem>`` (e.g. ``per_hm2_cropland``) compares with the area of that ecosystem type in
  the region, from the land-cover raster and table, during the computation of each year (numpy
  engine); a region without such area is not judged. Land-cover areas are estimates (class accuracy,
  cell size), so these rows are best ``warning``.
- ``lower``, ``upper``: bounds of that ratio (either may be empty). A lower bound above 0 does not
  judge a value of 0 (none of the item in the region, e.g. no rice in an urban district): it is there
  to catch a value divided by a unit mistake (万t written under the unit t is 10 000 × too small).
- ``severity``: ``error`` (the run stops) or ``warning`` (a QC notice). An error for a value that is
  genuinely right is turned into a notice by listing ``"REGION:ITEM"`` (or ``"ITEM"`` for every region)
  in the run's ``[options] statistics_bounds_accept``.

Values are ``[R]`` (to verify for the region) unless the source says ``definition``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from qingshan.aggregate.regions import RegionSet
from qingshan.core.errors import InputError, QingshanError
from qingshan.core.notices import Notice, notice
from qingshan.core.params import ECOSYSTEM_ZH, ECOSYSTEMS
from qingshan.core.tables import parse_bounds, read_csv_table
from qingshan.core.units import conversion_factor

__all__ = ["BASES", "Bound", "BoundFinding", "StatisticsBounds", "bound_findings", "check_statistics_bounds"]

BASES = ("absolute", "per_km2", "per_capita", *(f"per_hm2_{e}" for e in ECOSYSTEMS))
BASIS_TEXT = {"absolute": ("", ""), "per_km2": (" per km² of region", "/km²（按行政区面积）"), "per_capita": (" per person", "/人"),
              **{f"per_hm2_{e}": (f" per hm² of {e} (land cover)", f"/hm²{ECOSYSTEM_ZH[e]}（按土地覆被）") for e in ECOSYSTEMS}}
_PERSONS = {"": 1.0, "1": 1.0, "person": 1.0, "persons": 1.0, "人": 1.0, "万人": 1e4, "10k persons": 1e4}
"""Population units (not in the unit registry: a head count is not a physical quantity)."""


@dataclass(frozen=True)
class Bound:
    """One row of the bounds table (``line``: its CSV line, for messages)."""

    item: str
    unit: str
    basis: str
    lower: float | None
    upper: float | None
    severity: str
    source: str
    line: int


@dataclass(frozen=True)
class StatisticsBounds:
    """The bounds table; :meth:`matching` gives the rows that apply to an item."""

    bounds: tuple[Bound, ...]
    path: str = "<memory>"

    @classmethod
    def default(cls) -> StatisticsBounds:
        """The bounds shipped with Qingshan."""
        return cls.from_csv(Path(str(resources.files("qingshan.data") / "tables" / "statistics_bounds.csv")))

    @classmethod
    def from_csv(cls, path: str | Path) -> StatisticsBounds:
        """Read ``item, unit, basis, lower, upper, severity, source``."""
        what_zh = "统计数据合理范围表"
        df = read_csv_table(path, ["item", "unit", "basis", "lower", "upper", "severity", "source"],
                            what="statistics bounds table", what_zh=what_zh)
        out = []
        for line, r in enumerate(df.to_dict("records"), start=2):
            basis, severity = str(r["basis"]).strip(), str(r["severity"]).strip()
            if basis not in BASES or severity not in ("error", "warning"):
                field = "basis" if basis not in BASES else "severity"
                raise InputError(
                    f"Row {line}: {field} '{r[field]}' is not one of "
                    f"{'absolute, per_km2, per_capita, per_hm2_<ecosystem>' if field == 'basis' else 'error, warning'}",
                    f"{what_zh}第 {line} 行：{field} '{r[field]}' 无效",
                    file=path, field=field,
                    fix="basis: absolute, per_km2, per_capita or per_hm2_<ecosystem>; severity: error or warning.",
                    fix_zh="basis 取 absolute、per_km2、per_capita 或 per_hm2_<生态系统类型>；severity 取 error 或 warning。",
                )
            lo, hi = parse_bounds(r, path=path, line=line, what_zh=what_zh)
            out.append(Bound(str(r["item"]).strip(), str(r["unit"]).strip(), basis, lo, hi, severity, str(r["source"]), line))
        return cls(tuple(out), str(path))

    def matching(self, item: str) -> list[Bound]:
        """For each basis, the exact row of ``item``, else the row of its longest matching pattern."""
        out = []
        for basis in BASES:
            rows = [b for b in self.bounds if b.basis == basis and fnmatch.fnmatchcase(item, b.item)]
            exact = [b for b in rows if b.item == item]
            if exact or rows:
                out.append(exact[0] if exact else max(rows, key=lambda b: len(b.item)))
        return out


@dataclass(frozen=True)
class BoundFinding:
    """One statistics row outside one bound: the row's index label (``line``), the row, the bound, and
    the message in both languages."""

    line: Any
    row: Mapping[str, Any]
    bound: Bound
    en: str
    zh: str


def bound_findings(stats: pd.DataFrame | None, regions: RegionSet, *, bounds: StatisticsBounds | None = None,
                   leaf_ecosystem_hm2: Mapping[str, Mapping[str, float]] | None = None,
                   year: int | None = None) -> Iterator[BoundFinding]:
    """Every (row, bound) pair of ``stats`` outside the bound, whatever its severity (see
    :func:`check_statistics_bounds`, which decides what stops a run; the review page lists them all)."""
    if stats is None or stats.empty:
        return
    bounds = bounds or StatisticsBounds.default()
    by_landcover = leaf_ecosystem_hm2 is not None
    areas = regions.areas_km2() if not by_landcover else {}
    eco_areas = _roll_up_ecosystem_areas(leaf_ecosystem_hm2, regions) if leaf_ecosystem_hm2 is not None else {}
    people = _population(stats)
    for line, r in zip(stats.index, stats.to_dict("records"), strict=True):
        code, item, row_year = str(r["region_code"]), str(r["item"]), int(r["year"])
        if code not in regions or (by_landcover and row_year != year):
            continue
        for b in bounds.matching(item):
            if b.basis.startswith("per_hm2_") != by_landcover:
                continue
            denominator = (eco_areas.get(code, {}).get(b.basis.removeprefix("per_hm2_")) if by_landcover
                           else areas.get(code) if b.basis == "per_km2" else people.get((code, row_year)))
            ratio = _ratio(b, float(r["value"]), str(r["unit"]), denominator)
            if ratio is None or not _outside(ratio, b):
                continue
            en, zh = _finding(line, r, regions.get(code).name, b, ratio)
            yield BoundFinding(line, r, b, en, zh)


def check_statistics_bounds(stats: pd.DataFrame | None, regions: RegionSet, *, bounds: StatisticsBounds | None = None,
                            accept: Iterable[str] = (), leaf_ecosystem_hm2: Mapping[str, Mapping[str, float]] | None = None,
                            year: int | None = None) -> None:
    """Compare every statistics row with its bounds (see module docstring).

    Out-of-bound values of ``error`` rows raise one :class:`InputError` naming the file, the first
    rows, their regions and items; ``warning`` rows and accepted ``error`` rows become notices.
    ``stats`` is a table from :func:`qingshan.quantities.statistics.check_statistics_rows` (index =
    CSV line). Rows of regions not in ``regions`` are left to the methods that use them.

    Without ``leaf_ecosystem_hm2`` the ``absolute``, ``per_km2`` and ``per_capita`` bounds are checked;
    with it (leaf code → ecosystem → area [hm²] from the land cover of ``year``) only the
    ``per_hm2_<ecosystem>`` bounds of the rows of ``year``.
    """
    accepted = {str(a).strip() for a in accept}
    path = str(stats.attrs.get("path", "statistics table")) if stats is not None else "statistics table"
    errors: list[tuple[str, str]] = []
    for f in bound_findings(stats, regions, bounds=bounds, leaf_ecosystem_hm2=leaf_ecosystem_hm2, year=year):
        code, item = str(f.row["region_code"]), str(f.row["item"])
        if f.bound.severity == "warning" or code + ":" + item in accepted or item in accepted:
            notice(Notice("statistics_bounds", f.en, f.zh, file=path, field="value", region=code,
                          year=int(f.row["year"])))
        else:
            errors.append((f.en, f.zh))
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more row(s))" if len(errors) > 1 else ""
        raise InputError(
            first[0] + more,
            first[1] + (f"（另有 {len(errors) - 1} 行）" if len(errors) > 1 else ""),
            file=path, field="value",
            fix="Check the value and its unit (t vs 万t, kg vs t, m3 vs 万m3). If it is genuinely right, list it as "
            "\"REGION:ITEM\" in [options] statistics_bounds_accept; it is then reported as a QC notice.",
            fix_zh="请检查数值及其单位（t 与 万t、kg 与 t、m3 与 万m3）。若数值确实无误，请在 [options] "
            "statistics_bounds_accept 中列出 \"行政区代码:统计项\"，该值将作为质量控制提示保留。",
        )


def _population(stats: pd.DataFrame) -> dict[tuple[str, int], float]:
    """Persons by (region, year) from ``population`` rows whose unit is a head count."""
    pop = stats[stats["item"] == "population"]
    out = {}
    for r in pop.to_dict("records"):
        factor = _PERSONS.get(str(r["unit"]).strip())
        if factor is not None and float(r["value"]) > 0:
            out[(str(r["region_code"]), int(r["year"]))] = float(r["value"]) * factor
    return out


def _in_unit(value: float, unit: str, target: str) -> float | None:
    if target == "":
        return value
    if target in _PERSONS:
        f = _PERSONS.get(unit.strip())
        return None if f is None else value * f / _PERSONS[target]
    try:
        return value * conversion_factor(unit, target)
    except QingshanError:
        return None  # a unit the item's method will reject with its own message


def _ratio(b: Bound, value: float, unit: str, denominator: float | None) -> float | None:
    v = _in_unit(value, unit, b.unit)
    if v is None or b.basis == "absolute":
        return v
    return None if not denominator else v / denominator


def _roll_up_ecosystem_areas(leaf: Mapping[str, Mapping[str, float]], regions: RegionSet) -> dict[str, dict[str, float]]:
    """Leaf ecosystem areas summed to every ancestor."""
    out: dict[str, dict[str, float]] = {}
    for code, by_eco in leaf.items():
        for c in (code, *regions.ancestors(code)):
            acc = out.setdefault(c, {})
            for eco, a in by_eco.items():
                acc[eco] = acc.get(eco, 0.0) + float(a)
    return out


def _outside(ratio: float, b: Bound) -> bool:
    """Whether ``ratio`` lies outside ``b``; a ratio of 0 is never below a positive lower bound (a true zero)."""
    return (b.lower is not None and ratio < b.lower and not (ratio == 0 and b.lower > 0)) or (b.upper is not None and ratio > b.upper)


def _finding(line: int, r: dict[str, object], name: str, b: Bound, ratio: float) -> tuple[str, str]:
    per_en, per_zh = BASIS_TEXT[b.basis]
    side, side_zh, limit = ("above", "高于", b.upper) if b.upper is not None and ratio > b.upper else ("below", "低于", b.lower)
    unit = f" {b.unit}" if b.unit else ""
    en = (f"Row {line}: {r['item']} = {r['value']:g} {r['unit']} for region {r['region_code']} ({name}), {r['year']}: "
          f"{ratio:.4g}{unit}{per_en} is {side} the plausible {limit:g} ({b.source})")
    zh = (f"统计数据表第 {line} 行：{r['region_code']}（{name}）{r['year']} 年 {r['item']} = {r['value']:g} {r['unit']}，"
          f"折合 {ratio:.4g}{unit}{per_zh}，{side_zh}合理范围 {limit:g}")
    return en, zh
