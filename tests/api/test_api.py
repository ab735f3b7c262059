"""API tests over the hand-built fixture store (tests/api/conftest.py)."""

from __future__ import annotations

import csv
import io
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from numpy.testing import assert_allclose
from openpyxl import load_workbook

from qingshan.api.app import create_app
from qingshan.api.settings import DEFAULT_STORE_URL, Settings

RUN = "/api/runs/00000000-0000-4000-8000-000000000001"  # fx.run_id


def _leaf_total(fx: SimpleNamespace, year: int, column: str = "value") -> float:
    df = fx.results
    df = df[(df["year"] == year) & df["region_code"].isin(fx.counties)]
    return float(df[column].sum())


def test_healthz_answers_ok(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_openapi_renders_with_bilingual_summaries(client: TestClient) -> None:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert {"/api/indicators", "/api/runs/{run_id}/summary", "/api/runs/{run_id}/ranking", "/healthz"} <= set(paths)
    assert "汇总" in paths["/api/runs/{run_id}/summary"]["get"]["summary"]


def test_settings_read_the_store_url_from_env() -> None:
    assert Settings.from_env({}).store_url == DEFAULT_STORE_URL
    assert Settings.from_env({"QINGSHAN_STORE_URL": "sqlite:///x.db"}).store_url == "sqlite:///x.db"


def test_indicators_list_names_and_components(client: TestClient) -> None:
    body = client.get("/api/indicators").json()
    soil = next(i for i in body if i["id"] == "soil_retention")
    assert soil["name_zh"] == "土壤保持"
    assert soil["category_zh"] == "调节服务"
    assert any(c["id"] == "sediment_reduction" for c in soil["components"])


def test_indicator_detail_is_the_spec_dump(client: TestClient) -> None:
    body = client.get("/api/indicators/water_conservation").json()
    assert body["id"] == "water_conservation"
    assert "methods" in body
    assert client.get("/api/indicators/水源涵养").json()["id"] == "water_conservation"


def test_unknown_indicator_is_404_with_both_languages(client: TestClient) -> None:
    r = client.get("/api/indicators/no_such_thing")
    assert r.status_code == 404
    assert r.json()["error"] == "unknown_indicator"
    assert r.json()["message_zh"]


def test_profiles_list_their_indicators(client: TestClient) -> None:
    body = client.get("/api/profiles").json()
    jx = next(p for p in body if p["id"] == "jiangxi-db36-2021")
    assert "water_conservation" in jx["indicators"]


def test_runs_list_only_succeeded_runs(client: TestClient, fx: SimpleNamespace) -> None:
    ids = [r["id"] for r in client.get("/api/runs").json()]
    assert ids == [fx.run_id]


def test_run_detail_of_any_status(client: TestClient, fx: SimpleNamespace,
                                  accountant_headers: dict[str, str]) -> None:
    ok = client.get(RUN).json()
    assert ok["status"] == "succeeded"
    assert ok["years"] == fx.years
    assert client.get(f"/api/runs/{fx.failed_run_id}").status_code == 404  # unpublished: hidden from the public
    failed = client.get(f"/api/runs/{fx.failed_run_id}", headers=accountant_headers).json()
    assert failed["status"] == "failed"
    assert failed["error"]["message_zh"] == "错"


def test_unknown_run_is_404_with_message_zh(client: TestClient) -> None:
    for path in ("", "/summary", "/regions", "/results", "/ranking"):
        r = client.get(f"/api/runs/no-such-run{path}")
        assert r.status_code == 404, path
        assert r.json()["error"] == "not_found"
        assert "没有核算记录" in r.json()["message_zh"]


def test_failed_run_has_no_results_409(client: TestClient, fx: SimpleNamespace,
                                      accountant_headers: dict[str, str]) -> None:
    r = client.get(f"/api/runs/{fx.failed_run_id}/summary", headers=accountant_headers)
    assert r.status_code == 409
    assert r.json()["message_zh"]


def test_summary_defaults_to_top_region_and_last_year(client: TestClient, fx: SimpleNamespace) -> None:
    s = client.get(f"{RUN}/summary").json()
    assert s["region"]["code"] == "360000"
    assert s["year"] == fx.years[-1]
    assert_allclose(s["total"], _leaf_total(fx, fx.years[-1]), rtol=1e-9)
    assert_allclose(s["total_yi"], s["total"] / 1e8, rtol=1e-12)
    assert_allclose(sum(c["value"] or 0 for c in s["by_category"]), s["total"], rtol=1e-9)
    assert_allclose(sum(i["value"] or 0 for i in s["by_indicator"]), s["total"], rtol=1e-9)
    assert_allclose(sum(c["share"] for c in s["by_category"] if c["share"]), 1.0, rtol=1e-9)
    assert [c["code"] for c in s["children"]] == ["360100", "360200"]


def test_summary_of_a_city_equals_the_sum_of_its_counties(client: TestClient) -> None:
    city = client.get(f"{RUN}/summary", params={"region": "360200", "year": 2018}).json()
    counties = [client.get(f"{RUN}/summary", params={"region": c["code"], "year": 2018}).json()["total"]
                for c in city["children"]]
    assert len(counties) == 3
    assert_allclose(city["total"], sum(counties), rtol=1e-9)
    assert_allclose(sum(c["value"] for c in city["children"]), city["total"], rtol=1e-9)


def test_summary_comparable_prices_and_unvalued_components(client: TestClient, fx: SimpleNamespace) -> None:
    s = client.get(f"{RUN}/summary", params={"year": 2019, "measure": "comparable"}).json()
    assert_allclose(s["total"], _leaf_total(fx, 2019, "value_comparable"), rtol=1e-9)
    soil = next(i for i in s["by_indicator"] if i["indicator"] == "soil_retention")
    retained = next(c for c in soil["components"] if c["component"] == "soil_retained")
    assert retained["value"] is None  # a quantity without a price stays unvalued, not 0
    assert retained["quantity"] > 0


def test_summary_errors_for_unknown_region_and_year(client: TestClient) -> None:
    r = client.get(f"{RUN}/summary", params={"region": "999999"})
    assert r.status_code == 404
    assert r.json()["error"] == "region_error"
    r = client.get(f"{RUN}/summary", params={"year": 1990})
    assert r.status_code == 404
    assert r.json()["field"] == "year"


def test_regions_geojson_top_level_by_default(client: TestClient, fx: SimpleNamespace) -> None:
    fc = client.get(f"{RUN}/regions").json()
    assert fc["type"] == "FeatureCollection"
    assert [f["id"] for f in fc["features"]] == ["360000"]
    props = fc["features"][0]["properties"]
    assert props["name"] == "江西省"
    assert_allclose(props["gep_yi"], _leaf_total(fx, 2019) / 1e8, rtol=1e-9)
    assert fc["features"][0]["geometry"]["type"] == "Polygon"


def test_regions_children_sum_to_their_parent(client: TestClient) -> None:
    fc = client.get(f"{RUN}/regions", params={"parent": "360100", "year": 2018}).json()
    codes = [f["properties"]["code"] for f in fc["features"]]
    assert codes == ["360102", "360103"]
    city = client.get(f"{RUN}/regions", params={"level": "city", "year": 2018}).json()
    nanchang = next(f for f in city["features"] if f["id"] == "360100")["properties"]
    assert_allclose(nanchang["gep"], sum(f["properties"]["gep"] for f in fc["features"]), rtol=1e-9)
    assert_allclose(nanchang["metric"], nanchang["gep"], rtol=1e-12)  # no indicator: metric is GEP
    assert_allclose(sum(v for v in nanchang["values"].values() if v), nanchang["gep"], rtol=1e-9)


def test_regions_physical_quantity_of_one_indicator(client: TestClient, fx: SimpleNamespace) -> None:
    fc = client.get(f"{RUN}/regions", params={"level": "county", "indicator": "water_conservation",
                                             "measure": "quantity"}).json()
    assert fc["metric_unit"] == "m3"
    df = fx.results
    want = df[(df["region_code"] == "360222") & (df["year"] == 2019) & (df["indicator"] == "water_conservation")]
    got = next(f for f in fc["features"] if f["id"] == "360222")["properties"]["metric"]
    assert_allclose(got, want["quantity"].sum(), rtol=1e-9)


def test_quantity_without_indicator_is_422(client: TestClient) -> None:
    r = client.get(f"{RUN}/regions", params={"measure": "quantity"})
    assert r.status_code == 422
    assert r.json()["error"] == "input_error"
    assert r.json()["message_zh"]


def test_bad_query_parameter_is_422_bilingual(client: TestClient) -> None:
    r = client.get(f"{RUN}/ranking", params={"level": "planet"})
    assert r.status_code == 422
    assert r.json()["message_zh"]


def test_results_rows_filter_and_page(client: TestClient, fx: SimpleNamespace) -> None:
    body = client.get(f"{RUN}/results", params={"region": "360102", "year": 2019,
                                               "indicator": "soil_retention"}).json()
    assert body["total"] == 2 * 2  # 2 components × 2 ecosystems
    assert {r["component"] for r in body["rows"]} == {"soil_retained", "sediment_reduction"}
    page = client.get(f"{RUN}/results", params={"limit": 5, "offset": 3}).json()
    assert len(page["rows"]) == 5
    assert page["total"] == len(fx.results)


def test_ranking_json_is_sorted_and_complete(client: TestClient, fx: SimpleNamespace) -> None:
    body = client.get(f"{RUN}/ranking", params={"level": "county", "year": 2019}).json()
    values = [r["value"] for r in body["rows"]]
    assert [r["rank"] for r in body["rows"]] == [1, 2, 3, 4, 5]
    assert values == sorted(values, reverse=True)
    assert_allclose(sum(values), _leaf_total(fx, 2019), rtol=1e-9)
    first = body["rows"][0]
    assert_allclose(first["per_km2"], first["value"] / first["area_km2"], rtol=1e-12)


def test_ranking_csv_download_has_a_header(client: TestClient) -> None:
    r = client.get(f"{RUN}/ranking", params={"level": "county", "format": "csv", "indicator": "recreation"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert list(rows[0]) == ["rank", "code", "name", "level", "parent", "area_km2", "value", "unit", "per_km2"]
    assert len(rows) == 5
    assert {r["name"] for r in rows} >= {"浮梁县"}


def test_ranking_xlsx_download_opens(client: TestClient) -> None:
    r = client.get(f"{RUN}/ranking", params={"level": "city", "format": "xlsx"})
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.content)).active
    assert ws is not None
    assert [c.value for c in ws[1]][:3] == ["rank", "code", "name"]
    assert ws.max_row == 3  # header + 2 cities


def test_dashboard_and_static_files_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "/static/app.js" in page.text
    for name in ("app.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 200
    js = client.get("/static/app.js").text
    assert "http://" not in js.replace("http://www.w3.org/2000/svg", "")  # no external requests


@pytest.mark.parametrize("path", ["/healthz", "/api/indicators"])
def test_app_builds_without_touching_the_store(path: str) -> None:
    app = create_app(Settings(store_url="sqlite:////nonexistent/dir/never.sqlite"))
    with TestClient(app) as c:
        assert c.get(path).status_code == 200
    assert app.state.store is None
