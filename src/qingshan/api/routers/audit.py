"""The audit log, read-only (no endpoint changes or deletes a line)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from qingshan.api.deps import StoreDep, require_role
from qingshan.api.platform_schemas import AuditOut
from qingshan.platform import audit
from qingshan.platform.accounts import Principal

__all__ = ["router"]

router = APIRouter(prefix="/api/audit", tags=["audit"])


Reader = Annotated[Principal, require_role("admin", "accountant")]
Actor = Annotated[str | None, Query(max_length=80, description="Username 用户名")]
Action = Annotated[str | None, Query(max_length=60, description="e.g. submission.approve, or submission.* 操作")]
ObjectType = Annotated[str | None, Query(max_length=40, description="user, submission, job, run 对象类型")]
ObjectId = Annotated[str | None, Query(max_length=80, description="Object id 对象编号")]
Since = Annotated[datetime | None, Query(description="From (inclusive, ISO 8601; UTC if no zone) 起始时间")]
Until = Annotated[datetime | None, Query(description="Until (exclusive) 截止时间")]
EXPORT_ROWS = 100_000


@router.get("", summary="Audit log · 审计日志")
def list_audit(
    store: StoreDep,
    _user: Reader,
    actor: Actor = None,
    action: Action = None,
    object_type: ObjectType = None,
    object_id: ObjectId = None,
    since: Since = None,
    until: Until = None,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AuditOut]:
    """Who did what and when, newest first (谁在何时做了什么，最新在前)."""
    rows = audit.list_entries(store, actor=actor, action=action, object_type=object_type, object_id=object_id,
                              since=since, until=until, offset=offset, limit=limit)
    return [AuditOut.model_validate(r) for r in rows]


@router.get("/export.csv", summary="Export the audit log · 导出审计日志")
def export_audit(
    store: StoreDep,
    user: Reader,
    actor: Actor = None,
    action: Action = None,
    object_type: ObjectType = None,
    object_id: ObjectId = None,
    since: Since = None,
    until: Until = None,
) -> Response:
    """The filtered log as UTF-8 CSV (with BOM, for Excel), newest first, at most 100 000 lines; the
    export itself is not logged (reading changes nothing)."""
    rows = audit.list_entries(store, actor=actor, action=action, object_type=object_type, object_id=object_id,
                              since=since, until=until, limit=EXPORT_ROWS)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id", "at", "actor", "actor_role", "action", "object_type", "object_id", "details"])
    for r in rows:
        w.writerow([r.id, r.at.isoformat(), r.actor or "", r.actor_role or "", r.action, r.object_type,
                    r.object_id or "", json.dumps(r.details, ensure_ascii=False, sort_keys=True, default=str)])
    return Response("\ufeff" + buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'})
