"""The audit-log viewer's API: filters by actor, action (exact or prefix), object and time; CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient


def _make_users(client: TestClient, admin: dict[str, str]) -> None:
    for name in ("dept-water", "dept-forest"):
        r = client.post("/api/users", headers=admin, json={"username": name, "password": "long enough pass 1",
                                                           "role": "submitter", "regions": ["360100"],
                                                           "forms": ["water"]})
        assert r.status_code == 201, r.text


def test_filters_and_prefix(client: TestClient, auth: Callable[[str], dict[str, str]]) -> None:
    admin = auth("admin")
    _make_users(client, admin)
    uid = client.get("/api/users", headers=admin).json()
    forest = next(u["id"] for u in uid if u["username"] == "dept-forest")
    assert client.patch(f"/api/users/{forest}", headers=admin, json={"active": False}).status_code == 200

    created = client.get("/api/audit", headers=admin, params={"action": "user.create"}).json()
    assert {e["details"].get("username") for e in created} >= {"dept-water", "dept-forest"}
    users = client.get("/api/audit", headers=admin, params={"action": "user.*", "actor": "admin"}).json()
    assert {e["action"] for e in users} == {"user.create", "user.update"}
    assert all(e["actor"] == "admin" for e in users)
    one = client.get("/api/audit", headers=admin, params={"object_type": "user", "object_id": str(forest),
                                                          "action": "user.update"}).json()
    assert len(one) == 1 and one[0]["details"]["active"] is False

    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert client.get("/api/audit", headers=admin, params={"since": future}).json() == []
    assert client.get("/api/audit", headers=admin, params={"until": "2000-01-01T00:00:00"}).json() == []
    assert client.get("/api/audit", headers=admin, params={"until": future, "action": "user.*"}).json() == \
        client.get("/api/audit", headers=admin, params={"action": "user.*"}).json()
    # a literal % or _ in the prefix is not a wildcard
    assert client.get("/api/audit", headers=admin, params={"action": "%.*"}).json() == []


def test_csv_export(client: TestClient, auth: Callable[[str], dict[str, str]]) -> None:
    admin = auth("admin")
    _make_users(client, admin)
    r = client.get("/api/audit/export.csv", headers=admin, params={"action": "user.create"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert {row["action"] for row in rows} == {"user.create"}
    assert {"dept-water", "dept-forest"} <= {row["details"].split('"username": "')[1].split('"')[0] for row in rows}
    assert client.get("/api/audit/export.csv", headers=auth("submitter")).status_code == 403
    assert client.get("/api/audit/export.csv").status_code == 401
    bad = client.get("/api/audit", headers=admin, params={"since": "yesterday"})
    assert bad.status_code == 422 and bad.json()["message_zh"]
