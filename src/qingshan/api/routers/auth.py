"""Login, logout and the current user (HttpOnly session cookie; Bearer token for scripts)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from qingshan.api.deps import PrincipalDep, SettingsDep, StoreDep, _bearer, _cookie, session_policy
from qingshan.api.platform_schemas import LoginIn, LoginOut, UserOut
from qingshan.platform import auth
from qingshan.platform.auth import check_role

__all__ = ["router"]

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _user_out(p: object) -> UserOut:
    return UserOut(id=p.id, username=p.username, display_name=p.display_name, role=p.role,  # type: ignore[attr-defined]
                   regions=list(p.regions), forms=list(p.forms),  # type: ignore[attr-defined]
                   department=getattr(p, "department", ""))


@router.post("/login", summary="Log in · 登录")
def login(body: LoginIn, request: Request, response: Response, store: StoreDep, settings: SettingsDep) -> LoginOut:
    """Check the password and open a session; the token is also set as an HttpOnly cookie.
    Failed logins are throttled per (account, IP) and per IP (429)."""
    ip = request.client.host if request.client else "unknown"
    principal, token = auth.login(store, body.username, body.password, ip=ip, policy=session_policy(settings))
    response.set_cookie(auth.COOKIE_NAME, token, httponly=True, samesite="lax", secure=settings.secure_cookies,
                        max_age=int(settings.session_absolute_hours * 3600), path="/")
    return LoginOut(user=_user_out(principal), token=token)


@router.post("/logout", summary="Log out · 退出登录", status_code=204)
def logout(
    response: Response,
    store: StoreDep,
    cookie: Annotated[str | None, Depends(_cookie)] = None,
    bearer: Annotated[object, Depends(_bearer)] = None,
) -> Response:
    """End the session (no error when not logged in)."""
    token = getattr(bearer, "credentials", None) or cookie
    if token:
        auth.logout(store, token)
    response = Response(status_code=204)
    response.delete_cookie(auth.COOKIE_NAME, path="/")
    return response


@router.get("/me", summary="Current user · 当前用户")
def me(principal: PrincipalDep) -> UserOut:
    """The logged-in user (401 when not logged in)."""
    return _user_out(check_role(principal, ("admin", "accountant", "submitter", "reviewer", "viewer")))
