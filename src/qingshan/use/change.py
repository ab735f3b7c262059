"""Change analysis between two years of a run, or between two runs of the same regions (GEP 变化分析).

Inputs are result cubes (the columns of :data:`qingshan.store.repo.RESULT_COLUMNS`) with every level
of the region hierarchy already present, as a run stores them. Outputs:

* :func:`change_table`: value at current and at comparable prices in each year, the change and the
  growth rate, per region × indicator, with class subtotals and GEP;
* :func:`decompose`: the change of value split into a **quantity effect** and a **price effect** —
  and, where ecosystem extents are given, the quantity effect further into an **extent effect**
  (area of the ecosystem type) and an **intensity effect** (quantity per unit area) — by the
  additive logarithmic mean Divisia index (LMDI-I; Ang 2004, *Energy Policy* 32:1131; Ang 2015,
  *Energy Policy* 86:233). For one cube cell (region × indicator × component × ecosystem) with
  value V = q·p (or A·(q/A)·p)::

      ΔV = L(V1, V0)·ln(q1/q0) + L(V1, V0)·ln(p1/p0),   L(a, b) = (a − b) / (ln a − ln b), L(a, a) = a

  which adds up to ΔV exactly (the logarithms of the factors sum to ln(V1/V0)). Cells whose value
  appears or disappears (V0 = 0 or V1 = 0, where logarithms do not exist) put their whole change in
  the quantity effect (in the extent effect when the ecosystem's area appears or disappears). Effects
  are computed on the leaf regions and summed up the hierarchy, so they add up at every level too.
* :func:`region_indicators`: GEP/GDP, GEP per capita and per km², and their change, and the
  "两个较快增长" check (GEP and GDP both growing, at comparable prices, by at least a threshold).

Comparable-price change needs both cubes at the same base year; the caller passes the base years and
a mismatch is refused, since values at different price bases cannot be compared.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from qingshan.core.errors import InputError

__all__ = ["ChangeSide", "change_table", "decompose", "lmdi_weight", "region_indicators"]

CELL = ["region_code", "indicator", "component", "ecosystem"]
EFFECTS = ["quantity_effect", "price_effect", "extent_effect", "intensity_effect"]


@dataclass(frozen=True)
class ChangeSide:
    """One side of a comparison: a run's result rows of one year, and what they are."""

    results: pd.DataFrame
    year: int
    run_id: str
    base_year: int | None = None

    def rows(self) -> pd.DataFrame:
        """The rows of :attr:`year`."""
        return self.results[self.results["year"] == self.year]

    @property
    def label(self) -> str:
        return f"{self.run_id[:8]}/{self.year}"


def _check_comparable(a: ChangeSide, b: ChangeSide) -> None:
    if a.base_year != b.base_year:
        raise InputError(
            f"Runs {a.label} and {b.label} are valued at different price bases ({a.base_year} vs {b.base_year}): "
            "their comparable values cannot be compared",
            f"两次核算的可比价基年不同（{a.base_year} 与 {b.base_year}），可比价值量不能直接比较",
            field="base_year",
            fix="Revalue one run at the other's base year, or compare at current prices only.",
            fix_zh="请将其中一次核算按另一次的基年重新计价，或仅比较当年价。",
        )


def _growth(v0: pd.Series, v1: pd.Series) -> pd.Series:
    """Growth rate [%]; undefined (NaN) where the first value is 0 or missing."""
    with np.errstate(divide="ignore", invalid="ignore"):
        g = 100.0 * (v1 - v0) / v0
    return g.where(v0.abs() > 0)


def change_table(a: ChangeSide, b: ChangeSide, *, names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Value [CNY] at current and comparable prices in ``a`` and ``b``, change and growth [%].

    One row per region × indicator, plus one per region × class (``indicator`` = ``class:<category>``)
    and one per region for GEP (``indicator`` = ``GEP``). ``names``: region code → name.
    """
    _check_comparable(a, b)
    sides = []
    for side, tag in ((a, "0"), (b, "1")):
        r = side.rows()
        by_ind = r.groupby(["region_code", "category", "indicator"], as_index=False)[["value", "value_comparable"]].sum(min_count=1)
        by_cat = (r.groupby(["region_code", "category"], as_index=False)[["value", "value_comparable"]].sum(min_count=1)
                  .assign(indicator=lambda d: "class:" + d["category"]))
        gep = (r.groupby(["region_code"], as_index=False)[["value", "value_comparable"]].sum(min_count=1)
               .assign(category="", indicator="GEP"))
        sides.append(pd.concat([by_ind, by_cat, gep], ignore_index=True)
                     .rename(columns={"value": f"value_{tag}", "value_comparable": f"comparable_{tag}"}))
    t = sides[0].merge(sides[1], on=["region_code", "category", "indicator"], how="outer")
    for col in ("value", "comparable"):
        t[[f"{col}_0", f"{col}_1"]] = t[[f"{col}_0", f"{col}_1"]].astype(float).fillna(0.0)
        t[f"{col}_change"] = t[f"{col}_1"] - t[f"{col}_0"]
        t[f"{col}_growth_pct"] = _growth(t[f"{col}_0"], t[f"{col}_1"])
    t.insert(0, "from", a.label)
    t.insert(1, "to", b.label)
    if names is not None:
        t.insert(3, "region_name", t["region_code"].map(names).fillna(""))
    return t.sort_values(["region_code", "category", "indicator"]).reset_index(drop=True)


def lmdi_weight(v1: np.ndarray, v0: np.ndarray) -> np.ndarray:
    """Logarithmic mean L(v1, v0) = (v1 − v0)/(ln v1 − ln v0), L(v, v) = v, for positive inputs."""
    v1 = np.asarray(v1, dtype=float)
    v0 = np.asarray(v0, dtype=float)
    out = np.array(v1, dtype=float)
    differ = np.abs(v1 - v0) > 1e-12 * np.maximum(np.abs(v1), np.abs(v0))
    with np.errstate(divide="ignore", invalid="ignore"):
        out[differ] = (v1[differ] - v0[differ]) / (np.log(v1[differ]) - np.log(v0[differ]))
    return out


def _leaf_codes(regions: pd.DataFrame) -> set[str]:
    parents = set(regions["parent"].dropna())
    return set(regions["code"]) - parents


def _ancestors(regions: pd.DataFrame) -> dict[str, list[str]]:
    parent = dict(zip(regions["code"], regions["parent"], strict=True))
    out: dict[str, list[str]] = {}
    for code in regions["code"]:
        chain, p = [], parent.get(code)
        while isinstance(p, str) and p in parent:
            chain.append(p)
            p = parent.get(p)
        out[code] = chain
    return out


def decompose(a: ChangeSide, b: ChangeSide, regions: pd.DataFrame, *, measure: str = "value",
              extents: pd.DataFrame | None = None) -> pd.DataFrame:
    """LMDI decomposition of the change of ``measure`` (``value`` or ``value_comparable``) [CNY].

    ``regions``: code and parent of every region (leaves are codes that are no one's parent).
    ``extents`` (optional): ``region_code, ecosystem, year, area`` of each ecosystem type (any area
    unit, the same in both years); with it the quantity effect is split into extent and intensity.
    Returns one row per region × indicator with ``change`` and the effects; at every region and
    indicator ``change == quantity_effect + price_effect`` (and ``quantity_effect ==
    extent_effect + intensity_effect`` when extents are given) to floating-point precision.
    """
    if measure == "value_comparable":
        _check_comparable(a, b)
    leaves = _leaf_codes(regions)
    cells = []
    for side, tag in ((a, "0"), (b, "1")):
        r = side.rows()
        r = r[r["region_code"].isin(leaves) & r[measure].notna()]
        g = r.groupby(CELL, as_index=False).agg(q=("quantity", "sum"), v=(measure, "sum"), unit=("unit", "first"))
        cells.append(g.rename(columns={"q": f"q{tag}", "v": f"v{tag}", "unit": f"unit{tag}"}))
    c = cells[0].merge(cells[1], on=CELL, how="outer")
    _check_units(c)
    for col in ("q0", "q1", "v0", "v1"):
        c[col] = c[col].astype(float).fillna(0.0)
    c = _effects(c, extents, a.year, b.year)
    anc = _ancestors(regions)
    frames = [c]
    for depth in range(max((len(x) for x in anc.values()), default=0)):
        up = c.assign(region_code=c["region_code"].map(lambda code, d=depth: anc.get(code, [])[d] if len(anc.get(code, [])) > d else None))
        frames.append(up.dropna(subset=["region_code"]))
    allc = pd.concat(frames, ignore_index=True)
    out = allc.groupby(["region_code", "indicator"], as_index=False)[["v0", "v1", "change", *EFFECTS]].sum()
    gep = allc.groupby(["region_code"], as_index=False)[["v0", "v1", "change", *EFFECTS]].sum().assign(indicator="GEP")
    out = pd.concat([out, gep], ignore_index=True).rename(columns={"v0": f"{measure}_0", "v1": f"{measure}_1"})
    if extents is None:
        out = out.drop(columns=["extent_effect", "intensity_effect"])
    out.insert(0, "from", a.label)
    out.insert(1, "to", b.label)
    out.insert(2, "measure", measure)
    return out.sort_values(["region_code", "indicator"]).reset_index(drop=True)


def _check_units(c: pd.DataFrame) -> None:
    both = c["unit0"].notna() & c["unit1"].notna() & (c["unit0"] != c["unit1"])
    if both.any():
        row = c[both].iloc[0]
        raise InputError(
            f"{row['indicator']}/{row['component']} is in {row['unit0']} in one run and {row['unit1']} in the other "
            f"(region {row['region_code']}): quantities cannot be compared",
            f"{row['indicator']}/{row['component']} 在两次核算中的单位不同（{row['unit0']} 与 {row['unit1']}，"
            f"地区 {row['region_code']}），实物量无法比较",
            field="unit",
            fix="Compare runs of the same method profile, or convert one run's quantities first.",
            fix_zh="请比较同一方法配置的核算，或先换算其中一次核算的实物量。",
        )


def _effects(c: pd.DataFrame, extents: pd.DataFrame | None, y0: int, y1: int) -> pd.DataFrame:
    """Add ``change`` and the LMDI effects to each cube cell (see module docstring)."""
    v0, v1, q0, q1 = (c[k].to_numpy(float) for k in ("v0", "v1", "q0", "q1"))
    change = v1 - v0
    regular = (v0 > 0) & (v1 > 0) & (q0 > 0) & (q1 > 0)
    w = np.zeros_like(v0)
    w[regular] = lmdi_weight(v1[regular], v0[regular])
    with np.errstate(divide="ignore", invalid="ignore"):
        q_eff = np.where(regular, w * np.log(np.where(regular, q1 / q0, 1.0)), change)
        # price = value / quantity; ln(p1/p0) = ln(v1/v0) − ln(q1/q0), so the two effects sum to Δv
        p_eff = np.where(regular, change - q_eff, 0.0)
    c = c.assign(change=change, quantity_effect=q_eff, price_effect=p_eff, extent_effect=0.0, intensity_effect=0.0)
    if extents is not None:
        ext = extents.pivot_table(index=["region_code", "ecosystem"], columns="year", values="area", aggfunc="sum")
        a0 = ext.get(y0, pd.Series(dtype=float)).rename("a0")
        a1 = ext.get(y1, pd.Series(dtype=float)).rename("a1")
        c = c.join(a0, on=["region_code", "ecosystem"]).join(a1, on=["region_code", "ecosystem"])
        area0, area1 = c["a0"].fillna(0.0).to_numpy(float), c["a1"].fillna(0.0).to_numpy(float)
        has_area = (area0 > 0) & (area1 > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            e_eff = np.where(regular & has_area, w * np.log(np.where(has_area, area1 / area0, 1.0)), 0.0)
        # an ecosystem type that appears or disappears: its whole change is an extent effect
        appear = ~regular & ((area0 > 0) != (area1 > 0))
        e_eff = np.where(appear, change, e_eff)
        c["extent_effect"] = e_eff
        c["intensity_effect"] = c["quantity_effect"] - e_eff
        c = c.drop(columns=["a0", "a1"])
    return c


def region_indicators(a: ChangeSide, b: ChangeSide, *, gdp: Mapping[tuple[str, int], float] | None = None,
                      population: Mapping[tuple[str, int], float] | None = None,
                      area_km2: Mapping[str, float] | None = None, gdp_real_growth_pct: Mapping[str, float] | None = None,
                      threshold_pct: float = 0.0, regions: Sequence[str] | None = None) -> pd.DataFrame:
    """Per region: GEP in both years (current and comparable), GEP/GDP, per capita, per km², growth,
    and the 两个较快增长 check.

    ``gdp`` and ``population``: (region, year) → CNY and persons; ``gdp_real_growth_pct``: region →
    GDP growth at constant prices [%] (statistical bulletins publish it; nominal GDP growth is used
    when it is not given, and the row says so). The check passes when GEP growth at comparable prices
    and GDP growth are both ≥ ``threshold_pct`` (the rule's threshold is a local policy parameter).
    """
    t = change_table(a, b)
    gep = t[t["indicator"] == "GEP"].set_index("region_code")
    codes = list(regions) if regions is not None else list(gep.index)
    rows = []
    for code in codes:
        if code not in gep.index:
            continue
        g = gep.loc[code]
        row: dict[str, object] = {"region_code": code, "gep_0": g["value_0"], "gep_1": g["value_1"],
                                  "gep_growth_pct": g["value_growth_pct"],
                                  "gep_comparable_growth_pct": g["comparable_growth_pct"]}
        for tag, year, v in (("0", a.year, g["value_0"]), ("1", b.year, g["value_1"])):
            d = (gdp or {}).get((code, year))
            p = (population or {}).get((code, year))
            row[f"gdp_{tag}"] = d
            row[f"gep_gdp_ratio_{tag}"] = v / d if d else None
            row[f"gep_per_capita_{tag}"] = v / p if p else None
            ar = (area_km2 or {}).get(code)
            row[f"gep_per_km2_{tag}"] = v / ar if ar else None
        d0, d1 = row["gdp_0"], row["gdp_1"]
        real = (gdp_real_growth_pct or {}).get(code)
        nominal = 100.0 * (float(d1) - float(d0)) / float(d0) if isinstance(d0, float | int) and isinstance(d1, float | int) and d0 else None
        row["gdp_growth_pct"] = real if real is not None else nominal
        row["gdp_growth_basis"] = "real" if real is not None else ("nominal" if nominal is not None else None)
        gg = row["gep_comparable_growth_pct"]
        dg = row["gdp_growth_pct"]
        row["two_fast_growths"] = (bool(gg >= threshold_pct and dg >= threshold_pct)
                                   if isinstance(gg, float) and not np.isnan(gg) and isinstance(dg, float | int) else None)
        rows.append(row)
    return pd.DataFrame(rows)
