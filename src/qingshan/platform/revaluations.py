"""Revaluations requested on the platform: the new run is recorded with its requester like an accounting job.

A revaluation runs in the request (it takes well under a second), so its job row is written already
``succeeded``; the row names the requester, so the four-eyes rule of approval and publication holds for
revalued runs as for computed ones, and GET /api/jobs lists it (kind ``revalue``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from qingshan.platform.accounts import Principal
from qingshan.platform.audit import record
from qingshan.store.platform_models import Job

__all__ = ["record_revaluation"]


def record_revaluation(factory: sessionmaker[Session], principal: Principal, *, parent_id: str, run_id: str,
                       params: dict[str, Any]) -> str:
    """Record a finished revaluation as a succeeded ``revalue`` job of ``principal`` and audit it; the job id."""
    now = datetime.now(UTC)
    job = Job(id=str(uuid.uuid4()), kind="revalue", status="succeeded", params={**params, "parent_run_id": parent_id},
              requested_by=principal.username, progress=1.0, step="done", run_id=run_id, created_at=now,
              started_at=now, finished_at=now)
    with factory.begin() as s:
        s.add(job)
        record(s, principal.actor, "run.revalue", "run", run_id, {"parent_run_id": parent_id, "job": job.id})
    return job.id
