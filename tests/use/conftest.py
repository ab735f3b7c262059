"""A small hand-built store for the uses: province P → counties A, B (real boxes), 2018 and 2019.

Values are chosen so that the 亿元 figures are easy to read back from a rendered report:
GEP of P is 9.00 亿元 in 2018 and 11.40 亿元 in 2019.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from qingshan.store import repo
from qingshan.store.db import open_store, sqlite_url

RUN = "00000000-0000-4000-8000-00000000c4a7"
LEAF = [  # region, year, indicator, category, component, ecosystem, quantity, unit, value, comparable
    ("A", 2018, "water_conservation", "regulating", "water_conservation", "forest", 1e8, "m3", 6e8, 6e8),
    ("A", 2019, "water_conservation", "regulating", "water_conservation", "forest", 1.2e8, "m3", 8.4e8, 8e8),
    ("B", 2018, "water_conservation", "regulating", "water_conservation", "forest", 5e7, "m3", 3e8, 3e8),
    ("B", 2019, "water_conservation", "regulating", "water_conservation", "forest", 5e7, "m3", 3e8, 3e8),
]


def _box(x0: float, y0: float, x1: float, y1: float) -> str:
    return json.dumps({"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]})


def cube() -> pd.DataFrame:
    cols = ["region_code", "year", "indicator", "category", "component", "ecosystem", "quantity", "unit", "value",
            "value_comparable"]
    df = pd.DataFrame(LEAF, columns=cols)
    df["price"] = df["value"] / df["quantity"]
    df["price_unit"] = "元/m3"
    top = (df.groupby(["year", "indicator", "category", "component", "ecosystem", "unit", "price_unit"], as_index=False)
           [["quantity", "value", "value_comparable"]].sum().assign(region_code="P"))
    top["price"] = top["value"] / top["quantity"]
    return pd.concat([df, top], ignore_index=True)[repo.RESULT_COLUMNS]


PROVENANCE = {
    "methods": {"water_conservation": "water_balance"},
    "input_hashes": {"/srv/secret/path/precip_2019.tif": "ab" * 32},
    "parameters": {"runoff_coef": {"value": 0.3, "unit": "1", "source": "测试来源", "certainty": "R"}},
    "prices": [{"price_key": "reservoir_capacity_cost", "year": 2019, "value": 7.0, "unit": "元/m3", "price_year": 2019,
                "region": "*", "source": "[V] test source", "note": "2019 price"}],
    "profile": {"id": "rcees", "status": "test"},
    "qc": {"status": "warnings", "computed": ["water_conservation"], "excluded": [{"id": "recreation", "reason": "无数据 no data"}],
           "unverified": [{"key": "runoff_coef", "value": 0.3, "unit": "1", "source": "测试来源", "certainty": "R"}],
           "notices": [{"code": "test_notice", "en": "A test notice", "zh": "测试提示"}], "jumps": []},
}


@pytest.fixture
def use_store(tmp_path: Path) -> SimpleNamespace:
    url = sqlite_url(tmp_path / "use.sqlite")
    f = open_store(url)
    repo.start_run(f, run_id=RUN, name="两年测试", profile="rcees", years=[2018, 2019], base_year=2018, config={},
                   code_version="test")
    regions = [{"code": "P", "name": "测试省", "level": "province", "parent": None, "area_km2": 30.0, "geometry": _box(115, 28, 117, 29)},
               {"code": "A", "name": "甲县", "level": "county", "parent": "P", "area_km2": 10.0, "geometry": _box(115, 28, 116, 29)},
               {"code": "B", "name": "乙县", "level": "county", "parent": "P", "area_km2": 20.0, "geometry": _box(116, 28, 117, 29)}]
    repo.finish_run_succeeded(f, RUN, results=cube(), regions=regions, provenance=PROVENANCE, output_dir=None,
                              content_hash="1" * 64)
    return SimpleNamespace(url=url, run=RUN, factory=f)
