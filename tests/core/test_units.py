"""The unit registry: Chinese statistical units, currency, carbon, annual suffixes."""

from __future__ import annotations

import pytest

from qingshan.core.errors import UnitsError
from qingshan.core.units import conversion_factor, is_currency
from qingshan.valuation.value import value_in_cny


@pytest.mark.parametrize(
    ("src", "dst", "factor"),
    [
        ("亿m³", "m3", 1e8),
        ("万t", "t", 1e4),
        ("亿kWh", "kWh", 1e8),
        ("km2", "hm2", 100.0),
        ("万元", "CNY", 1e4),
        ("tC", "tCO2", 44 / 12),
        ("mm*km2", "m3", 1000.0),
        ("m3/a", "m3", 1.0),
    ],
)
def test_conversion_factor(src: str, dst: str, factor: float) -> None:
    assert conversion_factor(src, dst) == pytest.approx(factor, rel=1e-12)


def test_conversion_round_trip() -> None:
    assert conversion_factor("tCO2", "tC") == pytest.approx(12 / 44, rel=1e-12)
    assert conversion_factor("亿m³", "m3") * conversion_factor("m3", "亿m³") == pytest.approx(1.0, rel=1e-12)


def test_unparseable_unit() -> None:
    with pytest.raises(UnitsError) as info:
        conversion_factor("bananas", "t")
    exc = info.value
    assert "bananas" in exc.en
    assert exc.zh
    assert "bananas" in exc.zh
    assert exc.fix


def test_incompatible_units() -> None:
    with pytest.raises(UnitsError) as info:
        conversion_factor("t", "m3")
    exc = info.value
    assert "'t'" in exc.en
    assert "'m3'" in exc.en
    assert exc.zh


def test_is_currency() -> None:
    assert is_currency("万元")
    assert is_currency("亿元")
    assert not is_currency("元/t")
    assert not is_currency("bananas")


def test_value_in_cny() -> None:
    assert value_in_cny(2.45, "亿m³", 6.11, "元/m3") == pytest.approx(14.9695e8, rel=1e-12)


def test_value_in_cny_unit_mismatch() -> None:
    with pytest.raises(UnitsError):
        value_in_cny(1.0, "t", 5.0, "CNY/m3")
