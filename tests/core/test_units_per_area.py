"""Per-area units (kg/(hm²·a), t/hm²) are understood and turned into totals with their area (issue 7 item 8)."""

from __future__ import annotations

import pytest

from qingshan.core.errors import UnitsError
from qingshan.core.units import conversion_factor, is_per_area, total_from_density


@pytest.mark.parametrize("unit", ["kg/(hm²·a)", "kg/(hm2*a)", "kg/(hm2·yr)", "t·hm⁻²·a⁻¹", "t/hm2/a", "kg hm-2 a-1"])
def test_annual_per_area_densities_parse_as_mass_per_area(unit: str) -> None:
    assert is_per_area(unit, "t")
    # 1 t/hm2 in any spelling
    factor = 1000.0 if unit.startswith("kg") else 1.0
    assert conversion_factor(unit, "t/hm2") * factor == pytest.approx(1.0)


@pytest.mark.parametrize(("value", "unit", "area", "area_unit", "expected_t"), [
    (2.0, "t/hm2", 3.0, "km2", 600.0),          # 3 km2 = 300 hm2
    (2.0, "t/hm²", 15.0, "亩", 2.0),             # 15 亩 = 1 hm2
    (500.0, "kg/(hm²·a)", 2.0, "万公顷", 10_000.0),
    (2.0, "万t/km2", 1.0, "km2", 20_000.0),
])
def test_total_from_density_by_hand(value: float, unit: str, area: float, area_unit: str, expected_t: float) -> None:
    assert total_from_density(value, unit, area, area_unit, "t") == pytest.approx(expected_t, rel=1e-12)


def test_total_from_density_rejects_non_area_and_non_density() -> None:
    with pytest.raises(UnitsError, match="not an area"):
        total_from_density(1.0, "t/hm2", 1.0, "m3", "t")
    with pytest.raises(UnitsError, match="not 't' per area"):
        total_from_density(1.0, "t", 1.0, "hm2", "t")
    assert not is_per_area("m3", "t") and not is_per_area("bananas", "t")
