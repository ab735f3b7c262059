"""RWEQ kernel: S_L = (2z/s²) Q_max exp(−(z/s)²)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qingshan.kernels.wind import rweq_soil_loss, rweq_vegetation_factor


def test_hand_computed():
    # WF·EF·SCF·K′·C = 10 × 0.5 × 0.5 × 1 × 1 = 2.5 → Q_max = 274.5 kg/m; s = 150.71 × 2.5^−0.3711 = 107.27 m
    # S_L(z = 50) = 2·50/107.27² × 274.5 × exp(−(50/107.27)²) = 0.0086905 × 274.5 × 0.80474 = 1.9198 kg/m²
    s = 150.71 * 2.5**-0.3711
    expected = 2 * 50 / s**2 * 274.5 * math.exp(-((50 / s) ** 2))
    assert rweq_soil_loss(np.array([10.0]), 0.5, 0.5, 1.0, 1.0, 50.0)[0] == pytest.approx(expected)
    assert expected == pytest.approx(1.9198, rel=1e-4)
    assert rweq_soil_loss(np.array([0.0]), 0.5, 0.5, 1.0, 1.0, 50.0)[0] == 0.0
    # C = exp(−0.0483 × 50 %) = 0.0893
    assert rweq_vegetation_factor(np.array([0.5]), -0.0483)[0] == pytest.approx(math.exp(-2.415))


@given(st.floats(0, 60), st.floats(0, 60))
def test_loss_non_negative_and_monotone_below_the_peak(p1, p2):
    # S_L rises with the factor product up to prod^0.7422 = 2.347 (150.71/z)² (≈ 62 at z = 50 m)
    lo, hi = sorted((p1, p2))
    a = rweq_soil_loss(np.array([lo]), 1.0, 1.0, 1.0, 1.0, 50.0)[0]
    b = rweq_soil_loss(np.array([hi]), 1.0, 1.0, 1.0, 1.0, 50.0)[0]
    assert a >= 0 and a <= b + 1e-9
