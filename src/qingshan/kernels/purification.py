"""Purification kernels: ecosystem removal capacity bounded by the emitted quantity.

RCEES practice (白玛卓嘎 et al. 2017, 生态学报 37(19), Garzê: SO2, NOx, dust, COD, NH3-N equal
the county emissions) credits ecosystems with the pollutants they *receive*, up to what they can
absorb: ``Q = min(capacity, emissions)`` per region. The per-area capacity form
``capacity = Σ_i q_i × A_i`` is that of 博文静 et al. 2017 (生态学报 37(12)). The *general* min rule
is still unverified as spec text (gep-methodology-verification.md §9).
"""

from __future__ import annotations

import numpy as np

__all__ = ["bounded_removal", "cap_factor"]


def cap_factor(capacity: np.ndarray | float, emissions: np.ndarray | float) -> np.ndarray:
    """Share of the capacity that is used, ``min(1, E / C)`` [1].

    Parameters
    ----------
    capacity : removal capacity C of a region [any mass unit], ≥ 0.
    emissions : emitted quantity E of the same region [same unit], ≥ 0.

    Returns
    -------
    Factor in 0..1 that scales every cell's capacity so the region total is ``min(C, E)``;
    1 where ``C = 0`` (nothing to scale).
    """
    c = np.asarray(capacity, dtype=float)
    e = np.asarray(emissions, dtype=float)
    if np.any(c < 0) or np.any(e < 0):
        raise ValueError("capacity and emissions must be non-negative")
    with np.errstate(all="ignore"):  # the unselected branch may overflow (tiny C, huge E)
        return np.where(c > e, e / np.where(c > 0, c, 1.0), 1.0)


def bounded_removal(capacity: np.ndarray | float, emissions: np.ndarray | float) -> np.ndarray:
    """Pollutant removed by ecosystems, ``Q = min(C, E)`` [unit of C and E] (= ``C × cap_factor``)."""
    cap_factor(capacity, emissions)  # validates signs
    return np.minimum(np.asarray(capacity, dtype=float), np.asarray(emissions, dtype=float))
