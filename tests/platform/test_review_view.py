"""Review that sees the data (issue 12 item 3): rows with the previous version and last year, plausibility
flags, per-row comments, the uploaded file and a raster preview."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from fastapi.testclient import TestClient
from platform_support import fill_products

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _submit(client: TestClient, sub: dict[str, str], rows: list[list[object]], year: int) -> tuple[int, int]:
    r = client.post("/api/submissions", headers=sub, data={"group": "products", "year": str(year)},
                    files={"file": (f"products-{year}.xlsx", fill_products(rows, year), XLSX)})
    assert r.status_code == 201, r.text
    d = r.json()
    assert d["versions"][-1]["n_errors"] == 0, d["versions"][-1]["errors"]
    sid, ver = d["id"], d["latest_version"]
    assert client.post(f"/api/submissions/{sid}/versions/{ver}/submit", headers=sub).status_code == 200
    return sid, ver


def _view(client: TestClient, headers: dict[str, str], sid: int, ver: int) -> dict:
    r = client.get(f"/api/submissions/{sid}/versions/{ver}/review", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_rows_compare_with_last_year_and_the_previous_version_and_carry_flags(
        client: TestClient, auth: Callable[[str], dict[str, str]]) -> None:
    sub, rev = auth("submitter"), auth("reviewer")
    s18, v18 = _submit(client, sub, [["360102", "东湖区", 2018, "rice", 1.0, "万t", "survey"],
                                     ["360111", "青山湖区", 2018, "rice", 3.0, "万t", "survey"],
                                     ["360121", "南昌县", 2018, "rice", 40.0, "万t", "survey"]], 2018)
    assert client.post(f"/api/submissions/{s18}/versions/{v18}/approve", headers=rev, json={}).status_code == 200

    # 2019: +100 % in 东湖区 (jump), 青山湖区 in t instead of 万t (unit changed), 南昌县 10 000× (bounds error)
    sid, v1 = _submit(client, sub, [["360102", "东湖区", 2019, "rice", 2.0, "万t", "survey"],
                                    ["360111", "青山湖区", 2019, "rice", 30000, "t", "survey"],
                                    ["360121", "南昌县", 2019, "rice", 400000.0, "万t", "survey"]], 2019)
    view = _view(client, rev, sid, v1)
    rows = {r["region_code"]: r for r in view["rows"]}
    assert rows["360102"]["last_year"] == 1.0 and rows["360102"]["change_last_year_pct"] == 100.0
    assert [f["code"] for f in rows["360102"]["flags"]] == ["jump"]
    assert rows["360111"]["change_last_year_pct"] is None
    assert [f["code"] for f in rows["360111"]["flags"]] == ["unit_changed"]
    bounds = [f for f in rows["360121"]["flags"] if f["code"] == "bounds"]
    assert bounds and bounds[0]["severity"] == "error" and "360121" in bounds[0]["en"] and bounds[0]["zh"]
    assert view["counts"] == {"rows": 3, "flagged": 3, "errors": 1}
    assert view["previous_version"] is None and rows["360102"]["status_previous"] is None

    # the reviewer comments on one row and rejects; version 2 fixes 南昌县 and drops 青山湖区
    r = client.post(f"/api/submissions/{sid}/versions/{v1}/comments", headers=rev,
                    json={"region_code": "360121", "item": "rice", "comment": "单位应为 t，请核实"})
    assert r.status_code == 201, r.text
    assert client.post(f"/api/submissions/{sid}/versions/{v1}/reject", headers=rev, json={}).status_code == 200
    rows = {r["region_code"]: r for r in _view(client, sub, sid, v1)["rows"]}  # the submitter reads it too
    assert [c["comment"] for c in rows["360121"]["comments"]] == ["单位应为 t，请核实"]
    assert rows["360102"]["comments"] == []

    _, v2 = _submit(client, sub, [["360102", "东湖区", 2019, "rice", 2.0, "万t", "survey"],
                                  ["360121", "南昌县", 2019, "rice", 40.5, "万t", "survey"]], 2019)
    view2 = _view(client, rev, sid, v2)
    rows2 = {r["region_code"]: r for r in view2["rows"]}
    assert view2["previous_version"] == v1
    assert (rows2["360102"]["status_previous"], rows2["360121"]["status_previous"]) == ("unchanged", "changed")
    assert rows2["360121"]["previous"] == 400000.0
    assert [r["region_code"] for r in view2["removed_since_previous"]] == ["360111"]
    assert view2["counts"]["errors"] == 0 and rows2["360121"]["flags"] == []
    # the uploaded file is downloadable for the reviewer
    f = client.get(f"/api/submissions/{sid}/versions/{v2}/file", headers=rev)
    assert f.status_code == 200 and f.content[:2] == b"PK"


def test_comment_rules(client: TestClient, auth: Callable[[str], dict[str, str]]) -> None:
    sub, rev = auth("submitter"), auth("reviewer")
    sid, ver = _submit(client, sub, [["360102", "东湖区", 2019, "rice", 2.0, "万t", "survey"]], 2019)
    url = f"/api/submissions/{sid}/versions/{ver}/comments"
    assert client.post(url, headers=sub, json={"comment": "x"}).status_code == 403
    r = client.post(url, headers=rev, json={"region_code": "360111", "item": "rice", "comment": "x"})
    assert r.status_code == 422 and "360111" in r.json()["message_en"] and r.json()["message_zh"]
    assert client.post(url, headers=rev, json={"comment": "整体核对无误"}).status_code == 201
    assert [c["comment"] for c in _view(client, rev, sid, ver)["comments"]] == ["整体核对无误"]
    assert client.post(f"/api/submissions/{sid}/versions/{ver}/approve", headers=rev, json={}).status_code == 200
    r = client.post(url, headers=rev, json={"comment": "late"})
    assert r.status_code == 409 and r.json()["message_zh"]
    assert client.get(f"/api/submissions/{sid}/versions/9/review", headers=rev).status_code == 404


def test_raster_preview(client: TestClient, auth: Callable[[str], dict[str, str]], tmp_path: Path) -> None:
    sub, rev = auth("submitter"), auth("reviewer")
    path = tmp_path / "precip.tif"
    values = np.linspace(1300.0, 2000.0, 400).reshape(20, 20)
    with rasterio.open(path, "w", driver="GTiff", height=20, width=20, count=1, dtype="float32", crs="EPSG:4326",
                       transform=Affine(0.05, 0, 115.0, 0, -0.05, 29.0), nodata=-9999.0) as ds:
        ds.write(values.astype(np.float32), 1)
    r = client.post("/api/submissions/rasters", headers=sub, data={"variable": "precip", "year": "2019"},
                    files={"file": ("precip.tif", path.read_bytes(), "image/tiff")})
    assert r.status_code == 201, r.text
    sid, ver = r.json()["id"], r.json()["latest_version"]
    view = _view(client, rev, sid, ver)
    assert view["raster"]["variable"] == "precip" and view["raster"]["min"] == 1300.0 and view["rows"] == []
    png = client.get(f"/api/submissions/{sid}/versions/{ver}/preview.png", headers=rev)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
    # a form version has no raster to preview: a bilingual error, not a 500
    fid, fver = _submit(client, sub, [["360102", "东湖区", 2019, "rice", 2.0, "万t", "survey"]], 2019)
    bad = client.get(f"/api/submissions/{fid}/versions/{fver}/preview.png", headers=rev)
    assert bad.status_code == 422 and bad.json()["message_zh"]
