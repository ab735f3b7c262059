"""Windbreak and sand fixation (防风固沙) quantity function: RWEQ potential − actual wind erosion."""

from __future__ import annotations

from typing import Any

import numpy as np

from qingshan.core.grid import Grid
from qingshan.core.params import ParamSet
from qingshan.kernels.soil import fvc_from_ndvi
from qingshan.kernels.wind import rweq_soil_loss, rweq_vegetation_factor
from qingshan.quantities.base import RasterInputs, per_cell, require

__all__ = ["erodible_fraction", "sand_fixation_parts", "sand_fixation_rweq", "soil_crust_factor"]

_METHOD = "rweq"
_TEXTURE = ("sand", "silt", "clay", "soil_organic_carbon")
_OM_PER_OC = 1.724
"""Organic matter per organic carbon (van Bemmelen factor), a conventional conversion constant."""


def erodible_fraction(sand: np.ndarray, silt: np.ndarray, clay: np.ndarray, om: np.ndarray) -> np.ndarray:
    """RWEQ erodible fraction EF [1] from texture [%] and organic matter [%] (Fryrear et al. 1998, no CaCO3)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ef = (29.09 + 0.31 * sand + 0.17 * silt + 0.33 * sand / np.maximum(clay, 1e-6) - 2.59 * om) / 100.0
    return np.clip(ef, 0.0, 1.0)


def soil_crust_factor(clay: np.ndarray, om: np.ndarray) -> np.ndarray:
    """RWEQ soil crust factor ``SCF = 1 / (1 + 0.0066 cl² + 0.021 om²)`` [1] (Fryrear et al. 1998)."""
    return 1.0 / (1.0 + 0.0066 * clay**2 + 0.021 * om**2)


def sand_fixation_rweq(inputs: RasterInputs, params: ParamSet, grid: Grid) -> dict[str, np.ndarray]:
    """Sand fixed by vegetation per cell [t] and the desertified area it avoids [m2].

    ``Q_sf = S_L(C = 1) − S_L(C)`` by RWEQ (:mod:`qingshan.kernels.wind`), clipped at 0; C from
    NDVI → FVC (dimidiate) with ``C = exp(rweq_cover_coef × FVC%)``. EF and SCF from ``sand``,
    ``silt``, ``clay``, ``soil_organic_carbon`` rasters when all are given, else the scalars
    ``rweq_erodible_fraction`` and ``rweq_crust_factor``; K′ = ``rweq_roughness_factor``.
    ``wind_factor`` is the annual weather factor WF [kg m-1]: RWEQ is non-linear, so applying it
    to an annual WF differs from summing 15-day periods — supply period results if available.

    Components: ``sand_fixed`` [t] and ``desertified_land_avoided`` ``= Q_sf / (ρ h)`` [m2]
    (Garzê: ρ = 1.28 t/m3, h = 0.1 m), valued at the sand-control cost per m².
    """
    wf = require(inputs, "wind_factor", _METHOD)
    ndvi = require(inputs, "ndvi", _METHOD)
    lulc = require(inputs, "lulc", _METHOD)
    if all(n in inputs for n in _TEXTURE):
        om = inputs["soil_organic_carbon"] * _OM_PER_OC
        ef = erodible_fraction(inputs["sand"], inputs["silt"], inputs["clay"], om)
        scf = soil_crust_factor(inputs["clay"], om)
    else:
        ef = np.full(wf.shape, params.scalar("rweq_erodible_fraction", "1"))
        scf = np.full(wf.shape, params.scalar("rweq_crust_factor", "1"))
    k = params.scalar("rweq_roughness_factor", "1")
    z = params.scalar("rweq_downwind_distance", "m")
    fvc = fvc_from_ndvi(ndvi, params.scalar("ndvi_soil", "1"), params.scalar("ndvi_veg", "1"))
    c = rweq_vegetation_factor(fvc, params.scalar("rweq_cover_coef", "1"))
    potential = rweq_soil_loss(wf, ef, scf, k, 1.0, z)
    actual = rweq_soil_loss(wf, ef, scf, k, c, z)
    density = np.maximum(potential - actual, 0.0)
    valid = np.isfinite(wf) & np.isfinite(ndvi) & np.isfinite(lulc) & np.isfinite(ef) & np.isfinite(scf)
    fixed = per_cell(np.where(valid, density, np.nan), "kg/m2", grid, "t")
    return {"sand_fixed": fixed, **sand_fixation_parts(fixed, params)}


def sand_fixation_parts(sand_fixed: Any, params: ParamSet) -> dict[str, Any]:
    """The valued part of a sand mass fixed ``Q_sf`` [t] (array or scalar).

    ``desertified_land_avoided`` [m2] ``= Q_sf / (ρ·h)`` (``sand_bulk_density`` ρ [t/m3],
    ``sand_cover_thickness`` h [m]; 白玛卓嘎 et al. 2017, §2.4.3). Shared by the raster path and
    ``qingshan value``.
    """
    rho = params.scalar("sand_bulk_density", "t/m3")
    h = params.scalar("sand_cover_thickness", "m")
    return {"desertified_land_avoided": sand_fixed / rho / h}
