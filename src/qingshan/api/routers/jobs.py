"""Accounting jobs (run by `qingshan worker`, never in the request) and run publication."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from qingshan.api.deps import SettingsDep, StoreDep, require_role
from qingshan.api.platform_schemas import BaseOut, JobIn, JobOut, PublicationOut
from qingshan.api.settings import Settings
from qingshan.platform import jobs as svc
from qingshan.platform.accounts import Principal
from qingshan.platform.errors import NotFoundError

__all__ = ["router"]

router = APIRouter(tags=["jobs"])
Accountant = Annotated[Principal, require_role("accountant")]
RunId = Annotated[str, PathParam(description="Run id 核算记录编号")]


@router.post("/api/jobs", summary="Start an accounting · 发起核算", status_code=202)
def request_job(body: JobIn, store: StoreDep, settings: SettingsDep, user: Accountant) -> JobOut:
    """Queue an accounting of the approved data; a worker process executes it."""
    return JobOut.model_validate(svc.request_run(store, user, profile=body.profile, years=body.years, base=body.base,
                                                 name=body.name, registered_bases=_registered(settings)))


def _registered(settings: Settings) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*settings.base_configs, *([settings.base_config] if settings.base_config else []))))


@router.get("/api/bases", summary="Base configurations · 可用的基础配置")
def list_bases(settings: SettingsDep, _user: Accountant) -> list[BaseOut]:
    """The bases an accounting may name: the embedded example (approximate data) and the registered configs."""
    return [BaseOut(name=n, example=n == svc.EXAMPLE_BASE) for n in svc.known_bases(_registered(settings))]


@router.get("/api/jobs", summary="List jobs · 核算任务")
def list_jobs(
    store: StoreDep,
    _user: Accountant,
    status: Annotated[Literal["queued", "running", "succeeded", "failed"] | None,
                      Query(description="Status 状态")] = None,
) -> list[JobOut]:
    """Jobs with their status and progress, newest first."""
    return [JobOut.model_validate(j) for j in svc.list_jobs(store, status=status)]


@router.get("/api/jobs/{job_id}", summary="One job and its progress · 任务进度")
def get_job(job_id: Annotated[str, PathParam(description="Job id 任务编号")], store: StoreDep,
            _user: Accountant) -> JobOut:
    """Status, step and progress (0–1) of a job, and its run when it succeeded."""
    return JobOut.model_validate(svc.get_job(store, job_id))


@router.get("/api/runs/{run_id}/publication", summary="Publication state · 发布状态")
def get_publication(run_id: RunId, store: StoreDep, _user: Accountant) -> PublicationOut:
    """draft → approved → published, with who and when."""
    pub = svc.publication_of(store, run_id)
    if pub is None:
        raise NotFoundError(f"Run '{run_id}' has no publication record", f"核算记录 '{run_id}' 没有发布记录",
                            field="run_id", fix="Approve the run first.", fix_zh="请先审核该核算。")
    return PublicationOut.model_validate(pub)


class ApproveIn(BaseModel):
    """Body of a run approval: the approver acknowledges the run's quality-control report."""

    model_config = ConfigDict(extra="forbid")

    acknowledge_qc: bool = Field(False, description="I have read the QC report 已阅质量控制报告 (required when the "
                                 "run has one)")


@router.post("/api/runs/{run_id}/approve", summary="Approve a run · 审核核算结果")
def approve_run(run_id: RunId, store: StoreDep, user: Accountant, body: ApproveIn | None = None) -> PublicationOut:
    """Approve a succeeded run (draft → approved). The requester of the run cannot approve it (403,
    four-eyes); a run with a QC report needs ``{"acknowledge_qc": true}`` (else 422)."""
    return PublicationOut.model_validate(svc.set_publication(store, user.actor, run_id, "approve",
                                                             acknowledge_qc=bool(body and body.acknowledge_qc)))


@router.post("/api/runs/{run_id}/publish", summary="Publish a run · 发布核算结果")
def publish_run(run_id: RunId, store: StoreDep, settings: SettingsDep, user: Accountant) -> PublicationOut:
    """Publish an approved run: the public sees it from now on (not by the run's requester: 403). A revalued
    run's exports are built first: what is published is complete and never changes afterwards."""
    from qingshan.engine.revalue import complete_exports
    from qingshan.store.artifacts import find_data_dir
    from qingshan.store.verify import check_before_publication

    def prepare() -> None:  # once the publication is allowed: a refused request builds nothing
        complete_exports(store, run_id, find_data_dir(settings.store_url))
        check_before_publication(store, run_id, find_data_dir(settings.store_url))  # files and rows as sealed

    return PublicationOut.model_validate(svc.set_publication(store, user.actor, run_id, "publish", prepare=prepare))


@router.post("/api/runs/{run_id}/withdraw", summary="Withdraw a publication · 撤回发布")
def withdraw_run(run_id: RunId, store: StoreDep, user: Accountant) -> PublicationOut:
    """Hide a published run from the public again (published → approved)."""
    return PublicationOut.model_validate(svc.set_publication(store, user.actor, run_id, "withdraw"))
