"""Four-eyes approval of runs and the QC acknowledgement (issue 7, build item 6).

Whoever requested a run (``Job.requested_by``) cannot approve or publish it (403, bilingual); a run
whose provenance carries a quality-control report (``"qc"``) is approved only with
``{"acknowledge_qc": true}`` (else 422, bilingual).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from qingshan.core.errors import InputError
from qingshan.platform import jobs
from qingshan.platform.audit import Actor, list_entries
from qingshan.platform.errors import PermissionDeniedError
from qingshan.store import repo
from qingshan.store.platform_models import Job, RunPublication

Factory = sessionmaker[Session]
QC = {"computed": ["water_conservation"], "excluded": [], "unverified": [], "notices": [], "jumps": [],
      "class_shares": {}, "status": "warnings"}


def make_run(factory: Factory, run_id: str, *, requested_by: str | None, provenance: dict[str, Any]) -> None:
    """A succeeded (empty) run, from a job of ``requested_by`` when given, with a draft publication."""
    repo.start_run(factory, run_id=run_id, name="t", profile="p", years=[2019], base_year=None, config={},
                   code_version="t")
    repo.finish_run_succeeded(factory, run_id, results=pd.DataFrame(columns=repo.RESULT_COLUMNS), regions=[],
                              provenance=provenance, output_dir=None, content_hash="0" * 64)
    if requested_by is not None:
        with factory.begin() as s:
            s.add(Job(id=f"job-{run_id}", kind="account", status="succeeded", params={}, requested_by=requested_by,
                      progress=1.0, step="done", run_id=run_id, created_at=datetime.now(UTC)))
            s.flush()
            s.add(RunPublication(run_id=run_id, state="draft", job_id=f"job-{run_id}"))


def test_requester_cannot_approve_or_publish(factory: Factory) -> None:
    make_run(factory, "r1", requested_by="accountant", provenance={})
    me, other = Actor("accountant", "accountant"), Actor("admin", "admin")
    with pytest.raises(PermissionDeniedError) as exc:
        jobs.set_publication(factory, me, "r1", "approve")
    assert "four-eyes" in exc.value.en and "双人复核" in exc.value.zh and exc.value.fix_zh
    assert jobs.set_publication(factory, other, "r1", "approve")["approved_by"] == "admin"
    with pytest.raises(PermissionDeniedError):
        jobs.set_publication(factory, me, "r1", "publish")
    assert jobs.set_publication(factory, other, "r1", "publish")["state"] == "published"
    assert jobs.set_publication(factory, me, "r1", "withdraw")["state"] == "approved"  # withdrawing is allowed


def test_qc_report_must_be_acknowledged(factory: Factory) -> None:
    make_run(factory, "r2", requested_by="accountant", provenance={"qc": QC})
    admin = Actor("admin", "admin")
    with pytest.raises(InputError) as exc:
        jobs.set_publication(factory, admin, "r2", "approve")
    assert exc.value.field == "acknowledge_qc" and "质量控制" in exc.value.zh and "acknowledge" in exc.value.en
    assert jobs.publication_of(factory, "r2")["state"] == "draft"  # type: ignore[index]
    assert jobs.set_publication(factory, admin, "r2", "approve", acknowledge_qc=True)["state"] == "approved"
    entry = list_entries(factory, action="run.approve", object_id="r2")[0]
    assert entry.details["acknowledge_qc"] is True


def test_old_runs_without_qc_approve_without_a_body(factory: Factory) -> None:
    make_run(factory, "r3", requested_by=None, provenance={"source": "cli"})
    assert jobs.set_publication(factory, Actor("accountant", "accountant"), "r3", "approve")["state"] == "approved"


def test_api_four_eyes_and_acknowledgement(client: TestClient, auth: Callable[[str], dict[str, str]],
                                           factory: Factory) -> None:
    make_run(factory, "r4", requested_by="accountant", provenance={"qc": QC})
    acc, adm = auth("accountant"), auth("admin")
    r = client.post("/api/runs/r4/approve", headers=acc, json={"acknowledge_qc": True})
    assert r.status_code == 403
    body = r.json()
    assert body["error"] == "permission_denied" and "four-eyes" in body["message_en"] and "双人复核" in body["message_zh"]
    r = client.post("/api/runs/r4/approve", headers=adm)
    assert r.status_code == 422 and r.json()["field"] == "acknowledge_qc" and "质量控制报告" in r.json()["message_zh"]
    assert client.post("/api/runs/r4/approve", headers=adm, json={"acknowledge_qc": False}).status_code == 422
    r = client.post("/api/runs/r4/approve", headers=adm, json={"acknowledge_qc": True})
    assert r.status_code == 200 and r.json()["state"] == "approved"
    assert client.post("/api/runs/r4/publish", headers=acc).status_code == 403
    assert client.post("/api/runs/r4/publish", headers=adm).json()["state"] == "published"


def test_demo_loader_publishes_a_run_with_a_qc_report(factory: Factory) -> None:
    """The documented system path: the demo run (no job) is approved and published by the system actor."""
    from qingshan.cli.demo_service import DEMO_ACCOUNTS, load_into_service

    make_run(factory, "demo", requested_by=None, provenance={"qc": QC})
    load_into_service(factory, "demo")
    assert jobs.publication_of(factory, "demo")["state"] == "published"  # type: ignore[index]
    assert [e.actor_role for e in list_entries(factory, object_id="demo")] == ["demo", "demo"]
    from qingshan.platform.accounts import list_users

    assert {a.username for a in DEMO_ACCOUNTS} <= {u.username for u in list_users(factory)}
