"""Runs of the results store and the GEP summary of one region."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from qingshan.api.deps import (
    MEASURE_COLUMNS,
    AnyRunDep,
    PrincipalDep,
    RunDep,
    RunView,
    SettingsDep,
    StoreDep,
    plain,
    sees_all_runs,
)
from qingshan.api.schemas import (
    ArtifactOut,
    CategoryTotal,
    ChildTotal,
    ComponentTotal,
    IndicatorTotal,
    RegionOut,
    RunDetailOut,
    RunOut,
    SummaryOut,
)
from qingshan.core.errors import UnknownIndicatorError
from qingshan.core.spec import CATEGORY_ZH, Category
from qingshan.store import repo

__all__ = ["router"]

router = APIRouter(prefix="/api/runs", tags=["runs"])

CATEGORY_EN = {
    Category.PROVISIONING: "Provisioning services",
    Category.REGULATING: "Regulating services",
    Category.CULTURAL: "Cultural services",
}


@router.get("", summary="List succeeded runs · 已完成的核算")
def list_runs(store: StoreDep, principal: PrincipalDep) -> list[RunOut]:
    """Succeeded runs, newest first: published ones for the public, all for accountants and admins
    (已发布的核算记录；核算员和管理员可见全部成功的核算，最新在前)."""
    from qingshan.platform.jobs import published_run_ids

    runs = repo.list_runs(store, status="succeeded")
    if not sees_all_runs(principal):
        published = published_run_ids(store)
        runs = [r for r in runs if r.id in published]
    return [RunOut.model_validate(r) for r in runs]


@router.get("/{run_id}", summary="One run · 核算记录详情")
def get_run(run: AnyRunDep, principal: PrincipalDep) -> RunDetailOut:
    """A run of any status with its configuration, provenance, artifacts and error (含配置、溯源、成果文件与错误信息).
    For the public, server paths are reduced to file names (公众视图不含服务器路径)."""
    staff = sees_all_runs(principal)
    return RunDetailOut(
        **RunOut.model_validate(run).model_dump(),
        config=run.config if staff else _without_paths(run.config or {}),
        provenance=run.provenance if staff else _without_paths(run.provenance or {}),
        error=run.error if staff or run.error is None else _without_paths(run.error),
        artifacts=[ArtifactOut.model_validate(a) for a in run.artifacts or []],
    )


@router.get("/{run_id}/artifacts", summary="Files of a run with SHA-256 · 核算成果文件")
def list_artifacts(run: AnyRunDep) -> list[ArtifactOut]:
    """Every file of the run's immutable artifacts (per-cell COGs, XLSX, CSV, GPKG, provenance) with its
    size and SHA-256 (本次核算的全部成果文件及其 SHA-256)."""
    return [ArtifactOut.model_validate(a) for a in run.artifacts or []]


@router.get("/{run_id}/artifacts/{name:path}", summary="Download one file of a run · 下载成果文件",
            response_class=FileResponse,
            responses={200: {"description": "The file; its SHA-256 in the X-Content-SHA256 header"}})
def download_artifact(run: AnyRunDep, settings: SettingsDep, store: StoreDep, name: str) -> FileResponse:
    """One artifact by the name GET /api/runs/{run_id}/artifacts lists; the header `X-Content-SHA256` holds the
    SHA-256 recorded when the run was sealed; a file changed since is refused with 409 (下载文件，响应头 X-Content-SHA256
    为其 SHA-256；封存后被改动的文件不予提供)."""
    from qingshan.engine.revalue import ensure_export
    from qingshan.store.artifacts import artifact_file, find_data_dir

    data_dir = find_data_dir(settings.store_url)
    run = ensure_export(store, run, data_dir, name)  # a revalued run's workbook/GeoPackage: built on first download
    path, entry = artifact_file(run, data_dir, name, verify=True)  # an edited or swapped file: 409, not served
    return FileResponse(path, filename=PurePosixPath(name).name, headers={
        "X-Content-SHA256": str(entry["sha256"]), "Cache-Control": "private, max-age=31536000, immutable"})


@router.get("/{run_id}/summary", summary="GEP of a region by class and indicator · 区域 GEP 汇总")
def run_summary(
    view: RunDep,
    region: Annotated[str | None, Query(description="Region code (default: the top region) 区划代码")] = None,
    year: Annotated[int | None, Query(description="Year (default: the last) 年份")] = None,
    measure: Annotated[Literal["value", "comparable"],
                       Query(description="current prices or base-year prices 当年价或可比价")] = "value",
) -> SummaryOut:
    """GEP total, by class (物质产品/调节服务/文化服务) and by indicator, with the sub-regions."""
    y = view.year(year)
    reg = view.region(region)
    col = MEASURE_COLUMNS[measure]
    year_rows = view.results(year=y)
    rows = year_rows[year_rows["region_code"] == reg["code"]]
    total = _sum(rows[col])
    by_category = [
        CategoryTotal(category=c.value, name_zh=CATEGORY_ZH[c], name_en=CATEGORY_EN[c],
                      value=(v := _sum(rows.loc[rows["category"] == c.value, col])), share=_share(v, total))
        for c in Category
    ]
    by_indicator = [_indicator_total(view, ind, grp, col, total) for ind, grp in rows.groupby("indicator", sort=False)]
    order = {s.id: i for i, s in enumerate(view.registry)}
    by_indicator.sort(key=lambda t: order.get(t.indicator, len(order)))
    regions = view.regions()
    kids = regions[regions["parent"] == reg["code"]]
    child_totals = year_rows.groupby("region_code")[col].sum(min_count=1)
    children = [ChildTotal(code=k.code, name=k.name, level=k.level, value=plain(child_totals.get(k.code)))
                for k in kids.itertuples()]
    return SummaryOut(run_id=view.run.id, year=y, measure=measure, region=RegionOut.model_validate(reg),
                      total=total, total_yi=None if total is None else total / 1e8,
                      by_category=by_category, by_indicator=by_indicator, children=children)


def _indicator_total(view: RunView, indicator: object, grp: pd.DataFrame, col: str,
                     total: float | None) -> IndicatorTotal:
    ind = str(indicator)
    try:
        spec = view.registry.get(ind)
        name_zh, name_en = spec.name_zh, spec.name_en
    except UnknownIndicatorError:  # an indicator from a plugin or an older catalogue
        name_zh = name_en = ind
    comps = grp.groupby(["component", "unit"], sort=False)[["quantity", col]].sum(min_count=1).reset_index()
    value = _sum(grp[col])
    return IndicatorTotal(
        indicator=ind, name_zh=name_zh, name_en=name_en, category=str(grp["category"].iloc[0]),
        value=value, share=_share(value, total),
        components=[ComponentTotal(component=r["component"], unit=r["unit"], quantity=plain(r["quantity"]),
                                   value=plain(r[col])) for _, r in comps.iterrows()],
    )


def _sum(s: pd.Series) -> float | None:
    v = plain(s.sum(min_count=1))
    return None if v is None else float(v)  # type: ignore[arg-type]


def _share(part: float | None, total: float | None) -> float | None:
    return part / total if part is not None and total else None


def _without_paths(obj: Any) -> Any:
    """``obj`` with every absolute path (in keys and values) reduced to its file name."""
    if isinstance(obj, dict):
        return {_name_only(k): _without_paths(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_without_paths(v) for v in obj]
    return _name_only(obj)


_ABS_PATH = re.compile(r"(?<![\w:./\\])(?:[A-Za-z]:)?[/\\](?:[^\s/\\'\"()<>]+[/\\])+([^\s/\\'\"()<>]*)")


def _name_only(v: Any) -> Any:
    """Absolute paths in a string (alone or inside a message) reduced to their last part."""
    if not isinstance(v, str):
        return v
    v = re.sub(r"sqlite:///(/\S*)", lambda m: "sqlite:///" + _ABS_PATH.sub(r"\1", m.group(1)), v)
    return _ABS_PATH.sub(r"\1", v)
