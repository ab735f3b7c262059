"""The audit log, read-only (no endpoint changes or deletes a line)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from qingshan.api.deps import StoreDep, require_role
from qingshan.api.platform_schemas import AuditOut
from qingshan.platform import audit
from qingshan.platform.accounts import Principal

__all__ = ["router"]

router = APIRouter(prefix="/api/audit", tags=["audit"])


@router.get("", summary="Audit log · 审计日志")
def list_audit(
    store: StoreDep,
    _user: Annotated[Principal, require_role("admin", "accountant")],
    actor: Annotated[str | None, Query(description="Username 用户名")] = None,
    action: Annotated[str | None, Query(description="e.g. submission.approve 操作")] = None,
    object_type: Annotated[str | None, Query(description="user, submission, job, run 对象类型")] = None,
    object_id: Annotated[str | None, Query(description="Object id 对象编号")] = None,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AuditOut]:
    """Who did what and when, newest first (谁在何时做了什么，最新在前)."""
    rows = audit.list_entries(store, actor=actor, action=action, object_type=object_type, object_id=object_id,
                              offset=offset, limit=limit)
    return [AuditOut.model_validate(r) for r in rows]
