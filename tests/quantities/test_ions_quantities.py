"""Negative air ions per cell (100 m cells = 1 hm²)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers_science import utm_grid
from qingshan.core.errors import MissingParameterError
from qingshan.core.params import LandcoverTable, Parameter, ParameterTable, ParamSet
from qingshan.quantities.ions import negative_ions_production

GRID = utm_grid((1, 3))


def params(conc: str = "1800") -> ParamSet:
    df = pd.DataFrame([(1, "林", "f", "forest", conc, "10"), (2, "城", "u", "urban", "", "")],
                      columns=["code", "name_zh", "name_en", "ecosystem", "negative_ion_concentration", "stand_height"]).astype(str)
    df.index = pd.Index([1, 2], name="code")
    lc = LandcoverTable(table=df, units={"negative_ion_concentration": "cm-3", "stand_height": "m"},
                        sources={"negative_ion_concentration": "t", "stand_height": "t"})
    sc = {"negative_ion_lifetime": Parameter("negative_ion_lifetime", 10, "min", "t"),
          "negative_ion_threshold": Parameter("negative_ion_threshold", 600, "cm-3", "t")}
    return ParamSet(ParameterTable(params=sc), lc, {})


def test_per_class_hand_computed():
    out = negative_ions_production({"lulc": np.array([[1.0, 2.0, np.nan]])}, params(), GRID)
    # forest 1 hm²: 5.256e15 × 1800 × 1 × 10 / 10 = 9.4608e18 ions; above 600: × 1200/1800 = 6.3072e18; urban 0
    np.testing.assert_allclose(out["ions_produced"][0, :2], [9.4608e18, 0.0], rtol=1e-12)
    np.testing.assert_allclose(out["ions_above_threshold"][0, :2], [6.3072e18, 0.0], rtol=1e-12)
    assert np.isnan(out["ions_produced"][0, 2])


def test_rasters_override_the_table():
    out = negative_ions_production({"lulc": np.ones((1, 3)), "negative_ions": np.array([[600.0, 1200.0, 2400.0]]),
                                    "stand_height": np.full((1, 3), 20.0)}, params(), GRID)
    # above threshold 0, 600, 1800 cm-3 × 20 m × 1e10 cm³/(hm²·m) × 52 560 renewals
    np.testing.assert_allclose(out["ions_above_threshold"], [[0.0, 600 * 20 * 1e10 * 52560, 1800 * 20 * 1e10 * 52560]])


def test_missing_concentration_is_an_error():
    with pytest.raises(MissingParameterError, match="negative_ion_concentration"):
        negative_ions_production({"lulc": np.ones((1, 3))}, params(""), GRID)
