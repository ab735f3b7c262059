"""Accounts (admin only): list, create, change role, scope, status or password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam

from qingshan.api.deps import StoreDep, require_role
from qingshan.api.platform_schemas import UserIn, UserOut, UserPatch
from qingshan.platform import accounts
from qingshan.platform.accounts import Principal

__all__ = ["router"]

router = APIRouter(prefix="/api/users", tags=["users"])
Admin = Annotated[Principal, require_role("admin")]


def _out(p: Principal) -> UserOut:
    return UserOut(id=p.id, username=p.username, display_name=p.display_name, role=p.role,
                   regions=list(p.regions), forms=list(p.forms), department=p.department)


@router.get("", summary="List accounts · 账号列表")
def list_users(store: StoreDep, _admin: Admin) -> list[UserOut]:
    """Every account with its role and scope (所有账号及其角色与范围)."""
    return [UserOut.model_validate(u) for u in accounts.list_users(store)]


@router.post("", summary="Create an account · 新建账号", status_code=201)
def create_user(body: UserIn, store: StoreDep, admin: Admin) -> UserOut:
    """A new account; submitters need the form groups and regions they report for."""
    p = accounts.create_user(store, body.username, body.password, body.role, regions=body.regions,
                             forms=body.forms, display_name=body.display_name, actor=admin.actor,
                             department=body.department)
    return _out(p)


@router.patch("/{user_id}", summary="Change an account · 修改账号")
def update_user(
    user_id: Annotated[int, PathParam(ge=1, le=2**31 - 1, description="Account id 账号编号")],
    body: UserPatch,
    store: StoreDep,
    admin: Admin,
) -> UserOut:
    """Change role, scope, display name, status (active) or password."""
    p = accounts.update_user(store, user_id, actor=admin.actor, **body.model_dump(exclude_unset=True))
    return _out(p)
