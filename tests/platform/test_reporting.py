"""The reporting system (统计报表制度): tasks, progress read from the submissions, reminders (催报)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

from fastapi.testclient import TestClient
from platform_support import fill_products
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from qingshan.platform import reporting
from qingshan.store.platform_models import AuditEntry, ReportingReminder

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
UNITS = ["360102", "360111", "360121"]  # Nanchang's 东湖区, 青山湖区, 南昌县


def _task(client: TestClient, headers: dict[str, str], **over: object) -> dict:
    body = {"form_no": "赣生核1表", "group": "products", "year": 2019, "title_zh": "2019 年生态产品产量",
            "title_en": "Ecological products 2019", "deadline": "2020-03-31", "regions": UNITS, **over}
    r = client.post("/api/reporting/tasks", headers=headers, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def _upload_and_submit(client: TestClient, sub: dict[str, str], codes: list[str]) -> tuple[int, int]:
    names = {"360102": "东湖区", "360111": "青山湖区"}
    body = fill_products([[c, names[c], 2019, "rice", 1.5, "万t", "county survey"] for c in codes])
    r = client.post("/api/submissions", headers=sub, data={"group": "products", "year": "2019"},
                    files={"file": ("products-2019.xlsx", body, XLSX)})
    assert r.status_code == 201, r.text
    sid, ver = r.json()["id"], r.json()["latest_version"]
    assert client.post(f"/api/submissions/{sid}/versions/{ver}/submit", headers=sub).status_code == 200
    return sid, ver


def _units(client: TestClient, headers: dict[str, str], task_id: int) -> dict[str, dict]:
    r = client.get(f"/api/reporting/tasks/{task_id}", headers=headers)
    assert r.status_code == 200, r.text
    return {u["region_code"]: u for u in r.json()["units"]}


def test_progress_shows_who_has_not_reported_and_a_reminder_is_recorded(
        client: TestClient, auth: Callable[[str], dict[str, str]], factory: sessionmaker[Session]) -> None:
    acc, sub, rev = auth("accountant"), auth("submitter"), auth("reviewer")
    task = _task(client, acc)
    assert task["counts"] is None or task["counts"]["total"] == 3

    units = _units(client, acc, task["id"])
    assert {c: u["status"] for c, u in units.items()} == dict.fromkeys(UNITS, "missing")
    assert units["360102"]["responsible"] == ["submitter"]  # the submitter's scope is Nanchang (360100)
    assert all(u["overdue"] for u in units.values())  # the 2020 deadline has passed

    sid, ver = _upload_and_submit(client, sub, ["360102"])
    units = _units(client, acc, task["id"])
    assert units["360102"]["status"] == "submitted" and units["360102"]["reported_by"] == "submitter"
    assert not units["360102"]["overdue"]
    assert [units[c]["status"] for c in ("360111", "360121")] == ["missing", "missing"]

    # 催报: every unit that has not submitted; the one that has is skipped
    r = client.post(f"/api/reporting/tasks/{task['id']}/remind", headers=rev, json={"message": "请于本周内填报"})
    assert r.status_code == 200, r.text
    assert sorted(s["region_code"] for s in r.json()["sent"]) == ["360111", "360121"]
    assert [s["region_code"] for s in r.json()["skipped"]] == []  # default: only units not reported
    with factory() as s:
        rows = list(s.scalars(select(ReportingReminder)))
        assert sorted(x.region_code for x in rows) == ["360111", "360121"]
        assert {x.sent_by for x in rows} == {"reviewer"}
        audit = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "reporting.remind")))
        assert len(audit) == 1 and audit[0].details["sent"] == ["360111", "360121"]
    units = _units(client, acc, task["id"])
    assert (units["360111"]["reminders"], units["360102"]["reminders"]) == (1, 0)

    # the submitter sees the reminder for their region, with the unit's current status
    mine = client.get("/api/reporting/reminders", headers=sub).json()
    assert sorted((m["region_code"], m["status_now"], m["message"]) for m in mine) == [
        ("360111", "missing", "请于本周内填报"), ("360121", "missing", "请于本周内填报")]

    # naming a unit that has submitted: skipped, not reminded
    r = client.post(f"/api/reporting/tasks/{task['id']}/remind", headers=rev, json={"regions": ["360102"]})
    assert r.json()["sent"] == [] and r.json()["skipped"] == [{"region_code": "360102", "status": "submitted"}]

    # approval is reflected; a later draft correction does not hide the approved data
    assert client.post(f"/api/submissions/{sid}/versions/{ver}/approve", headers=rev, json={}).status_code == 200
    _upload_draft = fill_products([["360102", "东湖区", 2019, "rice", 1.6, "万t", "county survey"]])
    client.post("/api/submissions", headers=sub, data={"group": "products", "year": "2019"},
                files={"file": ("products-2019.xlsx", _upload_draft, XLSX)})
    assert _units(client, acc, task["id"])["360102"]["status"] == "approved"


def test_roles_and_scope(client: TestClient, auth: Callable[[str], dict[str, str]]) -> None:
    acc, sub, rev, viewer = auth("accountant"), auth("submitter"), auth("reviewer"), auth("viewer")
    r = client.post("/api/reporting/tasks", headers=sub, json={
        "form_no": "x", "group": "products", "year": 2019, "title_zh": "x", "deadline": "2020-03-31",
        "regions": UNITS})
    assert r.status_code == 403 and r.json()["message_zh"]
    task = _task(client, acc, regions=[*UNITS, "360200"])  # + Jingdezhen, outside the submitter's scope
    assert client.get("/api/reporting/tasks", headers=viewer).status_code == 403
    assert client.get("/api/reporting/tasks").status_code == 401
    # the submitter sees only their units
    assert set(_units(client, sub, task["id"])) == set(UNITS)
    assert set(_units(client, rev, task["id"])) == {*UNITS, "360200"}
    # a submitter cannot send reminders; a task of a group not assigned to them is invisible
    assert client.post(f"/api/reporting/tasks/{task['id']}/remind", headers=sub).status_code == 403
    other = _task(client, acc, group="water")
    assert client.get(f"/api/reporting/tasks/{other['id']}", headers=sub).status_code == 404
    assert other["id"] not in [t["id"] for t in client.get("/api/reporting/tasks", headers=sub).json()]


def test_bad_tasks_are_refused_in_both_languages(client: TestClient, auth: Callable[[str], dict[str, str]]) -> None:
    acc = auth("accountant")
    base = {"form_no": "赣生核1表", "group": "products", "year": 2019, "title_zh": "t", "deadline": "2020-03-31",
            "regions": UNITS}
    for over, field in (({"regions": ["369999"]}, "regions"), ({"group": "nope"}, "group"),
                        ({"group": "rasters"}, "group"), ({"form_no": "   "}, "form_no")):
        r = client.post("/api/reporting/tasks", headers=acc, json={**base, **over})
        assert r.status_code in (404, 422), (over, r.text)
        body = r.json()
        assert body["message_en"] and body["message_zh"] and "Traceback" not in r.text, over
        if "field" in body:
            assert body["field"] in (field, None), body
    r = client.post("/api/reporting/tasks", headers=acc, json={**base, "deadline": "31/03/2020"})
    assert r.status_code == 422


def test_closed_task_takes_no_reminders_and_closing_twice_conflicts(
        client: TestClient, auth: Callable[[str], dict[str, str]]) -> None:
    acc = auth("accountant")
    task = _task(client, acc)
    assert client.post(f"/api/reporting/tasks/{task['id']}/close", headers=acc).json()["status"] == "closed"
    assert client.post(f"/api/reporting/tasks/{task['id']}/close", headers=acc).status_code == 409
    r = client.post(f"/api/reporting/tasks/{task['id']}/remind", headers=acc)
    assert r.status_code == 409 and "已关闭" in r.json()["message_zh"]


def test_progress_csv_and_deadline_is_end_of_day_in_beijing(
        client: TestClient, auth: Callable[[str], dict[str, str]], factory: sessionmaker[Session]) -> None:
    acc = auth("accountant")
    task = _task(client, acc, deadline="2030-06-30")
    assert reporting.deadline_utc(date(2030, 6, 30)) == datetime(2030, 6, 30, 15, 59, 59, tzinfo=UTC)
    assert not any(u["overdue"] for u in _units(client, acc, task["id"]).values())
    late = reporting.progress(factory, _principal(factory, "accountant"), task["id"],
                              now=datetime(2030, 6, 30, 16, 0, tzinfo=UTC))
    assert all(u["overdue"] for u in late["units"]) and late["counts"]["overdue"] == 3
    r = client.get(f"/api/reporting/tasks/{task['id']}/progress.csv", headers=acc)
    assert r.status_code == 200 and r.text.startswith("\ufeffregion_code,status")
    assert r.text.count("missing") == 3


def _principal(factory: sessionmaker[Session], username: str) -> reporting.Principal:
    from qingshan.platform.accounts import Principal
    from qingshan.store.platform_models import User

    with factory() as s:
        user = s.scalars(select(User).where(User.username == username)).one()
        return Principal.of(user)
