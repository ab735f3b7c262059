"""Statistics table methods: output value (总产值/增加值), water supply, hydropower, coastline."""

from __future__ import annotations

import pytest
from table_helpers import regions, stats

from helpers_science import science_params
from qingshan.core.errors import InputError, RegionError, UnitsError
from qingshan.quantities.coastal import coastline_from_statistics
from qingshan.quantities.provisioning import output_value_from_statistics
from qingshan.quantities.statistics import energy_from_statistics, water_supply_from_statistics

REG = regions()


def test_output_value_gross_and_value_added_hand_computed():
    s = stats([("360102", "output_value.agriculture", 12.5, "亿元"), ("360103", "output_value.agriculture", 3000, "万元"),
               ("360102", "value_added.agriculture", 7.0, "亿元"), ("360102", "output_value.fishery", 1.0, "亿元")])
    gross = output_value_from_statistics({"statistics": s}, science_params(), REG, 2019, "agricultural_products")
    # 12.5 亿元 = 1.25e9 元; 3000 万元 = 3e7 元; fishery items not read for agriculture
    assert dict(zip(gross["region_code"], gross["quantity"], strict=True)) == pytest.approx({"360102": 1.25e9, "360103": 3e7})
    assert set(gross["component"]) == {"output_value"} and set(gross["ecosystem"]) == {"cropland"} and set(gross["unit"]) == {"CNY"}
    net = output_value_from_statistics({"statistics": s}, science_params(options={"provisioning_convention": "value_added"}),
                                       REG, 2019, "agricultural_products")
    assert net["quantity"].tolist() == pytest.approx([7e8])
    fish = output_value_from_statistics({"statistics": s}, science_params(), REG, 2019, "fishery_products")
    assert fish["ecosystem"].tolist() == ["wetland"]


def test_output_value_bad_inputs():
    s = stats([("360102", "output_value.forestry", 1.0, "亿元"), ("360100", "output_value.forestry", 1.0, "亿元")])
    with pytest.raises(InputError, match="mix administrative levels"):
        output_value_from_statistics({"statistics": s}, science_params(), REG, 2019, "forestry_products")
    with pytest.raises(InputError, match="provisioning_convention"):
        output_value_from_statistics({"statistics": s}, science_params(options={"provisioning_convention": "net"}), REG, 2019, "forestry_products")
    with pytest.raises(UnitsError):
        output_value_from_statistics({"statistics": stats([("360102", "output_value.forestry", 1.0, "t")])},
                                     science_params(), REG, 2019, "forestry_products")
    with pytest.raises(RegionError):
        output_value_from_statistics({"statistics": stats([("369999", "output_value.forestry", 1.0, "亿元")])},
                                     science_params(), REG, 2019, "forestry_products")


def test_water_supply_and_hydropower_hand_computed():
    s = stats([("360102", "water_use.domestic", 1.2, "亿m³"), ("360102", "water_use.agriculture", 3000, "万m3"),
               ("360103", "hydropower_generation", 95.3, "亿kWh")])
    w = water_supply_from_statistics({"statistics": s}, science_params(), REG, 2019, "water_supply").set_index("component")
    # 1.2 亿m³ = 1.2e8 m³ → × 2.6 元/m³ (Garzê) = 3.12 亿元; 3000 万m³ = 3e7 m³
    assert w.loc["domestic", "quantity"] == pytest.approx(1.2e8)
    assert w.loc["agriculture", "quantity"] == pytest.approx(3e7)
    e = energy_from_statistics({"statistics": s}, science_params(), REG, 2019, "eco_energy")
    # Garzê: 95.30亿kWh × 0.53 元/kWh = 50.51 亿元
    assert e["quantity"].iloc[0] == pytest.approx(95.3e8)
    assert e["quantity"].iloc[0] * 0.53 / 1e8 == pytest.approx(50.509)


def test_coastline_slot():
    s = stats([("360102", "coastline_protected", 12000, "m")])
    c = coastline_from_statistics({"statistics": s}, science_params(), REG, 2019, "coastal_protection")
    assert c["quantity"].tolist() == pytest.approx([12.0]) and c["unit"].tolist() == ["km"]
    assert coastline_from_statistics({"statistics": stats([])}, science_params(), REG, 2019, "coastal_protection").empty
