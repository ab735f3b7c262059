"""Requests that race on one object, and file names the server must not trust — an attack pass on the running
service (a real uvicorn on loopback, requests released together by a barrier). Each test is a finding: it
answered 500, or left duplicate records, or an English-only error. The races run on SQLite and on PostgreSQL
(``backend_url``, conftest): ``store.db.one_writer_at_a_time`` takes a different lock
on each.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import numpy as np
import pytest
import rasterio
from affine import Affine
from fastapi.testclient import TestClient
from platform_support import PASSWORD, fill_products
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from helpers_server import served
from qingshan.api.app import create_app
from qingshan.api.settings import Settings
from qingshan.platform import submissions
from qingshan.store.db import open_store
from qingshan.store.platform_models import FormSubmission

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PRICES = "price_key,price_year,region,value,unit,source\nwater_supply,2019,360000,2.1,元/m3,水利局 2019\n".encode()


@pytest.fixture
def race_factory(backend_url: str) -> sessionmaker[Session]:
    return open_store(backend_url)


@pytest.fixture
def server(backend_url: str) -> Iterator[str]:
    """The app over each backend, served by uvicorn on a free loopback port (requests really run at the same
    time)."""
    with served(create_app(Settings(store_url=backend_url))) as url:
        yield url


def _token(base: str, user: str) -> dict[str, str]:
    r = httpx.post(f"{base}/api/auth/login", json={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def _at_once(n: int, call: Callable[[httpx.Client], httpx.Response]) -> list[httpx.Response]:
    """``call`` from ``n`` threads released together; the responses."""
    gate = threading.Barrier(n)
    out: list[Any] = [None] * n

    def one(i: int) -> None:
        with httpx.Client(timeout=60) as c:
            gate.wait()
            out[i] = call(c)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def _bilingual(r: httpx.Response) -> None:
    body = r.json()
    assert body["message_en"] and body["message_zh"] and body["fix"] and body["fix_zh"], body


def test_one_form_uploaded_four_times_at_once_is_one_submission_with_four_versions(
        server: str, race_factory: sessionmaker[Session]) -> None:
    """Found: four first uploads at once made four submissions (the later approval of an old duplicate would win
    in the accounting); four more at once answered one 201 and three 500s (two versions numbered n + 1)."""
    h = _token(server, "submitter")
    body = fill_products([["360102", "东湖区", 2019, "rice", 0.9, "万t", "county survey"]])

    def upload(c: httpx.Client) -> httpx.Response:
        return c.post(f"{server}/api/submissions", headers=h, data={"group": "products", "year": "2019"},
                      files={"file": ("products-2019.xlsx", body, XLSX)})

    for _ in range(2):
        assert [r.status_code for r in _at_once(4, upload)] == [201] * 4
    with race_factory() as s:
        subs = s.scalars(select(FormSubmission).where(FormSubmission.group == "products")).all()
    assert len(subs) == 1
    versions = httpx.get(f"{server}/api/submissions/{subs[0].id}", headers=h).json()["versions"]
    assert [v["version"] for v in versions] == list(range(1, 9))


def test_catalogue_entries_and_versions_created_at_once(server: str) -> None:
    """Found: three entries with one key at once → one 201 and two 500s (IntegrityError); three versions at once →
    500s (two took the same number). Now: one entry and two bilingual 409s; versions 1, 2, 3."""
    h = _token(server, "admin")
    entry = {"kind": "prices", "key": "prices:race", "title_zh": "价格", "title_en": "prices", "department": "水利厅"}
    created = _at_once(3, lambda c: c.post(f"{server}/api/catalog", headers=h, json=entry))
    assert sorted(r.status_code for r in created) == [201, 409, 409]
    for r in created:
        if r.status_code == 409:
            _bilingual(r)
    eid = next(r.json()["id"] for r in created if r.status_code == 201)
    ups = _at_once(3, lambda c: c.post(f"{server}/api/catalog/{eid}/versions", headers=h,
                                       files={"file": ("prices.csv", PRICES, "text/csv")}))
    assert [r.status_code for r in ups] == [201] * 3
    versions = httpx.get(f"{server}/api/catalog/{eid}", headers=h).json()["versions"]
    assert sorted(v["version"] for v in versions) == [1, 2, 3]


def _raster(tmp_path: Path) -> bytes:
    path = tmp_path / "precip.tif"
    with rasterio.open(path, "w", driver="GTiff", height=20, width=20, count=1, dtype="float32", crs="EPSG:4326",
                       transform=Affine(0.05, 0, 115.6, 0, -0.05, 28.9), nodata=-9999.0) as ds:
        ds.write(np.linspace(1300.0, 2000.0, 400, dtype=np.float32).reshape(20, 20), 1)
    return path.read_bytes()


def test_a_chunk_retried_at_once_is_stored_once(server: str, tmp_path: Path) -> None:
    """Found: a client retrying a chunk after a timeout (the same bytes, three times at once) got two 500s; a
    retry with the same bytes is documented as a no-op."""
    h = _token(server, "submitter")
    content = _raster(tmp_path)
    up = httpx.post(f"{server}/api/uploads", headers=h, json={
        "filename": "precip.tif", "size": len(content), "sha256": hashlib.sha256(content).hexdigest(),
        "variable": "precip", "year": 2019}).json()
    chunk = content[: up["chunk_size"]]
    put = _at_once(3, lambda c: c.put(f"{server}/api/uploads/{up['id']}/chunks/0", content=chunk,
                                      headers={**h, "Content-Type": "application/octet-stream"}))
    assert [r.status_code for r in put] == [200] * 3


def test_files_with_chinese_names_download(client: TestClient, auth: Callable[[str], dict[str, str]]) -> None:
    """Found: 江西省产品报表.xlsx and 价格表.csv were stored (201) but every download answered 500 — Starlette could not
    encode the name into the Latin-1 Content-Disposition header. Now RFC 8187's filename* carries it."""
    sub, adm = auth("submitter"), auth("admin")
    body = fill_products([["360102", "东湖区", 2019, "rice", 0.9, "万t", "county survey"]])
    r = client.post("/api/submissions", headers=sub, data={"group": "products", "year": "2019"},
                    files={"file": ("江西省产品报表.xlsx", body, XLSX)})
    assert r.status_code == 201, r.text
    got = client.get(f"/api/submissions/{r.json()['id']}/versions/1/file", headers=sub)
    assert got.status_code == 200 and got.content == body
    cd = got.headers["content-disposition"]
    assert "filename*=UTF-8''%E6%B1%9F%E8%A5%BF" in cd and 'filename="download.xlsx"' in cd
    e = client.post("/api/catalog", headers=adm, json={"kind": "prices", "title_zh": "价格", "title_en": "p",
                                                         "department": "平台"}).json()
    assert client.post(f"/api/catalog/{e['id']}/versions", headers=adm,
                       files={"file": ("..\\..\\价格表.csv", PRICES, "text/csv")}).status_code == 201
    got = client.get(f"/api/catalog/{e['id']}/versions/1/file", headers=adm)
    assert got.status_code == 200 and got.content == PRICES
    assert ".." not in got.headers["content-disposition"] and "%E4%BB%B7" in got.headers["content-disposition"]


@pytest.mark.parametrize("name", ["..", "降" * 100 + ".tif", "a/b/../../precip.tif"])
def test_a_raster_uploaded_under_any_name_is_kept(client: TestClient, auth: Callable[[str], dict[str, str]],
                                                  tmp_path: Path, name: str) -> None:
    """Found: a raster named ``..`` (IsADirectoryError) or with a 300-byte name (ENAMETOOLONG) answered 500: the
    user's name named the temporary copy on the server."""
    r = client.post("/api/submissions/rasters", headers=auth("submitter"), data={"variable": "precip", "year": "2019"},
                    files={"file": (name, _raster(tmp_path), "image/tiff")})
    assert r.status_code == 201, r.text


def test_a_busy_store_is_a_bilingual_503_with_retry_after(client: TestClient, auth: Callable[[str], dict[str, str]],
                                                          monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Found: while another connection held SQLite's write lock past the busy timeout (a large run's rows, a
    backup), every write — and logging in — answered 500."""
    def locked(*_a: object, **_k: object) -> None:
        raise OperationalError("INSERT INTO uploads …", {}, sqlite3.OperationalError("database is locked"))

    sub = auth("submitter")
    monkeypatch.setattr(submissions, "_store_version", locked)
    r = client.post("/api/submissions/rasters", headers=sub, data={"variable": "precip", "year": "2019"},
                    files={"file": ("precip.tif", _raster(tmp_path), "image/tiff")})
    assert r.status_code == 503 and r.headers["retry-after"] == "5", r.text
    _bilingual(r)
    assert r.json()["error"] == "store_busy"


def test_a_broken_uniqueness_rule_is_a_bilingual_409(client: TestClient, auth: Callable[[str], dict[str, str]],
                                                     monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def dup(*_a: object, **_k: object) -> None:
        raise IntegrityError("INSERT …", {}, sqlite3.IntegrityError("UNIQUE constraint failed: x.y"))

    monkeypatch.setattr(submissions, "_store_version", dup)
    r = client.post("/api/submissions/rasters", headers=auth("submitter"), data={"variable": "precip", "year": "2019"},
                    files={"file": ("precip.tif", _raster(tmp_path), "image/tiff")})
    assert r.status_code == 409, r.text
    _bilingual(r)
    assert "UNIQUE" not in r.text  # no database internals


def test_bodies_that_cannot_be_parsed_get_the_bilingual_error(client: TestClient,
                                                              auth: Callable[[str], dict[str, str]]) -> None:
    """Found: invalid UTF-8 in a JSON body and a malformed multipart body answered FastAPI's bare English
    ``{"detail": …}``."""
    h = auth("admin")
    bad_json = client.post("/api/catalog", headers={**h, "Content-Type": "application/json"}, content=b'{"kind": "\xff"}')
    bad_form = client.post("/api/submissions", headers={**h, "Content-Type": "multipart/form-data; boundary=x"},
                           content=b"garbage" * 10)
    unknown = client.get("/api/no-such-thing")
    for r, status in ((bad_json, 400), (bad_form, 400), (unknown, 404)):
        assert r.status_code == status, r.text
        _bilingual(r)
    assert Counter(r.json()["error"] for r in (bad_json, bad_form)) == {"http_error": 2}


def test_commands_publishing_one_run_at_once_all_succeed(race_factory: sessionmaker[Session]) -> None:
    """Found: three `qingshan publish RUN` at once — one won, the others exited 2 ("is 'approved', it must be
    'draft' to approve") although the run ended published; two `qingshan demo` into one store likewise, and one
    failed on "Username 'demo-admin' is taken"."""
    import pandas as pd

    from qingshan.cli.demo_service import load_into_service
    from qingshan.platform import jobs
    from qingshan.platform.audit import Actor
    from qingshan.store import repo

    repo.start_run(race_factory, run_id="r", name="t", profile="p", years=[2019], base_year=None, config={}, code_version="t")
    repo.finish_run_succeeded(race_factory, "r", results=pd.DataFrame(columns=repo.RESULT_COLUMNS), regions=[],
                              provenance={}, output_dir=None, content_hash="0" * 64)
    gate = threading.Barrier(4)
    errors: list[BaseException] = []

    def go(i: int) -> None:
        gate.wait()
        try:
            if i % 2:
                jobs.publish_run(race_factory, Actor(None, "cli"), "r", acknowledge_qc=True)
            else:
                load_into_service(race_factory, "r")
        except BaseException as exc:  # collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert jobs.publication_of(race_factory, "r")["state"] == "published"
