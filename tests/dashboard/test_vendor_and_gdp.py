"""The npm-built vendor libraries, the page's self-containment, and GET /api/runs/{run_id}/gdp."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from qingshan.api.routers.parcels import _gdp_rows, _leaf_descendants
from qingshan.api.vendor import (
    REQUIRED_FILES,
    VENDOR_DIR,
    VendorMissingError,
    missing_vendor_files,
    require_vendor,
)

STATIC = VENDOR_DIR.parent


def test_vendor_files_are_built_and_match_their_manifest() -> None:
    require_vendor()  # fails with the bilingual "run cd web && npm ci && npm run build" message
    manifest = json.loads((VENDOR_DIR / "manifest.json").read_text(encoding="utf-8"))
    assert {"maplibre-gl", "echarts"} <= set(manifest["packages"])
    for name, meta in manifest["files"].items():
        assert hashlib.sha256((VENDOR_DIR / name).read_bytes()).hexdigest() == meta["sha256"], name
    for pkg in manifest["packages"]:
        assert (VENDOR_DIR / "licenses" / f"{pkg.replace('/', '__')}.txt").stat().st_size > 0, pkg


def test_missing_vendor_files_raise_a_bilingual_error_with_the_fix(tmp_path: Path) -> None:
    assert missing_vendor_files(tmp_path) == list(REQUIRED_FILES)
    (tmp_path / "echarts.min.js").write_text("x")
    assert "echarts.min.js" not in missing_vendor_files(tmp_path)
    with pytest.raises(VendorMissingError) as err:
        require_vendor(tmp_path)
    assert "maplibre-gl.js" in err.value.en and "缺失" in err.value.zh and "npm ci" in err.value.fix_zh


def test_the_page_loads_nothing_from_outside_the_server() -> None:
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "/static/vendor/maplibre-gl.js" in urls and "/static/vendor/echarts.min.js" in urls
    assert all(u.startswith(("/", "#", "data:")) for u in urls), urls
    js = (STATIC / "app.js").read_text(encoding="utf-8")
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", js)  # no tiles, glyphs or CDN


def test_vendor_files_are_served(client: TestClient) -> None:
    r = client.get("/static/vendor/maplibre-gl.js")
    assert r.status_code == 200 and b"MapLibre" in r.content[:300]
    assert client.get("/static/vendor/echarts.min.js").status_code == 200


def test_gdp_of_the_example_and_gep_is_the_region_total(client: TestClient, example: SimpleNamespace) -> None:
    r = client.get(f"/api/runs/{example.run_id}/gdp", params={"region": "360124"})
    assert r.status_code == 200, r.text
    body = r.json()
    res = example.results
    gep = res.loc[res["region_code"] == "360124", "value"].sum()
    assert body["gep"] == pytest.approx(gep)
    assert body["gdp"] > 0 and "APPROXIMATION" in body["source"]  # the example's county GDP is shared from its city
    assert body["gep_gdp_ratio"] == pytest.approx(gep / body["gdp"])
    assert client.get(f"/api/runs/{example.run_id}/gdp", params={"region": "999999"}).status_code == 404


def test_gdp_rows_convert_units_and_leaves_sum_up(tmp_path: Path) -> None:
    stats = tmp_path / "statistics.csv"
    stats.write_text("region_code,year,item,value,unit,source\n"
                     "360102,2019,gdp,12.5,亿元,NBS\n"        # 12.5 亿元 = 1.25e9 CNY
                     "360103,2019,GDP,300000,万元,NBS\n"      # 30 万万元 = 3e9 CNY
                     "360103,2018,gdp,1,亿元,NBS\n"           # another year: ignored
                     "360102,2019,rice,3,万t,NBS\n", encoding="utf-8")
    rows = _gdp_rows(stats, 2019)
    assert rows["360102"][0] == pytest.approx(1.25e9)
    assert rows["360103"][0] == pytest.approx(3e9)
    assert set(rows) == {"360102", "360103"}
    assert _gdp_rows(tmp_path / "missing.csv", 2019) == {}
    regions = pd.DataFrame({"code": ["360000", "360100", "360102", "360103"],
                            "parent": [None, "360000", "360100", "360100"]})
    assert sorted(_leaf_descendants(regions, "360000")) == ["360102", "360103"]
    assert _leaf_descendants(regions, "360102") == []
