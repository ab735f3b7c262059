"""GET /api/runs/{run_id}/qc: the QC report, visible exactly when the run is (issue 7 item 6)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from qingshan.api.app import create_app
from qingshan.api.settings import Settings
from qingshan.platform import accounts, jobs
from qingshan.platform.audit import Actor
from qingshan.store import repo
from qingshan.store.db import open_store, sqlite_url

QC = {"profile": "p", "computed": ["water_conservation"], "excluded": [{"id": "fishery_products", "reason": "no data"}],
      "not_computed": [], "unverified": [{"kind": "parameter", "key": "ndvi_soil", "value": 0.05, "unit": "1",
                                          "source": "s", "certainty": "R"}],
      "notices": [{"code": "x", "en": "e", "zh": "中", "severity": "warning"}], "jump_threshold_pct": 30.0,
      "jumps": [{"indicator": "GEP", "region": "36", "from_year": 2018, "to_year": 2019, "change_pct": 45.0}],
      "jumps_total": 1, "class_shares": {"36": {"2019": {"provisioning": 10.0, "regulating": 80.0, "cultural": 10.0}}},
      "example_data": True, "status": "warnings"}
RUNS = {"draft": "r-draft", "published": "r-pub", "old": "r-old"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    url = sqlite_url(tmp_path_factory.mktemp("qc_api") / "s.sqlite")
    factory = open_store(url)
    for kind, run_id in RUNS.items():
        repo.start_run(factory, run_id=run_id, name=kind, profile="p", years=[2019], base_year=None, config={},
                       code_version="t")
        prov = {} if kind == "old" else {"qc": QC, "example": True}
        repo.finish_run_succeeded(factory, run_id, results=_rows(), regions=_regions(), provenance=prov,
                                  output_dir=None, content_hash="0" * 64)
    for action in ("approve", "publish"):
        jobs.set_publication(factory, Actor("someone", "accountant"), RUNS["published"], action)
    jobs.set_publication(factory, Actor("someone", "accountant"), RUNS["old"], "approve")
    jobs.set_publication(factory, Actor("someone", "accountant"), RUNS["old"], "publish")
    accounts.create_user(factory, "acc", "acc-password-1", "accountant")
    with TestClient(create_app(Settings(store_url=url))) as c:
        yield c


def _rows():  # type: ignore[no-untyped-def]
    import pandas as pd

    return pd.DataFrame([{"region_code": "36", "year": 2019, "indicator": "water_conservation", "category": "regulating",
                          "component": "water_conservation", "ecosystem": "forest", "quantity": 1.0, "unit": "m3",
                          "price": 1.0, "price_unit": "CNY/m3", "value": 1.0, "value_comparable": 1.0}])[repo.RESULT_COLUMNS]


def _regions() -> list[dict[str, object]]:
    return [{"code": "36", "name": "省", "level": "province", "parent": None, "area_km2": 1.0, "geometry": None}]


def _headers(client: TestClient) -> dict[str, str]:
    r = client.post("/api/auth/login", json={"username": "acc", "password": "acc-password-1"})
    client.cookies.clear()
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_accountant_reads_the_qc_report_of_a_draft_run(client: TestClient) -> None:
    r = client.get(f"/api/runs/{RUNS['draft']}/qc", headers=_headers(client))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["run_id"] == RUNS["draft"] and body["status"] == "warnings" and body["example"] is True
    assert body["excluded"] == QC["excluded"] and body["unverified"] == QC["unverified"]
    assert body["jumps"] == QC["jumps"] and body["class_shares"] == QC["class_shares"]


def test_qc_visibility_follows_the_run_detail(client: TestClient) -> None:
    """Anonymous: an unpublished run's report is hidden exactly like the run itself (404), a published one is public."""
    for run_id in (RUNS["draft"], RUNS["published"], "no-such-run"):
        detail = client.get(f"/api/runs/{run_id}").status_code
        qc = client.get(f"/api/runs/{run_id}/qc").status_code
        assert (detail, qc) == ((200, 200) if run_id == RUNS["published"] else (404, 404)), run_id
    assert client.get(f"/api/runs/{RUNS['draft']}/qc").json()["message_zh"]


def test_run_without_qc_report_is_a_bilingual_404(client: TestClient) -> None:
    r = client.get(f"/api/runs/{RUNS['old']}/qc")
    assert r.status_code == 404
    assert "no QC report" in r.json()["message_en"] and "质量控制报告" in r.json()["message_zh"]


def test_run_list_labels_example_runs(client: TestClient) -> None:
    runs = {r["id"]: r for r in client.get("/api/runs", headers=_headers(client)).json()}
    assert runs[RUNS["draft"]]["example"] is True and runs[RUNS["old"]]["example"] is False


def test_approval_page_requires_the_acknowledgement(client: TestClient) -> None:
    """Without a browser: the review page has the acknowledgement box, creates the approve/publish buttons
    disabled until it is ticked, and posts {"acknowledge_qc": true}."""
    html = client.get("/workbench/review").text
    assert 'id="qc-ack"' in html and "我已阅读质量控制报告 / I have read the QC report" in html
    assert "`/api/runs/${runId}/qc`" in html
    assert "{ acknowledge_qc: true }" in html
    assert "b.disabled = true" in html and "b.disabled = !ack.checked" in html and "if (!ack.checked) return;" in html
    assert html.index('id="qc-body"') < html.index('id="qc-ack"') < html.index('id="qc-actions"')  # report first
