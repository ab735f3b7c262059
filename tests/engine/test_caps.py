"""Emission caps applied to leaf-region rows: Q = min(capacity, emissions) per reporting region."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from qingshan.aggregate.regions import Region, RegionSet
from qingshan.core.errors import InputError
from qingshan.engine.caps import apply_emission_caps, cap_rules
from qingshan.indicators import registry

RULES = {("air_purification", "so2"): "emissions.so2"}


def _regions() -> RegionSet:
    regs = {
        "360000": Region("360000", "江西", "province", None),
        "360100": Region("360100", "南昌", "city", "360000"),
        "360102": Region("360102", "东湖", "county", "360100"),
        "360103": Region("360103", "西湖", "county", "360100"),
        "360200": Region("360200", "景德镇", "city", "360000"),
        "360202": Region("360202", "昌江", "county", "360200"),
    }
    leaves = gpd.GeoDataFrame({"code": ["360102", "360103", "360202"], "name": ["a", "b", "c"]},
                              geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1)], crs="EPSG:4326")
    return RegionSet(regions=regs, leaves=leaves)


def _leaf_rows() -> pd.DataFrame:
    # capacity [t]: 东湖 forest 300 + cropland 100 = 400; 西湖 forest 50; 昌江 forest 200
    rows = [("360102", "forest", 300.0), ("360102", "cropland", 100.0), ("360103", "forest", 50.0), ("360202", "forest", 200.0)]
    df = pd.DataFrame(rows, columns=["region_code", "ecosystem", "quantity"])
    return df.assign(year=2019, indicator="air_purification", component="so2", unit="t")[
        ["region_code", "year", "indicator", "component", "ecosystem", "quantity", "unit"]]


def _stats(rows: list[tuple[str, float, str]]) -> pd.DataFrame:
    return pd.DataFrame([{"region_code": c, "year": 2019, "item": "emissions.so2", "value": v, "unit": u, "source": "test"}
                         for c, v, u in rows])


def test_county_caps_hand_computed():
    # 东湖 C = 400 t, E = 0.01 万t = 100 t → factor 0.25: forest 75, cropland 25
    # 西湖 C = 50 t, E = 80 t → capacity binds: 50; 昌江 C = 200, E = 200 → 200
    stats = _stats([("360102", 0.01, "万t"), ("360103", 80, "t"), ("360202", 200, "t")])
    out, report = apply_emission_caps(_leaf_rows(), stats, _regions(), RULES)
    assert out["quantity"].tolist() == pytest.approx([75.0, 25.0, 50.0, 200.0])
    rep = report.set_index("region_code")
    assert rep.loc["360102", "factor"] == pytest.approx(0.25)
    assert rep.loc["360103", "quantity"] == pytest.approx(50.0)


def test_province_level_emissions_cap_the_sum_of_leaves():
    # province E = 325 t, C = 400 + 50 + 200 = 650 t → every leaf × 0.5
    out, report = apply_emission_caps(_leaf_rows(), _stats([("360000", 325, "t")]), _regions(), RULES)
    assert out["quantity"].sum() == pytest.approx(325.0)
    assert out["quantity"].tolist() == pytest.approx([150.0, 50.0, 25.0, 100.0])
    assert report["capacity"].iloc[0] == pytest.approx(650.0)


def test_missing_emissions_is_a_bilingual_error_unless_told_otherwise():
    stats = _stats([("360102", 100, "t")])
    with pytest.raises(InputError) as exc:
        apply_emission_caps(_leaf_rows(), stats, _regions(), RULES)
    assert "emissions.so2" in exc.value.en and "排放量" in exc.value.zh and "360103" in exc.value.en
    kept, _ = apply_emission_caps(_leaf_rows(), stats, _regions(), RULES, missing="capacity")
    assert kept["quantity"].tolist() == pytest.approx([75.0, 25.0, 50.0, 200.0])
    zero, _ = apply_emission_caps(_leaf_rows(), stats, _regions(), RULES, missing="zero")
    assert zero["quantity"].tolist() == pytest.approx([75.0, 25.0, 0.0, 0.0])


def test_mixed_levels_and_negative_emissions_are_errors():
    with pytest.raises(InputError, match="mix administrative levels"):
        apply_emission_caps(_leaf_rows(), _stats([("360000", 1, "t"), ("360102", 1, "t")]), _regions(), RULES)
    with pytest.raises(InputError, match="non-negative"):
        apply_emission_caps(_leaf_rows(), _stats([("360000", -1, "t")]), _regions(), RULES)


def test_other_indicators_untouched_and_rules_from_registry():
    other = _leaf_rows().assign(indicator="carbon_sequestration", component="co2_fixed")
    out, report = apply_emission_caps(other, None, _regions(), RULES)
    pd.testing.assert_frame_equal(out, other)
    assert report.empty
    rules = cap_rules(registry())
    assert rules[("water_purification", "cod")] == "emissions.cod"
    assert rules[("air_purification", "nox")] == "emissions.nox"
    assert ("carbon_sequestration", "co2_fixed") not in rules


def test_jiangxi_example_with_caps_wired_in(tmp_path, write_config):
    """The whole jiangxi-db36-2021 profile on the example, with the caps applied by the engine after
    aggregation: every county's purification ≤ its emissions and ≤ its capacity."""
    from qingshan.engine import run
    from qingshan.engine.config import load_config

    outcome = run.account(load_config(write_config(tmp_path)))
    reports = [pd.DataFrame(outcome.provenance["emission_caps"])]
    res, rep = outcome.results, reports[0]
    assert set(rep["component"]) == {"so2", "nox", "cod", "nh3n"}
    assert (rep["quantity"] <= rep["emissions"] * (1 + 1e-9)).all()
    assert (rep["quantity"] <= rep["capacity"] * (1 + 1e-9)).all()
    prov = res[(res["region_code"] == "360000") & res["indicator"].isin(["air_purification", "water_purification"])]
    per = prov.groupby("component")["quantity"].sum()
    # provincial SO2 ≤ the 2012 total 56.77 万t split over the counties
    assert 0 < per["so2"] <= 567_700 * (1 + 1e-6)
    assert set(res["indicator"]) >= {"flood_regulation", "negative_ions", "recreation", "water_purification", "air_purification"}
