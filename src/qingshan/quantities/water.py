"""Water conservation (水源涵养) quantity functions."""

from __future__ import annotations

import numpy as np

from qingshan.core.grid import Grid
from qingshan.core.params import ECOSYSTEMS, ParamSet
from qingshan.kernels.water import water_balance_depth
from qingshan.quantities.base import RasterInputs, per_cell, require

__all__ = ["eligible_mask", "water_conservation_balance"]

DEFAULT_WC_ECOSYSTEMS = ("forest", "shrub", "grassland", "wetland")


def eligible_mask(lulc: np.ndarray, params: ParamSet, option: str, default: tuple[str, ...]) -> np.ndarray:
    """Cells whose ecosystem type is in the profile option ``option`` (a list of ecosystem names)."""
    wanted = params.option(option, default)
    assert params.landcover is not None
    eco = params.landcover.ecosystem_index(np.where(np.isfinite(lulc), lulc, -1).astype(np.int64))
    ids = [ECOSYSTEMS.index(str(e)) for e in wanted]  # type: ignore[attr-defined]
    return np.isin(eco, ids)


def water_conservation_balance(inputs: RasterInputs, params: ParamSet, grid: Grid) -> dict[str, np.ndarray]:
    """Water retained by ecosystems, ``Q = Σ (P − P·α − ET)·A`` [m3 per cell per year].

    Only cells of the ecosystem types in option ``water_conservation_ecosystems`` (default
    forest, shrub, grassland, wetland — RCEES restricts the calculation to natural and
    semi-natural types) count; negative retention (ET > P(1 − α)) is set to 0 unless option
    ``clip_negative`` is False. The runoff coefficient column is chosen by option
    ``runoff_table`` (``runoff_coef_rcees_2017`` or ``runoff_coef_eco_redline_13``).

    Inputs: ``precip`` [mm], ``aet`` [mm], ``lulc``. Output component ``water_conservation`` [m3].
    """
    precip = require(inputs, "precip", "water_balance")
    aet = require(inputs, "aet", "water_balance")
    lulc = require(inputs, "lulc", "water_balance")
    ok = eligible_mask(lulc, params, "water_conservation_ecosystems", DEFAULT_WC_ECOSYSTEMS)
    codes = np.where(ok & np.isfinite(lulc), lulc, -1).astype(np.int64)
    column = str(params.option("runoff_table", "runoff_coef_rcees_2017"))
    alpha = params.by_class(codes, column, "1")
    depth = water_balance_depth(precip, aet, alpha)
    if params.option("clip_negative", True):
        depth = np.maximum(depth, 0.0)
    depth = np.where(ok, depth, 0.0)
    depth = np.where(np.isfinite(precip) & np.isfinite(aet) & np.isfinite(lulc), depth, np.nan)
    return {"water_conservation": per_cell(depth, "mm", grid, "m3")}
