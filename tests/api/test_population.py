"""GET /api/runs/{id}/population: population by region from the run's statistics table, for the
dashboard's per-capita view (persons; 万人 converted; other units skipped, never guessed)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from fastapi.testclient import TestClient

from qingshan.api.app import create_app
from qingshan.api.settings import Settings
from qingshan.store.db import open_store
from qingshan.store.models import Run

STATS = """region_code,year,item,value,unit,source
360102,2019,population,400000,人,bulletin
360103,2019,population,50,万人,bulletin
360202,2019,常住人口,30,万人,bulletin
360203,2019,population,20,万人,bulletin
360222,2019,population,10,万户,bulletin
360102,2018,population,1,人,other year
360103,2019,rice,3,万t,not population
"""


def _with_statistics(url: str, run_id: str, path: Path | None) -> None:
    factory = open_store(url)
    with factory.begin() as s:
        run = s.get(Run, run_id)
        assert run is not None
        run.config = {"tables": {"statistics": str(path)}} if path else {}


def test_population_in_persons_with_parents_summed_only_when_complete(own_store: str, fx: SimpleNamespace,
                                                                      tmp_path: Path) -> None:
    stats = tmp_path / "statistics.csv"
    stats.write_text(STATS, encoding="utf-8")
    _with_statistics(own_store, fx.run_id, stats)
    with TestClient(create_app(Settings(store_url=own_store))) as client:
        r = client.get(f"/api/runs/{fx.run_id}/population", params={"year": 2019})
    assert r.status_code == 200, r.text
    body = r.json()
    got = {row["code"]: row["population"] for row in body["rows"]}
    # 万人 × 1e4; 南昌市 = its two counties; 景德镇市 and the province lack 浮梁县 (unit 万户): absent, not partial
    assert got == {"360102": 400000.0, "360103": 500000.0, "360100": 900000.0, "360202": 300000.0, "360203": 200000.0}
    assert [s["region_code"] for s in body["skipped"]] == ["360222"]
    assert "万户" in body["skipped"][0]["reason"]


def test_population_absent_is_an_empty_list(own_store: str, fx: SimpleNamespace) -> None:
    _with_statistics(own_store, fx.run_id, None)
    with TestClient(create_app(Settings(store_url=own_store))) as client:
        r = client.get(f"/api/runs/{fx.run_id}/population")
    assert r.status_code == 200, r.text
    assert r.json()["rows"] == [] and r.json()["year"] == 2019
