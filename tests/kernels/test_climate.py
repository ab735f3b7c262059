"""Climate-regulation kernels: transpiration and water-surface energy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qingshan.kernels.climate import (
    vegetation_cooling_energy,
    water_cooling_energy,
    water_humidifying_energy,
)


def test_vegetation_energy_hand_computed():
    # ET 800 mm = 800 kg/m2; × share 0.6 × 2450 kJ/kg = 1 176 000 kJ/m2; × 90/365 = 289 972.6 kJ/m2
    # / 3600 kJ/kWh = 80.548 kWh/m2; / r 3 = 26.8493 kWh/m2
    out = vegetation_cooling_energy(np.array(800.0), np.array(0.6), 2450.0, 90.0, 3.0)
    assert out == pytest.approx(26.84932, rel=1e-5)


def test_water_energy_hand_computed():
    # E_w 1000 mm = 1 m3/m2 = 1000 kg/m2; × 2450 kJ/kg / 3600 = 680.556 kWh/m2 (not ÷ r); + 1 m3 × 120 = 120
    assert water_cooling_energy(np.array(1000.0), 2450.0) == pytest.approx(680.5556, rel=1e-6)
    assert water_humidifying_energy(np.array(1000.0), 120.0) == pytest.approx(120.0)
    # the "÷ r" variant
    assert water_cooling_energy(np.array(1000.0), 2450.0, 3.0) == pytest.approx(226.8519, rel=1e-6)


def test_negative_clipped_and_nan_propagates():
    out = vegetation_cooling_energy(
        np.array([-50.0, np.nan]), np.array([0.6, 0.6]), 2450.0, 90.0, 3.0
    )
    assert out[0] == 0.0
    assert np.isnan(out[1])
    assert np.isnan(water_humidifying_energy(np.array(np.nan), 120.0))


@given(st.floats(0, 3000), st.floats(0, 3000), st.floats(0, 1), st.floats(0, 366))
def test_energy_monotone_in_et(a, b, share, days):
    lo, hi = sorted((a, b))
    e = vegetation_cooling_energy(np.array([lo, hi]), share, 2450.0, days, 3.0)
    assert 0.0 <= e[0] <= e[1]
    w = water_cooling_energy(np.array([lo, hi]), 2450.0) + water_humidifying_energy(
        np.array([lo, hi]), 120.0
    )
    assert 0.0 <= w[0] <= w[1]
