"""Sand fixation by RWEQ per cell (100 m cells = 1 hm² = 10 000 m²)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers_science import science_params, utm_grid
from qingshan.quantities.wind import erodible_fraction, sand_fixation_rweq, soil_crust_factor

GRID = utm_grid((1, 2))


def _loss(prod: float, z: float = 50.0) -> float:
    s = 150.71 * prod**-0.3711
    return 2 * z / s**2 * 109.8 * prod * math.exp(-((z / s) ** 2))


def test_hand_computed_with_scalar_factors():
    p = science_params()
    out = sand_fixation_rweq({"wind_factor": np.full((1, 2), 10.0), "ndvi": np.array([[0.05, 0.85]]), "lulc": np.array([[3.0, 1.0]])}, p, GRID)
    # WF 10, EF 0.5, SCF 0.5, K′ 1: bare (NDVI 0.05 → C = 1) fixes 0; full cover C = exp(−4.83)
    c = math.exp(-0.0483 * 100)
    expected_kg_m2 = _loss(2.5) - _loss(2.5 * c)
    np.testing.assert_allclose(out["sand_fixed"], [[0.0, expected_kg_m2 * 1e4 / 1000]], rtol=1e-9)
    # desertified land avoided = Q / (1.28 t/m³ × 0.1 m)
    np.testing.assert_allclose(out["desertified_land_avoided"], out["sand_fixed"] / 0.128)


def test_texture_factors_hand_computed():
    # EF = (29.09 + 0.31·40 + 0.17·40 + 0.33·40/20 − 2.59·2)/100 = 0.4377; SCF = 1/(1 + 0.0066·400 + 0.021·4) = 0.2695
    assert erodible_fraction(np.array([40.0]), np.array([40.0]), np.array([20.0]), np.array([2.0]))[0] == pytest.approx(0.4377)
    assert soil_crust_factor(np.array([20.0]), np.array([2.0]))[0] == pytest.approx(1 / 3.724)


@settings(max_examples=30, deadline=None)
@given(st.floats(0.05, 0.85), st.floats(0.05, 0.85))
def test_more_vegetation_never_fixes_less_sand(n1, n2):
    lo, hi = sorted((n1, n2))
    p = science_params()
    base = {"wind_factor": np.full((1, 2), 10.0), "lulc": np.ones((1, 2))}
    a = sand_fixation_rweq({**base, "ndvi": np.full((1, 2), lo)}, p, GRID)["sand_fixed"]
    b = sand_fixation_rweq({**base, "ndvi": np.full((1, 2), hi)}, p, GRID)["sand_fixed"]
    assert (a >= 0).all() and (a <= b + 1e-9).all()
