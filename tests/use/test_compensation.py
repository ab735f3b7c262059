"""Eco-compensation allocation (qingshan.use.compensation): hand-computed cases and exact sums."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qingshan.core.errors import ConfigError, InputError
from qingshan.use.compensation import (
    allocate,
    largest_remainder,
    load_rule,
    per_area_payments,
    scores_for_rule,
)

REGIONS = pd.DataFrame({"code": ["P", "A", "B", "C"], "parent": [None, "P", "P", "P"],
                        "level": ["province", "county", "county", "county"], "area_km2": [60.0, 10.0, 20.0, 30.0]})


def _cube() -> pd.DataFrame:
    rows = []
    for year, vals in ((2018, {"A": 100.0, "B": 200.0, "C": 300.0}), (2019, {"A": 130.0, "B": 190.0, "C": 330.0})):
        for code, v in vals.items():
            rows.append({"region_code": code, "year": year, "indicator": "w", "value": v, "value_comparable": v})
        rows.append({"region_code": "P", "year": year, "indicator": "w", "value": sum(vals.values()),
                     "value_comparable": sum(vals.values())})
    return pd.DataFrame(rows)


def test_largest_remainder_hand_cases() -> None:
    assert largest_remainder(np.array([1.0, 1.0, 1.0]), 100).tolist() == [34, 33, 33]
    assert largest_remainder(np.array([0.5, 0.3, 0.2]), 7).tolist() == [4, 2, 1]  # quotas 3.5, 2.1, 1.4
    assert largest_remainder(np.array([0.0, 1.0]), 5).tolist() == [0, 5]


def test_gep_stock_shares_and_amounts_to_the_fen() -> None:
    rule = load_rule({"rule": "gep_stock"})
    s = scores_for_rule(rule, _cube(), REGIONS, year=2019)
    assert s.to_dict() == {"A": 130.0, "B": 190.0, "C": 330.0}
    t = allocate(1000.00, s, rule).set_index("region_code")
    # 100 000 fen × 130/650 = 20 000; × 190/650 = 29 230.77; × 330/650 = 50 769.23 → 29 231 and 50 769
    assert t["amount_fen"].to_dict() == {"A": 20000, "B": 29231, "C": 50769}
    assert t["amount_fen"].sum() == 100000


def test_gep_growth_gives_nothing_to_a_region_that_shrank() -> None:
    rule = load_rule({"rule": "gep_growth"})
    s = scores_for_rule(rule, _cube(), REGIONS, year=2019, from_year=2018)
    assert s.to_dict() == {"A": 30.0, "B": 0.0, "C": 30.0}
    t = allocate(10.01, s, rule).set_index("region_code")
    assert t["amount_fen"].to_dict() == {"A": 501, "B": 0, "C": 500}  # 500.5 each: the tie goes to the first


def test_per_area_rule() -> None:
    rule = load_rule({"rule": "gep_per_area"})
    s = scores_for_rule(rule, _cube(), REGIONS, year=2018)
    assert s.to_dict() == pytest.approx({"A": 10.0, "B": 10.0, "C": 10.0})


def test_factor_rule_as_in_the_basin_scheme() -> None:
    rule = load_rule({"rule": "factors", "factors": {"water_quality": 0.7, "forest": 0.2, "water_management": 0.1}})
    f = pd.DataFrame({"region_code": ["A", "B", "C"], "water_quality": [1.0, 1.0, 2.0], "forest": [10.0, 30.0, 60.0],
                      "water_management": [1.0, 0.0, 0.0]})
    s = scores_for_rule(rule, _cube(), REGIONS, year=2019, factors=f)
    # A: 0.7·0.25 + 0.2·0.1 + 0.1·1 = 0.295; B: 0.175 + 0.06 = 0.235; C: 0.35 + 0.12 = 0.47
    assert s.to_dict() == pytest.approx({"A": 0.295, "B": 0.235, "C": 0.47})
    t = allocate(200.0, s, rule).set_index("region_code")
    assert t["amount_fen"].to_dict() == {"A": 5900, "B": 4700, "C": 9400}


def test_share_bounds_are_met_and_the_rest_redistributed() -> None:
    rule = load_rule({"rule": "gep_stock", "max_share": 0.5})
    t = allocate(100.0, pd.Series({"A": 8.0, "B": 1.0, "C": 1.0}), rule).set_index("region_code")
    assert t["share"].to_dict() == pytest.approx({"A": 0.5, "B": 0.25, "C": 0.25})
    rule = load_rule({"rule": "gep_stock", "min_share": 0.2})
    t = allocate(100.0, pd.Series({"A": 98.0, "B": 1.0, "C": 1.0}), rule).set_index("region_code")
    assert t["share"].to_dict() == pytest.approx({"A": 0.6, "B": 0.2, "C": 0.2})
    assert t["amount_fen"].sum() == 10000
    with pytest.raises(InputError, match="cannot be met"):
        allocate(100.0, pd.Series({"A": 1.0, "B": 1.0}), load_rule({"rule": "gep_stock", "max_share": 0.4}))


def test_bad_rules_and_funds_name_the_field() -> None:
    with pytest.raises(ConfigError) as e:
        load_rule({"rule": "factors", "factors": {"a": 0.5, "b": 0.4}})
    assert e.value.field == "factors"
    assert "合计为 1" in e.value.zh
    with pytest.raises(ConfigError):
        load_rule({"rule": "lottery"})
    with pytest.raises(InputError, match="two decimals"):
        allocate(10.001, pd.Series({"A": 1.0}), load_rule({"rule": "gep_stock"}))
    with pytest.raises(InputError, match="scores 0"):
        allocate(10.0, pd.Series({"A": 0.0}), load_rule({"rule": "gep_stock"}))


def test_per_area_standard() -> None:
    areas = pd.DataFrame({"region_code": ["A", "A"], "zone": ["national_park", "national_nature_reserve"],
                          "area_mu": [1000.5, 2.0]})
    std = pd.DataFrame({"zone": ["national_park", "national_nature_reserve"], "yuan_per_mu": [35.0, 33.0],
                        "source": ["[R] example standard", "[R] example standard"]})
    out = per_area_payments(areas, std)
    assert out["payment_fen"].tolist() == [3501750, 6600]
    with pytest.raises(InputError, match="wetland"):
        per_area_payments(pd.DataFrame({"region_code": ["A"], "zone": ["wetland"], "area_mu": [1.0]}), std)


@settings(max_examples=200, deadline=None)
@given(scores=st.lists(st.floats(min_value=0, max_value=1e12, allow_nan=False), min_size=1, max_size=40),
       fen=st.integers(min_value=1, max_value=10**13))
def test_amounts_always_add_up_to_the_fund_within_one_fen_of_the_quota(scores: list[float], fen: int) -> None:
    s = pd.Series(scores, index=[f"R{i}" for i in range(len(scores))])
    if s.sum() <= 0:
        return
    t = allocate(fen / 100, s, load_rule({"rule": "gep_stock"}))
    assert int(t["amount_fen"].sum()) == fen
    quota = t["share"] * fen
    assert (np.abs(t["amount_fen"] - quota) < 1 + 1e-6 * fen).all()
