"""RUSLE factor kernels: hand-computed values, edge cases and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qingshan.kernels.soil import (
    c_factor_cai,
    fvc_from_ndvi,
    k_factor_epic,
    k_factor_epic_raw,
    length_factor,
    r_factor_from_annual,
    r_factor_from_daily,
    slope_factor_mccool,
    soil_retention,
)

fractions = st.floats(0.0, 1.0, allow_nan=False)


def test_fvc_from_ndvi_linear_and_clipped():
    # (0.45 − 0.05)/(0.85 − 0.05) = 0.5; below soil → 0; above veg → 1
    out = fvc_from_ndvi(np.array([0.45, -0.2, 0.95, np.nan]), 0.05, 0.85)
    np.testing.assert_allclose(out[:3], [0.5, 0.0, 1.0])
    assert np.isnan(out[3])


def test_fvc_rejects_inverted_end_members():
    with pytest.raises(ValueError, match="ndvi_veg"):
        fvc_from_ndvi(np.array([0.5]), 0.8, 0.1)


def test_c_factor_hand_values():
    # f = 0 → 1;  f = 10 %: 0.6508 − 0.3436·lg 10 = 0.3072;  f = 50 %: 0.6508 − 0.3436·1.69897 = 0.067034
    # f = 80 % ≥ 78.3 % → 0;  f = 0.05 %: 0.6508 + 0.3436·1.30103 = 1.098 → clipped to 1
    out = c_factor_cai(np.array([0.0, 0.10, 0.50, 0.80, 0.0005, np.nan]))
    np.testing.assert_allclose(out[:5], [1.0, 0.3072, 0.0670339, 0.0, 1.0], atol=1e-6)
    assert np.isnan(out[5])


def test_c_factor_continuous_at_upper_threshold():
    # 0.6508 − 0.3436·lg 78.3 = 0.6508 − 0.3436·1.89376 = 0.00011 ≈ 0
    below = c_factor_cai(np.array([0.7829]))[0]
    assert 0.0 <= below < 1e-3


@given(fractions, fractions)
def test_c_factor_monotone_nonincreasing(a, b):
    lo, hi = sorted((a, b))
    c_lo, c_hi = c_factor_cai(np.array([lo, hi]))
    assert 0.0 <= c_hi <= c_lo <= 1.0


def test_slope_factor_three_branches():
    # 3°:  10.8·sin3° + 0.03 = 10.8·0.052336 + 0.03 = 0.595228
    # 7°:  16.8·sin7° − 0.5  = 16.8·0.121869 − 0.5  = 1.547405
    # 15°: 21.91·sin15° − 0.96 = 21.91·0.258819 − 0.96 = 4.710725
    theta = np.deg2rad([3.0, 7.0, 15.0])
    np.testing.assert_allclose(
        slope_factor_mccool(theta), [0.595228, 1.547405, 4.710725], atol=1e-6
    )


@given(st.floats(0.0, 1.2), st.floats(0.0, 1.2))
def test_slope_factor_monotone(a, b):
    # the branches jump by < 0.01 at 5°, so S is monotone up to that step
    lo, hi = sorted((a, b))
    s_lo, s_hi = slope_factor_mccool(np.array([lo, hi]))
    assert s_hi >= s_lo - 0.01


def test_length_factor_m_by_slope_percent():
    # λ = 88.52 = 4 × 22.13:  0.5 % → m 0.2: 4^0.2 = 1.319508;  2 % → 4^0.3 = 1.515717
    # 5 % → 4^0.4 = 1.741101;  9 % (at the break) → 4^0.5 = 2
    lam = np.full(4, 88.52)
    out = length_factor(lam, np.array([0.5, 2.0, 5.0, 9.0]))
    np.testing.assert_allclose(out, [1.319508, 1.515717, 1.741101, 2.0], atol=1e-6)


def test_length_factor_breaks_are_parameters():
    # with USLE-table breaks (1, 3, 5) %, 6 % slope → m = 0.5: 4^0.5 = 2 (default breaks give 4^0.4)
    out = length_factor(np.array([88.52]), np.array([6.0]), breaks=(1, 3, 5))
    np.testing.assert_allclose(out, [2.0])
    assert length_factor(np.array([22.13]), np.array([30.0]))[0] == pytest.approx(1.0)


def test_r_factor_from_daily_hand_computed():
    # erosive days (≥ 12 mm): 20, 30, 12 → P_d12 = 62/3 = 20.6667, P_y12 = 62
    # β = 0.8363 + 18.144/20.6667 + 24.455/62 = 2.108671;  α = 21.586·β^−7.1891 = 0.1011208
    # Σ D^β = 20^β + 30^β + 12^β = 2045.0132 → R = 0.1011208 × 2045.0132 = 206.7933
    out = r_factor_from_daily(np.array([20.0, 30.0, 5.0, 0.0, 12.0]))
    assert out == pytest.approx(206.7933, rel=1e-6)


def test_r_factor_from_daily_grid_and_edge_cases():
    days = np.zeros((4, 2, 2))
    days[:, 0, 0] = [20, 30, 5, 12]
    days[:, 0, 1] = [5, 5, 11.9, 0]  # no erosive day → 0
    days[:, 1, 0] = np.nan  # all missing → NaN
    days[:, 1, 1] = [np.nan, 20, 30, 12]  # one missing day counts as 0
    out = r_factor_from_daily(days)
    assert out[0, 0] == pytest.approx(206.7933, rel=1e-6)
    assert out[0, 1] == 0.0
    assert np.isnan(out[1, 0])
    assert out[1, 1] == pytest.approx(out[0, 0])


def test_r_factor_from_daily_multi_year_mean():
    # the same year twice with n_years = 2 gives the one-year R
    year = np.array([20.0, 30.0, 5.0, 0.0, 12.0])
    two = r_factor_from_daily(np.concatenate([year, year]), n_years=2)
    assert two == pytest.approx(r_factor_from_daily(year))


def test_r_factor_from_annual():
    # 0.0483 × 1000^1.61 = 0.0483 × 67608.3 = 3265.48
    assert r_factor_from_annual(np.array(1000.0), 0.0483, 1.61) == pytest.approx(3265.48, rel=1e-5)


def test_k_epic_hand_computed():
    # sand 40, silt 40, clay 20, C_org 1.5 %:
    # f_csand = 0.2 + 0.3·exp(−0.0256·40·0.6) = 0.362290;  f_cl-si = (40/60)^0.3 = 0.885467
    # f_orgc = 1 − 0.25·1.5/(1.5 + e^(3.72−4.425)) = 0.811946;  f_hisand (SN1 = 0.6) = 0.999888
    # K_EPIC = 0.260440;  K = (−0.01383 + 0.51575·0.260440)·0.1317 = 0.0158688
    args = [np.array([v]) for v in (40.0, 40.0, 20.0, 1.5)]
    assert k_factor_epic_raw(*args)[0] == pytest.approx(0.260440, rel=1e-5)
    assert k_factor_epic(*args)[0] == pytest.approx(0.0158688, rel=1e-5)


def test_k_epic_correction_never_negative():
    # pure clay: silt = 0 → K_EPIC = 0 → −0.01383·0.1317 < 0 → clipped to 0
    k = k_factor_epic(np.array([0.0]), np.array([0.0]), np.array([100.0]), np.array([2.0]))
    assert k[0] == 0.0


def test_soil_retention_hand_computed():
    # R = 5000, K = 0.03, LS = 2, C = 0.2, P = 1 → 5000·0.03·2·(1 − 0.2) = 240 t/hm2
    assert soil_retention(5000.0, 0.03, 2.0, 0.2, 1.0) == pytest.approx(240.0)
    assert np.isnan(soil_retention(np.nan, 0.03, 2.0, 0.2, 1.0))


@settings(max_examples=60)
@given(fractions, fractions, st.floats(0, 20000), st.floats(0, 0.1), st.floats(0, 50))
def test_retention_nonnegative_and_monotone_in_cover(f1, f2, r, k, ls):
    lo, hi = sorted((f1, f2))
    c = c_factor_cai(np.array([lo, hi]))
    q = soil_retention(r, k, ls, c, 1.0)
    assert np.all(q >= 0.0)
    assert q[1] >= q[0] - 1e-9 * max(1.0, abs(q[0]))


def test_slope_in_radians_not_degrees():
    assert slope_factor_mccool(np.array([math.atan(0.1)]))[0] == pytest.approx(
        16.8 * 0.0995037 - 0.5, rel=1e-6
    )
