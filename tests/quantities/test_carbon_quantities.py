"""Carbon sequestration by the fixation-rate and biomass-change methods (100 m cells = 1 hm²)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from helpers_science import utm_grid
from qingshan.aggregate.regions import Region, RegionSet
from qingshan.core.errors import InputError, MissingParameterError
from qingshan.core.params import LandcoverTable, Parameter, ParameterTable, ParamSet
from qingshan.kernels.carbon import fixation_rate_carbon, stock_change
from qingshan.quantities.carbon import (
    carbon_biomass_change,
    carbon_biomass_change_raster,
    carbon_fixation_rate,
    oxygen_from_fixation_rate,
)

GRID = utm_grid((1, 3))


def lc(rates: tuple[str, str, str] = ("1.0", "0.1", "0")) -> LandcoverTable:
    df = pd.DataFrame([(1, "林", "f", "forest", rates[0]), (2, "草", "g", "grassland", rates[1]), (3, "城", "u", "urban", rates[2])],
                      columns=["code", "name_zh", "name_en", "ecosystem", "carbon_fixation_rate"]).astype(str)
    df.index = pd.Index([1, 2, 3], name="code")
    return LandcoverTable(table=df, units={"carbon_fixation_rate": "tC/hm2"}, sources={"carbon_fixation_rate": "test"})


def params(beta: float = 0.2, table: LandcoverTable | None = None, options: dict | None = None) -> ParamSet:
    scal = ParameterTable(params={"soil_carbon_coef_beta": Parameter("soil_carbon_coef_beta", beta, "1", "test")})
    return ParamSet(scal, table or lc(), options or {})


def test_fixation_kernel_hand_computed():
    # FCSR 1.0 tC/hm² × (1 + 0.2) = 1.2 tC/hm²
    np.testing.assert_allclose(fixation_rate_carbon(np.array([1.0, 0.1]), np.array([0.2, 0.0])), [1.2, 0.1])
    np.testing.assert_allclose(stock_change(np.array([10.0, 5.0]), np.array([8.0, 6.0])), [2.0, 0.0])
    np.testing.assert_allclose(stock_change(np.array([5.0]), np.array([6.0]), clip_negative=False), [-1.0])


def test_fixation_rate_per_cell_hand_computed():
    out = carbon_fixation_rate({"lulc": np.array([[1.0, 2.0, 3.0]])}, params(), GRID)["co2_fixed"]
    # forest 1.0 × 1.2 × 44/12 = 4.4 tCO2; grassland 0.1 (β not applied) × 44/12 = 0.36667; urban 0
    np.testing.assert_allclose(out, [[4.4, 0.1 * 44 / 12, 0.0]])
    o2 = oxygen_from_fixation_rate({"lulc": np.array([[1.0, 2.0, 3.0]])}, params(), GRID)["o2_released"]
    np.testing.assert_allclose(o2, out * 32 / 44)  # 4.4 tCO2 → 3.2 t O2


@settings(max_examples=30, deadline=None)
@given(st.floats(0, 20), st.floats(0, 20), st.floats(0, 2))
def test_fixation_non_negative_and_monotone(r1, r2, beta):
    lo, hi = sorted((r1, r2))
    a = carbon_fixation_rate({"lulc": np.ones((1, 3))}, params(beta, lc((str(lo), "0", "0"))), GRID)["co2_fixed"]
    b = carbon_fixation_rate({"lulc": np.ones((1, 3))}, params(beta, lc((str(hi), "0", "0"))), GRID)["co2_fixed"]
    assert (a >= 0).all() and (a <= b + 1e-9).all()


def test_fixation_missing_rate_is_an_error():
    with pytest.raises(MissingParameterError, match="carbon_fixation_rate"):
        carbon_fixation_rate({"lulc": np.array([[1.0, 2.0, 3.0]])}, params(table=lc(("", "0.1", "0"))), GRID)
    with pytest.raises(InputError, match="not in the land-cover table"):
        carbon_fixation_rate({"lulc": np.array([[1.0, 7.0, 3.0]])}, params(), GRID)


def _regions() -> RegionSet:
    regs = {"360000": Region("360000", "江西", "province", None), "360100": Region("360100", "南昌", "city", "360000"),
            "360102": Region("360102", "东湖", "county", "360100")}
    leaves = gpd.GeoDataFrame({"code": ["360102"], "name": ["东湖"]}, geometry=[box(0, 0, 1, 1)], crs="EPSG:4326")
    return RegionSet(regions=regs, leaves=leaves)


def _stats(rows):
    return pd.DataFrame([{"region_code": "360102", "year": y, "item": i, "value": v, "unit": u, "source": "t"} for y, i, v, u in rows])


def test_biomass_change_table_hand_computed():
    stats = _stats([(2019, "biomass_carbon_stock.forest", 1.2, "万tC"), (2018, "biomass_carbon_stock.forest", 10000, "tC"),
                    (2019, "biomass_carbon_stock.grassland", 50, "tC"), (2018, "biomass_carbon_stock.grassland", 60, "tC")])
    out = carbon_biomass_change({"statistics": stats}, params(), _regions(), 2019, "carbon_sequestration").set_index("ecosystem")
    # forest: 12 000 − 10 000 = 2000 tC × 44/12 = 7333.33 tCO2; grassland lost carbon → 0
    assert out.loc["forest", "quantity"] == pytest.approx(2000 * 44 / 12)
    assert out.loc["grassland", "quantity"] == 0.0
    assert set(out["unit"]) == {"tCO2"}
    assert carbon_biomass_change({"statistics": stats}, params(), _regions(), 2017, "carbon_sequestration").empty


def test_biomass_change_raster_hand_computed():
    out = carbon_biomass_change_raster({"biomass_carbon": np.array([[50.0, 40.0, 30.0]]),
                                        "biomass_carbon_previous": np.array([[48.0, 41.0, 30.0]])}, params(), GRID)
    # (2, −1 → 0, 0) tC/hm² × 1 hm² × 44/12
    np.testing.assert_allclose(out["co2_fixed"], [[2 * 44 / 12, 0.0, 0.0]])
