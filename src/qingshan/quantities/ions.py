"""Negative air ions (负氧离子) quantity function (Jiangxi county practice; LY/T 1721 lineage)."""

from __future__ import annotations

import numpy as np

from qingshan.core.grid import Grid
from qingshan.core.params import ParamSet
from qingshan.kernels.ions import ion_production_density
from qingshan.quantities.base import RasterInputs, per_cell, require
from qingshan.quantities.water import eligible_mask

__all__ = ["negative_ions_production"]

_METHOD = "ion_lifetime"
DEFAULT_ION_ECOSYSTEMS = ("forest", "shrub")


def _class_or_raster(inputs: RasterInputs, name: str, params: ParamSet, codes: np.ndarray, column: str,
                     unit: str) -> np.ndarray:
    """A raster input when given, else the per-class column of the land-cover table."""
    if name in inputs:
        return np.asarray(inputs[name], dtype=float)
    return params.by_class(codes, column, unit)


def negative_ions_production(inputs: RasterInputs, params: ParamSet, grid: Grid) -> dict[str, np.ndarray]:
    """Negative air ions produced per cell per year [ion].

    ``G = Q × A × H × 525 600 / L`` (the 5.256×10^15 of LY/T 1721 with A in hm² is this unit
    conversion). Components: ``ions_produced`` (all ions, physical headline) and
    ``ions_above_threshold`` (``Q − Q0`` with Q0 = ``negative_ion_threshold``, the valued part).

    Q from the ``negative_ions`` raster [cm-3] or the land-cover column
    ``negative_ion_concentration``; H from ``stand_height`` [m] or the column ``stand_height``;
    L = ``negative_ion_lifetime`` [min]. Only cells of option ``negative_ion_ecosystems``
    (default forest, shrub) count. All coefficients are [R] (verification §7).
    """
    lulc = require(inputs, "lulc", _METHOD)
    ok = eligible_mask(lulc, params, "negative_ion_ecosystems", DEFAULT_ION_ECOSYSTEMS)
    codes = np.where(ok & np.isfinite(lulc), lulc, -1).astype(np.int64)
    conc = _class_or_raster(inputs, "negative_ions", params, codes, "negative_ion_concentration", "cm-3")
    height = _class_or_raster(inputs, "stand_height", params, codes, "stand_height", "m")
    life = params.scalar("negative_ion_lifetime", "min")
    q0 = params.scalar("negative_ion_threshold", "cm-3")
    valid = np.isfinite(lulc) & (~ok | (np.isfinite(conc) & np.isfinite(height)))
    out = {}
    for comp, threshold in (("ions_produced", 0.0), ("ions_above_threshold", q0)):
        density = np.where(ok, ion_production_density(np.nan_to_num(conc), np.nan_to_num(height), life, threshold), 0.0)
        out[comp] = per_cell(np.where(valid, density, np.nan), "ion/m2", grid, "ion")
    return out
