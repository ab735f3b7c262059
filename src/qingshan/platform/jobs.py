"""Accounting jobs: requested from approved data, executed by a worker process, then published.

An accountant's request writes a ``queued`` row in ``jobs`` with the approved submission
versions it will use (a snapshot). ``qingshan worker`` — a separate process sharing only the
database — claims a queued job with ``UPDATE jobs SET status='running' WHERE id=:id AND
status='queued'`` (the row count says who won), builds a :class:`RunConfig` from the base
configuration the request named explicitly (boundaries, rasters and default tables: the embedded
Jiangxi example ``example:jiangxi-2019`` — its runs are labelled example runs — or a registered config),
the approved statistics, prices and rasters, and calls :func:`qingshan.engine.run.account` with a
progress callback that writes the step and fraction to the job row.

A succeeded run gets a publication row in state ``draft``; an accountant approves it, then
publishes it; only published runs are public. A rerun is a new job and a new run: older runs and
their publication state stay.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from qingshan.core.errors import InputError, QingshanError
from qingshan.engine.config import RunConfig, load_config
from qingshan.platform.accounts import Principal
from qingshan.platform.audit import Actor, record
from qingshan.platform.errors import NotFoundError, PermissionDeniedError, StateError
from qingshan.platform.submissions import approved_data, upload_bytes
from qingshan.store.lifecycle import LeaseKeeper, lease_expiry
from qingshan.store.models import Run
from qingshan.store.platform_models import Job, RunPublication, SubmissionVersion

__all__ = [
    "ACCOUNTANTS",
    "EXAMPLE_BASE",
    "build_config",
    "claim_next",
    "default_base_config",
    "execute",
    "get_job",
    "known_bases",
    "list_jobs",
    "publication_of",
    "publish_run",
    "published_run_ids",
    "request_assembled",
    "request_run",
    "resolve_base",
    "run_worker",
    "set_publication",
]

ACCOUNTANTS = ("accountant", "admin")
SYSTEM = Actor(None, "system")


def _now() -> datetime:
    return datetime.now(UTC)


EXAMPLE_BASE = "example:jiangxi-2019"
"""Name of the embedded Jiangxi example as a base: approximate data; its runs are labelled example runs."""


def default_base_config() -> str:
    """Path of the embedded Jiangxi example config (the base named :data:`EXAMPLE_BASE`)."""
    from qingshan.examples import example_config

    return str(example_config())


def known_bases(registered: Sequence[str] = ()) -> dict[str, str]:
    """Base name → run-config path: :data:`EXAMPLE_BASE` and ``config:<file stem>`` of each registered config."""
    out = {EXAMPLE_BASE: default_base_config()}
    for path in registered:
        out[f"config:{Path(path).stem}"] = str(path)
    return out


def resolve_base(base: str, registered: Sequence[str] = ()) -> tuple[str, str]:
    """(name, path) of the base an accounting names: a known base name or a registered config's path."""
    bases = known_bases(registered)
    if base in bases:
        return base, bases[base]
    for name, path in bases.items():
        if name != EXAMPLE_BASE and str(Path(base)) == str(Path(path)):
            return name, path
    raise InputError(
        f"Unknown base configuration '{base}'",
        f"未知的基础配置 '{base}'",
        field="base",
        fix=f"Name one of: {', '.join(bases)} (the server's QINGSHAN_BASE_CONFIG lists the registered configs).",
        fix_zh=f"请选择：{', '.join(bases)}（服务器的 QINGSHAN_BASE_CONFIG 列出已登记的配置）。",
    )


def _job_dict(job: Job) -> dict[str, Any]:
    return {"id": job.id, "kind": job.kind, "status": job.status, "params": job.params,
            "requested_by": job.requested_by, "progress": job.progress, "step": job.step, "run_id": job.run_id,
            "error": job.error, "worker": job.worker, "created_at": job.created_at, "started_at": job.started_at,
            "finished_at": job.finished_at}


# ----------------------------------------------------------------------------- requests
def request_run(factory: sessionmaker[Session], principal: Principal, *, profile: str, years: list[int], base: str,
                name: str | None = None, registered_bases: Sequence[str] = ()) -> dict[str, Any]:
    """Queue an accounting of ``years`` with ``profile`` from the data approved now.

    ``base``: the configuration whose boundaries, rasters and tables the approved data complete —
    :data:`EXAMPLE_BASE` or a config of ``registered_bases`` (by ``config:<stem>`` or path); never implicit.
    """
    from qingshan.indicators import registry

    registry().profile(profile)  # unknown profile → UnknownIndicatorError (404)
    base_name, base_path = resolve_base(base, registered_bases)
    load_config(base_path)  # fail now, not in the worker, when the base config is broken
    years = sorted(set(years))
    data = approved_data(factory, years)
    if not data.versions:
        raise StateError(
            f"No approved data for {', '.join(map(str, years))}",
            f"{', '.join(map(str, years))} 年没有审核通过的数据",
            field="years",
            fix="Approve at least one submission of these years first.",
            fix_zh="请先审核通过这些年份的至少一份填报。",
        )
    params = {"profile": profile, "years": years, "name": name or f"GEP {profile} {'-'.join(map(str, years))}",
              "base": base_name, "base_config": base_path, "example": base_name == EXAMPLE_BASE,
              "versions": data.versions}
    job = Job(id=str(uuid.uuid4()), kind="account", status="queued", params=params,
              requested_by=principal.username, progress=0.0, step="queued", created_at=_now())
    with factory.begin() as s:
        s.add(job)
        record(s, principal.actor, "job.request", "job", job.id,
               {"profile": profile, "years": years, "base": base_name, "versions": len(data.versions)})
    return _job_dict(job)


def request_assembled(factory: sessionmaker[Session], principal: Principal, spec: Any) -> dict[str, Any]:
    """Queue an accounting assembled from catalogue entries (:mod:`qingshan.platform.assembly`): checked
    for ``principal`` and pinned to approved versions with their SHA-256 before it is queued; the base is
    ``catalog`` — nothing comes from a base configuration the request does not name."""
    from qingshan.platform.assembly import resolve

    pinned = resolve(factory, principal, spec)
    years = pinned["years"]
    params = {"profile": pinned["profile"], "years": years,
              "name": pinned.get("name") or f"GEP {pinned['profile']} {'-'.join(map(str, years))}",
              "base": "catalog", "example": bool(pinned["example"]), "versions": [], "assembly": pinned}
    job = Job(id=str(uuid.uuid4()), kind="account", status="queued", params=params,
              requested_by=principal.username, progress=0.0, step="queued", created_at=_now())
    with factory.begin() as s:
        s.add(job)
        record(s, principal.actor, "job.request", "job", job.id,
               {"profile": pinned["profile"], "years": years, "base": "catalog",
                "entries": sorted({r["entry"] for r in _assembly_refs(pinned)})})
    return _job_dict(job)


def _assembly_refs(pinned: dict[str, Any]) -> list[dict[str, Any]]:
    from qingshan.platform.assembly import _all_refs

    return _all_refs(pinned["pinned"])


def list_jobs(factory: sessionmaker[Session], *, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Jobs, newest first."""
    q = select(Job).order_by(Job.created_at.desc()).limit(limit)
    if status:
        q = q.where(Job.status == status)
    with factory() as s:
        return [_job_dict(j) for j in s.scalars(q)]


def get_job(factory: sessionmaker[Session], job_id: str) -> dict[str, Any]:
    """One job, or a bilingual 404."""
    with factory() as s:
        job = s.get(Job, job_id)
        if job is None:
            raise NotFoundError(f"No job '{job_id}'", f"没有任务 '{job_id}'", field="job_id",
                                fix="List the jobs with GET /api/jobs.", fix_zh="用 GET /api/jobs 查看任务。")
        return _job_dict(job)


# ----------------------------------------------------------------------------- the worker
def claim_next(factory: sessionmaker[Session], worker: str) -> str | None:
    """Atomically move the oldest queued job to ``running``; its id, or None when the queue is empty.

    Two workers may read the same candidate: the conditional UPDATE lets exactly one of them
    change the row (row count 1); the loser tries the next candidate.
    """
    for _ in range(20):
        with factory() as s:
            job_id = s.scalar(select(Job.id).where(Job.status == "queued").order_by(Job.created_at).limit(1))
        if job_id is None:
            return None
        with factory.begin() as s:
            res = s.execute(update(Job).where(Job.id == job_id, Job.status == "queued")
                            .values(status="running", worker=worker, started_at=_now(), step="claimed",
                                    lease_expires_at=lease_expiry()))
            if res.rowcount == 1:  # type: ignore[attr-defined]
                record(s, Actor(None, "worker"), "job.start", "job", job_id, {"worker": worker})
                return job_id
    return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def requeue_orphans(factory: sessionmaker[Session]) -> list[str]:
    """Put back in the queue the running jobs of dead workers, on any host; their ids.

    A worker is named ``host:pid`` and holds a lease on its job (``lease_expires_at``), renewed by
    a thread while it executes the job (:class:`qingshan.store.lifecycle.LeaseKeeper`). A job left
    ``running`` by a process of this host that no longer exists (killed, machine restarted), or
    whose lease has expired (a worker of any host that died or lost the database), would otherwise
    wait forever; it is requeued and the requeue is audit-logged.
    """
    host = socket.gethostname()
    now = _now()
    with factory() as s:
        running = s.execute(select(Job.id, Job.worker, Job.lease_expires_at).where(Job.status == "running")).all()
    orphans = []
    for job_id, worker, expires in running:
        w_host, _, pid = str(worker or "").rpartition(":")
        dead_here = w_host == host and pid.isdigit() and not _pid_alive(int(pid))
        if dead_here or (expires is not None and expires < now):
            orphans.append((job_id, worker, expires))
    requeued = []
    for job_id, worker, expires in orphans:
        same = Job.lease_expires_at.is_(None) if expires is None else Job.lease_expires_at == expires
        with factory.begin() as s:
            res = s.execute(update(Job).where(Job.id == job_id, Job.status == "running", Job.worker == worker, same)
                            .values(status="queued", worker=None, progress=0.0, step="requeued: worker died",
                                    lease_expires_at=None))
            if res.rowcount == 1:  # type: ignore[attr-defined]
                record(s, Actor(None, "worker"), "job.requeue", "job", job_id,
                       {"reason": "worker process died or its lease expired", "worker": worker})
                requeued.append(job_id)
    return requeued


def _renew_job_lease(factory: sessionmaker[Session], job_id: str, worker: str) -> Callable[[], bool]:
    def renew() -> bool:
        with factory.begin() as s:
            res = s.execute(update(Job).where(Job.id == job_id, Job.status == "running", Job.worker == worker)
                            .values(lease_expires_at=lease_expiry()))
            return bool(res.rowcount)  # type: ignore[attr-defined]

    return renew


def _progress_writer(factory: sessionmaker[Session], job_id: str) -> Callable[[str, float], None]:
    def progress(step: str, fraction: float) -> None:
        with factory.begin() as s:
            s.execute(update(Job).where(Job.id == job_id)
                      .values(step=step[:120], progress=max(0.0, min(1.0, float(fraction)))))

    return progress


def _merge(base: pd.DataFrame, new: list[dict[str, Any]], keys: list[str]) -> pd.DataFrame:
    if not new:
        return base
    add = pd.DataFrame(new).reindex(columns=base.columns)
    for k in keys:
        base[k], add[k] = base[k].astype(str), add[k].astype(str)
    merged = pd.concat([base, add], ignore_index=True)
    return merged.drop_duplicates(subset=keys, keep="last").reset_index(drop=True)


def _versions_data(factory: sessionmaker[Session], versions: list[dict[str, Any]]) -> tuple[list, list, dict]:
    stats: list[dict[str, Any]] = []
    prices: list[dict[str, Any]] = []
    rasters: dict[str, str] = {}
    with factory() as s:
        for ref in versions:
            v = s.scalars(select(SubmissionVersion).where(SubmissionVersion.submission_id == ref["submission"],
                                                          SubmissionVersion.version == ref["version"])).first()
            if v is None or v.status != "approved":
                raise StateError(f"Submission {ref['submission']} version {ref['version']} is no longer approved",
                                 f"填报 {ref['submission']} 第 {ref['version']} 版已不是审核通过状态",
                                 field="versions", fix="Start a new run.", fix_zh="请重新发起核算。")
            stats += v.data.get("statistics", [])
            prices += v.data.get("prices", [])
            if ref.get("variable"):
                rasters[f"{ref['variable']}:{ref['year']}"] = v.upload_id
    return stats, prices, rasters


def build_config(factory: sessionmaker[Session], job: dict[str, Any], workdir: Path) -> RunConfig:
    """The run config of a job: base config + approved statistics, prices and rasters.

    Approved statistics rows replace base rows with the same (region_code, year, item); approved
    price rows replace base rows with the same (price_key, price_year, region); an approved raster
    replaces the base raster of its variable and year. Files are written under ``workdir``.
    """
    p = job["params"]
    if p.get("assembly"):  # assembled from catalogue entries: every file pinned by version and SHA-256
        from qingshan.platform.assembly import materialise

        config = materialise(factory, p["assembly"], workdir / "inputs", output=workdir / "out")
        return config.model_copy(update={"run": config.run.model_copy(update={"name": p["name"], "store": None})})
    base = load_config(p["base_config"])
    workdir.mkdir(parents=True, exist_ok=True)
    stats, prices, rasters = _versions_data(factory, p["versions"])
    tables = base.tables
    if tables.statistics is not None or stats:
        cols = ["region_code", "year", "item", "value", "unit", "source"]
        frame = (pd.read_csv(tables.statistics, dtype=str) if tables.statistics else pd.DataFrame(columns=cols))
        out = workdir / "statistics.csv"
        _merge(frame, stats, ["region_code", "year", "item"]).to_csv(out, index=False)
        tables = tables.model_copy(update={"statistics": out})
    if prices:
        out = workdir / "prices.csv"
        _merge(pd.read_csv(tables.prices, dtype=str), prices, ["price_key", "price_year", "region"]).to_csv(out, index=False)
        tables = tables.model_copy(update={"prices": out})
    inputs = dict(base.inputs)
    for variable in sorted({k.split(":")[0] for k in rasters}):
        for year in p["years"]:
            dest = workdir / "rasters" / f"{variable}_{year}.tif"
            dest.parent.mkdir(exist_ok=True)
            upload = rasters.get(f"{variable}:{year}")
            if upload is not None:
                dest.write_bytes(upload_bytes(factory, upload)[2])
            elif variable in inputs:
                dest.write_bytes(Path(inputs[variable].replace("{year}", str(year))).read_bytes())
        inputs[variable] = str(workdir / "rasters" / f"{variable}_{{year}}.tif")
    run = base.run.model_copy(update={"name": p["name"], "profile": p["profile"], "years": p["years"],
                                      "output": workdir / "out", "store": None,
                                      "base_year": base.run.base_year if base.run.base_year in p["years"] else None})
    return base.model_copy(update={"run": run, "tables": tables, "inputs": inputs})


def execute(factory: sessionmaker[Session], job_id: str, *, store_url: str, output_root: Path) -> dict[str, Any]:
    """Run a claimed job to the end; the job row records success (with the run id) or the error."""
    from qingshan.engine.run import account

    job = get_job(factory, job_id)
    keeper = LeaseKeeper(factory, job_id, str(job["worker"]),
                         renew_with=_renew_job_lease(factory, job_id, str(job["worker"])))
    try:
        if job["kind"] == "scenario":  # qingshan.platform.scenarios
            from qingshan.platform.scenarios import execute_scenario

            with keeper:
                run_id = execute_scenario(factory, job, store_url=store_url, workdir=output_root / job_id,
                                          progress=_progress_writer(factory, job_id))
            return _finish(factory, job_id, run_id=run_id)
        config = build_config(factory, job, output_root / job_id)
        with keeper:
            outcome = account(config, store_url=store_url, progress=_progress_writer(factory, job_id))
    except QingshanError as exc:
        return _finish(factory, job_id, error=exc.to_dict())
    except Exception as exc:  # a bug: keep the worker alive and record it on the job
        return _finish(factory, job_id, error={"error": type(exc).__name__, "message_en": str(exc),
                                               "message_zh": "核算过程中出现程序错误"})
    return _finish(factory, job_id, run_id=outcome.run_id)


def _finish(factory: sessionmaker[Session], job_id: str, *, run_id: str | None = None,
            error: dict[str, Any] | None = None) -> dict[str, Any]:
    with factory.begin() as s:
        job = s.get(Job, job_id)
        assert job is not None
        job.status, job.finished_at = ("failed", _now()) if error else ("succeeded", _now())
        job.error, job.run_id = error, run_id
        job.lease_expires_at = None
        job.progress = job.progress if error else 1.0
        job.step = "failed" if error else "done"
        if run_id is not None:
            s.add(RunPublication(run_id=run_id, state="draft", job_id=job_id))
        record(s, Actor(None, "worker"), "job.fail" if error else "job.succeed", "job", job_id,
               {"run_id": run_id, "error": (error or {}).get("message_en")})
        return _job_dict(job)


def run_worker(store_url: str, *, once: bool = False, output_root: Path = Path("out/jobs"),
               poll_seconds: float = 2.0, log: Callable[[str], None] = lambda _m: None) -> int:
    """Claim and execute jobs; with ``once``, stop when the queue is empty. Returns jobs executed."""
    from qingshan.store.db import open_store

    factory = open_store(store_url)
    name = f"{socket.gethostname()}:{os.getpid()}"
    for orphan in requeue_orphans(factory):
        log(f"job {orphan}: requeued, its worker died 任务已重新排队（原执行进程已退出）")
    from qingshan.store.artifacts import find_data_dir
    from qingshan.store.lifecycle import repair

    for run_id in repair(factory, find_data_dir(store_url)).abandoned:
        log(f"run {run_id}: abandoned by a dead process, marked failed 已将中止的核算标记为失败")
    done = 0
    while True:
        job_id = claim_next(factory, name)
        if job_id is None:
            if once:
                return done
            time.sleep(poll_seconds)
            continue
        log(f"job {job_id}: running 运行中")
        result = execute(factory, job_id, store_url=store_url, output_root=output_root)
        log(f"job {job_id}: {result['status']} run={result['run_id']} "
            f"{(result['error'] or {}).get('message_en', '')}")
        done += 1


# ----------------------------------------------------------------------------- publication
def publication_of(factory: sessionmaker[Session], run_id: str) -> dict[str, Any] | None:
    """The publication row of a run (None: never approved nor published, e.g. a CLI run)."""
    with factory() as s:
        pub = s.get(RunPublication, run_id)
        if pub is None:
            return None
        return {"run_id": pub.run_id, "state": pub.state, "job_id": pub.job_id, "approved_by": pub.approved_by,
                "approved_at": pub.approved_at, "published_by": pub.published_by, "published_at": pub.published_at}


def published_run_ids(factory: sessionmaker[Session]) -> set[str]:
    """Ids of the published runs (the public sees only these)."""
    with factory() as s:
        return set(s.scalars(select(RunPublication.run_id).where(RunPublication.state == "published")))


_NEXT = {"approve": ("draft", "approved"), "publish": ("approved", "published"), "withdraw": ("published", "approved")}
FOUR_EYES = ("approve", "publish")  # actions the requester of a run may not take on it


def _requester(s: Session, run_id: str, pub: RunPublication | None) -> str | None:
    """Who requested the run (``Job.requested_by``); ``None`` for runs not started through a job (CLI)."""
    if pub is not None and pub.job_id is not None:
        job = s.get(Job, pub.job_id)
        if job is not None:
            return job.requested_by
    return s.scalar(select(Job.requested_by).where(Job.run_id == run_id).limit(1))


def _check_four_eyes(actor: Actor, requester: str | None, run_id: str, action: str) -> None:
    """Whoever requested a run cannot approve or publish it (a second person must)."""
    if action in FOUR_EYES and requester is not None and actor.username == requester:
        raise PermissionDeniedError(
            f"'{requester}' requested run '{run_id}' and cannot {action} it: a second person must (four-eyes rule)",
            f"核算记录 '{run_id}' 由“{requester}”发起，发起人不能{'审核' if action == 'approve' else '发布'}"
            "自己的核算，须由另一人执行（双人复核）",
            field="run_id",
            fix="Ask another accountant or an administrator to approve and publish it.",
            fix_zh="请由另一位核算员或管理员审核并发布。")


def _check_qc_acknowledged(provenance: dict[str, Any] | None, run_id: str, acknowledged: bool) -> None:
    """A run with a quality-control report (``provenance["qc"]``) is approved only with it acknowledged."""
    qc = (provenance or {}).get("qc")
    if qc is not None and not acknowledged:
        status = qc.get("status", "") if isinstance(qc, dict) else ""
        raise InputError(
            f"Run '{run_id}' has a quality-control report{f' (status: {status})' if status else ''}: "
            "approval must acknowledge it",
            f"核算记录 '{run_id}' 附有质量控制报告{f'（状态：{status}）' if status else ''}，审核时须确认已阅",
            field="acknowledge_qc",
            fix='Read the QC report (GET /api/runs/{run_id}), then approve with the JSON body {"acknowledge_qc": true}.',
            fix_zh='请先阅读质量控制报告，再以 JSON 请求体 {"acknowledge_qc": true} 审核。')


def _publication_state_error(run_id: str, state: str, frm: str, action: str) -> StateError:
    return StateError(f"Run '{run_id}' is '{state}', it must be '{frm}' to {action}",
                      f"核算记录 '{run_id}' 当前为“{state}”，须为“{frm}”才能执行该操作",
                      field="state", fix="Approve before publishing." if action == "publish" else "",
                      fix_zh="请先审核再发布。" if action == "publish" else "")


def _ensure_publication(factory: sessionmaker[Session], run_id: str) -> None:
    """Insert the run's ``draft`` publication row unless it exists (a concurrent insert may win)."""
    try:
        with factory.begin() as s:
            if s.get(RunPublication, run_id) is None:
                s.add(RunPublication(run_id=run_id, state="draft"))
    except IntegrityError:
        pass  # another request inserted it first


def set_publication(factory: sessionmaker[Session], actor: Actor, run_id: str, action: str, *,
                    acknowledge_qc: bool = False, prepare: Callable[[], None] | None = None) -> dict[str, Any]:
    """``approve`` (draft → approved), ``publish`` (approved → published) or ``withdraw``
    (published → approved) a succeeded run; audit-logged.

    ``prepare()`` runs once every check has passed, before the state changes (publishing a revalued run builds
    its on-demand exports there): a refused request changes nothing of the run.

    The change is one conditional UPDATE (``... WHERE state = <expected>``): of N concurrent calls
    exactly one wins and writes the audit line; the others get a :class:`StateError` (HTTP 409).
    Whoever requested the run (its job's ``requested_by``) cannot approve or publish it
    (:class:`PermissionDeniedError`, 403); a run whose provenance has a QC report (``"qc"``) is
    approved only with ``acknowledge_qc`` (else :class:`InputError`, 422). System actors (``username
    None``: ``qingshan publish``, the demo) and runs without a job (CLI runs) have no requester.
    """
    frm, to = _NEXT[action]
    with factory() as s:
        run = s.get(Run, run_id)
        if run is None:
            raise NotFoundError(f"No run '{run_id}'", f"没有核算记录 '{run_id}'", field="run_id",
                                fix="List the jobs and their runs with GET /api/jobs.",
                                fix_zh="用 GET /api/jobs 查看任务及其核算记录。")
        if run.status != "succeeded":
            raise StateError(f"Run '{run_id}' is {run.status}: only succeeded runs are approved or published",
                             f"核算记录 '{run_id}' 的状态为 {run.status}，只有成功的核算才能审核或发布",
                             field="run_id", fix="Start a new run.", fix_zh="请重新发起核算。")
        pub = s.get(RunPublication, run_id)
        state = pub.state if pub is not None else "draft"
        requester = _requester(s, run_id, pub)
        provenance = run.provenance
    _check_four_eyes(actor, requester, run_id, action)
    if state != frm:
        raise _publication_state_error(run_id, state, frm, action)
    if action == "approve":
        _check_qc_acknowledged(provenance, run_id, acknowledge_qc)
    if prepare is not None:
        prepare()
    if pub is None:
        _ensure_publication(factory, run_id)
    values: dict[str, Any] = {"state": to}
    if action == "approve":
        values.update(approved_by=actor.username, approved_at=_now())
    elif action == "publish":
        values.update(published_by=actor.username, published_at=_now())
    with factory.begin() as s:
        res = s.execute(update(RunPublication).where(RunPublication.run_id == run_id, RunPublication.state == frm)
                        .values(**values).execution_options(synchronize_session=False))
        if res.rowcount != 1:  # type: ignore[attr-defined]  # another request won the race
            current = s.scalar(select(RunPublication.state).where(RunPublication.run_id == run_id))
            raise _publication_state_error(run_id, str(current), frm, action)
        details: dict[str, Any] = {"from": frm, "to": to}
        if action == "approve" and (provenance or {}).get("qc") is not None:
            details["acknowledge_qc"] = True
        record(s, actor, f"run.{action}", "run", run_id, details)
        from qingshan.platform.catalog import register_result

        register_result(s, run_id, actor, action)  # the data catalogue lists published results
    _PUBLICATION_EPOCH[0] += 1  # this process's caches of published runs refresh at once (qingshan.api.cache)
    out = publication_of(factory, run_id)
    assert out is not None
    return out


_PUBLICATION_EPOCH = [0]


def publication_epoch() -> int:
    """A number that changes whenever this process changes a run's publication (other processes' changes
    are seen by the caches within their refresh interval)."""
    return _PUBLICATION_EPOCH[0]


def publish_run(factory: sessionmaker[Session], actor: Actor, run_id: str, *, acknowledge_qc: bool = False,
                prepare: Callable[[], None] | None = None) -> None:
    """Approve (when still a draft) and publish ``run_id``: done when the run ends published, whoever did it.
    ``prepare`` as for :func:`set_publication`'s publish step: it runs only once the publication is allowed.

    Two commands publishing the same run at once (``qingshan publish``, ``qingshan demo`` into one store): one
    wins each step, and the other finds the state already reached — success, not the 409 of a web request (found:
    the losers exited 2 although the run ended published)."""
    def state() -> str | None:
        return (publication_of(factory, run_id) or {}).get("state")

    if state() in (None, "draft"):
        try:
            set_publication(factory, actor, run_id, "approve", acknowledge_qc=acknowledge_qc)
        except StateError:
            if state() not in ("approved", "published"):
                raise
    if state() != "published":
        try:
            set_publication(factory, actor, run_id, "publish", prepare=prepare)
        except StateError:
            if state() != "published":
                raise

