"""Climate-regulation kernels: energy of vegetation transpiration and water-surface evaporation.

Formulas of the RCEES lineage (白玛卓嘎 et al. 2017, 生态学报 37(19), §2.4.8; confirmed (paper)
in ``gep-methodology-verification.md`` §3): the vegetation term is the electricity an air
conditioner of energy-efficiency ratio r would use to remove the latent heat of transpiration on
cooling days; the water-surface term is the electricity to remove the latent heat of evaporation
(not divided by r) plus the electricity a humidifier would use to vaporise the same water.
Results are per unit area [kWh m-2 a-1].
"""

from __future__ import annotations

import numpy as np

from qingshan.core.units import conversion_factor

__all__ = [
    "DAYS_PER_YEAR",
    "WATER_DENSITY_KG_M3",
    "vegetation_cooling_energy",
    "vegetation_cooling_per_type",
    "water_cooling_energy",
    "water_humidifying_energy",
]

WATER_DENSITY_KG_M3 = 1000.0
"""Density of liquid water ρ [kg m-3] (physical constant; the RCEES formula's ρ)."""

DAYS_PER_YEAR = 365.0
"""Days of the accounting year used to take the cooling-day share D/365 of annual ET."""

_M_PER_MM = conversion_factor("mm", "m")  # 0.001
_KWH_PER_KJ = conversion_factor("kJ", "kWh")  # 1/3600


def _water_depth_to_mass(depth_mm: np.ndarray) -> np.ndarray:
    """Evaporated water depth [mm] → mass per area [kg m-2] (ρ = 1000 kg m-3)."""
    return np.maximum(depth_mm, 0.0) * _M_PER_MM * WATER_DENSITY_KG_M3


def vegetation_cooling_energy(
    et_mm: np.ndarray,
    transpiration_share: np.ndarray,
    latent_heat: float,
    hot_days: np.ndarray | float,
    ac_efficiency: float,
) -> np.ndarray:
    """Electricity-equivalent of vegetation transpiration on cooling days [kWh m-2].

    ``E_pt = ET × ρ × s × q × (D/365) / (3600 × r)``: annual ET [mm → kg m-2] times the share
    ``s`` that is transpiration, times the latent heat ``q`` [kJ kg-1] gives the heat absorbed
    [kJ m-2]; the share ``D/365`` falls on cooling days; divided by 3600 kJ/kWh and by the
    air-conditioner energy-efficiency ratio ``r``.

    Parameters
    ----------
    et_mm : annual actual evapotranspiration [mm].
    transpiration_share : transpiration share of ET [1].
    latent_heat : latent heat of vaporisation q [kJ kg-1].
    hot_days : days needing cooling D [day], scalar or array.
    ac_efficiency : air-conditioner energy-efficiency ratio r [1].
    """
    heat_kj = _water_depth_to_mass(et_mm) * transpiration_share * latent_heat
    return (
        heat_kj * (np.asarray(hot_days, dtype=float) / DAYS_PER_YEAR) * _KWH_PER_KJ / ac_efficiency
    )


def water_cooling_energy(
    evap_mm: np.ndarray, latent_heat: float, ac_efficiency: float = 1.0
) -> np.ndarray:
    """Latent heat of water-surface evaporation as electricity ``E_w × ρ × q / 3600`` [kWh m-2].

    RCEES does not divide this term by r (verification §3); pass ``ac_efficiency`` ≠ 1 only for
    the variant that does.

    Parameters
    ----------
    evap_mm : annual open-water evaporation E_w [mm].
    latent_heat : latent heat of vaporisation q [kJ kg-1].
    ac_efficiency : divisor r [1]; 1 = RCEES.
    """
    return _water_depth_to_mass(evap_mm) * latent_heat * _KWH_PER_KJ / ac_efficiency


def water_humidifying_energy(evap_mm: np.ndarray, humidifier_energy: float) -> np.ndarray:
    """Humidifier electricity to vaporise the evaporated water ``E_w × γ`` [kWh m-2].

    Parameters
    ----------
    evap_mm : annual open-water evaporation E_w [mm].
    humidifier_energy : γ, electricity per m³ of water vaporised [kWh m-3].
    """
    return np.maximum(evap_mm, 0.0) * _M_PER_MM * humidifier_energy


def vegetation_cooling_per_type(
    heat_kj_m2_d: np.ndarray, hot_days: np.ndarray | float, ac_efficiency: float
) -> np.ndarray:
    """Electricity-equivalent of transpiration from a per-type heat table [kWh m-2].

    ``E_pt = EPP_i × D / (3600 × r)`` per m² (RCEES: ``Σ EPP_i × S_i × D / (3600 × R)``, 白玛卓嘎 et
    al. 2017 §2.4.8, confirmed (paper) in verification §3; the EPP table itself is unverified).

    Parameters
    ----------
    heat_kj_m2_d : heat consumed by transpiration per area and day EPP_i [kJ m-2 d-1].
    hot_days : days needing cooling D [day], scalar or array.
    ac_efficiency : air-conditioner energy-efficiency ratio r [1], > 0.
    """
    if not ac_efficiency > 0:
        raise ValueError(f"ac_efficiency must be positive, got {ac_efficiency}")
    days = np.maximum(np.asarray(hot_days, dtype=float), 0.0)
    return np.maximum(heat_kj_m2_d, 0.0) * days * _KWH_PER_KJ / ac_efficiency
