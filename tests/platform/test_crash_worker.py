"""kill -9 of the platform worker in the middle of a job, end to end (issue 8, item 6).

A worker process (``python -m qingshan.cli.platform worker``) claims a job and records its run;
it is killed (SIGKILL) while the run, recorded ``running``, writes its artifacts. The job is then left ``running`` with a dead
holder and the run ``running``. The next worker must repair the run (failed, ``abandoned``, no
temporary or partial folder left), requeue the job — the dead pid of this host — and a second job
whose worker on another host stopped renewing its lease (lease expiry), execute both, and the
resumed job must give the same content hash and result rows as the job never interrupted.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from platform_support import PASSWORD, fill_products
from sqlalchemy.orm import Session, sessionmaker

from qingshan.platform import accounts, auth, jobs, submissions
from qingshan.store import repo
from qingshan.store.artifacts import find_data_dir
from qingshan.store.platform_models import AuditEntry, Job

Factory = sessionmaker[Session]
PROFILE = "jiangxi-db36-2021"
SRC = Path(__file__).parents[2] / "src"


def _principal(factory: Factory, name: str) -> accounts.Principal:
    p, _ = auth.login(factory, name, PASSWORD)
    return p


def _approved(factory: Factory) -> accounts.Principal:
    """One approved products form (Donghu rice, its price); the accountant who may request runs."""
    sub, rev = _principal(factory, "submitter"), _principal(factory, "reviewer")
    d = submissions.upload_form(factory, sub, "products", 2019, "a.xlsx",
                                fill_products([["360102", None, 2019, "rice", 0.9, "万t", "", 2600, "元/t"]]))
    submissions.submit(factory, sub, d["id"], 1)
    submissions.review(factory, rev, d["id"], 1, approve=True)
    return _principal(factory, "accountant")


def _worker(store_url: str, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "qingshan.cli.platform", "worker", "--store", store_url,
            "--output", str(out), "--poll", "0.1", *extra]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}


def _writing(db: Path, data_dir: Path, job_id: str) -> str | None:
    """The run id once the job is ``running``, its run recorded ``running`` and its artifacts being
    written into a temporary folder of the data dir (about the last third of the job)."""
    if not list((data_dir / "runs").glob("*.tmp-*")):
        return None
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.5) as conn:
            job = conn.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
            run = conn.execute("SELECT id FROM runs WHERE status = 'running'").fetchone()
    except sqlite3.Error:  # busy
        return None
    return str(run[0]) if job and job[0] == "running" and run else None


def _kill_while_writing(store_url: str, db: Path, data_dir: Path, job_id: str, out: Path, log: Path) -> str:
    """Start a worker, SIGKILL it while its run writes its artifacts; the run id."""
    with log.open("w") as err:
        proc = subprocess.Popen(_worker(store_url, out), env=_env(), stdout=err, stderr=subprocess.STDOUT)
    run_id = None
    try:
        deadline = time.monotonic() + 300
        while run_id is None and proc.poll() is None and time.monotonic() < deadline:
            run_id = _writing(db, data_dir, job_id)
            if run_id is None:
                time.sleep(0.02)
        assert run_id is not None, f"the run was never seen writing (exit {proc.poll()}): {log.read_text()}"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()  # reaped: its pid no longer exists
    assert proc.returncode == -signal.SIGKILL
    return run_id


def _tmp_left(*folders: Path) -> list[Path]:
    return [p for folder in folders for p in folder.rglob("*") if ".tmp-" in p.name]


def _rows(factory: Factory, run_id: str) -> list[tuple]:
    frame = repo.read_results(factory, run_id)
    frame = frame.drop(columns=[c for c in ("id", "run_id") if c in frame.columns])
    return sorted(frame.astype(str).itertuples(index=False, name=None))


@pytest.mark.slow
def test_worker_killed_mid_job_is_repaired_requeued_and_resumed_identically(store_url: str, factory: Factory,
                                                                             tmp_path: Path) -> None:
    acc = _approved(factory)
    db = Path(store_url.removeprefix("sqlite:///"))
    data_dir = find_data_dir(store_url)
    assert data_dir is not None
    out = tmp_path / "jobs"
    killed = jobs.request_run(factory, acc, profile=PROFILE, years=[2019], base=jobs.EXAMPLE_BASE)

    run_id = _kill_while_writing(store_url, db, data_dir, killed["id"], out, tmp_path / "worker1.log")

    # right after the kill: the job is held by a dead worker, its run still `running`
    job = jobs.get_job(factory, killed["id"])
    assert job["status"] == "running" and job["run_id"] is None
    assert job["worker"].rpartition(":")[2].isdigit()
    assert not jobs._pid_alive(int(job["worker"].rpartition(":")[2]))
    run = repo.get_run(factory, run_id)
    assert run is not None and run.status == "running"
    assert _tmp_left(data_dir)  # the half-written artifacts of the dead worker

    # a second job, claimed by a worker of another host that died: only its lease can tell
    other = jobs.request_run(factory, acc, profile=PROFILE, years=[2019], base=jobs.EXAMPLE_BASE)
    assert jobs.claim_next(factory, "other-host:1") == other["id"]
    with factory.begin() as s:
        s.execute(sa.update(Job).where(Job.id == other["id"])
                  .values(lease_expires_at=datetime.now(UTC) - timedelta(minutes=1)))

    done = subprocess.run(_worker(store_url, out, "--once"), env=_env(), capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "abandoned" in done.stdout and done.stdout.count("requeued") == 2, done.stdout

    # the killed run: failed as abandoned, nothing partial or temporary left
    run = repo.get_run(factory, run_id)
    assert run is not None and run.status == "failed" and run.error is not None
    assert run.error["error"] == "abandoned"
    assert not (data_dir / "runs" / run_id).exists()
    assert _tmp_left(data_dir, out) == []

    # both jobs requeued (audit-logged with the dead worker) and executed to success
    with factory() as s:
        requeues = {e.object_id: (e.details or {}).get("worker")
                    for e in s.scalars(sa.select(AuditEntry).where(AuditEntry.action == "job.requeue"))}
    assert requeues == {killed["id"]: job["worker"], other["id"]: "other-host:1"}
    with factory() as s:  # nothing committed before the kill is lost
        trail = list(s.scalars(sa.select(AuditEntry.action).where(AuditEntry.object_id == killed["id"])
                               .order_by(AuditEntry.id)))
    assert trail == ["job.request", "job.start", "job.requeue", "job.start", "job.succeed"]
    resumed, fresh = jobs.get_job(factory, killed["id"]), jobs.get_job(factory, other["id"])
    assert (resumed["status"], fresh["status"]) == ("succeeded", "succeeded"), (resumed, fresh)
    assert resumed["run_id"] not in (None, run_id)

    # the resumed job gives what an uninterrupted job of the same data gives
    a, b = repo.get_run(factory, resumed["run_id"]), repo.get_run(factory, fresh["run_id"])
    assert a is not None and b is not None and a.status == b.status == "succeeded"
    assert a.content_hash and a.content_hash == b.content_hash
    rows = _rows(factory, a.id)
    assert rows and rows == _rows(factory, b.id)

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
