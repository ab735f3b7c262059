"""Plausibility bounds of scalar parameters (参数合理性检查), kept as data.

A share typed in percent (``reservoir_flood_share = 35`` for 0.35, ``nep_npp_ratio = 50`` for 0.5) ran
silently with the Jiangxi example: flood regulation × 17, carbon sequestration and oxygen release × 100
(GEP + 16 % and + 444 %). The bounds table (default ``src/qingshan/data/tables/parameter_bounds.csv``,
columns ``param_key, unit, lower, upper, source``) gives the definitional range of each parameter that is a
fraction or share; the value, converted from the parameter's unit into the bound's ``unit``, must lie
within ``[lower, upper]``. A parameter out of bounds is an :class:`~qingshan.core.errors.InputError`
naming the parameter table (or the run config for a ``[parameters]`` override), the key and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from qingshan.core.errors import InputError, QingshanError
from qingshan.core.params import ParameterTable
from qingshan.core.tables import parse_bounds, read_csv_rows
from qingshan.core.units import conversion_factor

__all__ = ["ParameterBound", "check_parameter_bounds", "parameter_bounds"]


@dataclass(frozen=True)
class ParameterBound:
    """One row of the bounds table."""

    key: str
    unit: str
    lower: float | None
    upper: float | None
    source: str


def parameter_bounds(path: str | Path | None = None) -> dict[str, ParameterBound]:
    """Bounds by parameter key (default: the table shipped with Qingshan)."""
    path = path or Path(str(resources.files("qingshan.data") / "tables" / "parameter_bounds.csv"))
    what_zh = "参数合理范围表"
    table = read_csv_rows(path, ["param_key", "unit", "lower", "upper", "source"], what="parameter bounds table",
                          what_zh=what_zh)  # as text: no pandas on a command's start-up path (tests/engine/test_startup.py)
    out = {}
    for line, r in enumerate(table.records(), start=2):
        lo, hi = parse_bounds(r, path=path, line=line, what_zh=what_zh)
        key = str(r["param_key"]).strip()
        out[key] = ParameterBound(key, str(r["unit"]).strip() or "1", lo, hi, str(r["source"]))
    return out


def check_parameter_bounds(params: ParameterTable, *, config_path: str | Path | None = None,
                           bounds: dict[str, ParameterBound] | None = None) -> None:
    """Refuse a parameter of ``params`` outside its bounds (see module docstring).

    ``config_path`` is named for values overridden in the run config (certainty ``user``).
    """
    bounds = parameter_bounds() if bounds is None else bounds
    for key, p in params.params.items():
        b = bounds.get(key)
        if b is None:
            continue
        try:
            value = p.value * conversion_factor(p.unit, b.unit)
        except QingshanError:
            continue  # the method reading it converts (and names a wrong unit itself)
        if (b.lower is None or value >= b.lower) and (b.upper is None or value <= b.upper):
            continue
        rng = f"[{'' if b.lower is None else f'{b.lower:g}'}, {'' if b.upper is None else f'{b.upper:g}'}] {b.unit}"
        override = p.certainty == "user"
        pct = " (a percent written where a fraction is expected?)" if b.upper is not None and b.upper <= 1 < value <= 100 else ""
        pct_zh = "（是否把百分数当作了比例？）" if pct else ""
        raise InputError(
            f"Parameter '{key}' = {p.value:g} {p.unit} is outside its plausible range {rng}{pct} ({b.source})",
            f"参数 '{key}' = {p.value:g} {p.unit}，超出合理范围 {rng}{pct_zh}",
            file=config_path if override and config_path else params.path,
            field=f"parameters.{key}" if override else key,
            fix=f"Write '{key}' as a fraction: {p.value:g} % is {p.value / 100:g}." if pct else
                f"Check the value and unit of '{key}'.",
            fix_zh=f"请将 '{key}' 写为比例：{p.value:g}% 即 {p.value / 100:g}。" if pct else f"请检查 '{key}' 的数值和单位。",
        )
