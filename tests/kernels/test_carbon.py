"""Carbon kernels: LUE NPP, CO2 and O2 factors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qingshan.kernels.carbon import (
    CO2_PER_C,
    O2_PER_CO2,
    co2_from_carbon,
    fpar_from_ndvi,
    npp_light_use,
    o2_from_co2,
)


def test_fpar_linear_scaled_and_clipped():
    # (0.45 − 0.05)/(0.85 − 0.05) = 0.5 → 0.5 × 0.95 = 0.475; NDVI ≤ soil → 0; ≥ veg → 0.95
    out = fpar_from_ndvi(np.array([0.45, 0.0, -0.3, 0.9, np.nan]), 0.05, 0.85, 0.95)
    np.testing.assert_allclose(out[:4], [0.475, 0.0, 0.0, 0.95])
    assert np.isnan(out[4])


def test_npp_hand_computed():
    # SOL 4400 MJ/m2 × 0.5 × FPAR 0.475 × ε 0.389 g C/MJ = 406.505 g C/m2
    assert npp_light_use(np.array(4400.0), 0.5, np.array(0.475), 0.389) == pytest.approx(406.505)


def test_co2_and_o2_factors():
    # 12 g C → 44 g CO2 → 32 g O2
    assert co2_from_carbon(np.array(12.0)) == pytest.approx(44.0)
    assert o2_from_co2(np.array(44.0)) == pytest.approx(32.0)
    assert pytest.approx(32.0 / 12.0) == CO2_PER_C * O2_PER_CO2


@given(st.floats(-1, 1), st.floats(-1, 1), st.floats(0, 8000))
def test_npp_monotone_in_ndvi_and_nonnegative(a, b, sol):
    lo, hi = sorted((a, b))
    fpar = fpar_from_ndvi(np.array([lo, hi]), 0.05, 0.85, 0.95)
    npp = npp_light_use(sol, 0.5, fpar, 0.389)
    assert np.all(npp >= 0.0)
    assert npp[1] >= npp[0]
