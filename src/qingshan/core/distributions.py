"""Probability distributions of uncertain inputs (prices and parameters) 不确定输入的概率分布.

One distribution: ``kind`` with parameters ``a, b[, c]`` in the input's own unit, and its ``source``:

=============  ===========================  ======================  ==============
kind           a                            b                       c
=============  ===========================  ======================  ==============
normal         mean                         standard deviation ≥ 0  –
lognormal      median > 0                   σ of ln(value) ≥ 0 [1]  –
uniform        minimum                      maximum ≥ a             –
triangular     minimum                      mode (a ≤ b ≤ c)        maximum
=============  ===========================  ======================  ==============

Used by distribution tables (``qingshan.use.uncertainty``) and by the optional distribution columns
of parameter tables (:class:`qingshan.core.params.ParameterTable`). Bad values are
:class:`~qingshan.core.errors.ConfigError` naming the row and field in English and Chinese.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qingshan.core.errors import ConfigError

__all__ = ["KINDS", "Distribution", "parse_distribution"]

KINDS = ("normal", "lognormal", "uniform", "triangular")


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

    @property
    def location(self) -> float:
        """The value a zero-width distribution draws (mean, median, minimum or mode)."""
        return self.b if self.kind == "triangular" else self.a

    @property
    def minimum(self) -> float:
        """Lowest value the distribution can draw (−inf for a normal one of non-zero width)."""
        if self.width_zero:
            return self.location
        if self.kind == "normal":
            return -math.inf
        return 0.0 if self.kind == "lognormal" else self.a

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` draws [input unit]; a zero-width distribution gives exactly its location."""
        if self.width_zero:
            return np.full(n, self.location, dtype=float)
        if self.kind == "normal":
            return rng.normal(self.a, self.b, n)
        if self.kind == "lognormal":
            return self.a * np.exp(rng.normal(0.0, self.b, n))
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b, n)
        return rng.triangular(self.a, self.b, float(self.c), n)  # type: ignore[arg-type]

    def ppf(self, q: np.ndarray | float) -> np.ndarray:
        """Quantile function (scipy.stats) at probabilities ``q``; the location for a zero-width one."""
        from scipy import stats

        q = np.asarray(q, dtype=float)
        if self.width_zero:
            return np.full(q.shape, self.location)
        if self.kind == "normal":
            return np.asarray(stats.norm.ppf(q, self.a, self.b))
        if self.kind == "lognormal":
            return np.asarray(stats.lognorm.ppf(q, self.b, scale=self.a))
        if self.kind == "uniform":
            return np.asarray(stats.uniform.ppf(q, self.a, self.b - self.a))
        c = float(self.c)  # type: ignore[arg-type]
        return np.asarray(stats.triang.ppf(q, (self.b - self.a) / (c - self.a), self.a, c - self.a))

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


FIX = ("Kinds and parameters: normal a=mean b=sd; lognormal a=median>0 b=σ of ln; uniform a=min b=max; "
       "triangular a=min b=mode c=max; give a source.")
FIX_ZH = ("分布类型与参数：normal a=均值 b=标准差；lognormal a=中位数>0 b=对数标准差；uniform a=最小 b=最大；"
          "triangular a=最小 b=众数 c=最大；并注明来源。")


def _bad(row: int, field: str, en: str, zh: str, file: str | Path | None) -> ConfigError:
    return ConfigError(f"Distribution row {row}: {en}", f"分布表第 {row} 行：{zh}", file=file, field=field,
                       fix=FIX, fix_zh=FIX_ZH)


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


def _text(v: Any) -> str:
    s = "" if v is None else str(v).strip()
    return "" if s.lower() == "nan" else s


def parse_distribution(r: Mapping[str, Any], row: int, file: str | Path | None = None, *,
                       names: Mapping[str, str] | None = None) -> Distribution:
    """Check one row (``key, kind, a, b, c, source[, unit]``) and return its :class:`Distribution`.

    ``names`` maps these field names to the row's own column names (e.g. ``{"kind": "dist_kind"}``
    in a parameter table), so that errors name the column the user sees."""
    col = {f: (names or {}).get(f, f) for f in ("key", "kind", "a", "b", "c", "source", "unit")}
    key = _text(r.get(col["key"]))
    if not key:
        raise _bad(row, col["key"], f"'{col['key']}' is empty", f"'{col['key']}' 为空", file)
    kind = _text(r.get(col["kind"])).lower()
    if kind not in KINDS:
        raise _bad(row, col["kind"], f"unknown kind {kind!r} (known: {', '.join(KINDS)})",
                   f"未知的分布类型 {kind!r}（可用：{', '.join(KINDS)}）", file)
    a = _num(r.get(col["a"]), row, col["a"], file)
    b = _num(r.get(col["b"]), row, col["b"], file)
    c = _num(r.get(col["c"]), row, col["c"], file, required=kind == "triangular")
    assert a is not None and b is not None
    if kind in ("normal", "lognormal") and b < 0:
        raise _bad(row, col["b"], f"the spread b must be ≥ 0 (got {b:g})", f"离散参数 b 必须 ≥ 0（为 {b:g}）", file)
    if kind == "lognormal" and a <= 0:
        raise _bad(row, col["a"], f"a lognormal median must be > 0 (got {a:g})", f"对数正态分布的中位数必须 > 0（为 {a:g}）", file)
    if kind == "uniform" and b < a:
        raise _bad(row, col["b"], f"maximum b={b:g} is below minimum a={a:g}", f"最大值 b={b:g} 小于最小值 a={a:g}", file)
    if kind == "triangular" and not (a <= b <= float(c)):  # type: ignore[arg-type]
        raise _bad(row, col["b"], f"need a ≤ b ≤ c (got {a:g}, {b:g}, {c:g})", f"须满足 a ≤ b ≤ c（为 {a:g}、{b:g}、{c:g}）", file)
    source = _text(r.get(col["source"]))
    if not source:
        raise _bad(row, col["source"], f"'{col['source']}' is empty: say where the spread comes from",
                   f"'{col['source']}' 为空：请注明分布的来源", file)
    unit = _text(r.get(col["unit"])) or None
    return Distribution(key, kind, a, b, c, source, unit)
