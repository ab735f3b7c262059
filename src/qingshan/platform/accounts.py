"""Accounts and roles; passwords hashed with Argon2id (argon2-cffi, RFC 9106 defaults).

Roles
-----
admin       manages accounts; may do everything.
accountant  starts accountings from approved data, approves and publishes runs, reviews data.
reviewer    reviews submitted forms (approve / reject).
submitter   downloads templates and submits forms, only for the form groups and region codes
            assigned (``forms``, ``regions``; ``"*"`` = all).
viewer      a logged-in reader (other departments): published results, the form list.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from qingshan.core.errors import InputError
from qingshan.core.tables import FORMULA_START
from qingshan.platform.audit import Actor, record
from qingshan.platform.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
)
from qingshan.store.platform_models import User, UserSession

__all__ = [
    "ROLES",
    "ROLE_ZH",
    "Principal",
    "authenticate",
    "create_user",
    "get_principal",
    "hash_password",
    "in_region_scope",
    "list_users",
    "normalize_username",
    "require_form",
    "require_regions",
    "update_user",
    "verify_password",
]

ROLES = ("admin", "accountant", "submitter", "reviewer", "viewer")
ROLE_ZH = {"admin": "管理员", "accountant": "核算员", "submitter": "填报员", "reviewer": "审核员", "viewer": "查看者"}
MIN_PASSWORD = 10  # characters (NIST SP 800-63B §5.1.1.2 asks for at least 8; 10 for officials' accounts)
MAX_USERNAME = 80  # characters (users.username is String(80))
REGION_CODE = re.compile(r"\d{6}")  # a GB/T 2260 administrative division code


@dataclass(frozen=True)
class Principal:
    """A logged-in user as the services see it (detached from the database)."""

    id: int
    username: str
    role: str
    regions: tuple[str, ...] = ()
    forms: tuple[str, ...] = ()
    display_name: str = ""
    department: str = ""  # the department (部门) the account works for: catalogue visibility
    scopes: tuple[str, ...] | None = None  # an API token's scopes (qingshan.platform.tokens); None: a login

    @property
    def actor(self) -> Actor:
        """The audit-log actor of this user."""
        return Actor(self.username, self.role)

    @classmethod
    def of(cls, user: User) -> Principal:
        """From an ORM row."""
        return cls(user.id, user.username, user.role, tuple(user.regions or ()), tuple(user.forms or ()),
                   user.display_name or "", user.department or "")


@lru_cache(maxsize=1)
def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()


def hash_password(password: str, username: str | None = None) -> str:
    """Argon2id hash (salted, encoded with its parameters) of a password that meets the policy."""
    check_password(password, username)
    return str(_hasher().hash(password))


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches ``password_hash``."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(_hasher().verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash of a random secret, verified when the user does not exist (equal timing)."""
    import secrets

    return str(_hasher().hash(secrets.token_urlsafe(24)))


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (``qingshan/data/security/common_passwords.txt``, from
    SecLists, MIT licence; see the file's header), case-folded."""
    text = (resources.files("qingshan.data") / "security" / "common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().casefold() for line in text.splitlines()
                     if line.strip() and not line.startswith("#"))


def check_password(password: str, username: str | None = None) -> None:
    """Refuse a password shorter than MIN_PASSWORD, on the common-password list, or equal to the username."""
    if len(password) < MIN_PASSWORD:
        raise InputError(
            f"Password too short: at least {MIN_PASSWORD} characters",
            f"密码太短：至少 {MIN_PASSWORD} 个字符",
            field="password",
            fix="Choose a longer password (a passphrase of several words is best).",
            fix_zh="请使用更长的密码（建议由几个词组成的短语）。",
        )
    folded = unicodedata.normalize("NFKC", password).casefold()
    if folded in common_passwords() or (username and folded == unicodedata.normalize("NFKC", username).casefold()):
        raise InputError(
            "Password is too common (on the list of most-used passwords) or equal to the username",
            "密码过于常见（在常用密码列表中）或与用户名相同",
            field="password",
            fix="Choose a password nobody would guess: several unrelated words, or a password manager's.",
            fix_zh="请选择他人难以猜到的密码：几个不相关的词组成的短语，或由密码管理器生成。",
        )


def normalize_username(username: str) -> str:
    """The NFKC form of ``username`` (full-width look-alikes become ASCII, so ``ａｄｍｉｎ`` is ``admin``);
    empty names, control, format (bidi overrides, zero-width) and separator characters, and a first character
    that spreadsheet programs read as a formula (``=``, ``+``, ``-``, ``@``) are refused."""
    name = unicodedata.normalize("NFKC", username).strip()
    bad = sorted({f"U+{ord(c):04X}" for c in name if unicodedata.category(c)[0] in "CZ"})
    if not name:
        what, what_zh = "is empty", "为空"
    elif bad:
        what, what_zh = f"contains control, direction or space characters ({', '.join(bad)})", \
            f"含有控制、方向或空白字符（{', '.join(bad)}）"
    elif len(name) > MAX_USERNAME:
        what, what_zh = f"is longer than {MAX_USERNAME} characters", f"超过 {MAX_USERNAME} 个字符"
    elif name.startswith(FORMULA_START):  # the audit log's CSV export names the actor
        what = f"begins with '{name[0]}', which spreadsheet programs run as a formula in the audit log's CSV export"
        what_zh = f"以“{name[0]}”开头，电子表格软件打开审计日志 CSV 时会将其当作公式执行"
    else:
        return name
    raise InputError(f"Username {what}", f"用户名{what_zh}", field="username",
                     fix="Use letters, digits, '-', '_' or '.', beginning with a letter or digit, e.g. dept-water.",
                     fix_zh="请使用字母、数字、“-”“_”或“.”，并以字母或数字开头，例如 dept-water。")


def _check_scope(role: str, regions: Sequence[str], forms: Sequence[str]) -> None:
    """Regions are GB/T 2260 codes or ``*``; forms are form groups of the catalogue or ``*``; a
    submitter needs at least one of each."""
    from qingshan.platform.forms import form_groups

    bad_regions = [r for r in regions if r != "*" and not REGION_CODE.fullmatch(r)]
    if bad_regions:
        raise InputError(f"Not a region code: {', '.join(map(repr, bad_regions))}",
                         f"不是有效的区划代码：{', '.join(bad_regions)}", field="regions",
                         fix='Give 6-digit GB/T 2260 codes (e.g. 360100 for Nanchang) or "*".',
                         fix_zh="请填写 6 位 GB/T 2260 区划代码（如南昌市 360100）或“*”。")
    groups = form_groups()
    bad_forms = [f for f in forms if f != "*" and f not in groups]
    if bad_forms:
        raise InputError(f"Unknown form group: {', '.join(map(repr, bad_forms))}",
                         f"未知的报表组：{', '.join(bad_forms)}", field="forms",
                         fix=f"Use one of: {', '.join(groups)}, or \"*\".",
                         fix_zh=f"可用报表组：{', '.join(groups)}，或“*”。")
    if role == "submitter" and (not regions or not forms):
        raise InputError("A submitter needs the regions and form groups they report for",
                         "填报员须分配填报的区划和报表组", field="regions" if not regions else "forms",
                         fix="Give regions (e.g. 360100) and forms (e.g. products).",
                         fix_zh="请分配区划（如 360100）和报表组（如 products）。")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InputError(
            f"Unknown role '{role}'",
            f"未知角色 '{role}'",
            field="role",
            fix=f"Use one of: {', '.join(ROLES)}.",
            fix_zh=f"可用角色：{', '.join(f'{r}（{ROLE_ZH[r]}）' for r in ROLES)}。",
        )


def _now() -> datetime:
    return datetime.now(UTC)


def create_user(factory: sessionmaker[Session], username: str, password: str, role: str, *,
                regions: Iterable[str] = (), forms: Iterable[str] = (), display_name: str = "",
                actor: Actor | None = None, department: str = "") -> Principal:
    """Create an account (audit-logged); a taken username is a :class:`ConflictError`."""
    _check_role(role)
    username = normalize_username(username)
    regions, forms = [str(r).strip() for r in regions], [str(f).strip() for f in forms]
    _check_scope(role, regions, forms)
    user = User(username=username, display_name=display_name, password_hash=hash_password(password, username),
                role=role, regions=list(regions), forms=list(forms), active=True, created_at=_now(),
                department=department.strip()[:80])
    try:
        with factory.begin() as s:
            s.add(user)
            s.flush()
            record(s, actor, "user.create", "user", user.id,
                   {"username": username, "role": role, "regions": list(regions), "forms": list(forms),
                    "department": user.department})
    except IntegrityError as exc:
        raise ConflictError(f"Username '{username}' is taken", f"用户名 '{username}' 已被使用",
                            field="username", fix="Choose another username.", fix_zh="请换一个用户名。") from exc
    return Principal.of(user)


def update_user(factory: sessionmaker[Session], user_id: int, *, actor: Actor | None, role: str | None = None,
                regions: Sequence[str] | None = None, forms: Sequence[str] | None = None,
                active: bool | None = None, password: str | None = None,
                display_name: str | None = None, department: str | None = None) -> Principal:
    """Change an account's role, scope, status or password (audit-logged; the hash is not logged).

    A password change or a deactivation ends every session of the account."""
    changes: dict[str, object] = {}
    with factory.begin() as s:
        user = s.get(User, user_id)
        if user is None:
            raise NotFoundError(f"No user {user_id}", f"没有编号为 {user_id} 的用户", field="user_id",
                                fix="List the users with GET /api/users.", fix_zh="用 GET /api/users 查看用户。")
        if role is not None:
            _check_role(role)
            user.role = changes["role"] = role
        if regions is not None:
            user.regions = changes["regions"] = list(regions)
        if forms is not None:
            user.forms = changes["forms"] = list(forms)
        if active is not None:
            user.active = changes["active"] = active
        if display_name is not None:
            user.display_name = changes["display_name"] = display_name
        if department is not None:
            user.department = changes["department"] = department.strip()[:80]
        if role is not None or regions is not None or forms is not None:
            _check_scope(user.role, list(user.regions or ()), list(user.forms or ()))
        if password is not None:
            user.password_hash = hash_password(password, user.username)
            changes["password"] = "changed"
        if password is not None or active is False:
            n = s.execute(delete(UserSession).where(UserSession.user_id == user.id)).rowcount  # type: ignore[attr-defined]
            changes["sessions_ended"] = int(n or 0)
        record(s, actor, "user.update", "user", user.id, {"username": user.username, **changes})
        return Principal.of(user)


def list_users(factory: sessionmaker[Session]) -> list[User]:
    """All accounts, by username."""
    with factory() as s:
        return list(s.scalars(select(User).order_by(User.username)))


def get_principal(factory: sessionmaker[Session], user_id: int) -> Principal | None:
    """The active account ``user_id``, or ``None``."""
    with factory() as s:
        user = s.get(User, user_id)
        return Principal.of(user) if user is not None and user.active else None


def authenticate(factory: sessionmaker[Session], username: str, password: str) -> Principal:
    """The account whose password matches; a uniform :class:`AuthenticationError` otherwise.

    An unknown or disabled user costs one Argon2 verification too (of a dummy hash), so the time
    of the answer does not tell which usernames exist."""
    name = unicodedata.normalize("NFKC", username).strip()
    with factory() as s:
        user = s.scalars(select(User).where(User.username == name)).first()
    if user is None or not user.active:
        verify_password(_dummy_hash(), password)
        ok = False
    else:
        ok = verify_password(user.password_hash, password)
    if not ok or user is None:
        raise AuthenticationError(
            "Wrong username or password, or the account is disabled",
            "用户名或密码错误，或账号已停用",
            field="password",
            fix="Check the username and password; ask an administrator to reset it.",
            fix_zh="请检查用户名和密码；如需重置请联系管理员。",
        )
    return Principal.of(user)


def _prefix(code: str) -> str:
    """The code prefix a scope code covers: 360000 → 36, 360100 → 3601, 360102 → 360102."""
    code = code.strip()
    p = code
    while len(p) > 2 and p.endswith("00"):
        p = p[:-2]
    return p if len(code) == 6 else code


def in_region_scope(code: str, scope: Iterable[str]) -> bool:
    """Whether region ``code`` lies in one of the assigned codes (a province or city covers its
    children by GB/T 2260 prefix; ``"*"`` covers all)."""
    code = str(code).strip()
    return any(s == "*" or code.startswith(_prefix(s)) for s in scope)


def require_regions(principal: Principal, codes: Iterable[str]) -> list[str]:
    """Codes outside a submitter's assigned regions (other roles are not restricted)."""
    if principal.role != "submitter":
        return []
    return sorted({c for c in codes if not in_region_scope(c, principal.regions)})


def require_form(principal: Principal, group: str) -> None:
    """Refuse a submitter a form group that is not assigned to them."""
    if principal.role == "submitter" and "*" not in principal.forms and group not in principal.forms:
        raise PermissionDeniedError(
            f"Form group '{group}' is not assigned to user '{principal.username}'",
            f"报表组 '{group}' 未分配给用户 '{principal.username}'",
            field="group",
            fix=f"Assigned groups: {', '.join(principal.forms) or 'none'}; ask an administrator.",
            fix_zh=f"已分配的报表组：{', '.join(principal.forms) or '无'}；如需更改请联系管理员。",
        )
