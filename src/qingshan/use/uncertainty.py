"""Uncertainty of a stored run: Monte Carlo intervals and a global sensitivity ranking (不确定性分析).

Uncertain inputs are **prices** and scalar **parameters**, each with a
:class:`~qingshan.core.distributions.Distribution` (normal, lognormal, uniform, triangular; in the
input's own unit, with its source). They come from a distribution table (CSV or dict rows)::

    key, kind, a, b, c, source[, unit]

and, with ``param_tables=True``, from the optional ``dist_*`` columns of the run's parameter tables
(:data:`qingshan.core.params.DIST_COLUMNS`; a table row wins over nothing, a distribution-table row
with the same key wins over the table). Keys:

- a ``price_key`` of the run (``provenance["prices"]``), ``price_key@YEAR`` or
  ``price_key@YEAR@REGION`` (most specific applies) — **price**: every value is quantity × price, so a
  drawn price *x* revalues a leaf row valued at the run price *p* by ``x / p``;
- ``param:KEY`` for a scalar parameter of the run (``provenance["parameters"]``):
  - **linear** (:data:`LINEAR_PARAMETERS`): the parameter enters the listed components' quantities as
    a factor (power ±1) and nothing else of the run, so its draw scales those stored leaf rows by
    ``(x / x_run)^power`` — analytic, no recomputation;
  - **recompute**: any other parameter used by the run's methods: the run's indicators that use it are
    recomputed per draw on the engine (:class:`Recompute`: the engine's ``compute_blockwise``, then
    the value step ``value_rows`` and the roll-up), in-process or on the workers of an optional ``dask.distributed`` client.

Refused (bilingual :class:`~qingshan.core.errors.ConfigError`), never silently ignored: a key the run
does not use, a parameter no method of the run uses, ``@YEAR``/``@REGION`` on a parameter, per-class
(land-cover table) coefficients, a unit other than the run's, a linear parameter whose distribution can
reach ≤ 0 (the factor would change sign; use lognormal or a positive range), a recomputation that does
not reproduce the stored run at the run's values (inputs changed since the run).

Totals at every level (every region × indicator and ``GEP``) are the run's stored totals plus, over
the leaf rows below, ``Σ (v·f − v₀)``: ``v₀`` the leaf value at the run's inputs (the stored one, or
the engine's recomputation at the run's parameter values), ``v`` the leaf value at the draw's
parameters and ``f`` the product of the price and linear factors. A zero-width distribution therefore
reproduces the run **exactly**. Values are current prices (``value``).

Sensitivity: Sobol first-order and total indices (SALib Saltelli sampling and ``SALib.analyze.sobol``)
when every input is analytic; Morris elementary effects (``SALib.sample.morris`` in quantile space
[2.5 %, 97.5 %], mapped through each distribution's quantile function; ``SALib.analyze.morris``) when
some parameter needs recomputation. Outputs: the top region's GEP and each of its indicators. A
tornado table (``swing``) gives each output with one input at its 5 % and 95 % quantile, the others at
the run's values.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import inspect
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from qingshan.core.codeversion import SameCode
from qingshan.core.distributions import KINDS, Distribution, parse_distribution
from qingshan.core.errors import ConfigError, InputError

__all__ = ["KINDS", "LINEAR_PARAMETERS", "MAX_DRAWS", "Distribution", "LinearUse", "Model", "RunUncertainty",
           "build_model", "monte_carlo", "read_distributions", "run_uncertainty", "sensitivity", "sobol"]

COLUMNS = ("key", "kind", "a", "b", "c", "source")
PERCENTILES = (5.0, 50.0, 95.0)
PARAM = "param:"
MAX_DRAWS = 100_000
"""Most Monte Carlo draws of an analytic analysis."""
MAX_RECOMPUTE_DRAWS = 2_000
"""Most draws when parameters are recomputed on the engine (each draw is an accounting)."""
MORRIS_RANGE = (0.025, 0.975)
"""Quantile range the Morris trajectories span (the quantile function of a normal is infinite at 0 and 1)."""


# ---------------------------------------------------------------- which parameters scale which components


@dataclass(frozen=True)
class LinearUse:
    """A parameter enters ``component`` of ``indicator`` (with one of ``methods``) as ``x^power`` and nowhere else there."""

    indicator: str
    methods: tuple[str, ...]
    component: str
    power: int
    formula: str


LINEAR_PARAMETERS: dict[str, tuple[LinearUse, ...]] = {
    "sediment_deposition_ratio": (
        LinearUse("soil_retention", ("rusle",), "sediment_reduction", 1, "λ·Q_sr/ρ (quantities.soil.soil_retention_parts)"),),
    "soil_bulk_density": (
        LinearUse("soil_retention", ("rusle",), "sediment_reduction", -1, "λ·Q_sr/ρ (soil_retention_parts)"),
        LinearUse("soil_fertility", ("rusle",), "abandoned_land_avoided", -1, "Q_sr/(ρ·h) (soil_fertility_parts)")),
    "soil_n_content": (
        LinearUse("soil_retention", ("rusle",), "nitrogen_retained", 1, "Q_sr·C_N (soil_retention_parts)"),
        LinearUse("soil_fertility", ("rusle",), "nitrogen_retained", 1, "Q_sr·C_N (soil_fertility_parts)")),
    "soil_p_content": (
        LinearUse("soil_retention", ("rusle",), "phosphorus_retained", 1, "Q_sr·C_P (soil_retention_parts)"),
        LinearUse("soil_fertility", ("rusle",), "phosphorus_retained", 1, "Q_sr·C_P (soil_fertility_parts)")),
    "soil_k_content": (
        LinearUse("soil_fertility", ("rusle",), "potassium_retained", 1, "Q_sr·C_K (soil_fertility_parts)"),),
    "soil_organic_matter_content": (
        LinearUse("soil_fertility", ("rusle",), "organic_matter_retained", 1, "Q_sr·C_M (soil_fertility_parts)"),),
    "soil_abandon_thickness": (
        LinearUse("soil_fertility", ("rusle",), "abandoned_land_avoided", -1, "Q_sr/(ρ·h) (soil_fertility_parts)"),),
    "nep_npp_ratio": (
        LinearUse("carbon_sequestration", ("nep_from_npp",), "co2_fixed", 1, "44/12·α·NPP, NPP ≥ 0 (quantities.carbon)"),
        LinearUse("oxygen_release", ("from_carbon",), "o2_released", 1, "32/44·44/12·α·NPP (quantities.carbon)")),
    "marsh_detention_depth": (
        LinearUse("flood_regulation", ("storage_components",), "marshes", 1, "depth × marsh area (quantities.statistics)"),),
}
"""Parameters propagated analytically: each is a factor of the listed components only (checked in
quantities/*.py; tests/use/test_uncertainty_params.py compares the scaling with a recomputation)."""


# ---------------------------------------------------------------- distribution tables


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
    out = [parse_distribution(r, i, file) for i, r in enumerate(records, start=1)]
    seen: set[str] = set()
    for i, d in enumerate(out, start=1):
        if d.key in seen:
            raise ConfigError(f"Distribution row {i}: key '{d.key}' is given twice", f"分布表第 {i} 行：键 '{d.key}' 重复",
                              file=file, field="key", fix="Keep one row per key.", fix_zh="每个键只保留一行。")
        seen.add(d.key)
    if not out:
        raise ConfigError("The distribution table is empty", "分布表为空", file=file, field="key",
                          fix="Add at least one row: key, kind, a, b, c, source.", fix_zh="请至少添加一行。")
    return out


def table_distributions(run: Any) -> list[Distribution]:
    """Distributions of the ``dist_*`` columns of the run's parameter tables (files unchanged since the run)."""
    from qingshan.core.params import ParameterTable, file_sha256

    hashes = (run.provenance or {}).get("input_hashes", {})
    out: list[Distribution] = []
    for path in (run.config or {}).get("tables", {}).get("parameters", []):
        if path in hashes and file_sha256(path) != hashes[path]:
            raise InputError(f"The parameter table {path} changed since the run", f"参数表 {path} 在核算之后已被修改",
                             file=path, field="dist_kind",
                             fix="Add distributions in a distribution table (--distributions), or rerun the accounting.",
                             fix_zh="请在分布表（--distributions）中给出分布，或重新核算。")
        out += [p.distribution for p in ParameterTable.from_csv(path).params.values() if p.distribution is not None]
    return out


def _refuse(key: str, en: str, zh: str, fix: str, fix_zh: str, field: str = "key") -> ConfigError:
    return ConfigError(f"Distribution '{key}': {en}", f"分布 '{key}'：{zh}", field=field, fix=fix, fix_zh=fix_zh)


# ---------------------------------------------------------------- what a run uses


def _users(key: str, methods: Mapping[str, str]) -> list[str]:
    """Indicators of the run whose method declares ``key`` or whose quantity module names it."""
    from qingshan.indicators import registry

    reg, out = registry(), []
    for ind, mid in methods.items():
        m = reg.get(ind).method(mid)
        declared = {p.key for p in m.params if not getattr(p, "per_class", False)}
        if key in declared or f'"{key}"' in _module_text(m.function.partition(":")[0]):
            out.append(ind)
    return out


@functools.lru_cache(maxsize=64)
def _module_text(module: str) -> str:
    try:
        return inspect.getsource(importlib.import_module(module))
    except (OSError, TypeError, ImportError):
        return ""


def classify(d: Distribution, methods: Mapping[str, str], parameters: Mapping[str, Mapping[str, Any]]) -> str:
    """``price``, ``linear`` or ``recompute`` for one distribution, or a bilingual refusal."""
    if not d.key.startswith(PARAM):
        return "price"
    key = d.key.removeprefix(PARAM)
    fix, fix_zh = "Use param:KEY with a key of the run's parameters.", "请使用 param:参数名，参数名须为本次核算的参数。"
    if "@" in key:
        raise _refuse(d.key, "a parameter distribution applies to the whole run (no @YEAR or @REGION)",
                      "参数分布适用于整个核算（不支持 @年份 或 @区划）", fix, fix_zh)
    if key not in parameters:
        raise _refuse(d.key, "the run has no scalar parameter of that name (per-class land-cover coefficients are "
                      "not supported)", "本次核算没有该标量参数（不支持土地覆被分类系数）", fix, fix_zh)
    unit = str(parameters[key].get("unit", ""))
    if d.unit is not None and d.unit != unit:
        raise _refuse(d.key, f"is in {d.unit} but the run's parameter is in {unit}",
                      f"单位为 {d.unit}，而本次核算的参数单位为 {unit}", "Give the distribution in the parameter's unit.",
                      "请用参数的单位给出分布。", field="unit")
    users = _users(key, methods)
    if not users:
        raise _refuse(d.key, "no method of this run uses that parameter", "本次核算的方法均未使用该参数",
                      "Remove the row, or give a parameter the run's methods use.", "请删除该行，或给出核算方法使用的参数。")
    lin = LINEAR_PARAMETERS.get(key, ())
    covered = {u.indicator for u in lin if methods.get(u.indicator) in u.methods}
    if set(users) <= covered:
        if d.minimum <= 0 and d.kind != "lognormal":  # a lognormal draws > 0 only
            raise _refuse(d.key, "a parameter that scales quantities must stay > 0, but this distribution can draw "
                          f"{d.minimum:g} or less", f"按比例缩放物质量的参数须 > 0，而该分布可能取到 ≤ {d.minimum:g} 的值",
                          "Use lognormal, or a uniform/triangular range above 0.", "请使用对数正态分布，或取值均大于 0 的均匀/三角分布。")
        return "linear"
    return "recompute"


# ---------------------------------------------------------------- recomputation on the engine


class Recompute:
    """The run's indicators that use some parameters, recomputed for given parameter values (one year),
    on the engine (:func:`qingshan.engine.blockwise.compute_blockwise`, local threads, the run's block size)."""

    def __init__(self, config_json: str, indicators: Sequence[str], year: int) -> None:
        from qingshan.engine import run as R
        from qingshan.engine.config import RunConfig

        self.config = RunConfig.model_validate(json.loads(config_json))
        full = R.plan(self.config)
        self.plan = R.Plan(full.profile, tuple((s, m) for s, m in full.items if s.id in set(indicators)), full.excluded)
        self.tables = R.load_tables(self.config, self.plan)
        self.regions = R.load_regions(self.config)
        self.year = year
        self.year_config = self.config.model_copy(update={"run": self.config.run.model_copy(update={"years": [year]})})
        self.leaves = {r.code for r in self.regions} - {r.parent for r in self.regions if r.parent}

    def leaf_rows(self, tables: Any) -> pd.DataFrame:
        """Physical leaf rows of the year with ``tables`` (the drawn parameters)."""
        from qingshan.engine.blockwise import compute_blockwise

        leaf, _, _ = compute_blockwise(self.year_config, self.plan, tables, self.regions,
                                       block_size=self.config.run.block_size)
        return leaf

    def values(self, overrides: Mapping[str, float]) -> pd.DataFrame:
        """Valued leaf-region rows (region_code, indicator, component, ecosystem, value) at ``overrides``."""
        from qingshan.engine import run as R
        from qingshan.engine.valuation import value_rows

        scalars = self.tables.params.scalars.with_overrides(dict(overrides))
        tables = replace(self.tables, params=replace(self.tables.params, scalars=scalars), cap_report=[])
        leaf = self.leaf_rows(tables)
        base_year = self.config.run.base_year or self.config.run.years[0]
        valued, _ = value_rows(leaf, prices=tables.prices, regions=self.regions, base_year=base_year,
                               deflator=tables.deflator)
        res = R._roll_up_valued(valued, self.regions)
        res = res[(res["year"] == self.year) & res["region_code"].isin(self.leaves) & res["value"].notna()]
        return res[["region_code", "indicator", "component", "ecosystem", "value"]].reset_index(drop=True)


@functools.lru_cache(maxsize=4)
def _recompute(config_json: str, indicators: tuple[str, ...], year: int) -> Recompute:
    return Recompute(config_json, indicators, year)


def _remote_values(config_json: str, indicators: tuple[str, ...], year: int, overrides: dict[str, float]) -> pd.DataFrame:
    """One draw on a Dask worker (the engine state is built once per worker process)."""
    return _recompute(config_json, indicators, year).values(overrides)


# ---------------------------------------------------------------- the model of a run's year

KEYS = ["region_code", "indicator", "component", "ecosystem"]


@dataclass
class Model:
    """Totals of a run's year as a function of the uncertain inputs (see the module docstring).

    ``base``: the run's totals (region_code, indicator, value; ``GEP`` per region) [CNY];
    ``weights``: totals × leaf rows membership; ``leaf``: the year's valued leaf rows; ``factors``:
    (distribution, leaf rows, reference value per row, power); ``nominal``: each input's run value."""

    base: pd.DataFrame
    weights: sparse.csr_matrix
    leaf: pd.DataFrame
    dists: list[Distribution]
    handling: list[str]
    nominal: np.ndarray
    factors: list[tuple[int, np.ndarray, np.ndarray, int]]
    year: int
    recompute: tuple[str, tuple[str, ...]] | None = None
    client: Any = None
    v0: np.ndarray = field(default_factory=lambda: np.zeros(0))
    evaluations: int = 0

    def _rows(self, x: np.ndarray) -> np.ndarray:
        """Leaf values (rows × draws) at parameter draws ``x`` (distributions × draws)."""
        n = x.shape[1]
        if self.recompute is None:
            return np.repeat(self.v0[:, None], n, axis=1)
        keys = [i for i, h in enumerate(self.handling) if h == "recompute"]
        overrides = [{self.dists[i].key.removeprefix(PARAM): float(x[i, j]) for i in keys} for j in range(n)]
        cfg, inds = self.recompute
        if self.client is not None:
            futures = self.client.map(SameCode.of(_remote_values), [cfg] * n, [inds] * n, [self.year] * n, overrides, pure=False)
            frames = self.client.gather(futures)
        else:
            frames = [_recompute(cfg, inds, self.year).values(o) for o in overrides]
        self.evaluations += n
        return np.column_stack([self._align(f) for f in frames])

    def _align(self, rows: pd.DataFrame) -> np.ndarray:
        """Recomputed rows onto the leaf rows (rows of other indicators keep their stored value)."""
        _cfg, inds = self.recompute  # type: ignore[misc]
        out = self.v0.copy()
        mine = self.leaf["indicator"].isin(inds).to_numpy()
        out[mine] = 0.0
        pos = pd.Series(np.arange(len(self.leaf)), index=pd.MultiIndex.from_frame(self.leaf[KEYS].astype(str)))
        idx = pd.MultiIndex.from_frame(rows[KEYS].astype(str))
        extra = ~idx.isin(pos.index)
        if extra.any():
            r = rows[extra].iloc[0]
            raise ConfigError(
                f"A draw gives a value the run does not have ({r['indicator']}.{r['component']}, {r['region_code']}, "
                f"{r['ecosystem']})", f"某次抽样产生了本次核算没有的价值量（{r['indicator']}.{r['component']}，{r['region_code']}）",
                field="key", fix="Narrow the parameter's distribution to values the method handles like the run's.",
                fix_zh="请收窄该参数的分布。")
        out[pos.loc[idx].to_numpy()] = rows["value"].to_numpy(float)
        return out

    def active(self) -> np.ndarray:
        """Leaf rows an input can change (rows of a price or linear factor, rows of recomputed indicators)."""
        mask = np.zeros(len(self.leaf), dtype=bool)
        for _, rows, _, _ in self.factors:
            mask[rows] = True
        if self.recompute is not None:
            mask |= self.leaf["indicator"].isin(self.recompute[1]).to_numpy()
        return np.flatnonzero(mask)

    def factor(self, x: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Product of the price and linear factors (leaf rows, or only ``rows``, × draws)."""
        pos = np.arange(len(self.leaf)) if rows is None else rows
        where = np.full(len(self.leaf), -1)
        where[pos] = np.arange(len(pos))
        f = np.ones((len(pos), x.shape[1]))
        for d, frows, ref, power in self.factors:
            keep = where[frows] >= 0
            r = x[d][None, :] / ref[keep][:, None]
            f[where[frows[keep]]] *= r if power == 1 else r ** power
        return f

    def totals(self, x: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
        """Totals (groups × draws) for input draws ``x`` (distributions × draws) [CNY]; rows no input
        changes contribute exactly 0 and are skipped."""
        rows = self.active()
        w = (self.weights if groups is None else self.weights[groups])[:, rows]
        base = self.base["value"].to_numpy(float)
        base = base if groups is None else base[groups]
        v0 = self.v0[rows]
        step = max(1, 4_000_000 // max(len(rows), 1))  # bound the rows × draws work arrays (~32 MB)
        parts = []
        for i in range(0, x.shape[1], step):
            xi = x[:, i:i + step]
            parts.append(base[:, None] + w @ (self._rows(xi)[rows] * self.factor(xi, rows) - v0[:, None]))
        return np.asarray(np.hstack(parts)) if parts else np.zeros((len(base), 0))


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


def _price_factors(leaf: pd.DataFrame, dists: Sequence[Distribution], handling: Sequence[str], year: int,
                   anc: Mapping[str, list[str]]) -> tuple[list[tuple[int, np.ndarray, np.ndarray, int]], dict[int, float]]:
    index = {d.key: i for i, (d, h) in enumerate(zip(dists, handling, strict=True)) if h == "price"}
    rows_of: dict[int, list[int]] = {i: [] for i in index.values()}
    for j, (key, code) in enumerate(zip(_leaf_keys(leaf), leaf["region_code"].astype(str), strict=True)):
        di = None if key is None else _dist_for(index, key, year, [code, *anc.get(code, [])])
        if di is not None:
            rows_of[di].append(j)
    out, nominal = [], {}
    for di, rows in rows_of.items():
        mine = leaf.iloc[rows]
        _check_price_rows(mine, dists[di], year)
        out.append((di, np.array(rows, dtype=int), mine["price"].to_numpy(float), 1))
        nominal[di] = float(mine["price"].iloc[0])
    return out, nominal


def _check_price_rows(mine: pd.DataFrame, d: Distribution, year: int) -> None:
    """A price distribution values some rows, all at one run price and in its unit."""
    if mine.empty:
        raise ConfigError(
            f"No value of year {year} uses the price '{d.key}'", f"{year} 年没有任何价值量使用价格 '{d.key}'",
            field="key", fix="Use a price_key listed in the run's provenance (key, key@YEAR or key@YEAR@REGION), "
                             "or param:KEY for a parameter.",
            fix_zh="请使用核算来源记录中列出的 price_key（key、key@年份 或 key@年份@区划），参数请用 param:参数名。")
    prices = sorted({float(p) for p in mine["price"]})
    if prices[-1] - prices[0] > 1e-9 * max(abs(prices[-1]), 1.0):
        raise ConfigError(
            f"Price '{d.key}' has several run values in {year} ({', '.join(f'{p:g}' for p in prices)}): "
            "one absolute distribution cannot describe them",
            f"价格 '{d.key}' 在 {year} 年有多个取值（{', '.join(f'{p:g}' for p in prices)}），不能用同一个分布描述",
            field="key", fix="Give one distribution per region: key@YEAR@REGION.", fix_zh="请按区划分别给出分布：key@年份@区划。")
    units = set(mine["price_unit"].dropna().astype(str))
    if d.unit is not None and units != {d.unit}:
        raise ConfigError(
            f"Distribution '{d.key}' is in {d.unit} but the run's price is in {', '.join(sorted(units))}",
            f"分布 '{d.key}' 的单位为 {d.unit}，而本次核算的价格单位为 {', '.join(sorted(units))}",
            field="unit", fix="Give the distribution in the run's price unit.", fix_zh="请用核算价格的单位给出分布。")


def _linear_factors(leaf: pd.DataFrame, dists: Sequence[Distribution], handling: Sequence[str],
                    methods: Mapping[str, str], parameters: Mapping[str, Mapping[str, Any]]
                    ) -> list[tuple[int, np.ndarray, np.ndarray, int]]:
    out = []
    for di, (d, h) in enumerate(zip(dists, handling, strict=True)):
        if h != "linear":
            continue
        key = d.key.removeprefix(PARAM)
        run_value = float(parameters[key]["value"])
        for u in LINEAR_PARAMETERS[key]:
            if methods.get(u.indicator) not in u.methods:
                continue
            rows = np.flatnonzero(((leaf["indicator"] == u.indicator) & (leaf["component"] == u.component)).to_numpy())
            if len(rows):
                out.append((di, rows, np.full(len(rows), run_value), u.power))
    return out


def build_model(cube: pd.DataFrame, regions: pd.DataFrame, dists: Sequence[Distribution], year: int, *,
                methods: Mapping[str, str] | None = None, parameters: Mapping[str, Mapping[str, Any]] | None = None,
                config: Mapping[str, Any] | None = None, client: Any = None) -> Model:
    """The model of a run's ``year`` (cube rows as stored, regions with code/parent, the run's
    provenance ``methods`` and ``parameters``, its stored ``config`` for recomputation)."""
    methods, parameters = dict(methods or {}), dict(parameters or {})
    handling = [classify(d, methods, parameters) for d in dists]
    rows = cube[(cube["year"] == year) & cube["value"].notna()]
    base_ind = rows.groupby(["region_code", "indicator"], as_index=False)["value"].sum()
    base_gep = rows.groupby(["region_code"], as_index=False)["value"].sum().assign(indicator="GEP")
    base = pd.concat([base_ind, base_gep], ignore_index=True)[["region_code", "indicator", "value"]]
    anc = _ancestors(regions)
    leaves = set(regions["code"]) - set(regions["parent"].dropna())
    leaf = rows[rows["region_code"].isin(leaves)].reset_index(drop=True)
    factors, nominal_p = _price_factors(leaf, dists, handling, year, anc)
    factors += _linear_factors(leaf, dists, handling, methods, parameters)
    nominal = np.array([nominal_p.get(i, float(parameters.get(d.key.removeprefix(PARAM), {}).get("value", d.location)))
                        for i, d in enumerate(dists)])
    pos = {(g.region_code, g.indicator): k for k, g in enumerate(base.itertuples(index=False))}
    r_i, c_i = [], []
    for j, (code, ind) in enumerate(zip(leaf["region_code"], leaf["indicator"], strict=True)):
        for c in [code, *anc.get(code, [])]:
            for group in ((c, ind), (c, "GEP")):
                if group in pos:
                    r_i.append(pos[group])
                    c_i.append(j)
    w = sparse.csr_matrix((np.ones(len(r_i)), (r_i, c_i)), shape=(len(base), len(leaf)))
    model = Model(base, w, leaf, list(dists), handling, nominal, factors, year, client=client,
                  v0=leaf["value"].to_numpy(float))
    if "recompute" in handling:
        _attach_recompute(model, methods, config)
    return model


def _attach_recompute(model: Model, methods: Mapping[str, str], config: Mapping[str, Any] | None) -> None:
    """Recompute the users of the recomputed parameters; ``v0`` becomes the engine's values at the run's parameters."""
    if not config:
        raise ConfigError("Recomputing parameters needs the run's stored configuration", "重新计算参数需要核算记录中保存的配置",
                          field="config", fix="Use a run recorded by `qingshan account`.", fix_zh="请使用 `qingshan account` 记录的核算。")
    inds = sorted({u for d, h in zip(model.dists, model.handling, strict=True) if h == "recompute"
                   for u in _users(d.key.removeprefix(PARAM), methods)})
    cfg = json.dumps(dict(config), sort_keys=True, default=str)
    model.recompute = (cfg, tuple(inds))
    at_run = {d.key.removeprefix(PARAM): float(v) for d, h, v in zip(model.dists, model.handling, model.nominal,
                                                                     strict=True) if h == "recompute"}
    v0 = model._align(_recompute(cfg, model.recompute[1], model.year).values(at_run))
    stored = model.leaf["value"].to_numpy(float)
    bad = ~np.isclose(v0, stored, rtol=1e-6, atol=1e-6)
    if bad.any():
        r = model.leaf.iloc[int(np.flatnonzero(bad)[0])]
        raise InputError(
            f"Recomputing the run at its own parameters does not reproduce it ({r['indicator']}.{r['component']} in "
            f"{r['region_code']}: {v0[bad][0]:.6g} vs {stored[bad][0]:.6g} stored); its inputs or code changed",
            f"以核算自身的参数重新计算未能复现结果（{r['indicator']}.{r['component']}，{r['region_code']}）；输入或代码已改变",
            field="config", fix="Rerun the accounting with the current inputs, then analyse the new run.",
            fix_zh="请用当前输入重新核算，再分析新的核算记录。")
    model.v0 = v0


# ---------------------------------------------------------------- Monte Carlo and sensitivity


def _pcol(p: float) -> str:
    return f"p{p:g}"


def monte_carlo(model: Model, *, draws: int, seed: int, percentiles: Sequence[float] = PERCENTILES) -> pd.DataFrame:
    """Intervals of every total: ``region_code, indicator, value`` (the run's), ``mean`` and ``p<q>`` for
    each percentile over ``draws`` draws [CNY], reproducible for a given ``seed`` (numpy default_rng)."""
    limit = MAX_RECOMPUTE_DRAWS if model.recompute else MAX_DRAWS
    if not 1 <= draws <= limit:
        raise ConfigError(f"--draws must be between 1 and {limit} (got {draws})", f"抽样次数须在 1 到 {limit} 之间（为 {draws}）",
                          field="draws", fix="Use e.g. --draws 1000 (parameters recomputed on the engine: a few dozen).",
                          fix_zh="例如使用 --draws 1000（需重新计算的参数：几十次即可）。")
    if seed < 0:
        raise ConfigError(f"--seed must be ≥ 0 (got {seed})", f"随机种子须 ≥ 0（为 {seed}）", field="seed",
                          fix="Use e.g. --seed 1.", fix_zh="例如使用 --seed 1。")
    for p in percentiles:
        if not 0 <= p <= 100:
            raise ConfigError(f"Percentile {p:g} is outside 0–100", f"百分位数 {p:g} 不在 0–100 之间", field="percentile",
                              fix="Give percentiles such as 2.5 and 97.5.", fix_zh="例如 2.5 和 97.5。")
    rng = np.random.default_rng(seed)
    x = np.vstack([d.draw(rng, draws) for d in model.dists])
    t = model.totals(x)
    out = model.base.copy()
    out["mean"] = t.mean(axis=1)
    for p in sorted(set(PERCENTILES) | set(percentiles)):
        out[_pcol(p)] = np.percentile(t, p, axis=1)
    return out.sort_values(["region_code", "indicator"]).reset_index(drop=True)


def sobol(dists: Sequence[Distribution], func: Any, *, n: int = 1024, seed: int = 0, outputs: Sequence[str] = ("y",)
          ) -> pd.DataFrame:
    """First-order (S1) and total (ST) Sobol indices of ``func`` (samples × inputs → samples [× outputs])
    with SALib (Saltelli sampling, ``SALib.sample.sobol``; ``SALib.analyze.sobol``), sorted by ST.

    Zero-width inputs are held at their value and get indices 0; a constant output gives all 0.
    With several ``outputs`` (columns of ``func``'s result) the table has an ``output`` column."""
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    live = [i for i, d in enumerate(dists) if not d.width_zero]
    frames = []
    y = None
    problem: dict[str, Any] = {}
    if live:
        specs = [dists[i].salib() for i in live]
        problem = {"num_vars": len(live), "names": [dists[i].key for i in live],
                   "bounds": [b for _, b in specs], "dists": [k for k, _ in specs]}
        xs = sobol_sample.sample(problem, n, calc_second_order=False, seed=seed)
        full = np.tile(np.array([d.location for d in dists], dtype=float), (len(xs), 1))
        full[:, live] = xs
        y = np.asarray(func(full), dtype=float).reshape(len(xs), -1)
    for k, out in enumerate(outputs):
        table = pd.DataFrame({"output": out, "key": [d.key for d in dists], "S1": 0.0, "S1_conf": 0.0, "ST": 0.0,
                              "ST_conf": 0.0})
        if y is not None and np.ptp(y[:, k]) > 0:
            res = sobol_analyze.analyze(problem, y[:, k], calc_second_order=False, seed=seed, print_to_console=False)
            for col in ("S1", "S1_conf", "ST", "ST_conf"):
                table.loc[live, col] = np.asarray(res[col], dtype=float)
        frames.append(table.sort_values("ST", ascending=False, kind="stable"))
    out_t = pd.concat(frames, ignore_index=True)
    return out_t.drop(columns="output") if tuple(outputs) == ("y",) else out_t


def morris(dists: Sequence[Distribution], func: Any, *, r: int = 10, seed: int = 0, outputs: Sequence[str] = ("y",)
           ) -> pd.DataFrame:
    """Morris elementary effects (SALib) in quantile space :data:`MORRIS_RANGE`, mapped through each
    distribution's quantile function: ``mu_star`` (mean |effect| [output unit]: the change of the output across
    the input's 2.5–97.5 % quantile range, exactly for a linear effect), its confidence and ``sigma``."""
    from SALib.analyze import morris as morris_analyze
    from SALib.sample import morris as morris_sample

    live = [i for i, d in enumerate(dists) if not d.width_zero]
    frames = []
    y = q = None
    problem: dict[str, Any] = {}
    if live:
        problem = {"num_vars": len(live), "names": [dists[i].key for i in live], "bounds": [list(MORRIS_RANGE)] * len(live)}
        q = morris_sample.sample(problem, r, num_levels=4, seed=seed)
        full = np.tile(np.array([d.location for d in dists], dtype=float), (len(q), 1))
        for j, i in enumerate(live):
            full[:, i] = dists[i].ppf(q[:, j])
        y = np.asarray(func(full), dtype=float).reshape(len(q), -1)
    for k, out in enumerate(outputs):
        table = pd.DataFrame({"output": out, "key": [d.key for d in dists], "mu_star": 0.0, "mu_star_conf": 0.0,
                              "sigma": 0.0})
        if y is not None and np.ptp(y[:, k]) > 0:
            res = morris_analyze.analyze(problem, q, y[:, k], num_levels=4, seed=seed, print_to_console=False)
            for col in ("mu_star", "mu_star_conf", "sigma"):
                table.loc[live, col] = np.asarray(res[col], dtype=float)
        frames.append(table.sort_values("mu_star", ascending=False, kind="stable"))
    out_t = pd.concat(frames, ignore_index=True)
    return out_t.drop(columns="output") if tuple(outputs) == ("y",) else out_t


def _outputs(model: Model, region: str) -> tuple[np.ndarray, list[str]]:
    b = model.base
    k = b.index[b["region_code"] == region]
    if len(k) == 0:
        raise InputError(f"Region '{region}' has no total in year {model.year}", f"区域 '{region}' 在 {model.year} 年没有合计",
                         field="region", fix="Give a region code of the run.", fix_zh="请给出本次核算中的区划代码。")
    order = sorted(k, key=lambda i: (b.at[i, "indicator"] != "GEP", b.at[i, "indicator"]))
    return np.array(order), [str(b.at[i, "indicator"]) for i in order]


def sensitivity(model: Model, region: str, *, method: str | None = None, n: int = 1024, r: int = 10,
                seed: int = 0) -> pd.DataFrame:
    """Ranking of the inputs for ``region``'s GEP and each of its indicators (long table with ``output``,
    ``method``, ``score`` (ST or mu_star) and ``rank``)."""
    groups, names = _outputs(model, region)
    method = method or ("morris" if model.recompute else "sobol")
    if method not in ("sobol", "morris"):
        raise ConfigError(f"Unknown sensitivity method '{method}'", f"未知的敏感性分析方法 '{method}'", field="method",
                          fix="Use sobol or morris.", fix_zh="请使用 sobol 或 morris。")

    def func(x: np.ndarray) -> np.ndarray:
        return model.totals(x.T, groups).T

    if method == "sobol":
        t = sobol(model.dists, func, n=n, seed=seed, outputs=names).assign(method="sobol")
        t["score"] = t["ST"]
    else:
        if r < 2:
            raise ConfigError(f"Morris needs at least 2 trajectories (got {r})", f"Morris 方法至少需要 2 条轨迹（为 {r}）",
                              field="morris_r", fix="Use e.g. --morris-r 10.", fix_zh="例如使用 --morris-r 10。")
        t = morris(model.dists, func, r=r, seed=seed, outputs=names).assign(method="morris")
        t["score"] = t["mu_star"]
    t["rank"] = t.groupby("output").cumcount() + 1
    return t.reset_index(drop=True)


def swing(model: Model, region: str, *, low: float = 0.05, high: float = 0.95) -> pd.DataFrame:
    """Tornado table: each output of ``region`` with one input at its ``low`` and ``high`` quantile, the others at the run's values."""
    groups, names = _outputs(model, region)
    n = len(model.dists)
    x = np.repeat(model.nominal[:, None], 2 * n, axis=1)
    for i, d in enumerate(model.dists):
        x[i, 2 * i], x[i, 2 * i + 1] = float(d.ppf(low)), float(d.ppf(high))
    t = model.totals(x, groups)
    rows = []
    for g, name in enumerate(names):
        for i, d in enumerate(model.dists):
            rows.append({"output": name, "key": d.key, "base": float(model.base["value"].iloc[groups[g]]),
                         "low": float(t[g, 2 * i]), "high": float(t[g, 2 * i + 1]),
                         "input_low": float(x[i, 2 * i]), "input_high": float(x[i, 2 * i + 1])})
    out = pd.DataFrame(rows)
    out["width"] = (out["high"] - out["low"]).abs()
    return out.sort_values(["output", "width"], ascending=[True, False], kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------- a stored run


@dataclass(frozen=True)
class RunUncertainty:
    """Result of :func:`run_uncertainty`: intervals of every total, the ranking of ``region``'s GEP
    (``sensitivity``; every output in ``sensitivity_all``), the tornado table ``swing``, the inputs
    and how each was handled (``inputs``) and the settings (``meta``)."""

    intervals: pd.DataFrame
    sensitivity: pd.DataFrame
    region: str
    year: int
    sensitivity_all: pd.DataFrame = field(default_factory=pd.DataFrame)
    swing: pd.DataFrame = field(default_factory=pd.DataFrame)
    inputs: pd.DataFrame = field(default_factory=pd.DataFrame)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (tables as lists of records; NaN as null)."""
        def rec(df: pd.DataFrame) -> list[dict[str, Any]]:
            return json.loads(df.to_json(orient="records", force_ascii=False))

        return {"meta": self.meta, "region": self.region, "year": self.year, "intervals": rec(self.intervals),
                "sensitivity": rec(self.sensitivity_all), "swing": rec(self.swing), "inputs": rec(self.inputs)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunUncertainty:
        sens = pd.DataFrame(data.get("sensitivity", []))
        region, year = str(data["region"]), int(data["year"])
        gep = sens[sens["output"] == "GEP"].drop(columns="output").reset_index(drop=True) if not sens.empty else sens
        return cls(pd.DataFrame(data["intervals"]), gep, region, year, sens, pd.DataFrame(data.get("swing", [])),
                   pd.DataFrame(data.get("inputs", [])), dict(data.get("meta", {})))


def _merge(table: Sequence[Distribution], given: Sequence[Distribution]) -> list[Distribution]:
    keys = {d.key for d in given}
    return [*(d for d in table if d.key not in keys), *given]


def run_uncertainty(factory: Any, run_id: str, dists: Sequence[Distribution] = (), *, draws: int, seed: int,
                    year: int | None = None, sobol_n: int = 1024, method: str | None = None, morris_r: int = 10,
                    param_tables: bool = False, percentiles: Sequence[float] = PERCENTILES, client: Any = None
                    ) -> RunUncertainty:
    """Monte Carlo intervals, the sensitivity ranking and the tornado table of the top region for a
    stored run (``year``: the run's latest by default; ``param_tables``: add the distributions of the
    run's parameter tables; ``client``: a ``dask.distributed`` client for recomputed draws)."""
    from qingshan.use.runs import load_run

    run, cube, regions = load_run(factory, run_id)
    years = sorted(run.years)
    y = years[-1] if year is None else year
    if y not in years:
        raise InputError(f"Run '{run_id}' has no year {y}", f"核算记录 '{run_id}' 没有 {y} 年的结果", field="year",
                         fix=f"Years of this run: {', '.join(map(str, years))}.",
                         fix_zh=f"本次核算的年份：{', '.join(map(str, years))}。")
    all_d = _merge(table_distributions(run) if param_tables else [], list(dists))
    if not all_d:
        raise ConfigError("No distribution given", "未给出任何分布", field="distributions",
                          fix="Give --distributions FILE, or dist_* columns in the run's parameter tables with --param-tables.",
                          fix_zh="请给出 --distributions 分布表，或在参数表中填写 dist_* 列并使用 --param-tables。")
    prov = run.provenance or {}
    model = build_model(cube, regions, all_d, y, methods=prov.get("methods", {}), parameters=prov.get("parameters", {}),
                        config=run.config, client=client)
    top = str(regions.loc[regions["parent"].isna(), "code"].iloc[0])
    iv = monte_carlo(model, draws=draws, seed=seed, percentiles=percentiles)
    sens = sensitivity(model, top, method=method, n=sobol_n, r=morris_r, seed=seed)
    gep = sens[sens["output"] == "GEP"].drop(columns="output").reset_index(drop=True)
    sw = swing(model, top)
    inputs = pd.DataFrame([{"key": d.key, "kind": d.kind, "a": d.a, "b": d.b, "c": d.c, "source": d.source,
                            "unit": d.unit, "handling": h, "run_value": v}
                           for d, h, v in zip(model.dists, model.handling, model.nominal, strict=True)])
    meta = {"run_id": run_id, "year": y, "region": top, "draws": draws, "seed": seed,
            "method": str(sens["method"].iloc[0]) if len(sens) else method, "sobol_n": sobol_n, "morris_r": morris_r,
            "percentiles": sorted(set(PERCENTILES) | set(percentiles)), "evaluations": model.evaluations,
            "recomputed_indicators": list(model.recompute[1]) if model.recompute else []}
    meta["id"] = analysis_id(run_id, inputs, meta)
    return RunUncertainty(iv, gep, top, y, sens, sw, inputs, meta)


def analysis_id(run_id: str, inputs: pd.DataFrame, meta: Mapping[str, Any]) -> str:
    """Content id of an analysis: the run, the inputs and the settings (same request → same id)."""
    keys = ("year", "draws", "seed", "method", "sobol_n", "morris_r", "percentiles")
    text = json.dumps({"run": run_id, "inputs": json.loads(inputs.to_json(orient="records")),
                       **{k: meta.get(k) for k in keys}}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
