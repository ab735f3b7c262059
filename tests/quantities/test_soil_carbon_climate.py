"""Quantity functions for soil retention, carbon / oxygen and climate regulation.

Grid: UTM 50N with 100 m cells, so one cell is exactly 1 hm2 = 10 000 m2.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from helpers_science import (
    CROPLAND,
    FOREST,
    GRASS,
    URBAN,
    WETLAND,
    full,
    science_params,
    shipped_scalars,
    tilted_plane,
    utm_grid,
)
from qingshan.core.errors import InputError, MissingParameterError
from qingshan.indicators.regulating import (
    CARBON_SEQUESTRATION,
    CLIMATE_REGULATION,
    OXYGEN_RELEASE,
    SOIL_RETENTION,
)
from qingshan.quantities.carbon import carbon_nep, oxygen_from_carbon
from qingshan.quantities.climate import climate_et_energy
from qingshan.quantities.soil import cell_dims_m, soil_retention_layers, soil_retention_rusle

SHAPE = (4, 3)
GRID = utm_grid(SHAPE)


def soil_inputs(**extra: np.ndarray) -> dict[str, np.ndarray]:
    # plane falling 10 m per 100 m row: tanθ = 0.1 (10 %) → m = 0.5, S = 16.8·sin(atan 0.1) − 0.5 = 1.171662
    inputs = {
        "dem": tilted_plane(SHAPE, 10.0),
        "lulc": full(SHAPE, FOREST),
        "ndvi": full(SHAPE, 0.45),  # FVC 0.5 → C = 0.6508 − 0.3436·lg 50 = 0.067034
        "rain_erosivity": full(SHAPE, 5000.0),
        "soil_erodibility": full(SHAPE, 0.03),
    }
    inputs.update(extra)
    return inputs


# row i drains (i + 1) hm2 over a 100 m wide cell → λ = 100(i + 1) m, L = (λ/22.13)^0.5
# Q_row = 5000·0.03·L·1.171662·(1 − 0.067034):
#   row 0: L = 2.125736 → 348.5531 t;  row 1: L = 3.006248 → 492.9285 t;  row 2: 603.7117 t
EXPECTED_ROWS = (348.55309, 492.92850, 603.71166)


def test_soil_retention_hand_computed():
    out = soil_retention_rusle(soil_inputs(), science_params(), GRID)
    assert set(out) == {
        "soil_retained",
        "sediment_reduction",
        "nitrogen_retained",
        "phosphorus_retained",
    }
    q = out["soil_retained"]
    for row, expected in enumerate(EXPECTED_ROWS):
        np.testing.assert_allclose(q[row], expected, rtol=1e-6)
    # sediment = 0.24 · Q / 0.93 t/m3: row 0 → 0.24·348.5531/0.93 = 89.9492 m3
    assert out["sediment_reduction"][0, 0] == pytest.approx(89.94919, rel=1e-6)
    # N = Q · 0.37 %, P = Q · 0.108 %: row 0 → 1.289647 t N, 0.376437 t P
    assert out["nitrogen_retained"][0, 0] == pytest.approx(1.289647, rel=1e-6)
    assert out["phosphorus_retained"][0, 0] == pytest.approx(0.376437, rel=1e-5)


def test_soil_layers_are_consistent():
    layers = soil_retention_layers(soil_inputs(), science_params(), GRID)
    assert {"r", "k", "ls", "c", "p", "rkls", "usle"} <= set(layers)
    assert layers["ls"][0, 0] == pytest.approx(2.125736 * 1.171662, rel=1e-6)
    q = soil_retention_rusle(soil_inputs(), science_params(), GRID)["soil_retained"]
    np.testing.assert_allclose(layers["rkls"] - layers["usle"], q)  # 1 hm2 cells: t/hm2 == t


def test_cropland_p_factor_used():
    # cropland P = 0.4: (1 − 0.067034·0.4) / (1 − 0.067034) = 0.973187/0.932966 = 1.043111 × forest
    lulc = full(SHAPE, FOREST)
    lulc[0, 1] = CROPLAND
    q = soil_retention_rusle(soil_inputs(lulc=lulc), science_params(), GRID)["soil_retained"]
    assert q[0, 1] / q[0, 0] == pytest.approx(1.043111, rel=1e-5)


def test_nan_propagates_to_all_components():
    ndvi = full(SHAPE, 0.45)
    ndvi[1, 1] = np.nan
    out = soil_retention_rusle(soil_inputs(ndvi=ndvi), science_params(), GRID)
    for arr in out.values():
        assert np.isnan(arr[1, 1])
        assert np.isfinite(arr[0, 0])


def test_zero_cover_retains_nothing_without_practice():
    # NDVI below bare soil → FVC 0 → C = 1; P = 1 → 1 − C·P = 0
    out = soil_retention_rusle(soil_inputs(ndvi=full(SHAPE, -0.1)), science_params(), GRID)
    np.testing.assert_allclose(out["soil_retained"], 0.0)


def test_r_from_annual_precipitation_fallback():
    inputs = soil_inputs(precip=full(SHAPE, 1000.0))
    del inputs["rain_erosivity"]
    layers = soil_retention_layers(inputs, science_params(), GRID)
    # R = 0.0483 · 1000^1.61 = 3265.48
    np.testing.assert_allclose(layers["r"], 3265.48, rtol=1e-5)


def test_missing_rain_inputs_raise():
    inputs = soil_inputs()
    del inputs["rain_erosivity"]
    with pytest.raises(InputError, match="rain_erosivity"):
        soil_retention_rusle(inputs, science_params(), GRID)


def test_k_from_texture_and_default():
    texture = {
        "sand": full(SHAPE, 40),
        "silt": full(SHAPE, 40),
        "clay": full(SHAPE, 20),
        "soil_organic_carbon": full(SHAPE, 1.5),
    }
    inputs = soil_inputs(**texture)
    del inputs["soil_erodibility"]
    # EPIC: K = (−0.01383 + 0.51575·0.260440)·0.1317 = 0.0158688
    np.testing.assert_allclose(
        soil_retention_layers(inputs, science_params(), GRID)["k"], 0.0158688, rtol=1e-5
    )
    for name in texture:
        del inputs[name]
    np.testing.assert_allclose(soil_retention_layers(inputs, science_params(), GRID)["k"], 0.03)
    with pytest.raises(InputError, match="clay"):
        soil_retention_layers({**inputs, "sand": full(SHAPE, 40)}, science_params(), GRID)


def test_mfd_option_runs_and_is_nonnegative():
    dem = tilted_plane(SHAPE, 10.0) + np.array([0.0, 2.0, 0.5])  # a side slope
    d8 = soil_retention_rusle(soil_inputs(dem=dem), science_params(), GRID)["soil_retained"]
    mfd = soil_retention_rusle(
        soil_inputs(dem=dem), science_params(options={"flow_algorithm": "MFD"}), GRID
    )
    assert np.all(mfd["soil_retained"] >= 0.0)
    assert np.nansum(mfd["soil_retained"]) == pytest.approx(np.nansum(d8), rel=0.5)


def test_max_slope_length_option_caps_l():
    # cap λ at 100 m → every row behaves like row 0
    out = soil_retention_rusle(
        soil_inputs(), science_params(options={"max_slope_length_m": 100.0}), GRID
    )
    np.testing.assert_allclose(out["soil_retained"], EXPECTED_ROWS[0], rtol=1e-6)


@settings(max_examples=25, deadline=None)
@given(
    arrays(np.float64, SHAPE, elements=st.floats(-0.2, 1.0)),
    arrays(np.float64, SHAPE, elements=st.floats(0, 0.3)),
)
def test_more_ndvi_never_lowers_soil_retention(ndvi, extra):
    params = science_params()
    lo = soil_retention_rusle(soil_inputs(ndvi=ndvi), params, GRID)["soil_retained"]
    hi = soil_retention_rusle(soil_inputs(ndvi=ndvi + extra), params, GRID)["soil_retained"]
    assert np.all(lo >= 0.0)
    assert np.all(hi >= lo - 1e-9)


def test_geographic_cell_dims():
    from affine import Affine

    from qingshan.core.grid import Grid

    grid = Grid.from_crs("EPSG:4326", Affine(0.01, 0, 115.0, 0, -0.01, 28.01), 1, 1)
    dx, dy = cell_dims_m(grid)
    # at 28° N: 0.01° of longitude ≈ 1113.2·cos 28° ≈ 983 m; 0.01° of latitude ≈ 1109 m
    assert dx[0] == pytest.approx(111320 * 0.01 * math.cos(math.radians(28.005)), rel=0.01)
    assert dy[0] == pytest.approx(1109.0, rel=0.01)


# ---------------------------------------------------------------- carbon and oxygen


def test_carbon_from_npp_raster():
    # NPP 500 g C/m2 × α 0.5 = 250 g C/m2 × 44/12 = 916.667 g CO2/m2 × 10 000 m2 = 9.16667 t per cell
    inputs = {"lulc": full(SHAPE, FOREST), "npp": full(SHAPE, 500.0)}
    co2 = carbon_nep(inputs, science_params(), GRID)["co2_fixed"]
    np.testing.assert_allclose(co2, 9.166667, rtol=1e-6)
    # O2 = 32/44 × 9.16667 = 6.66667 t
    o2 = oxygen_from_carbon(inputs, science_params(), GRID)["o2_released"]
    np.testing.assert_allclose(o2, 6.666667, rtol=1e-6)


def test_carbon_from_ndvi_light_use():
    # FPAR = 0.5 × 0.95 = 0.475; NPP = 0.389 × 4400 × 0.5 × 0.475 = 406.505 g C/m2
    # CO2 = 0.5 × 406.505 × 44/12 = 745.2592 g/m2 → 7.452592 t per 1 hm2 cell
    inputs = {"lulc": full(SHAPE, FOREST), "ndvi": full(SHAPE, 0.45)}
    co2 = carbon_nep(inputs, science_params(), GRID)["co2_fixed"]
    np.testing.assert_allclose(co2, 7.452592, rtol=1e-6)
    # a solar raster of 2200 MJ/m2 halves it
    co2_half = carbon_nep(
        {**inputs, "solar_radiation": full(SHAPE, 2200.0)}, science_params(), GRID
    )["co2_fixed"]
    np.testing.assert_allclose(co2_half, 7.452592 / 2, rtol=1e-6)


def test_carbon_water_and_nodata():
    lulc = full(SHAPE, WETLAND)
    lulc[0, 0] = np.nan
    ndvi = full(SHAPE, -0.1)  # open water
    ndvi[1, 1] = np.nan
    co2 = carbon_nep({"lulc": lulc, "ndvi": ndvi}, science_params(), GRID)["co2_fixed"]
    assert np.isnan(co2[0, 0])
    assert np.isnan(co2[1, 1])
    assert co2[2, 2] == 0.0
    # negative NPP in a raster is clipped
    npp = carbon_nep(
        {"lulc": full(SHAPE, URBAN), "npp": full(SHAPE, -20.0)}, science_params(), GRID
    )["co2_fixed"]
    np.testing.assert_allclose(npp, 0.0)


def test_carbon_needs_npp_or_ndvi():
    with pytest.raises(InputError, match="ndvi"):
        carbon_nep({"lulc": full(SHAPE, FOREST)}, science_params(), GRID)


@given(
    arrays(np.float64, SHAPE, elements=st.floats(-1, 1)),
    arrays(np.float64, SHAPE, elements=st.floats(0, 0.5)),
)
def test_more_ndvi_never_lowers_carbon(ndvi, extra):
    params = science_params()
    lo = carbon_nep({"lulc": full(SHAPE, FOREST), "ndvi": ndvi}, params, GRID)["co2_fixed"]
    hi = carbon_nep({"lulc": full(SHAPE, FOREST), "ndvi": ndvi + extra}, params, GRID)["co2_fixed"]
    assert np.all(lo >= 0.0)
    assert np.all(hi >= lo)


# ---------------------------------------------------------------- climate regulation


def climate_lulc() -> np.ndarray:
    lulc = full(SHAPE, FOREST)
    lulc[1, :] = [GRASS, WETLAND, CROPLAND]
    return lulc


def test_climate_hand_computed():
    # forest: 800 kg/m2 × 0.7 × 2450 kJ/kg × 90/365 / 3600 / 3 = 31.32420 kWh/m2 → × 10 000 m2 = 313 242.0 kWh
    # grass (share 0.5): 22.37443 kWh/m2 → 223 744.3 kWh
    # wetland, E_w = aet = 800 mm: 800 × 2450 / 3600 + 0.8 m3 × 120 = 544.4444 + 96 = 640.4444 kWh/m2 → 6 404 444 kWh
    aet = full(SHAPE, 800.0)
    out = climate_et_energy({"aet": aet, "lulc": climate_lulc()}, science_params(), GRID)
    veg, wat = out["vegetation_transpiration"], out["water_evaporation"]
    assert veg[0, 0] == pytest.approx(313242.0, rel=1e-6)
    assert veg[1, 0] == pytest.approx(223744.3, rel=1e-6)
    assert wat[1, 1] == pytest.approx(6404444.4, rel=1e-6)
    # cropland and the wetland's vegetation term are 0; forests have no water term
    assert veg[1, 2] == 0.0
    assert wat[1, 2] == 0.0
    assert veg[1, 1] == 0.0
    assert wat[0, 0] == 0.0


def test_climate_rasters_and_options():
    lulc = climate_lulc()
    aet = full(SHAPE, 800.0)
    inputs = {
        "aet": aet,
        "lulc": lulc,
        "hot_days": full(SHAPE, 45.0),
        "water_evaporation": full(SHAPE, 1000.0),
    }
    out = climate_et_energy(inputs, science_params(), GRID)
    # 45 hot days halve the forest term: 313 242.0/2; E_w 1000 mm → (680.5556 + 120) × 10 000 = 8 005 556 kWh
    assert out["vegetation_transpiration"][0, 0] == pytest.approx(156621.0, rel=1e-6)
    assert out["water_evaporation"][1, 1] == pytest.approx(8005555.6, rel=1e-6)
    divided = climate_et_energy(
        inputs, science_params(options={"water_cooling_divided_by_r": True}), GRID
    )
    # (680.5556/3 + 120) × 10 000 = 3 468 518.5 kWh
    assert divided["water_evaporation"][1, 1] == pytest.approx(3468518.5, rel=1e-6)


def test_climate_nan_and_missing_share():
    aet = full(SHAPE, 800.0)
    aet[0, 1] = np.nan
    out = climate_et_energy({"aet": aet, "lulc": climate_lulc()}, science_params(), GRID)
    assert np.isnan(out["vegetation_transpiration"][0, 1])
    # a wetland counted as vegetation needs a transpiration share, which the table leaves empty
    params = science_params(options={"climate_vegetation_ecosystems": ["forest", "wetland"]})
    with pytest.raises(MissingParameterError, match="transpiration_share"):
        climate_et_energy({"aet": full(SHAPE, 800.0), "lulc": climate_lulc()}, params, GRID)


# ---------------------------------------------------------------- parameter table


def test_shipped_table_has_every_scalar_the_methods_declare():
    table = shipped_scalars()
    for spec in (SOIL_RETENTION, CARBON_SEQUESTRATION, OXYGEN_RELEASE, CLIMATE_REGULATION):
        for ref in spec.method().params:
            if not ref.per_class:
                table.get(ref.key, ref.unit)  # raises if missing or unit-incompatible
    for key, param in table.params.items():
        assert param.certainty in {"V", "V-code", "D", "R", "practice"}, key
        assert param.source.strip(), key
