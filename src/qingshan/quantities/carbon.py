"""Carbon sequestration (固碳) and oxygen release (释氧) quantity functions (NEP from NPP)."""

from __future__ import annotations

import numpy as np

from qingshan.core.grid import Grid
from qingshan.core.params import ParamSet
from qingshan.kernels.carbon import co2_from_carbon, fpar_from_ndvi, npp_light_use, o2_from_co2
from qingshan.quantities.base import RasterInputs, per_cell, require

__all__ = ["carbon_nep", "npp_density", "oxygen_from_carbon"]


def npp_density(inputs: RasterInputs, params: ParamSet, method: str = "nep_from_npp") -> np.ndarray:
    """Annual NPP [g C m-2] from the ``npp`` raster, else by light-use efficiency from ``ndvi``.

    LUE chain: ``FPAR`` linear in NDVI between ``ndvi_soil`` and ``ndvi_veg`` scaled to
    ``fpar_min``..``fpar_max``; ``APAR = SOL × par_fraction × FPAR`` with SOL from the
    ``solar_radiation`` raster [MJ m-2] or the scalar ``solar_radiation_annual``;
    ``NPP = lue_epsilon × APAR``. Negative NPP is set to 0; NaN where ``lulc`` is nodata.
    """
    lulc = require(inputs, "lulc", method)
    if "npp" in inputs:
        npp = np.maximum(inputs["npp"], 0.0)
    else:
        ndvi = require(inputs, "ndvi", method)
        fpar = fpar_from_ndvi(
            ndvi,
            params.scalar("ndvi_soil", "1"),
            params.scalar("ndvi_veg", "1"),
            params.scalar("fpar_max", "1"),
            params.scalar("fpar_min", "1"),
        )
        if "solar_radiation" in inputs:
            solar = inputs["solar_radiation"]
        else:
            solar = np.full(lulc.shape, params.scalar("solar_radiation_annual", "MJ/m2"))
        npp = npp_light_use(
            solar, params.scalar("par_fraction", "1"), fpar, params.scalar("lue_epsilon", "g/MJ")
        )
    return np.where(np.isfinite(lulc), npp, np.nan)


def _co2_density(inputs: RasterInputs, params: ParamSet, method: str) -> np.ndarray:
    """CO2 fixed per area [g m-2]: ``44/12 × NEP``, ``NEP = nep_npp_ratio × NPP``."""
    nep = params.scalar("nep_npp_ratio", "1") * npp_density(inputs, params, method)
    return co2_from_carbon(np.maximum(nep, 0.0))


def carbon_nep(inputs: RasterInputs, params: ParamSet, grid: Grid) -> dict[str, np.ndarray]:
    """CO2 fixed by ecosystems per cell per year, ``Q_CO2 = 44/12 × α × NPP`` [t].

    Inputs: ``lulc``; ``npp`` [g C m-2] or ``ndvi`` (+ optional ``solar_radiation`` [MJ m-2]).
    α = ``nep_npp_ratio`` (NEP/NPP; unverified — see verification §6a). Every land-cover class
    counts: water, urban and bare cells get NPP from NDVI too (NDVI ≤ ``ndvi_soil`` gives 0).
    """
    return {"co2_fixed": per_cell(_co2_density(inputs, params, "nep_from_npp"), "g/m2", grid, "t")}


def oxygen_from_carbon(inputs: RasterInputs, params: ParamSet, grid: Grid) -> dict[str, np.ndarray]:
    """O2 released per cell per year, ``Q_O2 = 32/44 × Q_CO2`` [t] (same NPP chain as :func:`carbon_nep`)."""
    co2 = _co2_density(inputs, params, "from_carbon")
    return {"o2_released": per_cell(o2_from_co2(co2), "g/m2", grid, "t")}
