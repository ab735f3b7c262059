"""Login sessions: a random token in an HttpOnly cookie (or a Bearer header), stored hashed in the DB.

The token (256 bits from :func:`secrets.token_urlsafe`) is given to the client once; the
database keeps only its SHA-256, so a database leak does not leak live sessions. Logging out
deletes the row, and so does a password change or deactivation (every session of the account);
a session ends after an idle time and after an absolute lifetime (:class:`SessionPolicy`); expired
rows are refused and removed on use.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from qingshan.platform.accounts import ROLES, Principal, authenticate, get_principal
from qingshan.platform.audit import record
from qingshan.platform.errors import (
    AuthenticationError,
    PermissionDeniedError,
    TooManyAttemptsError,
)
from qingshan.store.platform_models import LoginFailure, UserSession

__all__ = ["COOKIE_NAME", "SessionPolicy", "check_role", "login", "logout", "resolve_session"]

COOKIE_NAME = "qingshan_session"
SESSION_HOURS = 12  # absolute lifetime: one working day; a new login is needed after it
SESSION_IDLE_MINUTES = 60  # a session unused for this long ends


@dataclass(frozen=True)
class SessionPolicy:
    """How long a session lives: ``idle_minutes`` without a request, ``absolute_hours`` in total."""

    idle_minutes: float = SESSION_IDLE_MINUTES
    absolute_hours: float = SESSION_HOURS


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)  # SQLite returns naive UTC


# Throttling counts failed logins per (account, IP) and per IP — never per account alone, so that
# nobody can lock a victim out: the victim's own address (or any other) is not affected.
MAX_FAILED_LOGINS = 5  # per (account, IP) within LOCKOUT_MINUTES
MAX_FAILED_LOGINS_PER_IP = 50  # per IP, all accounts together, within LOCKOUT_MINUTES
LOCKOUT_MINUTES = 15
KEEP_FAILURES_HOURS = 24  # failure rows older than this are deleted


def _too_many(username: str, minutes: int) -> TooManyAttemptsError:
    return TooManyAttemptsError(
        f"Too many failed logins for '{username}' from this address; try again in {minutes} minutes",
        f"该地址登录账号 '{username}' 失败次数过多，请 {minutes} 分钟后再试",
        field="username",
        fix="Wait, or ask an administrator to reset the password.",
        fix_zh="请稍后再试，或请管理员重置密码。",
    )


def _check_throttle(factory: sessionmaker[Session], username: str, ip: str) -> None:
    """Refuse a login after MAX_FAILED_LOGINS failures of ``username`` from ``ip``, or
    MAX_FAILED_LOGINS_PER_IP failures from ``ip``, in the last LOCKOUT_MINUTES (shared by every
    web process through the store)."""
    since = datetime.now(UTC) - timedelta(minutes=LOCKOUT_MINUTES)
    recent = (LoginFailure.at >= since, LoginFailure.ip == ip)
    with factory() as s:
        pair = s.scalar(select(func.count()).where(*recent, LoginFailure.username == username)) or 0
        per_ip = s.scalar(select(func.count()).where(*recent)) or 0
    if pair >= MAX_FAILED_LOGINS or per_ip >= MAX_FAILED_LOGINS_PER_IP:
        raise _too_many(username, LOCKOUT_MINUTES)


def _record_failure(factory: sessionmaker[Session], username: str, ip: str) -> None:
    now = datetime.now(UTC)
    with factory.begin() as s:
        s.execute(delete(LoginFailure).where(LoginFailure.at < now - timedelta(hours=KEEP_FAILURES_HOURS)))
        s.add(LoginFailure(at=now, username=username, ip=ip))
        record(s, None, "auth.login_failed", "user", None, {"username": username, "ip": ip})


def login(factory: sessionmaker[Session], username: str, password: str, *, ip: str = "unknown",
          policy: SessionPolicy | None = None, hours: float | None = None) -> tuple[Principal, str]:
    """Check the password and open a session; returns the user and the session token.

    After MAX_FAILED_LOGINS failures of one account from one IP (or MAX_FAILED_LOGINS_PER_IP from
    one IP) within LOCKOUT_MINUTES, logins from that IP are refused (:class:`TooManyAttemptsError`,
    HTTP 429) — a brake on password guessing that cannot lock the account's owner out. ``hours``
    overrides the policy's absolute lifetime (tests).
    """
    policy = policy or SessionPolicy()
    name = unicodedata.normalize("NFKC", username).strip()[:80]
    ip = (ip or "unknown")[:64]
    _check_throttle(factory, name, ip)
    try:
        principal = authenticate(factory, name, password)
    except AuthenticationError:
        _record_failure(factory, name, ip)
        raise
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    absolute = timedelta(hours=policy.absolute_hours if hours is None else hours)
    with factory.begin() as s:
        s.execute(delete(LoginFailure).where(LoginFailure.username == name, LoginFailure.ip == ip))
        s.add(UserSession(token_sha256=_digest(token), user_id=principal.id, created_at=now,
                          expires_at=now + min(absolute, timedelta(minutes=policy.idle_minutes))))
        record(s, principal.actor, "auth.login", "user", principal.id, {"ip": ip})
    return principal, token


def logout(factory: sessionmaker[Session], token: str) -> None:
    """End the session of ``token`` (no error when it is unknown)."""
    principal = resolve_session(factory, token)
    with factory.begin() as s:
        s.execute(delete(UserSession).where(UserSession.token_sha256 == _digest(token)))
        if principal is not None:
            record(s, principal.actor, "auth.logout", "user", principal.id, {})


def resolve_session(factory: sessionmaker[Session], token: str | None,
                    policy: SessionPolicy | None = None) -> Principal | None:
    """The active user of a live session token, else ``None``.

    ``expires_at`` is the idle deadline: each use moves it to now + idle (at most to the absolute
    end, created_at + absolute_hours; written at most once a minute). An expired session is deleted.
    """
    if not token:
        return None
    policy = policy or SessionPolicy()
    now = datetime.now(UTC)
    with factory() as s:
        row = s.get(UserSession, _digest(token))
        if row is None:
            return None
        user_id, expires, created = row.user_id, _aware(row.expires_at), _aware(row.created_at)
    end = created + timedelta(hours=policy.absolute_hours)
    if expires <= now or end <= now:
        with factory.begin() as s:
            s.execute(delete(UserSession).where(UserSession.token_sha256 == _digest(token)))
        return None
    moved = min(now + timedelta(minutes=policy.idle_minutes), end)
    if moved - expires > timedelta(minutes=1):
        with factory.begin() as s:
            s.execute(update(UserSession).where(UserSession.token_sha256 == _digest(token))
                      .values(expires_at=moved))
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
