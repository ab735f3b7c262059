"""Air purification (空气净化) and water purification (水质净化) capacities per cell.

Each component's per-cell quantity is the ecosystem *capacity* ``q_i × A`` with ``q_i`` the
per-area removal rate of the cell's land-cover class [kg hm-2 a-1]. The accounted quantity is
bounded per region by the emitted quantity (statistics items ``emissions.<component>``):
``Q = min(capacity, emissions)``, applied after aggregation by
:func:`qingshan.engine.caps.apply_emission_caps` (the cap is regional, not per cell).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from qingshan.core.errors import ConfigError
from qingshan.core.grid import Grid
from qingshan.core.params import ParamSet
from qingshan.quantities.base import RasterInputs, per_cell, require

__all__ = [
    "AIR_COLUMNS",
    "WATER_COLUMNS",
    "air_purification_capacity",
    "capacity_layers",
    "water_purification_capacity",
]

AIR_COLUMNS = {"so2": "so2_absorption", "nox": "nox_absorption", "dust": "dust_retention"}
"""Component → land-cover column of its per-area capacity [kg hm-2 a-1]."""

WATER_COLUMNS = {"cod": "cod_removal", "nh3n": "nh3n_removal", "tp": "tp_removal"}
"""Component → land-cover column of its per-area capacity [kg hm-2 a-1]."""


def _selected(params: ParamSet, option: str, columns: Mapping[str, str]) -> dict[str, str]:
    """The components the profile accounts (option ``option``, default all)."""
    wanted = [str(c) for c in params.option(option, list(columns))]  # type: ignore[attr-defined]
    unknown = [c for c in wanted if c not in columns]
    if unknown:
        raise ConfigError(
            f"Option '{option}' names unknown component(s) {unknown}",
            f"选项 '{option}' 中的组分 {unknown} 未知",
            field=option,
            fix=f"Use some of: {', '.join(columns)}.",
            fix_zh=f"可选组分：{', '.join(columns)}。",
        )
    return {c: columns[c] for c in wanted}


def capacity_layers(inputs: RasterInputs, params: ParamSet, grid: Grid, columns: Mapping[str, str],
                    method: str) -> dict[str, np.ndarray]:
    """Per-cell removal capacity ``q_class × cell area`` [t] for each component of ``columns``.

    NaN where ``lulc`` is nodata; a land-cover code present in the raster without a value in a
    column is an error naming the code and the column.
    """
    lulc = require(inputs, "lulc", method)
    codes = np.where(np.isfinite(lulc), lulc, -1).astype(np.int64)
    out = {}
    for comp, column in columns.items():
        rate = params.by_class(codes, column, "kg/hm2")
        if np.any(rate[codes >= 0] < 0):
            raise ConfigError(
                f"Land-cover column '{column}' has negative removal rates",
                f"土地覆被参数表列 '{column}' 含有负的净化能力",
                field=column,
                fix="Removal capacities are ≥ 0 kg hm-2 a-1; correct the table.",
                fix_zh="净化能力应 ≥ 0 kg hm-2 a-1，请修正参数表。",
            )
        out[comp] = per_cell(rate, "kg/hm2", grid, "t")
    return out


def air_purification_capacity(inputs: RasterInputs, params: ParamSet, grid: Grid) -> dict[str, np.ndarray]:
    """SO2, NOx and dust removal capacity of ecosystems per cell [t a-1].

    ``capacity = q_class × A`` with the land-cover columns ``so2_absorption``,
    ``nox_absorption``, ``dust_retention`` [kg hm-2 a-1]; components chosen by option
    ``air_purification_components`` (Jiangxi county practice: SO2 and NOx). Bounded per region by
    the statistics items ``emissions.so2``, ``emissions.nox``, ``emissions.dust``.
    """
    cols = _selected(params, "air_purification_components", AIR_COLUMNS)
    return capacity_layers(inputs, params, grid, cols, "capacity_capped")


def water_purification_capacity(inputs: RasterInputs, params: ParamSet, grid: Grid) -> dict[str, np.ndarray]:
    """COD, NH3-N and TP removal capacity of ecosystems per cell [t a-1].

    Land-cover columns ``cod_removal``, ``nh3n_removal``, ``tp_removal`` [kg hm-2 a-1];
    components chosen by option ``water_purification_components``. Bounded per region by the
    statistics items ``emissions.cod``, ``emissions.nh3n``, ``emissions.tp``.
    """
    cols = _selected(params, "water_purification_components", WATER_COLUMNS)
    return capacity_layers(inputs, params, grid, cols, "capacity_capped")
