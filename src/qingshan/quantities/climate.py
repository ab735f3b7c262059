"""Climate regulation (气候调节) quantity function: transpiration and evaporation energy."""

from __future__ import annotations

import numpy as np

from qingshan.core.errors import InputError
from qingshan.core.grid import Grid
from qingshan.core.params import ParamSet
from qingshan.kernels.climate import (
    vegetation_cooling_energy,
    vegetation_cooling_per_type,
    water_cooling_energy,
    water_humidifying_energy,
)
from qingshan.quantities.base import RasterInputs, per_cell, require
from qingshan.quantities.water import eligible_mask

__all__ = ["climate_et_energy", "climate_per_type"]

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


def climate_per_type(inputs: RasterInputs, params: ParamSet, grid: Grid) -> dict[str, np.ndarray]:
    """Climate regulation from a per-type transpiration-heat table [kWh per cell].

    * ``vegetation_transpiration``: ``EPP_i × A × D / (3600 × r)`` on cells of option
      ``climate_vegetation_ecosystems`` (default forest, shrub, grassland), EPP_i from the
      land-cover column ``transpiration_heat`` [kJ m-2 d-1] — EMPTY in the shipped table (no
      value retrieved, verification §3): a present class without a value is an error.
    * ``water_evaporation``: as :func:`climate_et_energy`, from the ``water_evaporation`` raster
      [mm] or else ``aet``.

    Inputs: ``lulc``; optional ``hot_days`` [day], ``water_evaporation`` or ``aet`` [mm].
    """
    method = "per_type"
    lulc = require(inputs, "lulc", method)
    r = params.scalar("ac_efficiency", "1")
    hot_days = inputs["hot_days"] if "hot_days" in inputs else params.scalar("hot_days", "day")
    veg = eligible_mask(lulc, params, "climate_vegetation_ecosystems", DEFAULT_VEGETATION)
    codes = np.where(veg & np.isfinite(lulc), lulc, -1).astype(np.int64)
    heat = params.by_class(codes, "transpiration_heat", "kJ/(m2*d)")
    e_veg = np.where(veg, vegetation_cooling_per_type(np.nan_to_num(heat), hot_days, r), 0.0)
    evap = inputs.get("water_evaporation", inputs.get("aet"))
    water = eligible_mask(lulc, params, "climate_water_ecosystems", DEFAULT_WATER)
    if evap is None:
        if np.any(water):
            raise InputError(
                "Climate regulation (per_type) needs 'water_evaporation' or 'aet' for the water-surface term",
                "气候调节（按类型法）的水面蒸发项需要栅格 'water_evaporation' 或 'aet'",
                field="water_evaporation",
                fix="Add water_evaporation = \"E.tif\" (open-water evaporation, mm) to [inputs].",
                fix_zh="请在 [inputs] 中添加 water_evaporation = \"E.tif\"（水面蒸发量，mm）。",
            )
        evap = np.zeros(lulc.shape)
    q = params.scalar("latent_heat", "kJ/kg")
    divisor = r if params.option("water_cooling_divided_by_r", False) else 1.0
    e_wat = water_cooling_energy(evap, q, divisor) + water_humidifying_energy(evap, params.scalar("humidifier_energy", "kWh/m3"))
    e_wat = np.where(water, e_wat, 0.0)
    days_ok = np.isfinite(np.broadcast_to(np.asarray(hot_days, dtype=float), lulc.shape))
    veg_ok = np.isfinite(lulc) & (~veg | days_ok)
    wat_ok = np.isfinite(lulc) & (~water | np.isfinite(evap))
    return {
        "vegetation_transpiration": per_cell(np.where(veg_ok, e_veg, np.nan), "kWh/m2", grid, "kWh"),
        "water_evaporation": per_cell(np.where(wat_ok, e_wat, np.nan), "kWh/m2", grid, "kWh"),
    }
