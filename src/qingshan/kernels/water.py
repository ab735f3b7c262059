"""Water kernels: water-balance retention and the Budyko (Zhang/Fu) actual evapotranspiration."""

from __future__ import annotations

import numpy as np

__all__ = ["budyko_fu_aet", "water_balance_depth"]


def water_balance_depth(precip: np.ndarray, aet: np.ndarray, runoff_coef: np.ndarray) -> np.ndarray:
    """Water retained per unit area by the water-balance equation [mm].

    ``Q = P − R − ET`` with storm runoff ``R = P·α`` (龚诗涵 et al. 2017, 生态学报 37(7), eq. 1–2;
    RCEES lineage of the national GEP specification).

    Parameters
    ----------
    precip : annual precipitation P [mm].
    aet : annual actual evapotranspiration ET [mm].
    runoff_coef : mean surface-runoff coefficient α of the ecosystem type [1] (0.0267, not 2.67).

    Returns
    -------
    ndarray [mm]; may be negative where ET exceeds P(1 − α) — callers decide whether to clip.
    """
    return precip - precip * runoff_coef - aet


def budyko_fu_aet(precip: np.ndarray, pet: np.ndarray, omega: np.ndarray) -> np.ndarray:
    """Actual evapotranspiration by Fu's form of the Budyko curve [mm].

    ``AET/P = 1 + PET/P − [1 + (PET/P)^ω]^(1/ω)`` (Fu 1981; Zhang et al. 2004), the equation of
    InVEST Annual Water Yield. ``AET`` never exceeds ``P`` or ``PET``.

    Parameters
    ----------
    precip : annual precipitation P [mm], > 0.
    pet : annual potential evapotranspiration PET [mm], ≥ 0.
    omega : shape parameter ω [1], ≥ 1.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = pet / precip
        ratio = 1.0 + phi - np.power(1.0 + np.power(phi, omega), 1.0 / omega)
        aet = ratio * precip
    aet = np.minimum(aet, np.minimum(precip, pet))
    return np.where(precip > 0, aet, 0.0)
