"""Property tests of water conservation (水源涵养): non-negative, monotone in precipitation,
anti-monotone in evapotranspiration, and the Budyko AET bounded by P and PET."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qingshan.kernels.water import budyko_fu_aet, water_balance_depth

mm = st.floats(min_value=0.0, max_value=4000.0, allow_nan=False)
alpha = st.floats(min_value=0.0, max_value=0.3, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(p=mm, extra=st.floats(min_value=0.0, max_value=500.0), et=mm, a=alpha)
def test_water_balance_monotone_in_precip(p, extra, et, a):
    lo = water_balance_depth(np.array([p]), np.array([et]), np.array([a]))
    hi = water_balance_depth(np.array([p + extra]), np.array([et]), np.array([a]))
    assert hi[0] >= lo[0] - 1e-9


@settings(max_examples=200, deadline=None)
@given(p=mm, et=mm, more=st.floats(min_value=0.0, max_value=500.0), a=alpha)
def test_water_balance_decreases_with_et(p, et, more, a):
    base = water_balance_depth(np.array([p]), np.array([et]), np.array([a]))
    wetter = water_balance_depth(np.array([p]), np.array([et + more]), np.array([a]))
    assert wetter[0] <= base[0] + 1e-9


@settings(max_examples=300, deadline=None)
@given(p=st.floats(min_value=1.0, max_value=4000.0), pet=mm, w=st.floats(min_value=1.0, max_value=5.0))
def test_budyko_aet_is_bounded_and_non_negative(p, pet, w):
    aet = budyko_fu_aet(np.array([p]), np.array([pet]), np.array([w]))[0]
    assert 0.0 <= aet <= min(p, pet) + 1e-9


def test_budyko_hand_computed():
    # P = 1000, PET = 1000, ω = 2 → AET/P = 1 + 1 − (1 + 1)^(1/2) = 2 − 1.414214 = 0.585786
    np.testing.assert_allclose(budyko_fu_aet(np.array([1000.0]), np.array([1000.0]), np.array([2.0])), [585.786438], rtol=1e-6)
