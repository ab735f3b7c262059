"""Windbreak and sand fixation (防风固沙) kernels: the Revised Wind Erosion Equation (RWEQ).

Fryrear et al. 1998 (RWEQ technical bulletin), as used by RCEES (白玛卓嘎 et al. 2017 names RWEQ)
and HJ 1173 A.14–A.22 (structure only; equations not re-read — gep-methodology.md R3, [R]):

    Q_max = 109.8 × (WF × EF × SCF × K′ × C)          [kg m-1]
    s     = 150.71 × (WF × EF × SCF × K′ × C)^−0.3711  [m]
    S_L   = (2z / s²) × Q_max × exp(−(z/s)²)            [kg m-2]

Potential loss uses C = 1 (no vegetation); sand fixed = potential − actual.
"""

from __future__ import annotations

import numpy as np

__all__ = ["rweq_soil_loss", "rweq_vegetation_factor"]


def rweq_soil_loss(wf: np.ndarray, ef: np.ndarray, scf: np.ndarray, k_rough: np.ndarray | float,
                   c: np.ndarray | float, z_m: float) -> np.ndarray:
    """Wind erosion at distance ``z`` downwind, ``S_L`` [kg m-2].

    Parameters
    ----------
    wf : weather factor WF [kg m-1]; ef : erodible fraction EF [1]; scf : crust factor SCF [1];
    k_rough : roughness factor K′ [1]; c : vegetation factor C [1] (1 = bare); z_m : field length z [m].

    Returns
    -------
    Soil loss [kg m-2], 0 where the product of the factors is 0.
    """
    prod = np.maximum(np.asarray(wf, dtype=float) * ef * scf * k_rough * c, 0.0)
    q_max = 109.8 * prod
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        s = 150.71 * np.power(prod, -0.3711)
        loss = (2.0 * z_m / s**2) * q_max * np.exp(-((z_m / s) ** 2))
    return np.where(prod > 0, loss, 0.0)


def rweq_vegetation_factor(cover: np.ndarray, coef: float) -> np.ndarray:
    """RWEQ vegetation factor ``C = exp(coef × cover%)`` [1] from fractional cover (0..1)."""
    return np.exp(coef * 100.0 * np.clip(cover, 0.0, 1.0))
