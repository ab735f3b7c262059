"""RUSLE factor kernels for soil retention (土壤保持): R, K, L, S, C and ``R·K·LS·(1 − C·P)``.

Pure numpy functions on arrays; NaN propagates. Factor formulas follow the RCEES lineage of the
national GEP specification as printed in 陈召亚 et al. 2016, 黄骅市土壤保持价值年内动态特征,
中国生态农业学报 24(2): 244-255 (confirmed in ``gep-methodology-verification.md`` §10), with the
m-exponent thresholds in slope *percent*.

Units used throughout (Chinese SI convention of the USLE):

* R  rainfall erosivity [MJ·mm·hm⁻²·h⁻¹·a⁻¹]
* K  soil erodibility [t·hm²·h·hm⁻²·MJ⁻¹·mm⁻¹]
* L, S, C, P dimensionless; R·K·LS·C·P in [t·hm⁻²·a⁻¹].
"""

from __future__ import annotations

import numpy as np

from qingshan.kernels._rows import map_rows

__all__ = [
    "c_factor_cai",
    "fvc_from_ndvi",
    "k_factor_epic",
    "k_factor_epic_raw",
    "length_factor",
    "ls_factor_invest",
    "r_factor_from_annual",
    "r_factor_from_daily",
    "slope_factor_mccool",
    "soil_retention",
]


def fvc_from_ndvi(ndvi: np.ndarray, ndvi_soil: float, ndvi_veg: float) -> np.ndarray:
    """Fractional vegetation cover by the dimidiate pixel model [1], clipped to 0..1.

    ``f = (NDVI − NDVI_soil) / (NDVI_veg − NDVI_soil)`` (Gutman & Ignatov 1998; 李苗苗 2004).

    Parameters
    ----------
    ndvi : NDVI [1].
    ndvi_soil : NDVI of bare soil (f = 0) [1].
    ndvi_veg : NDVI of full cover (f = 1) [1]; must exceed ``ndvi_soil``.
    """
    if not ndvi_veg > ndvi_soil:
        raise ValueError(f"ndvi_veg ({ndvi_veg}) must be greater than ndvi_soil ({ndvi_soil})")
    return np.clip((ndvi - ndvi_soil) / (ndvi_veg - ndvi_soil), 0.0, 1.0)


def c_factor_cai(
    fvc: np.ndarray, *, a: float = 0.6508, b: float = 0.3436, f_max_pct: float = 78.3
) -> np.ndarray:
    """Cover-management factor C from vegetation cover (蔡崇法 et al. 2000) [1].

    ``C = 1`` (f = 0); ``C = a − b·lg f`` (0 < f < 78.3 %); ``C = 0`` (f ≥ 78.3 %), with f the
    fractional vegetation cover in percent. The result is clipped to 0..1 (the log branch exceeds
    1 for f < 0.1 %). Source: 蔡崇法, 丁树文, 史志华, 黄丽. 应用USLE模型与地理信息系统IDRISI预测
    小流域土壤侵蚀量. 水土保持学报 2000, 14(2): 19-24; confirmed (paper) in 陈召亚 et al. 2016.

    Parameters
    ----------
    fvc : fractional vegetation cover [1] (0..1, not percent).
    a, b : coefficients of the log branch [1].
    f_max_pct : cover [%] at and above which C = 0.
    """
    f_pct = np.asarray(fvc, dtype=float) * 100.0
    with np.errstate(divide="ignore", invalid="ignore"):
        c_log = a - b * np.log10(f_pct)
    c = np.where(f_pct <= 0.0, 1.0, np.where(f_pct >= f_max_pct, 0.0, c_log))
    c = np.clip(c, 0.0, 1.0)
    return np.where(np.isnan(f_pct), np.nan, c)


def slope_factor_mccool(
    slope_rad: np.ndarray,
    *,
    breaks_deg: tuple[float, float] = (5.0, 10.0),
) -> np.ndarray:
    """Slope-steepness factor S [1] (McCool et al. 1987; Liu et al. 1994 for steep slopes).

    ``S = 10.8 sinθ + 0.03`` (θ < 5°), ``16.8 sinθ − 0.50`` (5° ≤ θ < 10°),
    ``21.91 sinθ − 0.96`` (θ ≥ 10°). Coefficients confirmed (paper) in 陈召亚 et al. 2016 (OCR
    prints −0.05 for the middle branch; the McCool value 0.50 is used).

    Parameters
    ----------
    slope_rad : slope angle θ [rad].
    breaks_deg : the two branch thresholds [degree].
    """
    theta = np.asarray(slope_rad, dtype=float)
    b1, b2 = np.deg2rad(breaks_deg[0]), np.deg2rad(breaks_deg[1])

    def rows(t: np.ndarray) -> np.ndarray:
        s = np.sin(t)
        out = np.where(t < b1, 10.8 * s + 0.03, np.where(t < b2, 16.8 * s - 0.5, 21.91 * s - 0.96))
        return np.where(np.isnan(t), np.nan, out)

    return map_rows(rows, theta.shape, theta)


def length_factor(
    flow_length_m: np.ndarray,
    slope_percent: np.ndarray,
    breaks: tuple[float, float, float] = (1.0, 3.0, 9.0),
    exps: tuple[float, float, float, float] = (0.2, 0.3, 0.4, 0.5),
) -> np.ndarray:
    """Slope-length factor ``L = (λ/22.13)^m`` [1] (Wischmeier & Smith 1978).

    ``m = exps[0]`` for slope < breaks[0] %, ``exps[1]`` for breaks[0] ≤ slope < breaks[1] %,
    ``exps[2]`` for breaks[1] ≤ slope < breaks[2] %, ``exps[3]`` at and above breaks[2] %. The
    thresholds are slope *percent* (1/3/9 % in 陈召亚 et al. 2016; verification §10), never degrees.

    Parameters
    ----------
    flow_length_m : slope length λ [m] (> 0).
    slope_percent : slope gradient [%] (100·tanθ).
    breaks : the three slope thresholds [%], ascending.
    exps : the four m exponents [1].
    """
    sp = np.asarray(slope_percent, dtype=float)
    lam = np.asarray(flow_length_m, dtype=float)

    def rows(sp: np.ndarray, lam: np.ndarray) -> np.ndarray:
        m = np.select(
            [sp < breaks[0], sp < breaks[1], sp < breaks[2]],
            [exps[0], exps[1], exps[2]],
            default=exps[3],
        )
        return np.where(np.isnan(sp), np.nan, np.power(lam / 22.13, m))

    return map_rows(rows, np.broadcast_shapes(sp.shape, lam.shape), sp, lam)


def r_factor_from_daily(
    daily_mm: np.ndarray,
    *,
    threshold_mm: float = 12.0,
    n_years: float = 1.0,
    p_d12: np.ndarray | None = None,
    p_y12: np.ndarray | None = None,
) -> np.ndarray:
    """Annual rainfall erosivity R from daily rainfall (章文波 daily/half-month model).

    Half-month erosivity ``M_i = α Σ_j D_j^β`` over erosive days ``D_j ≥ 12 mm``; summing the
    half-months of the year gives ``R = α Σ_{erosive days} D_j^β`` with
    ``β = 0.8363 + 18.144/P_d12 + 24.455/P_y12`` and ``α = 21.586 β^−7.1891``; P_d12 is the mean
    daily rainfall of erosive days [mm] and P_y12 the mean annual rainfall of erosive days [mm].
    Source: 章文波, 谢云, 刘宝元. 利用日雨量计算降雨侵蚀力的方法研究. 地理科学 2002, 22(6):
    705-711; confirmed (paper) in 陈召亚 et al. 2016.

    Parameters
    ----------
    daily_mm : daily rainfall [mm], shape ``(days, ...)``; NaN days count as 0 unless every day
        of a cell is NaN (then R is NaN).
    threshold_mm : erosive-day threshold [mm].
    n_years : number of years the series spans; R is the mean annual value.
    p_d12, p_y12 : long-term P_d12 and P_y12 [mm] (climatology); computed from the series when
        not given.

    Returns
    -------
    ndarray, shape ``daily_mm.shape[1:]``, R [MJ·mm·hm⁻²·h⁻¹·a⁻¹]; 0 where no erosive day.
    """
    d = np.asarray(daily_mm, dtype=float)
    all_nan = np.all(np.isnan(d), axis=0)
    erosive = np.where(d >= threshold_mm, d, 0.0)
    n_erosive = np.sum(erosive > 0, axis=0)
    total = np.sum(erosive, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        pd12 = total / n_erosive if p_d12 is None else np.asarray(p_d12, dtype=float)
        py12 = total / n_years if p_y12 is None else np.asarray(p_y12, dtype=float)
        beta = 0.8363 + 18.144 / pd12 + 24.455 / py12
        alpha = 21.586 * np.power(beta, -7.1891)
        sum_pow = np.sum(
            np.where(erosive > 0, np.power(np.where(erosive > 0, erosive, 1.0), beta), 0.0), axis=0
        )
        r = alpha * sum_pow / n_years
    r = np.where(n_erosive > 0, r, 0.0)
    return np.where(all_nan, np.nan, r)


def r_factor_from_annual(precip_mm: np.ndarray, a: float, b: float) -> np.ndarray:
    """Annual rainfall erosivity from annual precipitation, power law ``R = a·P^b``.

    A fallback when no daily data exist. The default coefficients in ``params_science.csv``
    (a = 0.0483, b = 1.61; Renard & Freimund 1994, J. Hydrol. 157: 287-306, fitted for
    P < 850 mm in the USA) are tagged unverified for China — supply regional ones.

    Parameters
    ----------
    precip_mm : annual precipitation P [mm].
    a : coefficient [MJ·mm·hm⁻²·h⁻¹·a⁻¹·mm^−b].
    b : exponent [1].

    Returns
    -------
    R [MJ·mm·hm⁻²·h⁻¹·a⁻¹].
    """
    p = np.asarray(precip_mm, dtype=float)
    return a * np.power(np.maximum(p, 0.0), b)


def k_factor_epic_raw(
    sand: np.ndarray, silt: np.ndarray, clay: np.ndarray, orgc: np.ndarray
) -> np.ndarray:
    """Soil erodibility K_EPIC of the EPIC model (Williams et al. 1990), in US customary units.

    ``K = {0.2 + 0.3·exp[−0.0256·SAN·(1 − SIL/100)]}·[SIL/(CLA + SIL)]^0.3
    ·{1 − 0.25·C/[C + exp(3.72 − 2.95·C)]}·{1 − 0.7·SN1/[SN1 + exp(−5.51 + 22.9·SN1)]}``,
    ``SN1 = 1 − SAN/100``. Confirmed (paper) in 陈召亚 et al. 2016.

    Parameters
    ----------
    sand, silt, clay : particle-size fractions [%] (0..100).
    orgc : soil organic carbon content [%].

    Returns
    -------
    K_EPIC [t·acre·h·(100·acre·ft·tonf·in)⁻¹]; multiply by 0.1317 for SI units.
    """
    sn1 = 1.0 - sand / 100.0
    with np.errstate(divide="ignore", invalid="ignore"):
        f_csand = 0.2 + 0.3 * np.exp(-0.0256 * sand * (1.0 - silt / 100.0))
        f_clsi = np.where(clay + silt > 0, np.power(silt / (clay + silt), 0.3), 0.0)
        f_orgc = 1.0 - 0.25 * orgc / (orgc + np.exp(3.72 - 2.95 * orgc))
        f_hisand = 1.0 - 0.7 * sn1 / (sn1 + np.exp(-5.51 + 22.9 * sn1))
    return f_csand * f_clsi * f_orgc * f_hisand


def k_factor_epic(
    sand: np.ndarray,
    silt: np.ndarray,
    clay: np.ndarray,
    orgc: np.ndarray,
    *,
    intercept: float = -0.01383,
    slope: float = 0.51575,
    to_si: float = 0.1317,
) -> np.ndarray:
    """Corrected soil erodibility ``K = (intercept + slope·K_EPIC) × to_si`` [t·hm²·h/(hm²·MJ·mm)].

    The correction −0.01383 + 0.51575·K_EPIC (张科利 et al. 2007, Chinese plot data) is
    unverified (verification §10): callers pass the coefficients from the parameter table.
    0.1317 converts US customary K to SI. Negative values are clipped to 0.

    Parameters
    ----------
    sand, silt, clay, orgc : as :func:`k_factor_epic_raw` [%].
    intercept, slope : correction coefficients [1].
    to_si : unit factor US → t·hm²·h/(hm²·MJ·mm).
    """
    k = (intercept + slope * k_factor_epic_raw(sand, silt, clay, orgc)) * to_si
    return np.where(np.isnan(k), np.nan, np.maximum(k, 0.0))


def soil_retention(
    r: np.ndarray, k: np.ndarray, ls: np.ndarray, c: np.ndarray, p: np.ndarray
) -> np.ndarray:
    """Soil retention ``Q = R·K·LS·(1 − C·P)`` [t·hm⁻²·a⁻¹] (RCEES; 白玛卓嘎 et al. 2017 §2.4.2).

    Potential erosion R·K·LS minus actual erosion R·K·LS·C·P.

    Parameters
    ----------
    r : rainfall erosivity [MJ·mm·hm⁻²·h⁻¹·a⁻¹].
    k : soil erodibility [t·hm²·h·hm⁻²·MJ⁻¹·mm⁻¹].
    ls : slope length-steepness factor [1].
    c : cover-management factor [1], 0..1.
    p : support-practice factor [1], 0..1.
    """
    return r * k * ls * (1.0 - c * p)


INVEST_M_SLOPES_PCT = (1.0, 3.5, 5.0, 9.0)
"""Slope classes [%] of the m exponent in InVEST SDR (sdr.py:1243, Table 1 of 'InVEST Sediment
Model_modifications_10-01-2012_RS'); m = 0.2, 0.3, 0.4, 0.5, then β/(1+β) above 9 %."""
INVEST_M_VALUES = (0.2, 0.3, 0.4, 0.5)


def ls_factor_invest(
    slope_percent: np.ndarray,
    flow_accumulation: np.ndarray,
    cell_size_m: float | np.ndarray,
    *,
    l_max: float = 122.0,
) -> np.ndarray:
    """LS factor exactly as InVEST 3.20.2 SDR ``_calculate_ls_factor`` (sdr.py:1136-1267) [1].

    Desmet & Govers (1996) with InVEST's choices (InVEST ADR-0001; the SAGA "square root of
    catchment area" option)::

        A  = √((FA − 1)·w²)                     [m]  (FA counts the cell itself)
        θ  = arctan(slope% / 100);  x = |sin θ| + |cos θ|   (from the slope angle, not aspect)
        S  = 10.8 sin θ + 0.03 (slope < 9 %), else 16.8 sin θ − 0.5        (McCool et al. 1987)
        m  = 0.2 / 0.3 / 0.4 / 0.5 for slope ≤ 1 / 3.5 / 5 / 9 %, else β/(1+β),
             β = (sin θ / 0.0896) / (3 (sin θ)^0.8 + 0.56)
        L  = [(A + w²)^(m+1) − A^(m+1)] / [w^(m+2) · x^m · 22.13^m],  L ≤ l_max
        LS = L · S

    The cell area w² (m²) is added to A = √area (m) as coded in InVEST; m and the slope terms
    are float32 as in InVEST's ``raster_map``. This is the ``ls_formula = "invest"`` variant of
    soil retention, for checking against InVEST; the Chinese-practice default is
    :func:`length_factor` × :func:`slope_factor_mccool`.

    Parameters
    ----------
    slope_percent : slope [%] (:func:`qingshan.kernels.routing.slope_percent_invest`).
    flow_accumulation : upslope pixels including the cell (≥ 1)
        (:func:`qingshan.kernels.routing.flow_accumulation_invest`).
    cell_size_m : cell width w [m] (InVEST uses the x pixel size only).
    l_max : cap on L [1]; InVEST SDR argument ``l_max`` (default 122 in the InVEST sample data).
    """
    sp = np.asarray(slope_percent, dtype=np.float32)
    fa = np.asarray(flow_accumulation, dtype=np.float64)
    w = np.asarray(cell_size_m, dtype=np.float64)
    shape: tuple[int, ...] = np.broadcast_shapes(sp.shape, fa.shape, w.shape)
    return map_rows(lambda a, b, c: _ls_invest_rows(a, b, c, l_max), shape, sp, fa, w)


def _ls_invest_rows(sp: np.ndarray, fa: np.ndarray, w: np.ndarray, l_max: float) -> np.ndarray:
    """:func:`ls_factor_invest` on a block of rows: the same numpy operations, in the same order
    and dtypes, as InVEST's ``_calculate_ls_factor`` (bit-identical to the whole-grid numpy
    formulation; numpy's SIMD ``arctan``/``sin``/``cos``/``power`` loops are kept on purpose — a
    compiled scalar libm loop differs from them in the last bits)."""
    f32 = np.float32
    area = w * w
    with np.errstate(invalid="ignore"):
        a = np.sqrt((fa - 1.0) * area)
        theta = np.arctan(sp / f32(100))
        sin_t = np.sin(theta)
        x = np.fabs(sin_t) + np.fabs(np.cos(theta))
        s = np.where(sp < 9, f32(10.8) * sin_t + f32(0.03), f32(16.8) * sin_t - f32(0.5))
        m = np.full(sp.shape, f32(INVEST_M_VALUES[0]))
        for bound, value in zip(INVEST_M_SLOPES_PCT[:-1], INVEST_M_VALUES[1:], strict=True):
            m[sp > bound] = value  # m for slope in (bound, next bound]; NaN slope keeps 0.2
        steep = sp > INVEST_M_SLOPES_PCT[-1]
        st = sin_t[steep]
        beta = (st / f32(0.0896)) / (f32(3) * st ** f32(0.8) + f32(0.56))
        m[steep] = beta / (1 + beta)
        l_fac = ((a + area) ** (m + 1) - a ** (m + 1)) / (w ** (m + 2) * x**m * 22.13**m)
    l_fac = np.minimum(l_fac, l_max)
    return np.where(np.isnan(sp) | np.isnan(fa), np.nan, l_fac * s)
