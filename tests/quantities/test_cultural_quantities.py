"""Cultural services: zonal travel cost, visits × spending, hedonic landscape premium."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from table_helpers import regions, stats

from helpers_science import science_params
from qingshan.core.errors import InputError
from qingshan.quantities.cultural import (
    landscape_hedonic,
    recreation_spending,
    recreation_zonal_travel_cost,
    travel_cost_value,
)

REG = regions()


def test_zonal_travel_cost_hand_computed():
    s = stats([
        ("360102", "tcm.local.visits", 10, "万人次"), ("360102", "tcm.local.travel_time", 4, "h"),
        ("360102", "tcm.local.wage", 50, "元/h"), ("360102", "tcm.local.cost", 100, "元/人次"),
        ("360102", "tcm.far.visits", 2000, "人次"), ("360102", "tcm.far.travel_time", 1, "day"),
        ("360102", "tcm.far.wage", 40, "元/h"), ("360102", "tcm.far.cost", 1500, "元/人次"),
    ])
    out = recreation_zonal_travel_cost({"statistics": s}, science_params(), REG, 2019, "recreation")
    # local: 100 000 × (4 h × 0.3 × 50 + 100) = 100 000 × 160 = 1.6e7 元
    # far:   2 000 × (24 h × 0.3 × 40 + 1500) = 2 000 × 1788 = 3.576e6 元 → total 1.9576e7 元
    assert out["quantity"].tolist() == pytest.approx([1.9576e7])
    assert out["component"].tolist() == ["travel_cost"] and out["unit"].tolist() == ["CNY"]


@given(st.floats(0, 1e7), st.floats(0, 1e7), st.floats(0, 100), st.floats(0, 500), st.floats(0, 5000))
def test_travel_cost_non_negative_and_monotone_in_visits(n1, n2, t, w, c):
    lo, hi = sorted((n1, n2))
    a = travel_cost_value(np.array([lo]), np.array([t]), np.array([w]), np.array([c]), 0.3)[0]
    b = travel_cost_value(np.array([hi]), np.array([t]), np.array([w]), np.array([c]), 0.3)[0]
    assert 0 <= a <= b * (1 + 1e-12) + 1e-6


def test_zonal_travel_cost_bad_items():
    with pytest.raises(InputError, match="lacks field"):
        recreation_zonal_travel_cost({"statistics": stats([("360102", "tcm.x.visits", 1, "人次")])}, science_params(), REG, 2019, "recreation")
    with pytest.raises(InputError, match=r"tcm\.<zone>\.<field>"):
        recreation_zonal_travel_cost({"statistics": stats([("360102", "tcm.x.speed", 1, "1")])}, science_params(), REG, 2019, "recreation")


def test_spending_hand_computed():
    s = stats([("360102", "ecotourism_visits", 358.68, "万人次"), ("360102", "tourism_spending_per_visit", 1970, "元/人次"),
               ("360103", "tourism_revenue", 2.5, "亿元")])
    out = recreation_spending({"statistics": s}, science_params(), REG, 2019, "recreation").set_index("region_code")
    # Garzê-like: 3 586 800 visits × 1970 元 = 70.66 亿元; 西湖 uses its revenue 2.5 亿元
    assert out.loc["360102", "quantity"] == pytest.approx(3586800 * 1970)
    assert out.loc["360103", "quantity"] == pytest.approx(2.5e8)


def test_landscape_hedonic_hand_computed_and_missing_premium():
    s = stats([("360102", "landscape.beneficiary_area", 50, "万m2"), ("360102", "landscape.premium", 12, "元/m2")])
    out = landscape_hedonic({"statistics": s}, science_params(), REG, 2019, "landscape_value").set_index("component")
    # 500 000 m² × 12 元/m² = 6.0e6 元
    assert out.loc["beneficiary_area", "quantity"] == pytest.approx(5e5)
    assert out.loc["landscape_premium", "quantity"] == pytest.approx(6e6)
    with pytest.raises(InputError, match=r"landscape\.premium") as exc:
        landscape_hedonic({"statistics": stats([("360103", "landscape.beneficiary_area", 1, "m2")])}, science_params(), REG, 2019, "landscape_value")
    assert "溢价" in exc.value.zh
