"""Climate regulation by the per-type transpiration-heat table (RCEES formula); 100 m cells = 1 hm²."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers_science import utm_grid
from qingshan.core.errors import InputError, MissingParameterError
from qingshan.core.params import LandcoverTable, Parameter, ParameterTable, ParamSet
from qingshan.kernels.climate import vegetation_cooling_per_type
from qingshan.quantities.climate import climate_per_type

GRID = utm_grid((1, 3))
SCALARS = {"ac_efficiency": (3.0, "1"), "hot_days": (90, "day"), "latent_heat": (2450, "kJ/kg"), "humidifier_energy": (120, "kWh/m3")}


def params(heat: str = "1000", overrides: dict | None = None) -> ParamSet:
    df = pd.DataFrame([(1, "林", "f", "forest", heat), (2, "水", "w", "wetland", ""), (3, "城", "u", "urban", "")],
                      columns=["code", "name_zh", "name_en", "ecosystem", "transpiration_heat"]).astype(str)
    df.index = pd.Index([1, 2, 3], name="code")
    lc = LandcoverTable(table=df, units={"transpiration_heat": "kJ/(m2*d)"}, sources={"transpiration_heat": "test"})
    vals = {**SCALARS, **(overrides or {})}
    return ParamSet(ParameterTable(params={k: Parameter(k, v, u, "t") for k, (v, u) in vals.items()}), lc, {})


def test_per_type_kernel_hand_computed():
    # EPP 1000 kJ/(m²·d) × 90 d / 3600 / 3 = 8.333 kWh/m²
    np.testing.assert_allclose(vegetation_cooling_per_type(np.array([1000.0]), 90, 3.0), [1000 * 90 / 3600 / 3])


def test_per_type_per_cell_hand_computed():
    out = climate_per_type({"lulc": np.array([[1.0, 2.0, 3.0]]), "water_evaporation": np.array([[900.0, 1000.0, 900.0]])}, params(), GRID)
    # forest: 8.3333 kWh/m² × 10 000 m² = 83 333.3 kWh
    np.testing.assert_allclose(out["vegetation_transpiration"], [[1000 * 90 / 3600 / 3 * 1e4, 0.0, 0.0]])
    # water: 1000 mm → 1000 kg/m² × 2450 kJ/kg / 3600 = 680.56 kWh/m² + 1 m³/m² × 120 = 800.56 kWh/m² × 1e4
    np.testing.assert_allclose(out["water_evaporation"], [[0.0, (1000 * 2450 / 3600 + 120) * 1e4, 0.0]])


@settings(max_examples=30, deadline=None)
@given(st.floats(0, 5000), st.floats(0, 5000), st.floats(0, 200))
def test_per_type_non_negative_and_monotone_in_heat_and_days(h1, h2, days):
    lo, hi = sorted((h1, h2))
    a = climate_per_type({"lulc": np.ones((1, 3)), "hot_days": np.full((1, 3), days)}, params(str(lo)), GRID)["vegetation_transpiration"]
    b = climate_per_type({"lulc": np.ones((1, 3)), "hot_days": np.full((1, 3), days)}, params(str(hi)), GRID)["vegetation_transpiration"]
    c = climate_per_type({"lulc": np.ones((1, 3)), "hot_days": np.full((1, 3), days + 10)}, params(str(hi)), GRID)["vegetation_transpiration"]
    assert (a >= 0).all() and (a <= b + 1e-9).all() and (b <= c + 1e-9).all()


def test_empty_heat_table_and_missing_evaporation_are_errors():
    with pytest.raises(MissingParameterError, match="transpiration_heat") as exc:
        climate_per_type({"lulc": np.array([[1.0, 3.0, 3.0]])}, params(""), GRID)
    assert "缺少" in exc.value.zh
    with pytest.raises(InputError, match="water_evaporation"):
        climate_per_type({"lulc": np.array([[1.0, 2.0, 3.0]])}, params(), GRID)
    # no water cells: evaporation not needed
    out = climate_per_type({"lulc": np.array([[1.0, 3.0, 3.0]])}, params(), GRID)
    assert out["water_evaporation"].sum() == 0
