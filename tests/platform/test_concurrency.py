"""Atomic workflow: of N concurrent state transitions exactly one wins (issue 8, build item 1).

Finding reproduced: 20 simultaneous approve/reject calls on one submitted version gave 7 approvals
and 8 rejections, all answered 200, and a locked approval was overwritten (the status was read,
checked and written without a lock). Now every transition is one conditional UPDATE: 50 threads
race, one wins, 49 get a :class:`StateError` (HTTP 409), and the audit log holds one entry.
Each test runs on SQLite and on PostgreSQL (``postgres`` marker; a real server from pg_harness).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from platform_support import PASSWORD, fill_products
from sqlalchemy.orm import Session, sessionmaker

from qingshan.api.app import create_app
from qingshan.api.settings import Settings
from qingshan.platform import accounts, jobs, submissions
from qingshan.platform.accounts import Principal
from qingshan.platform.audit import Actor
from qingshan.platform.errors import StateError
from qingshan.store import repo
from qingshan.store.db import open_store
from qingshan.store.platform_models import AuditEntry, Job, RunPublication, SubmissionVersion

Factory = sessionmaker[Session]
N = 50  # concurrent callers


@pytest.fixture
def db_url(backend_url: str) -> str:
    """A migrated store of each backend with the platform test accounts (``backend_url``, conftest)."""
    return backend_url


@pytest.fixture
def factory(db_url: str) -> Factory:
    return open_store(db_url)


def _principal(factory: Factory, name: str) -> Principal:
    return accounts.authenticate(factory, name, PASSWORD)


def race(calls: list[Callable[[], Any]]) -> tuple[list[Any], list[BaseException]]:
    """Run ``calls`` in as many threads, released together; (results, exceptions)."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            out = call()
        except BaseException as exc:  # collected and asserted on
            with lock:
                errors.append(exc)
        else:
            with lock:
                results.append(out)

    threads = [threading.Thread(target=worker, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a caller hung"
    return results, errors


def _audit(factory: Factory, *actions: str) -> list[AuditEntry]:
    with factory() as s:
        return list(s.scalars(sa.select(AuditEntry).where(AuditEntry.action.in_(actions))))


def _submitted(factory: Factory) -> int:
    sub = _principal(factory, "submitter")
    d = submissions.upload_form(factory, sub, "products", 2019, "a.xlsx",
                                fill_products([["360102", None, 2019, "rice", 0.9, "万t", "survey"]]))
    submissions.submit(factory, sub, d["id"], 1)
    return int(d["id"])


def test_concurrent_reviews_one_winner(factory: Factory) -> None:
    sid = _submitted(factory)
    rev, acc = _principal(factory, "reviewer"), _principal(factory, "accountant")
    calls = [(lambda i=i: submissions.review(factory, rev if i % 2 else acc, sid, 1, approve=i % 2 == 0,
                                              comment=f"call {i}"))
             for i in range(N)]
    results, errors = race(calls)
    assert len(results) == 1, [str(e) for e in errors if not isinstance(e, StateError)]
    assert len(errors) == N - 1 and all(isinstance(e, StateError) for e in errors), errors
    final = results[0]["versions"][0]
    # the stored state is the winner's, and exactly one review is in the audit log
    with factory() as s:
        v = s.scalars(sa.select(SubmissionVersion).where(SubmissionVersion.submission_id == sid)).one()
        assert (v.status, v.reviewed_by, v.review_comment) == (final["status"], final["reviewed_by"],
                                                                final["review_comment"])
    reviews = _audit(factory, "submission.approve", "submission.reject")
    assert len(reviews) == 1 and reviews[0].details["to"] == v.status


def test_approved_version_stays_locked_under_concurrent_rejects(factory: Factory) -> None:
    sid = _submitted(factory)
    rev = _principal(factory, "reviewer")
    submissions.review(factory, rev, sid, 1, approve=True, comment="ok")
    results, errors = race([lambda: submissions.review(factory, rev, sid, 1, approve=False)] * 10)
    assert not results and len(errors) == 10
    assert all(isinstance(e, StateError) and "locked" in e.en and "锁定" in e.zh for e in errors)
    with factory() as s:
        assert s.scalar(sa.select(SubmissionVersion.status)) == "approved"
    assert len(_audit(factory, "submission.approve", "submission.reject")) == 1


def test_concurrent_submits_one_winner(factory: Factory) -> None:
    sub = _principal(factory, "submitter")
    d = submissions.upload_form(factory, sub, "products", 2019, "a.xlsx",
                                fill_products([["360102", None, 2019, "rice", 0.9, "万t", "survey"]]))
    results, errors = race([lambda: submissions.submit(factory, sub, d["id"], 1)] * N)
    assert len(results) == 1 and len(errors) == N - 1 and all(isinstance(e, StateError) for e in errors)
    assert len(_audit(factory, "submission.submit")) == 1


def _succeeded_run(factory: Factory, run_id: str, *, requested_by: str | None = None,
                   provenance: dict[str, Any] | None = None) -> None:
    """A succeeded run with no results (publication needs only its status), optionally from a job."""
    repo.start_run(factory, run_id=run_id, name="race", profile="p", years=[2019], base_year=None, config={},
                   code_version="t")
    repo.finish_run_succeeded(factory, run_id, results=pd.DataFrame(columns=repo.RESULT_COLUMNS), regions=[],
                              provenance=provenance or {}, output_dir=None, content_hash="0" * 64)
    if requested_by is not None:
        with factory.begin() as s:
            job = Job(id=f"job-{run_id}", kind="account", status="succeeded", params={}, requested_by=requested_by,
                      progress=1.0, step="done", run_id=run_id, created_at=pd.Timestamp.now(tz="UTC"))
            s.add(job)
            s.flush()
            s.add(RunPublication(run_id=run_id, state="draft", job_id=job.id))


@pytest.mark.parametrize("with_row", [True, False], ids=["job-run", "cli-run"])
def test_concurrent_run_approvals_one_winner(factory: Factory, with_row: bool) -> None:
    _succeeded_run(factory, "r1", requested_by="accountant" if with_row else None)
    results, errors = race([lambda i=i: jobs.set_publication(factory, Actor(f"approver{i}", "accountant"), "r1",
                                                             "approve") for i in range(N)])
    assert len(results) == 1 and len(errors) == N - 1, [e for e in errors if not isinstance(e, StateError)]
    assert all(isinstance(e, StateError) for e in errors)
    pub = jobs.publication_of(factory, "r1")
    assert pub is not None and pub["state"] == "approved" and pub["approved_by"] == results[0]["approved_by"]
    assert len(_audit(factory, "run.approve")) == 1


def test_concurrent_publish_and_withdraw(factory: Factory) -> None:
    _succeeded_run(factory, "r2")
    a = Actor("admin", "admin")
    jobs.set_publication(factory, a, "r2", "approve")
    results, errors = race([lambda: jobs.set_publication(factory, a, "r2", "publish")] * N)
    assert len(results) == 1 and all(isinstance(e, StateError) for e in errors) and len(errors) == N - 1
    results, errors = race([lambda: jobs.set_publication(factory, a, "r2", "withdraw")] * N)
    assert len(results) == 1 and all(isinstance(e, StateError) for e in errors) and len(errors) == N - 1
    assert jobs.publication_of(factory, "r2")["state"] == "approved"  # type: ignore[index]
    assert [len(_audit(factory, f"run.{x}")) for x in ("approve", "publish", "withdraw")] == [1, 1, 1]


def test_concurrent_api_reviews_get_409(db_url: str) -> None:
    """The same race through the HTTP API: one 200, the others 409 with a bilingual message."""
    factory = open_store(db_url)
    sid = _submitted(factory)
    with TestClient(create_app(Settings(store_url=db_url))) as client:
        tokens = []
        for name in ("reviewer", "accountant"):
            r = client.post("/api/auth/login", json={"username": name, "password": PASSWORD})
            tokens.append({"Authorization": f"Bearer {r.json()['token']}"})
        client.cookies.clear()
        calls = [(lambda i=i: client.post(f"/api/submissions/{sid}/versions/1/{'approve' if i % 2 else 'reject'}",
                                          headers=tokens[i % 2])) for i in range(N)]
        results, errors = race(calls)
    assert not errors, errors
    codes = sorted(r.status_code for r in results)
    assert codes == [200] + [409] * (N - 1), codes
    conflict = next(r.json() for r in results if r.status_code == 409)
    assert conflict["error"] == "invalid_state" and conflict["message_zh"] and conflict["message_en"]
    assert len(_audit(factory, "submission.approve", "submission.reject")) == 1


def test_concurrent_claims_one_worker_per_job(factory: Factory) -> None:
    """Job claim (a conditional UPDATE already): 50 workers, 3 queued jobs → each job claimed once."""
    with factory.begin() as s:
        for i in range(3):
            s.add(Job(id=f"j{i}", kind="account", status="queued", params={}, requested_by="accountant",
                      progress=0.0, step="queued", created_at=pd.Timestamp.now(tz="UTC") + pd.Timedelta(seconds=i)))
    results, errors = race([lambda i=i: jobs.claim_next(factory, f"host:{i}") for i in range(N)])
    assert not errors, errors
    claimed = [r for r in results if r is not None]
    assert sorted(claimed) == ["j0", "j1", "j2"]
    assert sorted(e.object_id or "" for e in _audit(factory, "job.start")) == ["j0", "j1", "j2"]
