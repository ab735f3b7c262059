"""Multi-level review (county → city → province) configured on a reporting task (issue 12 item 4)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from fastapi.testclient import TestClient
from platform_support import PASSWORD, fill_products
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from qingshan.platform import accounts, auth, submissions
from qingshan.store.platform_models import AuditEntry, LevelApproval

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _setup(client: TestClient, auth_: Callable[[str], dict[str, str]], factory: sessionmaker[Session],
           levels: list[str]) -> tuple[int, int]:
    for name, regions in (("rev-nanchang", ["360100"]), ("rev-nanchang-2", ["360100"]),
                          ("rev-jiangxi", ["360000"])):
        accounts.create_user(factory, name, PASSWORD, "reviewer", regions=regions)
    r = client.post("/api/reporting/tasks", headers=auth_("accountant"), json={
        "form_no": "赣生核1表", "group": "products", "year": 2019, "title_zh": "产量", "deadline": "2030-03-31",
        "regions": ["360102", "360111"], "review_levels": levels})
    assert r.status_code == 201, r.text
    assert r.json()["review_levels"] == levels
    sub = auth_("submitter")
    r = client.post("/api/submissions", headers=sub, data={"group": "products", "year": "2019"},
                    files={"file": ("p.xlsx", fill_products([["360102", "东湖区", 2019, "rice", 1.5, "万t", "s"]]), XLSX)})
    sid = r.json()["id"]
    assert client.post(f"/api/submissions/{sid}/versions/1/submit", headers=sub).status_code == 200
    return sid, 1


def _status(client: TestClient, h: dict[str, str], sid: int) -> str:
    return client.get(f"/api/submissions/{sid}", headers=h).json()["versions"][-1]["status"]


def test_city_then_province(client: TestClient, auth: Callable[[str], dict[str, str]],
                            factory: sessionmaker[Session]) -> None:
    sid, ver = _setup(client, auth, factory, ["city", "province"])
    url = f"/api/submissions/{sid}/versions/{ver}/approve"
    city, city2, province = auth("rev-nanchang"), auth("rev-nanchang-2"), auth("rev-jiangxi")

    r = client.post(url, headers=province, json={})  # the province cannot skip the city level
    assert r.status_code == 403 and "city" in r.json()["message_en"] and "市级" in r.json()["message_zh"]
    r = client.post(url, headers=city, json={"comment": "市级核对无误"})
    assert r.status_code == 200 and r.json()["versions"][-1]["status"] == "submitted"  # still under review
    view = client.get(f"/api/submissions/{sid}/versions/{ver}/review", headers=province).json()
    assert view["review_levels"]["next"] == "province"
    assert [(d["level"], d["reviewer"]) for d in view["review_levels"]["done"]] == [("city", "rev-nanchang")]
    assert client.post(url, headers=city2, json={}).status_code == 403  # city level done: next is the province
    r = client.post(url, headers=province, json={"comment": "省级通过"})
    assert r.status_code == 200 and _status(client, province, sid) == "approved"
    with factory() as s:
        levels = [(a.level, a.reviewer) for a in s.scalars(select(LevelApproval).order_by(LevelApproval.id))]
        audit = [e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.object_type == "submission"))]
    assert levels == [("city", "rev-nanchang"), ("province", "rev-jiangxi")]
    assert audit.count("submission.approve_level") == 2 and audit.count("submission.approve") == 1


def test_one_person_one_level_and_rejection_at_any_level(client: TestClient, auth: Callable[[str], dict[str, str]],
                                                          factory: sessionmaker[Session]) -> None:
    sid, ver = _setup(client, auth, factory, ["city", "province"])
    accounts.update_user(factory, _uid(factory, "rev-nanchang"), actor=None, regions=["360100", "360000"])
    h = auth("rev-nanchang")  # holds both levels, may approve only one of them
    assert client.post(f"/api/submissions/{sid}/versions/{ver}/approve", headers=h, json={}).status_code == 200
    r = client.post(f"/api/submissions/{sid}/versions/{ver}/approve", headers=h, json={})
    assert r.status_code == 403 and "另一人" in r.json()["message_zh"]
    r = client.post(f"/api/submissions/{sid}/versions/{ver}/reject", headers=auth("rev-jiangxi"), json={"comment": "退回"})
    assert r.status_code == 200 and _status(client, h, sid) == "rejected"


def test_concurrent_approvals_of_one_level_record_one(client: TestClient, auth: Callable[[str], dict[str, str]],
                                                      factory: sessionmaker[Session]) -> None:
    sid, ver = _setup(client, auth, factory, ["city", "province"])
    who = [auth_login(factory, n) for n in ("rev-nanchang", "rev-nanchang-2")]
    barrier, out = threading.Barrier(2), []

    def go(p: object) -> None:
        barrier.wait()
        try:
            submissions.review(factory, p, sid, ver, approve=True)  # type: ignore[arg-type]
            out.append("ok")
        except Exception as exc:
            out.append(type(exc).__name__)

    threads = [threading.Thread(target=go, args=(p,)) for p in who]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(out) in (["PermissionDeniedError", "ok"], ["StateError", "ok"]), out
    with factory() as s:
        assert len(list(s.scalars(select(LevelApproval)))) == 1


def test_bad_levels_are_refused(client: TestClient, auth: Callable[[str], dict[str, str]]) -> None:
    body = {"form_no": "x", "group": "products", "year": 2019, "title_zh": "x", "deadline": "2030-03-31",
            "regions": ["360102"]}
    acc = auth("accountant")
    r = client.post("/api/reporting/tasks", headers=acc, json={**body, "review_levels": ["province", "city"]})
    assert r.status_code == 422 and r.json()["message_zh"]
    r = client.post("/api/reporting/tasks", headers=acc, json={**body, "review_levels": ["nation"]})
    assert r.status_code == 422


def _uid(factory: sessionmaker[Session], name: str) -> int:
    return next(u.id for u in accounts.list_users(factory) if u.username == name)


def auth_login(factory: sessionmaker[Session], name: str) -> object:
    return auth.login(factory, name, PASSWORD)[0]
