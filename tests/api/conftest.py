"""A small results store built by hand: Jiangxi-like province → 2 cities → 5 counties, 2 years.

County rows are generated from a seeded rng; city and province rows are their exact sums (as the
engine's roll-up writes them), so tests can check that the API preserves the hierarchy.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from qingshan.api.app import create_app
from qingshan.api.settings import Settings
from qingshan.platform import accounts, jobs
from qingshan.platform.audit import Actor
from qingshan.store import repo
from qingshan.store.db import open_store, sqlite_url

RUN_ID = "00000000-0000-4000-8000-000000000001"
FAILED_RUN_ID = "00000000-0000-4000-8000-000000000002"
YEARS = [2018, 2019]
ACCOUNTANT = ("fixture-accountant", "fixture-password-1")


def _box(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


def _polygon(ring: list[list[float]]) -> str:
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


# code, name, level, parent, area_km2, outer ring (lon/lat)
REGIONS = [
    ("360000", "江西省", "province", None, 3000.0, _box(115, 28, 117, 29)),
    ("360100", "南昌市", "city", "360000", 1000.0, _box(115, 28, 116, 28.5)),
    ("360200", "景德镇市", "city", "360000", 2000.0,
     [[115, 28.5], [116, 28.5], [116, 28], [117, 28], [117, 29], [115, 29], [115, 28.5]]),
    ("360102", "东湖区", "county", "360100", 400.0, _box(115, 28, 115.5, 28.5)),
    ("360103", "西湖区", "county", "360100", 600.0, _box(115.5, 28, 116, 28.5)),
    ("360202", "昌江区", "county", "360200", 500.0, _box(115, 28.5, 115.5, 29)),
    ("360203", "珠山区", "county", "360200", 500.0, _box(115.5, 28.5, 116, 29)),
    ("360222", "浮梁县", "county", "360200", 1000.0, _box(116, 28, 117, 29)),
]
COUNTIES = [r[0] for r in REGIONS if r[2] == "county"]
PARENT = {r[0]: r[3] for r in REGIONS}

# indicator, category, component, unit, price (CNY per unit)
CELLS = [
    ("agricultural_products", "provisioning", "rice", "t", 2800.0),
    ("agricultural_products", "provisioning", "vegetables", "t", 3500.0),
    ("water_conservation", "regulating", "water_conservation", "m3", 6.1),
    ("soil_retention", "regulating", "soil_retained", "t", 0.0),
    ("soil_retention", "regulating", "sediment_reduction", "m3", 12.6),
    ("carbon_sequestration", "regulating", "co2_fixed", "tCO2", 80.0),
    ("recreation", "cultural", "visits", "visit", 350.0),
]
ECOSYSTEMS = ["forest", "cropland"]


def fixture_results(seed: int = 42) -> pd.DataFrame:
    """County rows from a seeded rng, plus city and province rows that are their sums."""
    rng = np.random.default_rng(seed)
    rows = []
    for year in YEARS:
        deflate = 1.0 if year == 2018 else 0.95
        for code in COUNTIES:
            for ind, cat, comp, unit, price in CELLS:
                for eco in ECOSYSTEMS:
                    q = float(rng.uniform(1e3, 1e6))
                    value = None if price == 0 else q * price
                    rows.append({"region_code": code, "year": year, "indicator": ind, "category": cat,
                                 "component": comp, "ecosystem": eco, "quantity": q, "unit": unit,
                                 "price": price or None, "price_unit": f"CNY {unit}-1" if price else None,
                                 "value": value, "value_comparable": None if value is None else value * deflate})
    leaf = pd.DataFrame(rows)
    keys = ["year", "indicator", "category", "component", "ecosystem", "unit", "price", "price_unit"]
    frames = [leaf]
    for depth in (1, 2):  # city, then province
        up = leaf["region_code"].map(PARENT if depth == 1 else lambda c: PARENT[PARENT[c]])
        sums = (leaf.assign(region_code=up)
                .groupby(["region_code", *keys], dropna=False, as_index=False)[["quantity", "value", "value_comparable"]]
                .sum(min_count=1))
        frames.append(sums)
    return pd.concat(frames, ignore_index=True)[repo.RESULT_COLUMNS]


def build_store(path: Path) -> str:
    """Write the fixture store at ``path``; return its URL."""
    url = sqlite_url(path)
    factory = open_store(url)
    regions = [{"code": c, "name": n, "level": lv, "parent": p, "area_km2": a, "geometry": _polygon(ring)}
               for c, n, lv, p, a, ring in REGIONS]
    common = {"profile": "jiangxi-db36-2021", "years": YEARS, "base_year": 2018, "code_version": "test"}
    repo.start_run(factory, run_id=RUN_ID, name="fixture 江西 2018–2019", config={"note": "fixture"}, **common)
    repo.finish_run_succeeded(factory, RUN_ID, results=fixture_results(), regions=regions,
                              provenance={"source": "tests/api/conftest.py"}, output_dir=None, content_hash="0" * 64)
    for action in ("approve", "publish"):  # the public sees published runs only
        jobs.set_publication(factory, Actor("fixture", "accountant"), RUN_ID, action)
    repo.start_run(factory, run_id=FAILED_RUN_ID, name="broken", config={}, **common)
    repo.finish_run_failed(factory, FAILED_RUN_ID, {"error": "input_error", "message_en": "x", "message_zh": "错"})
    accounts.create_user(factory, ACCOUNTANT[0], ACCOUNTANT[1], "accountant")
    return url


@pytest.fixture(scope="session")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """URL of the fixture store (built once per session)."""
    return build_store(tmp_path_factory.mktemp("store") / "qingshan.sqlite")


@pytest.fixture(scope="session")
def client(store_url: str) -> Iterator[TestClient]:
    """A TestClient over ``create_app`` with the fixture store."""
    with TestClient(create_app(Settings(store_url=store_url))) as c:
        yield c


@pytest.fixture(scope="session")
def accountant_headers(client: TestClient) -> dict[str, str]:
    """Authorization header of a logged-in accountant (who also sees unpublished and failed runs)."""
    r = client.post("/api/auth/login", json={"username": ACCOUNTANT[0], "password": ACCOUNTANT[1]})
    assert r.status_code == 200, r.text
    client.cookies.clear()  # keep the shared client anonymous
    return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture(scope="session")
def fx() -> SimpleNamespace:
    """What the fixture store holds (tests import nothing from this conftest directly)."""
    return SimpleNamespace(run_id=RUN_ID, failed_run_id=FAILED_RUN_ID, years=YEARS, counties=COUNTIES,
                           results=fixture_results())


@pytest.fixture
def own_store(tmp_path: Path) -> str:
    """A fresh copy of the fixture store for one test (which may publish, withdraw, ...)."""
    return build_store(tmp_path / "own.sqlite")
