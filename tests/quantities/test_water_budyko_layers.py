"""The Budyko layers: the curve only on vegetated cells gives the cells of the whole-array formula."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers_science import utm_grid
from qingshan.core.params import LandcoverTable, Parameter, ParameterTable, ParamSet
from qingshan.kernels.water import budyko_fu_aet
from qingshan.quantities.water import water_budyko_layers


def _params(vegetated: list[str]) -> ParamSet:
    df = pd.DataFrame([(1, "林", "f", "forest", "0.9", "3000"), (2, "草", "g", "grassland", "0.7", "800"),
                       (3, "城", "u", "urban", "0.3", "100")],
                      columns=["code", "name_zh", "name_en", "ecosystem", "kc", "root_depth_mm"]).astype(str)
    df.index = pd.Index([1, 2, 3], name="code")
    lc = LandcoverTable(table=df, units={"kc": "1", "root_depth_mm": "mm"}, sources={"kc": "test", "root_depth_mm": "test"})
    scal = ParameterTable(params={"zhang_z": Parameter("zhang_z", 5.0, "1", "test")})
    return ParamSet(scal, lc, {"budyko_vegetated_ecosystems": vegetated})


@pytest.mark.parametrize("vegetated", [["forest"], ["forest", "grassland", "urban"], ["wetland"]])
def test_aet_equals_the_whole_array_formula(vegetated: list[str]) -> None:
    rng = np.random.default_rng(3)
    shape = (40, 30)
    lulc = rng.integers(1, 4, shape).astype(np.float64)
    lulc[0, :5] = np.nan
    precip = rng.uniform(800, 2000, shape)
    precip[1, 1] = 0.0
    et0 = rng.uniform(700, 1200, shape)
    inputs = {"precip": precip, "pet": et0, "lulc": lulc, "root_depth": rng.uniform(200, 2000, shape),
              "pawc": rng.uniform(0.05, 0.3, shape)}
    params = _params(vegetated)
    got = water_budyko_layers(inputs, params, utm_grid(shape))
    veg = np.isin(lulc, [{"forest": 1, "grassland": 2, "urban": 3}.get(e, -9) for e in vegetated])
    want = np.where(veg, budyko_fu_aet(precip, got["pet"], got["omega"]), np.minimum(got["pet"], precip))
    valid = np.isfinite(got["aet"])
    assert valid.sum() == shape[0] * shape[1] - 6  # 5 nodata land-cover cells and P = 0
    np.testing.assert_array_equal(got["aet"][valid], want[valid])
    np.testing.assert_array_equal(got["wyield"][valid], (precip - want)[valid])
