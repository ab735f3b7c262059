"""The purification, carbon, climate, ion, wind, coastal, provisioning and cultural additions:
declared once, priced in CNY, documented, capped where they must be, and rejecting bad input."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest

from helpers_science import utm_grid
from qingshan.core.errors import InputError, MissingParameterError
from qingshan.core.units import conversion_factor
from qingshan.docs import indicator_markdown
from qingshan.engine.caps import cap_rules
from qingshan.engine.compute import compute_indicator
from qingshan.indicators import registry
from qingshan.valuation.prices import Deflator, PriceTable
from qingshan.valuation.value import value_in_cny

TABLES = resources.files("qingshan.data") / "tables"
NEW = ["air_purification", "water_purification", "negative_ions", "sand_fixation", "coastal_protection", "landscape_value"]


@pytest.fixture(scope="module")
def prices() -> PriceTable:
    return PriceTable.from_csv(str(TABLES / "prices_default.csv"), deflator=Deflator.from_csv(str(TABLES / "deflator_cpi_china.csv")))


def test_new_indicators_and_methods_are_registered():
    reg = registry()
    for i in NEW:
        assert reg.get(i).id == i
    assert reg.get("水环境净化").id == "water_purification"
    assert reg.get("大气净化").id == "air_purification"
    assert {m.id for m in reg.get("carbon_sequestration").methods} >= {"nep_from_npp", "fixation_rate", "biomass_change"}
    assert {m.id for m in reg.get("climate_regulation").methods} >= {"et_energy", "per_type"}
    assert {m.id for m in reg.get("recreation").methods} >= {"visits_statistics", "zonal_travel_cost", "visits_spending"}
    for sector in ("agricultural_products", "forestry_products", "livestock_products", "fishery_products"):
        assert {m.id for m in reg.get(sector).methods} == {"product_price", "output_value"}


@pytest.mark.parametrize(("key", "qty", "unit", "expected_cny"), [
    # Garzê 2010 prices: 1137 t SO2 × 1200 = 1 364 400 元; 2772 t NOx × 630 = 1 746 360 元; 941 t dust × 150 = 141 150 元
    ("pollution_control_cost.so2", 1137, "t", 1_364_400),
    ("pollution_control_cost.nox", 2772, "t", 1_746_360),
    ("pollution_control_cost.dust", 941, "t", 141_150),
    # Garzê: COD 5424 t × 700 = 3 796 800 元; NH3-N 625 t × 875 = 546 875 元; TP 10 t × 2800 = 28 000 元
    ("pollution_control_cost.cod", 5424, "t", 3_796_800),
    ("pollution_control_cost.nh3n", 625, "t", 546_875),
    ("pollution_control_cost.tp", 10, "t", 28_000),
    # 1e20 ions × 5.8185e-18 元 = 581.85 元; 1000 m² desertified land × 3.75 = 3750 元
    ("negative_ion_cost", 1e20, "ion", 581.85),
    ("sand_control_cost", 1000, "m2", 3750),
])
def test_quantity_times_price_is_currency(prices, key, qty, unit, expected_cny):
    p = prices.resolve(key, int(prices.resolve(key, 2010, "360000").row.price_year), "360000")
    assert value_in_cny(qty, unit, p.value, p.unit) == pytest.approx(expected_cny)


def test_density_times_area_units_chain():
    # kg/hm² × m² → t; tC/hm² × m² → tCO2; ion/m² × m² → ion; kJ/(m²·d)·d → kWh/m² via 3600
    assert conversion_factor("kg/hm2*m**2", "t") == pytest.approx(1e-7)
    assert conversion_factor("tC/hm2*m**2", "tCO2") == pytest.approx(44 / 12 * 1e-4)
    assert conversion_factor("ion/m2*m**2", "ion") == 1.0
    assert conversion_factor("kJ/(m2*d)*d", "kWh/m2") == pytest.approx(1 / 3600)


def test_every_purification_component_is_capped_by_an_emissions_item():
    rules = cap_rules(registry())
    for ind in ("air_purification", "water_purification"):
        for c in registry().get(ind).components:
            assert rules[(ind, c.id)] == f"emissions.{c.id}"


@pytest.mark.parametrize("ind", [*NEW, "carbon_sequestration", "climate_regulation", "recreation"])
def test_docs_pages_show_placeholders_and_caps(ind):
    page = indicator_markdown(registry().get(ind))
    assert registry().get(ind).name_zh in page
    if ind.endswith("purification"):
        assert "min(capacity, emissions)" in page and "[R]" in page
    if ind == "climate_regulation":
        assert "EMPTY" in page and "transpiration_heat" in page
    if ind == "negative_ions":
        assert "unverified" in page and "negative_ion_lifetime" in page


def _grid_inputs(**arrays):
    return {k: np.asarray(v, dtype=float) for k, v in arrays.items()}


def test_ndvi_outside_range_is_rejected_for_sand_fixation():
    inputs = _grid_inputs(lulc=[[10, 10]], ndvi=[[0.5, 1.7]], wind_factor=[[10, 10]])
    with pytest.raises(InputError) as exc:
        compute_indicator("sand_fixation", inputs, grid=utm_grid((1, 2)))
    assert "ndvi" in exc.value.en and "超出" in exc.value.zh


def test_negative_ion_concentration_outside_range_is_rejected():
    inputs = _grid_inputs(lulc=[[1, 2]], negative_ions=[[-5, 800]])
    with pytest.raises(InputError, match="negative_ions"):
        compute_indicator("negative_ions", inputs, grid=utm_grid((1, 2)))


def test_unknown_landcover_code_and_empty_climate_table_are_rejected():
    with pytest.raises(InputError, match="not in the land-cover table"):
        compute_indicator("air_purification", _grid_inputs(lulc=[[1, 99]]), grid=utm_grid((1, 2)))
    with pytest.raises(MissingParameterError, match="transpiration_heat"):
        compute_indicator("climate_regulation", _grid_inputs(lulc=[[1, 2]], aet=[[700, 800]]), method="per_type", grid=utm_grid((1, 2)))


def test_compute_air_purification_on_arrays_hand_computed():
    # MODIS code 1 (evergreen needleleaf) at 1 hm²: SO2 215.60 kg = 0.2156 t (高天岩 rates); code 13 (urban) 0
    res = compute_indicator("air_purification", _grid_inputs(lulc=[[1, 13]]), grid=utm_grid((1, 2)))
    assert res.totals["so2"][0] == pytest.approx(0.2156)
    assert res.totals["dust"][0] == pytest.approx(33.2)
