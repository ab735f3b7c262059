"""The statistical reporting system (统计报表制度) as departments use it: reporting tasks, progress, reminders.

A **reporting task** asks for one form group (:mod:`qingshan.platform.forms`) under a form number
(表号) for one period (the year), from a list of **reporting units** (GB/T 2260 region codes), by a
deadline. Its **progress** is read from the submissions themselves — nothing is ticked by hand: a
unit has reported when a submission of the task's group and year holds rows for its region code,
and its status is the best one among those submissions (approved > submitted > rejected > draft >
missing; a submission counts through its latest version and through any approved version, so a
correction in draft does not hide data already approved). A unit that has not submitted by the
deadline is overdue.

A **reminder** (催报) is recorded for units that have not submitted (missing, draft or rejected),
with who sent it and when, in the same transaction as its audit line; the submitters whose scope
covers the unit see it on their page (``GET /api/reporting/reminders``). Units that have submitted
are never reminded (they are skipped and listed as such).

Roles: accountants and administrators create and close tasks; reviewers, accountants and
administrators see all progress and send reminders; a submitter sees the tasks of their form
groups, restricted to the units in their regions, and the reminders addressed to them.

A task may configure multi-level review (``review_levels``, e.g. ``["city", "province"]``): the
submissions of its group and year are then approved level by level (:mod:`qingshan.platform.review_levels`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from qingshan.core.errors import InputError
from qingshan.platform.accounts import Principal, in_region_scope
from qingshan.platform.audit import record
from qingshan.platform.errors import NotFoundError, PermissionDeniedError, StateError
from qingshan.platform.forms import get_group
from qingshan.platform.review_levels import check_levels
from qingshan.store.platform_models import (
    FormSubmission,
    ReportingReminder,
    ReportingTask,
    SubmissionVersion,
    User,
)

__all__ = [
    "MANAGERS",
    "OVERSEERS",
    "RANK",
    "close_task",
    "create_task",
    "deadline_utc",
    "list_tasks",
    "my_reminders",
    "progress",
    "remind",
]

MANAGERS = ("accountant", "admin")  # create and close tasks
OVERSEERS = ("reviewer", "accountant", "admin")  # see all progress, send reminders
RANK = {"missing": 0, "draft": 1, "rejected": 2, "submitted": 3, "approved": 4}
REMINDABLE = ("missing", "draft", "rejected")
BEIJING = timezone(timedelta(hours=8))
MAX_UNITS = 5000
MAX_TEXT = 200


def _now() -> datetime:
    return datetime.now(UTC)


def deadline_utc(day: date) -> datetime:
    """The end of ``day`` in Beijing time (23:59:59 UTC+8), in UTC: a deadline is a calendar day."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=BEIJING).astimezone(UTC)


# ----------------------------------------------------------------------------- permissions
def _require(principal: Principal, roles: Sequence[str], what_en: str, what_zh: str) -> None:
    if principal.role not in roles:
        raise PermissionDeniedError(
            f"Role '{principal.role}' cannot {what_en}", f"角色“{principal.role}”不能{what_zh}",
            field="role", fix=f"Ask a user with one of the roles {', '.join(roles)}.",
            fix_zh=f"请由以下角色之一操作：{', '.join(roles)}。")


def _sees_task(principal: Principal, task: ReportingTask) -> bool:
    if principal.role in OVERSEERS:
        return True
    if principal.role != "submitter":
        return False
    if "*" not in principal.forms and task.group not in principal.forms:
        return False
    return any(in_region_scope(c, principal.regions) for c in task.regions)


def _units_for(principal: Principal, task: ReportingTask) -> list[str]:
    if principal.role in OVERSEERS:
        return list(task.regions)
    return [c for c in task.regions if in_region_scope(c, principal.regions)]


def _get(s: Session, principal: Principal, task_id: int) -> ReportingTask:
    task = s.get(ReportingTask, task_id)
    if task is None or not _sees_task(principal, task):
        raise NotFoundError(f"No reporting task {task_id}", f"没有编号为 {task_id} 的报表任务", field="task_id",
                            fix="List the tasks with GET /api/reporting/tasks.",
                            fix_zh="用 GET /api/reporting/tasks 查看报表任务。")
    return task


# ----------------------------------------------------------------------------- tasks
def _clean_text(value: str, field: str, zh: str, *, required: bool, limit: int = MAX_TEXT) -> str:
    text = " ".join(str(value or "").split())
    if required and not text:
        raise InputError(f"The {field} of a reporting task is empty", f"报表任务的{zh}为空", field=field,
                         fix=f"Give the {field}.", fix_zh=f"请填写{zh}。")
    if len(text) > limit:
        raise InputError(f"The {field} is longer than {limit} characters", f"{zh}超过 {limit} 个字符",
                         field=field, fix="Shorten it.", fix_zh="请缩短。")
    return text


def _check_units(regions: Iterable[str], known: Mapping[str, str] | None) -> list[str]:
    units = list(dict.fromkeys(str(c).strip() for c in regions if str(c).strip()))
    if not units:
        raise InputError("A reporting task needs at least one reporting unit (region code)",
                         "报表任务至少需要一个填报单位（行政区划代码）", field="regions",
                         fix="List the region codes expected to report, e.g. the counties.",
                         fix_zh="请列出应填报的行政区划代码，如各县（市、区）。")
    if len(units) > MAX_UNITS:
        raise InputError(f"More than {MAX_UNITS} reporting units", f"填报单位超过 {MAX_UNITS} 个", field="regions",
                         fix="Split the task.", fix_zh="请拆分任务。")
    if known is not None:
        unknown = [c for c in units if c not in known]
        if unknown:
            shown = ", ".join(unknown[:10])
            raise InputError(f"Unknown region codes: {shown}", f"未知的行政区划代码：{shown}", field="regions",
                             fix="Use codes of the platform's boundaries (GET /api/regions).",
                             fix_zh="请使用平台边界中的代码（GET /api/regions）。")
    return units


def create_task(factory: sessionmaker[Session], principal: Principal, *, form_no: str, group: str, year: int,
                title_zh: str, title_en: str = "", deadline: date, regions: Sequence[str],
                known_regions: Mapping[str, str] | None = None, review_levels: Sequence[str] = ()) -> dict[str, Any]:
    """Record a reporting task (accountants and administrators), with its audit line."""
    _require(principal, MANAGERS, "create reporting tasks", "创建报表任务")
    g = get_group(group)  # unknown group → InputError naming the groups
    if g.is_raster:
        raise InputError("Reporting tasks are for table forms; rasters are tracked by their submissions",
                         "报表任务用于表格报表；栅格数据以其填报记录跟踪", field="group",
                         fix="Choose a table form group (GET /api/forms).", fix_zh="请选择表格报表组（GET /api/forms）。")
    if not 1949 <= int(year) <= 2100:
        raise InputError(f"Year {year} is out of range", f"年份 {year} 超出范围", field="year",
                         fix="Give the reporting year, e.g. 2023.", fix_zh="请填写报告年份，如 2023。")
    units = _check_units(regions, known_regions)
    levels = check_levels(review_levels)
    with factory.begin() as s:
        task = ReportingTask(form_no=_clean_text(form_no, "form_no", "表号", required=True, limit=40), group=g.id,
                             year=int(year), title_zh=_clean_text(title_zh, "title_zh", "中文标题", required=True),
                             title_en=_clean_text(title_en, "title_en", "英文标题", required=False),
                             deadline=deadline_utc(deadline), regions=units, status="open", review_levels=levels,
                             created_by=principal.username, created_at=_now())
        s.add(task)
        s.flush()
        record(s, principal.actor, "reporting.task.create", "reporting_task", task.id,
               {"form_no": task.form_no, "group": g.id, "year": task.year, "deadline": deadline.isoformat(),
                "units": len(units), "review_levels": levels})
        return _task_dict(task)


def close_task(factory: sessionmaker[Session], principal: Principal, task_id: int) -> dict[str, Any]:
    """Close an open task (no more reminders); atomic: of two concurrent closes one gets 409."""
    _require(principal, MANAGERS, "close reporting tasks", "关闭报表任务")
    with factory.begin() as s:
        _get(s, principal, task_id)
        n = s.execute(update(ReportingTask).where(ReportingTask.id == task_id, ReportingTask.status == "open")
                      .values(status="closed")).rowcount  # type: ignore[attr-defined]
        if n != 1:
            raise _closed(task_id)
        record(s, principal.actor, "reporting.task.close", "reporting_task", task_id, {})
    with factory() as s:
        return _task_dict(_get(s, principal, task_id))


def _closed(task_id: int) -> StateError:
    return StateError(f"Reporting task {task_id} is closed", f"报表任务 {task_id} 已关闭", field="task_id",
                      fix="Create a new task for another round of reporting.", fix_zh="如需再次填报，请新建任务。")


def _task_dict(t: ReportingTask) -> dict[str, Any]:
    return {"id": t.id, "form_no": t.form_no, "group": t.group, "year": t.year, "title_zh": t.title_zh,
            "title_en": t.title_en, "deadline": t.deadline, "regions": list(t.regions), "status": t.status,
            "review_levels": list(t.review_levels or []),
            "created_by": t.created_by, "created_at": t.created_at}


def list_tasks(factory: sessionmaker[Session], principal: Principal, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Tasks the user may see, newest first, each with its progress counts (for the user's units)."""
    with factory() as s:
        tasks = [t for t in s.scalars(select(ReportingTask).order_by(ReportingTask.id.desc()))
                 if _sees_task(principal, t)]
        out = []
        for t in tasks:
            units = _progress_rows(s, t, _units_for(principal, t), now or _now())
            d = _task_dict(t)
            d["counts"] = _counts(units)
            out.append(d)
        return out


# ----------------------------------------------------------------------------- progress
@dataclass
class _Best:
    status: str = "missing"
    by: str | None = None
    at: datetime | None = None
    submission_id: int | None = None
    version: int | None = None


def _version_regions(v: SubmissionVersion) -> set[str]:
    data = v.data or {}
    return {str(r.get("region_code")) for key in ("statistics", "prices") for r in data.get(key, [])
            if isinstance(r, Mapping) and r.get("region_code")}


def _unit_status(s: Session, task: ReportingTask) -> dict[str, _Best]:
    """Region code → the best status of the submissions of the task's group and year holding its rows."""
    best: dict[str, _Best] = {}
    subs = s.scalars(select(FormSubmission).where(FormSubmission.group == task.group,
                                                  FormSubmission.year == task.year))
    for sub in subs:
        versions = list(s.scalars(select(SubmissionVersion).where(SubmissionVersion.submission_id == sub.id)
                                  .order_by(SubmissionVersion.version)))
        if not versions:
            continue
        counted = [versions[-1], *[v for v in versions[:-1] if v.status == "approved"]]
        for v in counted:
            at = v.reviewed_at or v.submitted_at or v.created_at
            for code in _version_regions(v):
                cur = best.setdefault(code, _Best())
                if RANK.get(v.status, 0) > RANK[cur.status]:
                    best[code] = _Best(v.status, v.created_by, at, sub.id, v.version)
    return best


def _responsible(s: Session, task: ReportingTask, code: str, users: Sequence[User]) -> list[str]:
    return sorted(u.username for u in users
                  if u.role == "submitter" and u.active
                  and ("*" in (u.forms or []) or task.group in (u.forms or []))
                  and in_region_scope(code, u.regions or []))


def _progress_rows(s: Session, task: ReportingTask, units: Sequence[str], now: datetime) -> list[dict[str, Any]]:
    status = _unit_status(s, task)
    users = list(s.scalars(select(User)))
    reminders: dict[str, list[ReportingReminder]] = {}
    for r in s.scalars(select(ReportingReminder).where(ReportingReminder.task_id == task.id)
                       .order_by(ReportingReminder.id)):
        reminders.setdefault(r.region_code, []).append(r)
    rows = []
    for code in units:
        b = status.get(code, _Best())
        sent = reminders.get(code, [])
        rows.append({"region_code": code, "status": b.status, "reported_by": b.by, "reported_at": b.at,
                     "submission_id": b.submission_id, "version": b.version,
                     "overdue": b.status in REMINDABLE and now > task.deadline,
                     "responsible": _responsible(s, task, code, users),
                     "reminders": len(sent), "last_reminded_at": sent[-1].sent_at if sent else None})
    return rows


def _counts(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    out = dict.fromkeys(RANK, 0)
    for r in rows:
        out[r["status"]] += 1
    out["total"] = len(rows)
    out["overdue"] = sum(1 for r in rows if r["overdue"])
    out["not_reported"] = sum(1 for r in rows if r["status"] in REMINDABLE)
    return out


def progress(factory: sessionmaker[Session], principal: Principal, task_id: int, *,
             now: datetime | None = None) -> dict[str, Any]:
    """The task with one row per reporting unit the user may see: status, who reported and when,
    overdue, the submitters responsible, and the reminders sent."""
    with factory() as s:
        task = _get(s, principal, task_id)
        rows = _progress_rows(s, task, _units_for(principal, task), now or _now())
        d = _task_dict(task)
        d["units"] = rows
        d["counts"] = _counts(rows)
        return d


# ----------------------------------------------------------------------------- reminders
def remind(factory: sessionmaker[Session], principal: Principal, task_id: int, *,
           regions: Sequence[str] | None = None, message: str = "",
           now: datetime | None = None) -> dict[str, Any]:
    """Record a reminder (催报) for each unit of ``regions`` (default: every unit not reported) that
    has not submitted; units that have submitted are skipped and listed. One audit line."""
    _require(principal, OVERSEERS, "send reminders", "催报")
    text = _clean_text(message, "message", "催报说明", required=False)
    with factory.begin() as s:
        task = _get(s, principal, task_id)
        if task.status != "open":
            raise _closed(task_id)
        rows = {r["region_code"]: r for r in _progress_rows(s, task, task.regions, now or _now())}
        wanted = ([c for c, r in rows.items() if r["status"] in REMINDABLE] if regions is None
                  else [str(c).strip() for c in regions])
        unknown = [c for c in wanted if c not in rows]
        if unknown:
            shown = ", ".join(unknown[:10])
            raise InputError(f"Not reporting units of task {task_id}: {shown}",
                             f"不是任务 {task_id} 的填报单位：{shown}", field="regions",
                             fix="Choose units listed in the task's progress.", fix_zh="请从任务进度中选择填报单位。")
        sent, skipped = [], []
        at = now or _now()
        for code in wanted:
            st = rows[code]["status"]
            if st not in REMINDABLE:
                skipped.append({"region_code": code, "status": st})
                continue
            s.add(ReportingReminder(task_id=task.id, region_code=code, status_at_reminder=st, message=text,
                                    sent_by=principal.username, sent_at=at))
            sent.append({"region_code": code, "status": st, "responsible": rows[code]["responsible"]})
        record(s, principal.actor, "reporting.remind", "reporting_task", task.id,
               {"sent": [r["region_code"] for r in sent], "skipped": [r["region_code"] for r in skipped],
                "message": text})
        return {"task_id": task.id, "sent": sent, "skipped": skipped, "sent_at": at}


def my_reminders(factory: sessionmaker[Session], principal: Principal) -> list[dict[str, Any]]:
    """Reminders addressed to the user: units in their regions, of tasks of their form groups
    (overseers see every reminder). Newest first; each says whether the unit has reported since."""
    with factory() as s:
        out = []
        tasks = {t.id: t for t in s.scalars(select(ReportingTask)) if _sees_task(principal, t)}
        status = {tid: _unit_status(s, t) for tid, t in tasks.items()}
        for r in s.scalars(select(ReportingReminder).order_by(ReportingReminder.id.desc())):
            task = tasks.get(r.task_id)
            if task is None or (principal.role not in OVERSEERS and not in_region_scope(r.region_code, principal.regions)):
                continue
            now_status = status[task.id].get(r.region_code, _Best()).status
            out.append({"id": r.id, "task_id": task.id, "form_no": task.form_no, "title_zh": task.title_zh,
                        "title_en": task.title_en, "group": task.group, "year": task.year,
                        "deadline": task.deadline, "region_code": r.region_code, "message": r.message,
                        "sent_by": r.sent_by, "sent_at": r.sent_at, "status_at_reminder": r.status_at_reminder,
                        "status_now": now_status})
        return out
