"""``unique_codes`` (land-cover code checks by counting) gives exactly what ``np.unique`` gives."""

from __future__ import annotations

import numpy as np
import pytest

from qingshan.core.params import unique_codes


@pytest.mark.parametrize("codes", [
    np.array([5, 1, 1, 3, 0, 5], dtype=np.int64),
    np.array([], dtype=np.int64),
    np.array([-1, 3, 2, -1], dtype=np.int64),  # negative (nodata) codes: np.unique
    np.array([2**40, 7], dtype=np.int64),  # huge codes: np.unique, not a 2**40 count array
    np.array([[4, 4], [2, 250]], dtype=np.uint8),
    np.array([1.0, 2.0, 2.0]),
])
def test_same_as_numpy_unique(codes: np.ndarray) -> None:
    got, want = unique_codes(codes), np.unique(codes)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_large_raster_of_small_codes() -> None:
    codes = np.random.default_rng(0).integers(0, 18, (500, 400)).astype(np.int64)
    codes[codes == 9] = 11
    np.testing.assert_array_equal(unique_codes(codes), np.unique(codes))
