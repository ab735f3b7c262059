"""Air and water purification capacities per cell (grid: UTM 50N, 100 m cells = 1 hm² each)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers_science import utm_grid
from qingshan.core.errors import ConfigError, InputError, MissingParameterError
from qingshan.core.params import LandcoverTable, ParameterTable, ParamSet
from qingshan.quantities.purification import air_purification_capacity, water_purification_capacity

COLS = ["so2_absorption", "nox_absorption", "dust_retention", "cod_removal", "nh3n_removal", "tp_removal"]


def lc_table(rows: list[tuple[int, str, list[str]]]) -> LandcoverTable:
    df = pd.DataFrame([(c, "x", "x", eco, *vals) for c, eco, vals in rows],
                      columns=["code", "name_zh", "name_en", "ecosystem", *COLS]).astype(str)
    df.index = pd.Index([int(c) for c in df["code"]], name="code")
    return LandcoverTable(table=df, units=dict.fromkeys(COLS, "kg/hm2"), sources=dict.fromkeys(COLS, "test"))


TABLE = lc_table([
    (1, "forest", ["215.6", "6.0", "33200", "0", "0", "0"]),
    (2, "wetland", ["0", "0", "0", "5000", "500", "100"]),
    (3, "urban", ["0", "0", "0", "0", "0", "0"]),
])
GRID = utm_grid((1, 3))


def params(options: dict | None = None, table: LandcoverTable = TABLE) -> ParamSet:
    return ParamSet(ParameterTable(params={}), table, options or {})


def test_air_capacity_hand_computed():
    out = air_purification_capacity({"lulc": np.array([[1.0, 2.0, np.nan]])}, params(), GRID)
    # forest 1 hm²: SO2 215.6 kg = 0.2156 t; NOx 6 kg = 0.006 t; dust 33 200 kg = 33.2 t; wetland 0; nodata NaN
    np.testing.assert_allclose(out["so2"][0, :2], [0.2156, 0.0])
    np.testing.assert_allclose(out["nox"][0, :2], [0.006, 0.0])
    np.testing.assert_allclose(out["dust"][0, :2], [33.2, 0.0])
    assert np.isnan(out["so2"][0, 2])


def test_water_capacity_hand_computed_and_component_option():
    out = water_purification_capacity({"lulc": np.array([[1.0, 2.0, 3.0]])}, params({"water_purification_components": ["cod", "nh3n"]}), GRID)
    # wetland 1 hm²: COD 5000 kg = 5 t, NH3-N 0.5 t; TP not accounted (option)
    assert set(out) == {"cod", "nh3n"}
    np.testing.assert_allclose(out["cod"], [[0.0, 5.0, 0.0]])
    np.testing.assert_allclose(out["nh3n"], [[0.0, 0.5, 0.0]])


@settings(max_examples=30, deadline=None)
@given(st.floats(0, 1e5), st.floats(0, 1e5))
def test_capacity_non_negative_and_monotone_in_rate(r1, r2):
    lo, hi = sorted((r1, r2))
    res = []
    for r in (lo, hi):
        t = lc_table([(1, "forest", [str(r), "0", "0", "0", "0", "0"])])
        res.append(air_purification_capacity({"lulc": np.ones((1, 3))}, params(table=t), GRID)["so2"])
    assert (res[0] >= 0).all()
    assert (res[0] <= res[1] + 1e-12).all()


def test_capacity_scales_with_area():
    small, big = utm_grid((1, 1), 100.0), utm_grid((1, 1), 200.0)
    a = air_purification_capacity({"lulc": np.ones((1, 1))}, params(), small)["so2"]
    b = air_purification_capacity({"lulc": np.ones((1, 1))}, params(), big)["so2"]
    np.testing.assert_allclose(b, 4 * a)


def test_bad_inputs_are_clear_errors():
    with pytest.raises(InputError, match="not in the land-cover table") as exc:  # code 9 has no row
        air_purification_capacity({"lulc": np.array([[1.0, 9.0, 2.0]])}, params(), GRID)
    assert "土地覆被" in exc.value.zh
    empty = lc_table([(1, "forest", ["", "6", "1", "0", "0", "0"])])
    with pytest.raises(MissingParameterError, match="so2_absorption"):
        air_purification_capacity({"lulc": np.ones((1, 3))}, params(table=empty), GRID)
    negative = lc_table([(1, "forest", ["-5", "6", "1", "0", "0", "0"])])
    with pytest.raises(ConfigError, match="negative"):
        air_purification_capacity({"lulc": np.ones((1, 3))}, params(table=negative), GRID)
    with pytest.raises(ConfigError, match="unknown component"):
        air_purification_capacity({"lulc": np.ones((1, 3))}, params({"air_purification_components": ["co2"]}), GRID)
