"""The data catalogue 数据目录 through the API: visibility per entry and department, version history with
SHA-256, downloads with metadata, base configurations and approved forms as entries."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable

from fastapi.testclient import TestClient
from platform_support import PASSWORD, fill_products
from sqlalchemy.orm import Session, sessionmaker

from qingshan.platform import accounts

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PRICES_V1 = "price_key,price_year,region,value,unit,source\nwater_supply,2019,360000,2.1,元/m3,水利局 2019\n".encode()
PRICES_V2 = PRICES_V1.replace(b"2.1", b"2.4")

# username → (role, department)
DEPT_USERS = {"water-sub": ("submitter", "水利局"), "water-rev": ("reviewer", "水利局"),
              "forest-rev": ("reviewer", "林业局"), "eco-rev": ("reviewer", "生态环境局")}


def _add_dept_users(factory: sessionmaker[Session]) -> None:
    for name, (role, dept) in DEPT_USERS.items():
        scope = (["360000"], ["products"]) if role == "submitter" else ([], [])
        accounts.create_user(factory, name, PASSWORD, role, regions=scope[0], forms=scope[1], department=dept)


def _upload(client: TestClient, headers: dict[str, str], entry_id: int, body: bytes, name: str = "prices.csv") -> dict:
    r = client.post(f"/api/catalog/{entry_id}/versions", headers=headers, files={"file": (name, body, "text/csv")})
    assert r.status_code == 201, r.text
    return r.json()


def test_unapproved_version_is_never_served_to_other_departments_or_the_public(
        client: TestClient, auth: Callable[[str], dict[str, str]], factory: sessionmaker[Session]) -> None:
    _add_dept_users(factory)
    sub, rev, forest, eco = (auth(u) for u in ("water-sub", "water-rev", "forest-rev", "eco-rev"))
    acc, viewer = auth("accountant"), auth("viewer")
    assert client.get("/api/auth/me", headers=sub).json()["department"] == "水利局"
    r = client.post("/api/catalog", headers=sub, json={
        "kind": "prices", "title_zh": "水资源价格 2019", "title_en": "Water prices 2019", "region": "360000",
        "year": 2019, "unit": "元/m3", "source": "省水利厅 2019 年水价文件", "licence": "政府信息公开",
        "visibility": "departments", "departments": ["林业局"]})
    assert r.status_code == 201, r.text
    entry = r.json()
    assert entry["department"] == "水利局" and entry["versions"] == []
    eid = entry["id"]
    v1 = _upload(client, sub, eid, PRICES_V1)["versions"][-1]
    assert (v1["version"], v1["status"], v1["sha256"]) == (1, "draft", hashlib.sha256(PRICES_V1).hexdigest())

    file1 = f"/api/catalog/{eid}/versions/1/file"
    # draft: the holding department reads it; another department, an accountant, a viewer and the public do not
    assert client.get(file1, headers=rev).content == PRICES_V1
    for who in (forest, eco, acc, viewer, {}):
        assert client.get(file1, headers=who).status_code == 404
        assert client.get(f"/api/catalog/{eid}/versions/1/download", headers=who).status_code == 404
        assert client.get(f"/api/catalog/{eid}", headers=who).status_code == 404
        assert eid not in [e["id"] for e in client.get("/api/catalog", headers=who).json()]
    nf = client.get(file1, headers=forest).json()
    assert nf["message_zh"] and nf["message_en"]

    # four-eyes: the uploader cannot approve; another department's reviewer cannot see it to approve
    assert client.post(f"/api/catalog/{eid}/versions/1/approve", headers=sub).status_code == 403
    assert client.post(f"/api/catalog/{eid}/versions/1/approve", headers=forest).status_code == 404
    r = client.post(f"/api/catalog/{eid}/versions/1/approve", headers=rev)
    assert r.status_code == 200 and r.json()["versions"][0]["approved_by"] == "water-rev"
    assert client.post(f"/api/catalog/{eid}/versions/1/approve", headers=rev).status_code == 409

    # approved v1 is shared with 林业局 (and accountants), not with 生态环境局 nor the public
    assert client.get(file1, headers=forest).content == PRICES_V1
    assert client.get(file1, headers=acc).headers["x-content-sha256"] == v1["sha256"]
    for who in (eco, viewer, {}):
        assert client.get(file1, headers=who).status_code == 404

    # a second version is a draft: others still get v1 only, never v2
    _upload(client, sub, eid, PRICES_V2)
    seen = client.get(f"/api/catalog/{eid}", headers=forest).json()
    assert [v["version"] for v in seen["versions"]] == [1] and seen["latest_approved"] == 1
    assert client.get(f"/api/catalog/{eid}/versions/2/file", headers=forest).status_code == 404
    own = client.get(f"/api/catalog/{eid}", headers=rev).json()
    assert [(v["version"], v["status"]) for v in own["versions"]] == [(1, "approved"), (2, "draft")]
    assert [v["sha256"] for v in own["versions"]] == [hashlib.sha256(b).hexdigest() for b in (PRICES_V1, PRICES_V2)]

    # made public: the public reads approved v1 with its metadata, never the draft v2
    assert client.patch(f"/api/catalog/{eid}", headers=forest, json={"visibility": "public"}).status_code == 403
    assert client.patch(f"/api/catalog/{eid}", headers=sub, json={"visibility": "public"}).json()["visibility"] == "public"
    assert client.get(file1).content == PRICES_V1
    assert client.get(f"/api/catalog/{eid}/versions/2/file").status_code == 404
    assert [v["version"] for v in client.get(f"/api/catalog/{eid}").json()["versions"]] == [1]
    z = zipfile.ZipFile(io.BytesIO(client.get(f"/api/catalog/{eid}/versions/1/download").content))
    meta = json.loads(z.read("metadata.json"))
    assert z.read("prices.csv") == PRICES_V1
    assert (meta["title_zh"], meta["department"], meta["licence"], meta["source"]) == \
        ("水资源价格 2019", "水利局", "政府信息公开", "省水利厅 2019 年水价文件")
    assert meta["version"]["sha256"] == v1["sha256"] and [h["version"] for h in meta["history"]] == [1]

    # every step is in the audit log
    actions = [a["action"] for a in client.get("/api/audit", headers=auth("admin")).json()]
    for a in ("catalog.create", "catalog.upload", "catalog.approve", "catalog.update"):
        assert a in actions


def test_catalogue_refuses_bad_entries_and_files(client: TestClient, auth: Callable[[str], dict[str, str]],
                                                 factory: sessionmaker[Session]) -> None:
    _add_dept_users(factory)
    sub = auth("water-sub")
    assert client.post("/api/catalog", headers=auth("submitter"),  # no department: cannot hold data
                       json={"kind": "prices", "title_zh": "x", "title_en": "x"}).status_code == 403
    r = client.post("/api/catalog", headers=sub, json={"kind": "raster", "variable": "rain", "title_zh": "x",
                                                       "title_en": "x"})
    assert r.status_code == 422 and "precip" in r.json()["fix"] and r.json()["message_zh"]
    assert client.post("/api/catalog", headers=auth("viewer"),
                       json={"kind": "prices", "title_zh": "x", "title_en": "x"}).status_code == 403
    eid = client.post("/api/catalog", headers=sub, json={"kind": "raster", "variable": "precip", "title_zh": "降水",
                                                         "title_en": "Precipitation"}).json()["id"]
    r = client.post(f"/api/catalog/{eid}/versions", headers=sub, files={"file": ("p.csv", b"a,b\n", "text/csv")})
    assert r.status_code == 422 and ".tif" in r.json()["message_en"]
    r = client.post(f"/api/catalog/{eid}/versions", headers=sub, files={"file": ("p.tif", b"not a tiff", "image/tiff")})
    assert r.status_code in (413, 422) and r.json()["message_zh"]
    assert client.get(f"/api/catalog/{eid}", headers=sub).json()["versions"] == []  # nothing kept


def test_base_configuration_files_are_entries(client: TestClient, auth: Callable[[str], dict[str, str]]) -> None:
    adm = auth("admin")
    assert client.post("/api/catalog/bases/example:jiangxi-2019", headers=auth("accountant")).status_code == 403
    added = client.post("/api/catalog/bases/example:jiangxi-2019", headers=adm).json()
    assert len(added) == 13
    assert client.post("/api/catalog/bases/example:jiangxi-2019", headers=adm).json() == []  # idempotent
    rasters = client.get("/api/catalog", params={"kind": "raster", "year": 2019}).json()  # public: anonymous
    assert {e["variable"] for e in rasters} == {"lulc", "ndvi", "dem", "precip", "aet"}
    precip = client.get("/api/catalog", params={"q": "precip 2019"}).json()
    assert [e["key"] for e in precip] == ["base:example:jiangxi-2019:raster:precip:2019"]
    e = precip[0]
    assert e["resolution"] == "0.05 × 0.05 °" and e["crs"] and e["region"] == "360000" and e["unit"] == "mm"
    assert "README" in e["licence"] and e["versions"][0]["status"] == "approved"
    body = client.get(f"/api/catalog/{e['id']}/versions/1/file").content
    assert hashlib.sha256(body).hexdigest() == e["versions"][0]["sha256"]
    assert client.get("/api/catalog", params={"region": "360100", "kind": "boundaries"}).json()  # a city in Jiangxi
    assert client.get("/api/catalog", params={"region": "110000"}).json() == []  # Beijing: nothing


def test_an_approved_form_becomes_a_catalogue_version(client: TestClient, auth: Callable[[str], dict[str, str]],
                                                      factory: sessionmaker[Session]) -> None:
    _add_dept_users(factory)
    sub, rev = auth("water-sub"), auth("water-rev")
    body = fill_products([["360102", "东湖区", 2019, "rice", 0.9, "万t", "county survey"]])
    r = client.post("/api/submissions", headers=sub, data={"group": "products", "year": "2019"},
                    files={"file": ("products-2019.xlsx", body, XLSX)})
    sid = r.json()["id"]
    assert client.post(f"/api/submissions/{sid}/versions/1/submit", headers=sub).status_code == 200
    assert client.get("/api/catalog", params={"kind": "submission"}, headers=auth("accountant")).json() == []
    assert client.post(f"/api/submissions/{sid}/versions/1/approve", headers=rev).status_code == 200
    [entry] = client.get("/api/catalog", params={"kind": "submission"}, headers=auth("accountant")).json()
    assert entry["department"] == "水利局" and entry["year"] == 2019 and entry["visibility"] == "departments"
    assert entry["versions"][0]["sha256"] == hashlib.sha256(body).hexdigest()
    assert entry["versions"][0]["approved_by"] == "water-rev"
    assert client.get("/api/catalog", params={"kind": "submission"}).json() == []  # not public
    assert client.get(f"/api/catalog/{entry['id']}/versions/1/file", headers=auth("forest-rev")).status_code == 404


def test_cli_registers_a_base_once(store_url: str, factory: sessionmaker[Session]) -> None:
    from typer.testing import CliRunner

    from qingshan.cli import app
    from qingshan.platform import catalog

    runner = CliRunner()
    first = runner.invoke(app, ["catalog", "register-base", "example:jiangxi-2019", "--store", store_url])
    assert first.exit_code == 0 and "13 version(s) added" in first.output, first.output
    again = runner.invoke(app, ["catalog", "register-base", "example:jiangxi-2019", "--store", store_url])
    assert again.exit_code == 0 and "0 version(s) added" in again.output
    assert len(catalog.list_entries(factory, None)) == 13
    bad = runner.invoke(app, ["catalog", "register-base", "nowhere.toml", "--store", store_url])
    assert bad.exit_code == 2 and "找不到配置文件" in bad.output and "Traceback" not in bad.output


def test_cookie_sessions_need_the_origin_check_bearer_tokens_do_not(client: TestClient,
                                                                    factory: sessionmaker[Session]) -> None:
    """CSRF: a cross-site cookie request to the catalogue is refused; the same with the site's origin passes."""
    _add_dept_users(factory)
    assert client.post("/api/auth/login", json={"username": "water-sub", "password": PASSWORD}).status_code == 200
    body = {"kind": "prices", "title_zh": "价格", "title_en": "Prices"}
    r = client.post("/api/catalog", json=body, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and r.json()["error"] == "csrf_rejected"
    assert client.post("/api/catalog", json=body, headers={"Origin": "http://testserver"}).status_code == 201
