"""Carbon sequestration (固碳) and oxygen release (释氧) quantity functions.

Three methods of GB/T 46869 A.7 (second-hand): NEP from NPP (:func:`carbon_nep`), fixation rate per
area (:func:`carbon_fixation_rate`) and biomass change (:func:`carbon_biomass_change` from
inventory statistics; :func:`carbon_biomass_change_raster` from two carbon-density rasters).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from qingshan.aggregate.regions import RegionSet
from qingshan.core.grid import Grid
from qingshan.core.params import ParamSet
from qingshan.core.units import conversion_factor
from qingshan.kernels.carbon import (
    co2_from_carbon,
    fixation_rate_carbon,
    fpar_from_ndvi,
    npp_light_use,
    o2_from_co2,
    stock_change,
)
from qingshan.quantities.base import RasterInputs, per_cell, require
from qingshan.quantities.statistics import COLUMNS, items_to_components

__all__ = [
    "carbon_biomass_change",
    "carbon_biomass_change_raster",
    "carbon_fixation_rate",
    "carbon_nep",
    "npp_density",
    "oxygen_from_carbon",
    "oxygen_from_fixation_rate",
]

DEFAULT_SOIL_BETA_ECOSYSTEMS = ("forest", "shrub")


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


def _fixation_density(inputs: RasterInputs, params: ParamSet, method: str) -> np.ndarray:
    """Carbon fixed per area [tC hm-2] by the fixation-rate method (NaN where lulc is nodata)."""
    from qingshan.quantities.water import eligible_mask

    lulc = require(inputs, "lulc", method)
    codes = np.where(np.isfinite(lulc), lulc, -1).astype(np.int64)
    rate = params.by_class(codes, "carbon_fixation_rate", "tC/hm2")
    soil = eligible_mask(lulc, params, "carbon_soil_beta_ecosystems", DEFAULT_SOIL_BETA_ECOSYSTEMS)
    beta = np.where(soil, params.scalar("soil_carbon_coef_beta", "1"), 0.0)
    return np.where(np.isfinite(lulc), fixation_rate_carbon(rate, beta), np.nan)


def carbon_fixation_rate(inputs: RasterInputs, params: ParamSet, grid: Grid) -> dict[str, np.ndarray]:
    """CO2 fixed per cell by the fixation-rate method [tCO2]: ``44/12 × FCSR_i × A × (1 + β)``.

    ``FCSR_i`` is the land-cover column ``carbon_fixation_rate`` [tC hm-2 a-1] ([R] placeholders
    shipped); β = ``soil_carbon_coef_beta`` applies to option ``carbon_soil_beta_ecosystems``
    (default forest, shrub). The C → CO2 factor 44/12 is the unit conversion tC → tCO2.
    """
    density = _fixation_density(inputs, params, "fixation_rate")
    return {"co2_fixed": per_cell(density, "tC/hm2", grid, "tCO2")}


def oxygen_from_fixation_rate(inputs: RasterInputs, params: ParamSet, grid: Grid) -> dict[str, np.ndarray]:
    """O2 released per cell [t] = 32/44 × CO2 fixed by the fixation-rate method."""
    co2 = per_cell(_fixation_density(inputs, params, "from_fixation_rate"), "tC/hm2", grid, "tCO2")
    return {"o2_released": o2_from_co2(co2)}


def carbon_biomass_change(tables: Mapping[str, pd.DataFrame], params: ParamSet, regions: RegionSet,
                          year: int, indicator: str) -> pd.DataFrame:
    """CO2 fixed as the change of biomass-carbon stocks between ``year − 1`` and ``year`` [tCO2].

    Statistics items ``biomass_carbon_stock.<ecosystem>`` (e.g. ``.forest`` from the forest
    inventory 森林资源清查, any carbon-mass unit such as tC or 万tC) for both years, per region.
    ``Q = 44/12 × max(C_t − C_(t−1), 0)`` (option ``carbon_clip_negative``, default True). A
    region-ecosystem with only one of the two years is skipped. Second-level stocks
    (``biomass_carbon_stock.forest.bamboo``) roll up to their first-level ecosystem before the
    change is taken; a first-level stock beside its own subtypes is an error (counted twice).
    """
    from qingshan.core.params import ECOSYSTEM_IDS, top_ecosystem

    mapping = {f"biomass_carbon_stock.{e}": (e, top_ecosystem(e), "tC") for e in ECOSYSTEM_IDS}
    stats = tables.get("statistics")
    now = items_to_components(stats, regions, year, mapping)
    before = items_to_components(stats, regions, year - 1, mapping)
    for frame, y in ((now, year), (before, year - 1)):
        _reject_double_counted_stocks(frame, y, stats)
    if now.empty or before.empty:
        return pd.DataFrame(columns=COLUMNS)
    keys = ["region_code", "ecosystem"]
    both = now.groupby(keys)["quantity"].sum().to_frame("now").join(
        before.groupby(keys)["quantity"].sum().to_frame("before"), how="inner")
    clip = bool(params.option("carbon_clip_negative", True))
    delta_c = stock_change(both["now"].to_numpy(), both["before"].to_numpy(), clip_negative=clip)
    out = both.reset_index()[keys].assign(
        component="co2_fixed", quantity=delta_c * conversion_factor("tC", "tCO2"), unit="tCO2")
    return out[COLUMNS]


def _reject_double_counted_stocks(frame: pd.DataFrame, year: int, stats: pd.DataFrame | None) -> None:
    from qingshan.core.errors import InputError
    from qingshan.core.params import double_counted_ecosystem

    for code, grp in frame.groupby("region_code"):
        parent = double_counted_ecosystem(set(grp["component"]))
        if parent is not None:
            raise InputError(
                f"Region {code}, {year}: biomass_carbon_stock.{parent} given beside its subtypes (counted twice)",
                f"区域 {code}，{year} 年：biomass_carbon_stock.{parent} 与其细分类型同时给出（会重复计算）",
                file=str(stats.attrs.get("path", "statistics table")) if stats is not None else None, field="item",
                fix=f"Give biomass_carbon_stock.{parent} or its subtypes, not both.",
                fix_zh=f"请只给出 biomass_carbon_stock.{parent} 或其细分类型之一。",
            )


def carbon_biomass_change_raster(inputs: RasterInputs, params: ParamSet, grid: Grid) -> dict[str, np.ndarray]:
    """CO2 fixed per cell from two biomass-carbon density rasters [tCO2].

    Inputs ``biomass_carbon`` (year t) and ``biomass_carbon_previous`` (year t − 1) [tC hm-2];
    ``Q = 44/12 × max(C_t − C_(t−1), 0) × A``.
    """
    now = require(inputs, "biomass_carbon", "biomass_change_raster")
    before = require(inputs, "biomass_carbon_previous", "biomass_change_raster")
    clip = bool(params.option("carbon_clip_negative", True))
    delta = stock_change(now, before, clip_negative=clip)
    return {"co2_fixed": per_cell(delta, "tC/hm2", grid, "tCO2")}
