"""The dashboard page and the health check."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from qingshan import __version__
from qingshan.api.schemas import Health

__all__ = ["STATIC_DIR", "router"]

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(tags=["pages"])


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    """The single-page dashboard."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html")


@router.get("/compensation", include_in_schema=False)
def compensation_page() -> FileResponse:
    """The eco-compensation page (生态补偿分配): a fund split among regions by a rule."""
    return FileResponse(STATIC_DIR / "compensation.html", media_type="text/html")


@router.get("/healthz", summary="Health check · 健康检查")
def healthz() -> Health:
    """Liveness: the service answers (服务在线)."""
    return Health(version=__version__)
