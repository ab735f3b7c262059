"""The uses over HTTP: change analysis and compensation of a published run; bad requests are bilingual 4xx."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from qingshan.api.app import create_app
from qingshan.api.settings import Settings
from qingshan.platform import jobs
from qingshan.platform.audit import Actor


@pytest.fixture
def client(use_store: SimpleNamespace) -> Iterator[TestClient]:
    for action in ("approve", "publish"):
        jobs.set_publication(use_store.factory, Actor("fixture", "accountant"), use_store.run, action)
    with TestClient(create_app(Settings(store_url=use_store.url))) as c:
        yield c


def test_change_of_a_region_with_its_effects(client: TestClient, use_store: SimpleNamespace) -> None:
    r = client.get(f"/api/runs/{use_store.run}/change", params={"from": 2018, "to": 2019, "region": "P"})
    assert r.status_code == 200, r.text
    body = r.json()
    gep = next(x for x in body["changes"] if x["indicator"] == "GEP")
    assert gep["value_change"] == pytest.approx(2.4e8)
    assert gep["comparable_growth_pct"] == pytest.approx(100 * 2e8 / 9e8)
    eff = next(x for x in body["effects"] if x["indicator"] == "GEP")
    assert eff["quantity_effect"] + eff["price_effect"] == pytest.approx(eff["change"])
    assert {x["region_code"] for x in body["changes"]} == {"P"}


def test_change_errors_are_4xx_bilingual(client: TestClient, use_store: SimpleNamespace) -> None:
    r = client.get(f"/api/runs/{use_store.run}/change", params={"from": 2019, "to": 2019})
    assert r.status_code in (400, 422)
    assert "message_zh" in r.json()
    r = client.get(f"/api/runs/{use_store.run}/change", params={"against": "00000000-0000-4000-8000-000000000999"})
    assert r.status_code == 404


def test_compensation_adds_up_to_the_fund(client: TestClient, use_store: SimpleNamespace) -> None:
    r = client.post(f"/api/runs/{use_store.run}/compensation",
                    json={"fund_yuan": 100.01, "rule": {"rule": "gep_stock", "level": "county"}, "year": 2019})
    assert r.status_code == 200, r.text
    rows = {x["region_code"]: x["amount_fen"] for x in r.json()["rows"]}
    assert rows == {"A": 7369, "B": 2632}
    assert r.json()["fund_fen"] == 10001
    bad = client.post(f"/api/runs/{use_store.run}/compensation",
                      json={"fund_yuan": 100, "rule": {"rule": "factors", "factors": {"a": 0.5}}})
    assert bad.status_code in (400, 422)
    assert "权重" in bad.json()["message_zh"]
