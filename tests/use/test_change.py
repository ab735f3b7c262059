"""Change analysis (qingshan.use.change) on a hand-built cube: province P → leaves A, B; 2018 → 2019.

Hand computation of the decomposition of A's water value (q 100 → 120, v 600 → 840, p 6 → 7):
L(840, 600) = 240 / ln 1.4 = 713.28322; quantity effect = L·ln 1.2 = 130.04691;
price effect = L·ln(7/6) = 109.95309; together 240. With A's forest area 10 → 11:
extent effect = L·ln 1.1 = 67.98315, intensity effect = L·ln(12/11 ÷ 1) = 62.06376.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qingshan.core.errors import InputError
from qingshan.use.change import ChangeSide, change_table, decompose, lmdi_weight, region_indicators

REGIONS = pd.DataFrame({"code": ["P", "A", "B"], "parent": [None, "P", "P"], "level": ["province", "county", "county"]})


def _row(region: str, year: int, ind: str, comp: str, eco: str, q: float, v: float, vc: float, unit: str = "m3",
         cat: str = "regulating") -> dict[str, object]:
    return {"region_code": region, "year": year, "indicator": ind, "category": cat, "component": comp,
            "ecosystem": eco, "quantity": q, "unit": unit, "price": v / q if q else None, "price_unit": None,
            "value": v, "value_comparable": vc}


def cube() -> pd.DataFrame:
    leaf = [
        _row("A", 2018, "water", "c", "forest", 100, 600, 600),
        _row("A", 2019, "water", "c", "forest", 120, 840, 800),
        _row("B", 2018, "water", "c", "forest", 50, 300, 300),
        _row("B", 2019, "water", "c", "forest", 50, 300, 300),
        _row("B", 2019, "rice", "rice", "cropland", 10, 20, 20, unit="t", cat="provisioning"),
    ]
    df = pd.DataFrame(leaf)
    top = (df.groupby(["year", "indicator", "category", "component", "ecosystem", "unit"], as_index=False)
           [["quantity", "value", "value_comparable"]].sum().assign(region_code="P", price=None, price_unit=None))
    return pd.concat([df, top], ignore_index=True)


def sides() -> tuple[ChangeSide, ChangeSide]:
    c = cube()
    return ChangeSide(c, 2018, "run-a", base_year=2018), ChangeSide(c, 2019, "run-a", base_year=2018)


def test_change_and_growth_at_current_and_comparable_prices() -> None:
    t = change_table(*sides()).set_index(["region_code", "indicator"])
    gep = t.loc[("P", "GEP")]
    assert gep["value_0"] == pytest.approx(900.0)
    assert gep["value_1"] == pytest.approx(1160.0)
    assert gep["value_change"] == pytest.approx(260.0)
    assert gep["value_growth_pct"] == pytest.approx(100 * 260 / 900)
    assert gep["comparable_1"] == pytest.approx(1120.0)
    assert gep["comparable_growth_pct"] == pytest.approx(100 * 220 / 900)
    assert t.loc[("P", "class:provisioning"), "value_change"] == pytest.approx(20.0)
    assert np.isnan(t.loc[("B", "rice"), "value_growth_pct"])  # no 2018 value: growth undefined, not inf


def test_lmdi_decomposition_matches_the_hand_computation() -> None:
    d = decompose(*sides(), REGIONS).set_index(["region_code", "indicator"])
    a = d.loc[("A", "water")]
    assert a["change"] == pytest.approx(240.0)
    assert a["quantity_effect"] == pytest.approx(130.04691, abs=1e-4)
    assert a["price_effect"] == pytest.approx(109.95309, abs=1e-4)
    assert d.loc[("B", "water"), "change"] == 0.0
    assert d.loc[("B", "rice"), "quantity_effect"] == pytest.approx(20.0)  # appeared: all quantity
    assert d.loc[("B", "rice"), "price_effect"] == 0.0
    p = d.loc[("P", "GEP")]
    assert p["change"] == pytest.approx(260.0)
    assert p["quantity_effect"] == pytest.approx(150.04691, abs=1e-4)
    assert p["price_effect"] == pytest.approx(109.95309, abs=1e-4)


def test_extent_and_intensity_split_the_quantity_effect() -> None:
    extents = pd.DataFrame({"region_code": ["A", "A", "B", "B", "B"], "ecosystem": ["forest", "forest", "forest", "forest", "cropland"],
                            "year": [2018, 2019, 2018, 2019, 2019], "area": [10.0, 11.0, 5.0, 5.0, 1.0]})
    d = decompose(*sides(), REGIONS, extents=extents).set_index(["region_code", "indicator"])
    a = d.loc[("A", "water")]
    assert a["extent_effect"] == pytest.approx(67.98315, abs=1e-4)
    assert a["intensity_effect"] == pytest.approx(62.06376, abs=1e-4)
    assert d.loc[("B", "rice"), "extent_effect"] == pytest.approx(20.0)  # cropland appeared
    for _, r in d.iterrows():
        assert r["extent_effect"] + r["intensity_effect"] == pytest.approx(r["quantity_effect"], abs=1e-9)


def test_different_price_bases_are_refused() -> None:
    c = cube()
    with pytest.raises(InputError, match="price bases") as err:
        change_table(ChangeSide(c, 2018, "a", base_year=2018), ChangeSide(c, 2019, "b", base_year=2019))
    assert "基年" in err.value.zh


def test_unit_change_between_runs_is_refused() -> None:
    c0 = cube()
    c1 = cube().assign(unit=lambda d: d["unit"].replace({"m3": "1e4 m3"}))
    with pytest.raises(InputError, match="cannot be compared"):
        decompose(ChangeSide(c0, 2018, "a", 2018), ChangeSide(c1, 2019, "b", 2018), REGIONS)


def test_gep_gdp_per_capita_and_the_two_fast_growths_check() -> None:
    a, b = sides()
    t = region_indicators(a, b, gdp={("P", 2018): 9000.0, ("P", 2019): 9900.0},
                          population={("P", 2018): 3.0, ("P", 2019): 4.0}, area_km2={"P": 10.0},
                          threshold_pct=5.0, regions=["P"]).set_index("region_code")
    p = t.loc["P"]
    assert p["gep_gdp_ratio_0"] == pytest.approx(0.1)
    assert p["gep_gdp_ratio_1"] == pytest.approx(1160 / 9900)
    assert p["gep_per_capita_1"] == pytest.approx(290.0)
    assert p["gep_per_km2_0"] == pytest.approx(90.0)
    assert p["gdp_growth_pct"] == pytest.approx(10.0)
    assert p["gdp_growth_basis"] == "nominal"
    assert bool(p["two_fast_growths"]) is True  # GEP +24.4 % comparable, GDP +10 %
    t2 = region_indicators(a, b, gdp={("P", 2018): 9000.0, ("P", 2019): 9900.0}, gdp_real_growth_pct={"P": 3.0},
                           threshold_pct=5.0, regions=["P"]).set_index("region_code")
    assert t2.loc["P", "gdp_growth_basis"] == "real"
    assert bool(t2.loc["P", "two_fast_growths"]) is False


def test_lmdi_weight_limits() -> None:
    assert lmdi_weight(np.array([5.0]), np.array([5.0]))[0] == 5.0
    assert lmdi_weight(np.array([840.0]), np.array([600.0]))[0] == pytest.approx(713.28322, abs=1e-4)


positive = st.floats(min_value=1e-3, max_value=1e9, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(q0=positive, q1=positive, p0=positive, p1=positive)
def test_effects_add_up_exactly(q0: float, q1: float, p0: float, p1: float) -> None:
    c = pd.DataFrame([_row("A", 2018, "w", "c", "forest", q0, q0 * p0, q0 * p0),
                      _row("A", 2019, "w", "c", "forest", q1, q1 * p1, q1 * p1)])
    regions = pd.DataFrame({"code": ["A"], "parent": [None], "level": ["county"]})
    d = decompose(ChangeSide(c, 2018, "r", 2018), ChangeSide(c, 2019, "r", 2018), regions).iloc[0]
    scale = max(abs(d["change"]), q0 * p0, q1 * p1)
    assert d["quantity_effect"] + d["price_effect"] == pytest.approx(d["change"], abs=1e-9 * scale)
    assert np.sign(d["quantity_effect"]) == np.sign(q1 - q0) or abs(q1 - q0) < 1e-9 * max(q0, q1)
