"""Negative-ion kernel: G = Q × A × H × 525 600 / L (the 5.256×10^15 of LY/T 1721 as a unit conversion)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qingshan.kernels.ions import ion_production_density


def test_hand_computed_matches_the_lyt1721_constant():
    # Q = 1800 cm-3, H = 10 m, L = 10 min over 1 hm²: 5.256e15 × 1800 × 1 × 10 / 10 = 9.4608e18 ions
    per_m2 = ion_production_density(np.array([1800.0]), np.array([10.0]), 10.0)
    assert per_m2[0] * 1e4 == pytest.approx(5.256e15 * 1800 * 1 * 10 / 10)
    # valued part: (1800 − 600) / 1800 of it
    above = ion_production_density(np.array([1800.0]), np.array([10.0]), 10.0, threshold=600.0)
    assert above[0] == pytest.approx(per_m2[0] * 1200 / 1800)


@given(st.floats(0, 1e5), st.floats(0, 1e5), st.floats(0, 100), st.floats(0.1, 100))
def test_non_negative_and_monotone_in_concentration(q1, q2, h, life):
    lo, hi = sorted((q1, q2))
    a = ion_production_density(np.array([lo]), np.array([h]), life, 600.0)
    b = ion_production_density(np.array([hi]), np.array([h]), life, 600.0)
    assert a[0] >= 0 and a[0] <= b[0] * (1 + 1e-12) + 1e-9


def test_bad_lifetime():
    with pytest.raises(ValueError, match="lifetime"):
        ion_production_density(np.array([1.0]), np.array([1.0]), 0.0)
