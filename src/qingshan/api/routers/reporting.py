"""The reporting system (统计报表制度): reporting tasks, their progress, and reminders (催报).

Thin layer over :mod:`qingshan.platform.reporting`; progress is read from the submissions."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from qingshan.api.deps import SettingsDep, StoreDep, known_regions, require_role
from qingshan.platform import reporting as svc
from qingshan.platform.accounts import Principal

__all__ = ["router"]

router = APIRouter(prefix="/api/reporting", tags=["reporting"])

Manager = Annotated[Principal, require_role("accountant")]
Overseer = Annotated[Principal, require_role("reviewer", "accountant")]
Member = Annotated[Principal, require_role("submitter", "reviewer", "accountant")]
TaskId = Annotated[int, PathParam(ge=1, le=2**31 - 1, description="Task id 任务编号")]
Code = Annotated[str, Field(min_length=1, max_length=12, pattern=r"^[0-9]{2,12}$")]


class TaskIn(BaseModel):
    """A reporting task 报表任务."""

    model_config = ConfigDict(extra="forbid")

    form_no: str = Field(min_length=1, max_length=40, description="Form number 表号, e.g. 赣生核1表")
    group: str = Field(min_length=1, max_length=40, description="Form group 报表组 (GET /api/forms)")
    year: int = Field(ge=1949, le=2100, description="Reporting year 报告期")
    title_zh: str = Field(min_length=1, max_length=200, description="Title 中文标题")
    title_en: str = Field(default="", max_length=200, description="Title in English 英文标题")
    deadline: date = Field(description="Deadline (a day, Beijing time) 截止日期")
    regions: list[Code] = Field(min_length=1, max_length=svc.MAX_UNITS, description="Reporting units 填报单位")
    review_levels: list[Literal["county", "city", "province"]] = Field(
        default_factory=list, max_length=3, description='Multi-level review, e.g. ["city", "province"] 多级审核')


class RemindIn(BaseModel):
    """Whom to remind 催报对象 (default: every unit that has not submitted)."""

    model_config = ConfigDict(extra="forbid")

    regions: list[Code] | None = Field(default=None, max_length=svc.MAX_UNITS)
    message: str = Field(default="", max_length=svc.MAX_TEXT, description="Note 催报说明")


class Counts(BaseModel):
    missing: int
    draft: int
    rejected: int
    submitted: int
    approved: int
    total: int
    overdue: int
    not_reported: int


class TaskOut(BaseModel):
    id: int
    form_no: str
    group: str
    year: int
    title_zh: str
    title_en: str
    deadline: datetime
    regions: list[str]
    status: str
    review_levels: list[str] = []
    created_by: str
    created_at: datetime
    counts: Counts | None = None


class UnitOut(BaseModel):
    region_code: str
    status: str
    reported_by: str | None
    reported_at: datetime | None
    submission_id: int | None
    version: int | None
    overdue: bool
    responsible: list[str]
    reminders: int
    last_reminded_at: datetime | None


class ProgressOut(TaskOut):
    units: list[UnitOut]


class RemindOut(BaseModel):
    task_id: int
    sent: list[dict[str, Any]]
    skipped: list[dict[str, Any]]
    sent_at: datetime


class ReminderOut(BaseModel):
    id: int
    task_id: int
    form_no: str
    title_zh: str
    title_en: str
    group: str
    year: int
    deadline: datetime
    region_code: str
    message: str
    sent_by: str
    sent_at: datetime
    status_at_reminder: str
    status_now: str


@router.get("/tasks", summary="Reporting tasks · 报表任务")
def list_tasks(store: StoreDep, user: Member) -> list[TaskOut]:
    """Tasks the user may see with progress counts (a submitter: their groups and regions)."""
    return [TaskOut.model_validate(d) for d in svc.list_tasks(store, user)]


@router.post("/tasks", summary="Create a reporting task · 下发报表任务", status_code=201)
async def create_task(store: StoreDep, settings: SettingsDep, user: Manager, body: TaskIn) -> TaskOut:
    """Accountants and administrators; region codes must be the platform's."""
    known = await run_in_threadpool(known_regions, settings)
    d = await run_in_threadpool(lambda: svc.create_task(store, user, known_regions=known, **body.model_dump()))
    return TaskOut.model_validate(d)


@router.get("/tasks/{task_id}", summary="Progress of a task · 填报进度")
def task_progress(store: StoreDep, user: Member, task_id: TaskId) -> ProgressOut:
    """One row per reporting unit: status, who reported, overdue, reminders."""
    return ProgressOut.model_validate(svc.progress(store, user, task_id))


@router.get("/tasks/{task_id}/progress.csv", summary="Progress as CSV · 填报进度导出")
def task_progress_csv(store: StoreDep, user: Member, task_id: TaskId) -> Response:
    """The progress table as UTF-8 CSV (with BOM, for Excel)."""
    d = svc.progress(store, user, task_id)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["region_code", "status", "reported_by", "reported_at", "overdue", "responsible", "reminders",
                "last_reminded_at"])
    for u in d["units"]:
        w.writerow([u["region_code"], u["status"], u["reported_by"] or "", u["reported_at"] or "", u["overdue"],
                    " ".join(u["responsible"]), u["reminders"], u["last_reminded_at"] or ""])
    return Response("\ufeff" + buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="reporting-task-{task_id}.csv"'})


@router.post("/tasks/{task_id}/remind", summary="Send reminders · 催报")
def remind(store: StoreDep, user: Overseer, task_id: TaskId, body: RemindIn | None = None) -> RemindOut:
    """Record a reminder for each unit that has not submitted (units that have are skipped)."""
    body = body or RemindIn()
    return RemindOut.model_validate(svc.remind(store, user, task_id, regions=body.regions, message=body.message))


@router.post("/tasks/{task_id}/close", summary="Close a task · 关闭任务")
def close(store: StoreDep, user: Manager, task_id: TaskId) -> TaskOut:
    """No more reminders; the progress stays readable."""
    return TaskOut.model_validate(svc.close_task(store, user, task_id))


@router.get("/reminders", summary="Reminders for me · 我的催报")
def reminders(store: StoreDep, user: Member) -> list[ReminderOut]:
    """Reminders addressed to the user's regions and form groups, newest first."""
    return [ReminderOut.model_validate(d) for d in svc.my_reminders(store, user)]
