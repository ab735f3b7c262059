"""GET/POST /api/runs/{id}/uncertainty: computed by an accountant, stored as its own record, bounded, bilingual errors."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from qingshan.api.app import create_app
from qingshan.api.settings import Settings
from qingshan.platform import accounts

KEY = "reservoir_capacity_cost"
DISTS = [{"key": f"{KEY}@2019@A", "kind": "triangular", "a": 5, "b": 7, "c": 9, "source": "test"},
         {"key": f"{KEY}@2019@B", "kind": "uniform", "a": 5.9, "b": 6.1, "source": "test"}]


@pytest.fixture
def api(use_store: SimpleNamespace) -> Iterator[tuple[TestClient, dict[str, str]]]:
    accounts.create_user(use_store.factory, "unc-accountant", "unc-password-1", "accountant")
    with TestClient(create_app(Settings(store_url=use_store.url))) as c:
        r = c.post("/api/auth/login", json={"username": "unc-accountant", "password": "unc-password-1"})
        assert r.status_code == 200, r.text
        c.cookies.clear()
        yield c, {"Authorization": f"Bearer {r.json()['token']}"}


def test_post_computes_and_get_returns_the_stored_analysis_bounded_and_bilingual(
        api: tuple[TestClient, dict[str, str]], use_store: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> None:
    c, auth = api
    url = f"/api/runs/{use_store.run}/uncertainty"
    r = c.get(url, headers=auth)
    assert r.status_code == 404 and "没有已保存的不确定性分析" in r.json()["message_zh"]
    r = c.post(url, json={"distributions": DISTS, "draws": 800, "seed": 4, "sobol_n": 64}, headers=auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["stored"] and body["region"] == "P" and body["meta"]["method"] == "sobol"
    gep = next(x for x in body["intervals"] if x["region_code"] == "P" and x["indicator"] == "GEP")
    assert gep["p5"] < 11.4e8 < gep["p95"] and gep["value"] == 11.4e8
    tornado = [x for x in body["swing"] if x["output"] == "GEP"]
    assert tornado[0]["key"] == f"{KEY}@2019@A" and tornado[0]["low"] < 11.4e8 < tornado[0]["high"]
    got = c.get(url, headers=auth)
    assert got.status_code == 200 and got.json()["meta"]["id"] == body["meta"]["id"]
    assert got.json()["intervals"] == body["intervals"]
    # POST needs an accountant and bounds the request
    assert c.post(url, json={"distributions": DISTS}).status_code in (401, 403, 404)  # unpublished: not even seen
    r = c.post(url, json={"distributions": DISTS, "draws": 10**6}, headers=auth)
    assert r.status_code == 422
    r = c.post(url, json={"distributions": [{**DISTS[0], "key": "no_such_price"}], "draws": 10}, headers=auth)
    assert r.status_code == 422 and "没有任何价值量" in r.json()["message_zh"] and "no_such_price" in r.json()["message_en"]
    r = c.post(url, json={"distributions": [{**DISTS[1], "a": 7, "b": 6}], "draws": 10}, headers=auth)
    assert r.status_code == 422 and "小于最小值" in r.json()["message_zh"]
    # a parameter the run does not use is refused; one that needs recomputing is bounded before any engine work
    param = {"key": "param:runoff_coef", "kind": "uniform", "a": 0.2, "b": 0.4, "source": "test"}
    r = c.post(url, json={"distributions": [param], "draws": 100}, headers=auth)
    assert r.status_code == 422 and "no method of this run uses" in r.json()["message_en"]
    import qingshan.use.uncertainty as U

    monkeypatch.setattr(U, "classify", lambda d, methods, parameters: "recompute")
    r = c.post(url, json={"distributions": [param], "draws": 100}, headers=auth)
    assert r.status_code == 422 and "more than the API allows" in r.json()["message_en"] and "超过接口上限" in r.json()["message_zh"]
    three = [{**param, "key": f"param:p{i}"} for i in range(3)]
    r = c.post(url, json={"distributions": three, "draws": 40, "morris_r": 50}, headers=auth)
    assert r.status_code == 422 and "246 times" in r.json()["message_en"]  # 40 + 50·4 + 2·3
    r = c.post(url, json={"distributions": [param], "draws": 40, "morris_r": 50}, headers=auth)  # 142: allowed
    assert r.status_code == 422 and "stored configuration" in r.json()["message_en"]  # the fixture run has no config
