"""Soil retention (土壤保持) quantity functions: RUSLE avoided erosion and its three valued parts."""

from __future__ import annotations

from typing import Any

import numpy as np

from qingshan.core.crs import crs_facts
from qingshan.core.errors import InputError
from qingshan.core.grid import Grid
from qingshan.core.params import ParamSet
from qingshan.kernels.routing import (
    fill_pits_invest,
    flow_accumulation_invest,
    flow_length_from_area,
    slope_percent_invest,
    slope_radians,
    upslope_area,
)
from qingshan.kernels.soil import (
    c_factor_cai,
    fvc_from_ndvi,
    k_factor_epic,
    length_factor,
    ls_factor_invest,
    r_factor_from_annual,
    slope_factor_mccool,
    soil_retention,
)
from qingshan.quantities.base import RasterInputs, per_cell, require

__all__ = [
    "LS_FORMULAS",
    "SOIL_LAYER_UNITS",
    "cell_dims_m",
    "ls_factor",
    "soil_fertility_parts",
    "soil_fertility_rusle",
    "soil_retained_per_cell",
    "soil_retention_components",
    "soil_retention_layers",
    "soil_retention_parts",
    "soil_retention_rusle",
]

_METHOD = "rusle"
_K_UNIT = "t*hm2*h/(hm2*MJ*mm)"
_TEXTURE = ("sand", "silt", "clay", "soil_organic_carbon")

SOIL_LAYER_UNITS = {
    "r": "MJ*mm/(hm2*h)",
    "k": _K_UNIT,
    "ls": "1",
    "c": "1",
    "p": "1",
    "rkls": "t/hm2",
    "usle": "t/hm2",
}
"""Units of the intermediate layers of :func:`soil_retention_layers` (annual where relevant)."""


def cell_dims_m(grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Cell width and height per row [m]; geodesic at the row's centre latitude for lon/lat grids."""
    t = grid.transform
    rows = np.arange(grid.height)
    facts = crs_facts(grid.crs_wkt)  # pyproj's answers, remembered: projected grids never import pyproj (0.05 s)
    if facts.is_geographic:
        from pyproj import Geod

        assert facts.ellipsoid is not None  # a geographic CRS always has one
        geod = Geod(a=facts.ellipsoid[0], b=facts.ellipsoid[1])
        lat_c = t.f + t.e * (rows + 0.5)
        lon0 = np.full(grid.height, t.c)
        _, _, dx = geod.inv(lon0, lat_c, lon0 + t.a, lat_c)
        _, _, dy = geod.inv(lon0, lat_c - t.e / 2, lon0, lat_c + t.e / 2)
        return np.abs(np.asarray(dx)), np.abs(np.asarray(dy))
    return np.full(grid.height, abs(t.a) * facts.unit_factor), np.full(grid.height, abs(t.e) * facts.unit_factor)


def _r_factor(inputs: RasterInputs, params: ParamSet) -> np.ndarray:
    """R from the ``rain_erosivity`` raster, else from annual ``precip`` by ``R = a·P^b``."""
    if "rain_erosivity" in inputs:
        return inputs["rain_erosivity"]
    if "precip" in inputs:
        a = params.scalar("r_annual_a", "1")
        b = params.scalar("r_annual_b", "1")
        return r_factor_from_annual(inputs["precip"], a, b)
    raise InputError(
        "Soil retention (RUSLE) needs the raster 'rain_erosivity' (R factor) or 'precip' (annual precipitation)",
        "土壤保持（RUSLE）需要栅格 'rain_erosivity'（降雨侵蚀力因子）或 'precip'（年降水量）",
        field="rain_erosivity",
        fix="Add 'rain_erosivity = \"R.tif\"' (preferred, e.g. from daily rainfall) or 'precip = \"P.tif\"' to [inputs].",
        fix_zh="请在 [inputs] 中添加 'rain_erosivity = \"R.tif\"'（推荐，由日降雨计算）或 'precip = \"P.tif\"'。",
    )


def _k_factor(inputs: RasterInputs, params: ParamSet, shape: tuple[int, ...]) -> np.ndarray:
    """K from ``soil_erodibility``, else EPIC from texture and organic carbon, else a scalar."""
    if "soil_erodibility" in inputs:
        return inputs["soil_erodibility"]
    present = [n for n in _TEXTURE if n in inputs]
    if len(present) == len(_TEXTURE):
        return k_factor_epic(
            *(inputs[n] for n in _TEXTURE),
            intercept=params.scalar("k_epic_correction_intercept", "1"),
            slope=params.scalar("k_epic_correction_slope", "1"),
            to_si=params.scalar("k_epic_us_to_si", "1"),
        )
    if present:
        missing = [n for n in _TEXTURE if n not in inputs]
        raise InputError(
            f"EPIC soil erodibility needs all of {list(_TEXTURE)}; missing {missing}",
            f"EPIC 土壤可蚀性计算需要 {list(_TEXTURE)} 全部栅格，缺少 {missing}",
            field=missing[0],
            fix="Add the missing soil rasters, or give 'soil_erodibility' directly, or remove the texture rasters to use the default K.",
            fix_zh="请补充缺少的土壤栅格，或直接提供 'soil_erodibility'，或删除质地栅格以使用默认 K 值。",
        )
    return np.full(shape, params.scalar("soil_erodibility_default", _K_UNIT))


LS_FORMULAS = ("rusle_mccool", "invest")
"""Values of option ``ls_formula`` (see :func:`ls_factor`)."""


def ls_factor(dem: np.ndarray, params: ParamSet, grid: Grid) -> np.ndarray:
    """LS factor [1] from the DEM, by option ``ls_formula``.

    * ``"rusle_mccool"`` (default, Chinese practice; 陈召亚 et al. 2016 and the RCEES lineage):
      Horn slope on the DEM, depression filling and D8/MFD routing by pyflwdir / Freeman (option
      ``flow_algorithm``, ``mfd_exponent``), slope length λ = A/w (Moore & Burch 1986),
      ``L = (λ/22.13)^m`` with m from slope-percent classes (parameters ``rusle_m_break_*``,
      ``rusle_m_exp_*``), S by McCool/Liu in three branches (5°, 10°); option
      ``max_slope_length_m`` caps λ.
    * ``"invest"``: InVEST 3.20.2 SDR exactly — pygeoprocessing pit filling, its slope stencil,
      its D8 or MFD routing (option ``flow_algorithm``) and Desmet & Govers (1996) with the
      √area quirks (:func:`qingshan.kernels.soil.ls_factor_invest`; Sharp et al., InVEST User's
      Guide, SDR; sdr.py:1136-1267). Option ``l_max`` (default 122, InVEST's) caps L. Use it to
      check results against InVEST; it is not the method of the Chinese specifications.

    Option ``routing_tile_size`` (cells; default none = whole grid): a grid larger than one tile
    is routed tile by tile out of core (:func:`qingshan.quantities.routing_tiles.ls_factor_tiled`,
    same result; see docs/scaling.md "Tiled routing").
    """
    if params.option("routing_tile_size", None) is not None:
        from qingshan.quantities.routing_tiles import ls_factor_tiled, routing_tile_size

        tile = routing_tile_size(params)
        if max(dem.shape) > tile:
            return ls_factor_tiled(dem, params, grid, tile)
    formula = str(params.option("ls_formula", "rusle_mccool"))
    if formula == "invest":
        return _ls_invest(dem, params, grid)
    if formula != "rusle_mccool":
        raise InputError(
            f"Unknown ls_formula '{formula}'; use one of {', '.join(LS_FORMULAS)}",
            f"未知的 ls_formula '{formula}'，可选：{', '.join(LS_FORMULAS)}",
            field="ls_formula",
            fix="Set option ls_formula = \"rusle_mccool\" (default) or \"invest\".",
            fix_zh="请将选项 ls_formula 设为 \"rusle_mccool\"（默认）或 \"invest\"。",
        )
    return _ls_rusle_mccool(dem, params, grid)


def _ls_invest(dem: np.ndarray, params: ParamSet, grid: Grid) -> np.ndarray:
    dx, dy = cell_dims_m(grid)
    filled = fill_pits_invest(dem)
    slope = slope_percent_invest(filled, dx, dy)
    fa = flow_accumulation_invest(filled, _flow_algorithm(params))
    l_max = float(params.option("l_max", 122.0))  # type: ignore[arg-type]
    return ls_factor_invest(slope, fa, dx[:, None], l_max=l_max)


def _flow_algorithm(params: ParamSet) -> str:
    algo = str(params.option("flow_algorithm", "D8")).upper()
    if algo not in ("D8", "MFD"):
        raise InputError(
            f"Unknown flow_algorithm '{algo}'; use D8 or MFD",
            f"未知的汇流算法 flow_algorithm '{algo}'，可选 D8 或 MFD",
            field="flow_algorithm",
            fix="Set option flow_algorithm = \"D8\" or \"MFD\".",
            fix_zh="请将选项 flow_algorithm 设为 \"D8\" 或 \"MFD\"。",
        )
    return algo


def _ls_rusle_mccool(dem: np.ndarray, params: ParamSet, grid: Grid) -> np.ndarray:
    """LS from the DEM: slope (Horn), upslope area (D8 or MFD) → λ = A/w, L·S."""
    dx, dy = cell_dims_m(grid)
    theta = slope_radians(dem, dx, dy)
    area = upslope_area(
        dem,
        grid.cell_area(),
        dx_m=dx,
        dy_m=dy,
        algorithm=_flow_algorithm(params),
        mfd_exponent=float(params.option("mfd_exponent", 1.1)),  # type: ignore[arg-type]
    )
    lam = flow_length_from_area(area, grid.cell_size_m())
    cap = params.option("max_slope_length_m", None)
    if cap is not None:
        lam = np.minimum(lam, float(cap))  # type: ignore[arg-type]
    breaks = tuple(params.scalar(f"rusle_m_break_{i}", "percent") for i in (1, 2, 3))
    exps = tuple(params.scalar(f"rusle_m_exp_{i}", "1") for i in (1, 2, 3, 4))
    l_fac = length_factor(lam, 100.0 * np.tan(theta), breaks, exps)  # type: ignore[arg-type]
    return l_fac * slope_factor_mccool(theta)


def _c_factor(ndvi: np.ndarray, codes: np.ndarray, params: ParamSet) -> np.ndarray:
    """C by option ``c_factor``: ``"ndvi"`` (蔡崇法 from FVC, default) or ``"landcover"``."""
    source = str(params.option("c_factor", "ndvi"))
    if source == "landcover":
        return params.by_class(codes, "usle_c", "1")
    if source != "ndvi":
        raise InputError(
            f"Unknown c_factor '{source}'; use ndvi or landcover",
            f"未知的 c_factor '{source}'，可选 ndvi 或 landcover",
            field="c_factor",
            fix="Set option c_factor = \"ndvi\" (default) or \"landcover\" (column usle_c of the land-cover table).",
            fix_zh="请将选项 c_factor 设为 \"ndvi\"（默认）或 \"landcover\"（土地覆被表 usle_c 列）。",
        )
    fvc = fvc_from_ndvi(ndvi, params.scalar("ndvi_soil", "1"), params.scalar("ndvi_veg", "1"))
    return c_factor_cai(fvc)


def soil_retention_layers(
    inputs: RasterInputs, params: ParamSet, grid: Grid, *, ls: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """RUSLE factor layers and potential/actual erosion densities (units in :data:`SOIL_LAYER_UNITS`).

    Returns ``r`` [MJ·mm·hm⁻²·h⁻¹·a⁻¹], ``k`` [t·hm²·h/(hm²·MJ·mm)], ``ls``, ``c``, ``p`` [1],
    ``rkls`` (potential erosion R·K·LS) and ``usle`` (actual erosion R·K·LS·C·P) [t·hm⁻²·a⁻¹].
    NaN wherever any input is nodata. Options: ``ls_formula`` (``"rusle_mccool"`` default |
    ``"invest"``, see :func:`ls_factor`), ``flow_algorithm`` (``"D8"`` | ``"MFD"``),
    ``mfd_exponent`` (Freeman 1991: 1.1), ``max_slope_length_m`` (cap on λ; default none),
    ``l_max`` (invest only), ``c_factor`` (``"ndvi"``: 蔡崇法 from NDVI, default |
    ``"landcover"``: column ``usle_c`` of the land-cover table, as InVEST's biophysical table).
    ``ls`` (else ``inputs["ls"]``, the engine's derived input): a precomputed LS layer of the same
    DEM and options on the same cells (e.g. a block of
    :func:`qingshan.engine.derived_cache.ls_source`), used instead of routing again. Without it, LS
    is routed over ``dem``: call on the whole grid then, never on a block.
    """
    dem = require(inputs, "dem", _METHOD)
    lulc = require(inputs, "lulc", _METHOD)
    by_class = str(params.option("c_factor", "ndvi")) == "landcover"
    ndvi = np.zeros(dem.shape) if by_class and "ndvi" not in inputs else require(inputs, "ndvi", _METHOD)
    r = _r_factor(inputs, params)
    k = _k_factor(inputs, params, dem.shape)
    codes = np.where(np.isfinite(lulc), lulc, -1).astype(np.int64)
    c = _c_factor(ndvi, codes, params)
    p = params.by_class(codes, "usle_p", "1")
    if ls is None:
        ls = inputs.get("ls")
    if ls is None:
        ls = ls_factor(dem, params, grid)
    elif ls.shape != dem.shape:
        raise ValueError(f"precomputed LS has shape {ls.shape}, the DEM {dem.shape}")
    valid = (
        np.isfinite(dem) & np.isfinite(lulc) & np.isfinite(ndvi) & np.isfinite(r) & np.isfinite(k)
    )
    layers = {"r": r, "k": k, "ls": ls, "c": c, "p": p}
    layers = {name: np.where(valid, arr, np.nan) for name, arr in layers.items()}
    layers["rkls"] = layers["r"] * layers["k"] * layers["ls"]
    layers["usle"] = layers["rkls"] * layers["c"] * layers["p"]
    return layers


def soil_retention_rusle(
    inputs: RasterInputs, params: ParamSet, grid: Grid
) -> dict[str, np.ndarray]:
    """Soil retained ``Q_sr = R·K·LS·(1 − C·P)`` and its sediment, N and P parts, per cell per year.

    Inputs: ``dem`` [m], ``lulc``, ``ndvi`` [1]; R from ``rain_erosivity`` or annual ``precip``
    (``R = a·P^b``); K from ``soil_erodibility``, or EPIC from ``sand``, ``silt``, ``clay``,
    ``soil_organic_carbon`` [%], or the scalar ``soil_erodibility_default``. C from NDVI → FVC
    (蔡崇法); P from the land-cover column ``usle_p``.

    Returns components ``soil_retained`` [t], ``sediment_reduction`` [m3] ``= λ·Q_sr/ρ``,
    ``nitrogen_retained`` [t] ``= Q_sr·C_N``, ``phosphorus_retained`` [t] ``= Q_sr·C_P``
    (白玛卓嘎 et al. 2017, §2.4.2).

    LS needs flow routing over the whole DEM: the engine computes it once per DEM and LS settings
    and passes it as the derived input ``inputs["ls"]`` (:func:`qingshan.engine.derived_cache.ls_source`),
    so this function runs block by block; without ``ls`` it routes the given DEM (whole grid only).
    """
    return soil_retention_components(soil_retention_layers(inputs, params, grid), params, grid)


def soil_retention_components(
    layers: dict[str, np.ndarray], params: ParamSet, grid: Grid
) -> dict[str, np.ndarray]:
    """The four components of :func:`soil_retention_rusle` from its factor ``layers``."""
    q = soil_retained_per_cell(layers, grid)
    return {"soil_retained": q, **soil_retention_parts(q, params)}


def soil_retained_per_cell(layers: dict[str, np.ndarray], grid: Grid) -> np.ndarray:
    """Soil retained ``Q_sr = R·K·LS·(1 − C·P)`` [t per cell], clipped at 0, from the factor ``layers``."""
    density = soil_retention(layers["r"], layers["k"], layers["ls"], layers["c"], layers["p"])
    density = np.where(np.isnan(density), np.nan, np.maximum(density, 0.0))
    return per_cell(density, "t/hm2", grid, "t")


def soil_retention_parts(soil_retained: Any, params: ParamSet) -> dict[str, Any]:
    """The three valued parts of a soil mass retained ``Q_sr`` [t] (array or scalar).

    ``sediment_reduction`` [m3] ``= λ·Q_sr/ρ`` (``sediment_deposition_ratio`` λ [1],
    ``soil_bulk_density`` ρ [t/m3]); ``nitrogen_retained`` [t] ``= Q_sr·C_N`` and
    ``phosphorus_retained`` [t] ``= Q_sr·C_P`` (``soil_n_content``, ``soil_p_content`` [1]);
    白玛卓嘎 et al. 2017, §2.4.2. Shared by the raster path and ``qingshan value``.
    """
    deposit = params.scalar("sediment_deposition_ratio", "1")
    rho = params.scalar("soil_bulk_density", "t/m3")
    return {
        "sediment_reduction": deposit * soil_retained / rho,
        "nitrogen_retained": soil_retained * params.scalar("soil_n_content", "1"),
        "phosphorus_retained": soil_retained * params.scalar("soil_p_content", "1"),
    }


def soil_fertility_parts(soil_retained: Any, params: ParamSet) -> dict[str, Any]:
    """Soil-fertility parts of a soil mass retained ``Q_sr`` [t] (array or scalar), forestry practice.

    GB/T 38582—2020 保育土壤 (lineage LY/T 1721—2008; recalled, not re-read — gep-methodology.md R2):
    nutrients kept in place ``G_x = Q_sr × C_x`` [t] for N, P, K and organic matter (``soil_n_content``,
    ``soil_p_content``, ``soil_k_content``, ``soil_organic_matter_content`` [1]), and the land
    not abandoned ``A = Q_sr / (ρ × h)`` [hm2] (``soil_bulk_density`` ρ [t/m3],
    ``soil_abandon_thickness`` h [m]; 欧阳志云 et al. 1999). Shared by the raster path and ``qingshan value``.
    """
    rho = params.scalar("soil_bulk_density", "t/m3")
    h = params.scalar("soil_abandon_thickness", "m")
    return {
        "nitrogen_retained": soil_retained * params.scalar("soil_n_content", "1"),
        "phosphorus_retained": soil_retained * params.scalar("soil_p_content", "1"),
        "potassium_retained": soil_retained * params.scalar("soil_k_content", "1"),
        "organic_matter_retained": soil_retained * params.scalar("soil_organic_matter_content", "1"),
        "abandoned_land_avoided": soil_retained / rho / h * 1e-4,  # m2 → hm2
    }


def soil_fertility_rusle(inputs: RasterInputs, params: ParamSet, grid: Grid) -> dict[str, np.ndarray]:
    """Soil retained by RUSLE (as :func:`soil_retention_rusle`) and its fertility parts
    (:func:`soil_fertility_parts`), per cell per year."""
    q = soil_retained_per_cell(soil_retention_layers(inputs, params, grid), grid)
    return {"soil_retained": q, **soil_fertility_parts(q, params)}
