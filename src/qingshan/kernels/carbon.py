"""Carbon kernels: a CASA-type light-use-efficiency NPP and the stoichiometric CO2 / O2 factors.

NPP follows the CASA structure (Potter et al. 1993, Global Biogeochem. Cycles 7(4): 811-841;
朱文泉 et al. 2007, 植物生态学报 31(3): 413-424) without the temperature and water stress scalars
(both taken as 1, i.e. ε is the maximum light-use efficiency): ``NPP = ε × SOL × f_PAR × FPAR``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "CO2_PER_C",
    "O2_PER_CO2",
    "co2_from_carbon",
    "fixation_rate_carbon",
    "fpar_from_ndvi",
    "npp_light_use",
    "o2_from_co2",
    "stock_change",
]

CO2_PER_C = 44.0 / 12.0
"""Mass of CO2 per mass of carbon (molar masses 44 and 12 g/mol): physical constant."""

O2_PER_CO2 = 32.0 / 44.0
"""O2 released per CO2 fixed (6CO2 + 6H2O → C6H12O6 + 6O2; molar masses 32 and 44): physical constant."""


def fpar_from_ndvi(
    ndvi: np.ndarray, ndvi_soil: float, ndvi_veg: float, fpar_max: float, fpar_min: float = 0.0
) -> np.ndarray:
    """Fraction of absorbed PAR from NDVI, linear between two NDVI end members [1].

    ``FPAR = (NDVI − NDVI_soil)/(NDVI_veg − NDVI_soil) × (FPAR_max − FPAR_min) + FPAR_min``, the
    ratio clipped to 0..1 (Potter et al. 1993; 朱文泉 et al. 2007 with FPAR_max = 0.95).

    Parameters
    ----------
    ndvi : NDVI [1].
    ndvi_soil, ndvi_veg : NDVI of bare soil and of full cover [1].
    fpar_max, fpar_min : FPAR at ``ndvi_veg`` and at ``ndvi_soil`` [1].
    """
    if not ndvi_veg > ndvi_soil:
        raise ValueError(f"ndvi_veg ({ndvi_veg}) must be greater than ndvi_soil ({ndvi_soil})")
    ratio = np.clip((ndvi - ndvi_soil) / (ndvi_veg - ndvi_soil), 0.0, 1.0)
    return ratio * (fpar_max - fpar_min) + fpar_min


def npp_light_use(
    solar: np.ndarray, par_fraction: float, fpar: np.ndarray, epsilon: float
) -> np.ndarray:
    """Annual NPP by light-use efficiency ``NPP = ε × APAR``, ``APAR = SOL × f_PAR × FPAR``.

    Parameters
    ----------
    solar : annual total solar radiation SOL [MJ m-2].
    par_fraction : photosynthetically active share of SOL [1] (≈ 0.5).
    fpar : fraction of PAR absorbed [1].
    epsilon : light-use efficiency ε [g C MJ-1] (CASA maximum 0.389).

    Returns
    -------
    NPP [g C m-2], ≥ 0.
    """
    return np.maximum(epsilon * solar * par_fraction * fpar, 0.0)


def co2_from_carbon(carbon: np.ndarray) -> np.ndarray:
    """CO2 mass from carbon mass, ``× 44/12`` (same unit in and out)."""
    return CO2_PER_C * carbon


def o2_from_co2(co2: np.ndarray) -> np.ndarray:
    """O2 released from CO2 fixed, ``× 32/44`` (same unit in and out)."""
    return O2_PER_CO2 * co2


def fixation_rate_carbon(rate: np.ndarray, soil_coef: np.ndarray | float = 0.0) -> np.ndarray:
    """Carbon fixed per area by the fixation-rate method, ``FCSR × (1 + β)`` [unit of ``rate``].

    ``FCS = FCSR × SF × (1 + β)`` for forest and shrub (β soil-carbon coefficient, 0 elsewhere),
    ``GSCS = GSR × SG`` for grassland, ``WCS = SCSR × SW`` for wetland (gep-methodology.md R8;
    unverified, verification §6a). Multiply by area for the total.

    Parameters
    ----------
    rate : carbon sequestration rate of the class [e.g. t C hm-2 a-1], ≥ 0.
    soil_coef : β [1], ≥ 0 (per cell: β where it applies, 0 elsewhere).
    """
    return np.maximum(rate, 0.0) * (1.0 + np.maximum(soil_coef, 0.0))


def stock_change(stock_now: np.ndarray, stock_before: np.ndarray, *, clip_negative: bool = True) -> np.ndarray:
    """Carbon fixed as the biomass-carbon stock change ``C_t − C_(t−1)`` [unit of the stocks].

    GB/T 46869 A.7 生物量法 (second-hand, verification §1); IPCC stock-difference method. A net
    loss is no sequestration service: clipped to 0 unless ``clip_negative`` is False.
    """
    delta = np.asarray(stock_now, dtype=float) - np.asarray(stock_before, dtype=float)
    return np.maximum(delta, 0.0) if clip_negative else delta
