"""Ecosystem types as a two-level hierarchy (森林 → 针叶林, 阔叶林, 针阔混交林, 竹林) that rolls up (issue 7 item 8)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from qingshan.aggregate.regions import Region, RegionSet
from qingshan.core.errors import InputError
from qingshan.core.params import (
    ECOSYSTEM_IDS,
    ECOSYSTEMS,
    LandcoverTable,
    ParameterTable,
    ParamSet,
    double_counted_ecosystem,
    top_ecosystem,
)
from qingshan.quantities.carbon import carbon_biomass_change


def test_levels_and_roll_up() -> None:
    assert {"forest.coniferous", "forest.broadleaf", "forest.mixed", "forest.bamboo"} <= set(ECOSYSTEM_IDS)
    assert set(ECOSYSTEMS) <= set(ECOSYSTEM_IDS)
    assert top_ecosystem("forest.bamboo") == "forest" and top_ecosystem("shrub") == "shrub"
    assert double_counted_ecosystem({"forest", "forest.bamboo"}) == "forest"
    assert double_counted_ecosystem({"forest.bamboo", "forest.mixed", "shrub"}) is None


def test_landcover_table_may_use_the_second_level(tmp_path: Path) -> None:
    (tmp_path / "lc.csv").write_text("code,name_zh,name_en,ecosystem\n1,竹林,Bamboo,forest.bamboo\n2,草,Grass,grassland\n",
                                     encoding="utf-8")
    (tmp_path / "lc.meta.csv").write_text("column,unit,source\n", encoding="utf-8")
    lc = LandcoverTable.from_csv(tmp_path / "lc.csv")
    assert lc.ecosystem_of(1) == "forest"
    idx = lc.ecosystem_index(np.array([[1, 2, -1]]))
    assert idx.tolist() == [[ECOSYSTEMS.index("forest"), ECOSYSTEMS.index("grassland"), -1]]


def _regions() -> RegionSet:
    regs = {"360000": Region("360000", "江西", "province", None), "360102": Region("360102", "东湖", "county", "360000")}
    leaves = gpd.GeoDataFrame({"code": ["360102"], "name": ["东湖"]}, geometry=[box(0, 0, 1, 1)], crs="EPSG:4326")
    return RegionSet(regions=regs, leaves=leaves)


def _stats(rows: list[tuple[int, str, float]]) -> pd.DataFrame:
    return pd.DataFrame([{"region_code": "360102", "year": y, "item": i, "value": v, "unit": "tC", "source": "t"}
                         for y, i, v in rows])


def test_subtype_carbon_stocks_roll_up_to_forest() -> None:
    stats = _stats([(2019, "biomass_carbon_stock.forest.coniferous", 700), (2019, "biomass_carbon_stock.forest.bamboo", 600),
                    (2018, "biomass_carbon_stock.forest.coniferous", 800), (2018, "biomass_carbon_stock.forest.bamboo", 300)])
    params = ParamSet(ParameterTable(params={}))
    out = carbon_biomass_change({"statistics": stats}, params, _regions(), 2019, "carbon_sequestration")
    # forest stock 1300 − 1100 = 200 tC (the conifers' loss is offset by bamboo growth) → 200 × 44/12 tCO2
    assert out.set_index("ecosystem").loc["forest", "quantity"] == pytest.approx(200 * 44 / 12)
    assert set(out["ecosystem"]) == {"forest"}


def test_forest_beside_its_subtypes_is_rejected() -> None:
    stats = _stats([(2019, "biomass_carbon_stock.forest", 700), (2019, "biomass_carbon_stock.forest.bamboo", 600),
                    (2018, "biomass_carbon_stock.forest", 800)])
    with pytest.raises(InputError, match="counted twice"):
        carbon_biomass_change({"statistics": stats}, ParamSet(ParameterTable(params={})), _regions(), 2019, "carbon_sequestration")
