"""Negative air ion (负氧离子) kernels, LY/T 1721 / GB/T 38582 lineage (gep-methodology.md R11).

``G = 5.256×10^15 × Q × A × H / L`` ions per year, with Q the ion concentration [cm-3], A the
area [hm2], H the stand height [m] and L the ion lifetime [min]. The constant is a unit
conversion: 525 600 min a-1 × 10^10 cm3 per (hm2 · m). Here it is written as what it is —
``Q × (A × H) × (minutes per year / L)`` — so units are checked, not hidden. The formula, the
600 cm-3 valuation threshold and the production cost are all still unverified (verification §7).
"""

from __future__ import annotations

import numpy as np

from qingshan.core.units import conversion_factor

__all__ = ["MINUTES_PER_YEAR", "ion_production_density"]

MINUTES_PER_YEAR = 365.0 * 24.0 * 60.0
"""Minutes of the accounting year (525 600): renewals of the ion stock per year = this / L."""

_CM3_PER_M3 = conversion_factor("m3", "cm3")  # 1e6


def ion_production_density(
    concentration: np.ndarray, stand_height_m: np.ndarray, lifetime_min: float, threshold: float = 0.0
) -> np.ndarray:
    """Negative ions produced per m² of ground per year [ion m-2].

    ``G/A = max(Q − Q0, 0) × H × 10^6 cm3/m3 × (525 600 / L)``: the ion stock of the air column
    up to the stand height, renewed every ``L`` minutes.

    Parameters
    ----------
    concentration : mean negative-ion concentration Q [cm-3].
    stand_height_m : stand (canopy) height H [m].
    lifetime_min : ion lifetime L [min], > 0.
    threshold : concentration Q0 subtracted before counting [cm-3] (600 for the valued part).
    """
    if not lifetime_min > 0:
        raise ValueError(f"ion lifetime must be positive, got {lifetime_min}")
    excess = np.maximum(np.asarray(concentration, dtype=float) - threshold, 0.0)
    return excess * np.maximum(stand_height_m, 0.0) * _CM3_PER_M3 * (MINUTES_PER_YEAR / lifetime_min)
