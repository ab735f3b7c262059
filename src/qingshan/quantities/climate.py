"""Climate regulation (气候调节) quantity function: transpiration and evaporation energy."""

from __future__ import annotations

import numpy as np

from qingshan.core.grid import Grid
from qingshan.core.params import ParamSet
from qingshan.kernels.climate import (
    vegetation_cooling_energy,
    water_cooling_energy,
    water_humidifying_energy,
)
from qingshan.quantities.base import RasterInputs, per_cell, require
from qingshan.quantities.water import eligible_mask

__all__ = ["climate_et_energy"]

_METHOD = "et_energy"
DEFAULT_VEGETATION = ("forest", "shrub", "grassland")
DEFAULT_WATER = ("wetland",)


def climate_et_energy(inputs: RasterInputs, params: ParamSet, grid: Grid) -> dict[str, np.ndarray]:
    """Electricity-equivalent of transpiration and water-surface evaporation per cell [kWh].

    * ``vegetation_transpiration``: cells of option ``climate_vegetation_ecosystems`` (default
      forest, shrub, grassland — RCEES counts these three), ``ET × ρ × s × q × (D/365)/(3600 r)``
      with ``s`` the land-cover column ``transpiration_share``, D from the ``hot_days`` raster
      or the scalar ``hot_days``.
    * ``water_evaporation``: cells of option ``climate_water_ecosystems`` (default wetland),
      ``E_w × ρ × q / 3600 + E_w × γ`` with E_w the ``water_evaporation`` raster [mm] or
      ``aet``; not divided by r unless option ``water_cooling_divided_by_r`` is True.

    Inputs: ``aet`` [mm], ``lulc``; optional ``hot_days`` [day], ``water_evaporation`` [mm].
    Other cells get 0; NaN where inputs are nodata.
    """
    aet = require(inputs, "aet", _METHOD)
    lulc = require(inputs, "lulc", _METHOD)
    q = params.scalar("latent_heat", "kJ/kg")
    r = params.scalar("ac_efficiency", "1")
    hot_days = inputs["hot_days"] if "hot_days" in inputs else params.scalar("hot_days", "day")

    veg = eligible_mask(lulc, params, "climate_vegetation_ecosystems", DEFAULT_VEGETATION)
    codes = np.where(veg & np.isfinite(lulc), lulc, -1).astype(np.int64)
    share = params.by_class(codes, "transpiration_share", "1")
    e_veg = np.where(veg, vegetation_cooling_energy(aet, share, q, hot_days, r), 0.0)

    water = eligible_mask(lulc, params, "climate_water_ecosystems", DEFAULT_WATER)
    evap = inputs.get("water_evaporation", aet)
    divisor = r if params.option("water_cooling_divided_by_r", False) else 1.0
    e_wat = water_cooling_energy(evap, q, divisor) + water_humidifying_energy(
        evap, params.scalar("humidifier_energy", "kWh/m3")
    )
    e_wat = np.where(water, e_wat, 0.0)

    ok = np.isfinite(lulc) & np.isfinite(aet)
    veg_ok = ok & (
        ~veg | np.isfinite(np.broadcast_to(np.asarray(hot_days, dtype=float), lulc.shape))
    )
    wat_ok = np.isfinite(lulc) & np.isfinite(evap)
    return {
        "vegetation_transpiration": per_cell(
            np.where(veg_ok, e_veg, np.nan), "kWh/m2", grid, "kWh"
        ),
        "water_evaporation": per_cell(np.where(wat_ok, e_wat, np.nan), "kWh/m2", grid, "kWh"),
    }
