"""Quantity × price → value, with the unit algebra checked (实物量 × 定价 → 价值量)."""

from __future__ import annotations

from functools import lru_cache

from qingshan.core.errors import UnitsError
from qingshan.core.units import conversion_factor, parse_unit, pint_answer, unit_registry

__all__ = ["unit_factors", "value_in_cny"]


def value_in_cny(quantity: float, quantity_unit: str, price: float, price_unit: str) -> float:
    """Value [CNY] of ``quantity`` [quantity_unit] at ``price`` [price_unit].

    ``quantity_unit × price_unit`` must reduce to a currency: ``value_in_cny(2.45, "亿m³",
    6.11, "元/m3")`` → 1.49695e9; ``value_in_cny(1, "t", 5, "CNY/m3")`` raises UnitsError.
    """
    factor, magnitude = unit_factors(quantity_unit, price_unit)
    return quantity * price * factor * magnitude


@lru_cache(maxsize=4096)
def unit_factors(quantity_unit: str, price_unit: str) -> tuple[float, float]:
    """``(conversion factor to CNY, magnitude)`` of ``quantity_unit × price_unit`` (cached: a revaluation
    values tens of thousands of rows in a handful of unit pairs, and the answer is remembered on disk:
    :func:`qingshan.core.units.pint_answer`); UnitsError if it is not a currency."""
    factor, magnitude = pint_answer("value", (quantity_unit, price_unit), lambda: _pint_factors(quantity_unit, price_unit))
    return factor, magnitude


def _pint_factors(quantity_unit: str, price_unit: str) -> list[float]:
    product = parse_unit(quantity_unit) * parse_unit(price_unit)
    if product.dimensionality != unit_registry().CNY.dimensionality:
        raise UnitsError(
            f"Quantity in '{quantity_unit}' cannot be valued with a price in '{price_unit}'",
            f"实物量单位 '{quantity_unit}' 与价格单位 '{price_unit}' 不匹配",
            field="unit",
            fix=f"Give the price per {quantity_unit} (e.g. CNY/{quantity_unit}) or convert the quantity.",
            fix_zh=f"请将价格改为每 {quantity_unit} 的价格，或换算实物量单位。",
        )
    return [conversion_factor(str(product.units), "CNY"), float(product.magnitude)]
