"""FastAPI dependencies and their ``Annotated`` aliases (SettingsDep, StoreDep, RegistryDep, RunDep).

:class:`RunView` is the read side of one succeeded run: it resolves years and regions (raising
bilingual domain errors) and shapes result rows read through :mod:`qingshan.store.repo`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import Depends, Path, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from qingshan.api.errors import NotFoundError, RunNotReadyError
from qingshan.api.settings import Settings
from qingshan.core.errors import InputError, RegionError
from qingshan.indicators import Registry, registry
from qingshan.platform.accounts import Principal
from qingshan.platform.auth import COOKIE_NAME, SessionPolicy, check_role, resolve_session
from qingshan.store import repo
from qingshan.store.models import Run

__all__ = [
    "LEVELS",
    "MEASURE_COLUMNS",
    "AnyRunDep",
    "Level",
    "Measure",
    "PrincipalDep",
    "RegistryDep",
    "RunDep",
    "RunView",
    "SettingsDep",
    "StoreDep",
    "get_any_run",
    "get_principal",
    "get_registry",
    "get_run_view",
    "get_settings",
    "get_store",
    "known_regions",
    "open_app_store",
    "plain",
    "platform_regions",
    "require_role",
    "sees_all_runs",
    "session_policy",
]

LEVELS = ("province", "city", "county", "township")
Level = Literal["province", "city", "county", "township"]
Measure = Literal["value", "comparable", "quantity"]
MEASURE_COLUMNS: dict[str, str] = {"value": "value", "comparable": "value_comparable", "quantity": "quantity"}

_store_lock = threading.Lock()


def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


def get_store(request: Request) -> sessionmaker[Session]:
    """Session factory of the results store, opened on first use (not at import or app build)."""
    return open_app_store(request.app)


def open_app_store(app: Any) -> sessionmaker[Session]:
    """The store of ``app`` (a FastAPI app), opened once."""
    state = app.state
    with _store_lock:
        if state.store is None:
            from qingshan.store.db import open_store

            state.store = open_store(state.settings.store_url)
    factory: sessionmaker[Session] = state.store
    return factory


def get_registry() -> Registry:
    """The built-in indicator registry (built once, immutable)."""
    return registry()


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[sessionmaker[Session], Depends(get_store)]
RegistryDep = Annotated[Registry, Depends(get_registry)]


_cookie = APIKeyCookie(name=COOKIE_NAME, auto_error=False,
                       description="Session cookie set by POST /api/auth/login 登录会话")
_bearer = HTTPBearer(auto_error=False, description="The session token from POST /api/auth/login, or an API "
                     "token (qst_…) an administrator created for another system (POST /api/tokens)")


def session_policy(settings: Settings) -> SessionPolicy:
    """Idle and absolute session lifetimes of the settings."""
    return SessionPolicy(idle_minutes=settings.session_idle_minutes, absolute_hours=settings.session_absolute_hours)


def get_principal(
    store: StoreDep,
    settings: SettingsDep,
    cookie: Annotated[str | None, Depends(_cookie)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
) -> Principal | None:
    """The logged-in user (session cookie, or ``Authorization: Bearer <token>``), or None. A bearer API
    token (``qst_…``, :mod:`qingshan.platform.tokens`) acts as its system; a revoked, expired or unknown
    one is a 401, never anonymous access."""
    token = bearer.credentials if bearer is not None else cookie
    if bearer is not None:
        from qingshan.platform.tokens import is_api_token, resolve_token

        if token is not None and is_api_token(token):
            return resolve_token(store, token)
    return resolve_session(store, token, session_policy(settings))


PrincipalDep = Annotated[Principal | None, Depends(get_principal)]


def require_role(*roles: str) -> object:
    """A dependency that returns the user if logged in with one of ``roles`` (admin always
    passes), else raises 401 (not logged in) or 403 (wrong role)."""

    def dependency(principal: PrincipalDep) -> Principal:
        return check_role(principal, roles)

    return Depends(dependency)


RUN_READERS = ("admin", "accountant")


def sees_all_runs(principal: Principal | None) -> bool:
    """Admins and accountants see every run; everyone else only published runs."""
    return principal is not None and principal.role in RUN_READERS


_regions_lock = threading.Lock()
_regions_cache: dict[str, dict[str, str]] = {}


def known_regions(settings: Settings) -> dict[str, str]:
    """Region code → name of the base config's boundaries (for form templates and checks)."""
    from qingshan.engine.config import load_config
    from qingshan.engine.run import load_regions
    from qingshan.platform.jobs import default_base_config

    path = settings.base_config or default_base_config()
    with _regions_lock:
        if path not in _regions_cache:
            regions = load_regions(load_config(path))
            _regions_cache[path] = {r.code: r.name for r in regions}
        return _regions_cache[path]


_regionset_cache: dict[str, Any] = {}


def platform_regions(settings: Settings) -> Any:
    """The RegionSet of the base config's boundaries (areas for the statistics bounds), loaded once."""
    from qingshan.engine.config import load_config
    from qingshan.engine.run import load_regions
    from qingshan.platform.jobs import default_base_config

    path = settings.base_config or default_base_config()
    with _regions_lock:
        if path not in _regionset_cache:
            _regionset_cache[path] = load_regions(load_config(path))
        return _regionset_cache[path]


def get_any_run(
    run_id: Annotated[str, Path(description="Run id (see GET /api/runs) 核算记录编号")],
    store: StoreDep,
    principal: PrincipalDep,
) -> Run:
    """A run of any status the user may see (the public: published runs), or a bilingual 404."""
    run = repo.get_run(store, run_id)
    if run is not None and not sees_all_runs(principal):
        from qingshan.platform.jobs import published_run_ids

        run = run if run_id in published_run_ids(store) else None
    if run is None:
        raise NotFoundError(
            f"No run '{run_id}' in the results store",
            f"结果库中没有核算记录 '{run_id}'",
            field="run_id",
            fix="List the runs with GET /api/runs or `qingshan runs`.",
            fix_zh="用 GET /api/runs 或 `qingshan runs` 查看核算记录。",
        )
    return run


AnyRunDep = Annotated[Run, Depends(get_any_run)]


@dataclass(frozen=True)
class RunView:
    """Read access to the results of one succeeded run."""

    run: Run
    store: sessionmaker[Session]
    registry: Registry

    def year(self, year: int | None) -> int:
        """``year`` if the run accounted it; the run's last year when ``None``."""
        years = sorted(self.run.years)
        if year is None:
            return years[-1]
        if year not in years:
            raise NotFoundError(
                f"Run '{self.run.id}' has no year {year}",
                f"核算记录 '{self.run.id}' 没有 {year} 年的结果",
                field="year",
                fix=f"Years of this run: {', '.join(map(str, years))}.",
                fix_zh=f"本次核算的年份：{', '.join(map(str, years))}。",
            )
        return year

    def regions(self, *, with_geometry: bool = False) -> pd.DataFrame:
        """Regions of the run (code, name, level, parent, area_km2[, geometry]), by code."""
        df = repo.read_regions(self.store, self.run.id, with_geometry=with_geometry)
        return df.sort_values("code").reset_index(drop=True)

    def region(self, code: str | None) -> dict[str, object]:
        """One region by code (the first top-level region when ``None``), or a bilingual 404."""
        df = self.regions()
        if code is None:
            roots = df[df["parent"].isna() | ~df["parent"].isin(df["code"])]
            row = roots.iloc[0] if len(roots) else None
        else:
            hit = df[df["code"] == code]
            row = hit.iloc[0] if len(hit) else None
        if row is None:
            raise RegionError(
                f"Run '{self.run.id}' has no region '{code}'",
                f"核算记录 '{self.run.id}' 中没有行政区 '{code}'",
                field="region",
                fix="Use a code from GET /api/runs/{run_id}/regions.",
                fix_zh="请使用 GET /api/runs/{run_id}/regions 中的区划代码。",
            )
        return _clean(row.to_dict())

    def results(self, **filters: object) -> pd.DataFrame:
        """Result rows of the run; ``filters`` are column equalities (``None`` = no filter)."""
        return repo.read_results(self.store, self.run.id, **filters)

    def metric_by_region(self, year: int, *, indicator: str | None, measure: str,
                         component: str | None = None,
                         rows: pd.DataFrame | None = None) -> tuple[pd.Series, str]:
        """One number per region code for the year, and its unit.

        Without ``indicator`` the number is GEP (all indicators); ``measure`` is ``value``
        (CNY, current prices), ``comparable`` (CNY, base-year prices) or ``quantity``, which
        needs an indicator and sums one component only (``component`` or the first present).
        ``rows`` may pass the year's result rows already read.
        """
        if indicator is not None:
            indicator = self.registry.get(indicator).id
        if measure == "quantity" and indicator is None:
            raise InputError(
                "A physical quantity needs an indicator: GEP is a value only",
                "实物量需要指定指标：GEP 只有价值量",
                field="indicator",
                fix="Add ?indicator=<id>, or use measure=value.",
                fix_zh="请加上 ?indicator=<指标编号>，或使用 measure=value。",
            )
        rows = self.results(year=year) if rows is None else rows[rows["year"] == year]
        if indicator is not None:
            rows = rows[rows["indicator"] == indicator]
        unit = "CNY"
        if measure == "quantity":
            present = list(dict.fromkeys(rows["component"]))
            if component is None and present:
                order = [c.id for c in self.registry.get(indicator or "").components]
                present.sort(key=lambda c: order.index(c) if c in order else len(order))
                component = present[0]
            rows = rows[rows["component"] == component]
            unit = str(rows["unit"].iloc[0]) if len(rows) else ""
        totals = rows.groupby("region_code")[MEASURE_COLUMNS[measure]].sum(min_count=1)
        return totals, unit


def get_run_view(run: AnyRunDep, store: StoreDep, reg: RegistryDep) -> RunView:
    """A succeeded run, or 404 (unknown) / 409 (running or failed)."""
    if run.status != "succeeded":
        raise RunNotReadyError(
            f"Run '{run.id}' is {run.status}: it has no results",
            f"核算记录 '{run.id}' 的状态为 {run.status}，没有结果",
            field="run_id",
            fix="Wait for the run to finish, or read its error with GET /api/runs/{run_id}.",
            fix_zh="请等待核算完成，或用 GET /api/runs/{run_id} 查看错误信息。",
        )
    return RunView(run=run, store=store, registry=reg)


RunDep = Annotated[RunView, Depends(get_run_view)]


def plain(v: object) -> object:
    """A numpy/pandas scalar as a plain Python value; NaN and NA → ``None``."""
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return None
    item = getattr(v, "item", None)
    return plain(item()) if callable(item) and not isinstance(v, (str, bytes)) else v


def _clean(d: dict[str, object]) -> dict[str, object]:
    """A record from a DataFrame as plain JSON-serialisable values."""
    return {k: plain(v) for k, v in d.items()}
