"""Water conservation (水源涵养) quantity functions."""

from __future__ import annotations

import numpy as np

from qingshan.core.errors import InputError
from qingshan.core.grid import Grid
from qingshan.core.params import ECOSYSTEMS, ParamSet
from qingshan.kernels.water import budyko_fu_aet, water_balance_depth
from qingshan.quantities.base import RasterInputs, per_cell, require

__all__ = ["eligible_mask", "water_budyko_layers", "water_conservation_balance", "water_conservation_budyko"]

DEFAULT_WC_ECOSYSTEMS = ("forest", "shrub", "grassland", "wetland")


def eligible_mask(lulc: np.ndarray, params: ParamSet, option: str, default: tuple[str, ...]) -> np.ndarray:
    """Cells whose ecosystem type is in the profile option ``option`` (a list of ecosystem names; one name alone
    counts as a list of one). An unknown name is a bilingual :class:`InputError`."""
    wanted = params.option(option, default)
    names = [wanted] if isinstance(wanted, str) else list(wanted)  # type: ignore[call-overload]
    unknown = [str(e) for e in names if str(e) not in ECOSYSTEMS]
    if unknown:
        raise InputError(
            f"Option {option}: unknown ecosystem type(s) {', '.join(map(repr, unknown))}",
            f"选项 {option}：未知生态系统类型 {', '.join(map(repr, unknown))}",
            field=option,
            fix=f"Give a list of ecosystem types among {', '.join(ECOSYSTEMS)}, e.g. --option '{option}=[\"forest\"]'.",
            fix_zh=f"请给出生态系统类型列表（可选：{', '.join(ECOSYSTEMS)}），例如 --option '{option}=[\"forest\"]'。",
        )
    assert params.landcover is not None
    eco = params.landcover.ecosystem_index(np.where(np.isfinite(lulc), lulc, -1).astype(np.int64))
    ids = [ECOSYSTEMS.index(str(e)) for e in names]
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


def water_budyko_layers(inputs: RasterInputs, params: ParamSet, grid: Grid) -> dict[str, np.ndarray]:
    """Intermediate layers of the Budyko method, as InVEST Annual Water Yield computes them [mm].

    ``PET = Kc·ET0``; ``AWC = min(root_depth_class, root_restricting_depth) · PAWC``;
    ``ω = Z·AWC/P + 1.25`` capped at 5; vegetated cells (option ``budyko_vegetated_ecosystems``,
    default forest, shrub, grassland, cropland) take ``AET = P · min(PET/P, Fu(PET/P, ω))``, others
    ``AET = min(PET, P)`` (InVEST 3.20.2 ``annual_water_yield.py`` fractp_op). Returns ``aet``,
    ``pet``, ``omega`` and ``wyield = P − AET``.
    """
    precip = require(inputs, "precip", "budyko")
    et0 = require(inputs, "pet", "budyko")
    lulc = require(inputs, "lulc", "budyko")
    soil_depth = require(inputs, "root_depth", "budyko")
    pawc = require(inputs, "pawc", "budyko")
    codes = np.where(np.isfinite(lulc), lulc, -1).astype(np.int64)
    pet = params.by_class(codes, "kc", "1") * et0
    awc = np.minimum(params.by_class(codes, "root_depth_mm", "mm"), soil_depth) * pawc
    with np.errstate(divide="ignore", invalid="ignore"):
        omega = np.minimum(params.scalar("zhang_z", "1") * awc / precip + 1.25, 5.0)
    veg = eligible_mask(lulc, params, "budyko_vegetated_ecosystems", ("forest", "shrub", "grassland", "cropland"))
    if veg.all():
        aet = budyko_fu_aet(precip, pet, omega)
    else:
        aet = np.minimum(pet, precip)
        if veg.any():  # the curve (two powers per cell) only where it applies
            aet[veg] = budyko_fu_aet(precip[veg], pet[veg], omega[veg])
    valid = np.isfinite(precip) & np.isfinite(et0) & np.isfinite(lulc) & np.isfinite(pawc) & np.isfinite(soil_depth) & (precip > 0)
    nan = np.full(precip.shape, np.nan)
    return {
        "aet": np.where(valid, aet, nan),
        "pet": np.where(valid, pet, nan),
        "omega": np.where(valid, omega, nan),
        "wyield": np.where(valid, precip - aet, nan),
    }


def water_conservation_budyko(inputs: RasterInputs, params: ParamSet, grid: Grid) -> dict[str, np.ndarray]:
    """Water conservation with AET from the Budyko curve: ``Q = (P − α·P − AET)·A`` [m3 per cell].

    Same eligibility, runoff table and clipping options as :func:`water_conservation_balance`.
    """
    layers = water_budyko_layers(inputs, params, grid)
    return water_conservation_balance({**inputs, "aet": layers["aet"]}, params, grid)
