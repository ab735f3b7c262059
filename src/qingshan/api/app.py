"""The web application: ``create_app(settings)`` assembles routers, error handlers and static files."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from qingshan import __version__
from qingshan.api.cache import ResponseCache
from qingshan.api.errors import add_exception_handlers
from qingshan.api.limits import add_limits
from qingshan.api.routers import (
    audit,
    auth,
    forms,
    indicators,
    jobs,
    pages,
    regions,
    results,
    runs,
    submissions,
    users,
    uses,
    workbench,
)
from qingshan.api.settings import Settings

__all__ = ["create_app"]

def _include_optional(app: FastAPI, module: str) -> None:
    """Include a router module written separately, when it is installed."""
    from importlib import import_module
    from importlib.util import find_spec

    if find_spec(module) is not None:
        app.include_router(import_module(module).router)


DESCRIPTION = """Results and data-sharing service of Qingshan 青山: the indicator catalogue, accounting runs and
their GEP (生态产品总值) results by region, year, indicator, component and ecosystem.
Values are CNY; `*_yi` fields are 亿元 (1e8 CNY). Errors carry `message_en` and `message_zh`.
Published results are public; reporting forms, submissions, accounting jobs and the audit log need a
login (POST /api/auth/login sets an HttpOnly session cookie and returns a Bearer token).
结果与数据共享服务：已发布的核算结果公开；报表填报、审核、核算任务与审计日志需要登录。"""


def _preload() -> None:
    """Import dask and pint here, in one thread, before requests run in many: two request threads importing them
    for the first time at once could meet dask's circular imports half-done ("cannot import name 'annotate' from
    partially initialized module 'dask.base'"), found by an attack pass on a fresh process."""
    import dask  # noqa: F401

    from qingshan.core.units import _import_pint

    _import_pint()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the results store is opened on the first request that needs it."""
    settings = settings or Settings.from_env()
    _preload()
    app = FastAPI(title=settings.title, version=__version__, description=DESCRIPTION, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.store = None
    add_exception_handlers(app)
    add_limits(app, settings.limits)
    for module in (indicators, runs, regions, results, pages, auth, users, forms, submissions, jobs, audit,
                   workbench, uses):
        app.include_router(module.router)
    _include_optional(app, "qingshan.api.routers.parcels")
    _include_optional(app, "qingshan.api.routers.qc")
    _include_optional(app, "qingshan.api.routers.reporting")
    _include_optional(app, "qingshan.api.routers.review")
    _include_optional(app, "qingshan.api.routers.uploads")
    _include_optional(app, "qingshan.api.routers.seea")
    _include_optional(app, "qingshan.api.routers.revalue")
    _include_optional(app, "qingshan.api.routers.catalog")  # data catalogue, assemblies, API tokens
    _include_optional(app, "qingshan.api.routers.uncertainty")
    _include_optional(app, "qingshan.api.routers.scenario")
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")
    app.add_middleware(ResponseCache, published=lambda: _published_ids(app), ttl=settings.published_cache_seconds,
                       epoch=_publication_epoch)
    _secure(app, settings)  # outermost: CSRF first, security headers on cached answers too
    return app


def _secure(app: FastAPI, settings: Settings) -> None:
    """CSRF check, security headers and the local /docs and /redoc (see :mod:`qingshan.api.security`)."""
    from qingshan.api.security import (
        SecurityMiddleware,
        add_local_docs,
        content_security_policy,
        page_script_hashes,
    )

    hashes = page_script_hashes(pages.STATIC_DIR)
    add_local_docs(app, hashes)
    app.add_middleware(SecurityMiddleware, csp=content_security_policy(hashes),
                       trusted_origins=settings.trusted_origins, hsts=settings.secure_cookies)


def _publication_epoch() -> int:
    from qingshan.platform.jobs import publication_epoch

    return publication_epoch()


def _published_ids(app: FastAPI) -> set[str]:
    """Ids of the published runs, from the app's store (opened on first use)."""
    from qingshan.api.deps import open_app_store
    from qingshan.platform.jobs import published_run_ids

    return published_run_ids(open_app_store(app))
