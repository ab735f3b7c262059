"""Purification kernels: the capacity-bounded removal Q = min(C, E)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qingshan.kernels.purification import bounded_removal, cap_factor

pos = st.floats(0, 1e9, allow_nan=False)


def test_cap_factor_hand_computed():
    # C = 400 t, E = 100 t → factor 100/400 = 0.25, Q = 100 t; C = 50 t, E = 100 t → factor 1, Q = 50 t
    np.testing.assert_allclose(cap_factor(np.array([400.0, 50.0, 0.0]), np.array([100.0, 100.0, 5.0])), [0.25, 1.0, 1.0])
    np.testing.assert_allclose(bounded_removal(np.array([400.0, 50.0, 0.0]), np.array([100.0, 100.0, 5.0])), [100.0, 50.0, 0.0])


@given(pos, pos)
def test_bounded_removal_is_min_and_non_negative(c, e):
    q = float(bounded_removal(c, e))
    assert q >= 0
    assert q == pytest.approx(min(c, e), rel=1e-12, abs=1e-9)
    assert c * float(cap_factor(c, e)) == pytest.approx(q, rel=1e-9, abs=1e-9)


@given(pos, pos, pos)
def test_bounded_removal_monotone_in_emissions_and_capacity(c, e1, e2):
    lo, hi = sorted((e1, e2))
    assert float(bounded_removal(c, lo)) <= float(bounded_removal(c, hi)) + 1e-9
    assert float(bounded_removal(lo, c)) <= float(bounded_removal(hi, c)) + 1e-9


def test_negative_inputs_rejected():
    with pytest.raises(ValueError, match="non-negative"):
        cap_factor(-1.0, 1.0)
