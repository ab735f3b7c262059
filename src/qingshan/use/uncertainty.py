"""Price uncertainty of a stored run: Monte Carlo intervals and a Sobol ranking (不确定性分析, first slice).

Scope: the **value step** only. Quantities are taken as the run computed them; prices carry
distributions. Every value is quantity × price, so a drawn price revalues a cube row as
``value × drawn / run_price`` (units cancel: the distribution is in the price's own unit).

Distribution table (CSV or dict rows), one row per uncertain price::

    key, kind, a, b, c, source[, unit]

``key`` is a ``price_key`` of the run's provenance (``provenance["prices"]``), ``price_key@YEAR``
for one year only, or ``price_key@YEAR@REGION`` for one region (and the regions below it); the most
specific one applies. An absolute distribution describes one price: if a key's rows were valued at
several prices (by region), give one distribution per region — a mixed key is refused. ``unit`` (optional) must equal the run's price unit when given. Meaning of a/b/c:

=============  ===========================  ======================  ==============
kind           a                            b                       c
=============  ===========================  ======================  ==============
normal         mean [price unit]            standard deviation ≥ 0  –
lognormal      median [price unit] > 0      σ of ln(price) ≥ 0 [1]  –
uniform        minimum                      maximum ≥ a             –
triangular     minimum                      mode (a ≤ b ≤ c)        maximum
=============  ===========================  ======================  ==============

A normal distribution may draw negative prices; use lognormal or bounded kinds for strictly
positive prices. ``source`` is required (where the spread comes from).

Mapping of cube rows to price keys (documented choice): a leaf-region row of the chosen year takes
its key from the indicator registry exactly as the value step does
(``component.price_key`` with ``{item}`` → component id, :func:`qingshan.engine.valuation.component_spec`),
and its run price from the row's own ``price`` / ``price_unit`` columns (the price the value step
resolved for that row, the same figure the provenance lists). A distribution that values no row of
the year is refused (a misspelt key must not pass as "no uncertainty").

Totals at every level are the run's stored totals plus the sum, over leaf rows below, of
``value × (drawn / run_price − 1)``; a zero-width distribution therefore reproduces the run exactly.
Values are current prices (``value``); comparable prices are not revalued in this slice.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from qingshan.core.errors import ConfigError, InputError

__all__ = ["KINDS", "Distribution", "PriceModel", "RunUncertainty", "gep_sobol", "monte_carlo", "price_model",
           "read_distributions", "run_uncertainty", "sobol"]

KINDS = ("normal", "lognormal", "uniform", "triangular")
COLUMNS = ("key", "kind", "a", "b", "c", "source")
PERCENTILES = (5.0, 50.0, 95.0)


@dataclass(frozen=True)
class Distribution:
    """One uncertain input: ``key``, ``kind`` and its parameters (see the module table)."""

    key: str
    kind: str
    a: float
    b: float
    c: float | None = None
    source: str = ""
    unit: str | None = None

    @property
    def width_zero(self) -> bool:
        if self.kind in ("normal", "lognormal"):
            return self.b == 0
        if self.kind == "uniform":
            return self.a == self.b
        return self.a == (self.c if self.c is not None else self.a)

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` draws [price unit]; a zero-width distribution gives exactly its location."""
        if self.width_zero:
            return np.full(n, self.a if self.kind != "triangular" else self.b, dtype=float)
        if self.kind == "normal":
            return rng.normal(self.a, self.b, n)
        if self.kind == "lognormal":
            return self.a * np.exp(rng.normal(0.0, self.b, n))
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b, n)
        return rng.triangular(self.a, self.b, float(self.c), n)  # type: ignore[arg-type]

    def salib(self) -> tuple[str, list[float]]:
        """SALib's ``dists`` name and ``bounds`` for this distribution (SALib.util.scale_samples)."""
        if self.kind == "normal":
            return "norm", [self.a, self.b]
        if self.kind == "lognormal":
            return "lognorm", [math.log(self.a), self.b]
        if self.kind == "uniform":
            return "unif", [self.a, self.b]
        c = float(self.c)  # type: ignore[arg-type]
        # SALib wants the peak as a fraction in [0, 1); a mode at the maximum is moved in by 1e-12
        return "triang", [self.a, c, min((self.b - self.a) / (c - self.a), 1.0 - 1e-12)]


def _bad(row: int, field: str, en: str, zh: str, file: str | Path | None) -> ConfigError:
    return ConfigError(
        f"Distribution row {row}: {en}", f"分布表第 {row} 行：{zh}", file=file, field=field,
        fix="Kinds and parameters: normal a=mean b=sd; lognormal a=median>0 b=σ of ln; uniform a=min b=max; "
            "triangular a=min b=mode c=max; give a source.",
        fix_zh="分布类型与参数：normal a=均值 b=标准差；lognormal a=中位数>0 b=对数标准差；uniform a=最小 b=最大；"
               "triangular a=最小 b=众数 c=最大；并注明来源。",
    )


def _num(v: Any, row: int, field: str, file: str | Path | None, required: bool = True) -> float | None:
    if v is None or (isinstance(v, str) and not v.strip()) or (isinstance(v, float) and math.isnan(v)):
        if required:
            raise _bad(row, field, f"'{field}' is empty", f"'{field}' 为空", file)
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise _bad(row, field, f"'{field}' is not a number: {v!r}", f"'{field}' 不是数字：{v!r}", file) from None
    if not math.isfinite(x):
        raise _bad(row, field, f"'{field}' is not finite: {v!r}", f"'{field}' 不是有限数：{v!r}", file)
    return x


def _parse_row(r: Mapping[str, Any], row: int, file: str | Path | None) -> Distribution:
    key = str(r.get("key") or "").strip()
    if not key or key == "nan":
        raise _bad(row, "key", "'key' is empty", "'key' 为空", file)
    kind = str(r.get("kind") or "").strip().lower()
    if kind not in KINDS:
        raise _bad(row, "kind", f"unknown kind {kind!r} (known: {', '.join(KINDS)})",
                   f"未知的分布类型 {kind!r}（可用：{', '.join(KINDS)}）", file)
    a = _num(r.get("a"), row, "a", file)
    b = _num(r.get("b"), row, "b", file)
    c = _num(r.get("c"), row, "c", file, required=kind == "triangular")
    assert a is not None and b is not None
    if kind in ("normal", "lognormal") and b < 0:
        raise _bad(row, "b", f"the spread b must be ≥ 0 (got {b:g})", f"离散参数 b 必须 ≥ 0（为 {b:g}）", file)
    if kind == "lognormal" and a <= 0:
        raise _bad(row, "a", f"a lognormal median must be > 0 (got {a:g})", f"对数正态分布的中位数必须 > 0（为 {a:g}）", file)
    if kind == "uniform" and b < a:
        raise _bad(row, "b", f"maximum b={b:g} is below minimum a={a:g}", f"最大值 b={b:g} 小于最小值 a={a:g}", file)
    if kind == "triangular" and not (a <= b <= float(c)):  # type: ignore[arg-type]
        raise _bad(row, "b", f"need a ≤ b ≤ c (got {a:g}, {b:g}, {c:g})", f"须满足 a ≤ b ≤ c（为 {a:g}、{b:g}、{c:g}）", file)
    source = str(r.get("source") or "").strip()
    if not source or source == "nan":
        raise _bad(row, "source", "'source' is empty: say where the spread comes from",
                   "'source' 为空：请注明分布的来源", file)
    unit = r.get("unit")
    unit_s = str(unit).strip() if unit is not None and str(unit).strip() not in ("", "nan") else None
    return Distribution(key, kind, a, b, c, source, unit_s)


def read_distributions(rows: pd.DataFrame | Sequence[Mapping[str, Any]] | str | Path) -> list[Distribution]:
    """Parse and validate a distribution table (a CSV path, a DataFrame or dict rows).

    Rows are numbered from 1 as a reader of the CSV counts data rows (header excluded)."""
    file: str | Path | None = None
    if isinstance(rows, str | Path):
        file = rows
        try:
            rows = pd.read_csv(rows, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise InputError(f"Cannot read the distribution table: {exc}", f"无法读取分布表：{exc}", file=file,
                             fix="Give a UTF-8 CSV with columns key, kind, a, b, c, source.",
                             fix_zh="请提供 UTF-8 编码的 CSV，列为 key, kind, a, b, c, source。") from None
    records = rows.to_dict("records") if isinstance(rows, pd.DataFrame) else list(rows)
    if isinstance(rows, pd.DataFrame):
        missing = [c for c in COLUMNS if c not in rows.columns and c != "c"]
        if missing:
            raise ConfigError(f"Distribution table lacks column(s) {', '.join(missing)}",
                              f"分布表缺少列 {', '.join(missing)}", file=file, field=missing[0],
                              fix="Columns: key, kind, a, b, c, source (c for triangular only; optional unit).",
                              fix_zh="列为 key, kind, a, b, c, source（c 仅三角分布需要；unit 可选）。")
    out = [_parse_row(r, i, file) for i, r in enumerate(records, start=1)]
    seen: set[str] = set()
    for i, d in enumerate(out, start=1):
        if d.key in seen:
            raise _bad(i, "key", f"key '{d.key}' is given twice", f"键 '{d.key}' 重复", file)
        seen.add(d.key)
    if not out:
        raise ConfigError("The distribution table is empty", "分布表为空", file=file, field="key",
                          fix="Add at least one row: key, kind, a, b, c, source.", fix_zh="请至少添加一行。")
    return out


# ---------------------------------------------------------------- the linear price model of a run


@dataclass(frozen=True)
class PriceModel:
    """Totals of a run's year as a linear function of the uncertain prices.

    ``base``: deterministic totals (region_code, indicator; ``GEP`` per region) [CNY];
    ``weights``: groups × leaf rows membership; ``leaf_value`` [CNY], ``leaf_dist`` (index into
    ``dists``) and ``leaf_price`` (the run's price) for each uncertain leaf row."""

    base: pd.DataFrame
    weights: sparse.csr_matrix
    leaf_value: np.ndarray
    leaf_dist: np.ndarray
    leaf_price: np.ndarray
    dists: list[Distribution]
    year: int

    def totals(self, draws: np.ndarray) -> np.ndarray:
        """Totals (groups × draws) for price draws (distributions × draws) [CNY]."""
        ratio = draws[self.leaf_dist, :] / self.leaf_price[:, None] - 1.0
        delta = self.weights @ (self.leaf_value[:, None] * ratio)
        return np.asarray(self.base["value"].to_numpy(float)[:, None] + delta)

    def linear(self, group: int) -> tuple[float, np.ndarray]:
        """Total of ``group`` as ``const + coef @ prices`` (coef per distribution) [CNY]."""
        w = np.asarray(self.weights[group].toarray()).ravel() * self.leaf_value
        coef = np.bincount(self.leaf_dist, weights=w / self.leaf_price, minlength=len(self.dists))
        return float(self.base["value"].iloc[group] - w.sum()), coef


def _ancestors(regions: pd.DataFrame) -> dict[str, list[str]]:
    parent = dict(zip(regions["code"], regions["parent"], strict=True))
    out: dict[str, list[str]] = {}
    for code in regions["code"]:
        chain, p = [], parent.get(code)
        while isinstance(p, str) and p in parent and p not in chain:
            chain.append(p)
            p = parent.get(p)
        out[code] = chain
    return out


def _dist_for(index: Mapping[str, int], key: str, year: int, chain: Sequence[str]) -> int | None:
    """Most specific distribution of ``key``: ``key@YEAR@REGION`` (region, then ancestors), ``key@YEAR``, ``key``."""
    for name in [*(f"{key}@{year}@{c}" for c in chain), f"{key}@{year}", key]:
        if name in index:
            return index[name]
    return None


def _leaf_keys(rows: pd.DataFrame) -> list[str | None]:
    from qingshan.engine.valuation import component_spec
    from qingshan.indicators import registry

    reg = registry()
    keys: list[str | None] = []
    for ind, comp in zip(rows["indicator"], rows["component"], strict=True):
        pk = component_spec(reg.get(str(ind)), str(comp)).price_key
        keys.append(None if pk is None else pk.replace("{item}", str(comp)))
    return keys


def price_model(cube: pd.DataFrame, regions: pd.DataFrame, dists: Sequence[Distribution], year: int) -> PriceModel:
    """Build the linear model of a run's ``year`` (cube rows as stored, regions with code/parent)."""
    rows = cube[(cube["year"] == year) & cube["value"].notna()]
    base_ind = rows.groupby(["region_code", "indicator"], as_index=False)["value"].sum()
    base_gep = rows.groupby(["region_code"], as_index=False)["value"].sum().assign(indicator="GEP")
    base = pd.concat([base_ind, base_gep], ignore_index=True)[["region_code", "indicator", "value"]]
    anc = _ancestors(regions)
    leaves = set(regions["code"]) - set(regions["parent"].dropna())
    leaf = rows[rows["region_code"].isin(leaves) & rows["price"].notna()].reset_index(drop=True)
    index = {d.key: i for i, d in enumerate(dists)}
    sel, d_idx = [], []
    for i, (key, code) in enumerate(zip(_leaf_keys(leaf), leaf["region_code"].astype(str), strict=True)):
        di = None if key is None else _dist_for(index, key, year, [code, *anc.get(code, [])])
        if di is not None:
            sel.append(i)
            d_idx.append(di)
    lv = leaf.iloc[sel]
    d_arr = np.array(d_idx, dtype=int)
    _check_rows(lv, d_arr, dists, year)
    pos = {(g.region_code, g.indicator): k for k, g in enumerate(base.itertuples(index=False))}
    r_i, c_i = [], []
    for j, (code, ind) in enumerate(zip(lv["region_code"], lv["indicator"], strict=True)):
        for c in [code, *anc.get(code, [])]:
            for group in ((c, ind), (c, "GEP")):
                if group in pos:
                    r_i.append(pos[group])
                    c_i.append(j)
    w = sparse.csr_matrix((np.ones(len(r_i)), (r_i, c_i)), shape=(len(base), len(lv)))
    return PriceModel(base, w, lv["value"].to_numpy(float), d_arr, lv["price"].to_numpy(float), list(dists), year)


def _check_rows(lv: pd.DataFrame, d_idx: np.ndarray, dists: Sequence[Distribution], year: int) -> None:
    """Every distribution values some rows, all at one run price and in its unit."""
    for i, d in enumerate(dists):
        mine = lv[d_idx == i]
        if mine.empty:
            raise ConfigError(
                f"No value of year {year} uses the price '{d.key}'", f"{year} 年没有任何价值量使用价格 '{d.key}'",
                field="key", fix="Use a price_key listed in the run's provenance (key, key@YEAR or key@YEAR@REGION).",
                fix_zh="请使用核算来源记录中列出的 price_key（key、key@年份 或 key@年份@区划）。")
        prices = sorted({float(p) for p in mine["price"]})
        if prices[-1] - prices[0] > 1e-9 * max(abs(prices[-1]), 1.0):
            raise ConfigError(
                f"Price '{d.key}' has several run values in {year} ({', '.join(f'{p:g}' for p in prices)}): "
                "one absolute distribution cannot describe them",
                f"价格 '{d.key}' 在 {year} 年有多个取值（{', '.join(f'{p:g}' for p in prices)}），不能用同一个分布描述",
                field="key", fix="Give one distribution per region: key@YEAR@REGION.",
                fix_zh="请按区划分别给出分布：key@年份@区划。")
        units = set(mine["price_unit"].dropna().astype(str))
        if d.unit is not None and units != {d.unit}:
            raise ConfigError(
                f"Distribution '{d.key}' is in {d.unit} but the run's price is in {', '.join(sorted(units))}",
                f"分布 '{d.key}' 的单位为 {d.unit}，而本次核算的价格单位为 {', '.join(sorted(units))}",
                field="unit", fix="Give the distribution in the run's price unit.", fix_zh="请用核算价格的单位给出分布。")


def monte_carlo(model: PriceModel, *, draws: int, seed: int) -> pd.DataFrame:
    """Intervals of every total: ``region_code, indicator, value`` (the run's) and ``mean, p5, p50, p95``
    over ``draws`` draws [CNY], reproducible for a given ``seed`` (numpy default_rng)."""
    if draws < 1:
        raise ConfigError(f"--draws must be ≥ 1 (got {draws})", f"抽样次数须 ≥ 1（为 {draws}）", field="draws",
                          fix="Use e.g. --draws 1000.", fix_zh="例如使用 --draws 1000。")
    rng = np.random.default_rng(seed)
    x = np.vstack([d.draw(rng, draws) for d in model.dists])
    step = max(1, 4_000_000 // max(len(model.leaf_value), 1))  # bound the rows × draws work array (~32 MB)
    t = np.hstack([model.totals(x[:, i:i + step]) for i in range(0, draws, step)])
    out = model.base.copy()
    out["mean"] = t.mean(axis=1)
    for p, col in zip(PERCENTILES, ("p5", "p50", "p95"), strict=True):
        out[col] = np.percentile(t, p, axis=1)
    return out.sort_values(["region_code", "indicator"]).reset_index(drop=True)


def sobol(dists: Sequence[Distribution], func: Callable[[np.ndarray], np.ndarray], *, n: int = 1024,
          seed: int = 0) -> pd.DataFrame:
    """First-order (S1) and total (ST) Sobol indices of ``func`` (samples × inputs → outputs) with
    SALib (Saltelli sampling, ``SALib.sample.sobol``; ``SALib.analyze.sobol``), sorted by ST.

    Zero-width inputs are held at their value and get indices 0; a constant output gives all 0."""
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    live = [i for i, d in enumerate(dists) if not d.width_zero]
    table = pd.DataFrame({"key": [d.key for d in dists], "S1": 0.0, "S1_conf": 0.0, "ST": 0.0, "ST_conf": 0.0})
    if live:
        specs = [dists[i].salib() for i in live]
        problem = {"num_vars": len(live), "names": [dists[i].key for i in live],
                   "bounds": [b for _, b in specs], "dists": [k for k, _ in specs]}
        xs = sobol_sample.sample(problem, n, calc_second_order=False, seed=seed)
        full = np.tile(np.array([d.b if d.kind == "triangular" else d.a for d in dists], dtype=float), (len(xs), 1))
        full[:, live] = xs
        y = np.asarray(func(full), dtype=float)
        if np.ptp(y) > 0:
            res = sobol_analyze.analyze(problem, y, calc_second_order=False, seed=seed, print_to_console=False)
            for col in ("S1", "S1_conf", "ST", "ST_conf"):
                table.loc[live, col] = np.asarray(res[col], dtype=float)
    return table.sort_values("ST", ascending=False, kind="stable").reset_index(drop=True)


def gep_sobol(model: PriceModel, region: str, *, n: int = 1024, seed: int = 0) -> pd.DataFrame:
    """Sobol ranking of ``region``'s GEP with respect to the uncertain prices."""
    k = model.base.index[(model.base["region_code"] == region) & (model.base["indicator"] == "GEP")]
    if len(k) == 0:
        raise InputError(f"Region '{region}' has no GEP in year {model.year}", f"区域 '{region}' 在 {model.year} 年没有 GEP",
                         field="region", fix="Give a region code of the run.", fix_zh="请给出本次核算中的区划代码。")
    const, coef = model.linear(int(k[0]))

    def gep(x: np.ndarray) -> np.ndarray:
        return np.asarray(const + x @ coef)

    return sobol(model.dists, gep, n=n, seed=seed)


@dataclass(frozen=True)
class RunUncertainty:
    """Result of :func:`run_uncertainty`: the intervals, the Sobol ranking of ``region``'s GEP."""

    intervals: pd.DataFrame
    sensitivity: pd.DataFrame
    region: str
    year: int


def run_uncertainty(factory: Any, run_id: str, dists: Sequence[Distribution], *, draws: int, seed: int,
                    year: int | None = None, sobol_n: int = 1024) -> RunUncertainty:
    """Monte Carlo intervals and the Sobol ranking of the top region's GEP for a stored run
    (``year``: the run's latest by default)."""
    from qingshan.use.runs import load_run

    run, cube, regions = load_run(factory, run_id)
    years = sorted(run.years)
    y = years[-1] if year is None else year
    if y not in years:
        raise InputError(f"Run '{run_id}' has no year {y}", f"核算记录 '{run_id}' 没有 {y} 年的结果", field="year",
                         fix=f"Years of this run: {', '.join(map(str, years))}.",
                         fix_zh=f"本次核算的年份：{', '.join(map(str, years))}。")
    model = price_model(cube, regions, dists, y)
    top = str(regions.loc[regions["parent"].isna(), "code"].iloc[0])
    return RunUncertainty(monte_carlo(model, draws=draws, seed=seed), gep_sobol(model, top, n=sobol_n, seed=seed),
                          top, y)
