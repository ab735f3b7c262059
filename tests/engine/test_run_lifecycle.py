"""Run lifecycle (issue 7 build 3, issue 8 build 6): leases, abandoned runs, no temporary folder left.

The finding: a ``qingshan account`` killed after its run is recorded left the run ``running``
forever and a ``.out.tmp-*`` folder. Now a running run holds a lease renewed by its process, and
the next ``qingshan account``, ``qingshan worker`` or ``qingshan runs --repair`` marks it failed
("abandoned") and removes the temporary folders of dead processes.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from qingshan.cli import app
from qingshan.store import artifacts, repo
from qingshan.store.db import open_store, sqlite_url
from qingshan.store.lifecycle import LeaseKeeper, lease_expiry, repair

HOST = socket.gethostname()


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _start(factory: Any, run_id: str, holder: str, expires: datetime) -> None:
    repo.start_run(factory, run_id=run_id, name=run_id, profile="p", years=[2019], base_year=None,
                   config={"run": {"output": "/nonexistent/out"}}, code_version="test",
                   lease_holder=holder, lease_expires_at=expires)


def test_repair_marks_dead_or_expired_runs_abandoned_and_keeps_live_ones(tmp_path: Path) -> None:
    factory = open_store(sqlite_url(tmp_path / "q.sqlite"))
    later = datetime.now(UTC) + timedelta(hours=1)
    _start(factory, "dead-here", f"{HOST}:{_dead_pid()}", later)  # this host, process gone: at once
    _start(factory, "expired-elsewhere", "other-host:1", datetime.now(UTC) - timedelta(seconds=1))
    _start(factory, "live-elsewhere", "other-host:2", later)  # cannot be checked: its lease decides
    _start(factory, "live-here", artifacts.holder(), later)
    done = repair(factory, tmp_path / "data")
    assert sorted(done.abandoned) == ["dead-here", "expired-elsewhere"]
    status = {r.id: (r.status, (r.error or {}).get("error")) for r in repo.list_runs(factory)}
    assert status == {"dead-here": ("failed", "abandoned"), "expired-elsewhere": ("failed", "abandoned"),
                      "live-elsewhere": ("running", None), "live-here": ("running", None)}


def test_repair_removes_temporary_folders_of_dead_processes_only(tmp_path: Path) -> None:
    factory = open_store(sqlite_url(tmp_path / "q.sqlite"))
    runs_dir = artifacts.runs_root(tmp_path / "data")
    dead = runs_dir / f".tmp-0badcafe.{_dead_pid()}@{HOST}"
    dead_cogs = runs_dir / f".rasters.tmp-0badcafe.{_dead_pid()}@{HOST}"
    mine = artifacts.make_tmp(runs_dir)
    for d in (dead, dead_cogs):
        d.mkdir()
        (d / "x.tif").write_bytes(b"partial")
    repair(factory, tmp_path / "data")
    assert sorted(p.name for p in runs_dir.iterdir()) == [mine.name]


def test_lease_keeper_renews_until_the_run_is_no_longer_its(tmp_path: Path) -> None:
    factory = open_store(sqlite_url(tmp_path / "q.sqlite"))
    first = lease_expiry(1.0)
    _start(factory, "r", artifacts.holder(), first)
    keeper = LeaseKeeper(factory, "r", artifacts.holder(), lease=3600.0)
    assert keeper.renew()
    run = repo.get_run(factory, "r")
    assert run is not None and run.lease_expires_at is not None and run.lease_expires_at > first
    repo.finish_run_failed(factory, "r", {"error": "x"})
    assert not keeper.renew()  # finished runs hold no lease
    run = repo.get_run(factory, "r")
    assert run is not None and run.lease_holder is None and run.lease_expires_at is None


def _running_run(db: Path) -> str | None:
    if not db.exists():
        return None
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.5) as conn:
            row = conn.execute("SELECT id FROM runs WHERE status = 'running'").fetchone()
    except sqlite3.Error:  # not migrated yet, or busy
        return None
    return str(row[0]) if row else None


@pytest.mark.slow
def test_kill_9_after_the_run_is_recorded_then_repair(write_config: Any, tmp_path: Path) -> None:
    """kill -9 of `qingshan account` once its run is `running`; `runs --repair` marks it abandoned, no temp left."""
    cfg = write_config(tmp_path)
    db = tmp_path / "store.sqlite"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2] / "src"),
                                                        os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", "from qingshan.cli import main; main()", "account", str(cfg)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    run_id = None
    try:
        deadline = time.monotonic() + 300
        while run_id is None and proc.poll() is None and time.monotonic() < deadline:
            run_id = _running_run(db)
            if run_id is None:
                time.sleep(0.02)
        assert run_id is not None, f"the run was never seen running (exit {proc.poll()})"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()  # reaped: its pid no longer exists
    url = f"sqlite:///{db}"
    factory = open_store(url)
    run = repo.get_run(factory, run_id)
    assert run is not None and run.status == "running"  # the finding: left running by the dead process
    result = CliRunner().invoke(app, ["runs", "--repair", "--store", url])
    assert result.exit_code == 0, result.output
    assert "abandoned" in result.output
    run = repo.get_run(factory, run_id)
    assert run is not None and run.status == "failed" and run.error is not None
    assert run.error["error"] == "abandoned"
    leftovers = [p for p in tmp_path.rglob("*") if ".tmp-" in p.name or p.name == run_id]
    assert leftovers == []


def test_next_account_start_marks_abandoned_runs(write_config: Any, tmp_path: Path) -> None:
    """`qingshan account` repairs its store before it runs (here the run itself then fails on a missing raster)."""
    cfg = write_config(tmp_path, inputs={"ndvi": str(tmp_path / "missing.tif")})
    factory = open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    _start(factory, "left-running", f"{HOST}:{_dead_pid()}", datetime.now(UTC) + timedelta(hours=1))
    stale = artifacts.runs_root(tmp_path / "qingshan-data") / f".tmp-0badcafe.{_dead_pid()}@{HOST}"
    stale.mkdir()
    result = CliRunner().invoke(app, ["account", str(cfg)])
    assert result.exit_code == 2, result.output  # the missing raster, reported as usual
    run = repo.get_run(factory, "left-running")
    assert run is not None and run.status == "failed" and (run.error or {}).get("error") == "abandoned"
    assert not stale.exists()


def test_a_run_marked_abandoned_cannot_then_succeed(tmp_path: Path) -> None:
    """A process whose lease expired (e.g. suspended) finds its run repaired: it cannot overwrite that."""
    import pandas as pd

    from qingshan.core.errors import QingshanError

    factory = open_store(sqlite_url(tmp_path / "q.sqlite"))
    _start(factory, "late", "other-host:7", datetime.now(UTC) - timedelta(seconds=1))
    assert repair(factory, None).abandoned == ["late"]
    with pytest.raises(QingshanError, match="no longer running"):
        repo.finish_run_succeeded(factory, "late", results=pd.DataFrame(columns=repo.RESULT_COLUMNS), regions=[],
                                  provenance={}, output_dir=None, content_hash="h")
    run = repo.get_run(factory, "late")
    assert run is not None and run.status == "failed" and (run.error or {}).get("error") == "abandoned"


def test_ctrl_c_while_the_artifacts_are_written_says_so_and_leaves_no_run(write_config: Any, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Found (attack pass): Ctrl-C printed an empty line. Now both languages and exit 130. The artifacts are
    written before the run is recorded (so that the COGs convert while the tables are written): an interruption
    there leaves no run and no temporary folder."""
    import qingshan.engine.run as run_module

    def interrupted(*_a: object, **_k: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(run_module, "write_artifacts", interrupted)
    result = CliRunner().invoke(app, ["account", str(write_config(tmp_path))])
    assert result.exit_code == 130, result.output
    assert "Interrupted 已中断" in result.output and "请重新运行" in result.output
    assert repo.list_runs(open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")) == []
    assert not [p for p in artifacts.runs_root(tmp_path / "qingshan-data").iterdir() if p.name.startswith(".")]


def test_ctrl_c_while_the_run_is_sealed_marks_it_failed(write_config: Any, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Once recorded, an interrupted run is failed, and neither its sealed folder nor a temporary one is left."""
    def interrupted(*_a: object, **_k: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(artifacts, "export_copy", interrupted)  # after the seal
    result = CliRunner().invoke(app, ["account", str(write_config(tmp_path))])
    assert result.exit_code == 130, result.output
    runs = repo.list_runs(open_store(f"sqlite:///{tmp_path / 'store.sqlite'}"))
    assert [r.status for r in runs] == ["failed"]
    assert list(artifacts.runs_root(tmp_path / "qingshan-data").iterdir()) == []
