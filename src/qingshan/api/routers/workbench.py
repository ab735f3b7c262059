"""The workflow pages (工作台): login, submitter and reviewer/accountant pages (static HTML + JS)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

from qingshan.api.routers.pages import STATIC_DIR

__all__ = ["router"]

router = APIRouter(prefix="/workbench", tags=["pages"], include_in_schema=False)
PAGES = STATIC_DIR / "workbench"


@router.get("")
def root() -> RedirectResponse:
    """Redirect to the login page."""
    return RedirectResponse("/workbench/")


@router.get("/")
def login_page() -> FileResponse:
    """Login page 登录."""
    return FileResponse(PAGES / "login.html", media_type="text/html")


@router.get("/submit")
def submit_page() -> FileResponse:
    """Submitter page 数据填报."""
    return FileResponse(PAGES / "submit.html", media_type="text/html")


@router.get("/review")
def review_page() -> FileResponse:
    """Reviewer and accountant page 审核与核算."""
    return FileResponse(PAGES / "review.html", media_type="text/html")


@router.get("/reporting")
def reporting_page() -> FileResponse:
    """Reporting tasks and reminders 报表任务与催报."""
    return FileResponse(PAGES / "reporting.html", media_type="text/html")


@router.get("/admin")
def admin_page() -> FileResponse:
    """Administration 系统管理: users and the audit log (the page itself checks the admin role;
    every call it makes is refused by the API for other roles)."""
    return FileResponse(PAGES / "admin.html", media_type="text/html")


@router.get("/submission")
def submission_page() -> FileResponse:
    """One submission version for review 填报审核 (``?id=&version=``)."""
    return FileResponse(PAGES / "submission.html", media_type="text/html")


@router.get("/catalog")
def catalog_page() -> FileResponse:
    """Data catalogue and accounting assembly 数据目录与核算组装."""
    return FileResponse(PAGES / "catalog.html", media_type="text/html")
