"""A two-county region set and a statistics-table builder for table-method tests."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
from shapely.geometry import box

from qingshan.aggregate.regions import Region, RegionSet


def regions() -> RegionSet:
    regs = {"360000": Region("360000", "江西", "province", None), "360100": Region("360100", "南昌", "city", "360000"),
            "360102": Region("360102", "东湖", "county", "360100"), "360103": Region("360103", "西湖", "county", "360100")}
    leaves = gpd.GeoDataFrame({"code": ["360102", "360103"], "name": ["东湖", "西湖"]},
                              geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs="EPSG:4326")
    return RegionSet(regions=regs, leaves=leaves)


def stats(rows: list[tuple[str, str, float, str]], year: int = 2019) -> pd.DataFrame:
    df = pd.DataFrame([{"region_code": c, "year": year, "item": i, "value": v, "unit": u, "source": "test"} for c, i, v, u in rows])
    df.attrs["path"] = "stats.csv"
    return df
