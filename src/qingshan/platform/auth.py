"""Login sessions: a random token in an HttpOnly cookie (or a Bearer header), stored hashed in the DB.

The token (256 bits from :func:`secrets.token_urlsafe`) is given to the client once; the
database keeps only its SHA-256, so a database leak does not leak live sessions. Logging out
deletes the row; expired rows are refused and removed on use.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from qingshan.platform.accounts import ROLES, Principal, authenticate, get_principal
from qingshan.platform.audit import record
from qingshan.platform.errors import (
    AuthenticationError,
    PermissionDeniedError,
    TooManyAttemptsError,
)
from qingshan.store.platform_models import AuditEntry, UserSession

__all__ = ["COOKIE_NAME", "check_role", "login", "logout", "resolve_session"]

COOKIE_NAME = "qingshan_session"
SESSION_HOURS = 12  # one working day; a new login is needed after it


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)  # SQLite returns naive UTC


MAX_FAILED_LOGINS = 5  # per account within LOCKOUT_MINUTES; then logins are refused until it passes
LOCKOUT_MINUTES = 10


def _check_not_locked(factory: sessionmaker[Session], username: str) -> None:
    """Refuse a login after MAX_FAILED_LOGINS failures of ``username`` in the last LOCKOUT_MINUTES.

    Counted from the audit log, so the limit holds across web processes sharing one store.
    """
    since = datetime.now(UTC) - timedelta(minutes=LOCKOUT_MINUTES)
    with factory() as s:
        recent = s.scalars(select(AuditEntry.details).where(
            AuditEntry.action == "auth.login_failed", AuditEntry.at >= since)).all()
    failures = sum(1 for d in recent if (d or {}).get("username") == username[:80])
    if failures >= MAX_FAILED_LOGINS:
        raise TooManyAttemptsError(
            f"Too many failed logins for '{username}'; try again in {LOCKOUT_MINUTES} minutes",
            f"账号 '{username}' 登录失败次数过多，请 {LOCKOUT_MINUTES} 分钟后再试",
            field="username",
            fix="Wait, or ask an administrator to reset the password.",
            fix_zh="请稍后再试，或请管理员重置密码。",
        )


def login(factory: sessionmaker[Session], username: str, password: str, *,
          hours: float = SESSION_HOURS) -> tuple[Principal, str]:
    """Check the password and open a session; returns the user and the session token.

    After MAX_FAILED_LOGINS failures within LOCKOUT_MINUTES the account's logins are refused
    (:class:`TooManyAttemptsError`, HTTP 429) — a brake on password guessing.
    """
    _check_not_locked(factory, username)
    try:
        principal = authenticate(factory, username, password)
    except AuthenticationError:
        with factory.begin() as s:
            record(s, None, "auth.login_failed", "user", None, {"username": username[:80]})
        raise
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with factory.begin() as s:
        s.add(UserSession(token_sha256=_digest(token), user_id=principal.id, created_at=now,
                          expires_at=now + timedelta(hours=hours)))
        record(s, principal.actor, "auth.login", "user", principal.id, {})
    return principal, token


def logout(factory: sessionmaker[Session], token: str) -> None:
    """End the session of ``token`` (no error when it is unknown)."""
    principal = resolve_session(factory, token)
    with factory.begin() as s:
        s.execute(delete(UserSession).where(UserSession.token_sha256 == _digest(token)))
        if principal is not None:
            record(s, principal.actor, "auth.logout", "user", principal.id, {})


def resolve_session(factory: sessionmaker[Session], token: str | None) -> Principal | None:
    """The active user of a live session token, else ``None``."""
    if not token:
        return None
    with factory() as s:
        row = s.get(UserSession, _digest(token))
        if row is None:
            return None
        user_id, expires = row.user_id, _aware(row.expires_at)
    if expires <= datetime.now(UTC):
        with factory.begin() as s:
            s.execute(delete(UserSession).where(UserSession.token_sha256 == _digest(token)))
        return None
    return get_principal(factory, user_id)


def check_role(principal: Principal | None, roles: Iterable[str]) -> Principal:
    """``principal`` if logged in with one of ``roles`` (admin always passes); else 401 or 403."""
    allowed = set(roles)
    unknown = allowed - set(ROLES)
    assert not unknown, f"unknown roles {unknown}"
    if principal is None:
        raise AuthenticationError(
            "Login required", "需要登录", field="session",
            fix="Log in at /workbench/ or POST /api/auth/login.",
            fix_zh="请在 /workbench/ 登录，或调用 POST /api/auth/login。",
        )
    if principal.role != "admin" and principal.role not in allowed:
        raise PermissionDeniedError(
            f"Role '{principal.role}' may not do this (needs: {', '.join(sorted(allowed | {'admin'}))})",
            f"角色 '{principal.role}' 无权执行此操作（需要：{', '.join(sorted(allowed | {'admin'}))}）",
            field="role",
            fix="Ask an administrator for the role, or log in with another account.",
            fix_zh="请联系管理员分配角色，或使用其他账号登录。",
        )
    return principal
