"""API tokens for other systems 接口令牌, over the session's published example run: created by an admin only,
stored hashed, scoped, expiring, revocable and audited; a token-holding system downloads the published result
through the API; a revoked or expired token gets a bilingual 401."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from qingshan.platform import accounts
from qingshan.store.db import open_store
from qingshan.store.platform_models import ApiToken

PASSWORD = "correct horse battery"


def fill_products(rows: list[list[object]]) -> bytes:
    """The 2019 products form with ``rows`` from row 3 of its data sheet."""
    import io

    from openpyxl import load_workbook

    from qingshan.platform.forms import build_template, get_group

    wb = load_workbook(io.BytesIO(build_template(get_group("products"), 2019, [("360102", "东湖区")])))
    for i, row in enumerate(rows, start=3):
        for j, v in enumerate(row, start=1):
            wb["data"].cell(row=i, column=j, value=v)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@pytest.fixture(scope="module")
def admin(client: TestClient, example: SimpleNamespace) -> dict[str, str]:
    """Bearer header of an admin (and an accountant, for the refusal) of the example store."""
    factory = open_store(example.store_url)
    names = {u.username for u in accounts.list_users(factory)}
    for name, role in (("token-admin", "admin"), ("token-accountant", "accountant")):
        if name not in names:
            accounts.create_user(factory, name, PASSWORD, role)
    return _login(client, "token-admin")


def _login(client: TestClient, name: str) -> dict[str, str]:
    r = client.post("/api/auth/login", json={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    client.cookies.clear()
    return {"Authorization": f"Bearer {r.json()['token']}"}


def _create(client: TestClient, headers: dict[str, str], **body: object) -> dict:
    r = client.post("/api/tokens", headers=headers, json={"name": "data-hub", "scopes": ["read:results"], **body})
    assert r.status_code == 201, r.text
    return r.json()


def test_a_token_holding_system_downloads_a_published_result(client: TestClient, example: SimpleNamespace,
                                                             admin: dict[str, str]) -> None:
    made = _create(client, admin, name="provincial-hub", regions=["360000"], expires_in_days=30)
    bearer = {"Authorization": f"Bearer {made['token']}"}
    assert made["token"].startswith("qst_") and made["active"] is True

    # the result is a public catalogue entry; the token reads it and downloads results.csv with its SHA-256
    entries = client.get("/api/catalog", params={"kind": "result"}, headers=bearer).json()
    [entry] = [e for e in entries if e["key"] == f"result:{example.run_id}"]
    assert entry["region"] == "360000" and entry["versions"][0]["status"] == "approved"
    r = client.get(f"/api/catalog/{entry['id']}/versions/1/file", headers=bearer)
    assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == r.headers["x-content-sha256"]
    assert r.content == (example.output_dir / "results.csv").read_bytes()
    # and through the runs API: the sealed artifact with its recorded SHA-256
    r = client.get(f"/api/runs/{example.run_id}/artifacts/results.csv", headers=bearer)
    assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == r.headers["x-content-sha256"]

    # scoped: a token for data only, or for another region, does not read the result entry
    other = _create(client, admin, name="beijing-hub", regions=["110000"])["token"]
    data_only = _create(client, admin, name="data-only", scopes=["read:data"])["token"]
    for t in (other, data_only):
        h = {"Authorization": f"Bearer {t}"}
        assert client.get(f"/api/catalog/{entry['id']}/versions/1/file", headers=h).status_code == 404
    # a token is never more than a viewer: no admin or accountant routes
    assert client.get("/api/tokens", headers=bearer).status_code == 403
    assert client.get("/api/jobs", headers=bearer).status_code == 403
    assert client.post("/api/tokens", headers=bearer, json={"name": "x", "scopes": ["read:data"]}).status_code == 403


def test_tokens_are_admin_only_hashed_revocable_expiring_and_audited(client: TestClient, example: SimpleNamespace,
                                                                    admin: dict[str, str]) -> None:
    acc = _login(client, "token-accountant")
    assert client.post("/api/tokens", headers=acc, json={"name": "x", "scopes": ["read:results"]}).status_code == 403
    assert client.post("/api/tokens", json={"name": "x", "scopes": ["read:results"]}).status_code == 401
    r = client.post("/api/tokens", headers=admin, json={"name": "x", "scopes": ["read:results"], "expires_in_days": 999})
    assert r.status_code == 422
    r = client.post("/api/tokens", headers=admin, json={"name": "x", "scopes": ["submit:data"]})  # needs regions, forms
    assert r.status_code == 422 and r.json()["message_zh"]

    made = _create(client, admin, name="city-hub")
    value, bearer = made["token"], {"Authorization": f"Bearer {made['token']}"}
    listed = client.get("/api/tokens", headers=admin).json()
    assert all("token" not in t for t in listed) and made["id"] in [t["id"] for t in listed]
    factory = open_store(example.store_url)
    with factory() as s:  # only the SHA-256 is stored
        row = s.scalars(select(ApiToken).where(ApiToken.id == made["id"])).one()
        assert row.token_sha256 == hashlib.sha256(value.encode()).hexdigest()
        assert value not in str([getattr(row, c.key) for c in ApiToken.__table__.columns])
    url = f"/api/runs/{example.run_id}/artifacts"
    assert client.get(url, headers=bearer).status_code == 200

    # revoked: a bilingual 401 at once, never anonymous access
    assert client.post(f"/api/tokens/{made['id']}/revoke", headers=acc).status_code == 403
    assert client.post(f"/api/tokens/{made['id']}/revoke", headers=admin).json()["active"] is False
    assert client.post(f"/api/tokens/{made['id']}/revoke", headers=admin).status_code == 409
    r = client.get(url, headers=bearer)
    assert r.status_code == 401 and "revoked" in r.json()["message_en"] and "吊销" in r.json()["message_zh"]
    assert client.get("/api/catalog", headers=bearer).status_code == 401

    # expired: the same
    old = _create(client, admin, name="old-hub")
    with factory.begin() as s:
        s.execute(update(ApiToken).where(ApiToken.id == old["id"])
                  .values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    r = client.get(url, headers={"Authorization": f"Bearer {old['token']}"})
    assert r.status_code == 401 and "expired" in r.json()["message_en"] and "过期" in r.json()["message_zh"]
    r = client.get(url, headers={"Authorization": "Bearer qst_not-a-token"})
    assert r.status_code == 401 and r.json()["message_zh"]

    actions = {(a["action"], a["object_id"]) for a in client.get("/api/audit", headers=admin).json()}
    assert {("token.create", str(made["id"])), ("token.revoke", str(made["id"])),
            ("token.refused", str(made["id"])), ("token.refused", str(old["id"]))} <= actions


def test_a_submit_token_uploads_only_for_its_regions(client: TestClient, admin: dict[str, str]) -> None:
    """submit:data makes the token a submitter for its regions and form groups (bearer: no CSRF origin needed)."""
    made = _create(client, admin, name="nanchang-agri", scopes=["submit:data"], regions=["360100"], forms=["products"])
    bearer = {"Authorization": f"Bearer {made['token']}"}
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    inside = fill_products([["360102", "东湖区", 2019, "rice", 0.9, "万t", "county survey"]])
    r = client.post("/api/submissions", headers=bearer, data={"group": "products", "year": "2019"},
                    files={"file": ("p.xlsx", inside, xlsx)})
    assert r.status_code == 201 and r.json()["created_by"] == "token:nanchang-agri" and r.json()["versions"][-1]["n_errors"] == 0
    outside = fill_products([["360402", "濂溪区", 2019, "rice", 0.9, "万t", "county survey"]])
    r = client.post("/api/submissions", headers=bearer, data={"group": "products", "year": "2019"},
                    files={"file": ("p.xlsx", outside, xlsx)})
    assert r.status_code == 201 and r.json()["versions"][-1]["n_errors"] == 1  # 九江 is outside its regions


def test_runs_published_before_the_catalogue_are_synced(example: SimpleNamespace) -> None:
    """`qingshan catalog sync-results` records a published run that has no result entry (e.g. published before 0006)."""
    from sqlalchemy import delete

    from qingshan.platform import catalog
    from qingshan.platform.audit import Actor
    from qingshan.store.platform_models import CatalogEntry

    factory = open_store(example.store_url)
    key = f"result:{example.run_id}"
    with factory.begin() as s:  # as if published before migration 0006
        s.execute(delete(CatalogEntry).where(CatalogEntry.key == key))
    assert catalog.sync_results(factory, Actor(None, "cli")) == [example.run_id]
    assert catalog.sync_results(factory, Actor(None, "cli")) == []
    [entry] = catalog.list_entries(factory, None, kind="result", q=example.run_id)
    assert entry["key"] == key and entry["versions"][0]["status"] == "approved"
