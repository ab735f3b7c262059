"""Property tests of every table method (statistics → quantities), found through the registry:
quantities are non-negative, and reporting more (all statistics scaled by k ≥ 1) never lowers any
region's quantity of any component."""

from __future__ import annotations

from importlib import resources

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from qingshan.aggregate.regions import Region, RegionSet
from qingshan.core.params import ECOSYSTEMS, LandcoverTable, ParameterTable, ParamSet
from qingshan.indicators import registry
from qingshan.platform.forms import form_groups
from qingshan.quantities.cultural import TCM_FIELDS

TABLES = resources.files("qingshan.data") / "tables"
TABLE_METHODS = [(s, m) for s in registry() for m in s.methods if m.kind == "table"]
LEAVES = ("360102", "360103")


@pytest.fixture(scope="module")
def setting():
    params = ParamSet(
        ParameterTable.from_csv(str(TABLES / "params_science.csv")),
        LandcoverTable.from_csv(str(TABLES / "landcover_modis_igbp.csv")),
        dict(registry().profile("jiangxi-db36-2021").options),
    )
    regions = RegionSet(
        regions={
            "360000": Region("360000", "省", "province", None),
            "360100": Region("360100", "市", "city", "360000"),
            "360102": Region("360102", "甲县", "county", "360100"),
            "360103": Region("360103", "乙县", "county", "360100"),
        },
        leaves=gpd.GeoDataFrame({"code": list(LEAVES), "name": ["甲县", "乙县"]},
                                geometry=[box(115, 28, 116, 29), box(116, 28, 117, 29)], crs="EPSG:4326"),
    )
    products = pd.read_csv(str(TABLES / "products_default.csv"))
    return params, regions, products


def _items() -> dict[str, str]:
    """Every statistics item a table method reads, with a unit it accepts."""
    items = {i.item: i.unit for g in form_groups().values() for i in g.items}
    for sector in ("agriculture", "forestry", "livestock", "fishery"):
        items[f"output_value.{sector}"] = "亿元"
        items[f"value_added.{sector}"] = "亿元"
    items.update({f"biomass_carbon_stock.{e}": "万tC" for e in ECOSYSTEMS})
    items["tourism_spending_per_visit"] = "CNY/visit"
    items.update({f"tcm.nanchang.{field}": unit for field, unit in TCM_FIELDS.items()})
    return items


def _statistics(seed: int, k: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for item, unit in sorted(_items().items()):
        for code in LEAVES:
            before = float(rng.uniform(1, 100))
            growth = float(rng.uniform(1.0, 1.5))  # stocks grow, so a stock change is positive
            rows.append({"region_code": code, "year": 2018, "item": item, "value": before * k, "unit": unit, "source": "test"})
            rows.append({"region_code": code, "year": 2019, "item": item, "value": before * growth * k, "unit": unit, "source": "test"})
    return pd.DataFrame(rows)


def _run(method, spec, setting, stats: pd.DataFrame) -> pd.Series:
    params, regions, products = setting
    out = method.load()(tables={"statistics": stats, "products": products}, params=params, regions=regions,
                        year=2019, indicator=spec.id)
    return out.groupby(["region_code", "component"])["quantity"].sum() if len(out) else pd.Series(dtype=float)


@pytest.mark.parametrize(("spec", "method"), TABLE_METHODS, ids=lambda x: getattr(x, "id", ""))
def test_table_method_produces_rows_from_reported_items(spec, method, setting):
    got = _run(method, spec, setting, _statistics(0, 1.0))
    assert len(got) > 0, f"{spec.id}.{method.id} read none of the items it should"
    assert (got >= 0).all()


@pytest.mark.parametrize(("spec", "method"), TABLE_METHODS, ids=lambda x: getattr(x, "id", ""))
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.floats(1.0, 10.0))
def test_table_method_is_non_negative_and_monotone_in_the_statistics(spec, method, setting, seed, k):
    base = _run(method, spec, setting, _statistics(seed, 1.0))
    more = _run(method, spec, setting, _statistics(seed, k))
    assert (base >= 0).all()
    assert (more.reindex(base.index).fillna(0) >= base * (1 - 1e-12)).all()
