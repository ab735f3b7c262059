"""The web application: ``create_app(settings)`` assembles routers, error handlers and static files."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from qingshan import __version__
from qingshan.api.errors import add_exception_handlers
from qingshan.api.routers import indicators, pages, regions, results, runs
from qingshan.api.settings import Settings

__all__ = ["create_app"]

DESCRIPTION = """Read-only results service of Qingshan 青山: the indicator catalogue, accounting runs and
their GEP (生态产品总值) results by region, year, indicator, component and ecosystem.
Values are CNY; `*_yi` fields are 亿元 (1e8 CNY). Errors carry `message_en` and `message_zh`.
只读结果服务：指标目录、核算记录以及按区域、年份、指标、组分和生态系统的 GEP 结果。"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the results store is opened on the first request that needs it."""
    settings = settings or Settings.from_env()
    app = FastAPI(title=settings.title, version=__version__, description=DESCRIPTION)
    app.state.settings = settings
    app.state.store = None
    add_exception_handlers(app)
    for module in (indicators, runs, regions, results, pages):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")
    return app
