"""The range check of every input block: one pass over NaN, ±inf counted as nodata, bilingual errors."""

from __future__ import annotations

import numpy as np
import pytest

from qingshan.core.errors import InputError
from qingshan.core.variables import VARIABLES
from qingshan.io.rasters import _finite_range, check_range


@pytest.mark.parametrize(
    ("values", "want"),
    [
        (np.array([[3.0, np.nan], [1.0, 7.5]]), (1.0, 7.5)),
        (np.array([np.nan, np.nan]), (np.nan, np.nan)),
        (np.array([], dtype=np.float64), (np.nan, np.nan)),
        (np.array([np.inf, 2.0, -np.inf, 4.0, np.nan]), (2.0, 4.0)),  # infinite cells are nodata
        (np.array([np.inf, np.nan]), (np.nan, np.nan)),
        (np.array([[5, 2], [9, 4]], dtype=np.int16), (2.0, 9.0)),
    ],
)
def test_finite_range(values: np.ndarray, want: tuple[float, float]) -> None:
    np.testing.assert_equal(_finite_range(values), want)


def test_check_range_names_the_bad_value_and_the_empty_raster() -> None:
    precip = VARIABLES["precip"]
    check_range(np.array([1200.0, np.nan, np.inf, 1800.0]), precip, "p.tif")  # inf is nodata, not a value
    with pytest.raises(InputError, match=r"value -5 outside the plausible range") as err:
        check_range(np.array([1200.0, np.nan, -5.0]), precip, "p.tif")
    assert "p.tif" in str(err.value.file) and "单位" in err.value.fix_zh
    with pytest.raises(InputError, match="no valid cells"):
        check_range(np.array([np.nan, -np.inf]), precip, "p.tif")
