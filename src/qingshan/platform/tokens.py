"""API tokens for other government systems 接口令牌: scoped, expiring, revocable, audited.

A token is created by an admin for a named system with scopes — ``read:results`` (published results
in the catalogue and the results API), ``read:data`` (approved catalogue datasets shared with the
token's department or public), ``submit:data`` (upload forms and rasters for the token's regions and
form groups) — the regions it covers, an optional department and a lifetime (1–366 days). The value
(``qst_`` + 256 random bits) is shown once; the store keeps its SHA-256 only. It is sent as
``Authorization: Bearer qst_…`` (no cookie, so the CSRF origin check does not apply).

A token acts as a principal named ``token:<name>`` with role ``submitter`` (when it may submit) or
``viewer``: never an accountant, reviewer or admin. A revoked, expired or unknown ``qst_`` token is
refused with 401 (bilingual) and the refusal is audit-logged; creation and revocation are audit-logged,
and so is every action the token takes (as its principal).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from qingshan.core.errors import InputError
from qingshan.platform.accounts import Principal, normalize_username
from qingshan.platform.audit import Actor, record
from qingshan.platform.errors import AuthenticationError, NotFoundError, StateError
from qingshan.store.platform_models import ApiToken

__all__ = ["PREFIX", "SCOPES", "create_token", "is_api_token", "list_tokens", "resolve_token", "revoke_token"]

PREFIX = "qst_"
SCOPES = ("read:results", "read:data", "submit:data")
MAX_DAYS = 366
_TOKEN_ID_OFFSET = -1_000_000  # principal ids of tokens never collide with account ids (positive)


def _now() -> datetime:
    return datetime.now(UTC)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_api_token(value: str | None) -> bool:
    """Whether a bearer value is an API token (else it may be a login session token)."""
    return bool(value) and str(value).startswith(PREFIX)


def _token_dict(t: ApiToken) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "prefix": t.prefix, "department": t.department, "scopes": list(t.scopes),
            "regions": list(t.regions), "forms": list(t.forms), "created_by": t.created_by,
            "created_at": t.created_at, "expires_at": t.expires_at, "revoked_at": t.revoked_at,
            "revoked_by": t.revoked_by, "last_used_at": t.last_used_at,
            "active": t.revoked_at is None and t.expires_at > _now()}


def _check(scopes: list[str], regions: list[str], forms: list[str], days: float) -> None:
    from qingshan.platform.accounts import _check_scope

    bad = [s for s in scopes if s not in SCOPES]
    if not scopes or bad:
        raise InputError(f"Unknown or missing scopes: {', '.join(bad) or 'none given'}",
                         f"令牌权限范围无效或缺失：{', '.join(bad) or '未指定'}", field="scopes",
                         fix=f"Give one or more of: {', '.join(SCOPES)}.", fix_zh=f"请指定：{', '.join(SCOPES)}。")
    if not 0 < days <= MAX_DAYS:
        raise InputError(f"A token lives 1 to {MAX_DAYS} days, not {days}", f"令牌有效期应为 1–{MAX_DAYS} 天，而不是 {days}",
                         field="expires_in_days", fix="Give a lifetime in days; create a new token when it ends.",
                         fix_zh="请给出有效天数；到期后新建令牌。")
    _check_scope("submitter" if "submit:data" in scopes else "viewer", regions, forms)


def create_token(factory: sessionmaker[Session], admin: Principal, *, name: str, scopes: Iterable[str],
                 regions: Iterable[str] = (), forms: Iterable[str] = (), department: str = "",
                 expires_in_days: float = 90) -> tuple[dict[str, Any], str]:
    """A new token (admins only; its value is returned once and stored hashed); audit-logged."""
    from qingshan.platform.auth import check_role

    check_role(admin if admin.scopes is None else None, ("admin",))
    scopes, regions, forms = sorted(set(scopes)), [str(r).strip() for r in regions], [str(f).strip() for f in forms]
    name = normalize_username(name)
    _check(scopes, regions, forms, expires_in_days)
    value = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(token_sha256=_digest(value), prefix=value[:10], name=name, department=department.strip()[:80],
                   scopes=scopes, regions=regions, forms=forms, created_by=admin.username, created_at=_now(),
                   expires_at=_now() + timedelta(days=expires_in_days))
    with factory.begin() as s:
        s.add(row)
        s.flush()
        record(s, admin.actor, "token.create", "api_token", row.id,
               {"name": name, "scopes": scopes, "regions": regions, "forms": forms, "department": row.department,
                "expires_at": row.expires_at.isoformat()})
        return _token_dict(row), value


def list_tokens(factory: sessionmaker[Session]) -> list[dict[str, Any]]:
    """Every token (never its value), newest first."""
    with factory() as s:
        return [_token_dict(t) for t in s.scalars(select(ApiToken).order_by(ApiToken.id.desc()))]


def revoke_token(factory: sessionmaker[Session], admin: Principal, token_id: int) -> dict[str, Any]:
    """Revoke a token at once (one conditional UPDATE); audit-logged."""
    from qingshan.platform.auth import check_role

    check_role(admin if admin.scopes is None else None, ("admin",))
    with factory.begin() as s:
        res = s.execute(update(ApiToken).where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
                        .values(revoked_at=_now(), revoked_by=admin.username)
                        .execution_options(synchronize_session=False))
        row = s.get(ApiToken, token_id)
        if row is None:
            raise NotFoundError(f"No API token {token_id}", f"没有编号为 {token_id} 的接口令牌", field="token_id",
                                fix="List the tokens with GET /api/tokens.", fix_zh="用 GET /api/tokens 查看令牌。")
        if res.rowcount != 1:  # type: ignore[attr-defined]
            raise StateError(f"API token {token_id} is already revoked", f"接口令牌 {token_id} 已被吊销",
                             field="token_id", fix="Nothing to do.", fix_zh="无需操作。")
        record(s, admin.actor, "token.revoke", "api_token", token_id, {"name": row.name})
        s.refresh(row)
        return _token_dict(row)


def _refused(factory: sessionmaker[Session], row: ApiToken | None, why_en: str, why_zh: str) -> AuthenticationError:
    with factory.begin() as s:
        record(s, Actor(f"token:{row.name}" if row else None, "token"), "token.refused", "api_token",
               row.id if row else None, {"reason": why_en})
    return AuthenticationError(f"API token refused: {why_en}", f"接口令牌被拒绝：{why_zh}", field="authorization",
                               fix="Ask the platform administrator for a new token.", fix_zh="请向平台管理员申请新的令牌。")


def resolve_token(factory: sessionmaker[Session], value: str) -> Principal:
    """The principal of a live API token; a revoked, expired or unknown one is a 401 (audit-logged)."""
    now = _now()
    with factory() as s:
        row = s.scalars(select(ApiToken).where(ApiToken.token_sha256 == _digest(value))).first()
    if row is None:
        raise _refused(factory, None, "unknown token", "令牌不存在")
    if row.revoked_at is not None:
        raise _refused(factory, row, f"revoked at {row.revoked_at:%Y-%m-%d %H:%M} UTC",
                       f"已于 {row.revoked_at:%Y-%m-%d %H:%M} UTC 吊销")
    if row.expires_at <= now:
        raise _refused(factory, row, f"expired at {row.expires_at:%Y-%m-%d %H:%M} UTC",
                       f"已于 {row.expires_at:%Y-%m-%d %H:%M} UTC 过期")
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
        with factory.begin() as s:
            s.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
    submit = "submit:data" in row.scopes
    return Principal(id=_TOKEN_ID_OFFSET - row.id, username=f"token:{row.name}", role="submitter" if submit else "viewer",
                     regions=tuple(row.regions), forms=tuple(row.forms) if submit else (),
                     display_name=row.name, department=row.department, scopes=tuple(row.scopes))
