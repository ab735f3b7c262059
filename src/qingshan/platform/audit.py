"""The append-only audit log: who did what, when, to which object, with details.

Services call :func:`record` inside the transaction of the change they log, so a change and its
audit line are committed together or not at all. There is no update or delete function, the API
only reads the log, and the ORM refuses to update or delete an :class:`AuditEntry`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from qingshan.store.platform_models import AuditEntry

__all__ = ["Actor", "AuditLogImmutableError", "list_entries", "record"]


@dataclass(frozen=True)
class Actor:
    """Who acts: a username and role, or the system (``username=None``) for the worker and CLI."""

    username: str | None
    role: str | None = None


class AuditLogImmutableError(RuntimeError):
    """Raised when code tries to update or delete an audit line."""


@event.listens_for(AuditEntry, "before_update")
def _no_update(_mapper: Any, _conn: Any, target: AuditEntry) -> None:
    raise AuditLogImmutableError(f"audit line {target.id} is append-only (审计日志只能追加)")


@event.listens_for(AuditEntry, "before_delete")
def _no_delete(_mapper: Any, _conn: Any, target: AuditEntry) -> None:
    raise AuditLogImmutableError(f"audit line {target.id} is append-only (审计日志只能追加)")


def record(session: Session, actor: Actor | None, action: str, object_type: str,
           object_id: object = None, details: Mapping[str, Any] | None = None) -> AuditEntry:
    """Append one line to the log in ``session``'s transaction (committed with the change)."""
    entry = AuditEntry(
        at=datetime.now(UTC),
        actor=actor.username if actor else None,
        actor_role=actor.role if actor else None,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        details=dict(details or {}),
    )
    session.add(entry)
    return entry


def list_entries(factory: sessionmaker[Session], *, actor: str | None = None, action: str | None = None,
                 object_type: str | None = None, object_id: str | None = None,
                 since: datetime | None = None, until: datetime | None = None,
                 offset: int = 0, limit: int = 200) -> list[AuditEntry]:
    """Audit lines, newest first, filtered by equality on the given fields, and by time
    (``since`` ≤ at < ``until``; naive datetimes are taken as UTC). ``action`` ending in ``.*``
    matches a prefix (``submission.*``)."""
    q = select(AuditEntry).order_by(AuditEntry.id.desc())
    for col, val in (("actor", actor), ("object_type", object_type), ("object_id", object_id)):
        if val is not None:
            q = q.where(getattr(AuditEntry, col) == val)
    if action is not None:
        q = q.where(AuditEntry.action.startswith(action[:-1], autoescape=True) if action.endswith(".*")
                    else AuditEntry.action == action)
    if since is not None:
        q = q.where(AuditEntry.at >= _aware(since))
    if until is not None:
        q = q.where(AuditEntry.at < _aware(until))
    with factory() as s:
        return list(s.scalars(q.offset(offset).limit(limit)))


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)
