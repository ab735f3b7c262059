"""Eco-compensation (生态补偿): split a fund among regions by a declared rule, to the fen.

A rule is data (a TOML file or a dict), one of:

* ``gep_stock`` — shares ∝ GEP of the year (current or comparable prices);
* ``gep_growth`` — shares ∝ positive GEP growth at comparable prices between two years (regions that
  did not grow get 0);
* ``gep_per_area`` / ``gep_per_capita`` — shares ∝ GEP per km² / per person;
* ``factors`` — a weighted sum of normalised factor scores per region, as in Jiangxi's basin-wide
  scheme (water-quality improvement, forest cover, water-resource management, …): each factor is a
  column of a table given with the rule, normalised to shares of its column total, weighted by its
  ``weight`` (weights must sum to 1);

with optional bounds on each region's share (``min_share``, ``max_share``, fractions of the fund),
met by clamping and redistributing the rest in proportion (water-filling), and
:func:`per_area_payments` for a per-area standard (元/亩 by zone).

Amounts are whole fen (0.01 元) that add up to the fund exactly: largest-remainder (Hamilton)
rounding of the exact shares. The result explains every region's amount: its score, the exact share
before and after the bounds, and the rounded amount.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from qingshan.core.errors import ConfigError, InputError

__all__ = ["Rule", "allocate", "largest_remainder", "load_rule", "per_area_payments", "scores_for_rule"]

RuleKind = Literal["gep_stock", "gep_growth", "gep_per_area", "gep_per_capita", "factors"]
FEN_PER_YUAN = 100


@dataclass(frozen=True)
class Rule:
    """How a fund is split (see module docstring)."""

    kind: RuleKind
    level: str = "county"
    measure: Literal["value", "value_comparable"] = "value"
    min_share: float = 0.0
    max_share: float = 1.0
    factors: Mapping[str, float] = field(default_factory=dict)  # column → weight
    source: str = ""
    path: str | None = None


def _rule_error(en: str, zh: str, *, path: str | None, fld: str, fix: str, fix_zh: str) -> ConfigError:
    return ConfigError(en, zh, file=path, field=fld, fix=fix, fix_zh=fix_zh)


def load_rule(obj: Mapping[str, Any] | str | Path) -> Rule:
    """A rule from a TOML file or a mapping; every problem names the field and the fix."""
    path = None
    if isinstance(obj, str | Path):
        path = str(obj)
        try:
            data: Mapping[str, Any] = tomllib.loads(Path(obj).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise _rule_error(f"Cannot read the compensation rule: {exc}", f"无法读取补偿规则：{exc}", path=path,
                              fld="rule", fix="Give a UTF-8 TOML file (see docs/use.md).",
                              fix_zh="请提供 UTF-8 编码的 TOML 文件（见 docs/use.md）。") from exc
    else:
        data = obj
    kinds = ("gep_stock", "gep_growth", "gep_per_area", "gep_per_capita", "factors")
    kind = data.get("rule")
    if kind not in kinds:
        raise _rule_error(f"Unknown compensation rule '{kind}'", f"未知的补偿规则 '{kind}'", path=path, fld="rule",
                          fix=f"Set rule to one of {', '.join(kinds)}.", fix_zh=f"rule 应为 {', '.join(kinds)} 之一。")
    lo, hi = float(data.get("min_share", 0.0)), float(data.get("max_share", 1.0))
    if not 0.0 <= lo <= hi <= 1.0:
        raise _rule_error(f"Share bounds must satisfy 0 ≤ min_share ≤ max_share ≤ 1 (got {lo}, {hi})",
                          f"份额上下限应满足 0 ≤ min_share ≤ max_share ≤ 1（当前 {lo}、{hi}）", path=path,
                          fld="min_share", fix="Give the bounds as fractions of the fund, e.g. 0.02 and 0.3.",
                          fix_zh="请以占资金总额的比例给出上下限，如 0.02 与 0.3。")
    factors = {str(k): float(v) for k, v in dict(data.get("factors", {})).items()}
    if kind == "factors" and (not factors or abs(sum(factors.values()) - 1.0) > 1e-9 or min(factors.values()) < 0):
        raise _rule_error(f"Factor weights must be non-negative and sum to 1 (got {factors})",
                          f"因素权重应为非负数且合计为 1（当前 {factors}）", path=path, fld="factors",
                          fix="E.g. [factors] water_quality = 0.7, forest = 0.2, water_management = 0.1.",
                          fix_zh="例如 [factors] water_quality = 0.7, forest = 0.2, water_management = 0.1。")
    measure = str(data.get("measure", "value"))
    if measure not in ("value", "value_comparable"):
        raise _rule_error(f"measure must be value or value_comparable (got {measure})",
                          f"measure 应为 value 或 value_comparable（当前 {measure}）", path=path, fld="measure",
                          fix="Use value (current prices) or value_comparable.", fix_zh="请使用 value 或 value_comparable。")
    return Rule(kind=kind, level=str(data.get("level", "county")), measure=measure,  # type: ignore[arg-type]
                min_share=lo, max_share=hi, factors=factors, source=str(data.get("source", "")), path=path)


def largest_remainder(shares: np.ndarray, total: int) -> np.ndarray:
    """Integers proportional to ``shares`` (non-negative, any sum > 0) that add up to ``total``
    exactly: floors of the exact quotas, then one more unit to the largest remainders (ties: the
    earlier index)."""
    s = np.asarray(shares, dtype=float)
    if total < 0 or (s < 0).any() or not s.sum() > 0:
        raise ValueError("shares must be non-negative with a positive sum, total non-negative")
    quota = s / s.sum() * total
    base = np.floor(quota).astype(np.int64)
    left = int(total - base.sum())
    order = np.lexsort((np.arange(len(s)), -(quota - base)))
    base[order[:left]] += 1
    return base


def _bounded(shares: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Shares (sum 1) clamped to [lo, hi], the rest redistributed ∝ the free shares (water-filling)."""
    n = len(shares)
    if n * lo > 1 + 1e-12 or n * hi < 1 - 1e-12:
        raise InputError(
            f"Bounds [{lo}, {hi}] cannot be met by {n} regions (their shares must add up to 1)",
            f"{n} 个地区无法同时满足份额上下限 [{lo}, {hi}]（份额合计须为 1）",
            field="min_share",
            fix="Lower min_share or raise max_share.",
            fix_zh="请降低 min_share 或提高 max_share。",
        )
    s = shares / shares.sum() if shares.sum() > 0 else np.full(n, 1.0 / n)
    fixed = np.full(n, np.nan)
    for _ in range(2 * n + 1):
        free = np.isnan(fixed)
        rest = 1.0 - np.nansum(fixed)
        base = s[free].sum()
        trial = np.where(free, (s / base if base > 0 else 1.0 / free.sum()) * rest, fixed)
        low = free & (trial < lo - 1e-15)
        high = free & (trial > hi + 1e-15)
        if not low.any() and not high.any():
            return trial
        fixed[low] = lo
        fixed[high] = hi
    return trial


def scores_for_rule(rule: Rule, cube: pd.DataFrame, regions: pd.DataFrame, *, year: int, from_year: int | None = None,
                    population: Mapping[str, float] | None = None, factors: pd.DataFrame | None = None) -> pd.Series:
    """Score of each region of ``rule.level`` (code → non-negative number) from a run's cube."""
    codes = list(regions.loc[regions["level"] == rule.level, "code"])
    if not codes:
        raise InputError(f"The run has no regions at level '{rule.level}'", f"本次核算没有 '{rule.level}' 级行政区",
                         file=rule.path, field="level", fix="Set level to one of the run's levels (e.g. county, city).",
                         fix_zh="请将 level 设为核算中存在的层级（如 county、city）。")
    measure = rule.measure if rule.kind != "gep_growth" else "value_comparable"

    def gep(y: int) -> pd.Series:
        sub = cube[(cube["year"] == y) & cube["region_code"].isin(codes)]
        return sub.groupby("region_code")[measure].sum(min_count=1).reindex(codes).fillna(0.0)

    if rule.kind == "factors":
        return _factor_scores(rule, factors, codes)
    if rule.kind == "gep_growth":
        if from_year is None:
            raise InputError("gep_growth needs the earlier year", "gep_growth 规则需要起始年份", file=rule.path,
                             field="from_year", fix="Give --from YEAR (a year of the run, or of the run given with --against).",
                             fix_zh="请给出 --from 年份。")
        return (gep(year) - gep(from_year)).clip(lower=0.0)
    g = gep(year)
    if rule.kind == "gep_per_area":
        area = regions.set_index("code")["area_km2"].reindex(codes).astype(float)
        return (g / area).fillna(0.0)
    if rule.kind == "gep_per_capita":
        pop = pd.Series(population or {}, dtype=float).reindex(codes)
        if pop.isna().any():
            missing = ", ".join(pop[pop.isna()].index[:5])
            raise InputError(f"Population missing for {missing}", f"缺少人口数据：{missing}", file=rule.path,
                             field="population", fix="Add item population for every region to the statistics table.",
                             fix_zh="请在统计表中为每个地区补充 population（人口）。")
        return g / pop
    return g


def _factor_scores(rule: Rule, factors: pd.DataFrame | None, codes: list[str]) -> pd.Series:
    if factors is None:
        raise InputError("The factors rule needs a factor table", "因素法规则需要因素数据表", file=rule.path,
                         field="factors", fix="Give a CSV with region_code and one column per factor.",
                         fix_zh="请提供含 region_code 及各因素列的 CSV 表。")
    f = factors.set_index(factors["region_code"].astype(str))
    score = pd.Series(0.0, index=codes)
    for col, weight in rule.factors.items():
        if col not in f.columns:
            raise InputError(f"Factor column '{col}' is not in the factor table", f"因素表中没有列 '{col}'",
                             file=rule.path, field=f"factors.{col}", fix=f"Columns present: {', '.join(map(str, f.columns))}.",
                             fix_zh=f"表中现有列：{', '.join(map(str, f.columns))}。")
        v = pd.to_numeric(f[col], errors="coerce").reindex(codes)
        if v.isna().any() or (v < 0).any():
            bad = ", ".join(v[v.isna() | (v < 0)].index[:5])
            raise InputError(f"Factor '{col}' is missing or negative for {bad}", f"因素 '{col}' 缺失或为负：{bad}",
                             file=rule.path, field=f"factors.{col}", fix="Give a non-negative number for every region.",
                             fix_zh="请为每个地区给出非负数值。")
        score += weight * (v / v.sum() if v.sum() > 0 else 0.0)
    return score


def allocate(fund_yuan: float, scores: pd.Series, rule: Rule, *, names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Split ``fund_yuan`` [元] among the regions of ``scores`` by ``rule``; amounts in whole fen.

    Returns one row per region: ``score``, ``share_exact`` (∝ score), ``share`` (after the bounds),
    ``amount_fen`` (integers adding up to the fund in fen) and ``amount_yuan``.
    """
    fen = round(fund_yuan * FEN_PER_YUAN)
    if fen <= 0 or abs(fen - fund_yuan * FEN_PER_YUAN) > 1e-6 * max(1.0, fund_yuan):
        raise InputError(f"The fund must be a positive amount in yuan with at most two decimals (got {fund_yuan})",
                         f"资金总额应为最多两位小数的正数（元），当前为 {fund_yuan}", field="fund",
                         fix="Give the fund in yuan, e.g. --fund 1250000.00.", fix_zh="请以元为单位给出资金，如 --fund 1250000.00。")
    s = scores.astype(float).to_numpy()
    if (s < 0).any() or not np.isfinite(s).all():
        raise InputError("Scores must be finite and non-negative", "分配得分须为非负有限数", field="scores",
                         fix="Check the factor table and the run's values.", fix_zh="请检查因素表与核算结果。")
    if s.sum() <= 0:
        raise InputError("Every region scores 0: nothing to split by", "所有地区得分均为 0，无法分配", field="scores",
                         fix="Choose another rule (e.g. gep_stock) or other years.", fix_zh="请选择其他规则（如 gep_stock）或其他年份。")
    exact = s / s.sum()
    bounded = _bounded(exact, rule.min_share, rule.max_share)
    amounts = largest_remainder(bounded, fen)
    out = pd.DataFrame({"region_code": scores.index, "score": s, "share_exact": exact, "share": bounded,
                        "amount_fen": amounts, "amount_yuan": amounts / FEN_PER_YUAN})
    if names is not None:
        out.insert(1, "region_name", out["region_code"].map(names).fillna(""))
    out["rule"] = rule.kind
    return out


def per_area_payments(areas: pd.DataFrame, standards: pd.DataFrame) -> pd.DataFrame:
    """Payments of a per-area standard: ``areas`` (region_code, zone, area_mu) × ``standards``
    (zone, yuan_per_mu, source) → one row per region and zone with ``payment_yuan``, exact to the fen.
    A zone without a standard is an error naming it (never a silent 0)."""
    std = standards.set_index("zone")
    missing = sorted(set(areas["zone"]) - set(std.index))
    if missing:
        raise InputError(f"No standard (元/亩) for zone(s) {', '.join(missing)}", f"以下区域类型没有补偿标准（元/亩）：{', '.join(missing)}",
                         field="zone", fix="Add a row per zone to the standards table (zone, yuan_per_mu, source).",
                         fix_zh="请在标准表中为每种区域类型增加一行（zone, yuan_per_mu, source）。")
    out = areas.merge(std[["yuan_per_mu", "source"]], left_on="zone", right_index=True)
    fen = np.round(out["area_mu"].astype(float) * out["yuan_per_mu"].astype(float) * FEN_PER_YUAN).astype(np.int64)
    out["payment_fen"] = fen
    out["payment_yuan"] = fen / FEN_PER_YUAN
    return out
